//! Sorted-set ranges: score and lex range parsing as Redis's, ZRANGE in all its forms (and the
//! older ZRANGEBYSCORE/ZREVRANGE... commands), ZRANGESTORE, ZCOUNT/ZLEXCOUNT and the
//! ZREMRANGEBY* commands.

use super::coll::{changed, clamp_range, class, zset_at, zset_get};
use super::Ctx;
use crate::db::zset::ZView;
use crate::db::{Value, ZSetVal};
use bytes::Bytes;
use picket::args::{eq_ic, int_arg, ArgError, Args, ERR_SYNTAX};
use picket::numfmt::parse_double;
use picket::resp::Reply;

pub const ERR_SCORE_RANGE: &str = "ERR min or max is not a float";
pub const ERR_LEX_RANGE: &str = "ERR min or max not valid string range item";

/// A score bound: the value and whether it is exclusive (`(1.5`).
#[derive(Clone, Copy, Debug)]
pub struct ScoreBound(pub f64, pub bool);

pub fn parse_score_bound(a: &[u8]) -> Result<ScoreBound, &'static str> {
    let (ex, s) = match a.first() {
        Some(b'(') => (true, &a[1..]),
        _ => (false, a),
    };
    let v = parse_double(s).ok_or(ERR_SCORE_RANGE)?;
    Ok(ScoreBound(v, ex))
}

/// A lex bound: -, +, [x or (x.
#[derive(Clone, Debug)]
pub enum LexBound {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

pub fn parse_lex_bound(a: &[u8]) -> Result<LexBound, &'static str> {
    match a.first() {
        Some(b'-') if a.len() == 1 => Ok(LexBound::Min),
        Some(b'+') if a.len() == 1 => Ok(LexBound::Max),
        Some(b'[') => Ok(LexBound::Incl(a[1..].to_vec())),
        Some(b'(') => Ok(LexBound::Excl(a[1..].to_vec())),
        _ => Err(ERR_LEX_RANGE),
    }
}

/// Ranks `lo..hi` of entries within [min, max] by score.
pub fn score_span(v: &ZView, min: ScoreBound, max: ScoreBound) -> (usize, usize) {
    let lo = v.partition_point(|s, _| if min.1 { s <= min.0 } else { s < min.0 });
    let hi = v.partition_point(|s, _| if max.1 { s < max.0 } else { s <= max.0 });
    (lo, hi.max(lo))
}

/// Ranks `lo..hi` of entries within [min, max] by member (all scores assumed equal).
pub fn lex_span(v: &ZView, min: &LexBound, max: &LexBound) -> (usize, usize) {
    let lo = v.partition_point(|_, m| match min {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(x) => m < &x[..],
        LexBound::Excl(x) => m <= &x[..],
    });
    let hi = v.partition_point(|_, m| match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(x) => m <= &x[..],
        LexBound::Excl(x) => m < &x[..],
    });
    (lo, hi.max(lo))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

struct RangeSpec {
    by: By,
    rev: bool,
    limit: Option<(i64, i64)>,
    withscores: bool,
}

/// Writes `(member, score)` pairs as Redis does: flat in RESP2, pairs in RESP3 with scores.
pub fn reply_scored(out: &mut Reply, items: &[(f64, &[u8])], withscores: bool) {
    if withscores && out.resp3 {
        out.array(items.len());
        for (s, m) in items {
            out.array(2);
            out.bulk(m);
            out.double(*s);
        }
    } else {
        out.array(items.len() * if withscores { 2 } else { 1 });
        for (s, m) in items {
            out.bulk(m);
            if withscores {
                out.double(*s);
            }
        }
    }
}

/// The selected entries of `z` for a range spec and its two bounds.
fn select<'a>(
    v: &ZView<'a>,
    spec: &RangeSpec,
    a1: &[u8],
    a2: &[u8],
) -> Result<Vec<(f64, &'a [u8])>, &'static str> {
    let len = v.len();
    let (lo, hi) = match spec.by {
        By::Rank => {
            let s = int_arg(a1)?;
            let e = int_arg(a2)?;
            let Some((s, e)) = clamp_range(s, e, len) else {
                return Ok(Vec::new());
            };
            if spec.rev {
                (len - e, len - s)
            } else {
                (s, e)
            }
        }
        By::Score => {
            let (min, max) = if spec.rev { (a2, a1) } else { (a1, a2) };
            let (min, max) = (parse_score_bound(min)?, parse_score_bound(max)?);
            score_span(v, min, max)
        }
        By::Lex => {
            let (min, max) = if spec.rev { (a2, a1) } else { (a1, a2) };
            let (min, max) = (parse_lex_bound(min)?, parse_lex_bound(max)?);
            lex_span(v, &min, &max)
        }
    };
    let mut items = v.take(lo, hi - lo);
    if spec.rev {
        items.reverse();
    }
    if let Some((off, cnt)) = spec.limit {
        if off < 0 {
            return Ok(Vec::new());
        }
        let off = (off as usize).min(items.len());
        items.drain(..off);
        if cnt >= 0 {
            items.truncate(cnt as usize);
        }
    }
    Ok(items)
}

/// The options of ZRANGE/ZRANGESTORE (no WITHSCORES for the latter), and of the legacy range
/// commands (`fixed`: their By and direction, and no BYSCORE, BYLEX or REV), with the
/// combinations Redis refuses for all of them.
fn parse_spec(
    args: &mut Args,
    store: bool,
    fixed: Option<(By, bool)>,
) -> Result<RangeSpec, ArgError> {
    let (by, rev) = fixed.unwrap_or((By::Rank, false));
    let mut spec = RangeSpec {
        by,
        rev,
        limit: None,
        withscores: false,
    };
    let free = fixed.is_none();
    while let Some(w) = args.try_arg() {
        if !store && eq_ic(w, "withscores") {
            spec.withscores = true;
        } else if eq_ic(w, "limit") && args.remaining() >= 2 {
            let [off, count] = args.ints()?;
            spec.limit = Some((off, count));
        } else if free && eq_ic(w, "byscore") && spec.by == By::Rank {
            spec.by = By::Score;
        } else if free && eq_ic(w, "bylex") && spec.by == By::Rank {
            spec.by = By::Lex;
        } else if free && eq_ic(w, "rev") {
            spec.rev = true;
        } else {
            return Err(ERR_SYNTAX.into());
        }
    }
    if spec.limit.is_some() && spec.by == By::Rank {
        return Err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                .into(),
        );
    }
    if spec.withscores && spec.by == By::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX".into());
    }
    Ok(spec)
}

fn range_reply(ctx: &mut Ctx, key: &[u8], spec: &RangeSpec, a1: &[u8], a2: &[u8]) {
    // The bounds are checked before the key is looked up (and on a missing key), as Redis does.
    if spec.by != By::Rank {
        if let Err(e) = select(&ZSetVal::new().view(), spec, a1, a2) {
            return ctx.out.error(e);
        }
    }
    let db = ctx.db();
    let z = match zset_get(&mut ctx.st.ks, db, key, ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(z) => z,
    };
    let Some(z) = z else {
        if let Err(e) = select(&ZSetVal::new().view(), spec, a1, a2) {
            return ctx.out.error(e);
        }
        return ctx.out.array(0);
    };
    match select(&z.view(), spec, a1, a2) {
        Ok(items) => reply_scored(ctx.out, &items, spec.withscores),
        Err(e) => ctx.out.error(e),
    }
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx, a: &[Bytes]) {
    if let Some(spec) = ctx.parsed(parse_spec(&mut Args::at(a, 4), false, None)) {
        range_reply(ctx, &a[1], &spec, &a[2], &a[3])
    }
}

/// The legacy range commands: fixed By/rev, then [WITHSCORES] [LIMIT offset count].
fn legacy(ctx: &mut Ctx, a: &[Bytes], by: By, rev: bool) {
    if let Some(spec) = ctx.parsed(parse_spec(&mut Args::at(a, 4), false, Some((by, rev)))) {
        range_reply(ctx, &a[1], &spec, &a[2], &a[3])
    }
}

pub fn zrangebyscore(ctx: &mut Ctx, a: &[Bytes]) {
    legacy(ctx, a, By::Score, false)
}
pub fn zrevrangebyscore(ctx: &mut Ctx, a: &[Bytes]) {
    legacy(ctx, a, By::Score, true)
}
pub fn zrangebylex(ctx: &mut Ctx, a: &[Bytes]) {
    legacy(ctx, a, By::Lex, false)
}
pub fn zrevrangebylex(ctx: &mut Ctx, a: &[Bytes]) {
    legacy(ctx, a, By::Lex, true)
}
pub fn zrevrange(ctx: &mut Ctx, a: &[Bytes]) {
    legacy(ctx, a, By::Rank, true)
}

/// Replaces `dst` with a sorted set of `items` (deleting it when empty) and sends `event`
/// (or `del`); returns the count.
pub fn store_zset(ctx: &mut Ctx, dst: &Bytes, items: &[(f64, Vec<u8>)], event: &str) -> usize {
    let db = ctx.db();
    if items.is_empty() {
        if ctx.st.ks.delete(db, dst).is_some() {
            ctx.st.ks.modified(db, dst);
            ctx.notify(class::GENERIC, "del", dst);
        }
        return 0;
    }
    let lim = ctx.st.ks.enc;
    let max_len = items.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
    let mut z = ZSetVal::with_hint(items.len(), max_len, &lim);
    for (s, m) in items {
        z.insert(m, *s, &lim);
    }
    ctx.st.ks.set(db, dst, Value::ZSet(z), false);
    ctx.notify(class::ZSET, event, dst);
    items.len()
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(spec) = ctx.parsed(parse_spec(&mut Args::at(a, 5), true, None)) else {
        return;
    };
    let db = ctx.db();
    let items: Vec<(f64, Vec<u8>)> = match zset_get(&mut ctx.st.ks, db, &a[2], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => {
            let empty = ZSetVal::new();
            if let Err(e) = select(&empty.view(), &spec, &a[3], &a[4]) {
                return ctx.out.error(e);
            }
            Vec::new()
        }
        Ok(Some(z)) => match select(&z.view(), &spec, &a[3], &a[4]) {
            Ok(items) => items.into_iter().map(|(s, m)| (s, m.to_vec())).collect(),
            Err(e) => return ctx.out.error(e),
        },
    };
    let n = store_zset(ctx, &a[1], &items, "zrangestore");
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(n as i64)
}

fn count_generic(ctx: &mut Ctx, a: &[Bytes], lex: bool) {
    let span = |v: &ZView| -> Result<(usize, usize), &'static str> {
        if lex {
            Ok(lex_span(
                v,
                &parse_lex_bound(&a[2])?,
                &parse_lex_bound(&a[3])?,
            ))
        } else {
            Ok(score_span(
                v,
                parse_score_bound(&a[2])?,
                parse_score_bound(&a[3])?,
            ))
        }
    };
    let db = ctx.db();
    let r = match zset_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => Err(e),
        Ok(None) => span(&ZSetVal::new().view()),
        Ok(Some(z)) => span(&z.view()),
    };
    match r {
        Ok((lo, hi)) => ctx.out.int((hi - lo) as i64),
        Err(e) => ctx.out.error(e),
    }
}

pub fn zcount(ctx: &mut Ctx, a: &[Bytes]) {
    count_generic(ctx, a, false)
}
pub fn zlexcount(ctx: &mut Ctx, a: &[Bytes]) {
    count_generic(ctx, a, true)
}

fn remrange(ctx: &mut Ctx, a: &[Bytes], by: By) {
    let spec = RangeSpec {
        by,
        rev: false,
        limit: None,
        withscores: false,
    };
    // Bounds are checked before the key is looked up.
    if by != By::Rank {
        if let Err(e) = select(&ZSetVal::new().view(), &spec, &a[2], &a[3]) {
            return ctx.out.error(e);
        }
    } else if let Err(e) = Args::at(a, 2).ints::<2>() {
        return ctx.out.error(&e);
    }
    let db = ctx.db();
    let z = match zset_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(z)) => z,
    };
    let gone: Vec<Vec<u8>> = match select(&z.view(), &spec, &a[2], &a[3]) {
        Ok(items) => items.into_iter().map(|(_, m)| m.to_vec()).collect(),
        Err(e) => return ctx.out.error(e),
    };
    for m in &gone {
        z.remove(m);
    }
    if !gone.is_empty() {
        let event = match by {
            By::Rank => "zremrangebyrank",
            By::Score => "zremrangebyscore",
            By::Lex => "zremrangebylex",
        };
        changed(ctx.st, class::ZSET, event, db, &a[1]);
        ctx.dirty(gone.len() as u64);
        ctx.propagate_as_is(a);
    }
    ctx.out.int(gone.len() as i64)
}

pub fn zremrangebyrank(ctx: &mut Ctx, a: &[Bytes]) {
    remrange(ctx, a, By::Rank)
}
pub fn zremrangebyscore(ctx: &mut Ctx, a: &[Bytes]) {
    remrange(ctx, a, By::Score)
}
pub fn zremrangebylex(ctx: &mut Ctx, a: &[Bytes]) {
    remrange(ctx, a, By::Lex)
}
