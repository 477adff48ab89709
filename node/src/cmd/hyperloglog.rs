//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST. The values are
//! strings in Redis's exact representation ([`crate::db::hll`]).

use super::coll::class;
use super::Ctx;
use crate::db::hll::{self, Corrupt};
use crate::db::{RStr, SBytes, Value};
use bytes::Bytes;
use picket::args::{lower, ERR_WRONGTYPE};

const ERR_NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const ERR_CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// What a key holds, for an HLL command.
enum Found {
    Missing,
    Hll(Vec<u8>),
}

/// The HyperLogLog bytes of a value, or the error for a value that is not one.
fn classify(v: Option<&Value>) -> Result<Option<&[u8]>, &'static str> {
    match v {
        None => Ok(None),
        Some(Value::Str(RStr::Emb(b) | RStr::Raw(b))) if hll::is_valid(b) => Ok(Some(b)),
        Some(Value::Str(_)) => Err(ERR_NOT_HLL),
        #[allow(unreachable_patterns)]
        Some(_) => Err(ERR_WRONGTYPE),
    }
}

/// Merges the HyperLogLog at `key` (read: hits and misses counted) into `max`; true when it
/// was dense. Err: the error was sent.
fn merge_key(ctx: &mut Ctx, key: &[u8], max: &mut [u8]) -> Result<bool, ()> {
    let db = ctx.db();
    let v = ctx.st.ks.lookup(db, key, ctx.now).map(|e| &e.val);
    let r = match classify(v) {
        Ok(None) => Ok(false),
        Ok(Some(d)) => hll::merge_into(max, d)
            .map(|()| !hll::is_sparse(d))
            .map_err(|_| ERR_CORRUPT),
        Err(e) => Err(e),
    };
    r.map_err(|e| ctx.out.error(e))
}

/// The HyperLogLog at `key`, looked up for writing, copied.
fn read_write_copy(ctx: &mut Ctx, key: &[u8]) -> Result<Found, ()> {
    let found = take_for_write(ctx, key)?;
    if let Found::Hll(d) = &found {
        put_back(ctx, key, d.clone());
    }
    Ok(found)
}

/// The HyperLogLog at `key`, taken out of its entry for changing it (no copy); it must be
/// put back with [`store`] or [`put_back`].
fn take_for_write(ctx: &mut Ctx, key: &[u8]) -> Result<Found, ()> {
    let db = ctx.db();
    let v = ctx.st.ks.lookup_write(db, key, ctx.now).map(|e| &mut e.val);
    let err = match v {
        None => return Ok(Found::Missing),
        Some(Value::Str(RStr::Emb(b) | RStr::Raw(b))) if hll::is_valid(b) => {
            return Ok(Found::Hll(
                std::mem::replace(b, SBytes::new(b"")).into_vec(),
            ));
        }
        Some(Value::Str(_)) => ERR_NOT_HLL,
        #[allow(unreachable_patterns)]
        Some(_) => ERR_WRONGTYPE,
    };
    ctx.out.error(err);
    Err(())
}

/// Puts a value taken out by [`take_for_write`] back without recording a change.
fn put_back(ctx: &mut Ctx, key: &[u8], data: Vec<u8>) {
    let db = ctx.db();
    if let Some(Value::Str(s)) = ctx.st.ks.entry_mut(db, key).map(|e| &mut e.val) {
        *s = RStr::Raw(SBytes::from_vec(data));
    }
}

/// Stores a changed value (a new key when missing; the TTL kept) and records the change.
fn store(ctx: &mut Ctx, key: &[u8], data: Vec<u8>) {
    let db = ctx.db();
    let val = RStr::Raw(SBytes::from_vec(data));
    match ctx.st.ks.entry_mut(db, key).map(|e| &mut e.val) {
        Some(Value::Str(s)) => {
            *s = val;
            ctx.st.ks.modified(db, key);
        }
        _ => ctx.st.ks.set(db, key, Value::Str(val), true),
    }
}

fn sparse_max(ctx: &Ctx) -> usize {
    ctx.node.hot.read().hll_sparse_max_bytes
}

/// PFADD key [element ...]
pub fn pfadd(ctx: &mut Ctx, a: &[Bytes]) {
    let Ok(found) = take_for_write(ctx, &a[1]) else {
        return;
    };
    let (mut data, mut updated, existed) = match found {
        Found::Missing => (hll::new_sparse(), 1u64, false),
        Found::Hll(d) => (d, 0, true),
    };
    let max = sparse_max(ctx);
    for e in &a[2..] {
        match hll::add(&mut data, e, max) {
            Ok(true) => updated += 1,
            Ok(false) => {}
            Err(Corrupt) => {
                // What was changed before the corruption was found stays, as in Redis.
                if existed {
                    put_back(ctx, &a[1], data);
                }
                return ctx.out.error(ERR_CORRUPT);
            }
        }
    }
    if updated == 0 {
        put_back(ctx, &a[1], data);
    } else {
        hll::invalidate(&mut data);
        store(ctx, &a[1], data);
        ctx.notify(class::STRING, "pfadd", &a[1]);
        ctx.dirty(updated);
        ctx.propagate_as_is(a);
    }
    ctx.out.int((updated > 0) as i64);
}

/// PFCOUNT key [key ...]
pub fn pfcount(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() > 2 {
        let mut max = vec![0u8; hll::REGISTERS];
        for key in &a[1..] {
            if merge_key(ctx, key, &mut max).is_err() {
                return;
            }
        }
        return ctx.out.int(hll::count_registers(&max) as i64);
    }
    let db = ctx.db();
    let v = ctx.st.ks.lookup(db, &a[1], ctx.now).map(|e| &e.val);
    let mut data = match classify(v) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(d)) => match hll::cached(d) {
            Some(card) => return ctx.out.int(card as i64),
            None => d.to_vec(),
        },
    };
    let Ok(card) = hll::count(&data) else {
        return ctx.out.error(ERR_CORRUPT);
    };
    // The cache is part of the string: PFCOUNT writes it, and propagates, as Redis does.
    hll::set_cached(&mut data, card);
    store(ctx, &a[1], data);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(card as i64);
}

/// PFMERGE destkey [sourcekey ...]
pub fn pfmerge(ctx: &mut Ctx, a: &[Bytes]) {
    let mut max = vec![0u8; hll::REGISTERS];
    let mut dense = false;
    for key in &a[1..] {
        match merge_key(ctx, key, &mut max) {
            Err(()) => return,
            Ok(d) => dense |= d,
        }
    }
    let mut data = match take_for_write(ctx, &a[1]) {
        Err(()) => return,
        Ok(Found::Missing) => hll::new_sparse(),
        Ok(Found::Hll(d)) => d,
    };
    if dense && hll::to_dense(&mut data).is_err() {
        put_back(ctx, &a[1], data);
        return ctx.out.error(ERR_CORRUPT);
    }
    let limit = sparse_max(ctx);
    for (i, &m) in max.iter().enumerate() {
        if m != 0 && hll::set_register(&mut data, i, m, limit).is_err() {
            break;
        }
    }
    hll::invalidate(&mut data);
    store(ctx, &a[1], data);
    // A merge is a mass add: Redis sends `pfadd` for it.
    ctx.notify(class::STRING, "pfadd", &a[1]);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.ok();
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key
pub fn pfdebug(ctx: &mut Ctx, a: &[Bytes]) {
    let sub = lower(&a[1]);
    let mut data = match read_write_copy(ctx, &a[2]) {
        Err(()) => return,
        Ok(Found::Missing) => return ctx.out.error("ERR The specified key does not exist"),
        Ok(Found::Hll(d)) => d,
    };
    let name = String::from_utf8_lossy(&a[1]);
    let known = ["getreg", "decode", "encoding", "todense"].contains(&sub.as_str());
    if known && a.len() != 3 {
        return ctx.out.error(&format!(
            "ERR Wrong number of arguments for the '{name}' subcommand"
        ));
    }
    match sub.as_str() {
        "getreg" | "todense" => {
            let converted = match hll::to_dense(&mut data) {
                Ok(c) => c,
                Err(Corrupt) => return ctx.out.error(ERR_CORRUPT),
            };
            if converted {
                store(ctx, &a[2], data.clone());
                // An encoding change is propagated.
                ctx.dirty(1);
                ctx.propagate_as_is(a);
            }
            if sub == "todense" {
                return ctx.out.int(converted as i64);
            }
            ctx.out.array(hll::REGISTERS);
            for i in 0..hll::REGISTERS {
                ctx.out.int(hll::dense_get(&data[hll::HDR..], i) as i64);
            }
        }
        "decode" if !hll::is_sparse(&data) => ctx.out.error("ERR HLL encoding is not sparse"),
        "decode" => ctx.out.bulk(hll::decode_sparse(&data).as_bytes()),
        "encoding" => ctx.out.simple(if hll::is_sparse(&data) {
            "sparse"
        } else {
            "dense"
        }),
        _ => ctx
            .out
            .error(&format!("ERR Unknown PFDEBUG subcommand '{name}'")),
    }
}

/// PFSELFTEST: checks the register packing and the estimator's error bound.
pub fn pfselftest(ctx: &mut Ctx, _a: &[Bytes]) {
    let mut regs = vec![0u8; hll::DENSE_SIZE - hll::HDR];
    for i in 0..hll::REGISTERS {
        hll::dense_set(&mut regs, i, ((i * 7) % 64) as u8);
    }
    if (0..hll::REGISTERS).any(|i| hll::dense_get(&regs, i) != ((i * 7) % 64) as u8) {
        return ctx.out.error("ERR TESTFAILED Register error");
    }
    let mut sparse = hll::new_sparse();
    let mut dense = hll::new_sparse();
    let _ = hll::to_dense(&mut dense);
    for n in 1..=10_000u32 {
        let e = n.to_le_bytes();
        let _ = hll::add(&mut sparse, &e, usize::MAX);
        let _ = hll::add(&mut dense, &e, usize::MAX);
        if n % 1000 == 0 {
            let (s, d) = (hll::count(&sparse), hll::count(&dense));
            let err = (d.unwrap_or(0) as f64 - n as f64).abs() / n as f64;
            if s != d || err > 0.05 {
                return ctx
                    .out
                    .error("ERR TESTFAILED Sparse and dense estimates differ");
            }
        }
    }
    ctx.out.ok();
}
