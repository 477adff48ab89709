//! Snapshots on disk: SAVE (synchronous, as Redis's SAVE), the snapshot at shutdown, and
//! loading `dir/dbfilename` at start-up and for DEBUG RELOAD. Files are written to a temp file,
//! fsynced, renamed over the target, and the directory fsynced.

use crate::clock::now_ms;
use crate::db::{Db, EncodingLimits, Entry, SBytes, Value};
use crate::rdb::read::{load, RdbError, Sink};
use crate::rdb::write::Writer;
use crate::state::NodeState;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// `dir/dbfilename`.
pub fn rdb_path(st: &NodeState) -> PathBuf {
    PathBuf::from(st.config.get("dir")).join(st.config.get("dbfilename"))
}

/// The aux fields Redis 7.0 writes. `repl` is the replication position to record (id,
/// offset); `repl-stream-db`, `repl-id` and `repl-offset` are written only when `stream_db` is
/// given (a snapshot for a replica, or a node with a history worth resuming: a backlog, or a
/// master), and never in an AOF base, as Redis does; a restart then offers that history to
/// PSYNC.
pub(crate) fn aux_fields(
    aof_base: bool,
    repl: (&str, u64),
    stream_db: Option<usize>,
) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("redis-ver", picket::REDIS_VERSION.to_string()),
        ("redis-bits", "64".to_string()),
        ("ctime", (now_ms() / 1000).to_string()),
        ("used-mem", crate::alloc::used_memory().to_string()),
    ];
    // The replication fields only with a history to resume (a master with a backlog, a
    // replica), and never in an AOF base, as Redis writes them.
    if let Some(db) = stream_db.filter(|_| !aof_base) {
        v.extend([
            ("repl-stream-db", db.to_string()),
            ("repl-id", repl.0.to_string()),
            ("repl-offset", repl.1.to_string()),
        ]);
    }
    v.push(("aof-base", if aof_base { "1" } else { "0" }.to_string()));
    v
}

/// The db to record as `repl-stream-db`, when the node has a history to resume.
/// A replica records its master's stream db (a restart continuing with PSYNC applies the
/// stream there), a master the db its stream last selected (0 when none), as Redis does.
pub(crate) fn stream_db(st: &NodeState) -> Option<usize> {
    if st.repl.is_replica() {
        return Some(st.repl.master_db);
    }
    st.repl
        .backlog
        .is_some()
        .then(|| st.stream.selected_db().unwrap_or(0))
}

/// Writes the whole dataset as an RDB stream to `w`, keys already expired included.
fn write_dataset<W: std::io::Write>(
    st: &NodeState,
    w: W,
    aux: &[(&'static str, String)],
) -> std::io::Result<(W, u64)> {
    let compress = st.config.get_bool("rdbcompression");
    let checksum = st.config.get_bool("rdbchecksum");
    let delay = st.config.get_i64("rdb-key-save-delay");
    let mut w = Writer::new(w, aux, compress, checksum)?;
    for code in st.functions.as_ref().map(|f| f.codes()).unwrap_or_default() {
        w.function(&code)?;
    }
    for (i, db) in st.ks.dbs.iter().enumerate() {
        if db.main.is_empty() {
            continue;
        }
        w.select_db(i, db.main.len(), db.expires.len())?;
        for (k, e) in db.main.iter() {
            // Expired keys are written too, as Redis writes them: a master restarted from
            // the file drops them and tells its replicas (which still have them).
            w.key(k, &e.val, db.expires.get(k).copied())?;
            if delay != 0 {
                crate::clock::debug_delay(delay);
            }
        }
    }
    let size = w.bytes_written();
    Ok((w.finish()?, size))
}

/// Writes the whole dataset to `path` (atomically), keys already expired included.
pub fn write_rdb(st: &NodeState, path: &std::path::Path) -> std::io::Result<u64> {
    write_rdb_with_aux(st, path, false)
}

/// [`write_rdb`], for an AOF base file too (`aof-base` 1).
pub fn write_rdb_with_aux(
    st: &NodeState,
    path: &std::path::Path,
    aof_base: bool,
) -> std::io::Result<u64> {
    let tmp = format!("temp-{}.rdb", std::process::id());
    let aux = aux_fields(aof_base, (&st.replid, st.repl.offset), stream_db(st));
    let mut size = 0;
    picket::fsutil::atomic_write_with(path, &tmp, |f| {
        let (_, n) = write_dataset(st, f, &aux)?;
        size = n;
        Ok(())
    })?;
    Ok(size)
}

/// SAVE: writes the snapshot and updates the persistence counters.
pub fn save(st: &mut NodeState) -> Result<(), String> {
    let path = rdb_path(st);
    match write_rdb(st, &path) {
        Ok(_) => {
            st.dirty = 0;
            st.lastsave = now_ms() / 1000;
            st.persist.saves += 1;
            st.persist.last_save_ok = true;
            tracing::info!("DB saved on disk");
            Ok(())
        }
        Err(e) => {
            // A failed foreground save (SAVE, a shutdown's) leaves rdb_last_bgsave_status as
            // it was, as in Redis: writes are refused only after a failed background save.
            tracing::warn!("Failed opening the temp RDB file temp-{}.rdb (in server root dir {}) for saving: {e}", std::process::id(), st.config.get("dir"));
            Err(e.to_string())
        }
    }
}

/// A reader that publishes how many bytes it has read.
struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// Builds a fresh keyspace from a file; nothing is installed unless the whole file loads.
struct Loader {
    dbs: Vec<Db>,
    now: i64,
    drop_expired: bool,
    expired: u64,
    /// The keys dropped as expired (db, key): a master restarted with its history propagates
    /// a DEL for each, so its replicas drop them too.
    dropped: Vec<(usize, Vec<u8>)>,
    lru: u32,
    used_mem: Arc<AtomicU64>,
    repl_id: Option<String>,
    repl_offset: Option<u64>,
    repl_stream_db: Option<i64>,
    /// `key-load-delay`: microseconds slept after each key (a testing directive of Redis,
    /// which its suites use to keep a server loading for a while).
    key_delay_us: i64,
    /// The function libraries' code.
    functions: Vec<Vec<u8>>,
}

impl Loader {
    fn repl_position(&self) -> Option<(String, u64, usize)> {
        match (&self.repl_id, self.repl_offset, self.repl_stream_db) {
            (Some(id), Some(off), Some(db)) if db >= 0 => Some((id.clone(), off, db as usize)),
            _ => None,
        }
    }
}

impl Sink for Loader {
    fn aux(&mut self, key: &[u8], val: &[u8]) {
        let text = || std::str::from_utf8(val).ok().map(str::to_string);
        match key {
            b"repl-id" => self.repl_id = text().filter(|t| t.len() == 40),
            b"repl-offset" => self.repl_offset = text().and_then(|t| t.parse().ok()),
            b"repl-stream-db" => self.repl_stream_db = text().and_then(|t| t.parse().ok()),
            _ => {}
        }
        if key == b"used-mem" {
            let v = std::str::from_utf8(val).ok().and_then(|v| v.parse().ok());
            self.used_mem.store(v.unwrap_or(0), Ordering::Relaxed);
        }
    }

    fn function(&mut self, code: Vec<u8>) {
        self.functions.push(code);
    }

    fn resize_db(&mut self, db: usize, size: u64, expires: u64) {
        if let Some(d) = self.dbs.get_mut(db) {
            // Trust the hint only so far: a corrupt file must not make us allocate wildly.
            d.main.reserve(size.min(1 << 26) as usize);
            d.expires.reserve(expires.min(1 << 26) as usize);
        }
    }

    fn key(&mut self, db: usize, key: Vec<u8>, val: Value, exp: Option<i64>) -> Result<(), String> {
        let Some(d) = self.dbs.get_mut(db) else {
            return Err(format!("FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting", self.dbs.len()));
        };
        if self.key_delay_us != 0 {
            crate::clock::debug_delay(self.key_delay_us);
        }
        if self.drop_expired && matches!(exp, Some(t) if t <= self.now) {
            self.expired += 1;
            self.dropped.push((db, key));
            return Ok(());
        }
        let k = SBytes::from_vec(key);
        if let Some(t) = exp {
            d.expires.insert(k.clone(), t);
        }
        if d.main
            .insert(
                k.clone(),
                Entry {
                    val,
                    lru: self.lru,
                    snap: 0,
                },
            )
            .is_some()
        {
            return Err(format!(
                "Duplicate key '{}' found in RDB file",
                String::from_utf8_lossy(&k)
            ));
        }
        Ok(())
    }
}

/// What a file held: its databases, keys loaded and keys dropped as expired.
pub struct Loaded {
    dbs: Vec<Db>,
    /// The replication position the file recorded (repl-id, repl-offset), when it has all of
    /// repl-id, repl-offset and a repl-stream-db other than -1.
    /// (repl-id, repl-offset, repl-stream-db).
    pub repl: Option<(String, u64, usize)>,
    pub keys: u64,
    pub expired: u64,
    /// The keys dropped as expired (db, key).
    pub dropped: Vec<(usize, Vec<u8>)>,
    /// The function libraries' code.
    pub functions: Vec<Vec<u8>>,
}

/// Reads `path` into fresh databases (no lock needed). Ok(None) when there is no file.
pub fn read_rdb_file(
    path: &std::path::Path,
    databases: usize,
    lim: &EncodingLimits,
    lru: u32,
    drop_expired: bool,
    progress: Option<(Arc<AtomicU64>, Arc<AtomicU64>)>,
    key_delay_us: i64,
) -> Result<Option<Loaded>, RdbError> {
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
    let (loaded_bytes, used_mem) = progress.unwrap_or_default();
    let mut loader = Loader {
        dbs: (0..databases).map(|_| Db::default()).collect(),
        now: now_ms(),
        drop_expired,
        expired: 0,
        dropped: Vec::new(),
        lru,
        used_mem,
        repl_id: None,
        repl_offset: None,
        repl_stream_db: None,
        key_delay_us,
        functions: Vec::new(),
    };
    let reader = Counting {
        inner: std::io::BufReader::with_capacity(1 << 16, f),
        n: loaded_bytes,
    };
    let n = load(reader, lim, &mut loader)?;
    Ok(Some(Loaded {
        repl: loader.repl_position(),
        dbs: loader.dbs,
        keys: n - loader.expired,
        expired: loader.expired,
        dropped: loader.dropped,
        functions: loader.functions,
    }))
}

/// Reads a snapshot received from a master, as it arrives. Keys already expired are kept: a
/// replica deletes them only when its master says so.
pub fn read_rdb_stream(
    data: impl std::io::Read,
    databases: usize,
    lim: &EncodingLimits,
    lru: u32,
) -> Result<Loaded, RdbError> {
    let mut loader = Loader {
        dbs: (0..databases).map(|_| Db::default()).collect(),
        now: now_ms(),
        drop_expired: false,
        expired: 0,
        dropped: Vec::new(),
        lru,
        used_mem: Default::default(),
        repl_id: None,
        repl_offset: None,
        repl_stream_db: None,
        key_delay_us: 0,
        functions: Vec::new(),
    };
    let n = load(data, lim, &mut loader)?;
    Ok(Loaded {
        repl: loader.repl_position(),
        dbs: loader.dbs,
        keys: n - loader.expired,
        expired: loader.expired,
        dropped: loader.dropped,
        functions: loader.functions,
    })
}

/// Replaces the keyspace's databases with loaded ones (the old contents freed lazily), and
/// the function libraries with the loaded ones.
pub fn install(st: &mut NodeState, loaded: Loaded) {
    install_functions(st, &loaded.functions);
    let ks = &mut st.ks;
    for (i, d) in loaded.dbs.into_iter().enumerate() {
        let old = ks.flush_db(i, crate::clock::now_ms());
        crate::lazyfree::free_dbs(vec![old], true);
        ks.dbs[i].main = d.main;
        ks.dbs[i].expires = d.expires;
    }
}

/// Adds loaded keys and libraries to what the node has (DEBUG RELOAD NOFLUSH): with
/// `replace` (MERGE) the loaded ones win, without it a key or library already there is an
/// error, found before anything is changed.
pub fn merge(st: &mut NodeState, loaded: Loaded, replace: bool) -> Result<(), String> {
    if !replace {
        for (i, d) in loaded.dbs.iter().enumerate() {
            if let Some((k, _)) = d
                .main
                .iter()
                .find(|(k, _)| st.ks.dbs[i].main.contains_key(k))
            {
                return Err(format!(
                    "Duplicate key '{}' found in RDB file",
                    String::from_utf8_lossy(k)
                ));
            }
        }
        let f = st.functions.as_ref();
        for code in &loaded.functions {
            if let Ok(name) = crate::script::functions::library_name(code) {
                if f.is_some_and(|f| f.has_library(&name)) {
                    return Err(format!("Library '{name}' already exists"));
                }
            }
        }
    }
    if let Some(f) = st.functions.as_mut() {
        for code in &loaded.functions {
            if let Err(e) = f.load(code, true) {
                tracing::warn!("Failed loading library from the RDB: {e}");
            }
        }
    }
    for (i, mut d) in loaded.dbs.into_iter().enumerate() {
        let keys: Vec<SBytes> = d.main.iter().map(|(k, _)| k.clone()).collect();
        let db = &mut st.ks.dbs[i];
        for k in keys {
            let Some((k, e)) = d.main.remove(&k) else {
                continue;
            };
            db.expires.remove(&k);
            if let Some((_, t)) = d.expires.remove(&k) {
                db.expires.insert(k.clone(), t);
            }
            db.main.insert(k, e);
        }
    }
    Ok(())
}

/// The function libraries of a loaded snapshot replace the node's (a library that does not
/// load is logged and left out).
fn install_functions(st: &mut NodeState, codes: &[Vec<u8>]) {
    let Some(f) = st.functions.as_mut() else {
        return;
    };
    f.flush();
    for code in codes {
        if let Err(e) = f.load(code, true) {
            tracing::warn!("Failed loading library from the RDB: {e}");
        }
    }
}

/// Loads `path` into the keyspace and the functions (replacing them only on success).
/// Ok(None) when there is no file.
pub fn load_rdb(
    st: &mut NodeState,
    path: &std::path::Path,
    lim: &EncodingLimits,
    drop_expired: bool,
) -> Result<Option<(u64, u64)>, RdbError> {
    let lru = st.ks.lru.initial();
    match read_rdb_file(path, st.ks.dbs.len(), lim, lru, drop_expired, None, 0)? {
        None => Ok(None),
        Some(l) => {
            let r = (l.keys, l.expired);
            install(st, l);
            Ok(Some(r))
        }
    }
}

/// Start-up: loads the snapshot, if there is one, on a blocking thread while the listeners
/// already accept clients (which get `-LOADING` until it is done). A corrupt file is an error
/// with the file, offset and reason; nothing partially loaded is ever served. Returns the
/// replication position the snapshot recorded, if any.
pub async fn load_at_startup(
    node: Arc<crate::state::Node>,
) -> Result<Option<(String, u64, usize)>, String> {
    let (path, lim, dbs, lru, key_delay, master) = {
        let st = node.state.lock();
        (
            rdb_path(&st),
            st.ks.enc,
            st.ks.dbs.len(),
            st.ks.lru.initial(),
            st.config.get_i64("key-load-delay"),
            st.config.get("replicaof").trim().is_empty(),
        )
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return Ok(None);
    };
    let ls = &node.loading;
    ls.total_bytes.store(meta.len(), Ordering::Relaxed);
    ls.start_time.store(now_ms() / 1000, Ordering::Relaxed);
    let progress = (ls.loaded_bytes.clone(), ls.rdb_used_mem.clone());
    let started = Instant::now();
    let p2 = path.clone();
    let res = tokio::task::spawn_blocking(move || {
        // A replica keeps expired keys for its master's DEL, as Redis loads them.
        read_rdb_file(&p2, dbs, &lim, lru, master, Some(progress), key_delay)
    })
    .await;
    let fatal =
        |e: &dyn std::fmt::Display| format!("Fatal error loading the DB ({}): {e}", path.display());
    let loaded = match res {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return Err(fatal(&e)),
        Err(e) => return Err(fatal(&e)),
    };
    if let Some(mut l) = loaded {
        let mut st = node.state.lock();
        st.persist.last_load_keys = l.keys;
        st.persist.last_load_expired = l.expired;
        tracing::info!(
            "Done loading RDB, keys loaded: {}, keys expired: {}.",
            l.keys,
            l.expired
        );
        let position = l.repl.clone();
        if position.is_some() {
            st.repl.expired_at_load = std::mem::take(&mut l.dropped);
        }
        install(&mut st, l);
        tracing::info!(
            "DB loaded from disk: {:.3} seconds",
            started.elapsed().as_secs_f64()
        );
        return Ok(position);
    }
    Ok(None)
}
