//! The node's state: [`Node`] (shared by every connection), [`NodeState`] (everything the
//! commands read and write, behind the node's one lock, as Redis's single-threaded keyspace),
//! [`Session`] (one connection's state). Each subsystem's own state type is in its file here,
//! so every layer above can name them without naming each other.

pub mod aof;
pub mod backlog;
pub mod blocking;
pub mod fencing;
pub mod hot;
pub mod latency;
pub mod migrate;
pub mod multi;
pub mod notify;
pub mod persist;
pub mod repl;
pub mod replay;
pub mod settings;
pub mod slowlog;
pub mod stream;
pub mod tracking;

pub use hot::HotConfig;

use crate::clock::now_ms;
use crate::db::Keyspace;
use crate::state::stream::WriteStream;
use crate::stats::Stats;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use picket::config::Config;
use picket::pubsub::{PubSub, Subscriptions};
use picket::server::{ClientHandle, ClientRegistry, NetStats};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

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
    /// Clients waiting for CLIENT PAUSE to end (INFO counts them in blocked_clients).
    pub paused_clients: usize,
    /// Changes since the last save (rdb_changes_since_last_save).
    pub dirty: u64,
    pub lastsave: i64,
    pub run_id: String,
    pub replid: String,
    pub replid2: String,
    pub shutdown: Option<ShutdownKind>,
    /// DEBUG SET-ACTIVE-EXPIRE.
    pub active_expire: bool,
    /// DEBUG PAUSE-CRON: the server's cron does nothing (a signal's shutdown waits too).
    pub cron_paused: bool,
    /// DEBUG AOF-FLUSH-SLEEP: µs slept before each write of the stream to the AOF.
    pub aof_flush_sleep_us: u64,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may run the commands scripts may not.
    pub scripts_deny_disabled: bool,
    /// A SIGTERM/SIGINT shutdown is pending (SHUTDOWN ABORT cancels it).
    pub signal_shutdown: bool,
    pub blocking: blocking::Blocking,
    pub persist: persist::PersistStats,
    /// The append-only file, when `appendonly yes`.
    pub aof: Option<aof::Aof>,
    /// Role, replication ids and offsets, backlog, replicas, the link to a master.
    pub repl: repl::ReplState,
    /// An error the node cannot go on after (an AOF write that failed). From then on no reply
    /// of a batch is sent, and `main` exits with it, as Redis exits.
    pub fatal: Option<String>,
    /// The directives read on hot paths, typed (refreshed by CONFIG SET).
    pub settings: settings::Settings,
    pub slowlog: slowlog::SlowLog,
    pub latency: latency::LatencyMonitor,
    /// The EVAL and FUNCTION engines (taken out while a script runs, so the script's commands
    /// can borrow the rest of the state).
    pub scripts: Option<Box<crate::script::Engine>>,
    pub functions: Option<Box<crate::script::functions::Functions>>,
    /// Client-side caching: tracked keys, broadcast prefixes, tracking clients.
    pub tracking: tracking::Tracking,
    /// MIGRATE's cached connections.
    pub migrate: migrate::MigrateSockets,
    /// Fencing mode's lease (docs/fencing.md).
    pub fencing: fencing::Fencing,
}

impl NodeState {
    /// Keys do not expire (lazily or actively) while a CLIENT PAUSE holds, as in Redis: a
    /// paused server propagates nothing.
    pub fn refresh_expiry_pause(&mut self) {
        self.ks.expiry_paused = self.pause.holds(true).is_some();
    }

    /// Records a fatal error (the first one is kept).
    pub fn fail(&mut self, reason: String) {
        if self.fatal.is_none() {
            tracing::warn!("{reason}. Exiting.");
            self.fatal = Some(reason);
        }
    }

    /// A snapshot is being taken (a BGSAVE, a full resync's or an AOF rewrite's): one runs at
    /// a time.
    pub fn snapshot_busy(&self) -> bool {
        self.persist.bgsave_since.is_some()
            || self.persist.aof_rewrite_since.is_some()
            || self.repl.sync_starting
            || self.ks.capturing()
    }
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
    pub loading: persist::LoadingState,
    /// The replication link generation: REPLICAOF bumps it and the link task reconnects.
    pub repl_gen: tokio::sync::watch::Sender<u64>,
    /// Where CONFIG SET port/bind hands new TCP listeners to the accept loop.
    pub listener_swap: Mutex<Option<picket::server::ListenerSwap>>,
    /// The TCP listening sockets' descriptors (the busy responder accepts on them).
    pub listen_fds: Mutex<Vec<i32>>,
    /// A long script as other clients see it without the state (-BUSY, SCRIPT KILL).
    pub script_busy: Arc<crate::script::Busy>,
}

/// Per-connection state.
pub struct Session {
    pub client: Arc<ClientHandle>,
    pub db: usize,
    pub authenticated: bool,
    pub subs: Subscriptions,
    pub multi: Option<multi::MultiState>,
    pub watch_dirty: Arc<AtomicBool>,
    pub watched: Vec<(usize, Bytes)>,
    pub close_after_reply: bool,
    pub monitor: bool,
    /// CLIENT REPLY OFF.
    pub reply_off: bool,
    /// CLIENT REPLY SKIP: drop the next command's reply.
    pub reply_skip_next: bool,
    /// The reply of the command running now is dropped (it follows a CLIENT REPLY SKIP).
    pub reply_skip: bool,
    /// Blocked in BLPOP and friends.
    pub blocked: Option<blocking::Blocked>,
    /// Running the commands of an EXEC (blocking commands do not block there).
    pub in_exec: bool,
    /// Waiting for CLIENT PAUSE to end (counted in `NodeState::paused_clients`).
    pub paused: bool,
    /// Replication: REPLCONF options, replica/master link flags, WAIT offset.
    pub repl: repl::SessionRepl,
    /// The last command this connection ran, found again without a table lookup.
    pub last_command: picket::command::NameCache,
    /// Running a script's commands (their keys are tracked as the script's, not their own).
    pub in_script: bool,
    /// Invalidation messages for this client produced while its command ran: they follow the
    /// command's reply, as in Redis.
    pub tracking_pending: Vec<u8>,
    /// Fencing mode: write replies waiting for replica acknowledgements.
    pub fence: Option<fencing::FenceHold>,
}

impl Session {
    /// A new connection's session: database 0, authenticated as the client handle says.
    pub fn new(client: Arc<ClientHandle>) -> Session {
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
            reply_skip: false,
            blocked: None,
            in_exec: false,
            paused: false,
            repl: Default::default(),
            last_command: Default::default(),
            in_script: false,
            tracking_pending: Vec::new(),
            fence: None,
        }
    }
}

impl Node {
    pub fn new(config: Config, executable: String) -> Arc<Node> {
        let hot = HotConfig::from_config(&config);
        let mut ks = Keyspace::new(hot.databases);
        hot::apply_keyspace_settings(&mut ks, &config);
        let tcp_port = config.get_i64("port") as u16;
        let settings = settings::Settings::from_config(&config);
        let script_busy = Arc::new(crate::script::Busy::default());
        let state = NodeState {
            ks,
            pubsub: PubSub::new(),
            config,
            stream: WriteStream::default(),
            stats: Stats::default(),
            monitors: Vec::new(),
            pause: PauseState::default(),
            paused_clients: 0,
            dirty: 0,
            lastsave: now_ms() / 1000,
            run_id: picket::random_hex_id(),
            replid: picket::random_hex_id(),
            replid2: "0".repeat(40),
            shutdown: None,
            active_expire: true,
            cron_paused: false,
            aof_flush_sleep_us: 0,
            scripts_deny_disabled: false,
            signal_shutdown: false,
            blocking: Default::default(),
            persist: Default::default(),
            aof: None,
            repl: Default::default(),
            fatal: None,
            settings,
            slowlog: Default::default(),
            latency: Default::default(),
            scripts: Some(Box::new(crate::script::Engine::new(script_busy.clone()))),
            functions: Some(Box::new(crate::script::functions::Functions::new(
                script_busy.clone(),
            ))),
            tracking: Default::default(),
            migrate: Default::default(),
            fencing: Default::default(),
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
            listener_swap: Mutex::new(None),
            listen_fds: Mutex::new(Vec::new()),
            script_busy,
        })
    }
}
