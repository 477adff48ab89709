//! The state of blocked clients (BLPOP and friends, WAIT): the waiters and per key their FIFO.
//! The behaviour is in [`crate::cmd::blocking`].

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// What a blocked client waits to do once a key has data.
#[derive(Debug, Clone)]
pub enum BlockOp {
    /// BLPOP / BRPOP.
    Pop { left: bool },
    /// BLMOVE / BRPOPLPUSH.
    Move {
        dst: Bytes,
        from_left: bool,
        to_left: bool,
        rpoplpush: bool,
    },
    /// BLMPOP.
    MPop { left: bool, count: usize },
    /// BZPOPMIN / BZPOPMAX.
    ZPop { min: bool },
    /// BZMPOP.
    ZMPop { min: bool, count: usize },
    /// WAIT: until `numreplicas` replicas acknowledged `offset`.
    Wait { offset: u64, numreplicas: usize },
}

/// Where the serving thread leaves a blocked client's reply.
#[derive(Default)]
pub struct BlockSlot {
    pub reply: Mutex<Option<Vec<u8>>>,
    pub notify: Arc<Notify>,
}

pub(crate) struct Waiter {
    pub(crate) db: usize,
    pub(crate) keys: Vec<Bytes>,
    pub(crate) op: BlockOp,
    pub(crate) resp3: bool,
    pub(crate) slot: Arc<BlockSlot>,
    /// The blocking command's table id and name (its stats count an UNBLOCKED error).
    pub(crate) command: (usize, &'static str),
    /// The blocking command as sent, and its client, for the slow log when it is served.
    pub(crate) args: Vec<Bytes>,
    pub(crate) client: Arc<picket::server::ClientHandle>,
}

/// The session's side of a block.
pub struct Blocked {
    pub id: u64,
    pub slot: Arc<BlockSlot>,
    pub deadline: Option<Instant>,
    pub op: BlockOp,
}

/// Every blocked client, and per key the FIFO of waiters.
#[derive(Default)]
pub struct Blocking {
    pub(crate) queues: HashMap<(usize, Bytes), VecDeque<u64>>,
    pub(crate) waiters: HashMap<u64, Waiter>,
}

impl Blocking {
    pub fn count(&self) -> usize {
        self.waiters.len()
    }
}
