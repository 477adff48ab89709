//! Master/replica replication (PSYNC2): the node's replication state (role, replication ids,
//! offset, backlog, attached replicas, the link to its master), the hand-off of the write
//! stream to its consumers, and the 1 Hz replication cron.
//!
//! - [`backlog`]: the bytes a reconnecting replica can continue from.
//! - [`master`]: the master side: PSYNC/SYNC, full and partial resync, ACKs, WAIT.
//! - [`link`]: the replica side: the connection to the master, handshake, payload, stream.
//! - [`info`]: INFO replication and ROLE.

pub mod backlog;
pub mod disk_sync;
pub mod diskless;
pub mod info;
pub mod link;
pub mod master;

use crate::server::{Node, NodeState};
use backlog::Backlog;
use bytes::Bytes;
use picket::server::{ClientHandle, OutputLimit};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The replica's link to its master, as ROLE names its states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Must connect (REPLICAOF just ran, or the link dropped).
    Connect,
    Connecting,
    /// PING … PSYNC.
    Handshake,
    /// Receiving the snapshot.
    Sync,
    Connected,
}

impl LinkState {
    pub fn role_name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// What a replica knows about its master.
#[derive(Debug)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// Bumped on every REPLICAOF: a link task whose generation is stale stops.
    pub generation: u64,
    /// Last byte received from the master.
    pub last_io: Option<Instant>,
    /// When the link went down (None while connected).
    pub down_since: Option<Instant>,
    /// Bytes of the master's stream read and applied (`slave_read_repl_offset`,
    /// `slave_repl_offset`); None before the first sync.
    pub read_reploff: Option<u64>,
    pub reploff: Option<u64>,
    /// Snapshot transfer progress (total, read), while in `Sync`.
    pub sync_bytes: (i64, u64),
    pub sync_last_io: Option<Instant>,
    /// The master client (CLIENT LIST flags=M), while connected.
    pub client: Option<Arc<ClientHandle>>,
}

/// A replica attached to this node.
#[derive(Debug)]
pub struct ReplicaInfo {
    pub client: Arc<ClientHandle>,
    pub ip: String,
    pub port: u16,
    /// SYNC (not PSYNC): no ACKs are expected from it.
    pub pre_psync: bool,
    pub ack_off: u64,
    pub ack_time: Instant,
    /// After a snapshot with an EOF mark, the stream is held here until the replica's first
    /// ACK (a real Redis replica looks for the mark only at the end of a read).
    pub held: Option<Vec<u8>>,
    /// A diskless snapshot is still being streamed to it (INFO `state=wait_bgsave`).
    pub syncing: bool,
}

/// A full resync's snapshot begins (under the lock, as its capture starts): what the stream
/// produced so far goes before it, and its offset is returned.
pub fn full_sync_offset(st: &mut NodeState) -> u64 {
    st.repl.sync_starting = false;
    flush_stream(st);
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
    let aux = crate::persist::aux_fields(false, (&st.replid, offset), Some(0));
    crate::snapshot::rdb_format(st, &aux)
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
            held: Some(Vec::new()),
            syncing: true,
        }
    }
}

/// A replica waiting for a diskless snapshot (`repl-diskless-sync-delay`).
#[derive(Debug)]
pub struct PendingSync {
    pub client: Arc<ClientHandle>,
    pub ip: String,
    pub port: u16,
    pub since: Instant,
    pub last_keepalive: Instant,
}

/// The node's replication state.
#[derive(Debug)]
pub struct ReplState {
    /// Some while this node is a replica.
    pub master: Option<MasterLink>,
    pub replicas: Vec<ReplicaInfo>,
    /// Replicas waiting for the next diskless snapshot.
    pub pending_sync: Vec<PendingSync>,
    /// A full resync's snapshot thread was started and has not begun its capture yet.
    pub sync_starting: bool,
    pub backlog: Option<Backlog>,
    /// `master_repl_offset`.
    pub offset: u64,
    /// `second_repl_offset` (-1 when replid2 is not valid).
    pub second_offset: i64,
    /// The history this node can continue with PSYNC: (replid, offset of the last byte).
    pub cached: Option<(String, u64)>,
    /// The position a snapshot loaded at start-up recorded, for the first PSYNC.
    pub restored: Option<(String, u64)>,
    pub no_replicas_since: Instant,
    pub last_ping: Instant,
    pub generation: u64,
    pub obuf_limit: OutputLimit,
    /// SHUTDOWN NOW: exit without waiting for the replicas to catch up.
    pub shutdown_now: bool,
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
}

impl Default for ReplState {
    fn default() -> Self {
        ReplState {
            master: None,
            replicas: Vec::new(),
            pending_sync: Vec::new(),
            sync_starting: false,
            backlog: None,
            offset: 0,
            second_offset: -1,
            cached: None,
            restored: None,
            no_replicas_since: Instant::now(),
            last_ping: Instant::now(),
            generation: 0,
            obuf_limit: OutputLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_seconds: 60,
            },
            shutdown_now: false,
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
        }
    }
}

impl ReplState {
    pub fn is_replica(&self) -> bool {
        self.master.is_some()
    }

    /// A replica whose link to its master is not up.
    pub fn link_down(&self) -> bool {
        matches!(&self.master, Some(m) if m.state != LinkState::Connected)
    }

    /// Replicas that count for `min-replicas-to-write`: acked within `max_lag` seconds.
    pub fn good_replicas(&self, max_lag: u64) -> usize {
        self.replicas
            .iter()
            .filter(|r| !r.pre_psync && !r.syncing && r.ack_time.elapsed().as_secs() <= max_lag)
            .count()
    }
}

/// Per-session replication fields.
#[derive(Debug, Default)]
pub struct SessionRepl {
    /// REPLCONF listening-port / ip-address / capa, before PSYNC.
    pub listening_port: u16,
    pub ip_address: Option<String>,
    pub capa_psync2: bool,
    pub capa_eof: bool,
    /// This connection is a replica attached with PSYNC/SYNC.
    pub is_replica: bool,
    /// This session applies the stream of this node's master.
    pub is_master: bool,
    /// The master asked REPLCONF GETACK while this command ran.
    pub getack: bool,
    /// The replication offset right after this client's last write (for WAIT).
    pub woff: u64,
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
pub fn restore_history(st: &mut NodeState, (id, off): (String, u64)) {
    if !st.config.get("replicaof").trim().is_empty() {
        st.replid = id.clone();
        st.repl.offset = off;
        st.repl.restored = Some((id, off));
    } else {
        st.replid2 = id;
        st.repl.second_offset = off as i64 + 1;
        st.repl.offset = off;
        create_backlog(st);
    }
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

/// Hands what the write stream produced to its consumers: the AOF, the backlog and every
/// attached replica (one shared buffer for all of them).
pub fn flush_stream(st: &mut NodeState) {
    if st.stream.buffer.is_empty() {
        return;
    }
    let mut buf = std::mem::take(&mut st.stream.buffer);
    if st.aof.is_some() {
        crate::aof::append(st, &buf);
    }
    feed_replication(st, &buf);
    buf.clear();
    if buf.capacity() > 1 << 20 {
        buf.shrink_to(64 * 1024);
    }
    st.stream.buffer = buf;
}

/// Appends bytes to the replication stream: the backlog, the offset and the replicas.
fn feed_replication(st: &mut NodeState, data: &[u8]) {
    let Some(b) = st.repl.backlog.as_mut() else {
        return;
    };
    b.append(data);
    st.repl.offset += data.len() as u64;
    if st.repl.replicas.is_empty() {
        return;
    }
    let shared = Bytes::copy_from_slice(data);
    let lim = st.repl.obuf_limit;
    st.repl.replicas.retain(|r| !r.client.is_killed());
    for r in st.repl.replicas.iter_mut() {
        match r.held.as_mut() {
            Some(h) => {
                h.extend_from_slice(data);
                if lim.hard > 0 && h.len() > lim.hard {
                    tracing::warn!("Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.", r.client.id, r.client.addr);
                    r.client.kill();
                }
            }
            None => {
                if !r.client.send(shared.clone(), lim) {
                    r.client.kill();
                }
            }
        }
    }
}

/// Sends a command to the replicas outside any client's command (PING, REPLCONF GETACK): it
/// goes through the stream so the AOF does not see it, only the backlog and replicas.
pub fn feed_internal(st: &mut NodeState, argv: &[&[u8]]) {
    crate::repl::flush_stream(st);
    let mut buf = Vec::new();
    let args: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    crate::propagate::encode_command(&mut buf, &args);
    feed_replication(st, &buf);
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
    if !st.repl.replicas.is_empty()
        && !st.repl.is_replica()
        && st.repl.last_ping.elapsed() >= Duration::from_secs(period)
    {
        st.repl.last_ping = Instant::now();
        feed_internal(st, &[b"ping"]);
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
        let until = Instant::now() + Duration::from_secs(secs);
        if st.pause.until.is_none_or(|u| u < until) {
            st.pause.until = Some(until + Duration::from_secs(1));
            st.pause.write_only = true;
        }
        tracing::info!("Waiting for replicas before shutting down.");
        feed_internal(&mut st, &[b"REPLCONF", b"GETACK", b"*"]);
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
