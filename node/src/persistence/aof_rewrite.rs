//! BGREWRITEAOF and the automatic rewrite (`auto-aof-rewrite-percentage` / `-min-size`), in
//! the background, in Redis 7's multi-part way:
//!
//! 1. Under the lock, in the critical section that starts the snapshot's capture: the current
//!    incr file is fsynced, a new incr file is opened and the manifest is rewritten to list the
//!    old base, the old incr files and the new one. Every write from then on goes to the new
//!    incr file, and a crash at any point still loads everything.
//! 2. Without the lock, a slice at a time: the new base is the capture of the dataset at that
//!    instant ([`crate::persistence::snapshot`]), an RDB preamble or commands, written to a temp file,
//!    fsynced and renamed.
//! 3. Under the lock: the manifest is rewritten to list the new base and the new incr file, and
//!    the old files are removed.
//!
//! A rewrite asked for while another snapshot runs is scheduled, as Redis schedules it while a
//! child process is active.
//!
//! `CONFIG SET appendonly yes` (and a replica after a full resync) runs the same rewrite with no
//! AOF open: step 1 opens `temp-<appendfilename>.incr` and leaves the manifest alone; step 3
//! renames it and the base to the sequence after the highest the old manifest lists (1 when
//! there is none), writes the manifest and removes the files the old one listed, as Redis 7
//! does.

use crate::db::{RStr, Value};
use crate::persistence::snapshot::Format;
use crate::rdb::write::Writer;
use crate::state::{Node, NodeState};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

/// A base without RDB preamble: SELECT, then per key the command that rebuilds it and
/// PEXPIREAT for its TTL.
#[derive(Default)]
pub struct CommandFormat {
    buf: Vec<u8>,
}

impl Format for CommandFormat {
    fn select_db(&mut self, db: usize, _keys: usize, _expires: usize) -> std::io::Result<()> {
        let argv = [Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())];
        crate::state::stream::encode_command(&mut self.buf, &argv);
        Ok(())
    }

    fn key(&mut self, k: &[u8], v: &Value, exp: Option<i64>) -> std::io::Result<()> {
        let b = |x: &[u8]| Bytes::copy_from_slice(x);
        let head = |cmd: &'static [u8]| [Bytes::from_static(cmd), b(k)].into_iter();
        let argv: Vec<Bytes> = match v {
            Value::Str(RStr::Int(n)) => head(b"SET").chain([Bytes::from(n.to_string())]).collect(),
            Value::Str(RStr::Emb(s)) | Value::Str(RStr::Raw(s)) => {
                head(b"SET").chain([b(s)]).collect()
            }
            Value::List(l) => head(b"RPUSH").chain(l.iter().map(|x| b(x))).collect(),
            Value::Hash(h) => head(b"HSET")
                .chain(h.pairs().into_iter().flat_map(|(f, v)| [b(f), b(v)]))
                .collect(),
            Value::Set(s) => head(b"SADD")
                .chain(s.members().into_iter().map(Bytes::from))
                .collect(),
            Value::ZSet(z) => head(b"ZADD")
                .chain(
                    z.view()
                        .take(0, usize::MAX)
                        .into_iter()
                        .flat_map(|(sc, m)| [Bytes::from(picket::numfmt::fmt_g17(sc)), b(m)]),
                )
                .collect(),
        };
        if argv.len() > 2 {
            crate::state::stream::encode_command(&mut self.buf, &argv);
        }
        if let Some(t) = exp {
            let argv = [b(b"PEXPIREAT"), b(k), Bytes::from(t.to_string())];
            crate::state::stream::encode_command(&mut self.buf, &argv);
        }
        Ok(())
    }

    fn take_bytes(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    fn pending(&self) -> usize {
        self.buf.len()
    }

    fn finish(self) -> std::io::Result<Vec<u8>> {
        Ok(self.buf)
    }
}

/// The base's encoding, as `aof-use-rdb-preamble` says.
pub enum BaseFormat {
    Rdb(Writer<Vec<u8>>),
    Commands(CommandFormat),
}

impl Format for BaseFormat {
    fn select_db(&mut self, db: usize, keys: usize, expires: usize) -> std::io::Result<()> {
        match self {
            BaseFormat::Rdb(w) => Format::select_db(w, db, keys, expires),
            BaseFormat::Commands(c) => c.select_db(db, keys, expires),
        }
    }

    fn key(&mut self, k: &[u8], v: &Value, exp: Option<i64>) -> std::io::Result<()> {
        match self {
            BaseFormat::Rdb(w) => Format::key(w, k, v, exp),
            BaseFormat::Commands(c) => c.key(k, v, exp),
        }
    }

    fn take_bytes(&mut self) -> Vec<u8> {
        match self {
            BaseFormat::Rdb(w) => Format::take_bytes(w),
            BaseFormat::Commands(c) => c.take_bytes(),
        }
    }

    fn pending(&self) -> usize {
        match self {
            BaseFormat::Rdb(w) => Format::pending(w),
            BaseFormat::Commands(c) => c.pending(),
        }
    }

    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            BaseFormat::Rdb(w) => Format::finish(w),
            BaseFormat::Commands(c) => c.finish(),
        }
    }
}

pub const STARTED: &str = "Background append only file rewriting started";
pub const SCHEDULED: &str = "Background append only file rewriting scheduled";
pub const IN_PROGRESS: &str = "ERR Background append only file rewriting already in progress";

/// BGREWRITEAOF (with the AOF on or off): started, scheduled behind another snapshot, or refused.
pub fn bgrewriteaof(node: &Node, st: &mut NodeState) -> Result<&'static str, String> {
    if st.persist.aof_rewrite_since.is_some() {
        return Err(IN_PROGRESS.into());
    }
    if st.snapshot_busy() {
        st.persist.aof_rewrite_scheduled = true;
        return Ok(SCHEDULED);
    }
    start(node, st);
    Ok(STARTED)
}

/// Once a second: a scheduled rewrite whose way is clear (also with the AOF off, as Redis
/// runs a scheduled BGREWRITEAOF), or the automatic one when the AOF grew by
/// `auto-aof-rewrite-percentage` over its size after the last rewrite.
pub fn cron(node: &Node, st: &mut NodeState) {
    if st.persist.aof_rewrite_since.is_some() || st.snapshot_busy() {
        return;
    }
    if st.persist.aof_rewrite_scheduled {
        st.persist.aof_rewrite_scheduled = false;
        return start(node, st);
    }
    let Some(a) = st.aof.as_ref() else {
        return;
    };
    let pct = st.config.get_i64("auto-aof-rewrite-percentage");
    let min = st.config.get_i64("auto-aof-rewrite-min-size") as u64;
    let cur = a.current_size();
    let growth = (cur * 100 / a.rewrite_base.max(1)).saturating_sub(100);
    if pct > 0 && cur > min && growth >= pct as u64 {
        tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
        start(node, st);
    }
}

/// Starts a rewrite on its own thread.
pub fn start(node: &Node, st: &mut NodeState) {
    let Some(node) = node.me.upgrade() else {
        return;
    };
    st.persist.aof_rewrite_since = Some(Instant::now());
    tracing::info!("Background append only file rewriting started (Picket: on a thread, no fork)");
    let kind = kind_now(st);
    std::thread::spawn(move || run(node, kind));
}

/// What the critical section that starts a rewrite decided: the base's sequence and name, and
/// how the manifest changes at the end.
struct Planned {
    seq: u64,
    base: String,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The AOF is on: a new incr file took the writes.
    Switch,
    /// `appendonly` is being turned on: the temp incr file took them.
    Initial,
    /// BGREWRITEAOF with the AOF off, as Redis 7 does it: a base and a manifest listing only
    /// it (what `appendonly yes` at the next start loads).
    BaseOnly,
}

/// What a rewrite started now is for.
fn kind_now(st: &NodeState) -> Kind {
    match (&st.aof, st.persist.aof_turning_on) {
        (Some(_), _) => Kind::Switch,
        (None, true) => Kind::Initial,
        (None, false) => Kind::BaseOnly,
    }
}

/// The rewrite thread.
fn run(node: Arc<Node>, kind: Kind) {
    let (dir, tmp) = {
        let st = node.state.lock();
        (
            crate::persistence::aof::aof_dir(&st),
            format!("temp-rewriteaof-bg-{}.aof", std::process::id()),
        )
    };
    // Set in the critical section that starts the capture.
    let mut new: Option<Planned> = None;
    let res = (|| {
        let staged = dir.join(&tmp);
        std::fs::create_dir_all(&dir)?;
        let begin = |st: &mut NodeState| switch_incr(st, kind, &mut new);
        let out = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&staged)?);
        let (out, _) = crate::persistence::snapshot::write_snapshot(&node, begin, out)?;
        let f = out.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        let base = &new
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no rewrite"))?
            .base;
        std::fs::rename(&staged, dir.join(base))?;
        tracing::info!("Successfully renamed the temporary AOF base file {tmp} into {base}");
        std::fs::File::open(&dir)?.sync_all()
    })();
    let _ = std::fs::remove_file(dir.join(&tmp));
    let mut st = node.state.lock();
    let took = st.persist.aof_rewrite_since.take().map(|t| t.elapsed());
    st.persist.aof_last_rewrite_secs = took.map(|d| d.as_secs() as i64).unwrap_or(-1);
    let installed = match (&res, &new) {
        (Ok(()), Some(p)) => match p.kind {
            Kind::Switch => install(&mut st, p.seq, &p.base),
            Kind::Initial => install_initial(&mut st, p.seq, &p.base),
            Kind::BaseOnly => install_base_only(&mut st, p.seq, &p.base),
        },
        (Err(e), _) => Err(e.to_string()),
        (Ok(()), None) => Err("nothing was written".into()),
    };
    match installed {
        Ok(()) => {
            st.persist.aof_last_rewrite_ok = true;
            st.persist.aof_rewrite_failures = 0;
            tracing::info!("Background AOF rewrite terminated with success");
            tracing::info!("Background AOF rewrite finished successfully");
        }
        Err(e) => {
            st.persist.aof_last_rewrite_ok = false;
            st.persist.aof_rewrite_failures += 1;
            if let Some(p) = &new {
                let _ = std::fs::remove_file(dir.join(&p.base));
            }
            tracing::warn!("Background AOF rewrite terminated with error: {e}");
            // Turning the AOF on: the temp incr file goes, and the rewrite is tried again.
            if st.aof.as_ref().is_some_and(|a| a.initial.is_some()) {
                crate::persistence::aof::close(&mut st);
            }
            if st.persist.aof_turning_on {
                st.persist.aof_rewrite_scheduled = true;
            }
        }
    }
}

/// Step 1, under the lock: a new incr file takes the writes from now on, and the manifest
/// lists it after the old files. Returns the base's encoding.
fn switch_incr(
    st: &mut NodeState,
    kind: Kind,
    new: &mut Option<Planned>,
) -> Result<BaseFormat, String> {
    crate::propagate::flush(st);
    // The AOF turned on or off between the start and now: this rewrite is not wanted any
    // more (as Redis kills the child), the one the change scheduled follows.
    if kind_now(st) != kind {
        return Err("the AOF was turned on or off before the rewrite began".into());
    }
    match kind {
        Kind::Initial => return open_initial(st, new),
        Kind::BaseOnly => return plan_base_only(st, new),
        Kind::Switch => {}
    }
    let ext = crate::persistence::aof::base_ext(st);
    let fmt = base_format(st)?;
    let Some(a) = st.aof.as_mut() else {
        return Err("the AOF was turned off".into());
    };
    a.incr.sync_data().map_err(|e| e.to_string())?;
    let seq = a.seq + 1;
    let name = format!("{}.{seq}.incr.aof", a.base_name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(a.dir.join(&name))
        .map_err(|e| e.to_string())?;
    tracing::info!("Creating AOF incr file {name} on background rewrite");
    a.incrs.push((name, seq));
    a.write_manifest().map_err(|e| {
        a.incrs.pop();
        e.to_string()
    })?;
    a.incr = file;
    a.seq = seq;
    a.size = 0;
    *new = Some(Planned {
        seq,
        base: format!("{}.{seq}.base.{ext}", a.base_name),
        kind: Kind::Switch,
    });
    // The new incr file must say which database its first command is for.
    st.stream.reset_select();
    Ok(fmt)
}

/// Step 1 with the AOF off: only the base's name, after what the manifest on disk lists.
fn plan_base_only(st: &mut NodeState, new: &mut Option<Planned>) -> Result<BaseFormat, String> {
    let fmt = base_format(st)?;
    let dir = crate::persistence::aof::aof_dir(st);
    let base_name = st.config.get("appendfilename");
    let seq = crate::persistence::aof_manifest::next_seq_on_disk(&dir, base_name);
    let ext = crate::persistence::aof::base_ext(st);
    *new = Some(Planned {
        seq,
        base: format!("{base_name}.{seq}.base.{ext}"),
        kind: Kind::BaseOnly,
    });
    Ok(fmt)
}

/// Step 3 with the AOF off: a manifest listing only the new base; the files the old one
/// listed are removed.
fn install_base_only(st: &mut NodeState, seq: u64, base: &str) -> Result<(), String> {
    let dir = crate::persistence::aof::aof_dir(st);
    let base_name = st.config.get("appendfilename").to_string();
    let old = crate::persistence::aof_manifest::listed_on_disk(&dir, &base_name);
    crate::persistence::aof_manifest::write_manifest(
        &dir,
        &base_name,
        Some(&(base.to_string(), seq)),
        &[],
    )
    .map_err(|e| e.to_string())?;
    let gone = old.into_iter().map(|f| f.0).filter(|n| n != base);
    crate::persistence::aof::remove_files(&dir, gone);
    st.persist.aof_rewrites += 1;
    Ok(())
}

/// The base's encoding for the snapshot that starts now, with the aux fields of this instant.
fn base_format(st: &NodeState) -> Result<BaseFormat, String> {
    if crate::persistence::aof::base_ext(st) == "rdb" {
        let aux = crate::persistence::rdb_file::aux_fields(
            true,
            (&st.replid, st.repl.offset),
            crate::persistence::rdb_file::stream_db(st),
        );
        Ok(BaseFormat::Rdb(crate::persistence::snapshot::rdb_format(
            st, &aux,
        )?))
    } else {
        // The function libraries first, as FUNCTION LOAD commands (Redis writes them so).
        let mut f = CommandFormat::default();
        // With aof-timestamp-enabled the base opens with the time of the rewrite, as Redis's.
        if st.config.get_bool("aof-timestamp-enabled") {
            let ts = format!("#TS:{}\r\n", crate::clock::now_ms() / 1000);
            f.buf.extend_from_slice(ts.as_bytes());
        }
        for code in st.functions.as_ref().map(|f| f.codes()).unwrap_or_default() {
            let argv = [
                Bytes::from_static(b"FUNCTION"),
                Bytes::from_static(b"LOAD"),
                code,
            ];
            crate::state::stream::encode_command(&mut f.buf, &argv);
        }
        Ok(BaseFormat::Commands(f))
    }
}

/// Step 1 when turning the AOF on: the writes from now on go to the temp incr file; nothing
/// is listed yet.
fn open_initial(st: &mut NodeState, new: &mut Option<Planned>) -> Result<BaseFormat, String> {
    let fmt = base_format(st)?;
    let dir = crate::persistence::aof::aof_dir(st);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let a = {
        let base_name = st.config.get("appendfilename");
        let tmp = format!("temp-{base_name}.incr");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(dir.join(&tmp))
            .map_err(|e| e.to_string())?;
        tracing::info!("Creating AOF incr file {tmp} on background rewrite");
        let seq = crate::persistence::aof_manifest::next_seq_on_disk(&dir, base_name);
        let mut a = crate::state::aof::Aof::open(st, dir, seq, file);
        a.initial = Some(tmp);
        a
    };
    let seq = a.seq;
    let ext = crate::persistence::aof::base_ext(st);
    *new = Some(Planned {
        seq,
        base: format!("{}.{seq}.base.{ext}", a.base_name),
        kind: Kind::Initial,
    });
    st.aof = Some(a);
    st.stream.enabled = true;
    // The incr file must say which database its first command is for.
    st.stream.reset_select();
    Ok(fmt)
}

/// Step 3 when turning the AOF on: the temp incr file becomes `<name>.<seq>.incr.aof` and the
/// first manifest lists it after the base.
fn install_initial(st: &mut NodeState, seq: u64, base: &str) -> Result<(), String> {
    let Some(a) = st.aof.as_mut() else {
        return Err("the AOF was turned off during the rewrite".into());
    };
    let Some(tmp) = a.initial.clone().filter(|_| a.seq == seq) else {
        return Err("the AOF was replaced during the rewrite".into());
    };
    let name = format!("{}.{seq}.incr.aof", a.base_name);
    let old = crate::persistence::aof_manifest::listed_on_disk(&a.dir, &a.base_name);
    std::fs::rename(a.dir.join(&tmp), a.dir.join(&name)).map_err(|e| e.to_string())?;
    tracing::info!("Successfully renamed the temporary AOF incr file {tmp} into {name}");
    a.base = Some((base.to_string(), seq));
    a.incrs = vec![(name.clone(), seq)];
    if let Err(e) = a.write_manifest() {
        let _ = std::fs::rename(a.dir.join(&name), a.dir.join(&tmp));
        a.base = None;
        a.incrs.clear();
        return Err(e.to_string());
    }
    a.initial = None;
    a.rebase();
    let keep = [base.to_string(), name];
    let gone = old.into_iter().map(|f| f.0).filter(|n| !keep.contains(n));
    crate::persistence::aof::remove_files(&a.dir, gone);
    st.persist.aof_turning_on = false;
    st.persist.aof_rewrites += 1;
    Ok(())
}

/// Step 3, under the lock: the manifest lists the new base and the incr files from `seq` on;
/// the files before are removed. Refused if the AOF changed hands meanwhile (turned off, or
/// rewritten in place after a full resync).
fn install(st: &mut NodeState, seq: u64, base: &str) -> Result<(), String> {
    let Some(a) = st.aof.as_mut() else {
        return Err("the AOF was turned off during the rewrite".into());
    };
    if !a.incrs.iter().any(|(_, s)| *s == seq) {
        return Err("the AOF was replaced during the rewrite".into());
    }
    let old: Vec<String> = a
        .base
        .iter()
        .chain(a.incrs.iter().filter(|(_, s)| *s < seq))
        .map(|(n, _)| n.clone())
        .collect();
    let (prev_base, prev_incrs) = (a.base.clone(), a.incrs.clone());
    a.base = Some((base.to_string(), seq));
    a.incrs.retain(|(_, s)| *s >= seq);
    if let Err(e) = a.write_manifest() {
        a.base = prev_base;
        a.incrs = prev_incrs;
        return Err(e.to_string());
    }
    crate::persistence::aof::remove_files(&a.dir, old);
    a.rebase();
    st.persist.aof_rewrites += 1;
    Ok(())
}
