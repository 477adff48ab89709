//! Automatic snapshots (`save <seconds> <changes> ...`), BGSAVE, and the `MISCONF` write
//! refusal after a failed snapshot (`stop-writes-on-bgsave-error`).
//!
//! Picket has no fork: a background save runs on its own thread but holds the dataset's lock
//! while it serialises, so clients wait for it as they would for SAVE. The replies, log lines
//! and INFO fields are Redis's.

use crate::server::{now_ms, Node, NodeState};
use std::time::{Duration, Instant};

/// The `save` points: (seconds, changes).
pub fn points(st: &NodeState) -> Vec<(i64, u64)> {
    let w: Vec<i64> = st
        .config
        .get("save")
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    w.chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0], c[1].max(0) as u64))
        .collect()
}

/// Once a second: saves when a save point is reached (after a failure, retried no sooner
/// than 5 s later, as Redis).
pub fn cron(st: &mut NodeState) {
    if st.dirty == 0 {
        return;
    }
    let now = now_ms() / 1000;
    let retry_ok = st.persist.last_save_ok
        || st
            .persist
            .last_try
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(5));
    let due = points(st)
        .into_iter()
        .find(|(secs, changes)| st.dirty >= *changes && now - st.lastsave >= *secs);
    if let (Some((secs, changes)), true) = (due, retry_ok) {
        tracing::info!("{changes} changes in {secs} seconds. Saving...");
        background_save(st);
    }
}

/// The snapshot BGSAVE and the save points take.
pub fn background_save(st: &mut NodeState) {
    st.persist.last_try = Some(Instant::now());
    tracing::info!("Background saving started (Picket: on a thread, holding the dataset)");
    if crate::persist::save(st).is_ok() {
        tracing::info!("Background saving terminated with success");
    }
}

/// BGSAVE [SCHEDULE]: answered at once; the snapshot is taken right after this batch.
pub fn bgsave(node: &Node) -> Result<(), String> {
    let Some(node) = node.me.upgrade() else {
        return Err("ERR".into());
    };
    std::thread::spawn(move || {
        let mut st = node.state.lock();
        background_save(&mut st);
    });
    Ok(())
}

/// `-MISCONF` for writes (and PING) on a master whose last snapshot failed, with save points
/// configured and `stop-writes-on-bgsave-error yes`.
pub fn refuses_writes(st: &NodeState) -> bool {
    !st.persist.last_save_ok
        && st.config.get_bool("stop-writes-on-bgsave-error")
        && !points(st).is_empty()
        && !st.repl.is_replica()
}

pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
