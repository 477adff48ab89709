//! The master side: PSYNC / SYNC (partial resync from the backlog, or a full resync with a
//! snapshot), REPLCONF from replicas (listening-port, ip-address, capa, ACK), and the offsets
//! WAIT counts.
//!
//! A full resync is answered in the PSYNC reply itself: `+FULLRESYNC <replid> <offset>`, then
//! `$<len>` and the snapshot, taken under the node's lock at that offset, so the stream the
//! replica receives next (through its push queue) starts exactly after it. No fork, no second
//! copy of the dataset: the serialised snapshot is the only extra memory.

use super::{ReplState, ReplicaInfo};
use crate::cmd::Ctx;
use crate::server::NodeState;
use bytes::Bytes;
use picket::server::ClientKind;
use std::time::Instant;

/// The replica's address as INFO shows it: REPLCONF ip-address, else the peer address.
fn replica_ip(ctx: &Ctx) -> String {
    if let Some(ip) = &ctx.sess.repl.ip_address {
        return ip.clone();
    }
    let addr = &ctx.sess.client.addr;
    addr.rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']').to_string())
        .unwrap_or_else(|| addr.clone())
}

/// Whether `PSYNC id off` can continue from the backlog.
fn can_continue(st: &NodeState, id: &[u8], off: u64) -> Result<(), String> {
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

/// PSYNC <replid> <offset> and SYNC.
pub fn sync(ctx: &mut Ctx, a: &[Bytes]) {
    // Already a replica: ignored, as Redis does.
    if ctx.sess.repl.is_replica {
        return;
    }
    if ctx.st.repl.link_down() {
        return ctx
            .out
            .error("NOMASTERLINK Can't SYNC while not connected with my master");
    }
    let psync = a.len() == 3;
    let wanted = if psync {
        match picket::args::int_arg(&a[2]).ok() {
            Some(n) => Some((a[1].clone(), n)),
            None => return ctx.out.error(picket::args::ERR_NOT_INT),
        }
    } else {
        None
    };
    let ip = replica_ip(ctx);
    let port = ctx.sess.repl.listening_port;
    tracing::info!("Replica {ip}:{port} asks for synchronization");
    // What the batch wrote so far belongs before the snapshot's offset.
    super::flush_stream(ctx.st);
    if let Some((id, off)) = &wanted {
        if id.as_ref() != b"?" {
            match can_continue(ctx.st, id, (*off).max(0) as u64) {
                Ok(()) => return continue_partial(ctx, ip, port, *off as u64),
                Err(why) => {
                    ctx.st.repl.sync_partial_err += 1;
                    tracing::info!("Partial resynchronization not accepted: {why}");
                }
            }
        }
    }
    full_resync(ctx, ip, port, psync);
}

fn attach(ctx: &mut Ctx, ip: String, port: u16, pre_psync: bool, ack_off: u64) {
    ctx.sess.repl.is_replica = true;
    ctx.sess.client.set_kind(ClientKind::Replica);
    ctx.st.repl.replicas.push(ReplicaInfo {
        client: ctx.sess.client.clone(),
        ip,
        port,
        pre_psync,
        ack_off,
        ack_time: Instant::now(),
        held: None,
    });
}

fn continue_partial(ctx: &mut Ctx, ip: String, port: u16, off: u64) {
    let data = ctx
        .st
        .repl
        .backlog
        .as_ref()
        .and_then(|b| b.from_offset(off))
        .unwrap_or_default();
    if ctx.sess.repl.capa_psync2 {
        ctx.out
            .raw(format!("+CONTINUE {}\r\n", ctx.st.replid).as_bytes());
    } else {
        ctx.out.raw(b"+CONTINUE\r\n");
    }
    ctx.out.raw(&data);
    ctx.st.repl.sync_partial_ok += 1;
    tracing::info!(
        "Partial resynchronization request from {ip}:{port} accepted. Sending {} bytes of backlog starting from offset {off}.",
        data.len()
    );
    attach(ctx, ip, port, false, off.saturating_sub(1));
}

fn full_resync(ctx: &mut Ctx, ip: String, port: u16, psync: bool) {
    tracing::info!("Full resync requested by replica {ip}:{port}");
    if psync && ctx.sess.repl.capa_eof {
        return streamed_resync(ctx, ip, port);
    }
    if ctx.st.repl.backlog.is_none() {
        super::change_replid(ctx.st);
        super::clear_replid2(ctx.st);
        super::create_backlog(ctx.st);
        tracing::info!(
            "Replication backlog created, my new replication IDs are '{}' and '{}'",
            ctx.st.replid,
            ctx.st.replid2
        );
    }
    let offset = ctx.st.repl.offset;
    let rdb = match crate::persist::rdb_for_replica(ctx.st, offset) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("Can't write the snapshot for replica {ip}:{port}: {e}");
            return ctx
                .out
                .error("ERR BGSAVE failed, replication can't continue");
        }
    };
    // The stream after the snapshot starts with a SELECT.
    ctx.st.stream.reset_select();
    if psync {
        ctx.out
            .raw(format!("+FULLRESYNC {} {}\r\n", ctx.st.replid, offset).as_bytes());
    }
    ctx.out.raw(format!("${}\r\n", rdb.len()).as_bytes());
    ctx.out.raw(&rdb);
    ctx.st.repl.sync_full += 1;
    tracing::info!(
        "Synchronization with replica {ip}:{port} succeeded ({} bytes of snapshot at offset {offset})",
        rdb.len()
    );
    attach(ctx, ip, port, !psync, offset);
}

/// REPLCONF <option> <value> ...
pub fn replconf(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len().is_multiple_of(2) {
        return ctx.out.error(picket::args::ERR_SYNTAX);
    }
    for pair in a[1..].chunks(2) {
        let opt = picket::args::lower(&pair[0]);
        let val = &pair[1];
        match opt.as_str() {
            "listening-port" => match picket::args::int_arg(val).ok() {
                Some(p) => ctx.sess.repl.listening_port = p as u16,
                None => return ctx.out.error(picket::args::ERR_NOT_INT),
            },
            "ip-address" => {
                if val.len() >= 46 {
                    return ctx.out.error(&format!(
                        "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                        val.len()
                    ));
                }
                ctx.sess.repl.ip_address = Some(String::from_utf8_lossy(val).into_owned());
            }
            "capa" => {
                if picket::args::eq_ic(val, "psync2") {
                    ctx.sess.repl.capa_psync2 = true;
                } else if picket::args::eq_ic(val, "eof") {
                    ctx.sess.repl.capa_eof = true;
                }
            }
            "ack" => {
                // Never answered; ignored unless this client is a replica.
                if ctx.sess.repl.is_replica {
                    if let Ok(off) = picket::args::int_arg(val) {
                        ack(ctx.st, ctx.sess.client.id, off.max(0) as u64);
                    }
                }
                return;
            }
            "getack" => {
                if ctx.sess.repl.is_master {
                    ctx.sess.repl.getack = true;
                }
                return;
            }
            "rdb-only" | "rdb-filter-only" => {}
            _ => {
                return ctx.out.error(&format!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(&pair[0])
                ))
            }
        }
    }
    ctx.out.ok();
}

/// A replica acknowledged `off`.
fn ack(st: &mut NodeState, client: u64, off: u64) {
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
    crate::cmd::blocking::serve_waits(st);
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
    if let Some(i) = st.repl.replicas.iter().position(|r| r.client.id == client) {
        let r = st.repl.replicas.remove(i);
        tracing::info!("Connection with replica {}:{} lost.", r.ip, r.port);
        if st.repl.replicas.is_empty() {
            st.repl.no_replicas_since = Instant::now();
        }
    }
}

/// A full resync for a replica that announced `capa eof`: the snapshot is written on another
/// thread, which takes the node's lock itself, records the offset, attaches the replica and
/// streams the snapshot through the replica's output queue in 1 MB pieces while it is being
/// serialised, framed `$EOF:<mark>` … `<mark>`. The connection keeps writing meanwhile, so the
/// replica receives and parses while the master serialises. The stream that follows is held
/// until the replica's first ACK.
fn streamed_resync(ctx: &mut Ctx, ip: String, port: u16) {
    let Some(node) = ctx.node.me.upgrade() else {
        return;
    };
    let client = ctx.sess.client.clone();
    // The session is marked now (later PSYNCs are ignored); the replica entry is added with
    // the snapshot's offset by the thread.
    ctx.sess.repl.is_replica = true;
    client.set_kind(ClientKind::Replica);
    std::thread::spawn(move || {
        let mut st = node.state.lock();
        if client.is_killed() {
            return;
        }
        super::flush_stream(&mut st);
        if st.repl.backlog.is_none() {
            super::change_replid(&mut st);
            super::clear_replid2(&mut st);
            super::create_backlog(&mut st);
            tracing::info!(
                "Replication backlog created, my new replication IDs are '{}' and '{}'",
                st.replid,
                st.replid2
            );
        }
        let offset = st.repl.offset;
        let mark = picket::random_hex_id();
        client.send_unlimited(Bytes::from(format!(
            "+FULLRESYNC {} {offset}\r\n$EOF:{mark}\r\n",
            st.replid
        )));
        tracing::info!("Starting snapshot for SYNC with target: replica socket {ip}:{port} (streamed, no fork)");
        let sink = ChunkSink {
            client: &client,
            buf: Vec::with_capacity(CHUNK),
            sent: 0,
        };
        match crate::persist::rdb_stream_for_replica(&st, offset, sink) {
            Ok(mut sink) => {
                sink.buf.extend_from_slice(mark.as_bytes());
                let n = sink.sent + sink.buf.len() as u64;
                client.send_unlimited(Bytes::from(std::mem::take(&mut sink.buf)));
                st.stream.reset_select();
                st.repl.sync_full += 1;
                st.repl.replicas.push(ReplicaInfo {
                    client: client.clone(),
                    ip: ip.clone(),
                    port,
                    pre_psync: false,
                    ack_off: 0,
                    ack_time: Instant::now(),
                    held: Some(Vec::new()),
                });
                tracing::info!(
                    "Synchronization with replica {ip}:{port} succeeded ({n} bytes of snapshot at offset {offset})"
                );
            }
            Err(e) => {
                tracing::warn!("Can't send the snapshot to replica {ip}:{port}: {e}");
                client.kill();
            }
        }
    });
}

const CHUNK: usize = 1 << 20;

/// Hands the snapshot to the replica's output queue in pieces as it is written.
struct ChunkSink<'a> {
    client: &'a std::sync::Arc<picket::server::ClientHandle>,
    buf: Vec<u8>,
    sent: u64,
}

impl std::io::Write for ChunkSink<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.sent += chunk.len() as u64;
        if !self.client.send_unlimited(Bytes::from(chunk)) {
            return Err(std::io::Error::other("replica gone"));
        }
        Ok(())
    }
}
