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

    /// Whether a command of this name exists (the AOF refuses a file naming one that does not).
    fn knows(&self, name: &[u8]) -> bool;
}

/// The node's state as a loader holds it: at start-up the mutex's guard (let go now and then,
/// so clients get `-LOADING`), inside a command (DEBUG LOADAOF) the command's own borrow,
/// which is never let go.
pub trait HeldState: std::ops::DerefMut<Target = NodeState> {
    /// Runs `f` with the lock let go, when this holder can let it go.
    fn unlocked<T>(&mut self, f: impl FnOnce() -> T) -> T;
}

impl HeldState for parking_lot::MutexGuard<'_, NodeState> {
    fn unlocked<T>(&mut self, f: impl FnOnce() -> T) -> T {
        parking_lot::MutexGuard::unlocked(self, f)
    }
}

/// The state borrowed by a running command.
pub struct InCommand<'a>(pub &'a mut NodeState);

impl std::ops::Deref for InCommand<'_> {
    type Target = NodeState;
    fn deref(&self) -> &NodeState {
        self.0
    }
}

impl std::ops::DerefMut for InCommand<'_> {
    fn deref_mut(&mut self) -> &mut NodeState {
        self.0
    }
}

impl HeldState for InCommand<'_> {
    fn unlocked<T>(&mut self, f: impl FnOnce() -> T) -> T {
        f()
    }
}
