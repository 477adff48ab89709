//! The server framework shared by picket-node and picket-sentinel: listeners, the per-connection
//! loop (parse, execute in batches, flush once the input is drained), the client registry, and
//! the [`Service`] trait through which each program executes commands.

pub mod client_cmd;
pub mod clients;
mod connection;
pub mod hello;
mod listener;

pub use clients::{
    BusyTransaction, ClientHandle, ClientKind, ClientMeta, ClientRegistry, OutputLimit,
    TrackingMeta,
};
pub use connection::serve_connection;
pub use listener::{
    bind_listeners, bind_tcp, run_listeners, ListenSpec, ListenerMsg, ListenerSwap, Listeners,
};

use crate::resp::{Limits, Reply, Request};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What the connection loop does after a batch was executed.
#[derive(Debug)]
pub enum Control {
    /// All requests ran; read more.
    Continue,
    /// Flush the replies, then close (QUIT, protocol errors, SHUTDOWN).
    Close,
    /// Execution stopped before `reqs[0]` (CLIENT PAUSE, a blocking command): flush, wait for
    /// `wake` or the deadline, then call execute again with the remaining requests.
    Suspend {
        wake: Arc<Notify>,
        deadline: Option<Instant>,
    },
}

/// Network counters for INFO stats.
#[derive(Debug, Default)]
pub struct NetStats {
    pub input_bytes: AtomicU64,
    pub output_bytes: AtomicU64,
    pub reads: AtomicU64,
    pub writes: AtomicU64,
}

/// A program served by the framework.
pub trait Service: Send + Sync + 'static {
    type Session: Send + 'static;

    fn registry(&self) -> &ClientRegistry;
    fn net_stats(&self) -> &NetStats;

    /// An error to send before closing a new connection (maxclients, protected mode).
    fn admit(&self, peer: Option<&SocketAddr>) -> Result<(), String>;

    /// Whether new clients start authenticated (no password configured).
    fn starts_authenticated(&self) -> bool;

    fn open(&self, client: Arc<ClientHandle>) -> Self::Session;

    /// Runs requests from the front of `reqs`, removing those it ran, writing replies to `out`.
    fn execute(
        &self,
        sess: &mut Self::Session,
        reqs: &mut Vec<Request>,
        out: &mut Reply,
    ) -> Control;

    /// The connection is going away (closed by either side).
    fn close(&self, sess: &mut Self::Session);

    /// Parser limits for this client now.
    fn limits(&self, sess: &Self::Session) -> Limits;

    /// `client-query-buffer-limit`.
    fn query_buffer_limit(&self) -> usize;

    /// Idle time after which the client is closed (`timeout`), if it applies to this client.
    fn idle_timeout(&self, sess: &Self::Session) -> Option<Duration>;

    /// The handle of the session's client.
    fn client<'a>(&self, sess: &'a Self::Session) -> &'a Arc<ClientHandle>;

    /// Called before the output is written: `Some` holds it until the notify fires or the
    /// instant passes, then asks again (picket-node's fencing mode holds write replies until
    /// replicas acknowledged them). It may rewrite `out`.
    fn hold(&self, _sess: &mut Self::Session, _out: &mut Reply) -> Option<(Arc<Notify>, Instant)> {
        None
    }
}
