//! [`Replay`]: how a layer below the commands runs commands. The AOF's replay at start-up and
//! the replica's stream from its master run every command through the same checks a client's
//! command goes through; the command layer implements this, and the top of the program hands
//! it down (as raft-rs hands its `Storage` down), so nothing below the commands names them.

use super::{Node, NodeState, Session};
use bytes::Bytes;
use picket::resp::Reply;

/// Runs commands on behalf of a lower layer.
pub trait Replay: Send + Sync {
    /// Runs one command as `sess` at time `now_ms`, writing its reply to `out`.
    fn run(
        &self,
        node: &Node,
        st: &mut NodeState,
        sess: &mut Session,
        argv: &[Bytes],
        out: &mut Reply,
        now_ms: i64,
    );

    /// A session that ran such commands ends (the replica link's master session).
    fn end_session(&self, node: &Node, sess: &mut Session);
}
