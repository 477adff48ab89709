//! The open append-only file: its files, sizes, the incr file written to and its fsync. The
//! manifest, rewrites and loading are in [`crate::persistence::aof`].

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always,
    EverySec,
    No,
}

/// The open AOF.
pub struct Aof {
    pub(crate) dir: PathBuf,
    pub(crate) base_name: String,
    /// The highest sequence number in a file name so far.
    pub(crate) seq: u64,
    /// The base file the manifest lists: (name, seq).
    pub(crate) base: Option<(String, u64)>,
    /// The incr files the manifest lists, oldest first; the last one is written to.
    pub(crate) incrs: Vec<(String, u64)>,
    pub(crate) incr: File,
    /// While `appendonly` is being turned on: the temp incr file written to until the first
    /// base is done (Redis's `AOF_WAIT_REWRITE`); nothing is listed in the manifest yet.
    pub(crate) initial: Option<String>,
    pub fsync: Fsync,
    /// Bytes written since the last fsync.
    pub(crate) unsynced: bool,
    pub(crate) last_fsync: Instant,
    pub(crate) fsync_running: Arc<AtomicBool>,
    /// Bytes of the incr file written to.
    pub size: u64,
    /// Bytes of the base file.
    pub(crate) base_file: u64,
    /// The AOF's whole size at the end of the last rewrite, or at the load (INFO's
    /// `aof_base_size`, what `auto-aof-rewrite-percentage` measures the growth from).
    pub(crate) rewrite_base: u64,
    /// The second of the last `#TS:` annotation (aof-timestamp-enabled).
    pub(crate) last_ts: i64,
}

impl Aof {
    fn base_file_size(&self) -> u64 {
        self.base
            .as_ref()
            .and_then(|(n, _)| std::fs::metadata(self.dir.join(n)).ok())
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// The files the manifest lists now: the base, older incr files (while a rewrite runs)
    /// and the one written to (counted from memory). INFO's `aof_current_size`.
    pub(crate) fn current_size(&self) -> u64 {
        let older: u64 = self
            .incrs
            .iter()
            .rev()
            .skip(1)
            .filter_map(|(n, _)| std::fs::metadata(self.dir.join(n)).ok())
            .map(|m| m.len())
            .sum();
        self.base_file + older + self.size
    }

    /// After a new base is listed (a rewrite, a load): its size, and the growth counted from
    /// the whole AOF as it is now.
    pub(crate) fn rebase(&mut self) {
        self.base_file = self.base_file_size();
        self.rewrite_base = self.current_size();
    }

    /// Appends stream bytes to the incr file, with a `#TS:` annotation first when `timestamps`
    /// and the second changed; with `appendfsync always` (and `fsync_allowed`) the file is
    /// fsynced before this returns. An error is one the node cannot go on after, as in Redis.
    pub fn append(
        &mut self,
        data: &[u8],
        timestamps: bool,
        fsync_allowed: bool,
    ) -> Result<(), String> {
        if data.is_empty() {
            return Ok(());
        }
        if timestamps {
            let now = crate::clock::now_ms() / 1000;
            if now != self.last_ts {
                self.last_ts = now;
                let ts = format!("#TS:{now}\r\n");
                self.incr
                    .write_all(ts.as_bytes())
                    .map_err(|e| format!("Error writing to the AOF file: {e}"))?;
                self.size += ts.len() as u64;
            }
        }
        self.incr
            .write_all(data)
            .map_err(|e| format!("Error writing to the AOF file: {e}"))?;
        self.size += data.len() as u64;
        self.unsynced = true;
        if self.fsync == Fsync::Always && fsync_allowed {
            self.incr
                .sync_data()
                .map_err(|e| format!("Can't persist the AOF (fsync: {e})"))?;
            self.unsynced = false;
            self.last_fsync = Instant::now();
        }
        Ok(())
    }

    /// The `everysec` fsync, on a background thread, at most one at a time and about once a
    /// second.
    pub fn fsync_everysec(&mut self) {
        if self.fsync != Fsync::EverySec
            || !self.unsynced
            || self.last_fsync.elapsed().as_millis() < 1000
        {
            return;
        }
        if self.fsync_running.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(f) = self.incr.try_clone() else {
            self.fsync_running.store(false, Ordering::Release);
            return;
        };
        self.unsynced = false;
        self.last_fsync = Instant::now();
        let running = self.fsync_running.clone();
        std::thread::spawn(move || {
            let _ = f.sync_data();
            running.store(false, Ordering::Release);
        });
    }
}
