//! The node as a [`Service`]: shared state behind one lock (Redis's single-threaded keyspace
//! semantics), per-connection sessions, and the batch executor.

use crate::cmd;
use crate::db::Keyspace;
use crate::propagate::WriteStream;
use crate::stats::Stats;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use picket::config::Config;
use picket::pubsub::{PubSub, Subscriptions};
use picket::resp::{Limits, Reply, Request};
use picket::server::{ClientHandle, ClientRegistry, Control, NetStats, OutputLimit, Service};
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Configuration values read on every connection event, outside the state lock.
#[derive(Debug, Clone)]
pub struct HotConfig {
    pub proto_max_bulk_len: i64,
    pub query_buffer_limit: usize,
    pub timeout: u64,
    pub requirepass: Option<Bytes>,
    pub maxclients: usize,
    pub protected_mode: bool,
    pub bind_any: bool,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: usize,
    pub obuf_pubsub: OutputLimit,
    pub obuf_normal: OutputLimit,
    pub obuf_replica: OutputLimit,
    pub hz: u64,
    pub active_expire_effort: u64,
    pub databases: usize,
    pub debug_command: String,
}

impl HotConfig {
    pub fn from_config(c: &Config) -> Self {
        let obuf: Vec<u64> = c
            .get("client-output-buffer-limit")
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        let lim = |i: usize| OutputLimit {
            hard: *obuf.get(i * 3).unwrap_or(&0) as usize,
            soft: *obuf.get(i * 3 + 1).unwrap_or(&0) as usize,
            soft_seconds: *obuf.get(i * 3 + 2).unwrap_or(&0),
        };
        let pass = c.get("requirepass");
        HotConfig {
            proto_max_bulk_len: c.get_i64("proto-max-bulk-len"),
            query_buffer_limit: c.get_i64("client-query-buffer-limit") as usize,
            timeout: c.get_i64("timeout") as u64,
            requirepass: (!pass.is_empty()).then(|| Bytes::copy_from_slice(pass.as_bytes())),
            maxclients: c.get_i64("maxclients") as usize,
            protected_mode: c.get_bool("protected-mode"),
            bind_any: c
                .get("bind")
                .split_whitespace()
                .any(|b| b.trim_start_matches('-') == "*" || b.trim_start_matches('-') == "::*"),
            maxmemory: c.get_i64("maxmemory") as u64,
            maxmemory_policy: c.get("maxmemory-policy").to_string(),
            maxmemory_samples: c.get_i64("maxmemory-samples").max(1) as usize,
            obuf_normal: lim(0),
            obuf_replica: lim(1),
            obuf_pubsub: lim(2),
            hz: c.get_i64("hz").clamp(1, 500) as u64,
            active_expire_effort: c.get_i64("active-expire-effort").clamp(1, 10) as u64,
            databases: c.get_i64("databases") as usize,
            debug_command: c.get("enable-debug-command").to_string(),
        }
    }
}

pub use picket::server::client_cmd::PauseState;

/// What SHUTDOWN asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownKind {
    Default,
    Save,
    NoSave,
}

/// Everything the commands read and write, behind the node's one lock.
pub struct NodeState {
    pub ks: Keyspace,
    pub pubsub: PubSub,
    pub config: Config,
    pub stream: WriteStream,
    pub stats: Stats,
    pub monitors: Vec<Arc<ClientHandle>>,
    pub pause: PauseState,
    /// Changes since the last save (rdb_changes_since_last_save).
    pub dirty: u64,
    pub lastsave: i64,
    pub run_id: String,
    pub replid: String,
    pub replid2: String,
    pub shutdown: Option<ShutdownKind>,
    /// DEBUG SET-ACTIVE-EXPIRE.
    pub active_expire: bool,
    pub blocking: cmd::blocking::Blocking,
    pub persist: crate::persist::PersistStats,
    /// The append-only file, when `appendonly yes`.
    pub aof: Option<crate::aof::Aof>,
    /// Role, replication ids and offsets, backlog, replicas, the link to a master.
    pub repl: crate::repl::ReplState,
}

/// The node's shared part.
pub struct Node {
    /// This node's own handle, for work handed to other threads (a replica's snapshot).
    pub me: std::sync::Weak<Node>,
    pub state: Mutex<NodeState>,
    pub hot: RwLock<HotConfig>,
    pub registry: ClientRegistry,
    pub net: NetStats,
    pub started: Instant,
    pub started_unix: i64,
    pub shutdown_notify: Notify,
    pub pause_notify: Arc<Notify>,
    pub executable: String,
    pub tcp_port: u16,
    /// Start-up loading of the RDB file, while clients already connect (-LOADING).
    pub loading: crate::persist::LoadingState,
    /// The replication link generation: REPLICAOF bumps it and the link task reconnects.
    pub repl_gen: tokio::sync::watch::Sender<u64>,
}

/// Per-connection state.
pub struct Session {
    pub client: Arc<ClientHandle>,
    pub db: usize,
    pub authenticated: bool,
    pub subs: Subscriptions,
    pub multi: Option<cmd::multi::MultiState>,
    pub watch_dirty: Arc<AtomicBool>,
    pub watched: Vec<(usize, Bytes)>,
    pub close_after_reply: bool,
    pub monitor: bool,
    /// CLIENT REPLY OFF.
    pub reply_off: bool,
    /// CLIENT REPLY SKIP: drop the next command's reply.
    pub reply_skip_next: bool,
    /// Blocked in BLPOP and friends.
    pub blocked: Option<cmd::blocking::Blocked>,
    /// Running the commands of an EXEC (blocking commands do not block there).
    pub in_exec: bool,
    /// Replication: REPLCONF options, replica/master link flags, WAIT offset.
    pub repl: crate::repl::SessionRepl,
}

impl Node {
    pub fn new(config: Config, executable: String) -> Arc<Node> {
        let hot = HotConfig::from_config(&config);
        let mut ks = Keyspace::new(hot.databases);
        crate::cmd::config::apply_access_policy(&mut ks, &config);
        let tcp_port = config.get_i64("port") as u16;
        let state = NodeState {
            ks,
            pubsub: PubSub::new(),
            config,
            stream: WriteStream::default(),
            stats: Stats::default(),
            monitors: Vec::new(),
            pause: PauseState::default(),
            dirty: 0,
            lastsave: now_ms() / 1000,
            run_id: picket::random_hex_id(),
            replid: picket::random_hex_id(),
            replid2: "0".repeat(40),
            shutdown: None,
            active_expire: true,
            blocking: Default::default(),
            persist: Default::default(),
            aof: None,
            repl: Default::default(),
        };
        Arc::new_cyclic(|me| Node {
            me: me.clone(),
            state: Mutex::new(state),
            hot: RwLock::new(hot),
            registry: ClientRegistry::new(),
            net: NetStats::default(),
            started: Instant::now(),
            started_unix: now_ms() / 1000,
            shutdown_notify: Notify::new(),
            pause_notify: Arc::new(Notify::new()),
            executable,
            tcp_port,
            loading: Default::default(),
            repl_gen: tokio::sync::watch::Sender::new(0),
        })
    }
}

impl Service for Node {
    type Session = Session;

    fn registry(&self) -> &ClientRegistry {
        &self.registry
    }

    fn net_stats(&self) -> &NetStats {
        &self.net
    }

    fn admit(&self, peer: Option<&SocketAddr>) -> Result<(), String> {
        let hot = self.hot.read();
        if self.registry.count() >= hot.maxclients {
            return Err("ERR max number of clients reached".into());
        }
        if let Some(p) = peer {
            if hot.protected_mode
                && hot.requirepass.is_none()
                && hot.bind_any
                && !p.ip().is_loopback()
            {
                return Err(crate::cmd::connection::PROTECTED_MODE_ERROR.into());
            }
        }
        Ok(())
    }

    fn starts_authenticated(&self) -> bool {
        self.hot.read().requirepass.is_none()
    }

    fn open(&self, client: Arc<ClientHandle>) -> Session {
        let authenticated = client.meta.lock().authenticated;
        Session {
            client,
            db: 0,
            authenticated,
            subs: Subscriptions::default(),
            multi: None,
            watch_dirty: Arc::new(AtomicBool::new(false)),
            watched: Vec::new(),
            close_after_reply: false,
            monitor: false,
            reply_off: false,
            reply_skip_next: false,
            blocked: None,
            in_exec: false,
            repl: Default::default(),
        }
    }

    fn execute(&self, sess: &mut Session, reqs: &mut Vec<Request>, out: &mut Reply) -> Control {
        cmd::execute_batch(self, sess, reqs, out)
    }

    fn close(&self, sess: &mut Session) {
        let mut st = self.state.lock();
        let id = sess.client.id;
        st.pubsub.drop_client(id, &mut sess.subs);
        cmd::multi::unwatch_all(&mut st, sess);
        cmd::blocking::on_close(&mut st, sess);
        if sess.monitor {
            st.monitors.retain(|m| m.id != id);
        }
        if sess.repl.is_replica {
            crate::repl::master::detach(&mut st, id);
        }
    }

    fn limits(&self, sess: &Session) -> Limits {
        Limits {
            proto_max_bulk_len: self.hot.read().proto_max_bulk_len,
            unauthenticated: !sess.authenticated,
        }
    }

    fn query_buffer_limit(&self) -> usize {
        self.hot.read().query_buffer_limit
    }

    fn idle_timeout(&self, sess: &Session) -> Option<Duration> {
        let t = self.hot.read().timeout;
        if t == 0 || sess.subs.count() > 0 || sess.monitor {
            return None;
        }
        Some(Duration::from_secs(t))
    }

    fn client<'a>(&self, sess: &'a Session) -> &'a Arc<ClientHandle> {
        &sess.client
    }
}
