//! List commands: pushes, pops (with count), ranges, LPOS, LMOVE/RPOPLPUSH, LMPOP, and the
//! blocking forms (served through [`super::blocking`]).

use super::blocking;
use super::coll::{changed, clamp_range, class, drop_if_empty, index_of, list_at, list_get, List};
use super::Ctx;
use crate::db::{SBytes, Value};
use crate::state::blocking::BlockOp;
use crate::state::NodeState;
use bytes::Bytes;
use picket::args::{eq_ic, ArgError, Args, ERR_SYNTAX};
use picket::resp::Reply;

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn side(a: &[u8]) -> Option<bool> {
    if eq_ic(a, "left") {
        Some(true)
    } else if eq_ic(a, "right") {
        Some(false)
    } else {
        None
    }
}

fn side_name(left: bool) -> Bytes {
    b(if left { "LEFT" } else { "RIGHT" })
}

fn pop_n(l: &mut List, left: bool, n: usize) -> Vec<SBytes> {
    let n = n.min(l.len());
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let e = if left { l.pop_front() } else { l.pop_back() };
        v.extend(e);
    }
    v
}

fn push_all<E: AsRef<[u8]>>(l: &mut List, elems: &[E], left: bool) {
    for e in elems {
        if left {
            l.push_front(SBytes::new(e.as_ref()));
        } else {
            l.push_back(SBytes::new(e.as_ref()));
        }
    }
}

/// Pushes onto the list at `key`, creating it. The caller checked the type.
fn push_into(st: &mut NodeState, db: usize, key: &[u8], elems: &[&[u8]], left: bool) -> usize {
    let n = if let Some(Value::List(l)) = st.ks.entry_mut(db, key).map(|e| &mut e.val) {
        push_all(l, elems, left);
        let n = l.len();
        st.ks.modified(db, key);
        n
    } else {
        let mut l = List::new();
        push_all(&mut l, elems, left);
        let n = l.len();
        st.ks.set(db, key, Value::List(Box::new(l)), false);
        n
    };
    st.notify(class::LIST, push_event(left), db, key);
    n
}

fn push_event(left: bool) -> &'static str {
    if left {
        "lpush"
    } else {
        "rpush"
    }
}

fn pop_event(left: bool) -> &'static str {
    if left {
        "lpop"
    } else {
        "rpop"
    }
}

fn push_generic(ctx: &mut Ctx, a: &[Bytes], left: bool, existing_only: bool) {
    let db = ctx.db();
    // One lookup for an existing list (the common case).
    let n = match list_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(Some(l)) => {
            push_all(l, &a[2..], left);
            let n = l.len();
            ctx.st.ks.modified(db, &a[1]);
            n
        }
        Ok(None) if existing_only => return ctx.out.int(0),
        Ok(None) => {
            let mut l = List::new();
            push_all(&mut l, &a[2..], left);
            let n = l.len();
            ctx.st.ks.set(db, &a[1], Value::List(Box::new(l)), false);
            n
        }
    };
    ctx.notify(class::LIST, push_event(left), &a[1]);
    ctx.dirty(a.len() as u64 - 2);
    ctx.propagate_as_is(a);
    ctx.out.int(n as i64);
}

pub fn lpush(ctx: &mut Ctx, a: &[Bytes]) {
    push_generic(ctx, a, true, false)
}
pub fn rpush(ctx: &mut Ctx, a: &[Bytes]) {
    push_generic(ctx, a, false, false)
}
pub fn lpushx(ctx: &mut Ctx, a: &[Bytes]) {
    push_generic(ctx, a, true, true)
}
pub fn rpushx(ctx: &mut Ctx, a: &[Bytes]) {
    push_generic(ctx, a, false, true)
}

fn pop_generic(ctx: &mut Ctx, a: &[Bytes], left: bool) {
    if a.len() > 3 {
        return ctx.out.error(&picket::args::wrong_args(ctx.cmd.name));
    }
    let count = match super::coll::pop_count(a) {
        Ok(c) => c,
        Err(e) => return ctx.out.error(e),
    };
    let db = ctx.db();
    let l = match list_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) if count.is_some() => return ctx.out.null_array(),
        Ok(None) => return ctx.out.null(),
        Ok(Some(l)) => l,
    };
    let Some(n) = count else {
        let e = pop_n(l, left, 1);
        ctx.out.bulk(&e[0]);
        return pop_done(ctx, a, 1, left);
    };
    if n == 0 {
        return ctx.out.array(0);
    }
    let got = pop_n(l, left, n);
    ctx.out.array(got.len());
    for e in &got {
        ctx.out.bulk(e);
    }
    pop_done(ctx, a, got.len(), left);
}

fn pop_done(ctx: &mut Ctx, a: &[Bytes], n: usize, left: bool) {
    let db = ctx.db();
    changed(ctx.st, class::LIST, pop_event(left), db, &a[1]);
    ctx.dirty(n as u64);
    ctx.propagate_as_is(a);
}

pub fn lpop(ctx: &mut Ctx, a: &[Bytes]) {
    pop_generic(ctx, a, true)
}
pub fn rpop(ctx: &mut Ctx, a: &[Bytes]) {
    pop_generic(ctx, a, false)
}

pub fn llen(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    match list_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => ctx.out.error(e),
        Ok(l) => ctx.out.int(l.map(|l| l.len()).unwrap_or(0) as i64),
    }
}

pub fn lindex(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let l = match list_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return ctx.out.null(),
        Ok(Some(l)) => l,
    };
    // The key's type is checked before the index, as in Redis.
    let i = match Args::at(a, 2).int() {
        Ok(i) => i,
        Err(e) => return ctx.out.error(&e),
    };
    match index_of(i, l.len()) {
        Some(i) => ctx.out.bulk(&l[i]),
        None => ctx.out.null(),
    }
}

pub fn lset(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let l = match list_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return ctx.out.error(picket::args::ERR_NO_KEY),
        Ok(Some(l)) => l,
    };
    // The key's type is checked before the index, as in Redis.
    let i = match Args::at(a, 2).int() {
        Ok(i) => i,
        Err(e) => return ctx.out.error(&e),
    };
    let Some(i) = index_of(i, l.len()) else {
        return ctx.out.error("ERR index out of range");
    };
    l[i] = SBytes::new(&a[3]);
    ctx.st.ks.modified(db, &a[1]);
    ctx.notify(class::LIST, "lset", &a[1]);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.ok();
}

pub fn lrange(ctx: &mut Ctx, a: &[Bytes]) {
    let Some([s, e]) = ctx.parsed(Args::at(a, 2).ints()) else {
        return;
    };
    let db = ctx.db();
    let l = match list_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return ctx.out.array(0),
        Ok(Some(l)) => l,
    };
    let Some((s, e)) = clamp_range(s, e, l.len()) else {
        return ctx.out.array(0);
    };
    ctx.out.array(e - s);
    for x in l.range(s..e) {
        ctx.out.bulk(x);
    }
}

pub fn ltrim(ctx: &mut Ctx, a: &[Bytes]) {
    let Some([s, e]) = ctx.parsed(Args::at(a, 2).ints()) else {
        return;
    };
    let db = ctx.db();
    let l = match list_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return ctx.out.ok(),
        Ok(Some(l)) => l,
    };
    match clamp_range(s, e, l.len()) {
        Some((s, e)) => {
            l.truncate(e);
            l.drain(..s);
        }
        None => l.clear(),
    }
    changed(ctx.st, class::LIST, "ltrim", db, &a[1]);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.ok();
}

pub fn lrem(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(count) = ctx.parsed(Args::at(a, 2).int()) else {
        return;
    };
    let db = ctx.db();
    let l = match list_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(l)) => l,
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let mut removed = 0;
    let target = &a[3][..];
    if count >= 0 {
        let mut i = 0;
        while i < l.len() && removed < limit {
            if &l[i][..] == target {
                l.remove(i);
                removed += 1;
            } else {
                i += 1;
            }
        }
    } else {
        let mut i = l.len();
        while i > 0 && removed < limit {
            i -= 1;
            if &l[i][..] == target {
                l.remove(i);
                removed += 1;
            }
        }
    }
    if removed > 0 {
        changed(ctx.st, class::LIST, "lrem", db, &a[1]);
        ctx.dirty(removed as u64);
        ctx.propagate_as_is(a);
    }
    ctx.out.int(removed as i64);
}

pub fn linsert(ctx: &mut Ctx, a: &[Bytes]) {
    let after = if eq_ic(&a[2], "after") {
        true
    } else if eq_ic(&a[2], "before") {
        false
    } else {
        return ctx.out.error(ERR_SYNTAX);
    };
    let db = ctx.db();
    let l = match list_at(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(l)) => l,
    };
    let Some(pos) = l.iter().position(|e| e[..] == a[3][..]) else {
        return ctx.out.int(-1);
    };
    l.insert(if after { pos + 1 } else { pos }, SBytes::new(&a[4]));
    let n = l.len();
    ctx.st.ks.modified(db, &a[1]);
    ctx.notify(class::LIST, "linsert", &a[1]);
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(n as i64);
}

/// LPOS's options: RANK (not zero, above i64::MIN), COUNT and MAXLEN (not negative).
fn lpos_options(args: &mut Args) -> Result<(i64, Option<usize>, usize), ArgError> {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<usize>, 0usize);
    while let Some(w) = args.try_arg() {
        if args.is_done() {
            return Err(ERR_SYNTAX.into());
        }
        let v = args.int()?;
        if eq_ic(w, "rank") {
            if v == 0 {
                return Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into());
            }
            if v == i64::MIN {
                return Err(super::coll::ERR_RANGE_LONG.into());
            }
            rank = v;
        } else if eq_ic(w, "count") {
            if v < 0 {
                return Err("ERR COUNT can't be negative".into());
            }
            count = Some(v as usize);
        } else if eq_ic(w, "maxlen") {
            if v < 0 {
                return Err("ERR MAXLEN can't be negative".into());
            }
            maxlen = v as usize;
        } else {
            return Err(ERR_SYNTAX.into());
        }
    }
    Ok((rank, count, maxlen))
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx, a: &[Bytes]) {
    let Some((rank, count, maxlen)) = ctx.parsed(lpos_options(&mut Args::at(a, 3))) else {
        return;
    };
    let db = ctx.db();
    let l = match list_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(None) if count.is_some() => return ctx.out.array(0),
        Ok(None) => return ctx.out.null(),
        Ok(Some(l)) => l,
    };
    let want = match count {
        Some(0) => usize::MAX,
        Some(c) => c,
        None => 1,
    };
    let mut skip = rank.unsigned_abs() - 1;
    let mut found = Vec::new();
    let n = l.len();
    let scan = if maxlen == 0 { n } else { maxlen.min(n) };
    for step in 0..scan {
        let idx = if rank > 0 { step } else { n - 1 - step };
        if l[idx][..] == a[2][..] {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            found.push(idx as i64);
            if found.len() >= want {
                break;
            }
        }
    }
    if count.is_some() {
        ctx.out.array(found.len());
        for f in found {
            ctx.out.int(f);
        }
    } else {
        match found.first() {
            Some(f) => ctx.out.int(*f),
            None => ctx.out.null(),
        }
    }
}

/// Pops from `src` and pushes onto `dst`; None when `src` is missing. The caller checked types.
fn move_one(
    st: &mut NodeState,
    db: usize,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Option<SBytes> {
    let Some(Value::List(l)) = st.ks.entry_mut(db, src).map(|e| &mut e.val) else {
        return None;
    };
    let e = pop_n(l, from_left, 1).pop()?;
    st.ks.modified(db, src);
    // Pushed before the source is dropped: with src == dst the list stays the same key.
    push_into(st, db, dst, &[&e[..]], to_left);
    st.notify(class::LIST, pop_event(from_left), db, src);
    drop_if_empty(st, db, src);
    Some(e)
}

/// Type checks of LMOVE: the source must be a list (or missing), the destination too.
fn check_move(ctx: &mut Ctx, src: &[u8], dst: &[u8]) -> Result<bool, &'static str> {
    let db = ctx.db();
    let has = match list_at(&mut ctx.st.ks, db, src, ctx.now)? {
        Some(l) => !l.is_empty(),
        None => false,
    };
    if has {
        list_at(&mut ctx.st.ks, db, dst, ctx.now)?;
    }
    Ok(has)
}

fn lmove_generic(ctx: &mut Ctx, a: &[Bytes], from_left: bool, to_left: bool) {
    match check_move(ctx, &a[1], &a[2]) {
        Err(e) => return ctx.out.error(e),
        Ok(false) => return ctx.out.null(),
        Ok(true) => {}
    }
    let db = ctx.db();
    if let Some(e) = move_one(ctx.st, db, &a[1], &a[2], from_left, to_left) {
        ctx.out.bulk(&e);
        ctx.dirty(1);
        ctx.propagate_as_is(a);
    }
}

pub fn lmove(ctx: &mut Ctx, a: &[Bytes]) {
    let (Some(f), Some(t)) = (side(&a[3]), side(&a[4])) else {
        return ctx.out.error(ERR_SYNTAX);
    };
    lmove_generic(ctx, a, f, t)
}

pub fn rpoplpush(ctx: &mut Ctx, a: &[Bytes]) {
    lmove_generic(ctx, a, false, true)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(ctx: &mut Ctx, a: &[Bytes]) {
    let mpop = super::coll::mpop_args(&mut Args::at(a, 1), ("left", "right"));
    let Some((keys, left, count)) = ctx.parsed(mpop) else {
        return;
    };
    let op = BlockOp::MPop { left, count };
    pop_first_ready(ctx, &keys, &op, false, None);
}

/// The first key that has elements is served now; otherwise block (or the null reply).
fn pop_first_ready(
    ctx: &mut Ctx,
    keys: &[Bytes],
    op: &BlockOp,
    may_block: bool,
    deadline: Option<std::time::Instant>,
) {
    let db = ctx.db();
    for k in keys {
        match list_at(&mut ctx.st.ks, db, k, ctx.now) {
            Err(e) => return ctx.out.error(e),
            Ok(Some(l)) if !l.is_empty() => {
                if let BlockOp::Move { dst, .. } = op {
                    if let Err(e) = list_at(&mut ctx.st.ks, db, dst, ctx.now) {
                        return ctx.out.error(e);
                    }
                }
                serve_blocked(ctx.st, db, k, op, ctx.out, ctx.now);
                return;
            }
            _ => {}
        }
    }
    if !may_block || ctx.sess.in_exec {
        return match op {
            BlockOp::Move { .. } => ctx.out.null(),
            _ => ctx.out.null_array(),
        };
    }
    blocking::block(ctx, keys, deadline, op.clone());
}

fn timeout_of(ctx: &mut Ctx, a: &[u8]) -> Result<Option<std::time::Instant>, ()> {
    blocking::parse_timeout(a, ctx.now).map_err(|e| ctx.out.error(e))
}

fn bpop_generic(ctx: &mut Ctx, a: &[Bytes], left: bool) {
    let Ok(deadline) = timeout_of(ctx, &a[a.len() - 1]) else {
        return;
    };
    let keys = a[1..a.len() - 1].to_vec();
    pop_first_ready(ctx, &keys, &BlockOp::Pop { left }, true, deadline);
}

pub fn blpop(ctx: &mut Ctx, a: &[Bytes]) {
    bpop_generic(ctx, a, true)
}
pub fn brpop(ctx: &mut Ctx, a: &[Bytes]) {
    bpop_generic(ctx, a, false)
}

fn bmove_generic(ctx: &mut Ctx, a: &[Bytes], from_left: bool, to_left: bool, rpoplpush: bool) {
    let Ok(deadline) = timeout_of(ctx, &a[a.len() - 1]) else {
        return;
    };
    let op = BlockOp::Move {
        dst: a[2].clone(),
        from_left,
        to_left,
        rpoplpush,
    };
    pop_first_ready(ctx, &a[1..2], &op, true, deadline);
}

pub fn blmove(ctx: &mut Ctx, a: &[Bytes]) {
    let (Some(f), Some(t)) = (side(&a[3]), side(&a[4])) else {
        return ctx.out.error(ERR_SYNTAX);
    };
    bmove_generic(ctx, a, f, t, false)
}

pub fn brpoplpush(ctx: &mut Ctx, a: &[Bytes]) {
    bmove_generic(ctx, a, false, true, true)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn blmpop(ctx: &mut Ctx, a: &[Bytes]) {
    let Ok(deadline) = timeout_of(ctx, &a[1]) else {
        return;
    };
    let mpop = super::coll::mpop_args(&mut Args::at(a, 2), ("left", "right"));
    let Some((keys, left, count)) = ctx.parsed(mpop) else {
        return;
    };
    pop_first_ready(ctx, &keys, &BlockOp::MPop { left, count }, true, deadline);
}

/// Runs a list pop of `op` on `key` if it has elements: writes the reply, propagates the
/// non-blocking form. False when there is nothing to do (missing, wrong type, empty, or a
/// destination of the wrong type).
pub fn serve_blocked(
    st: &mut NodeState,
    db: usize,
    key: &[u8],
    op: &BlockOp,
    out: &mut Reply,
    now: i64,
) -> bool {
    match list_at(&mut st.ks, db, key, now) {
        Ok(Some(l)) if !l.is_empty() => {}
        _ => return false,
    }
    let k = Bytes::copy_from_slice(key);
    let argv = match op {
        BlockOp::Pop { left } => {
            let Some(Value::List(l)) = st.ks.entry_mut(db, key).map(|e| &mut e.val) else {
                return false;
            };
            let e = pop_n(l, *left, 1);
            out.array(2);
            out.bulk(key);
            out.bulk(&e[0]);
            changed(st, class::LIST, pop_event(*left), db, key);
            vec![b(if *left { "LPOP" } else { "RPOP" }), k]
        }
        BlockOp::MPop { left, count } => {
            let Some(Value::List(l)) = st.ks.entry_mut(db, key).map(|e| &mut e.val) else {
                return false;
            };
            let got = pop_n(l, *left, *count);
            out.array(2);
            out.bulk(key);
            out.array(got.len());
            for e in &got {
                out.bulk(e);
            }
            changed(st, class::LIST, pop_event(*left), db, key);
            let n = Bytes::from(got.len().to_string());
            vec![b(if *left { "LPOP" } else { "RPOP" }), k, n]
        }
        BlockOp::Move {
            dst,
            from_left,
            to_left,
            rpoplpush,
        } => {
            // A destination of another type: the client gets WRONGTYPE at once and the
            // element stays in the source, as Redis answers it.
            if let Err(e) = list_at(&mut st.ks, db, dst, now) {
                out.error(e);
                return true;
            }
            let Some(e) = move_one(st, db, key, dst, *from_left, *to_left) else {
                return false;
            };
            out.bulk(&e);
            if *rpoplpush {
                vec![b("RPOPLPUSH"), k, dst.clone()]
            } else {
                vec![
                    b("LMOVE"),
                    k,
                    dst.clone(),
                    side_name(*from_left),
                    side_name(*to_left),
                ]
            }
        }
        BlockOp::ZPop { .. } | BlockOp::ZMPop { .. } | BlockOp::Wait { .. } => return false,
    };
    st.dirty += 1;
    st.stream.push(db, argv);
    true
}
