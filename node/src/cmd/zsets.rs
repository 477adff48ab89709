//! Sorted-set commands: ZADD (NX/XX/GT/LT/CH/INCR), ZINCRBY, ZREM, scores and ranks, pops
//! (ZPOPMIN/MAX, ZMPOP and the blocking forms), ZRANDMEMBER and ZSCAN. Ranges are in
//! [`super::zranges`], the set algebra in [`super::zsetops`].

use super::blocking;
use super::coll::{changed, class, matches, scan_dict, scan_reply, zset_at, zset_get, ScanOptions};
use super::hashes::random_picks;
use super::keys::parse_cursor;
use super::Ctx;
use crate::db::{Value, ZSetVal};
use crate::state::blocking::BlockOp;
use crate::state::NodeState;
use bytes::Bytes;
use picket::args::{eq_ic, ArgError, Args, ERR_NOT_FLOAT, ERR_SYNTAX};
use picket::numfmt::{fmt_g17, parse_double};
use picket::resp::Reply;

const ERR_NAN: &str = "ERR resulting score is not a number (NaN)";

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// ZADD's (score, member) pairs.
type ScorePairs<'a> = Vec<(f64, &'a Bytes)>;

impl AddFlags {
    /// The flags before the first score, and the (score, member) pairs after them, checked
    /// for the combinations Redis refuses.
    fn parse<'a>(args: &mut Args<'a>) -> Result<(AddFlags, ScorePairs<'a>), ArgError> {
        let mut f = AddFlags::default();
        while let Some(o) = args.one_of(&["nx", "xx", "gt", "lt", "ch", "incr"]) {
            match o {
                "nx" => f.nx = true,
                "xx" => f.xx = true,
                "gt" => f.gt = true,
                "lt" => f.lt = true,
                "ch" => f.ch = true,
                _ => f.incr = true,
            }
        }
        let rest = args.rest();
        if rest.is_empty() || rest.len() % 2 == 1 {
            return Err(ERR_SYNTAX.into());
        }
        if f.nx && f.xx {
            return Err("ERR XX and NX options at the same time are not compatible".into());
        }
        if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
            return Err("ERR GT, LT, and/or NX options at the same time are not compatible".into());
        }
        if f.incr && rest.len() > 2 {
            return Err("ERR INCR option supports a single increment-element pair".into());
        }
        let mut pairs = Vec::with_capacity(rest.len() / 2);
        for p in rest.chunks(2) {
            let score = parse_double(&p[0]).ok_or(ERR_NOT_FLOAT)?;
            pairs.push((score, &p[1]));
        }
        Ok((f, pairs))
    }
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx, a: &[Bytes]) {
    if let Some((f, pairs)) = ctx.parsed(AddFlags::parse(&mut Args::at(a, 2))) {
        zadd_pairs(ctx, a, &pairs, f)
    }
}

/// ZADD with already parsed pairs and flags, for GEOADD: `a` is the ZADD command line that
/// gets propagated.
pub fn zadd_scored(
    ctx: &mut Ctx,
    a: &[Bytes],
    pairs: &[(f64, &Bytes)],
    nx: bool,
    xx: bool,
    ch: bool,
) {
    let f = AddFlags {
        nx,
        xx,
        ch,
        ..AddFlags::default()
    };
    zadd_pairs(ctx, a, pairs, f)
}

/// What a ZADD did: members added, scores changed, the last score set (for INCR).
struct Added {
    added: usize,
    updated: usize,
    last: Option<f64>,
}

/// Applies ZADD's pairs and flags to a sorted set; Err on a NaN result (nothing changed then
/// for that member).
fn zadd_into(
    z: &mut ZSetVal,
    pairs: &[(f64, &Bytes)],
    f: AddFlags,
    lim: &crate::db::EncodingLimits,
) -> Result<Added, &'static str> {
    if !(f.nx || f.xx || f.gt || f.lt || f.incr) {
        let pairs: Vec<(f64, &[u8])> = pairs.iter().map(|(s, m)| (*s, &m[..])).collect();
        let (added, updated) = z.set_many(&pairs, lim);
        return Ok(Added {
            added,
            updated,
            last: None,
        });
    }
    let mut r = Added {
        added: 0,
        updated: 0,
        last: None,
    };
    for (score, m) in pairs {
        let mut score = *score;
        match z.score(m) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                if f.incr {
                    score += cur;
                    if score.is_nan() {
                        return Err(ERR_NAN);
                    }
                }
                if (f.gt && score <= cur) || (f.lt && score >= cur) {
                    continue;
                }
                r.last = Some(score);
                if score != cur {
                    z.insert(m, score, lim);
                    r.updated += 1;
                }
            }
            None => {
                if f.xx {
                    continue;
                }
                z.insert(m, score, lim);
                r.added += 1;
                r.last = Some(score);
            }
        }
    }
    Ok(r)
}

fn zadd_pairs(ctx: &mut Ctx, a: &[Bytes], pairs: &[(f64, &Bytes)], f: AddFlags) {
    let db = ctx.db();
    let lim = ctx.st.ks.enc;
    // One lookup for an existing sorted set (the common case).
    let r = match zset_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(Some(z)) => zadd_into(z, pairs, f, &lim),
        Ok(None) if f.xx => Ok(Added {
            added: 0,
            updated: 0,
            last: None,
        }),
        Ok(None) => {
            let mut z = ZSetVal::with_hint(1, pairs[0].1.len(), &lim);
            let r = zadd_into(&mut z, pairs, f, &lim);
            if !z.is_empty() {
                ctx.st.ks.set(db, &a[1], Value::ZSet(z), false);
            }
            r
        }
    };
    let r = match r {
        Ok(r) => r,
        Err(e) => return ctx.out.error(e),
    };
    if r.added + r.updated > 0 {
        ctx.st.ks.modified(db, &a[1]);
        ctx.notify(class::ZSET, if f.incr { "zincr" } else { "zadd" }, &a[1]);
        ctx.dirty((r.added + r.updated) as u64);
        ctx.propagate_as_is(a);
    }
    if f.incr {
        match r.last {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    } else {
        ctx.out
            .int(if f.ch { r.added + r.updated } else { r.added } as i64)
    }
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(by) = parse_double(&a[2]) else {
        return ctx.out.error(ERR_NOT_FLOAT);
    };
    let f = AddFlags {
        incr: true,
        ..Default::default()
    };
    zadd_pairs(ctx, a, &[(by, &a[3])], f)
}

pub fn zrem(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let z = match zset_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(z)) => z,
    };
    let mut n = 0;
    for m in &a[2..] {
        if z.remove(m).is_some() {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    if n > 0 {
        changed(ctx.st, class::ZSET, "zrem", db, &a[1]);
        ctx.dirty(n as u64);
        ctx.propagate_as_is(a);
    }
    ctx.out.int(n)
}

pub fn zscore(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match zset_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(z) => match z.and_then(|z| z.score(&a[2])) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        },
    }
}

pub fn zmscore(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match zset_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(z) => {
            ctx.out.array(a.len() - 2);
            for m in &a[2..] {
                match z.as_ref().and_then(|z| z.score(m)) {
                    Some(s) => ctx.out.double(s),
                    None => ctx.out.null(),
                }
            }
        }
    }
}

pub fn zcard(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match zset_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(z) => ctx.out.int(z.map(|z| z.len()).unwrap_or(0) as i64),
    }
}

fn rank_generic(ctx: &mut Ctx, a: &[Bytes], rev: bool) {
    let withscore = match a.len() {
        3 => false,
        4 if eq_ic(&a[3], "withscore") => true,
        _ => return ctx.out.error(ERR_SYNTAX),
    };
    let db = ctx.db();
    let z = match zset_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => {
            return if withscore {
                ctx.out.null_array()
            } else {
                ctx.out.null()
            }
        }
        Ok(Some(z)) => z,
    };
    let (Some(r), Some(s)) = (z.rank(&a[2]), z.score(&a[2])) else {
        return if withscore {
            ctx.out.null_array()
        } else {
            ctx.out.null()
        };
    };
    let r = if rev { z.len() - 1 - r } else { r };
    if withscore {
        ctx.out.array(2);
        ctx.out.int(r as i64);
        ctx.out.double(s);
    } else {
        ctx.out.int(r as i64);
    }
}

pub fn zrank(ctx: &mut Ctx, a: &[Bytes]) {
    rank_generic(ctx, a, false)
}
pub fn zrevrank(ctx: &mut Ctx, a: &[Bytes]) {
    rank_generic(ctx, a, true)
}

/// Pops up to `count` of the lowest (`min`) or highest entries.
fn pop_entries(z: &mut ZSetVal, min: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
    let len = z.len();
    let n = count.min(len);
    let v = z.view();
    let mut items: Vec<(Vec<u8>, f64)> = if min {
        v.take(0, n)
    } else {
        let mut t = v.take(len - n, n);
        t.reverse();
        t
    }
    .into_iter()
    .map(|(s, m)| (m.to_vec(), s))
    .collect();
    for (m, _) in &items {
        z.remove(m);
    }
    items.shrink_to_fit();
    items
}

fn pop_event(min: bool) -> &'static str {
    if min {
        "zpopmin"
    } else {
        "zpopmax"
    }
}

/// ZPOPMIN / ZPOPMAX key [count]
fn zpop_generic(ctx: &mut Ctx, a: &[Bytes], min: bool) {
    if a.len() > 3 {
        return ctx.out.error(ERR_SYNTAX);
    }
    let count = match super::coll::pop_count(a) {
        Ok(c) => c,
        Err(e) => return ctx.out.error(e),
    };
    let db = ctx.db();
    let z = match zset_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return ctx.out.array(0),
        Ok(Some(z)) => z,
    };
    let items = pop_entries(z, min, count.unwrap_or(1));
    let nested = count.is_some() && ctx.out.resp3;
    ctx.out
        .array(if nested { items.len() } else { items.len() * 2 });
    for (m, s) in &items {
        if nested {
            ctx.out.array(2);
        }
        ctx.out.bulk(m);
        ctx.out.double(*s);
    }
    if !items.is_empty() {
        changed(ctx.st, class::ZSET, pop_event(min), db, &a[1]);
        ctx.dirty(items.len() as u64);
        ctx.propagate_as_is(a);
    }
}

pub fn zpopmin(ctx: &mut Ctx, a: &[Bytes]) {
    zpop_generic(ctx, a, true)
}
pub fn zpopmax(ctx: &mut Ctx, a: &[Bytes]) {
    zpop_generic(ctx, a, false)
}

fn first_ready(
    ctx: &mut Ctx,
    keys: &[Bytes],
    op: &BlockOp,
    deadline: Option<std::time::Instant>,
    may_block: bool,
) {
    let db = ctx.db();
    for k in keys {
        match zset_at(&mut ctx.st.ks, db, k, ctx.now) {
            Err(e) => return ctx.out.error(e),
            Ok(Some(z)) if !z.is_empty() => {
                serve_blocked(ctx.st, db, k, op, ctx.out, ctx.now);
                return;
            }
            _ => {}
        }
    }
    if !may_block || ctx.sess.in_exec {
        return ctx.out.null_array();
    }
    blocking::block(ctx, keys, deadline, op.clone());
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub fn zmpop(ctx: &mut Ctx, a: &[Bytes]) {
    match super::coll::mpop_args(&mut Args::at(a, 1), ("min", "max")) {
        Ok((keys, min, count)) => {
            first_ready(ctx, &keys, &BlockOp::ZMPop { min, count }, None, false)
        }
        Err(e) => ctx.out.error(&e),
    }
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub fn bzmpop(ctx: &mut Ctx, a: &[Bytes]) {
    let deadline = match blocking::parse_timeout(&a[1], ctx.now) {
        Ok(d) => d,
        Err(e) => return ctx.out.error(e),
    };
    match super::coll::mpop_args(&mut Args::at(a, 2), ("min", "max")) {
        Ok((keys, min, count)) => {
            first_ready(ctx, &keys, &BlockOp::ZMPop { min, count }, deadline, true)
        }
        Err(e) => ctx.out.error(&e),
    }
}

fn bzpop_generic(ctx: &mut Ctx, a: &[Bytes], min: bool) {
    let deadline = match blocking::parse_timeout(&a[a.len() - 1], ctx.now) {
        Ok(d) => d,
        Err(e) => return ctx.out.error(e),
    };
    let keys = a[1..a.len() - 1].to_vec();
    first_ready(ctx, &keys, &BlockOp::ZPop { min }, deadline, true)
}

pub fn bzpopmin(ctx: &mut Ctx, a: &[Bytes]) {
    bzpop_generic(ctx, a, true)
}
pub fn bzpopmax(ctx: &mut Ctx, a: &[Bytes]) {
    bzpop_generic(ctx, a, false)
}

/// Runs a sorted-set pop of `op` on `key` if it has entries (see lists::serve_blocked).
pub fn serve_blocked(
    st: &mut NodeState,
    db: usize,
    key: &[u8],
    op: &BlockOp,
    out: &mut Reply,
    now: i64,
) -> bool {
    let z = match zset_at(&mut st.ks, db, key, now) {
        Ok(Some(z)) if !z.is_empty() => z,
        _ => return false,
    };
    let k = Bytes::copy_from_slice(key);
    let name = |min: bool| Bytes::from_static(if min { b"ZPOPMIN" } else { b"ZPOPMAX" });
    let min = match op {
        BlockOp::ZPop { min } | BlockOp::ZMPop { min, .. } => *min,
        _ => return false,
    };
    let argv = match op {
        BlockOp::ZPop { min } => {
            let items = pop_entries(z, *min, 1);
            out.array(3);
            out.bulk(key);
            out.bulk(&items[0].0);
            out.double(items[0].1);
            vec![name(*min), k]
        }
        BlockOp::ZMPop { min, count } => {
            let items = pop_entries(z, *min, *count);
            out.array(2);
            out.bulk(key);
            out.array(items.len());
            for (m, s) in &items {
                out.array(2);
                out.bulk(m);
                out.double(*s);
            }
            vec![name(*min), k, Bytes::from(items.len().to_string())]
        }
        _ => return false,
    };
    changed(st, class::ZSET, pop_event(min), db, key);
    st.dirty += 1;
    st.stream.push(db, argv);
    true
}

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx, a: &[Bytes]) {
    let random = super::coll::random_count(&mut Args::at(a, 2), Some("withscores"));
    let Some((count, withscores)) = ctx.parsed(random) else {
        return;
    };
    let db = ctx.db();
    let z = match zset_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) if count.is_some() => return ctx.out.array(0),
        Ok(None) => return ctx.out.null(),
        Ok(Some(z)) => z,
    };
    let view = z.view();
    let all = view.take(0, usize::MAX);
    let mut picks = random_picks(all.len(), count.unwrap_or(1));
    if count.is_none() {
        return ctx.out.bulk(all[picks.next().unwrap_or(0)].1);
    }
    // Written as drawn (a huge negative count stops at the output limit).
    let out = &mut *ctx.out;
    let pairs = withscores && out.resp3;
    out.array(picks.len() * if withscores && !pairs { 2 } else { 1 });
    for i in picks {
        if out.over_limit() {
            break;
        }
        let (score, member) = all[i];
        if pairs {
            out.array(2);
        }
        out.bulk(member);
        if withscores {
            out.double(score);
        }
    }
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
pub fn zscan(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(cursor) = parse_cursor(&a[2]) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let db = ctx.db();
    let z = match zset_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return scan_reply(ctx.out, 0, &[]),
        Ok(Some(z)) => z,
    };
    let opts = match ScanOptions::parse(&mut Args::at(a, 3), false) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(&e),
    };
    let (pat, count) = (opts.pat, opts.count);
    let mut items = Vec::new();
    let next = match z {
        ZSetVal::Pack(_) => {
            for (s, m) in z.view().take(0, usize::MAX) {
                if matches(pat, m) {
                    items.push(m.to_vec());
                    items.push(fmt_g17(s).into_bytes());
                }
            }
            0
        }
        ZSetVal::Skip(sk) => scan_dict(&sk.dict, cursor, count, |m, s| {
            if matches(pat, m) {
                items.push(m.to_vec());
                items.push(fmt_g17(*s).into_bytes());
            }
        }),
    };
    scan_reply(ctx.out, next, &items)
}
