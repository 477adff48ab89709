//! Snapshots taken while the node keeps serving (BGSAVE, the save points, diskless full
//! resyncs): a point-in-time capture of the keyspace (see [`crate::db::capture`]) written a
//! slice at a time. The node's lock is held for one slice (about [`SLICE`] entries, a
//! millisecond or two) and let go while the slice's bytes go to the file or to the replicas, so
//! clients run, and write, between slices. There is no fork and no second copy of the dataset:
//! only the entries written to while the snapshot runs are copied, once each.

use crate::db::{Db, SBytes, Value};
use crate::rdb::write::Writer;
use crate::server::{now_ms, Node, NodeState};
use std::io::Write;

/// Entries written per slice while holding the lock.
pub const SLICE: usize = 2048;

/// Bytes gathered before they are handed to the output while a database is written without
/// the lock (detached contents and kept entries).
const FLUSH_AT: usize = 1 << 20;

/// Writes the keyspace as it is at the start of the call as an RDB stream into `out`.
///
/// `begin` runs under the lock in the same critical section that starts the capture (so it can
/// record a replication offset that matches the snapshot exactly) and returns the aux fields,
/// or an error to give up before anything is written. The capture ends however this returns.
/// Returns `out` and the number of bytes written.
pub fn write_snapshot<W: Write>(
    node: &Node,
    begin: impl FnOnce(&mut NodeState) -> Result<Vec<(&'static str, String)>, String>,
    mut out: W,
) -> std::io::Result<(W, u64)> {
    let (mut w, ndb, now) = {
        let mut st = node.state.lock();
        if st.ks.capturing() {
            return Err(std::io::Error::other("a snapshot is already being taken"));
        }
        let aux = begin(&mut st).map_err(std::io::Error::other)?;
        let compress = st.config.get_bool("rdbcompression");
        let checksum = st.config.get_bool("rdbchecksum");
        let w = Writer::new(Vec::with_capacity(FLUSH_AT), &aux, compress, checksum)?;
        st.ks.begin_capture();
        (w, st.ks.dbs.len(), now_ms())
    };
    let res = (0..ndb).try_for_each(|s| write_db(node, s, now, &mut w, &mut out));
    let kept = node.state.lock().ks.end_capture();
    res?;
    if kept > 0 {
        tracing::info!("Snapshot: {kept} entries written to during the snapshot were kept as they were at its start");
    }
    let body = w.take_bytes();
    out.write_all(&body)?;
    let total = w.bytes_written() + 9;
    let tail = w.finish()?;
    out.write_all(&tail)?;
    out.flush()?;
    Ok((out, total))
}

/// Writes start database `s`: the live walk a slice at a time, then what was detached from it
/// and the entries kept for it, outside the lock.
fn write_db<W: Write>(
    node: &Node,
    s: usize,
    now: i64,
    w: &mut Writer<Vec<u8>>,
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
        {
            let mut st = node.state.lock();
            cursor = st.ks.capture_step(s, cursor, SLICE, &mut |k, v, exp| {
                if err.is_none() {
                    if let Err(e) = write_key(w, now, k, v, exp) {
                        err = Some(e);
                    }
                }
            });
        }
        if let Some(e) = err {
            return Err(e);
        }
        out.write_all(&w.take_bytes())?;
        if cursor == 0 {
            break;
        }
    }
    let (detached, kept) = node.state.lock().ks.capture_finish_db(s);
    if let Some(db) = detached {
        write_detached(&db, gen, now, w, out)?;
    }
    for (k, v, exp) in &kept {
        write_key(w, now, k, v, *exp)?;
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
    now: i64,
    w: &mut Writer<Vec<u8>>,
    out: &mut W,
) -> std::io::Result<()> {
    for (k, e) in db.main.iter() {
        if e.snap == gen {
            continue;
        }
        write_key(w, now, k, &e.val, db.expires.get(k).copied())?;
        if w.pending() >= FLUSH_AT {
            out.write_all(&w.take_bytes())?;
        }
    }
    Ok(())
}

/// One key, unless it had already expired when the snapshot started.
fn write_key(
    w: &mut Writer<Vec<u8>>,
    now: i64,
    k: &SBytes,
    v: &Value,
    exp: Option<i64>,
) -> std::io::Result<()> {
    if matches!(exp, Some(t) if t <= now) {
        return Ok(());
    }
    w.key(k, v, exp)
}
