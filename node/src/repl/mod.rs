//! Master/replica replication (PSYNC2): the node's replication state (role, replication ids,
//! offset, backlog, attached replicas, the link to its master), the hand-off of the write
//! stream to its consumers, and the 1 Hz replication cron.
//!
//! - [`backlog`]: the bytes a reconnecting replica can continue from.
//! - [`master`]: the master side: PSYNC/SYNC, full and partial resync, ACKs, WAIT.
//! - [`link`]: the replica side: the connection to the master, handshake, payload, stream.
//! - [`failover`]: FAILOVER's coordinated switch with a replica (the master's side).
//! - [`info`]: INFO replication and ROLE.

pub mod disk_sync;
pub mod diskless;
pub mod failover;
pub mod info;
pub mod link;
pub mod master;

use crate::state::backlog::Backlog;
use crate::state::repl::ReplicaInfo;
use crate::state::{Node, NodeState};
use picket::server::ClientHandle;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A full resync's snapshot begins (under the lock, as its capture starts): what the stream
/// produced so far goes before it, and its offset is returned.
pub fn full_sync_offset(st: &mut NodeState) -> u64 {
    st.repl.sync_starting = false;
    crate::propagate::flush(st);
    ensure_backlog(st);
    st.repl.offset
}

/// The encoding of a full resync's snapshot taken at `offset`; the stream after it starts with
/// a SELECT.
pub fn full_sync_format(
    st: &mut NodeState,
    offset: u64,
) -> Result<crate::rdb::write::Writer<Vec<u8>>, String> {
    st.stream.reset_select();
    let aux = crate::persistence::rdb_file::aux_fields(false, (&st.replid, offset), Some(0));
    crate::persistence::snapshot::rdb_format(st, &aux)
}

impl ReplicaInfo {
    /// A replica attached at a snapshot's start: the stream waits in `held` until the
    /// snapshot is out.
    pub fn syncing(
        client: Arc<ClientHandle>,
        ip: String,
        port: u16,
        pre_psync: bool,
        off: u64,
    ) -> Self {
        ReplicaInfo {
            client,
            ip,
            port,
            pre_psync,
            ack_off: off,
            ack_time: Instant::now(),
            fenced_off: 0,
            held: Some(Vec::new()),
            syncing: true,
        }
    }
}

/// A new random replication id, and the log line Redis writes.
pub fn change_replid(st: &mut NodeState) {
    st.replid = picket::random_hex_id();
}

/// Forgets the secondary id (`master_replid2` all zeros, `second_repl_offset` -1).
pub fn clear_replid2(st: &mut NodeState) {
    st.replid2 = "0".repeat(40);
    st.repl.second_offset = -1;
}

/// Promotion: the current history stays valid as the secondary id up to the current offset.
pub fn shift_replid(st: &mut NodeState) {
    st.replid2 = st.replid.clone();
    st.repl.second_offset = st.repl.offset as i64 + 1;
    change_replid(st);
    tracing::info!(
        "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
        st.replid2,
        st.repl.second_offset,
        st.replid
    );
}

/// A snapshot loaded at start-up recorded a replication position: a replica offers it to its
/// master (PSYNC after a restart); a master keeps it as its secondary id, so its replicas can
/// continue after the restart too.
pub fn restore_history(st: &mut NodeState, (id, off, db): (String, u64, usize)) {
    if !st.config.get("replicaof").trim().is_empty() {
        st.replid = id.clone();
        st.repl.offset = off;
        st.repl.master_db = db;
        st.repl.restored = Some((id, off));
    } else {
        st.replid2 = id;
        st.repl.second_offset = off as i64 + 1;
        st.repl.offset = off;
        create_backlog(st);
        // The keys the file held already expired: their DELs go into the backlog, so the
        // replicas that continue drop them too.
        for (db, key) in std::mem::take(&mut st.repl.expired_at_load) {
            st.stream.push(
                db,
                vec![bytes::Bytes::from_static(b"DEL"), bytes::Bytes::from(key)],
            );
            st.stream.commit(false);
        }
        crate::propagate::flush(st);
    }
    st.repl.expired_at_load = Vec::new();
}

/// Creates the backlog (its first byte will be the next offset) and turns the stream on.
pub fn create_backlog(st: &mut NodeState) {
    let size = st.config.get_i64("repl-backlog-size").max(0) as usize;
    st.repl.backlog = Some(Backlog::new(size, st.repl.offset + 1));
    st.stream.enabled = true;
}

/// The first replica of a master without a backlog: a new history starts (new replid, no
/// replid2) with a fresh backlog, as Redis does.
pub fn ensure_backlog(st: &mut NodeState) {
    if st.repl.backlog.is_some() {
        return;
    }
    change_replid(st);
    clear_replid2(st);
    create_backlog(st);
    tracing::info!(
        "Replication backlog created, my new replication IDs are '{}' and '{}'",
        st.replid,
        st.replid2
    );
}

/// Once a second: PING to replicas every `repl-ping-replica-period`, timed-out replicas
/// dropped, the backlog freed after `repl-backlog-ttl` without replicas, ACKs from a replica.
pub fn cron(node: &Node, st: &mut NodeState) {
    // `client-output-buffer-limit replica`, as CONFIG SET last parsed it.
    st.repl.obuf_limit = node.hot.read().obuf_replica;
    if let Some(b) = st.repl.backlog.as_mut() {
        let size = st.config.get_i64("repl-backlog-size").max(0) as usize;
        if b.size() != size.max(16 * 1024) {
            b.resize(size);
        }
    }
    let timeout = Duration::from_secs(st.config.get_i64("repl-timeout").max(1) as u64);
    st.repl.replicas.retain(|r| {
        if !r.pre_psync && !r.syncing && r.ack_time.elapsed() > timeout {
            tracing::warn!(
                "Disconnecting timedout replica (streaming sync): {}:{}",
                r.ip,
                r.port
            );
            r.client.kill();
            return false;
        }
        !r.client.is_killed()
    });
    let period = st.config.get_i64("repl-ping-replica-period").max(1) as u64;
    // Not while writes are paused (CLIENT PAUSE, FAILOVER): the offset must stay put.
    if !st.repl.replicas.is_empty()
        && !st.repl.is_replica()
        && st.pause.holds(true).is_none()
        && st.repl.last_ping.elapsed() >= Duration::from_secs(period)
    {
        st.repl.last_ping = Instant::now();
        crate::propagate::feed_replicas_only(st, &[b"ping"]);
    }
    if st.repl.replicas.is_empty() {
        let ttl = st.config.get_i64("repl-backlog-ttl");
        if ttl > 0
            && st.repl.backlog.is_some()
            && !st.repl.is_replica()
            && st.repl.no_replicas_since.elapsed() > Duration::from_secs(ttl as u64)
        {
            change_replid(st);
            clear_replid2(st);
            st.repl.backlog = None;
            st.stream.enabled = st.aof.is_some();
            tracing::info!(
                "Replication backlog freed after {ttl} seconds without connected replicas."
            );
        }
    } else {
        st.repl.no_replicas_since = Instant::now();
    }
}

/// Before exiting (SHUTDOWN without NOW, SIGTERM): writes are paused and the replicas get up
/// to `shutdown-timeout` seconds to acknowledge everything, as Redis 7 does.
pub async fn wait_for_replicas(node: &Node) {
    let deadline = {
        let mut st = node.state.lock();
        let secs = st.config.get_i64("shutdown-timeout").max(0) as u64;
        if std::mem::take(&mut st.repl.shutdown_now) || st.repl.replicas.is_empty() || secs == 0 {
            return;
        }
        // Replicas that acknowledged everything already: no GETACK (it would move the
        // offset the snapshot records), as Redis skips it.
        let offset = st.repl.offset;
        if st
            .repl
            .replicas
            .iter()
            .all(|r| r.pre_psync || r.ack_off >= offset)
        {
            return;
        }
        let until = Instant::now() + Duration::from_secs(secs);
        if st.pause.until.is_none_or(|u| u < until) {
            st.pause.until = Some(until + Duration::from_secs(1));
            st.pause.write_only = true;
        }
        tracing::info!("Waiting for replicas before shutting down.");
        crate::propagate::feed_replicas_only(&mut st, &[b"REPLCONF", b"GETACK", b"*"]);
        until
    };
    loop {
        let done = {
            let st = node.state.lock();
            st.repl
                .replicas
                .iter()
                .all(|r| r.pre_psync || r.ack_off >= st.repl.offset)
        };
        if done || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let st = node.state.lock();
    let mut in_sync = 0;
    for r in &st.repl.replicas {
        if r.ack_off >= st.repl.offset {
            in_sync += 1;
        } else {
            tracing::warn!(
                "Lagging replica {}:{} reported offset {} behind master, lag={}, state=online.",
                r.ip,
                r.port,
                st.repl.offset - r.ack_off,
                r.ack_time.elapsed().as_secs()
            );
        }
    }
    tracing::info!(
        "{in_sync} of {} replicas are in sync when shutting down.",
        st.repl.replicas.len()
    );
}
