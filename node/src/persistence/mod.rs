//! Persistence: the RDB file, save points, the multi-part AOF and its rewrite, and the
//! point-in-time snapshots they (and full resyncs) are written from.
//!
//! - [`rdb_file`]: writing and reading the RDB file, installing a loaded dataset, start-up load.
//! - [`snapshot`]: the point-in-time capture written a slice at a time while clients write.
//! - [`savepoints`]: BGSAVE, `save` points, MISCONF.
//! - [`aof`]: the multi-part AOF (manifest, incr file, fsync, load at start-up).
//! - [`aof_manifest`]: the manifest, read as strictly as Redis reads it, and the upgrade of an
//!   old-style single AOF into the AOF directory.
//! - [`aof_rewrite`]: BGREWRITEAOF, the automatic rewrite, `appendonly` turned on at runtime.
//!
//! The functions here are the facade the commands, the cron and `main` use: SAVE, BGSAVE,
//! BGREWRITEAOF, `appendonly` on and off, the cron's work, and the load at start-up.

pub mod aof;
pub mod aof_manifest;
pub mod aof_rewrite;
pub mod rdb_file;
pub mod savepoints;
pub mod snapshot;

use crate::state::replay::Replay;
use crate::state::{Node, NodeState};
use std::sync::Arc;

/// SAVE (also the save of SHUTDOWN and of a signal): the RDB file, written now.
pub fn save(st: &mut NodeState) -> Result<(), String> {
    rdb_file::save(st)
}

/// BGSAVE [SCHEDULE]: the reply's text, or the error.
pub fn bgsave(node: &Node, st: &mut NodeState, schedule: bool) -> Result<&'static str, String> {
    savepoints::bgsave(node, st, schedule)
}

/// BGREWRITEAOF: the reply's text, or the error.
pub fn bgrewriteaof(node: &Node, st: &mut NodeState) -> Result<&'static str, String> {
    aof_rewrite::bgrewriteaof(node, st)
}

/// `appendonly` as the configuration now says: turned on in the background, or off.
pub fn apply_appendonly(node: &Node, st: &mut NodeState) {
    let want = st.config.get_bool("appendonly");
    if want && !aof::enabled(st) {
        aof::turn_on(node, st);
    } else if !want && aof::enabled(st) {
        aof::stop(st);
    }
}

/// Every cron tick: the stream to the AOF and its `everysec` fsync.
pub fn tick(st: &mut NodeState) {
    aof::tick(st);
}

/// Once a second: save points and scheduled snapshots, the automatic AOF rewrite.
pub fn cron(node: &Node, st: &mut NodeState) {
    savepoints::cron(node, st);
    aof_rewrite::cron(node, st);
}

/// Loads the dataset at start-up, as Redis chooses: the AOF when `appendonly yes`, else the
/// RDB file. Clients connected meanwhile get `-LOADING` (the caller holds the loading state).
/// Returns the replication position an RDB file recorded, for [`crate::repl`] to continue
/// from; an error is one the node cannot start after.
pub async fn load_at_startup(
    node: Arc<Node>,
    runner: Arc<dyn Replay>,
) -> Result<Option<(String, u64, usize)>, String> {
    let aof = node.state.lock().config.get_bool("appendonly");
    if aof {
        aof::load_in_background(node, runner).await?;
        Ok(None)
    } else {
        rdb_file::load_at_startup(node).await
    }
}
