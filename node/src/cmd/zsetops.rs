//! Sorted-set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms (WEIGHTS, AGGREGATE) and
//! ZINTERCARD. Plain sets are accepted as inputs with every score 1, as Redis does.

use super::zranges::{reply_scored, store_zset};
use super::Ctx;
use crate::db::Value;
use bytes::Bytes;
use picket::args::{eq_ic, ArgError, Args, ERR_SYNTAX, ERR_WRONGTYPE};
use picket::numfmt::parse_double;
use std::collections::HashMap;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Agg {
    Sum,
    Min,
    Max,
}

fn aggregate(agg: Agg, a: f64, b: f64) -> f64 {
    match agg {
        Agg::Sum => {
            let s = a + b;
            if s.is_nan() {
                0.0
            } else {
                s
            }
        }
        Agg::Min => a.min(b),
        Agg::Max => a.max(b),
    }
}

type Members = Vec<(Vec<u8>, f64)>;

/// The members of each input (None = missing key), or WRONGTYPE.
fn inputs(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Vec<Option<Members>>, &'static str> {
    let db = ctx.db();
    let mut v = Vec::with_capacity(keys.len());
    for k in keys {
        let m: Members = match ctx.st.ks.lookup(db, k, ctx.now).map(|e| &e.val) {
            None => {
                v.push(None);
                continue;
            }
            Some(Value::ZSet(z)) => z
                .view()
                .take(0, usize::MAX)
                .into_iter()
                .map(|(s, m)| (m.to_vec(), s))
                .collect(),
            Some(Value::Set(s)) => s.members().into_iter().map(|m| (m, 1.0)).collect(),
            _ => return Err(ERR_WRONGTYPE),
        };
        v.push(Some(m));
    }
    Ok(v)
}

fn compute(sets: &[Option<Members>], weights: &[f64], agg: Agg, op: Op) -> Vec<(f64, Vec<u8>)> {
    let weighted = |s: f64, w: f64| {
        let r = s * w;
        if r.is_nan() {
            0.0
        } else {
            r
        }
    };
    let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
    match op {
        Op::Union => {
            for (i, s) in sets.iter().enumerate() {
                for (m, sc) in s.iter().flatten() {
                    let v = weighted(*sc, weights[i]);
                    acc.entry(m.clone())
                        .and_modify(|x| *x = aggregate(agg, *x, v))
                        .or_insert(v);
                }
            }
        }
        Op::Inter => {
            if sets.iter().all(|s| s.is_some()) {
                let maps: Vec<HashMap<&[u8], f64>> = sets
                    .iter()
                    .flatten()
                    .map(|s| s.iter().map(|(m, sc)| (&m[..], *sc)).collect())
                    .collect();
                for (m, sc) in sets[0].iter().flatten() {
                    let mut v = weighted(*sc, weights[0]);
                    let mut all = true;
                    for (j, map) in maps.iter().enumerate().skip(1) {
                        match map.get(&m[..]) {
                            Some(o) => v = aggregate(agg, v, weighted(*o, weights[j])),
                            None => {
                                all = false;
                                break;
                            }
                        }
                    }
                    if all {
                        acc.insert(m.clone(), v);
                    }
                }
            }
        }
        Op::Diff => {
            if let Some(Some(first)) = sets.first() {
                let others: Vec<HashMap<&[u8], f64>> = sets[1..]
                    .iter()
                    .flatten()
                    .map(|s| s.iter().map(|(m, sc)| (&m[..], *sc)).collect())
                    .collect();
                for (m, sc) in first {
                    if !others.iter().any(|o| o.contains_key(&m[..])) {
                        acc.insert(m.clone(), *sc);
                    }
                }
            }
        }
    }
    let mut out: Vec<(f64, Vec<u8>)> = acc.into_iter().map(|(m, s)| (s, m)).collect();
    out.sort_by(|a, b| crate::db::zset::cmp_entry((a.0, &a.1), (b.0, &b.1)));
    out
}

/// The arguments of ZUNION/ZINTER/ZDIFF and their STORE forms after the destination:
/// numkeys, the keys, then WEIGHTS and AGGREGATE (not for ZDIFF) and WITHSCORES (not when
/// storing).
struct SetOpArgs<'a> {
    keys: &'a [Bytes],
    weights: Vec<f64>,
    agg: Agg,
    withscores: bool,
}

impl<'a> SetOpArgs<'a> {
    fn parse(args: &mut Args<'a>, name: &str, op: Op, store: bool) -> Result<Self, ArgError> {
        let n = args.int()?;
        if n < 1 {
            return Err(format!("ERR at least 1 input key is needed for '{name}' command").into());
        }
        let n = n as usize;
        if n > args.remaining() {
            return Err(ERR_SYNTAX.into());
        }
        let all = args.rest();
        let (keys, options) = all.split_at(n);
        let mut o = SetOpArgs {
            keys,
            weights: vec![1.0; n],
            agg: Agg::Sum,
            withscores: false,
        };
        let mut args = Args::at(options, 0);
        while let Some(w) = args.try_arg() {
            if op != Op::Diff && eq_ic(w, "weights") && args.remaining() >= n {
                for x in o.weights.iter_mut() {
                    *x = parse_double(args.arg()?).ok_or("ERR weight value is not a float")?;
                }
            } else if op != Op::Diff && eq_ic(w, "aggregate") && !args.is_done() {
                o.agg = match args.one_of(&["sum", "min", "max"]) {
                    Some("sum") => Agg::Sum,
                    Some("min") => Agg::Min,
                    Some(_) => Agg::Max,
                    None => return Err(ERR_SYNTAX.into()),
                };
            } else if !store && eq_ic(w, "withscores") {
                o.withscores = true;
            } else {
                return Err(ERR_SYNTAX.into());
            }
        }
        Ok(o)
    }
}

fn generic(ctx: &mut Ctx, a: &[Bytes], op: Op, store: bool) {
    let at = if store { 2 } else { 1 };
    let name = ctx.cmd.name;
    let Some(SetOpArgs {
        keys,
        weights,
        agg,
        withscores,
    }) = ctx.parsed(SetOpArgs::parse(&mut Args::at(a, at), name, op, store))
    else {
        return;
    };
    let sets = match inputs(ctx, keys) {
        Ok(s) => s,
        Err(e) => return ctx.out.error(e),
    };
    let result = compute(&sets, &weights, agg, op);
    if store {
        let event = match op {
            Op::Union => "zunionstore",
            Op::Inter => "zinterstore",
            Op::Diff => "zdiffstore",
        };
        let c = store_zset(ctx, &a[1], &result, event);
        ctx.dirty(1);
        ctx.propagate_as_is(a);
        return ctx.out.int(c as i64);
    }
    let items: Vec<(f64, &[u8])> = result.iter().map(|(s, m)| (*s, &m[..])).collect();
    reply_scored(ctx.out, &items, withscores)
}

pub fn zunion(ctx: &mut Ctx, a: &[Bytes]) {
    generic(ctx, a, Op::Union, false)
}
pub fn zinter(ctx: &mut Ctx, a: &[Bytes]) {
    generic(ctx, a, Op::Inter, false)
}
pub fn zdiff(ctx: &mut Ctx, a: &[Bytes]) {
    generic(ctx, a, Op::Diff, false)
}
pub fn zunionstore(ctx: &mut Ctx, a: &[Bytes]) {
    generic(ctx, a, Op::Union, true)
}
pub fn zinterstore(ctx: &mut Ctx, a: &[Bytes]) {
    generic(ctx, a, Op::Inter, true)
}
pub fn zdiffstore(ctx: &mut Ctx, a: &[Bytes]) {
    generic(ctx, a, Op::Diff, true)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx, a: &[Bytes]) {
    let n = match ctx.parsed(Args::new(a).int()) {
        Some(n) if n >= 1 => n as usize,
        Some(_) => {
            return ctx
                .out
                .error("ERR at least 1 input key is needed for 'zintercard' command")
        }
        None => return,
    };
    if n > a.len() - 2 {
        return ctx.out.error(ERR_SYNTAX);
    }
    let Some(limit) = ctx.parsed(super::coll::intercard_limit(&mut Args::at(a, 2 + n))) else {
        return;
    };
    let sets = match inputs(ctx, &a[2..2 + n]) {
        Ok(s) => s,
        Err(e) => return ctx.out.error(e),
    };
    let mut c = compute(&sets, &vec![1.0; n], Agg::Sum, Op::Inter).len();
    if limit > 0 {
        c = c.min(limit);
    }
    ctx.out.int(c as i64)
}
