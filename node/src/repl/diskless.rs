//! Diskless full resyncs, as Redis 7 does them by default (`repl-diskless-sync yes`): replicas
//! that announced `capa eof` wait `repl-diskless-sync-delay` seconds (or until
//! `repl-diskless-sync-max-replicas` are waiting) with a `\n` keepalive each second, then one
//! snapshot serves them all. The snapshot is written by a thread that records the offset and
//! hands the bytes to every waiting replica's output queue in 1 MB
//! pieces while it serialises (`$EOF:<mark>` … `<mark>`), so the replicas receive and parse
//! while the master writes. The snapshot is a point-in-time capture written a slice at a time
//! ([`crate::persistence::snapshot`]): clients keep running and writing meanwhile, nothing is forked and no
//! second copy of the dataset is made. The replicas are attached at the capture's start, and
//! the stream from that offset on is held for each until its first ACK.

use crate::state::repl::{PendingSync, ReplicaInfo};
use crate::state::{Node, NodeState};
use bytes::Bytes;
use picket::server::ClientHandle;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// PSYNC that needs a full resync, from a replica with `capa eof`.
pub fn queue(node: &Node, st: &mut NodeState, client: Arc<ClientHandle>, ip: String, port: u16) {
    st.repl.pending_sync.push(PendingSync {
        client,
        ip,
        port,
        since: Instant::now(),
        last_keepalive: Instant::now(),
    });
    if st.config.get_i64("repl-diskless-sync-delay") > 0 {
        tracing::info!("Delay next BGSAVE for diskless SYNC");
    }
    tick(node, st);
}

/// From the cron and on every queued replica: keepalives, and the start of the snapshot when
/// the delay passed or enough replicas wait.
pub fn tick(node: &Node, st: &mut NodeState) {
    st.repl.pending_sync.retain(|p| !p.client.is_killed());
    if st.repl.pending_sync.is_empty() {
        return;
    }
    for p in st.repl.pending_sync.iter_mut() {
        if p.last_keepalive.elapsed() >= Duration::from_secs(1) {
            p.last_keepalive = Instant::now();
            p.client.send_unlimited(Bytes::from_static(b"\n"));
        }
    }
    // One snapshot at a time: a BGSAVE, a rewrite or an earlier sync still running makes
    // these wait.
    if st.snapshot_busy() {
        return;
    }
    let delay = Duration::from_secs(st.config.get_i64("repl-diskless-sync-delay").max(0) as u64);
    let max = st.config.get_i64("repl-diskless-sync-max-replicas").max(0) as usize;
    let oldest = st.repl.pending_sync.iter().map(|p| p.since).min();
    let due = oldest.is_some_and(|t| t.elapsed() >= delay)
        || (max > 0 && st.repl.pending_sync.len() >= max);
    if !due {
        return;
    }
    let Some(node) = node.me.upgrade() else {
        return;
    };
    let targets = std::mem::take(&mut st.repl.pending_sync);
    st.repl.sync_starting = true;
    std::thread::spawn(move || snapshot_to(node, targets));
}

/// Writes one snapshot to every target. The replicas are attached when the capture starts, at
/// the offset it records; the stream after it waits in their `held` buffers.
fn snapshot_to(node: Arc<Node>, targets: Vec<PendingSync>) {
    let targets: Vec<PendingSync> = targets
        .into_iter()
        .filter(|t| !t.client.is_killed())
        .collect();
    if targets.is_empty() {
        node.state.lock().repl.sync_starting = false;
        return;
    }
    let clients: Vec<Arc<ClientHandle>> = targets.iter().map(|t| t.client.clone()).collect();
    let mark = picket::random_hex_id();
    let mut offset = 0;
    let begin = |st: &mut NodeState| {
        offset = super::full_sync_offset(st);
        let head = Bytes::from(format!(
            "+FULLRESYNC {} {offset}\r\n$EOF:{mark}\r\n",
            st.replid
        ));
        tracing::info!(
            "Starting BGSAVE for SYNC with target: replicas sockets ({} replica(s), streamed without a fork)",
            targets.len()
        );
        for t in &targets {
            t.client.send_unlimited(head.clone());
            let r = ReplicaInfo::syncing(t.client.clone(), t.ip.clone(), t.port, false, 0);
            st.repl.replicas.push(r);
        }
        super::full_sync_format(st, offset)
    };
    let sink = ChunkSink {
        clients: &clients,
        buf: Vec::with_capacity(CHUNK),
        sent: 0,
    };
    let started = Instant::now();
    let res = crate::persistence::snapshot::write_snapshot(&node, begin, sink);
    let mut st = node.state.lock();
    match res {
        Ok((mut sink, _)) => {
            sink.buf.extend_from_slice(mark.as_bytes());
            let n = sink.sent + sink.buf.len() as u64;
            let last = Bytes::from(std::mem::take(&mut sink.buf));
            for c in &clients {
                c.send_unlimited(last.clone());
            }
            for r in st.repl.replicas.iter_mut().filter(|r| r.syncing) {
                if !clients.iter().any(|c| c.id == r.client.id) || r.client.is_killed() {
                    continue;
                }
                r.syncing = false;
                r.ack_time = Instant::now();
                tracing::info!(
                    "Synchronization with replica {}:{} succeeded ({n} bytes at offset {offset}, {} ms)",
                    r.ip,
                    r.port,
                    started.elapsed().as_millis()
                );
            }
            st.repl.sync_full += clients.iter().filter(|c| !c.is_killed()).count() as u64;
        }
        Err(e) => {
            st.repl.sync_starting = false;
            tracing::warn!("Diskless snapshot for replication failed: {e}");
            for c in &clients {
                c.kill();
            }
            st.repl.replicas.retain(|r| !r.client.is_killed());
        }
    }
}

const CHUNK: usize = 1 << 20;

/// Hands the snapshot to the replicas' output queues in pieces as it is written.
struct ChunkSink<'a> {
    clients: &'a [Arc<ClientHandle>],
    buf: Vec<u8>,
    sent: u64,
}

impl std::io::Write for ChunkSink<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.sent += chunk.len() as u64;
        let mut alive = false;
        for c in self.clients {
            alive |= c.send_unlimited(chunk.clone());
        }
        if !alive {
            return Err(std::io::Error::other("every replica went away"));
        }
        Ok(())
    }
}
