//! Persistence counters and the start-up loading state.

use crate::clock::now_ms;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Counters for INFO persistence.
#[derive(Debug, Clone)]
pub struct PersistStats {
    pub saves: u64,
    pub last_save_ok: bool,
    /// Duration of the last BGSAVE (`rdb_last_bgsave_time_sec`), -1 before the first.
    pub last_bgsave_secs: i64,
    /// When the running BGSAVE started (`rdb_bgsave_in_progress`).
    pub bgsave_since: Option<Instant>,
    /// BGSAVE SCHEDULE while an AOF rewrite runs: started when it is done.
    pub bgsave_scheduled: bool,
    /// Set to abandon the running BGSAVE (FLUSHALL), which then keeps no file.
    pub bgsave_cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// When the running AOF rewrite started (`aof_rewrite_in_progress`).
    pub aof_rewrite_since: Option<Instant>,
    /// BGREWRITEAOF while another snapshot runs: started when it is done.
    pub aof_rewrite_scheduled: bool,
    /// CONFIG SET appendonly yes until the first base is written (Redis's AOF_WAIT_REWRITE).
    pub aof_turning_on: bool,
    /// Rewrites completed (`aof_rewrites`), the first one of a CONFIG SET appendonly yes too.
    pub aof_rewrites: u64,
    pub aof_last_rewrite_ok: bool,
    pub aof_last_rewrite_secs: i64,
    pub aof_rewrite_failures: u64,

    pub last_load_keys: u64,
    pub last_load_expired: u64,
    /// The last snapshot attempt (a failed one is retried after 5 s).
    pub last_try: Option<Instant>,
}

impl Default for PersistStats {
    fn default() -> Self {
        PersistStats {
            saves: 0,
            last_save_ok: true,
            last_bgsave_secs: -1,
            bgsave_since: None,
            bgsave_scheduled: false,
            bgsave_cancel: None,
            aof_rewrite_since: None,
            aof_rewrite_scheduled: false,
            aof_turning_on: false,
            aof_rewrites: 0,
            aof_last_rewrite_ok: true,
            aof_last_rewrite_secs: -1,
            aof_rewrite_failures: 0,

            last_load_keys: 0,
            last_load_expired: 0,
            last_try: None,
        }
    }
}

/// Progress of the start-up load, for `-LOADING` and INFO's loading fields.
#[derive(Default)]
pub struct LoadingState {
    pub active: AtomicBool,
    pub start_time: AtomicI64,
    pub total_bytes: AtomicU64,
    pub loaded_bytes: Arc<AtomicU64>,
    /// The `used-mem` aux field of the file being loaded.
    pub rdb_used_mem: Arc<AtomicU64>,
}

impl LoadingState {
    pub fn is_loading(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Start-up: from before the listeners accept until the data is loaded, every command
    /// without the `loading` flag gets `-LOADING`.
    pub fn begin(&self) {
        self.start_time.store(now_ms() / 1000, Ordering::Relaxed);
        self.active.store(true, Ordering::Release);
    }

    pub fn end(&self) {
        self.active.store(false, Ordering::Release);
    }
}
