//! The master side: PSYNC / SYNC (partial resync from the backlog, or a full resync with a
//! snapshot), REPLCONF from replicas (listening-port, ip-address, capa, ACK), and the offsets
//! WAIT counts.
//!
//! A full resync is sent by a thread, from a point-in-time capture of the dataset: streamed with
//! an EOF mark to replicas with `capa eof` ([`super::diskless`]), else written to a file and
//! sent with its length ([`super::disk_sync`]).

use crate::state::repl::{ReplState, ReplicaInfo};
use crate::state::{Node, NodeState, Session};
use bytes::Bytes;
use picket::resp::Reply;
use picket::server::ClientKind;
use std::time::Instant;

/// Whether `PSYNC id off` can continue from the backlog.
pub fn can_continue(st: &NodeState, id: &[u8], off: u64) -> Result<(), String> {
    let ours = id == st.replid.as_bytes();
    let second = id == st.replid2.as_bytes() && off as i64 <= st.repl.second_offset;
    if !ours && !second {
        if id == st.replid2.as_bytes() {
            return Err(format!(
                "Requested offset for second ID was {off}, but I can reply up to {}",
                st.repl.second_offset
            ));
        }
        return Err(format!(
            "Replication ID mismatch (Replica asked for '{}', my replication IDs are '{}' and '{}')",
            String::from_utf8_lossy(id),
            st.replid,
            st.replid2
        ));
    }
    let Some(b) = &st.repl.backlog else {
        return Err("No backlog".into());
    };
    if off < b.first_offset() || off > b.first_offset() + b.histlen() {
        return Err(format!(
            "Unable to partial resync with replica for lack of backlog (Replica request was: {off})."
        ));
    }
    Ok(())
}

/// The session becomes an attached replica that acknowledged `ack_off`.
pub fn attach(
    st: &mut NodeState,
    sess: &mut Session,
    ip: String,
    port: u16,
    pre_psync: bool,
    ack_off: u64,
) {
    sess.repl.is_replica = true;
    sess.client.set_kind(ClientKind::Replica);
    st.repl.replicas.push(ReplicaInfo {
        client: sess.client.clone(),
        ip,
        port,
        pre_psync,
        ack_off,
        ack_time: Instant::now(),
        fenced_off: 0,
        held: None,
        syncing: false,
    });
}

/// `+CONTINUE` and the backlog from `off`: the replica is attached.
pub fn continue_partial(
    st: &mut NodeState,
    sess: &mut Session,
    out: &mut Reply,
    ip: String,
    port: u16,
    off: u64,
) {
    let data = st
        .repl
        .backlog
        .as_ref()
        .and_then(|b| b.from_offset(off))
        .unwrap_or_default();
    if sess.repl.capa_psync2 {
        out.raw(format!("+CONTINUE {}\r\n", st.replid).as_bytes());
    } else {
        out.raw(b"+CONTINUE\r\n");
    }
    out.raw(&data);
    st.repl.sync_partial_ok += 1;
    tracing::info!(
        "Partial resynchronization request from {ip}:{port} accepted. Sending {} bytes of backlog starting from offset {off}.",
        data.len()
    );
    attach(st, sess, ip, port, false, off.saturating_sub(1));
}

/// A full resync: streamed from a snapshot to a replica with `capa eof` when
/// `repl-diskless-sync yes`, else written to a file and sent with its length.
pub fn full_resync(
    node: &Node,
    st: &mut NodeState,
    sess: &mut Session,
    ip: String,
    port: u16,
    psync: bool,
) {
    tracing::info!("Full resync requested by replica {ip}:{port}");
    sess.repl.is_replica = true;
    sess.client.set_kind(ClientKind::Replica);
    if let Some(filter) = sess.repl.rdb_filter {
        return send_filtered(st, sess, (ip, port), psync, filter);
    }
    if psync && sess.repl.capa_eof && st.config.get_bool("repl-diskless-sync") {
        return super::diskless::queue(node, st, sess.client.clone(), ip, port);
    }
    super::disk_sync::queue(node, sess.client.clone(), ip, port, psync);
}

/// A snapshot without the keys (redis-cli --functions-rdb): the header, the functions when the
/// filter keeps them, the end; small, so written at once, under the lock.
fn send_filtered(
    st: &mut NodeState,
    sess: &mut Session,
    (ip, port): (String, u16),
    psync: bool,
    filter: crate::state::repl::RdbFilter,
) {
    let offset = super::full_sync_offset(st);
    let aux = crate::persistence::rdb_file::aux_fields(false, (&st.replid, offset), Some(0));
    let rdb = if filter.functions {
        crate::persistence::snapshot::rdb_format(st, &aux)
    } else {
        crate::rdb::write::Writer::new(Vec::new(), &aux, false, true).map_err(|e| e.to_string())
    }
    .and_then(|mut w| {
        let mut rdb = w.take_bytes();
        rdb.extend_from_slice(&w.finish().map_err(|e| e.to_string())?);
        Ok(rdb)
    });
    let rdb = match rdb {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("Can't write the snapshot for rdb-filter-only: {e}");
            return sess.client.kill();
        }
    };
    tracing::info!(
        "Starting BGSAVE for SYNC with target: replicas sockets (rdb-filter-only: no keys)"
    );
    if psync {
        let head = format!("+FULLRESYNC {} {offset}\r\n", st.replid);
        sess.client.send_unlimited(Bytes::from(head));
    }
    sess.client
        .send_unlimited(Bytes::from(format!("${}\r\n", rdb.len())));
    sess.client.send_unlimited(Bytes::from(rdb));
    // Online at once: the stream from `offset` follows the payload (redis-cli --replica).
    st.stream.reset_select();
    let mut r = ReplicaInfo::syncing(sess.client.clone(), ip, port, !psync, offset);
    r.syncing = false;
    r.held = None;
    st.repl.replicas.push(r);
    st.repl.sync_full += 1;
}

/// A replica acknowledged `off` (the caller wakes the WAITs it satisfies).
pub fn ack(st: &mut NodeState, client: u64, off: u64) {
    if let Some(r) = st.repl.replicas.iter_mut().find(|r| r.client.id == client) {
        r.ack_off = r.ack_off.max(off);
        r.ack_time = Instant::now();
        // The first ACK after an EOF-marked snapshot releases the stream.
        if let Some(h) = r.held.take() {
            if !h.is_empty() {
                r.client.send(Bytes::from(h), st.repl.obuf_limit);
            }
        }
    }
}

/// Replicas that acknowledged at least `off` (what WAIT counts).
pub fn acked(repl: &ReplState, off: u64) -> usize {
    repl.replicas
        .iter()
        .filter(|r| !r.pre_psync && r.ack_off >= off)
        .count()
}

/// A replica's connection closed.
pub fn detach(st: &mut NodeState, client: u64) {
    st.repl.pending_sync.retain(|p| p.client.id != client);
    if let Some(i) = st.repl.replicas.iter().position(|r| r.client.id == client) {
        let r = st.repl.replicas.remove(i);
        tracing::info!("Connection with replica {}:{} lost.", r.ip, r.port);
        if st.repl.replicas.is_empty() {
            st.repl.no_replicas_since = Instant::now();
        }
    }
}
