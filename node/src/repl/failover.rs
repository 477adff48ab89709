//! FAILOVER's coordinated switch, the master's side (Redis 6.2's): writes are paused while the
//! target replica (or, with no target, the first replica that gets there) acknowledges the
//! whole stream; then this node becomes that replica's replica and asks it to take over with
//! `PSYNC <replid> <offset> FAILOVER` (the link, [`super::link`], sends it and ends the
//! failover on the reply). A TIMEOUT aborts, or with FORCE fails over anyway; ABORT and a
//! refused PSYNC make this node a master again.

use crate::clock::now_ms;
use crate::state::repl::{Failover, FailoverState, ReplicaInfo};
use crate::state::{Node, NodeState};

/// The attached replica known as `host:port` (its address and listening port).
pub fn find_replica<'a>(st: &'a NodeState, host: &str, port: u16) -> Option<&'a ReplicaInfo> {
    st.repl
        .replicas
        .iter()
        .find(|r| r.ip.eq_ignore_ascii_case(host) && r.port == port)
}

/// Starts waiting for the target (the checks are the command's).
pub fn start(st: &mut NodeState, target: Option<(String, u16)>, timeout_ms: i64, force: bool) {
    match &target {
        Some((h, p)) => tracing::info!("FAILOVER requested to {h}:{p}."),
        None => tracing::info!("FAILOVER requested to any replica."),
    }
    st.repl.failover = Failover {
        state: FailoverState::WaitForSync,
        target,
        end_ms: (timeout_ms > 0).then(|| now_ms() + timeout_ms),
        force,
    };
    st.pause.failover = true;
    st.refresh_expiry_pause();
}

/// Checks a waiting failover: the timeout, then whether the replica caught up (the cron and
/// every replica ACK call it).
pub fn tick(node: &Node, st: &mut NodeState) {
    let f = st.repl.failover.clone();
    if f.state != FailoverState::WaitForSync {
        return;
    }
    if f.end_ms.is_some_and(|end| end <= now_ms()) {
        match (&f.target, f.force) {
            (Some((host, port)), true) => {
                tracing::info!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                st.repl.failover.state = FailoverState::InProgress;
                super::link::set_master(node, st, host, *port);
            }
            _ => abort(node, st, "Replica never caught up before timeout"),
        }
        return;
    }
    let offset = st.repl.offset;
    let synced = match &f.target {
        Some((host, port)) => find_replica(st, host, *port)
            .filter(|r| r.ack_off == offset)
            .map(|_| (host.clone(), *port)),
        None => st
            .repl
            .replicas
            .iter()
            .find(|r| r.ack_off == offset)
            .map(|r| (r.ip.clone(), r.port)),
    };
    if let Some((host, port)) = synced {
        tracing::info!("Failover target {host}:{port} is synced, failing over.");
        st.repl.failover.state = FailoverState::InProgress;
        st.repl.failover.target = Some((host.clone(), port));
        super::link::set_master(node, st, &host, port);
    }
}

/// Ends a failover that did not happen: a node that already turned replica is a master again.
pub fn abort(node: &Node, st: &mut NodeState, reason: &str) {
    let f = &st.repl.failover;
    if f.state == FailoverState::None {
        return;
    }
    match &f.target {
        Some((h, p)) => tracing::info!("FAILOVER to {h}:{p} aborted: {reason}"),
        None => tracing::info!("FAILOVER to any replica aborted: {reason}"),
    }
    if f.state == FailoverState::InProgress {
        super::link::promote(node, st);
    }
    clear(node, st);
}

/// The failover is over (done or aborted): writes go on.
pub fn clear(node: &Node, st: &mut NodeState) {
    st.repl.failover = Failover::default();
    st.pause.failover = false;
    st.refresh_expiry_pause();
    node.pause_notify.notify_waiters();
}
