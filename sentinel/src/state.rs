//! The sentinel's state: [`SentinelNode`] (shared by every connection and task),
//! [`SentinelState`] (everything behind its one lock: the core, pub/sub, the links, the
//! configuration) and [`Session`] (one client connection).

use crate::core::{LinkId, Sentinel, Tag};
use bytes::Bytes;
use parking_lot::Mutex;
use picket::pubsub::{PubSub, Subscriptions};
use picket::server::{ClientHandle, ClientRegistry, NetStats, OutputLimit};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// A command for a link task: arguments and what the reply is for.
pub type LinkCmd = (Vec<Bytes>, Tag);

/// Everything behind the sentinel's lock.
pub struct SentinelState {
    pub core: Sentinel,
    pub pubsub: PubSub,
    pub links: HashMap<LinkId, mpsc::UnboundedSender<LinkCmd>>,
    pub config_path: PathBuf,
    /// Where the state is flushed: the config file itself, or the `state-file`.
    pub state_path: PathBuf,
    pub config: picket::config::Config,
    pub scripts: crate::scripts::Scripts,
    pub run_id: String,
    /// CLIENT PAUSE: clients wait before running commands (WRITE mode: only PUBLISH).
    pub pause: picket::server::client_cmd::PauseState,
    /// What the events add up to (the metrics read it).
    pub history: crate::history::History,
}

pub struct SentinelNode {
    pub state: Mutex<SentinelState>,
    pub registry: ClientRegistry,
    pub net: NetStats,
    pub started: Instant,
    pub events: mpsc::UnboundedSender<crate::core::Input>,
    pub obuf_pubsub: OutputLimit,
    /// The users clients authenticate as (`default`, with `requirepass` as its password).
    pub acl: parking_lot::RwLock<picket::acl::Users>,
    pub shutdown: tokio::sync::Notify,
    pub port: u16,
    /// Wakes clients waiting on CLIENT PAUSE when CLIENT UNPAUSE ends it early.
    pub pause_notify: Arc<tokio::sync::Notify>,
    /// The exit code a simulated failure asked for (-1: none); `main` exits with it.
    pub exit_code: std::sync::atomic::AtomicI32,
}

impl SentinelNode {
    /// A simulated failure (SENTINEL SIMULATE-FAILURE) asked the process to exit: from then on
    /// the sentinel does nothing more, and `main` exits with `code`.
    pub fn exit_with(&self, code: i32) {
        self.exit_code
            .store(code, std::sync::atomic::Ordering::SeqCst);
        self.shutdown.notify_one();
    }

    /// The exit code asked for, if any.
    pub fn exit_code(&self) -> Option<i32> {
        let c = self.exit_code.load(std::sync::atomic::Ordering::SeqCst);
        (c >= 0).then_some(c)
    }
}

pub struct Session {
    pub client: Arc<ClientHandle>,
    pub authenticated: bool,
    pub subs: Subscriptions,
    pub close: bool,
    /// CLIENT REPLY OFF, and SKIP for the next command.
    pub reply_off: bool,
    pub reply_skip_next: bool,
}

impl Session {
    /// A new connection's session, authenticated as the client handle says.
    pub fn new(client: Arc<ClientHandle>) -> Session {
        let authenticated = client.meta.lock().authenticated;
        Session {
            client,
            authenticated,
            subs: Subscriptions::default(),
            close: false,
            reply_off: false,
            reply_skip_next: false,
        }
    }
}
