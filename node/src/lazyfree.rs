//! Freeing large values off the request path (UNLINK, FLUSHALL ASYNC, lazyfree-* options).

use crate::db::Value;
use std::sync::atomic::{AtomicU64, Ordering};

static FREED: AtomicU64 = AtomicU64::new(0);

/// Values larger than this are dropped on a background thread.
const LAZY_THRESHOLD: usize = 64 * 1024;

/// Collections with more elements than this are dropped on a background thread (as Redis's
/// LAZYFREE_THRESHOLD of 64 allocations).
const LAZY_ELEMENTS: usize = 64;

/// Drops `v`, on a background thread when it is large.
pub fn free_value(v: Value) {
    if v.elements() > LAZY_ELEMENTS || v.approx_size() > LAZY_THRESHOLD {
        FREED.fetch_add(1, Ordering::Relaxed);
        std::thread::spawn(move || drop(v));
    }
}

/// Objects freed in the background so far (INFO lazyfreed_objects).
pub fn freed() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// Drops whole databases taken out of the keyspace (FLUSHALL, FLUSHDB, a loaded dataset
/// replacing the old one): on a background thread when `lazy`.
pub fn free_dbs(old: Vec<crate::db::Db>, lazy: bool) {
    if lazy {
        std::thread::spawn(move || drop(old));
    } else {
        drop(old);
    }
}
