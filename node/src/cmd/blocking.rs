//! Blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP).
//!
//! A client that finds nothing to pop registers a [`Waiter`] on each of its keys (FIFO per key)
//! and its connection suspends. Any write to such a key marks it ready; after the writing
//! command completes (a whole EXEC counts as one), [`serve`] runs the waiters' pops in FIFO
//! order on the writer's thread, under the same lock, so no other command can take the data
//! first. The served client's reply is left in its [`BlockSlot`] and its connection woken. What
//! is propagated is the non-blocking form actually executed (LPOP, LMOVE, ZPOPMIN, ...).

use super::Ctx;
use crate::state::blocking::{BlockOp, BlockSlot, Blocked, Waiter};
use crate::state::{Node, NodeState, Session};
use bytes::Bytes;
use picket::resp::{Reply, Request};
use picket::server::Control;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl BlockOp {
    fn wants_zset(&self) -> bool {
        matches!(self, BlockOp::ZPop { .. } | BlockOp::ZMPop { .. })
    }

    /// The timeout reply: a null array for every blocking command (even BLMOVE, whose
    /// non-blocking form answers a null bulk), as Redis 7.0 replies.
    fn timeout_reply(&self, st: &NodeState, out: &mut Reply) {
        match self {
            BlockOp::Wait { offset, .. } => {
                out.int(crate::repl::master::acked(&st.repl, *offset) as i64)
            }
            _ => out.null_array(),
        }
    }
}

/// Parses a blocking timeout in seconds: None = forever.
pub fn parse_timeout(a: &[u8], now_ms: i64) -> Result<Option<Instant>, &'static str> {
    let secs = picket::numfmt::parse_double(a)
        .filter(|d| d.is_finite() || *d < 0.0)
        .ok_or("ERR timeout is not a float or out of range")?;
    let ms = (secs * 1000.0) as i64;
    if ms < 0 {
        return Err("ERR timeout is negative");
    }
    if ms == 0 {
        return Ok(None);
    }
    if ms > i64::MAX - now_ms {
        return Err("ERR timeout is out of range");
    }
    Ok(Instant::now().checked_add(Duration::from_millis(ms as u64)))
}

/// Blocks the client on `keys` (its current db). Inside MULTI the caller replies instead.
pub fn block(ctx: &mut Ctx, keys: &[Bytes], deadline: Option<Instant>, op: BlockOp) {
    let id = ctx.sess.client.id;
    let db = ctx.db();
    let slot = Arc::new(BlockSlot::default());
    let mut uniq: Vec<Bytes> = Vec::new();
    for k in keys {
        if !uniq.contains(k) {
            uniq.push(k.clone());
        }
    }
    for k in &uniq {
        ctx.st
            .blocking
            .queues
            .entry((db, k.clone()))
            .or_default()
            .push_back(id);
        *ctx.st.ks.dbs[db].blocked.entry(k.clone()).or_default() += 1;
    }
    ctx.st.blocking.waiters.insert(
        id,
        Waiter {
            db,
            keys: uniq,
            op: op.clone(),
            resp3: ctx.sess.client.resp3(),
            slot: slot.clone(),
            command: (ctx.cmd.id, ctx.cmd.name),
            // Copies, not slices of the request buffer (which they would keep alive).
            args: ctx.args.iter().map(|a| Bytes::copy_from_slice(a)).collect(),
            client: ctx.sess.client.clone(),
        },
    );
    ctx.sess.client.meta.lock().blocked = true;
    ctx.sess.blocked = Some(Blocked {
        id,
        slot,
        deadline,
        op,
    });
}

/// Removes a waiter from every queue.
pub fn unblock(st: &mut NodeState, id: u64) {
    let Some(w) = st.blocking.waiters.remove(&id) else {
        return;
    };
    for k in w.keys {
        let qk = (w.db, k);
        if let Some(q) = st.blocking.queues.get_mut(&qk) {
            q.retain(|x| *x != id);
            if q.is_empty() {
                st.blocking.queues.remove(&qk);
            }
        }
        let blocked = &mut st.ks.dbs[w.db].blocked;
        if let Some(n) = blocked.get_mut(&qk.1) {
            *n -= 1;
            if *n == 0 {
                blocked.remove(&qk.1);
            }
        }
    }
}

/// CLIENT UNBLOCK: wakes a blocked client with its timeout reply, or with an UNBLOCKED error.
pub fn unblock_client(st: &mut NodeState, id: u64, error: bool) -> bool {
    let Some(w) = st.blocking.waiters.get(&id) else {
        return false;
    };
    let mut out = Reply::new(w.resp3);
    if error {
        out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
        let (cmd_id, name) = w.command;
        st.stats.command(cmd_id, name).failed += 1;
        st.stats.record_errors(out.take_errors());
    } else {
        w.op.timeout_reply(st, &mut out);
    }
    let slot = w.slot.clone();
    unblock(st, id);
    *slot.reply.lock() = Some(out.buf);
    slot.notify.notify_one();
    true
}

/// Serves the waiters of every ready key, in the order the keys became ready, each key's
/// waiters first come first served, until no ready key can serve anyone.
pub fn serve(st: &mut NodeState, now: i64) {
    while !st.ks.ready.is_empty() {
        let ready = std::mem::take(&mut st.ks.ready);
        let mut seen: Vec<&(usize, Bytes)> = Vec::new();
        for rk in &ready {
            if seen.contains(&rk) {
                continue;
            }
            seen.push(rk);
            serve_key(st, rk.0, &rk.1, now);
        }
    }
}

fn serve_key(st: &mut NodeState, db: usize, key: &Bytes, now: i64) {
    loop {
        let Some(id) = st
            .blocking
            .queues
            .get(&(db, key.clone()))
            .and_then(|q| q.front().copied())
        else {
            return;
        };
        let Some(w) = st.blocking.waiters.get(&id) else {
            return;
        };
        let (op, resp3, slot) = (w.op.clone(), w.resp3, w.slot.clone());
        let started = std::time::Instant::now();
        let mut out = Reply::new(resp3);
        let served = if op.wants_zset() {
            super::zsets::serve_blocked(st, db, key, &op, &mut out, now)
        } else {
            super::lists::serve_blocked(st, db, key, &op, &mut out, now)
        };
        if !served {
            // Nothing to pop (or the wrong type): the waiters stay blocked.
            return;
        }
        crate::propagate::expired_dels(st);
        st.stream.commit(false);
        if let Some(w) = st.blocking.waiters.get(&id) {
            let us = started.elapsed().as_micros() as u64;
            let (args, client) = (w.args.clone(), w.client.clone());
            let limits = st.settings.slowlog;
            st.slowlog
                .record(limits, &args, us, || super::client_of(&client));
        }
        unblock(st, id);
        *slot.reply.lock() = Some(out.buf);
        slot.notify.notify_one();
    }
}

/// Releases every blocked client with `error` (REPLICAOF turned this master into a replica).
pub fn unblock_all(st: &mut NodeState, error: &str) {
    let ids: Vec<u64> = st.blocking.waiters.keys().copied().collect();
    for id in ids {
        let Some(w) = st.blocking.waiters.get(&id) else {
            continue;
        };
        let mut out = Reply::new(w.resp3);
        out.error(error);
        let slot = w.slot.clone();
        unblock(st, id);
        *slot.reply.lock() = Some(out.buf);
        slot.notify.notify_one();
    }
}

/// Wakes the WAIT clients whose replicas have now acknowledged enough.
pub fn serve_waits(st: &mut NodeState) {
    let done: Vec<(u64, usize)> = st
        .blocking
        .waiters
        .iter()
        .filter_map(|(id, w)| match w.op {
            BlockOp::Wait {
                offset,
                numreplicas,
            } => {
                let n = crate::repl::master::acked(&st.repl, offset);
                (n >= numreplicas).then_some((*id, n))
            }
            _ => None,
        })
        .collect();
    for (id, n) in done {
        let Some(w) = st.blocking.waiters.get(&id) else {
            continue;
        };
        let mut out = Reply::new(w.resp3);
        out.int(n as i64);
        let slot = w.slot.clone();
        unblock(st, id);
        *slot.reply.lock() = Some(out.buf);
        slot.notify.notify_one();
    }
}

/// Called before a blocked session runs anything else: delivers the served reply or the
/// timeout, or says to keep waiting.
pub fn resume(
    node: &Node,
    sess: &mut Session,
    reqs: &mut Vec<Request>,
    out: &mut Reply,
) -> Option<Control> {
    let b = sess.blocked.as_ref()?;
    let served = b.slot.reply.lock().take();
    if let Some(reply) = served {
        out.raw(&reply);
    } else if b.deadline.map(|d| Instant::now() >= d).unwrap_or(false) {
        let mut st = node.state.lock();
        // Served between the check and the lock?
        let served = b.slot.reply.lock().take();
        if let Some(reply) = served {
            out.raw(&reply);
        } else {
            unblock(&mut st, b.id);
            b.op.timeout_reply(&st, out);
        }
    } else {
        return Some(suspend(b));
    }
    sess.blocked = None;
    sess.client.meta.lock().blocked = false;
    if !reqs.is_empty() {
        reqs.remove(0);
    }
    None
}

/// The control that parks a blocked connection.
pub fn suspend(b: &Blocked) -> Control {
    Control::Suspend {
        wake: b.slot.notify.clone(),
        deadline: b.deadline,
    }
}

/// A connection closed while blocked.
pub fn on_close(st: &mut NodeState, sess: &mut Session) {
    if let Some(b) = sess.blocked.take() {
        unblock(st, b.id);
    }
}
