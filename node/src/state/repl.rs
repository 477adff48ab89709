//! The node's replication state: role, ids and offsets, the backlog, attached replicas, the
//! link to a master, and each session's replication fields. The behaviour is in [`crate::repl`].

use super::backlog::Backlog;
use bytes::Bytes;
use picket::server::{ClientHandle, OutputLimit};
use std::sync::Arc;
use std::time::Instant;

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

/// FAILOVER's progress, as INFO `master_failover_state` names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailoverState {
    #[default]
    None,
    /// Writes are paused until the target replica has acknowledged everything.
    WaitForSync,
    /// This node is now the target's replica, asking it to take over (PSYNC ... FAILOVER).
    InProgress,
}

impl FailoverState {
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "no-failover",
            FailoverState::WaitForSync => "waiting-for-sync",
            FailoverState::InProgress => "failover-in-progress",
        }
    }
}

/// A FAILOVER running on this master.
#[derive(Debug, Clone, Default)]
pub struct Failover {
    pub state: FailoverState,
    /// The replica taking over (host as the replica is known, listening port); none yet when
    /// any caught-up replica will do.
    pub target: Option<(String, u16)>,
    /// TIMEOUT's end, ms since the epoch.
    pub end_ms: Option<i64>,
    /// FORCE: at the timeout, fail over to the target anyway.
    pub force: bool,
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
    /// The highest offset it acknowledged while eligible under the fencing lease.
    pub fenced_off: u64,
    /// After a snapshot with an EOF mark, the stream is held here until the replica's first
    /// ACK (a real Redis replica looks for the mark only at the end of a read).
    pub held: Option<Vec<u8>>,
    /// A diskless snapshot is still being streamed to it (INFO `state=wait_bgsave`).
    pub syncing: bool,
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
    /// On a replica, the db its master's stream has selected: kept across a reconnect (a
    /// PSYNC continuation sends no SELECT) and recorded in snapshots as `repl-stream-db`.
    pub master_db: usize,
    /// Keys the start-up snapshot held already expired (db, key): once the history is
    /// restored, a master propagates their DELs into its backlog, as Redis does.
    pub expired_at_load: Vec<(usize, Vec<u8>)>,
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
    pub failover: Failover,
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
            master_db: 0,
            expired_at_load: Vec::new(),
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
            failover: Default::default(),
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

/// What REPLCONF rdb-filter-only keeps of the snapshot (the keys never).
#[derive(Debug, Clone, Copy)]
pub struct RdbFilter {
    pub functions: bool,
}

/// Per-session replication fields.
#[derive(Debug, Default)]
pub struct SessionRepl {
    /// REPLCONF listening-port / ip-address / capa, before PSYNC.
    pub listening_port: u16,
    pub ip_address: Option<String>,
    pub capa_psync2: bool,
    pub capa_eof: bool,
    /// REPLCONF rdb-filter-only (redis-cli --functions-rdb): the snapshot leaves the keys out,
    /// and the functions too unless `functions` was listed.
    pub rdb_filter: Option<RdbFilter>,
    /// This connection is a replica attached with PSYNC/SYNC.
    pub is_replica: bool,
    /// This session applies the stream of this node's master.
    pub is_master: bool,
    /// The master asked REPLCONF GETACK while this command ran.
    pub getack: bool,
    /// The replication offset right after this client's last write (for WAIT).
    pub woff: u64,
}

impl ReplState {
    /// Appends bytes to the replication stream: the backlog, the offset and every attached
    /// replica (one shared buffer for all of them; a replica still loading its snapshot holds
    /// them until its first ACK).
    pub fn feed(&mut self, data: &[u8]) {
        let Some(b) = self.backlog.as_mut() else {
            return;
        };
        b.append(data);
        self.offset += data.len() as u64;
        if self.replicas.is_empty() {
            return;
        }
        let shared = Bytes::copy_from_slice(data);
        let lim = self.obuf_limit;
        self.replicas.retain(|r| !r.client.is_killed());
        for r in self.replicas.iter_mut() {
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
}
