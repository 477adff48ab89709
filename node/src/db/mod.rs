//! The keyspace: 16 (by default) databases of [`Dict`]s with a separate expires table, lazy
//! expiry on access, WATCH invalidation on every modification, LRU/LFU access tracking.

pub mod capture;
pub mod dict;
pub mod geohash;
pub mod hash;
pub mod hll;
pub mod lru;
#[cfg(test)]
mod model_tests;
pub mod pack;
pub mod sbytes;
pub mod set;
pub mod value;
pub mod zset;

pub use dict::Dict;
pub use hash::HashVal;
pub use sbytes::SBytes;
pub use set::SetVal;
pub use value::{Entry, RStr, Value};
pub use zset::ZSetVal;

/// The compact-encoding thresholds (`hash-max-listpack-entries` and friends).
#[derive(Debug, Clone, Copy)]
pub struct EncodingLimits {
    pub hash_entries: usize,
    pub hash_value: usize,
    pub set_intset_entries: usize,
    pub zset_entries: usize,
    pub zset_value: usize,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_entries: 512,
            hash_value: 64,
            set_intset_entries: 512,
            zset_entries: 128,
            zset_value: 64,
        }
    }
}

use bytes::Bytes;
use picket::keyspace_events;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One database.
#[derive(Default)]
pub struct Db {
    pub main: Dict<Entry>,
    /// Absolute expiry times in ms since the Unix epoch.
    pub expires: Dict<i64>,
    /// Clients WATCHing keys of this db.
    pub watched: HashMap<Bytes, Vec<Watcher>>,
    /// Running average of TTLs seen by the active expiry cycle (INFO keyspace avg_ttl).
    pub avg_ttl: i64,
    /// Keys that clients are blocked on (BLPOP and friends), with the number of waiters.
    pub blocked: HashMap<Bytes, usize>,
}

/// One client's WATCH on one key.
#[derive(Debug)]
pub struct Watcher {
    /// The client's "transaction is dirty" flag (shared by all its watches).
    pub dirty: Arc<AtomicBool>,
    /// The key was already expired when watched: its deletion is no change (Redis 7.0).
    pub stale: AtomicBool,
}

impl Db {
    /// Marks every WATCH on `key` as broken. A key that was already expired when watched
    /// and is now gone has not logically changed (Redis 7.0): that WATCH holds.
    pub fn touch(&self, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(ws) = self.watched.get(key) {
            let gone = !self.main.contains_key(key);
            for w in ws {
                if w.stale.load(Ordering::Relaxed) && gone {
                    w.stale.store(false, Ordering::Relaxed);
                    continue;
                }
                w.dirty.store(true, Ordering::Relaxed);
            }
        }
    }

    /// FLUSHDB, FLUSHALL and SWAPDB: breaks every WATCH on a key that exists here or in
    /// `replaced_with` (SWAPDB's other database), with Redis's rules for keys that were
    /// already expired when watched.
    pub fn touch_all_existing(&self, replaced_with: Option<&Db>, now_ms: i64) {
        for (k, ws) in &self.watched {
            let here = self.main.contains_key(k);
            let there = replaced_with.is_some_and(|o| o.main.contains_key(k));
            if !here && !there {
                continue;
            }
            let there_expired = there && replaced_with.is_some_and(|o| o.is_expired(k, now_ms));
            for w in ws {
                if w.stale.load(Ordering::Relaxed) {
                    if !there {
                        // Expired key now deleted: no logical change.
                        w.stale.store(false, Ordering::Relaxed);
                        continue;
                    }
                    if there_expired {
                        continue;
                    }
                } else if !here && there_expired {
                    // A missing key replaced by an expired one: still logically missing.
                    w.stale.store(true, Ordering::Relaxed);
                    continue;
                }
                w.dirty.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Whether `key` is logically expired (still stored, its time passed).
    pub fn is_expired_at(&self, key: &[u8], now_ms: i64) -> bool {
        self.main.contains_key(key) && self.is_expired(key, now_ms)
    }

    pub fn expire_of(&self, key: &[u8]) -> Option<i64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        matches!(self.expire_of(key), Some(t) if t <= now_ms)
    }
}

/// Counters the keyspace keeps for INFO stats.
#[derive(Debug, Default, Clone)]
pub struct KeyspaceStats {
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub hits: u64,
    pub misses: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached: u64,
}

pub struct Keyspace {
    pub dbs: Vec<Db>,
    pub stats: KeyspaceStats,
    /// Keys deleted by expiry, waiting to be propagated as DEL (db, key).
    pub expired_pending: Vec<(usize, Bytes)>,
    /// On a replica, expired keys are hidden but only deleted when the master says so.
    pub is_replica: bool,
    /// A replica is applying its master's stream: expired keys are still there for it.
    pub applying_master: bool,
    /// An AOF is being replayed: no key expires (a TTL in the past is set, not applied), as
    /// in Redis, so the commands after it find the key as they found it when written.
    pub loading_aof: bool,
    /// On a writable replica, the keys its own clients gave a TTL: the replica expires those
    /// itself (its master knows nothing of them), as Redis's slaveKeysWithExpire.
    pub replica_local_expires: std::collections::HashSet<(usize, Bytes)>,
    /// While CLIENT PAUSE holds: expired keys are hidden but not deleted (nothing may be
    /// propagated), as on a replica.
    pub expiry_paused: bool,
    pub lru: lru::AccessPolicy,
    pub enc: EncodingLimits,
    /// Keys with blocked clients that were written since the last serve, in order (db, key).
    pub ready: Vec<(usize, Bytes)>,
    /// The generation new entries are born with (see [`capture`]).
    pub snap_gen: u32,
    /// The snapshot being taken, if any.
    pub capture: Option<Box<capture::Capture>>,
    /// The keyspace-event classes enabled (`picket::keyspace_events`), 0 when none are.
    pub event_classes: u16,
    /// Events the keyspace itself saw (a new key, an expiry, a miss), in order, waiting to
    /// be published: (event, db, key).
    pub events: Vec<(&'static str, usize, Bytes)>,
    /// Some client tracks keys (CLIENT TRACKING): changed keys are recorded in `changes`.
    pub track_changes: bool,
    /// Keys changed since the tracking state last looked, in order, each with whether it was
    /// deleted by expiry (no client changed it).
    pub changes: Vec<(Bytes, bool)>,
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        Keyspace {
            dbs: (0..databases).map(|_| Db::default()).collect(),
            stats: KeyspaceStats::default(),
            expired_pending: Vec::new(),
            is_replica: false,
            applying_master: false,
            loading_aof: false,
            replica_local_expires: Default::default(),
            expiry_paused: false,
            lru: lru::AccessPolicy::default(),
            enc: EncodingLimits::default(),
            ready: Vec::new(),
            snap_gen: 0,
            capture: None,
            event_classes: 0,
            events: Vec::new(),
            track_changes: false,
            changes: Vec::new(),
        }
    }

    /// A key changed: WATCHes on it break and, when clients track keys, it is recorded.
    #[inline]
    fn touched(&mut self, db: usize, key: &[u8], by_expiry: bool) {
        self.dbs[db].touch(key);
        if self.track_changes {
            self.changes.push((Bytes::copy_from_slice(key), by_expiry));
        }
    }

    /// Deletes `key` if it is logically expired; true if it was (or is hidden as) expired.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8], now_ms: i64) -> bool {
        let d = &self.dbs[db];
        if self.loading_aof || !d.is_expired(key, now_ms) {
            return false;
        }
        if self.is_replica {
            return !self.applying_master;
        }
        if self.expiry_paused {
            return true;
        }
        self.delete_expired(db, key);
        true
    }

    /// Removes an expired key, counts it and queues its DEL for propagation.
    pub fn delete_expired(&mut self, db: usize, key: &[u8]) {
        self.preserve(db, key);
        let d = &mut self.dbs[db];
        if let Some((k, _)) = d.main.remove(key) {
            d.expires.remove(key);
            self.touched(db, key, true);
            self.stats.expired_keys += 1;
            let k = k.to_bytes();
            self.record_event(keyspace_events::EXPIRED, "expired", db, &k);
            self.expired_pending.push((db, k));
        }
    }

    /// Records an event of `class` for publishing, if that class is enabled.
    #[inline]
    fn record_event(&mut self, class: u16, event: &'static str, db: usize, key: &[u8]) {
        if self.event_classes & class != 0 {
            self.events.push((event, db, Bytes::copy_from_slice(key)));
        }
    }

    /// A key was modified in place: breaks WATCHes and wakes clients blocked on it.
    pub fn modified(&mut self, db: usize, key: &[u8]) {
        self.touched(db, key, false);
        let d = &self.dbs[db];
        if !d.blocked.is_empty() && d.blocked.contains_key(key) {
            self.ready.push((db, Bytes::copy_from_slice(key)));
        }
    }

    /// Looks a key up for reading: expires it lazily, counts hits/misses, updates LRU/LFU.
    #[inline]
    pub fn lookup(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<&Entry> {
        self.lookup_read(db, key, now_ms, true)
    }

    /// A read that leaves the LRU/LFU alone (EXISTS, TYPE, TTL): still counts and expires.
    pub fn lookup_notouch(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<&Entry> {
        self.lookup_read(db, key, now_ms, false)
    }

    fn lookup_read(&mut self, db: usize, key: &[u8], now_ms: i64, touch: bool) -> Option<&Entry> {
        if self.expire_if_needed(db, key, now_ms) {
            self.stats.misses += 1;
            self.record_event(keyspace_events::KEY_MISS, "keymiss", db, key);
            return None;
        }
        let policy = self.lru;
        match self.dbs[db].main.get_mut(key) {
            Some(e) => {
                self.stats.hits += 1;
                if touch {
                    policy.touch(&mut e.lru);
                }
                Some(&*e)
            }
            None => {
                self.stats.misses += 1;
                if self.event_classes & keyspace_events::KEY_MISS != 0 {
                    self.events
                        .push(("keymiss", db, Bytes::copy_from_slice(key)));
                }
                None
            }
        }
    }

    /// Looks a key up for writing: like [`lookup`](Self::lookup) but without hit/miss counting.
    pub fn lookup_write(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<&mut Entry> {
        if self.expire_if_needed(db, key, now_ms) {
            if !self.is_replica {
                return None;
            }
            // A writable replica's own client writes over an expired key: it is deleted
            // first, as Redis forces it (the master's stream still sees it).
            if !self.applying_master {
                self.delete_expired(db, key);
                return None;
            }
        }
        self.preserve(db, key);
        let policy = self.lru;
        let e = self.dbs[db].main.get_mut(key)?;
        policy.touch(&mut e.lru);
        Some(e)
    }

    /// The entry at `key` for changing it in place, with no expiry check and no LRU update
    /// (the caller looked it up already).
    pub fn entry_mut(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.preserve(db, key);
        self.dbs[db].main.get_mut(key)
    }

    /// Whether a key exists (logically), without touching LRU or stats.
    pub fn exists(&mut self, db: usize, key: &[u8], now_ms: i64) -> bool {
        if self.expire_if_needed(db, key, now_ms) {
            return false;
        }
        self.dbs[db].main.contains_key(key)
    }

    /// Stores a value; clears the TTL unless `keep_ttl`. Breaks WATCHes on the key.
    pub fn set(&mut self, db: usize, key: &[u8], val: Value, keep_ttl: bool) {
        let lru = self.lru.initial();
        self.modified(db, key);
        self.preserve(db, key);
        let snap = self.snap_gen;
        let d = &mut self.dbs[db];
        match d.main.get_mut(key) {
            Some(e) => {
                e.val = val;
                e.lru = lru;
                if !keep_ttl && !d.expires.is_empty() {
                    d.expires.remove(key);
                }
            }
            None => {
                d.main
                    .insert_new(SBytes::new(key), Entry { val, lru, snap });
                self.record_event(keyspace_events::NEW, "new", db, key);
            }
        }
    }

    /// Deletes a key; true if it existed. Breaks WATCHes on the key.
    pub fn delete(&mut self, db: usize, key: &[u8]) -> Option<Value> {
        self.preserve(db, key);
        let d = &mut self.dbs[db];
        let (_, e) = d.main.remove(key)?;
        if !d.expires.is_empty() {
            d.expires.remove(key);
        }
        self.touched(db, key, false);
        Some(e.val)
    }

    /// Sets the absolute expiry (ms) of an existing key.
    pub fn set_expire(&mut self, db: usize, key: &[u8], when_ms: i64) {
        self.preserve(db, key);
        let d = &mut self.dbs[db];
        let Some((k, _)) = d.main.get_key_value(key) else {
            return;
        };
        let k = k.clone();
        d.expires.insert(k, when_ms);
        self.touched(db, key, false);
        if self.is_replica && !self.applying_master {
            self.replica_local_expires
                .insert((db, Bytes::copy_from_slice(key)));
        }
    }

    /// A writable replica's cron: deletes the keys its clients gave a TTL once it passed, and
    /// forgets those that lost their TTL or are gone.
    pub fn expire_replica_local_keys(&mut self, now_ms: i64) {
        if self.replica_local_expires.is_empty() {
            return;
        }
        let keys: Vec<(usize, Bytes)> = self.replica_local_expires.iter().cloned().collect();
        for (db, key) in keys {
            let d = &self.dbs[db];
            match d.expires.get(&key[..]) {
                Some(&when) if when <= now_ms => {
                    self.delete_expired(db, &key);
                    self.replica_local_expires.remove(&(db, key));
                }
                Some(_) => {}
                None => {
                    self.replica_local_expires.remove(&(db, key));
                }
            }
        }
    }

    /// Removes the TTL; true if there was one.
    pub fn persist(&mut self, db: usize, key: &[u8]) -> bool {
        self.preserve(db, key);
        let d = &mut self.dbs[db];
        let had = d.expires.remove(key).is_some();
        if had {
            self.touched(db, key, false);
        }
        had
    }

    pub fn expire_of(&self, db: usize, key: &[u8]) -> Option<i64> {
        self.dbs[db].expire_of(key)
    }

    /// Empties one database, returning its old contents (so they can be freed off the request
    /// path for ASYNC).
    pub fn flush_db(&mut self, db: usize, now_ms: i64) -> Db {
        let d = &mut self.dbs[db];
        d.touch_all_existing(None, now_ms);
        let watched = std::mem::take(&mut d.watched);
        let blocked = std::mem::take(&mut d.blocked);
        let mut old = std::mem::take(d);
        self.dbs[db].watched = watched;
        self.dbs[db].blocked = blocked;
        // A snapshot still writing this database keeps its old contents.
        self.detach_for_capture(db, &mut old);
        old
    }

    pub fn swap_db(&mut self, a: usize, b: usize, now_ms: i64) {
        if a == b {
            return;
        }
        self.dbs[a].touch_all_existing(Some(&self.dbs[b]), now_ms);
        self.dbs[b].touch_all_existing(Some(&self.dbs[a]), now_ms);
        self.swap_for_capture(a, b);
        let (x, y) = if a < b { (a, b) } else { (b, a) };
        let (lo, hi) = self.dbs.split_at_mut(y);
        std::mem::swap(&mut lo[x].main, &mut hi[0].main);
        std::mem::swap(&mut lo[x].expires, &mut hi[0].expires);
        std::mem::swap(&mut lo[x].avg_ttl, &mut hi[0].avg_ttl);
        for d in [a, b] {
            let keys: Vec<Bytes> = self.dbs[d].blocked.keys().cloned().collect();
            self.ready.extend(keys.into_iter().map(|k| (d, k)));
        }
    }

    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|d| d.main.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_expiry_and_watch() {
        let mut ks = Keyspace::new(2);
        let flag = Arc::new(AtomicBool::new(false));
        ks.dbs[0]
            .watched
            .insert(Bytes::from_static(b"k"), vec![watcher(&flag, false)]);
        ks.set(0, b"k", Value::Str(RStr::from_arg(b"v")), false);
        assert!(flag.load(Ordering::Relaxed));
        flag.store(false, Ordering::Relaxed);
        ks.set_expire(0, b"k", 1000);
        assert!(ks.lookup(0, b"k", 999).is_some());
        flag.store(false, Ordering::Relaxed);
        assert!(ks.lookup(0, b"k", 1000).is_none());
        assert!(flag.load(Ordering::Relaxed));
        assert_eq!(ks.expired_pending.len(), 1);
        assert_eq!(ks.stats.expired_keys, 1);
    }

    fn watcher(flag: &Arc<AtomicBool>, stale: bool) -> Watcher {
        Watcher {
            dirty: flag.clone(),
            stale: AtomicBool::new(stale),
        }
    }

    /// A key already expired when watched: its deletion, lazy or by FLUSHDB, is no change;
    /// a write to it is (Redis 7.0's rules).
    #[test]
    fn watch_on_a_stale_key() {
        let mut ks = Keyspace::new(2);
        ks.set(0, b"k", Value::Str(RStr::from_arg(b"v")), false);
        ks.set_expire(0, b"k", 10);
        let flag = Arc::new(AtomicBool::new(false));
        ks.dbs[0]
            .watched
            .insert(Bytes::from_static(b"k"), vec![watcher(&flag, true)]);
        assert!(!ks.exists(0, b"k", 20));
        assert!(!flag.load(Ordering::Relaxed));
        ks.flush_db(0, 20);
        assert!(!flag.load(Ordering::Relaxed));
        ks.set(0, b"k", Value::Str(RStr::from_arg(b"w")), false);
        assert!(flag.load(Ordering::Relaxed));
    }
}
