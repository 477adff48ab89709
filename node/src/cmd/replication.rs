//! Replication commands: REPLICAOF / SLAVEOF, ROLE, WAIT, and the ones replicas send to their
//! master (REPLCONF, PSYNC, SYNC). The mechanics live in [`crate::repl`].

use super::{blocking, Ctx};
use crate::repl;
use bytes::Bytes;
use picket::args::{eq_ic, Args};

/// REPLICAOF host port | NO ONE (and SLAVEOF).
pub fn replicaof(ctx: &mut Ctx, a: &[Bytes]) {
    if ctx.sess.repl.is_replica {
        return ctx
            .out
            .error("ERR Command is not valid when client is a replica.");
    }
    if eq_ic(&a[1], "no") && eq_ic(&a[2], "one") {
        if ctx.st.repl.is_replica() {
            repl::link::promote(ctx.node, ctx.st);
            tracing::info!(
                "MASTER MODE enabled (user request from '{}')",
                ctx.sess.client.info_line()
            );
        }
        return ctx.out.ok();
    }
    let Some(port) = ctx.parsed(Args::at(a, 2).int()) else {
        return;
    };
    if !(0..=65535).contains(&port) {
        return ctx.out.error("ERR Invalid master port");
    }
    let host = String::from_utf8_lossy(&a[1]).into_owned();
    if let Some(m) = &ctx.st.repl.master {
        if m.host.eq_ignore_ascii_case(&host) && m.port as i64 == port {
            tracing::info!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            return ctx.out.simple("OK Already connected to specified master");
        }
    }
    // Clients blocked on keys are released: the data will come from the master now.
    blocking::unblock_all(ctx.st, "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)");
    repl::link::set_master(ctx.node, ctx.st, &host, port as u16);
    tracing::info!(
        "REPLICAOF {host}:{port} enabled (user request from '{}')",
        ctx.sess.client.info_line()
    );
    ctx.out.ok();
}

/// ROLE.
pub fn role(ctx: &mut Ctx, _a: &[Bytes]) {
    repl::info::role(ctx.st, ctx.out);
}

/// WAIT numreplicas timeout.
pub fn wait(ctx: &mut Ctx, a: &[Bytes]) {
    if ctx.st.repl.is_replica() {
        return ctx.out.error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let mut args = Args::new(a);
    let parsed = args.int().and_then(|n| {
        Ok((
            n,
            args.int_or("ERR timeout is not an integer or out of range")?,
        ))
    });
    let Some((num, ms)) = ctx.parsed(parsed) else {
        return;
    };
    if ms < 0 {
        return ctx.out.error("ERR timeout is negative");
    }
    crate::propagate::flush(ctx.st);
    let offset = ctx.sess.repl.woff;
    let acked = repl::master::acked(&ctx.st.repl, offset);
    if acked as i64 >= num || ctx.sess.in_exec || ctx.sess.multi.is_some() {
        return ctx.out.int(acked as i64);
    }
    // Ask every replica for its offset now rather than at its next 1 Hz ACK.
    crate::propagate::feed_replicas_only(ctx.st, &[b"REPLCONF", b"GETACK", b"*"]);
    let deadline =
        (ms > 0).then(|| std::time::Instant::now() + std::time::Duration::from_millis(ms as u64));
    blocking::block(
        ctx,
        &[],
        deadline,
        crate::state::blocking::BlockOp::Wait {
            offset,
            numreplicas: num.max(0) as usize,
        },
    );
}
