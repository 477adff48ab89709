//! Server commands: SHUTDOWN, TIME, SAVE, BGREWRITEAOF, LASTSAVE, MONITOR.

use super::Ctx;
use crate::state::ShutdownKind;
use bytes::Bytes;
use picket::args::{eq_ic, ERR_SYNTAX};

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
pub fn shutdown(ctx: &mut Ctx, a: &[Bytes]) {
    let mut kind = ShutdownKind::Default;
    let mut abort = false;
    let mut now = false;
    let mut force = false;
    for o in &a[1..] {
        if eq_ic(o, "nosave") {
            kind = ShutdownKind::NoSave;
        } else if eq_ic(o, "save") {
            kind = ShutdownKind::Save;
        } else if eq_ic(o, "now") {
            now = true;
        } else if eq_ic(o, "force") {
            force = true;
        } else if eq_ic(o, "abort") {
            abort = true;
        } else {
            return ctx.out.error(ERR_SYNTAX);
        }
    }
    if abort {
        if a.len() > 2 {
            return ctx.out.error(ERR_SYNTAX);
        }
        // A signal's shutdown not yet under way (the cron paused) is called off.
        if std::mem::take(&mut ctx.st.signal_shutdown) {
            tracing::warn!("Shutdown manually aborted.");
            return ctx.out.ok();
        }
        return ctx.out.error("ERR No shutdown in progress.");
    }
    tracing::warn!("User requested shutdown...");
    const FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";
    // The first AOF is not complete yet: exiting would leave none (FORCE exits anyway).
    if crate::persistence::aof::writing_initial(ctx.st) {
        if !force {
            tracing::warn!("Writing initial AOF, can't exit.");
            return ctx.out.error(FAILED);
        }
        tracing::warn!("Writing initial AOF. Exit anyway.");
    }
    // The final snapshot is taken here, under the lock, so a failure can still be answered.
    let save_points = !ctx.st.config.get("save").trim().is_empty();
    if kind == ShutdownKind::Save || (kind == ShutdownKind::Default && save_points) {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if crate::persistence::save(ctx.st).is_err() {
            if !force {
                tracing::warn!("Error trying to save the DB, can't exit.");
                return ctx.out.error(FAILED);
            }
            tracing::warn!("Error trying to save the DB. Exit anyway.");
        }
    }
    ctx.st.shutdown = Some(ShutdownKind::NoSave);
    ctx.st.repl.shutdown_now = now;
    // Nothing written after the final snapshot could survive: writes wait until the exit.
    ctx.st.pause.until = Some(std::time::Instant::now() + std::time::Duration::from_secs(3600));
    ctx.st.pause.write_only = true;
    // Like Redis, no reply: the connection closes as the server exits.
    ctx.sess.close_after_reply = true;
}

/// TIME: [unix seconds, microseconds] as bulk strings.
pub fn time(ctx: &mut Ctx, _a: &[Bytes]) {
    let us = crate::clock::now_us();
    ctx.out.array(2);
    ctx.out.bulk_int(us / 1_000_000);
    ctx.out.bulk_int(us % 1_000_000);
}

/// SAVE: writes the snapshot now (the server waits, as with Redis's SAVE).
pub fn save(ctx: &mut Ctx, _a: &[Bytes]) {
    if ctx.st.snapshot_busy() {
        return ctx.out.error("ERR Background save already in progress");
    }
    match crate::persistence::save(ctx.st) {
        Ok(()) => ctx.out.ok(),
        Err(_) => ctx.out.error("ERR"),
    }
}

/// BGSAVE [SCHEDULE]
pub fn bgsave(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() > 2 || (a.len() == 2 && !eq_ic(&a[1], "schedule")) {
        return ctx.out.error(ERR_SYNTAX);
    }
    match crate::persistence::bgsave(ctx.node, ctx.st, a.len() == 2) {
        Ok(reply) => ctx.out.simple(reply),
        Err(e) => ctx.out.error(&e),
    }
}

/// BGREWRITEAOF: the rewrite runs in the background ([`crate::persistence::aof_rewrite`]).
pub fn bgrewriteaof(ctx: &mut Ctx, _a: &[Bytes]) {
    match crate::persistence::bgrewriteaof(ctx.node, ctx.st) {
        Ok(reply) => ctx.out.simple(reply),
        Err(e) => ctx.out.error(&e),
    }
}

/// LASTSAVE
pub fn lastsave(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.int(ctx.st.lastsave);
}

/// MONITOR: the client receives every command other clients run.
pub fn monitor(ctx: &mut Ctx, _a: &[Bytes]) {
    if ctx.sess.monitor {
        return ctx.out.ok();
    }
    ctx.sess.monitor = true;
    ctx.sess.client.meta.lock().monitor = true;
    ctx.st.monitors.push(ctx.sess.client.clone());
    ctx.out.ok();
}
