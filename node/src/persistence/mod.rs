//! Persistence: the RDB file, save points, the multi-part AOF and its rewrite, and the
//! point-in-time snapshots they (and full resyncs) are written from.
//!
//! - [`rdb_file`]: writing and reading the RDB file, installing a loaded dataset, start-up load.
//! - [`snapshot`]: the point-in-time capture written a slice at a time while clients write.
//! - [`savepoints`]: BGSAVE, `save` points, MISCONF.
//! - [`aof`]: the multi-part AOF (manifest, incr file, fsync, load at start-up).
//! - [`aof_rewrite`]: BGREWRITEAOF, the automatic rewrite, `appendonly` turned on at runtime.

pub mod aof;
pub mod aof_rewrite;
pub mod rdb_file;
pub mod savepoints;
pub mod snapshot;

use crate::state::replay::Replay;
use crate::state::Node;
use std::sync::Arc;

/// Loads the dataset at start-up, as Redis chooses: the AOF when `appendonly yes`, else the
/// RDB file. Clients connected meanwhile get `-LOADING` (the caller holds the loading state).
/// Returns the replication position an RDB file recorded, for [`crate::repl`] to continue
/// from; an error is one the node cannot start after.
pub async fn load_at_startup(
    node: Arc<Node>,
    runner: Arc<dyn Replay>,
) -> Result<Option<(String, u64)>, String> {
    let aof = node.state.lock().config.get_bool("appendonly");
    if aof {
        aof::load_in_background(node, runner).await?;
        Ok(None)
    } else {
        rdb_file::load_at_startup(node).await
    }
}
