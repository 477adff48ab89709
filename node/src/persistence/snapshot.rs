//! Snapshots taken while the node keeps serving (BGSAVE, the save points, diskless full
//! resyncs): a point-in-time capture of the keyspace (see [`crate::db::capture`]) written a
//! slice at a time. The node's lock is held for one slice (about [`SLICE`] entries, a
//! millisecond or two) and let go while the slice's bytes go to the file or to the replicas, so
//! clients run, and write, between slices. There is no fork and no second copy of the dataset:
//! only the entries written to while the snapshot runs are copied, once each.
//!
//! The encoding is a [`Format`]: an RDB stream (BGSAVE, replicas, an AOF base with preamble) or
//! commands (an AOF base with `aof-use-rdb-preamble no`). Keys already expired are written
//! too, as Redis writes them: a replica keeps them until its master's DEL, a master restarted
//! from the file drops them and propagates the DELs.

use crate::db::{Db, Value};
use crate::rdb::write::Writer;
use crate::state::{Node, NodeState};
use std::io::Write;

/// Entries written per slice while holding the lock.
pub const SLICE: usize = 2048;

/// Bytes gathered before they are handed to the output while a database is written without
/// the lock (detached contents and kept entries).
const FLUSH_AT: usize = 1 << 20;

/// How a snapshot is encoded. Everything goes to an in-memory buffer that the driver hands to
/// the output between slices.
pub trait Format {
    /// Before the keys of database `db` (with its sizes at the start).
    fn select_db(&mut self, db: usize, keys: usize, expires: usize) -> std::io::Result<()>;
    fn key(&mut self, k: &[u8], v: &Value, exp: Option<i64>) -> std::io::Result<()>;
    /// The bytes produced since the last call.
    fn take_bytes(&mut self) -> Vec<u8>;
    fn pending(&self) -> usize;
    /// The last bytes (RDB: the EOF opcode and the checksum).
    fn finish(self) -> std::io::Result<Vec<u8>>;
}

impl Format for Writer<Vec<u8>> {
    fn select_db(&mut self, db: usize, keys: usize, expires: usize) -> std::io::Result<()> {
        Writer::select_db(self, db, keys, expires)
    }

    fn key(&mut self, k: &[u8], v: &Value, exp: Option<i64>) -> std::io::Result<()> {
        Writer::key(self, k, v, exp)
    }

    fn take_bytes(&mut self) -> Vec<u8> {
        Writer::take_bytes(self)
    }

    fn pending(&self) -> usize {
        Writer::pending(self)
    }

    fn finish(self) -> std::io::Result<Vec<u8>> {
        Writer::finish(self)
    }
}

/// An RDB writer with the node's `rdbcompression` / `rdbchecksum` and these aux fields.
pub fn rdb_format(
    st: &NodeState,
    aux: &[(&'static str, String)],
) -> Result<Writer<Vec<u8>>, String> {
    let compress = st.config.get_bool("rdbcompression");
    let checksum = st.config.get_bool("rdbchecksum");
    let mut w = Writer::new(Vec::with_capacity(FLUSH_AT), aux, compress, checksum)
        .map_err(|e| e.to_string())?;
    // The function libraries follow the aux fields, as in Redis's files.
    for code in st.functions.as_ref().map(|f| f.codes()).unwrap_or_default() {
        w.function(&code).map_err(|e| e.to_string())?;
    }
    Ok(w)
}

/// Writes the keyspace as it is at the start of the call into `out`, encoded by the [`Format`]
/// that `begin` returns.
///
/// `begin` runs under the lock in the same critical section that starts the capture, so what
/// it records (a replication offset, the switch to a new AOF incr file) matches the snapshot
/// exactly; an error from it gives up before anything is written. The capture ends however
/// this returns. Returns `out` and the number of bytes written.
pub fn write_snapshot<W: Write, F: Format>(
    node: &Node,
    begin: impl FnOnce(&mut NodeState) -> Result<F, String>,
    out: W,
) -> std::io::Result<(W, u64)> {
    let (mut w, ndb) = {
        let mut st = node.state.lock();
        if st.ks.capturing() {
            return Err(std::io::Error::other("a snapshot is already being taken"));
        }
        let w = begin(&mut st).map_err(std::io::Error::other)?;
        st.ks.begin_capture();
        (w, st.ks.dbs.len())
    };
    let mut out = Counted { w: out, n: 0 };
    let res = (0..ndb).try_for_each(|s| write_db(node, s, &mut w, &mut out));
    let kept = node.state.lock().ks.end_capture();
    res?;
    if kept > 0 {
        tracing::info!("Snapshot: {kept} entries written to during the snapshot were kept as they were at its start");
    }
    let body = w.take_bytes();
    out.write_all(&body)?;
    let tail = w.finish()?;
    out.write_all(&tail)?;
    out.flush()?;
    Ok((out.w, out.n))
}

/// Writes the dataset as it is, in one go, while the caller holds the lock (SAVE-like uses).
pub fn write_locked<W: Write, F: Format>(
    st: &NodeState,
    mut f: F,
    mut out: W,
) -> std::io::Result<W> {
    let delay = st.config.get_i64("rdb-key-save-delay");
    for (i, db) in st.ks.dbs.iter().enumerate() {
        if db.main.is_empty() {
            continue;
        }
        f.select_db(i, db.main.len(), db.expires.len())?;
        for (k, e) in db.main.iter() {
            f.key(k, &e.val, db.expires.get(k).copied())?;
            if delay != 0 {
                crate::clock::debug_delay(delay);
            }
            if f.pending() >= FLUSH_AT {
                out.write_all(&f.take_bytes())?;
            }
        }
    }
    out.write_all(&f.take_bytes())?;
    out.write_all(&f.finish()?)?;
    out.flush()?;
    Ok(out)
}

/// Counts the bytes written through it.
struct Counted<W> {
    w: W,
    n: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.w.write(b)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// Writes start database `s`: the live walk a slice at a time, then what was detached from it
/// and the entries kept for it, outside the lock.
fn write_db<W: Write>(
    node: &Node,
    s: usize,
    w: &mut impl Format,
    out: &mut W,
) -> std::io::Result<()> {
    let Some((gen, keys, expires)) = node.state.lock().ks.capture_info(s) else {
        return Err(std::io::Error::other("the snapshot was abandoned"));
    };
    if keys == 0 {
        node.state.lock().ks.capture_finish_db(s);
        return Ok(());
    }
    w.select_db(s, keys, expires)?;
    let mut cursor = 0;
    loop {
        let mut err = None;
        let delay;
        {
            let mut st = node.state.lock();
            // `rdb-key-save-delay` (Redis's testing directive): one key per slice, and the
            // delay after it with the lock let go, so clients run while the save crawls.
            delay = st.config.get_i64("rdb-key-save-delay");
            let slice = if delay != 0 { 1 } else { SLICE };
            cursor = st.ks.capture_step(s, cursor, slice, &mut |k, v, exp| {
                if err.is_none() {
                    if let Err(e) = w.key(k, v, exp) {
                        err = Some(e);
                    }
                }
            });
            // Hand the lock to a waiting client thread rather than taking it straight back.
            parking_lot::MutexGuard::unlock_fair(st);
        }
        if let Some(e) = err {
            return Err(e);
        }
        out.write_all(&w.take_bytes())?;
        if cursor == 0 {
            break;
        }
        if delay != 0 {
            crate::clock::debug_delay(delay);
        }
    }
    let (detached, kept) = node.state.lock().ks.capture_finish_db(s);
    if let Some(db) = detached {
        write_detached(&db, gen, w, out)?;
    }
    for (k, v, exp) in &kept {
        w.key(k, v, *exp)?;
        if w.pending() >= FLUSH_AT {
            out.write_all(&w.take_bytes())?;
        }
    }
    out.write_all(&w.take_bytes())
}

/// Contents flushed or replaced during the snapshot: what was not written before it left.
fn write_detached<W: Write>(
    db: &Db,
    gen: u32,
    w: &mut impl Format,
    out: &mut W,
) -> std::io::Result<()> {
    for (k, e) in db.main.iter() {
        if e.snap == gen {
            continue;
        }
        w.key(k, &e.val, db.expires.get(k).copied())?;
        if w.pending() >= FLUSH_AT {
            out.write_all(&w.take_bytes())?;
        }
    }
    Ok(())
}
