//! Automatic snapshots (`save <seconds> <changes> ...`), BGSAVE, and the `MISCONF` write
//! refusal after a failed snapshot (`stop-writes-on-bgsave-error`).
//!
//! Picket has no fork: a background save runs on its own thread and writes a point-in-time
//! capture of the dataset a slice at a time ([`crate::persistence::snapshot`]), so clients keep being
//! served, and keep writing, while it runs. The replies, log lines and INFO fields are Redis's.

use crate::clock::now_ms;
use crate::state::{Node, NodeState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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

/// Once a second: starts a BGSAVE when a save point is reached (after a failure, retried no
/// sooner than 5 s later, as Redis).
pub fn cron(node: &Node, st: &mut NodeState) {
    if st.persist.bgsave_scheduled && !st.snapshot_busy() {
        st.persist.bgsave_scheduled = false;
        return start(node, st);
    }
    if st.dirty == 0 || st.snapshot_busy() {
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
        start(node, st);
    }
}

/// Starts a BGSAVE on its own thread.
pub fn start(node: &Node, st: &mut NodeState) {
    let Some(node) = node.me.upgrade() else {
        return;
    };
    st.persist.bgsave_since = Some(Instant::now());
    st.persist.last_try = Some(Instant::now());
    let cancel = Arc::new(AtomicBool::new(false));
    st.persist.bgsave_cancel = Some(cancel.clone());
    // The changes the save will cover are counted now, with the command that asked for it:
    // the thread may start later, after more writes (a FLUSHALL, say) that it must not clear.
    let dirty_before = st.dirty;
    tracing::info!("Background saving started (Picket: on a thread, no fork)");
    std::thread::spawn(move || background_save(node, dirty_before, cancel));
}

/// FLUSHALL, as Redis's: a running BGSAVE is abandoned (its file would bring the flushed keys
/// back), and with save points the now empty dataset is saved at once, so a restart (even
/// after a crash) does not load the old file. The change counter is left at 0 by the save.
pub fn flushed_all(st: &mut NodeState) {
    if let Some(cancel) = st.persist.bgsave_cancel.as_ref() {
        cancel.store(true, Ordering::SeqCst);
    }
    if !points(st).is_empty() {
        let saves = st.persist.saves;
        if crate::persistence::rdb_file::save(st).is_ok() {
            // Redis counts this save in no statistic but the change counter and LASTSAVE.
            st.persist.saves = saves;
        }
    }
}

/// The BGSAVE thread: the capture to a temp file, fsynced, then (under the lock, so that a
/// FLUSHALL in between is seen) renamed over `dbfilename` unless it was abandoned.
fn background_save(node: Arc<Node>, dirty_before: u64, cancel: Arc<AtomicBool>) {
    let path = crate::persistence::rdb_file::rdb_path(&node.state.lock());
    let tmp = format!("temp-{}.rdb", std::process::id());
    let written = picket::fsutil::write_temp(&path, &tmp, |f| {
        let begin = |st: &mut NodeState| {
            let repl = (st.replid.as_str(), st.repl.offset);
            let aux = crate::persistence::rdb_file::aux_fields(
                false,
                repl,
                crate::persistence::rdb_file::stream_db(st),
            );
            crate::persistence::snapshot::rdb_format(st, &aux)
        };
        let out = Cancellable {
            w: f,
            cancel: &cancel,
        };
        crate::persistence::snapshot::write_snapshot(&node, begin, out).map(|_| ())
    });
    let mut st = node.state.lock();
    let cancelled = cancel.load(Ordering::SeqCst);
    let res = match written {
        Ok(t) if cancelled => {
            let _ = std::fs::remove_file(t);
            Err(std::io::Error::other("abandoned"))
        }
        Ok(t) => picket::fsutil::commit_temp(&t, &path),
        Err(e) => Err(e),
    };
    st.persist.bgsave_cancel = None;
    let took = st.persist.bgsave_since.take().map(|t| t.elapsed());
    st.persist.last_bgsave_secs = took.map(|d| d.as_secs() as i64).unwrap_or(-1);
    match res {
        // What Redis logs for the child it kills on FLUSHALL; the status stays as it was.
        Err(_) if cancelled => tracing::warn!("Background saving terminated by signal 10"),
        Ok(()) => {
            st.dirty = st.dirty.saturating_sub(dirty_before);
            st.lastsave = now_ms() / 1000;
            st.persist.saves += 1;
            st.persist.last_save_ok = true;
            tracing::info!("DB saved on disk");
            tracing::info!("Background saving terminated with success");
        }
        Err(e) => {
            st.persist.last_save_ok = false;
            tracing::warn!(
                "Background saving error: {e} (temp file {tmp} in {})",
                st.config.get("dir")
            );
        }
    }
}

/// The temp file's writer, failing every write once the save is abandoned.
struct Cancellable<'a, W> {
    w: W,
    cancel: &'a AtomicBool,
}

impl<W: std::io::Write> std::io::Write for Cancellable<'_, W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("abandoned"));
        }
        self.w.write(b)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// BGSAVE [SCHEDULE]: `Ok(reply)` or the error, as Redis answers them. A full resync's
/// snapshot counts as a background save in progress, as Redis's RDB child does; an AOF
/// rewrite is another kind of work, which SCHEDULE waits for.
pub fn bgsave(node: &Node, st: &mut NodeState, schedule: bool) -> Result<&'static str, String> {
    if st.persist.aof_rewrite_since.is_some() {
        if schedule {
            st.persist.bgsave_scheduled = true;
            return Ok("Background saving scheduled");
        }
        return Err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into());
    }
    if st.snapshot_busy() {
        return Err("ERR Background save already in progress".into());
    }
    start(node, st);
    Ok("Background saving started")
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
