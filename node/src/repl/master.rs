//! The master side: PSYNC / SYNC (partial resync from the backlog, or a full resync with a
//! snapshot), REPLCONF from replicas (listening-port, ip-address, capa, ACK), and the offsets
//! WAIT counts.
//!
//! A full resync is sent by a thread, from a point-in-time capture of the dataset: streamed with
//! an EOF mark to replicas with `capa eof` ([`super::diskless`]), else written to a file and
//! sent with its length ([`super::disk_sync`]).

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
        syncing: false,
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
    if psync && ctx.sess.repl.capa_eof && ctx.st.config.get_bool("repl-diskless-sync") {
        return super::diskless::queue(ctx, ip, port);
    }
    super::disk_sync::queue(ctx, ip, port, psync);
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
    st.repl.pending_sync.retain(|p| p.client.id != client);
    if let Some(i) = st.repl.replicas.iter().position(|r| r.client.id == client) {
        let r = st.repl.replicas.remove(i);
        tracing::info!("Connection with replica {}:{} lost.", r.ip, r.port);
        if st.repl.replicas.is_empty() {
            st.repl.no_replicas_since = Instant::now();
        }
    }
}
