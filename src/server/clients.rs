//! The client registry: every connected client's shared handle, used by CLIENT LIST/KILL/INFO,
//! by pub/sub and MONITOR delivery, and by INFO clients.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, Notify};

/// What kind of client this is, for CLIENT LIST `flags` and CLIENT KILL TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Normal,
    Pubsub,
    Replica,
    Master,
}

/// Per-client fields that change while it runs (CLIENT LIST shows them).
#[derive(Debug, Clone)]
pub struct ClientMeta {
    pub name: Bytes,
    pub db: usize,
    pub last_cmd: &'static str,
    pub last_interaction: Instant,
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    /// Commands queued in MULTI, or -1 outside a transaction.
    pub multi: i64,
    pub resp: u8,
    pub user: String,
    pub authenticated: bool,
    pub monitor: bool,
    pub blocked: bool,
    /// The query buffer: bytes waiting in it, and its free room (CLIENT LIST qbuf, qbuf-free).
    pub qbuf: usize,
    pub qbuf_free: usize,
    pub no_evict: bool,
    pub lib_name: String,
    pub lib_ver: String,
    /// What the client did to its transaction while a script held the server, answered
    /// without its session; the session applies it when it runs again.
    pub busy_tx: Option<BusyTransaction>,
    /// CLIENT TRACKING, when on (CLIENT LIST `flags` t/R/B and `redir`).
    pub tracking: Option<TrackingMeta>,
}

/// A tracking client's state as CLIENT LIST shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackingMeta {
    /// The client invalidations are redirected to (0: none).
    pub redirect: u64,
    /// The redirect target was gone when a message was due.
    pub broken: bool,
    pub bcast: bool,
}

/// A transaction's changes made while the server was busy running a script (MULTI, DISCARD,
/// EXEC and commands refused with -BUSY inside MULTI), cumulative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusyTransaction {
    /// The client is in MULTI now.
    pub in_multi: bool,
    /// The transaction the client was in (if any) was discarded (DISCARD, or EXEC refused).
    pub discarded: bool,
    /// A command of the current transaction was refused: EXEC answers EXECABORT.
    pub flagged: bool,
}

impl ClientMeta {
    /// Records the query buffer's state for CLIENT LIST.
    pub fn set_query_buffer(&mut self, buf: &bytes::BytesMut) {
        self.qbuf = buf.len();
        self.qbuf_free = buf.capacity() - buf.len();
    }
}

/// Output-buffer limit for one client class (`client-output-buffer-limit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: usize,
    pub soft: usize,
    pub soft_seconds: u64,
}

/// The shared half of a connection.
#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i64,
    pub created: Instant,
    pub meta: Mutex<ClientMeta>,
    kind: Mutex<ClientKind>,
    tx: mpsc::UnboundedSender<Bytes>,
    /// Bytes queued to this client that the connection has not yet written.
    pending: AtomicUsize,
    /// When the queue first went over the soft limit (ms since the Unix epoch), 0 if not over.
    soft_since_ms: AtomicU64,
    killed: AtomicBool,
    pub kill_notify: Notify,
    resp3: AtomicBool,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl ClientHandle {
    pub fn kind(&self) -> ClientKind {
        *self.kind.lock()
    }

    pub fn set_kind(&self, k: ClientKind) {
        *self.kind.lock() = k;
    }

    pub fn resp3(&self) -> bool {
        self.resp3.load(Ordering::Relaxed)
    }

    pub fn set_resp3(&self, v: bool) {
        self.resp3.store(v, Ordering::Relaxed);
        self.meta.lock().resp = if v { 3 } else { 2 };
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    /// Closes the connection as soon as its task notices (CLIENT KILL, output limits).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        self.kill_notify.notify_one();
    }

    /// Queues already-encoded bytes (a pub/sub message, a MONITOR line). Enforces `limit`:
    /// over the hard limit, or over the soft limit for longer than its seconds, the client is
    /// killed instead of the queue growing.
    pub fn send(&self, data: Bytes, limit: OutputLimit) -> bool {
        if self.is_killed() {
            return false;
        }
        let queued = self.pending.fetch_add(data.len(), Ordering::Relaxed) + data.len();
        if limit.hard > 0 && queued > limit.hard {
            self.kill_for_output_limit();
            return false;
        }
        if !self.within_soft_limit(queued, limit) {
            return false;
        }
        self.tx.send(data).is_ok()
    }

    /// The soft limit checked with nothing new queued (the server's cron): a client that stays
    /// over it for longer than its seconds is killed even when no more traffic comes, as
    /// Redis's clientsCron does.
    pub fn enforce_soft_limit(&self, limit: OutputLimit) {
        if !self.is_killed() {
            self.within_soft_limit(self.pending_bytes(), limit);
        }
    }

    /// False (and the client killed) when `queued` bytes have been over the soft limit for
    /// longer than its seconds.
    fn within_soft_limit(&self, queued: usize, limit: OutputLimit) -> bool {
        if limit.soft > 0 && queued > limit.soft {
            let now = now_ms();
            let since = self.soft_since_ms.load(Ordering::Relaxed);
            if since == 0 {
                self.soft_since_ms.store(now, Ordering::Relaxed);
            } else if now.saturating_sub(since) > limit.soft_seconds * 1000 {
                self.kill_for_output_limit();
                return false;
            }
        } else {
            self.soft_since_ms.store(0, Ordering::Relaxed);
        }
        true
    }

    fn kill_for_output_limit(&self) {
        tracing::warn!("Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.", self.id, self.addr);
        self.kill();
    }

    /// Queues bytes that no output limit applies to (a snapshot sent to a replica, which Redis
    /// does not count in the replica's output buffer either).
    pub fn send_unlimited(&self, data: Bytes) -> bool {
        if self.is_killed() {
            return false;
        }
        self.pending.fetch_add(data.len(), Ordering::Relaxed);
        self.tx.send(data).is_ok()
    }

    /// Called by the connection after writing `n` queued bytes.
    pub fn sent(&self, n: usize) {
        self.pending.fetch_sub(n, Ordering::Relaxed);
    }

    pub fn pending_bytes(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// The `flags=` field of CLIENT LIST.
    pub fn flags(&self, m: &ClientMeta) -> String {
        let mut f = String::new();
        match self.kind() {
            ClientKind::Replica => f.push('S'),
            ClientKind::Master => f.push('M'),
            ClientKind::Pubsub => f.push('P'),
            ClientKind::Normal => {}
        }
        if m.monitor {
            f.push('O');
        }
        if m.multi >= 0 {
            f.push('x');
        }
        if m.blocked {
            f.push('b');
        }
        if let Some(t) = m.tracking {
            f.push('t');
            if t.broken {
                f.push('R');
            }
            if t.bcast {
                f.push('B');
            }
        }
        if m.no_evict {
            f.push('e');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// One CLIENT LIST / CLIENT INFO line, in Redis 7.0's field order.
    pub fn info_line(&self) -> String {
        let m = self.meta.lock().clone();
        let now = Instant::now();
        let omem = self.pending_bytes();
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=16384 rbp=16384 obl=0 oll={} omem={} tot-mem={} events=r cmd={} user={} redir={} resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(&m.name),
            now.duration_since(self.created).as_secs(),
            now.duration_since(m.last_interaction).as_secs(),
            self.flags(&m),
            m.db,
            m.sub,
            m.psub,
            m.ssub,
            m.multi,
            m.qbuf,
            m.qbuf_free,
            usize::from(omem > 0),
            omem,
            16384 + omem + m.qbuf + m.qbuf_free,
            if m.last_cmd.is_empty() { "NULL" } else { m.last_cmd },
            m.user,
            m.tracking.map_or(-1, |t| t.redirect as i64),
            m.resp
        )
    }
}

/// All connected clients plus the counters INFO reports about connections.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// The ACL user names the program knows (CLIENT KILL USER refuses others); `default` until
    /// a program with users sets them.
    users: Mutex<Vec<String>>,
}

impl ClientRegistry {
    pub fn new() -> Self {
        ClientRegistry {
            next_id: AtomicU64::new(1),
            users: Mutex::new(vec!["default".to_string()]),
            ..Default::default()
        }
    }

    /// The program's users changed (ACL SETUSER, ACL DELUSER).
    pub fn set_users(&self, names: Vec<String>) {
        *self.users.lock() = names;
    }

    /// Whether `name` is a user of the program.
    pub fn user_exists(&self, name: &str) -> bool {
        self.users.lock().iter().any(|u| u == name)
    }

    /// Registers a new connection and returns its handle and the receiver of its queued pushes.
    pub fn register(
        &self,
        addr: String,
        laddr: String,
        fd: i64,
        authenticated: bool,
    ) -> (Arc<ClientHandle>, mpsc::UnboundedReceiver<Bytes>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let h = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created: now,
            meta: Mutex::new(ClientMeta {
                name: Bytes::new(),
                db: 0,
                last_cmd: "",
                last_interaction: now,
                sub: 0,
                psub: 0,
                ssub: 0,
                multi: -1,
                resp: 2,
                user: "default".into(),
                authenticated,
                monitor: false,
                blocked: false,
                qbuf: 0,
                qbuf_free: 0,
                no_evict: false,
                lib_name: String::new(),
                lib_ver: String::new(),
                busy_tx: None,
                tracking: None,
            }),
            kind: Mutex::new(ClientKind::Normal),
            tx,
            pending: AtomicUsize::new(0),
            soft_since_ms: AtomicU64::new(0),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            resp3: AtomicBool::new(false),
        });
        self.clients.lock().insert(id, h.clone());
        self.total_connections.fetch_add(1, Ordering::Relaxed);
        (h, rx)
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn count(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().get(&id).cloned()
    }

    /// Every client, in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }
}
