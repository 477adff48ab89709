//! String commands: GET, SET and its variants, counters, ranges, MGET/MSET, LCS.

use super::coll::class;
use super::Ctx;
use crate::db::{RStr, SBytes, Value};
use bytes::Bytes;
use picket::args::{eq_ic, ArgError, Args, ERR_NOT_INT, ERR_OVERFLOW, ERR_SYNTAX, ERR_WRONGTYPE};
use picket::numfmt::{incr_long_double, IncrFloatError};

/// Largest string a command may build (`proto-max-bulk-len`).
fn check_size(ctx: &mut Ctx, len: u64) -> bool {
    let max = ctx.node.hot.read().proto_max_bulk_len as u64;
    if len > max {
        ctx.out
            .error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }
    true
}

/// The string at `key`: Ok(None) if missing, Err if another type (WRONGTYPE already sent).
/// A read: counts a hit or a miss (and sends `keymiss`).
fn get_str(ctx: &mut Ctx, key: &[u8]) -> Result<Option<RStr>, ()> {
    let db = ctx.db();
    let found = ctx.st.ks.lookup(db, key, ctx.now).map(|e| &e.val);
    typed_str(ctx.out, found)
}

/// Like [`get_str`], for a command that writes the key (no hit/miss counted).
fn get_str_write(ctx: &mut Ctx, key: &[u8]) -> Result<Option<RStr>, ()> {
    let db = ctx.db();
    let found = ctx.st.ks.lookup_write(db, key, ctx.now).map(|e| &e.val);
    typed_str(ctx.out, found)
}

fn typed_str(out: &mut picket::resp::Reply, found: Option<&Value>) -> Result<Option<RStr>, ()> {
    match found {
        None => Ok(None),
        Some(v) => match v {
            Value::Str(s) => Ok(Some(s.clone())),
            #[allow(unreachable_patterns)]
            _ => {
                out.error(ERR_WRONGTYPE);
                Err(())
            }
        },
    }
}

fn reply_str(ctx: &mut Ctx, s: &RStr) {
    match s {
        RStr::Int(_) => ctx.out.bulk(&s.as_bytes()),
        RStr::Emb(b) | RStr::Raw(b) => ctx.out.bulk(b),
    }
}

/// GET key
pub fn get(ctx: &mut Ctx, a: &[Bytes]) {
    // The value is written from where it lies (no copy of it first).
    let db = ctx.db();
    let out = &mut *ctx.out;
    match ctx.st.ks.lookup(db, &a[1], ctx.now).map(|e| &e.val) {
        None => out.null(),
        Some(Value::Str(RStr::Int(i))) => {
            let mut b = [0u8; 20];
            out.bulk(picket::resp::fmt_i64(&mut b, *i));
        }
        Some(Value::Str(RStr::Emb(b) | RStr::Raw(b))) => out.bulk(b),
        #[allow(unreachable_patterns)]
        Some(_) => out.error(ERR_WRONGTYPE),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    Seconds,
    Millis,
}

/// Expiry option of SET / GETEX.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireOpt {
    None,
    Relative(i64, ExpireUnit),
    Absolute(i64, ExpireUnit),
    KeepTtl,
    Persist,
}

fn is_expire_kw(o: &[u8]) -> bool {
    eq_ic(o, "ex") || eq_ic(o, "px") || eq_ic(o, "exat") || eq_ic(o, "pxat")
}

/// EX/PX/EXAT/PXAT (just read) with its value (SET and GETEX share these options).
fn expire_opt(kw: &[u8], args: &mut Args) -> Result<ExpireOpt, ArgError> {
    let v = args.int()?;
    let unit = if eq_ic(kw, "ex") || eq_ic(kw, "exat") {
        ExpireUnit::Seconds
    } else {
        ExpireUnit::Millis
    };
    Ok(if eq_ic(kw, "ex") || eq_ic(kw, "px") {
        ExpireOpt::Relative(v, unit)
    } else {
        ExpireOpt::Absolute(v, unit)
    })
}

/// Converts an expiry option to an absolute ms time, or Redis's "invalid expire time" error.
fn absolute_ms(ctx: &Ctx, opt: ExpireOpt, cmd: &str) -> Result<Option<i64>, String> {
    let (v, unit, rel) = match opt {
        ExpireOpt::Relative(v, u) => (v, u, true),
        ExpireOpt::Absolute(v, u) => (v, u, false),
        _ => return Ok(None),
    };
    let bad = || format!("ERR invalid expire time in '{cmd}' command");
    if v <= 0 || (unit == ExpireUnit::Seconds && v > i64::MAX / 1000) {
        return Err(bad());
    }
    let ms = if unit == ExpireUnit::Seconds {
        v * 1000
    } else {
        v
    };
    if rel {
        let t = ms.checked_add(ctx.now).ok_or_else(bad)?;
        Ok(Some(t))
    } else {
        Ok(Some(ms))
    }
}

/// SET's options, each at most once: NX or XX, GET, one expiry (or KEEPTTL).
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    exp: ExpireOpt,
}

impl SetOptions {
    fn parse(args: &mut Args) -> Result<SetOptions, ArgError> {
        let mut o = SetOptions {
            nx: false,
            xx: false,
            get: false,
            exp: ExpireOpt::None,
        };
        while let Some(w) = args.try_arg() {
            let none = o.exp == ExpireOpt::None;
            if eq_ic(w, "nx") && !o.xx {
                o.nx = true;
            } else if eq_ic(w, "xx") && !o.nx {
                o.xx = true;
            } else if eq_ic(w, "get") {
                o.get = true;
            } else if eq_ic(w, "keepttl") && none {
                o.exp = ExpireOpt::KeepTtl;
            } else if is_expire_kw(w) && none && !args.is_done() {
                o.exp = expire_opt(w, args)?;
            } else {
                return Err(ERR_SYNTAX.into());
            }
        }
        Ok(o)
    }
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL]
pub fn set(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(o) = ctx.parsed(SetOptions::parse(&mut Args::at(a, 3))) else {
        return;
    };
    let when = match absolute_ms(ctx, o.exp, "set") {
        Ok(w) => w,
        Err(e) => return ctx.out.error(&e),
    };
    set_generic(ctx, &a[1], &a[2], o.nx, o.xx, o.get, o.exp, when, a);
}

#[allow(clippy::too_many_arguments)]
fn set_generic(
    ctx: &mut Ctx,
    key: &Bytes,
    val: &Bytes,
    nx: bool,
    xx: bool,
    get: bool,
    exp: ExpireOpt,
    when: Option<i64>,
    orig: &[Bytes],
) {
    let db = ctx.db();
    let old = if get {
        match get_str(ctx, key) {
            Ok(v) => v,
            Err(()) => return,
        }
    } else {
        None
    };
    let exists = if get {
        old.is_some()
    } else if nx || xx {
        ctx.st.ks.exists(db, key, ctx.now)
    } else {
        false
    };
    if (nx && exists) || (xx && !exists) {
        if get {
            match old {
                Some(s) => reply_str(ctx, &s),
                None => ctx.out.null(),
            }
        } else {
            ctx.out.null();
        }
        return;
    }
    ctx.st.ks.set(
        db,
        key,
        Value::Str(RStr::from_arg(val)),
        exp == ExpireOpt::KeepTtl,
    );
    ctx.notify(class::STRING, "set", key);
    if let Some(t) = when {
        ctx.st.ks.set_expire(db, key, t);
        ctx.notify(class::GENERIC, "expire", key);
    }
    ctx.dirty(1);
    // Every expiry travels as `SET key value PXAT ms` (Redis 7.0 rewrites PXAT too, in capitals).
    match when {
        Some(t) => ctx.propagate(vec![
            Bytes::from_static(b"SET"),
            key.clone(),
            val.clone(),
            Bytes::from_static(b"PXAT"),
            Bytes::from(t.to_string()),
        ]),
        None => ctx.propagate_as_is(orig),
    }
    if get {
        match old {
            Some(s) => reply_str(ctx, &s),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.ok();
    }
}

/// SETNX key value
pub fn setnx(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    if ctx.st.ks.exists(db, &a[1], ctx.now) {
        return ctx.out.int(0);
    }
    ctx.st
        .ks
        .set(db, &a[1], Value::Str(RStr::from_arg(&a[2])), false);
    ctx.notify(class::STRING, "set", &a[1]);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(1);
}

fn setex_generic(ctx: &mut Ctx, a: &[Bytes], unit: ExpireUnit, name: &str) {
    let Some(v) = ctx.parsed(Args::at(a, 2).int()) else {
        return;
    };
    let when = match absolute_ms(ctx, ExpireOpt::Relative(v, unit), name) {
        Ok(w) => w,
        Err(e) => return ctx.out.error(&e),
    };
    set_generic(
        ctx,
        &a[1],
        &a[3],
        false,
        false,
        false,
        ExpireOpt::Relative(v, unit),
        when,
        a,
    );
}

/// SETEX key seconds value
pub fn setex(ctx: &mut Ctx, a: &[Bytes]) {
    setex_generic(ctx, a, ExpireUnit::Seconds, "setex");
}

/// PSETEX key milliseconds value
pub fn psetex(ctx: &mut Ctx, a: &[Bytes]) {
    setex_generic(ctx, a, ExpireUnit::Millis, "psetex");
}

/// GETSET key value (propagated as SET).
pub fn getset(ctx: &mut Ctx, a: &[Bytes]) {
    let Ok(old) = get_str(ctx, &a[1]) else { return };
    let db = ctx.db();
    ctx.st
        .ks
        .set(db, &a[1], Value::Str(RStr::from_arg(&a[2])), false);
    ctx.notify(class::STRING, "set", &a[1]);
    ctx.dirty(1);
    ctx.propagate(vec![Bytes::from_static(b"SET"), a[1].clone(), a[2].clone()]);
    match old {
        Some(s) => reply_str(ctx, &s),
        None => ctx.out.null(),
    }
}

/// GETDEL key (propagated as DEL).
pub fn getdel(ctx: &mut Ctx, a: &[Bytes]) {
    let Ok(old) = get_str(ctx, &a[1]) else { return };
    match old {
        Some(s) => {
            let db = ctx.db();
            ctx.st.ks.delete(db, &a[1]);
            ctx.notify(class::GENERIC, "del", &a[1]);
            ctx.dirty(1);
            ctx.propagate(vec![Bytes::from_static(b"DEL"), a[1].clone()]);
            reply_str(ctx, &s);
        }
        None => ctx.out.null(),
    }
}

/// GETEX's option: one expiry, or PERSIST.
fn getex_option(args: &mut Args) -> Result<ExpireOpt, ArgError> {
    let mut exp = ExpireOpt::None;
    while let Some(w) = args.try_arg() {
        let none = exp == ExpireOpt::None;
        if eq_ic(w, "persist") && none {
            exp = ExpireOpt::Persist;
        } else if is_expire_kw(w) && none && !args.is_done() {
            exp = expire_opt(w, args)?;
        } else {
            return Err(ERR_SYNTAX.into());
        }
    }
    Ok(exp)
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ts|PERSIST]
pub fn getex(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(exp) = ctx.parsed(getex_option(&mut Args::at(a, 2))) else {
        return;
    };
    let when = match absolute_ms(ctx, exp, "getex") {
        Ok(w) => w,
        Err(e) => return ctx.out.error(&e),
    };
    let Ok(v) = get_str(ctx, &a[1]) else { return };
    let Some(s) = v else { return ctx.out.null() };
    let db = ctx.db();
    if let Some(t) = when {
        if t <= ctx.now {
            ctx.st.ks.delete(db, &a[1]);
            ctx.notify(class::GENERIC, "del", &a[1]);
            ctx.propagate(vec![Bytes::from_static(b"DEL"), a[1].clone()]);
        } else {
            ctx.st.ks.set_expire(db, &a[1], t);
            ctx.notify(class::GENERIC, "expire", &a[1]);
            ctx.propagate(vec![
                Bytes::from_static(b"PEXPIREAT"),
                a[1].clone(),
                Bytes::from(t.to_string()),
            ]);
        }
        ctx.dirty(1);
    } else if exp == ExpireOpt::Persist && ctx.st.ks.persist(db, &a[1]) {
        ctx.notify(class::GENERIC, "persist", &a[1]);
        ctx.propagate(vec![Bytes::from_static(b"PERSIST"), a[1].clone()]);
        ctx.dirty(1);
    }
    reply_str(ctx, &s);
}

/// MGET key [key ...]: nil for missing keys and for keys of other types.
pub fn mget(ctx: &mut Ctx, a: &[Bytes]) {
    ctx.out.array(a.len() - 1);
    let db = ctx.db();
    for k in &a[1..] {
        match ctx.st.ks.lookup(db, k, ctx.now).map(|e| &e.val) {
            Some(Value::Str(s)) => {
                let s = s.clone();
                reply_str(ctx, &s);
            }
            #[allow(unreachable_patterns)]
            _ => ctx.out.null(),
        }
    }
}

/// MSET key value [key value ...]
pub fn mset(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len().is_multiple_of(2) {
        return ctx
            .out
            .error("ERR wrong number of arguments for 'mset' command");
    }
    let db = ctx.db();
    for kv in a[1..].chunks(2) {
        ctx.st
            .ks
            .set(db, &kv[0], Value::Str(RStr::from_arg(&kv[1])), false);
        ctx.notify(class::STRING, "set", &kv[0]);
    }
    ctx.dirty((a.len() as u64 - 1) / 2);
    ctx.propagate_as_is(a);
    ctx.out.ok();
}

/// MSETNX key value [key value ...]
pub fn msetnx(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len().is_multiple_of(2) {
        return ctx
            .out
            .error("ERR wrong number of arguments for 'msetnx' command");
    }
    let db = ctx.db();
    for kv in a[1..].chunks(2) {
        if ctx.st.ks.exists(db, &kv[0], ctx.now) {
            return ctx.out.int(0);
        }
    }
    for kv in a[1..].chunks(2) {
        ctx.st
            .ks
            .set(db, &kv[0], Value::Str(RStr::from_arg(&kv[1])), false);
        ctx.notify(class::STRING, "set", &kv[0]);
    }
    ctx.dirty((a.len() as u64 - 1) / 2);
    ctx.propagate_as_is(a);
    ctx.out.int(1);
}

fn incr_generic(ctx: &mut Ctx, a: &[Bytes], by: i64) {
    let Ok(cur) = get_str_write(ctx, &a[1]) else {
        return;
    };
    let v = match cur {
        None => 0,
        Some(s) => match s.as_i64() {
            Some(v) => v,
            None => return ctx.out.error(ERR_NOT_INT),
        },
    };
    let Some(n) = v.checked_add(by) else {
        return ctx.out.error(ERR_OVERFLOW);
    };
    let db = ctx.db();
    ctx.st.ks.set(db, &a[1], Value::Str(RStr::Int(n)), true);
    ctx.notify(class::STRING, "incrby", &a[1]);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(n);
}

/// INCR key
pub fn incr(ctx: &mut Ctx, a: &[Bytes]) {
    incr_generic(ctx, a, 1);
}

/// DECR key
pub fn decr(ctx: &mut Ctx, a: &[Bytes]) {
    incr_generic(ctx, a, -1);
}

/// INCRBY key increment
pub fn incrby(ctx: &mut Ctx, a: &[Bytes]) {
    if let Some(by) = ctx.parsed(Args::at(a, 2).int()) {
        incr_generic(ctx, a, by)
    }
}

/// DECRBY key decrement
pub fn decrby(ctx: &mut Ctx, a: &[Bytes]) {
    match ctx.parsed(Args::at(a, 2).int()) {
        Some(i64::MIN) => ctx.out.error("ERR decrement would overflow"),
        Some(by) => incr_generic(ctx, a, -by),
        None => {}
    }
}

/// INCRBYFLOAT key increment: long double arithmetic, propagated as SET ... KEEPTTL.
pub fn incrbyfloat(ctx: &mut Ctx, a: &[Bytes]) {
    let Ok(cur) = get_str_write(ctx, &a[1]) else {
        return;
    };
    let cur_b = cur.as_ref().map(|s| s.as_bytes().into_owned());
    let res = incr_long_double(cur_b.as_deref(), &a[2]);
    let v = match res {
        Ok(v) => v,
        Err(IncrFloatError::CurrentNotFloat) | Err(IncrFloatError::IncrNotFloat) => {
            return ctx.out.error(picket::args::ERR_NOT_FLOAT)
        }
        Err(IncrFloatError::NanOrInfinity) => {
            return ctx.out.error("ERR increment would produce NaN or Infinity")
        }
    };
    let db = ctx.db();
    ctx.st
        .ks
        .set(db, &a[1], Value::Str(RStr::from_arg(&v)), true);
    ctx.notify(class::STRING, "incrbyfloat", &a[1]);
    ctx.dirty(1);
    let v = Bytes::from(v);
    ctx.propagate(vec![
        Bytes::from_static(b"SET"),
        a[1].clone(),
        v.clone(),
        Bytes::from_static(b"KEEPTTL"),
    ]);
    ctx.out.bulk(&v);
}

/// APPEND key value
pub fn append(ctx: &mut Ctx, a: &[Bytes]) {
    let Ok(cur) = get_str_write(ctx, &a[1]) else {
        return;
    };
    let mut data = cur.map(|s| s.as_bytes().into_owned()).unwrap_or_default();
    if !check_size(ctx, (data.len() + a[2].len()) as u64) {
        return;
    }
    data.extend_from_slice(&a[2]);
    store_raw(ctx, a, data, "append");
}

/// Stores a string modified in place (APPEND, SETRANGE): raw encoding, TTL kept; replies
/// with its new length.
fn store_raw(ctx: &mut Ctx, a: &[Bytes], data: Vec<u8>, event: &str) {
    let n = data.len();
    let db = ctx.db();
    ctx.st.ks.set(
        db,
        &a[1],
        Value::Str(RStr::Raw(SBytes::from_vec(data))),
        true,
    );
    ctx.notify(class::STRING, event, &a[1]);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(n as i64);
}

/// STRLEN key
pub fn strlen(ctx: &mut Ctx, a: &[Bytes]) {
    if let Ok(v) = get_str(ctx, &a[1]) {
        ctx.out.int(v.map(|s| s.len()).unwrap_or(0) as i64);
    }
}

/// GETRANGE key start end (and its old name SUBSTR).
pub fn getrange(ctx: &mut Ctx, a: &[Bytes]) {
    let mut args = Args::at(a, 2);
    let Some((mut start, mut end)) = ctx.parsed(args.int().and_then(|s| Ok((s, args.int()?))))
    else {
        return;
    };
    let Ok(v) = get_str(ctx, &a[1]) else { return };
    let s = v.map(|s| s.as_bytes().into_owned()).unwrap_or_default();
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return ctx.out.bulk(b"");
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if len > 0 && end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return ctx.out.bulk(b"");
    }
    ctx.out.bulk(&s[start as usize..=end as usize]);
}

/// SETRANGE key offset value
pub fn setrange(ctx: &mut Ctx, a: &[Bytes]) {
    let off = match ctx.parsed(Args::at(a, 2).int()) {
        Some(o) if o >= 0 => o as u64,
        Some(_) => return ctx.out.error("ERR offset is out of range"),
        None => return,
    };
    let Ok(cur) = get_str_write(ctx, &a[1]) else {
        return;
    };
    let val = &a[3];
    if cur.is_none() && val.is_empty() {
        return ctx.out.int(0);
    }
    let mut data = cur
        .as_ref()
        .map(|s| s.as_bytes().into_owned())
        .unwrap_or_default();
    if val.is_empty() {
        return ctx.out.int(data.len() as i64);
    }
    if !check_size(ctx, off + val.len() as u64) {
        return;
    }
    let end = off as usize + val.len();
    if data.len() < end {
        data.resize(end, 0);
    }
    data[off as usize..end].copy_from_slice(val);
    store_raw(ctx, a, data, "setrange");
}

/// LCS's options: (LEN, IDX, WITHMATCHLEN, MINMATCHLEN).
fn lcs_options(args: &mut Args) -> Result<(bool, bool, bool, i64), ArgError> {
    let (mut len_only, mut idx, mut withlen, mut minlen) = (false, false, false, 0i64);
    while let Some(w) = args.try_arg() {
        if eq_ic(w, "idx") {
            idx = true;
        } else if eq_ic(w, "len") {
            len_only = true;
        } else if eq_ic(w, "withmatchlen") {
            withlen = true;
        } else if eq_ic(w, "minmatchlen") && !args.is_done() {
            minlen = args.int()?.max(0);
        } else {
            return Err(ERR_SYNTAX.into());
        }
    }
    Ok((len_only, idx, withlen, minlen))
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
pub fn lcs(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let mut fetch = |k: &[u8]| -> Result<Vec<u8>, ()> {
        match ctx.st.ks.lookup(db, k, ctx.now).map(|e| &e.val) {
            None => Ok(Vec::new()),
            Some(Value::Str(s)) => Ok(s.as_bytes().into_owned()),
            #[allow(unreachable_patterns)]
            Some(_) => Err(()),
        }
    };
    let (Ok(x), Ok(y)) = (fetch(&a[1]), fetch(&a[2])) else {
        return ctx
            .out
            .error("ERR The specified keys must contain string values");
    };
    // The keys are read (and their type checked) before the options, as Redis does.
    let Some((len_only, idx, withlen, minlen)) = ctx.parsed(lcs_options(&mut Args::at(a, 3)))
    else {
        return;
    };
    if len_only && idx {
        return ctx
            .out
            .error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let table = lcs_table(&x, &y);
    let total = table[x.len() * (y.len() + 1) + y.len()];
    if len_only {
        return ctx.out.int(total as i64);
    }
    let (text, ranges) = lcs_backtrack(&x, &y, &table);
    if !idx {
        return ctx.out.bulk(&text);
    }
    let ranges: Vec<_> = ranges
        .into_iter()
        .filter(|r| minlen == 0 || (r.0 .1 - r.0 .0 + 1) as i64 >= minlen)
        .collect();
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(ranges.len());
    for ((as_, ae), (bs, be)) in ranges {
        ctx.out.array(if withlen { 3 } else { 2 });
        ctx.out.array(2);
        ctx.out.int(as_ as i64);
        ctx.out.int(ae as i64);
        ctx.out.array(2);
        ctx.out.int(bs as i64);
        ctx.out.int(be as i64);
        if withlen {
            ctx.out.int((ae - as_ + 1) as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(total as i64);
}

/// Dynamic-programming table: cell (i, j) is the LCS length of x[..i] and y[..j].
fn lcs_table(x: &[u8], y: &[u8]) -> Vec<u32> {
    let w = y.len() + 1;
    let mut t = vec![0u32; (x.len() + 1) * w];
    for i in 1..=x.len() {
        for j in 1..=y.len() {
            t[i * w + j] = if x[i - 1] == y[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    t
}

type Range = ((usize, usize), (usize, usize));

/// Walks the table back from the ends: the common subsequence, and its contiguous matching
/// ranges from the last to the first, as Redis reports them.
fn lcs_backtrack(x: &[u8], y: &[u8], t: &[u32]) -> (Vec<u8>, Vec<Range>) {
    let w = y.len() + 1;
    let (mut i, mut j) = (x.len(), y.len());
    let mut text = Vec::new();
    let mut ranges = Vec::new();
    let mut cur: Option<Range> = None;
    while i > 0 && j > 0 {
        if x[i - 1] == y[j - 1] {
            text.push(x[i - 1]);
            cur = match cur {
                Some(((as_, ae), (bs, be))) if as_ == i && bs == j => {
                    Some(((as_ - 1, ae), (bs - 1, be)))
                }
                Some(r) => {
                    ranges.push(r);
                    Some(((i - 1, i - 1), (j - 1, j - 1)))
                }
                None => Some(((i - 1, i - 1), (j - 1, j - 1))),
            };
            i -= 1;
            j -= 1;
        } else {
            if let Some(r) = cur.take() {
                ranges.push(r);
            }
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
        }
    }
    if let Some(r) = cur {
        ranges.push(r);
    }
    text.reverse();
    (text, ranges)
}
