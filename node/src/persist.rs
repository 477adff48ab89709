//! Snapshots on disk: SAVE (synchronous, as Redis's SAVE), the snapshot at shutdown, and
//! loading `dir/dbfilename` at start-up and for DEBUG RELOAD. Files are written to a temp file,
//! fsynced, renamed over the target, and the directory fsynced.

use crate::db::{Db, EncodingLimits, Entry, Keyspace, SBytes, Value};
use crate::rdb::read::{load, RdbError, Sink};
use crate::rdb::write::Writer;
use crate::server::{now_ms, NodeState};
use std::path::PathBuf;
use std::time::Instant;

/// `dir/dbfilename`.
pub fn rdb_path(st: &NodeState) -> PathBuf {
    PathBuf::from(st.config.get("dir")).join(st.config.get("dbfilename"))
}

/// The aux fields Redis 7.0 writes.
fn aux_fields(st: &NodeState, aof_base: bool) -> Vec<(&'static str, String)> {
    vec![
        ("redis-ver", picket::REDIS_VERSION.to_string()),
        ("redis-bits", "64".to_string()),
        ("ctime", (now_ms() / 1000).to_string()),
        ("used-mem", crate::alloc::used_memory().to_string()),
        ("repl-stream-db", "0".to_string()),
        ("repl-id", st.replid.clone()),
        ("repl-offset", "0".to_string()),
        ("aof-base", if aof_base { "1" } else { "0" }.to_string()),
    ]
}

/// Writes the whole dataset to `path` (atomically). Keys already expired are skipped.
pub fn write_rdb(st: &NodeState, path: &std::path::Path) -> std::io::Result<u64> {
    write_rdb_with_aux(st, path, false)
}

/// [`write_rdb`], for an AOF base file too (`aof-base` 1).
pub fn write_rdb_with_aux(
    st: &NodeState,
    path: &std::path::Path,
    aof_base: bool,
) -> std::io::Result<u64> {
    let compress = st.config.get_bool("rdbcompression");
    let checksum = st.config.get_bool("rdbchecksum");
    let now = now_ms();
    let tmp = format!("temp-{}.rdb", std::process::id());
    let mut size = 0;
    picket::fsutil::atomic_write_with(path, &tmp, |f| {
        let mut w = Writer::new(f, &aux_fields(st, aof_base), compress, checksum)?;
        for (i, db) in st.ks.dbs.iter().enumerate() {
            if db.main.is_empty() {
                continue;
            }
            w.select_db(i, db.main.len(), db.expires.len())?;
            for (k, e) in db.main.iter() {
                let exp = db.expires.get(k).copied();
                if matches!(exp, Some(t) if t <= now) {
                    continue;
                }
                w.key(k, &e.val, exp)?;
            }
        }
        size = w.bytes_written();
        w.finish().map(|_| ())
    })?;
    Ok(size)
}

/// SAVE: writes the snapshot and updates the persistence counters.
pub fn save(st: &mut NodeState) -> Result<(), String> {
    let path = rdb_path(st);
    let started = Instant::now();
    match write_rdb(st, &path) {
        Ok(_) => {
            st.dirty = 0;
            st.lastsave = now_ms() / 1000;
            st.persist.saves += 1;
            st.persist.last_save_ok = true;
            st.persist.last_save_secs = started.elapsed().as_secs() as i64;
            tracing::info!("DB saved on disk");
            Ok(())
        }
        Err(e) => {
            st.persist.last_save_ok = false;
            tracing::warn!("Failed opening the temp RDB file temp-{}.rdb (in server root dir {}) for saving: {e}", std::process::id(), st.config.get("dir"));
            Err(e.to_string())
        }
    }
}

/// Counters for INFO persistence.
#[derive(Debug, Clone)]
pub struct PersistStats {
    pub saves: u64,
    pub last_save_ok: bool,
    pub last_save_secs: i64,
    pub last_load_keys: u64,
    pub last_load_expired: u64,
}

impl Default for PersistStats {
    fn default() -> Self {
        PersistStats {
            saves: 0,
            last_save_ok: true,
            last_save_secs: -1,
            last_load_keys: 0,
            last_load_expired: 0,
        }
    }
}

/// Builds a fresh keyspace from a file; nothing is installed unless the whole file loads.
struct Loader {
    dbs: Vec<Db>,
    now: i64,
    drop_expired: bool,
    expired: u64,
    lru: u32,
}

impl Sink for Loader {
    fn key(&mut self, db: usize, key: Vec<u8>, val: Value, exp: Option<i64>) -> Result<(), String> {
        let Some(d) = self.dbs.get_mut(db) else {
            return Err(format!("FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting", self.dbs.len()));
        };
        if self.drop_expired && matches!(exp, Some(t) if t <= self.now) {
            self.expired += 1;
            return Ok(());
        }
        if d.main.contains_key(&key) {
            return Err(format!(
                "Duplicate key '{}' found in RDB file",
                String::from_utf8_lossy(&key)
            ));
        }
        let k = SBytes::from_vec(key);
        if let Some(t) = exp {
            d.expires.insert_new(k.clone(), t);
        }
        d.main.insert_new(k, Entry { val, lru: self.lru });
        Ok(())
    }
}

/// Loads `path` into `ks` (replacing its contents only on success). Ok(None) when there is
/// no file.
pub fn load_rdb(
    ks: &mut Keyspace,
    path: &std::path::Path,
    lim: &EncodingLimits,
    drop_expired: bool,
) -> Result<Option<(u64, u64)>, RdbError> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RdbError {
                offset: 0,
                reason: format!("can't open {}: {e}", path.display()),
            })
        }
    };
    let mut loader = Loader {
        dbs: (0..ks.dbs.len()).map(|_| Db::default()).collect(),
        now: now_ms(),
        drop_expired,
        expired: 0,
        lru: ks.lru.initial(),
    };
    let n = load(
        std::io::BufReader::with_capacity(1 << 16, f),
        lim,
        &mut loader,
    )?;
    for (i, d) in loader.dbs.into_iter().enumerate() {
        let old = ks.flush_db(i);
        crate::cmd::keys::dispose(vec![old], true);
        ks.dbs[i].main = d.main;
        ks.dbs[i].expires = d.expires;
    }
    Ok(Some((n - loader.expired, loader.expired)))
}

/// Start-up: loads the snapshot if there is one; exits the process on a corrupt file, with
/// the file, offset and reason (nothing partially loaded is ever served).
pub fn load_at_startup(st: &mut NodeState) {
    let path = rdb_path(st);
    let started = Instant::now();
    let lim = st.ks.enc;
    match load_rdb(&mut st.ks, &path, &lim, true) {
        Ok(None) => {}
        Ok(Some((keys, expired))) => {
            st.persist.last_load_keys = keys;
            st.persist.last_load_expired = expired;
            tracing::info!("Done loading RDB, keys loaded: {keys}, keys expired: {expired}.");
            tracing::info!(
                "DB loaded from disk: {:.3} seconds",
                started.elapsed().as_secs_f64()
            );
        }
        Err(e) => {
            tracing::warn!(
                "Fatal error loading the DB ({}): {e}. Exiting.",
                path.display()
            );
            std::process::exit(1);
        }
    }
}
