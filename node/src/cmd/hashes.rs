//! Hash commands: HSET/HMSET/HSETNX, reads, HDEL, counters, HRANDFIELD, HSCAN.

use super::coll::random_count;
use super::coll::{
    changed, class, hash_at, hash_get, matches, rand_below, scan_dict, scan_reply, ScanOptions,
};
use super::keys::parse_cursor;
use super::Ctx;
use crate::db::{HashVal, Value};
use bytes::Bytes;
use picket::args::{wrong_args, Args, ERR_OVERFLOW};
use picket::numfmt::{incr_long_double, IncrFloatError};
use picket::resp::Reply;

/// The hash at `key` for writing, created when missing; None after a WRONGTYPE reply.
fn hash_for_write<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Option<&'a mut HashVal> {
    let db = ctx.db();
    match hash_at(&mut ctx.st.ks, db, key, ctx.now) {
        Err(e) => {
            ctx.out.error(e);
            return None;
        }
        Ok(Some(_)) => {}
        Ok(None) => ctx.st.ks.set(db, key, Value::Hash(HashVal::new()), false),
    }
    hash_at(&mut ctx.st.ks, db, key, ctx.now).ok().flatten()
}

fn hset_generic(ctx: &mut Ctx, a: &[Bytes], legacy: bool) {
    if a.len() % 2 == 1 {
        return ctx.out.error(&wrong_args(ctx.cmd.name));
    }
    let lim = ctx.st.ks.enc;
    let db = ctx.db();
    let pairs: Vec<(&[u8], &[u8])> = a[2..].chunks(2).map(|p| (&p[0][..], &p[1][..])).collect();
    let added = match hash_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(Some(h)) => {
            let n = h.set_many(&pairs, &lim) as i64;
            ctx.st.ks.modified(db, &a[1]);
            n
        }
        Ok(None) => {
            let mut h = HashVal::new();
            let n = h.set_many(&pairs, &lim) as i64;
            ctx.st.ks.set(db, &a[1], Value::Hash(h), false);
            n
        }
    };
    ctx.notify(class::HASH, "hset", &a[1]);
    ctx.dirty((a.len() as u64 - 2) / 2);
    ctx.propagate_as_is(a);
    if legacy {
        ctx.out.ok()
    } else {
        ctx.out.int(added)
    }
}

pub fn hset(ctx: &mut Ctx, a: &[Bytes]) {
    hset_generic(ctx, a, false)
}

pub fn hmset(ctx: &mut Ctx, a: &[Bytes]) {
    hset_generic(ctx, a, true)
}

pub fn hsetnx(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match hash_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(Some(h)) if h.get(&a[2]).is_some() => return ctx.out.int(0),
        _ => {}
    }
    let lim = ctx.st.ks.enc;
    let Some(h) = hash_for_write(ctx, &a[1]) else {
        return;
    };
    h.set(&a[2], &a[3], &lim);
    ctx.st.ks.modified(db, &a[1]);
    ctx.notify(class::HASH, "hset", &a[1]);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(1)
}

/// Runs `f` on the hash at `key` for reading; `missing` is replied when there is none.
fn with_hash(
    ctx: &mut Ctx,
    key: &[u8],
    missing: fn(&mut Reply),
    f: impl FnOnce(&mut Reply, &HashVal),
) {
    let db = ctx.db();
    match hash_get(&mut ctx.st.ks, db, key, ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(None) => missing(ctx.out),
        Ok(Some(h)) => f(ctx.out, h),
    }
}

pub fn hget(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match hash_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(h) => match h.and_then(|h| h.get(&a[2])) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        },
    }
}

pub fn hmget(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match hash_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(h) => {
            ctx.out.array(a.len() - 2);
            for f in &a[2..] {
                match h.as_ref().and_then(|h| h.get(f)) {
                    Some(v) => ctx.out.bulk(v),
                    None => ctx.out.null(),
                }
            }
        }
    }
}

pub fn hdel(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let h = match hash_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(h)) => h,
    };
    let mut n = 0;
    for f in &a[2..] {
        if h.remove(f) {
            n += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if n > 0 {
        changed(ctx.st, class::HASH, "hdel", db, &a[1]);
        ctx.dirty(n as u64);
        ctx.propagate_as_is(a);
    }
    ctx.out.int(n)
}

pub fn hexists(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match hash_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(h) => ctx
            .out
            .int(h.map(|h| h.get(&a[2]).is_some()).unwrap_or(false) as i64),
    }
}

pub fn hlen(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match hash_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(h) => ctx.out.int(h.map(|h| h.len()).unwrap_or(0) as i64),
    }
}

pub fn hstrlen(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match hash_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(h) => ctx
            .out
            .int(h.and_then(|h| h.get(&a[2])).map(|v| v.len()).unwrap_or(0) as i64),
    }
}

fn getall_generic(ctx: &mut Ctx, a: &[Bytes], keys: bool, vals: bool) {
    let empty: fn(&mut Reply) = if keys && vals {
        |o| o.map(0)
    } else {
        |o| o.array(0)
    };
    with_hash(ctx, &a[1], empty, |out, h| {
        let pairs = h.pairs();
        if keys && vals {
            out.map(pairs.len());
        } else {
            out.array(pairs.len());
        }
        for (f, v) in pairs {
            if keys {
                out.bulk(f);
            }
            if vals {
                out.bulk(v);
            }
        }
    });
}

pub fn hgetall(ctx: &mut Ctx, a: &[Bytes]) {
    getall_generic(ctx, a, true, true)
}
pub fn hkeys(ctx: &mut Ctx, a: &[Bytes]) {
    getall_generic(ctx, a, true, false)
}
pub fn hvals(ctx: &mut Ctx, a: &[Bytes]) {
    getall_generic(ctx, a, false, true)
}

pub fn hincrby(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(by) = ctx.parsed(Args::at(a, 3).int()) else {
        return;
    };
    let db = ctx.db();
    let cur = match hash_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(h) => h.and_then(|h| h.get(&a[2]).map(|v| v.to_vec())),
    };
    let cur = match cur {
        None => 0,
        Some(v) => match picket::numfmt::parse_i64(&v) {
            Some(i) => i,
            None => return ctx.out.error("ERR hash value is not an integer"),
        },
    };
    let Some(n) = cur.checked_add(by) else {
        return ctx.out.error(ERR_OVERFLOW);
    };
    let lim = ctx.st.ks.enc;
    let Some(h) = hash_for_write(ctx, &a[1]) else {
        return;
    };
    h.set(&a[2], n.to_string().as_bytes(), &lim);
    ctx.st.ks.modified(db, &a[1]);
    ctx.notify(class::HASH, "hincrby", &a[1]);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(n)
}

pub fn hincrbyfloat(ctx: &mut Ctx, a: &[Bytes]) {
    if picket::numfmt::parse_double(&a[3]).is_some_and(|d| d.is_infinite()) {
        return ctx.out.error("ERR value is NaN or Infinity");
    }
    let db = ctx.db();
    let cur = match hash_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(h) => h.and_then(|h| h.get(&a[2]).map(|v| v.to_vec())),
    };
    let new = match incr_long_double(cur.as_deref(), &a[3]) {
        Ok(v) => v,
        Err(IncrFloatError::CurrentNotFloat) => {
            return ctx.out.error("ERR hash value is not a float")
        }
        Err(IncrFloatError::IncrNotFloat) => {
            return ctx.out.error("ERR value is not a valid float")
        }
        Err(IncrFloatError::NanOrInfinity) => {
            return ctx.out.error("ERR increment would produce NaN or Infinity")
        }
    };
    let lim = ctx.st.ks.enc;
    let Some(h) = hash_for_write(ctx, &a[1]) else {
        return;
    };
    h.set(&a[2], &new, &lim);
    ctx.st.ks.modified(db, &a[1]);
    ctx.notify(class::HASH, "hincrbyfloat", &a[1]);
    ctx.dirty(1);
    // Replicated as the value it produced, so replicas do not redo the float arithmetic.
    ctx.propagate(vec![
        Bytes::from_static(b"HSET"),
        a[1].clone(),
        a[2].clone(),
        Bytes::from(new.clone()),
    ]);
    ctx.out.bulk(&new)
}

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(ctx: &mut Ctx, a: &[Bytes]) {
    let random = random_count(&mut Args::at(a, 2), Some("withvalues"));
    let Some((count, withvalues)) = ctx.parsed(random) else {
        return;
    };
    let missing: fn(&mut Reply) = if count.is_some() {
        |o| o.array(0)
    } else {
        |o| o.null()
    };
    with_hash(ctx, &a[1], missing, |out, h| {
        let pairs = h.pairs();
        let mut picks = random_picks(pairs.len(), count.unwrap_or(1));
        let Some(_) = count else {
            return out.bulk(pairs[picks.next().unwrap_or(0)].0);
        };
        let resp3 = out.resp3;
        out.array(if withvalues && !resp3 {
            picks.len() * 2
        } else {
            picks.len()
        });
        for i in picks {
            if out.over_limit() {
                break;
            }
            let (f, v) = pairs[i];
            if withvalues {
                if resp3 {
                    out.array(2);
                }
                out.bulk(f);
                out.bulk(v);
            } else {
                out.bulk(f);
            }
        }
    });
}

/// Indexes for a random pick of `count` among `n` (Redis's rules): negative = with repetition,
/// positive = distinct (everything, in order, when count >= n). Picks with repetition are drawn
/// as they are taken, so a huge negative count allocates nothing (its reply stops at the
/// client's output limit).
pub fn random_picks(n: usize, count: i64) -> Picks {
    if n == 0 || count == 0 {
        return Picks::Listed(Vec::new().into_iter());
    }
    if count < 0 {
        return Picks::Repeated {
            n,
            left: count.unsigned_abs() as usize,
        };
    }
    let c = count as usize;
    if c >= n {
        return Picks::Listed((0..n).collect::<Vec<_>>().into_iter());
    }
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..c {
        let j = i + rand_below(n - i);
        idx.swap(i, j);
    }
    idx.truncate(c);
    Picks::Listed(idx.into_iter())
}

/// The indexes [`random_picks`] chose.
pub enum Picks {
    /// `left` more draws among `n`, with repetition.
    Repeated {
        n: usize,
        left: usize,
    },
    Listed(std::vec::IntoIter<usize>),
}

impl Iterator for Picks {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            Picks::Repeated { n, left } => {
                if *left == 0 {
                    return None;
                }
                *left -= 1;
                Some(rand_below(*n))
            }
            Picks::Listed(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match self {
            Picks::Repeated { left, .. } => *left,
            Picks::Listed(i) => i.len(),
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for Picks {}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
pub fn hscan(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(cursor) = parse_cursor(&a[2]) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let db = ctx.db();
    let h = match hash_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return scan_reply(ctx.out, 0, &[]),
        Ok(Some(h)) => h,
    };
    let opts = match ScanOptions::parse(&mut Args::at(a, 3), false) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(&e),
    };
    let (pat, count) = (opts.pat, opts.count);
    let mut items = Vec::new();
    let next = match h {
        HashVal::Pack(_) => {
            for (f, v) in h.pairs() {
                if matches(pat, f) {
                    items.push(f.to_vec());
                    items.push(v.to_vec());
                }
            }
            0
        }
        HashVal::Table(d) => scan_dict(d, cursor, count, |f, v| {
            if matches(pat, f) {
                items.push(f.to_vec());
                items.push(v.to_vec());
            }
        }),
    };
    scan_reply(ctx.out, next, &items)
}
