//! The append-only file in Redis 7's multi-part layout: `appenddirname/` holds a base file (an
//! RDB preamble, `appendonly.aof.<n>.base.rdb`), an incr file of RESP commands
//! (`appendonly.aof.<n>.incr.aof`) and the manifest listing them. The incr file receives the
//! write stream (the same rewritten commands replication carries). With `appendfsync always`
//! the file is fsynced before the replies of the batch leave the server; `everysec` fsyncs on a
//! background thread about once a second; `no` leaves it to the OS.
//!
//! BGREWRITEAOF and the automatic rewrite run in the background ([`crate::persistence::aof_rewrite`]): a
//! new incr file starts at once and the new base is a point-in-time capture written while
//! clients keep writing. Turning `appendonly` on at runtime ([`turn_on`]) is such a rewrite too,
//! as in Redis 7: the writes go to `temp-<appendfilename>.incr` until the first base is written,
//! then both are renamed (numbered after whatever an older manifest lists) and the manifest is
//! written; until then the old manifest stays as it was, so a crash loads the old files. A
//! replica turns its AOF off and on again after a full resync, as Redis restarts it. Every
//! change of files ends with the manifest replaced atomically.

use super::aof_manifest::{
    manifest_path, parse_manifest, upgrade_old_style, write_manifest, Listed,
};
use crate::state::aof::{Aof, Fsync};
use crate::state::replay::{HeldState, InCommand, Replay};
use crate::state::{Node, NodeState, Session};
use picket::resp::{Reply, RequestParser};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

impl Aof {
    /// Writes the manifest for the files listed now.
    pub(crate) fn write_manifest(&self) -> std::io::Result<()> {
        write_manifest(&self.dir, &self.base_name, self.base.as_ref(), &self.incrs)
    }
}

pub(crate) fn fsync_mode(st: &NodeState) -> Fsync {
    match st.config.get("appendfsync") {
        "always" => Fsync::Always,
        "no" => Fsync::No,
        _ => Fsync::EverySec,
    }
}

pub(crate) fn aof_dir(st: &NodeState) -> PathBuf {
    PathBuf::from(st.config.get("dir")).join(st.config.get("appenddirname"))
}

pub(crate) fn open_incr(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

pub(crate) fn base_ext(st: &NodeState) -> &'static str {
    if st.config.get_bool("aof-use-rdb-preamble") {
        "rdb"
    } else {
        "aof"
    }
}

/// Writes a new base from the dataset as it is now (the caller holds the lock) and an empty
/// incr file, both with sequence `seq`, then the manifest that lists just them.
fn rewrite_files(
    st: &NodeState,
    dir: &Path,
    base_name: &str,
    seq: u64,
) -> std::io::Result<(File, Listed, Listed)> {
    std::fs::create_dir_all(dir)?;
    let ext = base_ext(st);
    let base = (format!("{base_name}.{seq}.base.{ext}"), seq);
    let path = dir.join(&base.0);
    if ext == "rdb" {
        crate::persistence::rdb_file::write_rdb_with_aux(st, &path, true)?;
    } else {
        let tmp = format!("temp-rewriteaof-{}.aof", std::process::id());
        picket::fsutil::atomic_write_with(&path, &tmp, |f| {
            let fmt = crate::persistence::aof_rewrite::CommandFormat::default();
            crate::persistence::snapshot::write_locked(st, fmt, &mut *f).map(|_| ())
        })?;
    }
    let incr_name = (format!("{base_name}.{seq}.incr.aof"), seq);
    let incr = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(dir.join(&incr_name.0))?;
    incr.sync_all()?;
    write_manifest(
        dir,
        base_name,
        Some(&base),
        std::slice::from_ref(&incr_name),
    )?;
    Ok((incr, base, incr_name))
}

/// Removes files a manifest no longer lists.
pub(crate) fn remove_files(dir: &Path, names: impl IntoIterator<Item = String>) {
    for n in names {
        tracing::info!("Removing the history file {n} in the background");
        let _ = std::fs::remove_file(dir.join(n));
    }
}

impl Aof {
    /// The open AOF in `dir` writing to `incr`, `seq` the highest sequence so far; nothing
    /// listed yet.
    pub(crate) fn open(st: &NodeState, dir: PathBuf, seq: u64, incr: File) -> Aof {
        Aof {
            dir,
            base_name: st.config.get("appendfilename").to_string(),
            seq,
            base: None,
            incrs: Vec::new(),
            incr,
            initial: None,
            fsync: fsync_mode(st),
            unsynced: false,
            last_fsync: Instant::now(),
            fsync_running: Arc::new(AtomicBool::new(false)),
            size: 0,
            base_file: 0,
            rewrite_base: 0,
            last_ts: 0,
        }
    }
}

/// Start-up with `appendonly yes` and no AOF yet: the first base from the dataset (empty at
/// this point), an incr file, the manifest.
pub fn start(st: &mut NodeState) -> std::io::Result<()> {
    let dir = aof_dir(st);
    let base_name = st.config.get("appendfilename").to_string();
    crate::propagate::flush(st);
    let (incr, base, incr_name) = rewrite_files(st, &dir, &base_name, 1)?;
    let mut a = Aof::open(st, dir, 1, incr);
    a.base = Some(base);
    a.incrs = vec![incr_name];
    a.rebase();
    st.aof = Some(a);
    st.stream.enabled = true;
    st.stream.reset_select();
    Ok(())
}

/// CONFIG SET appendonly yes: the first rewrite starts in the background, or is scheduled
/// behind a running snapshot, as Redis schedules it behind a child process. INFO shows
/// `aof_enabled:1` from now on; the files appear when the base is written.
pub fn turn_on(node: &Node, st: &mut NodeState) {
    st.persist.aof_turning_on = true;
    if st.snapshot_busy() {
        tracing::warn!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
        st.persist.aof_rewrite_scheduled = true;
    } else {
        crate::persistence::aof_rewrite::start(node, st);
    }
}

/// Closes the AOF. The temp incr file of a first rewrite (one that failed, or an AOF turned
/// off before it was done) is removed: nothing lists it, and the dataset has its writes.
pub(crate) fn close(st: &mut NodeState) {
    if let Some(a) = st.aof.take() {
        if let Some(tmp) = &a.initial {
            let _ = std::fs::remove_file(a.dir.join(tmp));
        }
    }
    st.stream.enabled = st.repl.backlog.is_some();
}

/// The first rewrite of a CONFIG SET appendonly yes is running (not just scheduled): a
/// shutdown now would leave no AOF, so it is refused unless forced, as in Redis.
pub fn writing_initial(st: &NodeState) -> bool {
    st.persist.aof_turning_on && st.persist.aof_rewrite_since.is_some()
}

/// INFO persistence's fields shown while the AOF is enabled, after `module_fork_last_cow_size`.
pub fn info_fields(st: &NodeState) -> Vec<(&'static str, String)> {
    let (current, base, fsyncing) = match st.aof.as_ref() {
        Some(a) => (
            a.current_size(),
            a.rewrite_base,
            a.fsync_running.load(Ordering::Relaxed),
        ),
        None => (0, 0, false),
    };
    vec![
        ("aof_current_size", current.to_string()),
        ("aof_base_size", base.to_string()),
        (
            "aof_pending_rewrite",
            (st.persist.aof_rewrite_scheduled as u8).to_string(),
        ),
        ("aof_buffer_length", st.stream.buffer.len().to_string()),
        ("aof_pending_bio_fsync", (fsyncing as u8).to_string()),
        ("aof_delayed_fsync", "0".to_string()),
    ]
}

/// True from CONFIG SET appendonly yes on (also while the first base is being written).
pub fn enabled(st: &NodeState) -> bool {
    st.aof.is_some() || st.persist.aof_turning_on
}

/// Turns the AOF off (CONFIG SET appendonly no). A first rewrite still running is abandoned:
/// its temp incr file is removed, and its base is discarded when it finishes.
pub fn stop(st: &mut NodeState) {
    crate::propagate::flush(st);
    st.persist.aof_turning_on = false;
    st.persist.aof_rewrite_scheduled = false;
    if let Some(a) = st.aof.as_ref() {
        let _ = a.incr.sync_all();
    }
    close(st);
}

/// A loading failure: the file, the offset and why.
fn bad_format(file: &Path, offset: usize, reason: &str) -> String {
    format!(
        "Bad file format reading the append only file {} at offset {offset}: {reason}",
        file.display()
    )
}

/// Replays an incr file through the command executor (a fake client, no replies kept).
/// The lock is let go every few thousand commands, so clients connected meanwhile get their
/// `-LOADING` reply instead of waiting.
fn replay<G: HeldState>(
    node: &Node,
    runner: &dyn Replay,
    st: &mut G,
    sess: &mut Session,
    path: &Path,
    truncated_ok: bool,
    skip: usize,
) -> Result<(), String> {
    // A file the manifest lists and that is not there stops the load, as in Redis: loading
    // the rest would serve a dataset with a hole in its history.
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "The append log file {} doesn't exist: No such file or directory",
                file_name(path)
            ))
        }
        Err(e) => {
            return Err(format!(
                "Fatal error: can't open the append log file {} for reading: {e}",
                file_name(path)
            ))
        }
    };
    let mut parser = RequestParser::new();
    let mut buf = bytes::BytesMut::from(&data[skip.min(data.len())..]);
    let limits = picket::resp::Limits {
        proto_max_bulk_len: i64::MAX,
        unauthenticated: false,
    };
    let mut out = Reply::new(false);
    let mut replayed = 0u64;
    // Where the transaction still open began: a file ending inside it is cut back to there.
    let mut multi_start: Option<usize> = None;
    let base = node
        .loading
        .loaded_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    loop {
        // `#TS:` and other annotation lines (aof-timestamp-enabled) between commands.
        if buf.first() == Some(&b'#') {
            match buf.iter().position(|c| *c == b'\n') {
                Some(n) => {
                    let _ = buf.split_to(n + 1);
                    continue;
                }
                None => break,
            }
        }
        // Every entry is a multibulk request: anything else (an inline command) is garbage.
        if buf.first().is_some_and(|c| *c != b'*') {
            return Err(bad_format(path, data.len() - buf.len(), "not a RESP array"));
        }
        let before = buf.len();
        match parser.parse(&mut buf, limits) {
            Ok(Some(r)) if r.empty_line => {}
            Ok(Some(r)) => {
                if r.args.is_empty() {
                    continue;
                }
                if !runner.knows(&r.args[0]) {
                    return Err(format!(
                        "Unknown command '{}' reading the append only file {}",
                        String::from_utf8_lossy(&r.args[0]),
                        file_name(path)
                    ));
                }
                let was_in_multi = sess.multi.is_some();
                runner.run(node, st, sess, &r.args, &mut out, crate::clock::now_ms());
                match (was_in_multi, sess.multi.is_some()) {
                    (false, true) => multi_start = Some(data.len() - before),
                    (_, false) => multi_start = None,
                    _ => {}
                }
                out.buf.clear();
                let _ = out.take_errors();
                replayed += 1;
                if replayed.is_multiple_of(4096) {
                    node.loading.loaded_bytes.store(
                        base + (data.len() - buf.len()) as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    st.unlocked(std::thread::yield_now);
                }
            }
            Ok(None) => break,
            Err(e) => return Err(bad_format(path, data.len() - before, &e.0)),
        }
    }
    // The parser leaves an incomplete request in the buffer: everything before it is valid,
    // except a transaction it opened and never ended, which is dropped, never half applied. The
    // file is cut back to what was applied, so what is appended next is not read as part of
    // that transaction at the next load.
    let mut valid = data.len() - buf.len();
    let short = valid < data.len();
    let unfinished_multi = sess.multi.take().is_some();
    if let (true, Some(start)) = (unfinished_multi, multi_start) {
        valid = start;
    }
    if short || unfinished_multi {
        if !truncated_ok {
            return Err(format!(
                "Unexpected end of file reading the append only file {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                file_name(path)
            ));
        }
        if unfinished_multi {
            tracing::warn!("Revert incomplete MULTI/EXEC transaction in AOF file");
        }
        tracing::warn!(
            "!!! Warning: short read while loading the AOF file {}!!! AOF loaded anyway because aof-load-truncated is enabled; truncating it to {valid} bytes",
            path.display()
        );
        if let Ok(f) = OpenOptions::new().write(true).open(path) {
            let _ = f.set_len(valid as u64);
        }
    }
    Ok(())
}

/// A file's name without its directory, as Redis names it in its log lines.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// [`load_at_startup`] on a blocking thread, with INFO's loading figures (the caller holds
/// the loading state, so clients connected meanwhile get `-LOADING` and `loading:1`).
pub async fn load_in_background(node: Arc<Node>, runner: Arc<dyn Replay>) -> Result<(), String> {
    let ls = &node.loading;
    let total: u64 = {
        let st = node.state.lock();
        std::fs::read_dir(aof_dir(&st))
            .map(|d| {
                d.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    };
    ls.total_bytes.store(total, Ordering::Relaxed);
    ls.start_time
        .store(crate::clock::now_ms() / 1000, Ordering::Relaxed);
    let n = node.clone();
    tokio::task::spawn_blocking(move || load_at_startup(&n, runner.as_ref()))
        .await
        .map_err(|e| format!("The AOF loading thread failed: {e}"))?
}

/// Start-up with `appendonly yes`: loads the base and incr files of the manifest, or creates
/// the AOF from the (empty) dataset when there is none, then opens it for appending.
pub fn load_at_startup(node: &Node, runner: &dyn Replay) -> Result<(), String> {
    let mut st = node.state.lock();
    let dir = aof_dir(&st);
    let base_name = st.config.get("appendfilename").to_string();
    let mpath = manifest_path(&dir, &base_name);
    let files = match std::fs::read_to_string(&mpath) {
        Ok(text) => parse_manifest(&text)?,
        Err(_) => Vec::new(),
    };
    let server_dir = PathBuf::from(st.config.get("dir"));
    let files = upgrade_old_style(&server_dir, &dir, &base_name, files)?;
    if files.is_empty() {
        start(&mut st).map_err(|e| {
            format!(
                "Can't create the append only file in {}: {e}",
                dir.display()
            )
        })?;
        tracing::info!("Creating AOF base file {base_name}.1.base.rdb on server start");
        return Ok(());
    }
    let started = Instant::now();
    let seq = load_files(node, runner, &mut st, &dir, &files)?;
    crate::propagate::expired_dels(&mut st);
    st.stream.buffer.clear();
    open_for_append(&mut st, dir, &base_name, &files, seq)?;
    st.stream.enabled = true;
    st.stream.reset_select();
    st.dirty = 0;
    tracing::info!(
        "DB loaded from append only file: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// DEBUG LOADAOF: the dataset emptied and loaded again from the AOF's files, as a restart would
/// (the open AOF is flushed and fsynced first and stays open; nothing is propagated). With no
/// manifest the dataset stays empty, as in Redis.
pub fn reload_in_command(
    node: &Node,
    runner: &dyn Replay,
    st: &mut NodeState,
) -> Result<(), String> {
    if st.aof.is_some() {
        crate::propagate::flush(st);
        if let Some(a) = st.aof.as_ref() {
            let _ = a.incr.sync_all();
        }
    }
    let dbs = st.ks.dbs.len();
    let now = crate::clock::now_ms();
    let old: Vec<_> = (0..dbs).map(|d| st.ks.flush_db(d, now)).collect();
    crate::lazyfree::free_dbs(old, true);
    let dir = aof_dir(st);
    let mpath = manifest_path(&dir, st.config.get("appendfilename"));
    let Ok(text) = std::fs::read_to_string(&mpath) else {
        return Ok(());
    };
    let files = parse_manifest(&text)?;
    let enabled = std::mem::replace(&mut st.stream.enabled, false);
    // Loading, as Redis is during DEBUG LOADAOF: what answers while the lock is held (a
    // script of the AOF past busy-reply-threshold) answers -LOADING.
    node.loading.begin();
    let result = load_files(node, runner, &mut InCommand(st), &dir, &files);
    node.loading.end();
    crate::propagate::expired_dels(st);
    st.stream.buffer.clear();
    st.stream.enabled = enabled;
    st.stream.reset_select();
    tracing::warn!("Append Only File loaded by DEBUG LOADAOF");
    result.map(|_| ())
}

/// Loads the manifest's files in order (an RDB-preamble base is read without the lock, so
/// clients get -LOADING meanwhile; every other file is replayed as commands, the last incr
/// file allowed a truncated tail with `aof-load-truncated`). Returns the highest sequence.
fn load_files<G: HeldState>(
    node: &Node,
    runner: &dyn Replay,
    st: &mut G,
    dir: &Path,
    files: &[(String, u64, char)],
) -> Result<u64, String> {
    let truncated_ok = st.config.get_bool("aof-load-truncated");
    let (client, _rx) = node
        .registry
        .register(String::new(), String::new(), -1, true);
    let mut sess = Session::new(client.clone());
    // A trusted stream: applied whatever -LOADING, READONLY or OOM would say to a client.
    sess.repl.is_master = true;
    let last_incr = files.iter().rfind(|f| f.2 == 'i').map(|f| f.0.clone());
    let mut seq = 1;
    let mut result = Ok(());
    st.ks.loading_aof = true;
    for (name, s, t) in files {
        let path = dir.join(name);
        if matches!(t, 'b' | 'i') {
            seq = seq.max(*s);
        }
        result = match t {
            // An RDB preamble may be followed by commands (an old-style AOF of Redis 6).
            'b' if is_rdb(&path) => load_rdb_base(st, &path)
                .and_then(|rdb_len| replay(node, runner, st, &mut sess, &path, false, rdb_len)),
            'b' => replay(node, runner, st, &mut sess, &path, false, 0),
            'i' => {
                let last = last_incr.as_deref() == Some(name.as_str());
                replay(node, runner, st, &mut sess, &path, truncated_ok && last, 0)
            }
            _ => Ok(()),
        };
        if result.is_err() {
            break;
        }
    }
    st.ks.loading_aof = false;
    node.registry.unregister(client.id);
    result.map(|()| seq)
}

fn is_rdb(path: &Path) -> bool {
    let mut head = [0u8; 5];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && &head == b"REDIS"
}

/// An RDB-preamble base: read without the lock, then installed. Returns the RDB part's length.
fn load_rdb_base<G: HeldState>(st: &mut G, path: &Path) -> Result<usize, String> {
    let (dbs, lru, lim) = (st.ks.dbs.len(), st.ks.lru.initial(), st.ks.enc);
    let read_bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let progress = Some((read_bytes.clone(), Arc::default()));
    let read = st.unlocked(|| {
        crate::persistence::rdb_file::read_rdb_file(path, dbs, &lim, lru, true, progress, 0)
    });
    match read {
        Ok(Some(l)) => crate::persistence::rdb_file::install(st, l),
        Ok(None) => {}
        Err(e) => {
            return Err(format!(
                "Fatal error loading the AOF base {}: {e}",
                path.display()
            ))
        }
    }
    Ok(read_bytes.load(Ordering::Relaxed) as usize)
}

/// Opens the last incr file for appending (a manifest without one gets a new one, and the
/// manifest is rewritten to list it).
fn open_for_append(
    st: &mut NodeState,
    dir: PathBuf,
    base_name: &str,
    files: &[(String, u64, char)],
    seq: u64,
) -> Result<(), String> {
    let listed_base = files
        .iter()
        .find(|f| f.2 == 'b')
        .map(|f| (f.0.clone(), f.1));
    let mut listed_incrs: Vec<(String, u64)> = files
        .iter()
        .filter(|f| f.2 == 'i')
        .map(|f| (f.0.clone(), f.1))
        .collect();
    let incr_name = listed_incrs
        .last()
        .map(|f| f.0.clone())
        .unwrap_or_else(|| format!("{base_name}.{seq}.incr.aof"));
    let incr = open_incr(&dir.join(&incr_name))
        .map_err(|e| format!("Can't open the append-only file {incr_name}: {e}"))?;
    let size = incr.metadata().map(|m| m.len()).unwrap_or(0);
    let unlisted = listed_incrs.is_empty();
    if unlisted {
        listed_incrs.push((incr_name, seq));
    }
    let mut a = Aof::open(st, dir, seq, incr);
    a.base = listed_base;
    a.incrs = listed_incrs;
    a.size = size;
    a.rebase();
    if unlisted {
        a.write_manifest()
            .map_err(|e| format!("Can't update the AOF manifest: {e}"))?;
    }
    st.aof = Some(a);
    Ok(())
}

/// From the cron: the stream flushed, and the `everysec` fsync started when one is due (not
/// while `no-appendfsync-on-rewrite` pauses it).
pub fn tick(st: &mut NodeState) {
    crate::propagate::flush(st);
    if crate::propagate::fsync_paused(st) {
        return;
    }
    if let Some(a) = st.aof.as_mut() {
        a.fsync_everysec();
    }
}
