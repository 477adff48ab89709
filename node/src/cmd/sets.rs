//! Set commands: SADD/SREM, membership, SPOP/SRANDMEMBER, SMOVE, the algebra (SINTER, SUNION,
//! SDIFF, their STORE forms, SINTERCARD) and SSCAN.

use super::coll::{
    changed, class, matches, numkeys, rand_below, scan_dict, scan_reply, set_at, set_get,
    ScanOptions,
};
use super::hashes::random_picks;
use super::keys::parse_cursor;
use super::Ctx;
use crate::db::{SetVal, Value};
use bytes::Bytes;
use picket::args::{Args, ERR_SYNTAX};
use picket::resp::Reply;

fn reply_members(out: &mut Reply, ms: &[Vec<u8>]) {
    out.set(ms.len());
    for m in ms {
        out.bulk(m);
    }
}

pub fn sadd(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let lim = ctx.st.ks.enc;
    let added = match set_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(Some(s)) => {
            let n = a[2..].iter().filter(|m| s.add(m, &lim)).count();
            if n > 0 {
                ctx.st.ks.modified(db, &a[1]);
            }
            n
        }
        Ok(None) => {
            let mut s = SetVal::for_member(&a[2]);
            let n = a[2..].iter().filter(|m| s.add(m, &lim)).count();
            ctx.st.ks.set(db, &a[1], Value::Set(Box::new(s)), false);
            n
        }
    };
    if added > 0 {
        ctx.notify(class::SET, "sadd", &a[1]);
        ctx.dirty(added as u64);
        ctx.propagate_as_is(a);
    }
    ctx.out.int(added as i64)
}

pub fn srem(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let s = match set_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(s)) => s,
    };
    let mut n = 0;
    for m in &a[2..] {
        if s.remove(m) {
            n += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    if n > 0 {
        changed(ctx.st, class::SET, "srem", db, &a[1]);
        ctx.dirty(n as u64);
        ctx.propagate_as_is(a);
    }
    ctx.out.int(n)
}

pub fn smembers(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match set_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(None) => ctx.out.set(0),
        Ok(Some(s)) => reply_members(ctx.out, &s.members()),
    }
}

pub fn sismember(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match set_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(s) => ctx
            .out
            .int(s.map(|s| s.contains(&a[2])).unwrap_or(false) as i64),
    }
}

pub fn smismember(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match set_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(s) => {
            ctx.out.array(a.len() - 2);
            for m in &a[2..] {
                let has = s.as_ref().map(|s| s.contains(m)).unwrap_or(false);
                ctx.out.int(has as i64);
            }
        }
    }
}

pub fn scard(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match set_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(s) => ctx.out.int(s.map(|s| s.len()).unwrap_or(0) as i64),
    }
}

/// SPOP key [count]
pub fn spop(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() > 3 {
        return ctx.out.error(ERR_SYNTAX);
    }
    let count = match super::coll::pop_count(a) {
        Ok(c) => c,
        Err(e) => return ctx.out.error(e),
    };
    let db = ctx.db();
    let s = match set_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) if count.is_some() => return ctx.out.set(0),
        Ok(None) => return ctx.out.null(),
        Ok(Some(s)) => s,
    };
    let Some(n) = count else {
        let mut rng = rand_below;
        let Some(m) = s.random(&mut rng) else {
            return ctx.out.null();
        };
        s.remove(&m);
        ctx.out.bulk(&m);
        changed(ctx.st, class::SET, "spop", db, &a[1]);
        ctx.dirty(1);
        ctx.propagate(vec![
            Bytes::from_static(b"SREM"),
            a[1].clone(),
            Bytes::from(m),
        ]);
        return;
    };
    if n == 0 {
        return ctx.out.set(0);
    }
    let all = s.members();
    let picks = random_picks(all.len(), n as i64);
    let gone: Vec<Vec<u8>> = picks.into_iter().map(|i| all[i].clone()).collect();
    for m in &gone {
        s.remove(m);
    }
    reply_members(ctx.out, &gone);
    changed(ctx.st, class::SET, "spop", db, &a[1]);
    ctx.dirty(gone.len() as u64);
    if gone.len() == all.len() {
        ctx.propagate(vec![Bytes::from_static(b"DEL"), a[1].clone()]);
    } else {
        let mut argv = vec![Bytes::from_static(b"SREM"), a[1].clone()];
        argv.extend(gone.into_iter().map(Bytes::from));
        ctx.propagate(argv);
    }
}

/// SRANDMEMBER key [count]
pub fn srandmember(ctx: &mut Ctx, a: &[Bytes]) {
    let Some((count, _)) = ctx.parsed(super::coll::random_count(&mut Args::at(a, 2), None)) else {
        return;
    };
    let db = ctx.db();
    let s = match set_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) if count.is_some() => return ctx.out.array(0),
        Ok(None) => return ctx.out.null(),
        Ok(Some(s)) => s,
    };
    let Some(c) = count else {
        let mut rng = rand_below;
        return match s.random(&mut rng) {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        };
    };
    let all = s.members();
    let picks = random_picks(all.len(), c);
    ctx.out.array(picks.len());
    for i in picks {
        if ctx.out.over_limit() {
            break;
        }
        ctx.out.bulk(&all[i]);
    }
}

pub fn smove(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let has = match set_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => None,
        Ok(Some(s)) => Some(s.contains(&a[3])),
    };
    if let Err(e) = set_at(&mut ctx.st.ks, db, &a[2], ctx.now) {
        return ctx.out.error(e);
    }
    let Some(has) = has else {
        return ctx.out.int(0);
    };
    if a[1] == a[2] {
        return ctx.out.int(has as i64);
    }
    if !has {
        return ctx.out.int(0);
    }
    if let Ok(Some(s)) = set_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        s.remove(&a[3]);
    }
    changed(ctx.st, class::SET, "srem", db, &a[1]);
    let lim = ctx.st.ks.enc;
    let added = match set_at(&mut ctx.st.ks, db, &a[2], ctx.now) {
        // The destination counts as modified (WATCH, blocked clients) only when the member
        // was not there yet, as in Redis.
        Ok(Some(d)) => {
            let added = d.add(&a[3], &lim);
            if added {
                ctx.st.ks.modified(db, &a[2]);
            }
            added
        }
        _ => {
            let mut d = SetVal::for_member(&a[3]);
            d.add(&a[3], &lim);
            ctx.st.ks.set(db, &a[2], Value::Set(Box::new(d)), false);
            true
        }
    };
    if added {
        ctx.notify(class::SET, "sadd", &a[2]);
        ctx.dirty(1);
    }
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(1)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

/// Type-checks the sets at `keys` (lazily expiring them); then [`sets_of`] borrows them.
fn check_sets(ctx: &mut Ctx, keys: &[Bytes]) -> Result<(), &'static str> {
    let db = ctx.db();
    for k in keys {
        set_get(&mut ctx.st.ks, db, k, ctx.now)?;
    }
    Ok(())
}

fn sets_of<'a>(ks: &'a crate::db::Keyspace, db: usize, keys: &[Bytes]) -> Vec<Option<&'a SetVal>> {
    keys.iter()
        .map(|k| match ks.dbs[db].main.get(k).map(|e| &e.val) {
            Some(Value::Set(s)) => Some(&**s),
            _ => None,
        })
        .collect()
}

/// The members of the result, in the order Redis replies them.
fn compute(sets: &[Option<&SetVal>], op: Algebra, lim: &crate::db::EncodingLimits) -> Vec<Vec<u8>> {
    match op {
        Algebra::Inter => {
            if sets.iter().any(|s| s.is_none()) {
                return Vec::new();
            }
            let mut order: Vec<&SetVal> = sets.iter().flatten().copied().collect();
            order.sort_by_key(|s| s.len());
            let (first, rest) = order.split_first().expect("at least one key");
            first
                .members()
                .into_iter()
                .filter(|m| rest.iter().all(|s| s.contains(m)))
                .collect()
        }
        Algebra::Union | Algebra::Diff => {
            let mut out = SetVal::Ints(Vec::new());
            match op {
                Algebra::Union => {
                    for s in sets.iter().flatten() {
                        for m in s.members() {
                            out.add(&m, lim);
                        }
                    }
                }
                _ => {
                    if let Some(Some(first)) = sets.first() {
                        for m in first.members() {
                            if !sets[1..].iter().flatten().any(|s| s.contains(&m)) {
                                out.add(&m, lim);
                            }
                        }
                    }
                }
            }
            out.members()
        }
    }
}

fn algebra(ctx: &mut Ctx, keys: &[Bytes], op: Algebra, dst: Option<&Bytes>, a: &[Bytes]) {
    if let Err(e) = check_sets(ctx, keys) {
        return ctx.out.error(e);
    }
    let lim = ctx.st.ks.enc;
    let db = ctx.db();
    let result = compute(&sets_of(&ctx.st.ks, db, keys), op, &lim);
    let Some(dst) = dst else {
        return reply_members(ctx.out, &result);
    };
    if result.is_empty() {
        if ctx.st.ks.delete(db, dst).is_some() {
            ctx.notify(class::GENERIC, "del", dst);
            ctx.dirty(1);
            ctx.propagate(vec![Bytes::from_static(b"DEL"), dst.clone()]);
        }
        return ctx.out.int(0);
    }
    let mut s = SetVal::Ints(Vec::new());
    for m in &result {
        s.add(m, &lim);
    }
    ctx.st.ks.set(db, dst, Value::Set(Box::new(s)), false);
    let event = match op {
        Algebra::Inter => "sinterstore",
        Algebra::Union => "sunionstore",
        Algebra::Diff => "sdiffstore",
    };
    ctx.notify(class::SET, event, dst);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(result.len() as i64)
}

pub fn sinter(ctx: &mut Ctx, a: &[Bytes]) {
    algebra(ctx, &a[1..], Algebra::Inter, None, a)
}
pub fn sunion(ctx: &mut Ctx, a: &[Bytes]) {
    algebra(ctx, &a[1..], Algebra::Union, None, a)
}
pub fn sdiff(ctx: &mut Ctx, a: &[Bytes]) {
    algebra(ctx, &a[1..], Algebra::Diff, None, a)
}
pub fn sinterstore(ctx: &mut Ctx, a: &[Bytes]) {
    algebra(ctx, &a[2..], Algebra::Inter, Some(&a[1]), a)
}
pub fn sunionstore(ctx: &mut Ctx, a: &[Bytes]) {
    algebra(ctx, &a[2..], Algebra::Union, Some(&a[1]), a)
}
pub fn sdiffstore(ctx: &mut Ctx, a: &[Bytes]) {
    algebra(ctx, &a[2..], Algebra::Diff, Some(&a[1]), a)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx, a: &[Bytes]) {
    let n = match numkeys(&a[1], a.len() - 2, true) {
        Ok(n) => n,
        Err(e) => return ctx.out.error(e),
    };
    let Some(limit) = ctx.parsed(super::coll::intercard_limit(&mut Args::at(a, 2 + n))) else {
        return;
    };
    if let Err(e) = check_sets(ctx, &a[2..2 + n]) {
        return ctx.out.error(e);
    }
    let lim = ctx.st.ks.enc;
    let db = ctx.db();
    let mut c = compute(&sets_of(&ctx.st.ks, db, &a[2..2 + n]), Algebra::Inter, &lim).len();
    if limit > 0 {
        c = c.min(limit);
    }
    ctx.out.int(c as i64)
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub fn sscan(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(cursor) = parse_cursor(&a[2]) else {
        return ctx.out.error("ERR invalid cursor");
    };
    let db = ctx.db();
    let s = match set_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return scan_reply(ctx.out, 0, &[]),
        Ok(Some(s)) => s,
    };
    let opts = match ScanOptions::parse(&mut Args::at(a, 3), false) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(&e),
    };
    let (pat, count) = (opts.pat, opts.count);
    let mut items = Vec::new();
    let next = match s {
        SetVal::Ints(_) => {
            items = s
                .members()
                .into_iter()
                .filter(|m| matches(pat, m))
                .collect();
            0
        }
        SetVal::Table(d) => scan_dict(d, cursor, count, |m, _| {
            if matches(pat, m) {
                items.push(m.to_vec());
            }
        }),
    };
    scan_reply(ctx.out, next, &items)
}
