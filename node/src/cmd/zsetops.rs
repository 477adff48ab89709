//! Sorted-set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms (WEIGHTS, AGGREGATE) and
//! ZINTERCARD. Plain sets are accepted as inputs with every score 1, as Redis does.

use super::zranges::{reply_scored, store_zset};
use super::Ctx;
use crate::db::Value;
use bytes::Bytes;
use picket::args::{eq_ic, int_arg, Args, ERR_SYNTAX, ERR_WRONGTYPE};
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
        if !ctx.st.ks.exists(db, k, ctx.now) {
            v.push(None);
            continue;
        }
        let e = ctx.st.ks.lookup(db, k, ctx.now).map(|e| &e.val);
        let m: Members = match e {
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

fn generic(ctx: &mut Ctx, a: &[Bytes], op: Op, store: bool) {
    let at = if store { 2 } else { 1 };
    let n = match int_arg(&a[at]) {
        Ok(n) => n,
        Err(e) => return ctx.out.error(e),
    };
    if n < 1 {
        return ctx.out.error(&format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.cmd.name
        ));
    }
    let n = n as usize;
    if n > a.len() - at - 1 {
        return ctx.out.error(ERR_SYNTAX);
    }
    let keys = &a[at + 1..at + 1 + n];
    let mut weights = vec![1.0; n];
    let mut agg = Agg::Sum;
    let mut withscores = false;
    let mut i = at + 1 + n;
    while i < a.len() {
        let left = a.len() - i - 1;
        if op != Op::Diff && eq_ic(&a[i], "weights") && left >= n {
            for (j, w) in weights.iter_mut().enumerate() {
                match parse_double(&a[i + 1 + j]) {
                    Some(v) => *w = v,
                    None => return ctx.out.error("ERR weight value is not a float"),
                }
            }
            i += n + 1;
        } else if op != Op::Diff && eq_ic(&a[i], "aggregate") && left >= 1 {
            agg = if eq_ic(&a[i + 1], "sum") {
                Agg::Sum
            } else if eq_ic(&a[i + 1], "min") {
                Agg::Min
            } else if eq_ic(&a[i + 1], "max") {
                Agg::Max
            } else {
                return ctx.out.error(ERR_SYNTAX);
            };
            i += 2;
        } else if !store && eq_ic(&a[i], "withscores") {
            withscores = true;
            i += 1;
        } else {
            return ctx.out.error(ERR_SYNTAX);
        }
    }
    let sets = match inputs(ctx, keys) {
        Ok(s) => s,
        Err(e) => return ctx.out.error(e),
    };
    let result = compute(&sets, &weights, agg, op);
    if store {
        let c = store_zset(ctx, &a[1], &result);
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
    let n = match int_arg(&a[1]) {
        Ok(n) if n >= 1 => n as usize,
        Ok(_) => {
            return ctx
                .out
                .error("ERR at least 1 input key is needed for 'zintercard' command")
        }
        Err(e) => return ctx.out.error(e),
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
