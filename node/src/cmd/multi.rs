//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queued commands are checked when queued (unknown command, arity: EXECABORT at EXEC); runtime
//! errors inside EXEC do not stop the others. WATCH flags are set by every modification of a
//! watched key, including expiry, FLUSHDB/FLUSHALL and SWAPDB.

use super::Ctx;
use crate::db::Watcher;
use crate::state::multi::MultiState;
use crate::state::{NodeState, Session};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Adds a command to the transaction. `declared`: a script's own flags, which stand for the
/// command's (see [`super::scripting::declared_flags`]).
pub fn queue(
    sess: &mut Session,
    cmd: &super::Command,
    declared: Option<u32>,
    args: &[Bytes],
    out: &mut picket::resp::Reply,
) {
    if let Some(m) = sess.multi.as_mut() {
        let flags = declared.unwrap_or(cmd.flags);
        m.queued.push(args.to_vec());
        m.flags_any |= flags;
        m.flags_missing |= !flags;
        m.pauses |= declared.is_none() && super::pauses_as_write(cmd.name);
        sess.client.meta.lock().multi = m.queued.len() as i64;
    }
    out.simple("QUEUED");
}

/// MULTI
pub fn multi(ctx: &mut Ctx, _a: &[Bytes]) {
    if ctx.sess.multi.is_some() {
        return ctx.out.error("ERR MULTI calls can not be nested");
    }
    ctx.sess.multi = Some(MultiState::default());
    ctx.sess.client.meta.lock().multi = 0;
    ctx.out.ok();
}

/// Leaves MULTI and drops the WATCHes.
pub fn discard_state(st: &mut NodeState, sess: &mut Session) {
    sess.multi = None;
    sess.client.meta.lock().multi = -1;
    unwatch_all(st, sess);
}

/// DISCARD
pub fn discard(ctx: &mut Ctx, _a: &[Bytes]) {
    if ctx.sess.multi.is_none() {
        return ctx.out.error("ERR DISCARD without MULTI");
    }
    discard_state(ctx.st, ctx.sess);
    ctx.out.ok();
}

/// EXEC
pub fn exec(ctx: &mut Ctx, _a: &[Bytes]) {
    let Some(m) = ctx.sess.multi.take() else {
        return ctx.out.error("ERR EXEC without MULTI");
    };
    ctx.sess.client.meta.lock().multi = -1;
    if m.error {
        unwatch_all(ctx.st, ctx.sess);
        return ctx
            .out
            .error("EXECABORT Transaction discarded because of previous errors.");
    }
    if ctx.sess.watch_dirty.load(Ordering::Relaxed) || watched_key_expired(ctx) {
        unwatch_all(ctx.st, ctx.sess);
        return ctx.out.null_array();
    }
    unwatch_all(ctx.st, ctx.sess);
    ctx.out.array(m.queued.len());
    ctx.sess.in_exec = true;
    ctx.st.stream.begin_transaction();
    for args in &m.queued {
        let cmd = match super::lookup(args) {
            Ok(c) => c,
            Err(e) => {
                ctx.out.error(&e);
                continue;
            }
        };
        let name = cmd.name;
        if !ctx.st.monitors.is_empty() && !cmd.has(super::flags::ADMIN) {
            super::feed_monitors(ctx.st, ctx.sess, args);
        }
        let us = super::call(
            ctx.node, ctx.st, ctx.sess, cmd, name, args, ctx.out, ctx.now,
        );
        super::log_if_slow(ctx.st, ctx.sess, cmd, args, us);
        if ctx.sess.close_after_reply {
            break;
        }
    }
    ctx.sess.in_exec = false;
    ctx.st.stream.commit_transaction();
}

/// Whether a key this client watched while it was live has expired since (not yet deleted,
/// or EXEC would see it dirty already): the transaction fails, as in Redis 7.0.
fn watched_key_expired(ctx: &Ctx) -> bool {
    ctx.sess.watched.iter().any(|(db, key)| {
        let d = &ctx.st.ks.dbs[*db];
        let stale = d.watched.get(key).is_some_and(|ws| {
            ws.iter().any(|w| {
                Arc::ptr_eq(&w.dirty, &ctx.sess.watch_dirty) && w.stale.load(Ordering::Relaxed)
            })
        });
        !stale && d.is_expired_at(key, ctx.now)
    })
}

/// WATCH key [key ...]
pub fn watch(ctx: &mut Ctx, a: &[Bytes]) {
    if ctx.sess.multi.is_some() {
        return ctx.out.error("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.db();
    for k in &a[1..] {
        if ctx.sess.watched.iter().any(|(d, w)| *d == db && w == k) {
            continue;
        }
        let key = Bytes::copy_from_slice(k);
        let d = &mut ctx.st.ks.dbs[db];
        let stale = d.is_expired_at(k, ctx.now);
        d.watched.entry(key.clone()).or_default().push(Watcher {
            dirty: ctx.sess.watch_dirty.clone(),
            stale: AtomicBool::new(stale),
        });
        ctx.sess.watched.push((db, key));
    }
    ctx.out.ok();
}

/// UNWATCH
pub fn unwatch(ctx: &mut Ctx, _a: &[Bytes]) {
    unwatch_all(ctx.st, ctx.sess);
    ctx.out.ok();
}

/// Drops every WATCH of the session and clears its dirty flag.
pub fn unwatch_all(st: &mut NodeState, sess: &mut Session) {
    for (db, key) in sess.watched.drain(..) {
        if let Some(v) = st.ks.dbs.get_mut(db).and_then(|d| d.watched.get_mut(&key)) {
            v.retain(|w| !Arc::ptr_eq(&w.dirty, &sess.watch_dirty));
            if v.is_empty() {
                st.ks.dbs[db].watched.remove(&key);
            }
        }
    }
    sess.watch_dirty.store(false, Ordering::Relaxed);
}
