//! Generic keyspace commands: DEL, UNLINK, EXISTS, TYPE, RENAME, KEYS, SCAN, RANDOMKEY, COPY,
//! MOVE, SWAPDB, TOUCH, OBJECT, DBSIZE, FLUSHDB, FLUSHALL.

use super::coll::{class, ScanOptions};
use super::Ctx;
use crate::db::{lru::AccessPolicy, Db, RStr, Value};
use bytes::Bytes;
use picket::args::{eq_ic, ArgError, Args, ERR_DB_INDEX, ERR_NO_KEY, ERR_SYNTAX};
use picket::glob::glob_match;

fn del_generic(ctx: &mut Ctx, a: &[Bytes], lazy: bool) {
    let db = ctx.db();
    let mut n = 0;
    for k in &a[1..] {
        ctx.st.ks.expire_if_needed(db, k, ctx.now);
        if let Some(v) = ctx.st.ks.delete(db, k) {
            n += 1;
            ctx.notify(class::GENERIC, "del", k);
            ctx.propagate(vec![
                Bytes::from_static(if lazy { b"UNLINK" } else { b"DEL" }),
                k.clone(),
            ]);
            if lazy {
                crate::lazyfree::free_value(v);
            }
        }
    }
    ctx.dirty(n);
    ctx.out.int(n as i64);
}

/// DEL key [key ...]
pub fn del(ctx: &mut Ctx, a: &[Bytes]) {
    del_generic(ctx, a, false);
}

/// UNLINK key [key ...]: like DEL, large values are freed off the request path.
pub fn unlink(ctx: &mut Ctx, a: &[Bytes]) {
    del_generic(ctx, a, true);
}

/// EXISTS key [key ...]: repeated keys count each time.
pub fn exists(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let n = a[1..]
        .iter()
        .filter(|k| ctx.st.ks.lookup_notouch(db, k, ctx.now).is_some())
        .count();
    ctx.out.int(n as i64);
}

/// TOUCH key [key ...]
pub fn touch(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let n = a[1..]
        .iter()
        .filter(|k| ctx.st.ks.lookup(db, k, ctx.now).is_some())
        .count();
    ctx.out.int(n as i64);
}

/// TYPE key
pub fn type_(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let t = ctx
        .st
        .ks
        .lookup_notouch(db, &a[1], ctx.now)
        .map(|e| e.val.type_name())
        .unwrap_or("none");
    ctx.out.simple(t);
}

fn rename_generic(ctx: &mut Ctx, a: &[Bytes], nx: bool) {
    let db = ctx.db();
    let (src, dst) = (&a[1], &a[2]);
    if ctx.st.ks.lookup_write(db, src, ctx.now).is_none() {
        return ctx.out.error(ERR_NO_KEY);
    }
    if src == dst {
        return if nx { ctx.out.int(0) } else { ctx.out.ok() };
    }
    if nx && ctx.st.ks.exists(db, dst, ctx.now) {
        return ctx.out.int(0);
    }
    let ttl = ctx.st.ks.expire_of(db, src);
    let Some(v) = ctx.st.ks.delete(db, src) else {
        return ctx.out.error(ERR_NO_KEY);
    };
    if let Some(old) = ctx.st.ks.delete(db, dst) {
        crate::lazyfree::free_value(old);
    }
    ctx.st.ks.set(db, dst, v, false);
    if let Some(t) = ttl {
        ctx.st.ks.set_expire(db, dst, t);
    }
    ctx.notify(class::GENERIC, "rename_from", src);
    ctx.notify(class::GENERIC, "rename_to", dst);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
}

/// RENAME key newkey
pub fn rename(ctx: &mut Ctx, a: &[Bytes]) {
    rename_generic(ctx, a, false);
}

/// RENAMENX key newkey
pub fn renamenx(ctx: &mut Ctx, a: &[Bytes]) {
    rename_generic(ctx, a, true);
}

/// KEYS pattern (order is the table's, as in Redis).
pub fn keys(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let all = a[1][..] == *b"*";
    let found: Vec<Bytes> = ctx.st.ks.dbs[db]
        .main
        .iter()
        .filter(|(k, _)| all || glob_match(&a[1], k, false))
        .map(|(k, _)| k.to_bytes())
        .collect();
    let live: Vec<Bytes> = found
        .into_iter()
        .filter(|k| !ctx.st.ks.expire_if_needed(db, k, ctx.now))
        .collect();
    ctx.out.array(live.len());
    for k in live {
        ctx.out.bulk(&k);
    }
}

/// Parses a SCAN cursor as Redis does (an unsigned decimal).
/// Like strtoul: an optional sign, then digits; a negative value wraps around.
pub fn parse_cursor(a: &[u8]) -> Option<u64> {
    let (neg, d) = match a.first() {
        Some(b'-') => (true, &a[1..]),
        Some(b'+') => (false, &a[1..]),
        _ => (false, a),
    };
    if d.is_empty() || !d.iter().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: u64 = std::str::from_utf8(d).ok()?.parse().ok()?;
    Some(if neg { v.wrapping_neg() } else { v })
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
pub fn scan(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(mut cursor) = parse_cursor(&a[1]) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let Some(ScanOptions { pat, count, typ }) =
        ctx.parsed(ScanOptions::parse(&mut Args::at(a, 2), true))
    else {
        return;
    };
    let count = count as i64;
    let db = ctx.db();
    let mut found: Vec<Bytes> = Vec::new();
    let mut budget = count.saturating_mul(10);
    let dict = &ctx.st.ks.dbs[db].main;
    loop {
        cursor = dict.scan(cursor, |k, e| {
            if pat.map(|p| glob_match(p, k, false)).unwrap_or(true)
                && typ
                    .as_deref()
                    .map(|t| t == e.val.type_name())
                    .unwrap_or(true)
            {
                found.push(k.to_bytes());
            }
        });
        budget -= 1;
        if cursor == 0 || budget <= 0 || found.len() as i64 >= count {
            break;
        }
    }
    let live: Vec<Bytes> = found
        .into_iter()
        .filter(|k| !ctx.st.ks.expire_if_needed(db, k, ctx.now))
        .collect();
    ctx.out.array(2);
    ctx.out.bulk(cursor.to_string().as_bytes());
    ctx.out.array(live.len());
    for k in live {
        ctx.out.bulk(&k);
    }
}

/// RANDOMKEY
pub fn randomkey(ctx: &mut Ctx, _a: &[Bytes]) {
    let db = ctx.db();
    for _ in 0..100 {
        let picked = {
            let d = &ctx.st.ks.dbs[db].main;
            let mut rng = |n: usize| rand::random_range(0..n);
            d.random(&mut rng).map(|(k, _)| k.to_bytes())
        };
        let Some(k) = picked else {
            return ctx.out.null();
        };
        if !ctx.st.ks.expire_if_needed(db, &k, ctx.now) {
            return ctx.out.bulk(&k);
        }
    }
    ctx.out.null();
}

/// A database index: an integer below `databases`.
fn db_index(args: &mut Args, databases: usize) -> Result<usize, ArgError> {
    let n = args.int()?;
    if n < 0 || n as usize >= databases {
        return Err(ERR_DB_INDEX.into());
    }
    Ok(n as usize)
}

/// COPY's options: DB destination-db, REPLACE.
fn copy_options(args: &mut Args, db: usize, databases: usize) -> Result<(usize, bool), ArgError> {
    let (mut dst_db, mut replace) = (db, false);
    while let Some(w) = args.try_arg() {
        if eq_ic(w, "replace") {
            replace = true;
        } else if eq_ic(w, "db") && !args.is_done() {
            dst_db = db_index(args, databases)?;
        } else {
            return Err(ERR_SYNTAX.into());
        }
    }
    Ok((dst_db, replace))
}

/// COPY source destination [DB destination-db] [REPLACE]
pub fn copy(ctx: &mut Ctx, a: &[Bytes]) {
    let src_db = ctx.db();
    let databases = ctx.st.ks.dbs.len();
    let Some((dst_db, replace)) = ctx.parsed(copy_options(&mut Args::at(a, 3), src_db, databases))
    else {
        return;
    };
    if src_db == dst_db && a[1] == a[2] {
        return ctx
            .out
            .error("ERR source and destination objects are the same");
    }
    let Some(v) = ctx
        .st
        .ks
        .lookup(src_db, &a[1], ctx.now)
        .map(|e| e.val.clone())
    else {
        return ctx.out.int(0);
    };
    let ttl = ctx.st.ks.expire_of(src_db, &a[1]);
    if ctx.st.ks.exists(dst_db, &a[2], ctx.now) {
        if !replace {
            return ctx.out.int(0);
        }
        ctx.st.ks.delete(dst_db, &a[2]);
    }
    ctx.st.ks.set(dst_db, &a[2], v, false);
    if let Some(t) = ttl {
        ctx.st.ks.set_expire(dst_db, &a[2], t);
    }
    ctx.st.notify(class::GENERIC, "copy_to", dst_db, &a[2]);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(1);
}

/// MOVE key db
pub fn move_(ctx: &mut Ctx, a: &[Bytes]) {
    let src = ctx.db();
    let databases = ctx.st.ks.dbs.len();
    let Some(dst) = ctx.parsed(db_index(&mut Args::at(a, 2), databases)) else {
        return;
    };
    if src == dst {
        return ctx
            .out
            .error("ERR source and destination objects are the same");
    }
    if ctx.st.ks.lookup_write(src, &a[1], ctx.now).is_none()
        || ctx.st.ks.exists(dst, &a[1], ctx.now)
    {
        return ctx.out.int(0);
    }
    let ttl = ctx.st.ks.expire_of(src, &a[1]);
    let Some(v) = ctx.st.ks.delete(src, &a[1]) else {
        return ctx.out.int(0);
    };
    ctx.st.ks.set(dst, &a[1], v, false);
    if let Some(t) = ttl {
        ctx.st.ks.set_expire(dst, &a[1], t);
    }
    ctx.st.notify(class::GENERIC, "move_from", src, &a[1]);
    ctx.st.notify(class::GENERIC, "move_to", dst, &a[1]);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(1);
}

/// SWAPDB index1 index2
pub fn swapdb(ctx: &mut Ctx, a: &[Bytes]) {
    let mut args = Args::new(a);
    let Some((x, y)) = ctx.parsed(
        args.int_or("ERR invalid first DB index")
            .and_then(|x| Ok((x, args.int_or("ERR invalid second DB index")?))),
    ) else {
        return;
    };
    let n = ctx.st.ks.dbs.len() as i64;
    if x < 0 || x >= n || y < 0 || y >= n {
        return ctx.out.error(ERR_DB_INDEX);
    }
    ctx.st.ks.swap_db(x as usize, y as usize, ctx.now);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.ok();
}

/// DBSIZE
pub fn dbsize(ctx: &mut Ctx, _a: &[Bytes]) {
    let n = ctx.st.ks.dbs[ctx.db()].main.len();
    ctx.out.int(n as i64);
}

/// Parses the optional ASYNC|SYNC of FLUSHDB/FLUSHALL.
fn flush_mode(ctx: &mut Ctx, a: &[Bytes]) -> Option<bool> {
    match a.len() {
        1 => Some(ctx.st.settings.lazyfree_lazy_user_flush),
        2 if eq_ic(&a[1], "async") => Some(true),
        2 if eq_ic(&a[1], "sync") => Some(false),
        _ => {
            ctx.out.error(ERR_SYNTAX);
            None
        }
    }
}

/// FLUSHDB [ASYNC|SYNC]
pub fn flushdb(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(lazy) = flush_mode(ctx, a) else {
        return;
    };
    let db = ctx.db();
    let n = ctx.st.ks.dbs[db].main.len() as u64;
    let old = ctx.st.ks.flush_db(db, ctx.now);
    super::tracking::flushed(ctx);
    crate::lazyfree::free_dbs(vec![old], lazy);
    ctx.dirty(n + 1);
    ctx.propagate_as_is(a);
    ctx.out.ok();
}

/// FLUSHALL [ASYNC|SYNC]
pub fn flushall(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(lazy) = flush_mode(ctx, a) else {
        return;
    };
    let n = ctx.st.ks.total_keys() as u64;
    let dbs = ctx.st.ks.dbs.len();
    let old: Vec<Db> = (0..dbs).map(|d| ctx.st.ks.flush_db(d, ctx.now)).collect();
    super::tracking::flushed(ctx);
    crate::lazyfree::free_dbs(old, lazy);
    ctx.dirty(n + 1);
    crate::persistence::savepoints::flushed_all(ctx.st);
    ctx.propagate_as_is(a);
    ctx.out.ok();
}

const LFU_ERR: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const LRU_ERR: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// OBJECT HELP
pub fn object_help(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.help(&[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ]);
}

/// The entry OBJECT looks at (`a[2]`), without counting an access; the nil reply when the
/// key is missing or expired.
fn object_entry<'a>(
    st: &'a mut crate::state::NodeState,
    out: &mut picket::resp::Reply,
    (db, now): (usize, i64),
    key: &[u8],
) -> Option<&'a crate::db::Entry> {
    if st.ks.expire_if_needed(db, key, now) {
        out.null();
        return None;
    }
    let e = st.ks.dbs[db].main.get(key);
    if e.is_none() {
        out.null();
    }
    e
}

/// OBJECT ENCODING key
pub fn object_encoding(ctx: &mut Ctx, a: &[Bytes]) {
    if let Some(e) = object_entry(ctx.st, ctx.out, (ctx.sess.db, ctx.now), &a[2]) {
        let enc = e.val.encoding();
        ctx.out.bulk(enc.as_bytes())
    }
}

/// OBJECT REFCOUNT key: small integers are shared objects in Redis (INT_MAX references),
/// unless an LRU/LFU maxmemory policy is set.
pub fn object_refcount(ctx: &mut Ctx, a: &[Bytes]) {
    let lru_policy = ctx.node.hot.read().maxmemory_policy.contains("lru") || ctx.st.ks.lru.lfu;
    if let Some(e) = object_entry(ctx.st, ctx.out, (ctx.sess.db, ctx.now), &a[2]) {
        let shared =
            matches!(e.val, Value::Str(RStr::Int(i)) if (0..10000).contains(&i)) && !lru_policy;
        ctx.out.int(if shared { i32::MAX as i64 } else { 1 })
    }
}

/// OBJECT IDLETIME key (not with an LFU policy)
pub fn object_idletime(ctx: &mut Ctx, a: &[Bytes]) {
    let lfu = ctx.st.ks.lru.lfu;
    if let Some(e) = object_entry(ctx.st, ctx.out, (ctx.sess.db, ctx.now), &a[2]) {
        if lfu {
            return ctx.out.error(LFU_ERR);
        }
        ctx.out.int(AccessPolicy::idle_secs(e.lru) as i64)
    }
}

/// OBJECT FREQ key (only with an LFU policy)
pub fn object_freq(ctx: &mut Ctx, a: &[Bytes]) {
    let policy = ctx.st.ks.lru;
    if let Some(e) = object_entry(ctx.st, ctx.out, (ctx.sess.db, ctx.now), &a[2]) {
        if !policy.lfu {
            return ctx.out.error(LRU_ERR);
        }
        ctx.out.int(policy.decayed_counter(e.lru) as i64)
    }
}
