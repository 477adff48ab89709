//! PSYNC, SYNC and REPLCONF: the master's side of the replication handshake, as commands. The
//! mechanics (partial resync from the backlog, full resync from a snapshot, ACKs) are in
//! [`crate::repl::master`].

use super::Ctx;
use crate::repl::master;
use bytes::Bytes;
use picket::args::Args;

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

/// PSYNC <replid> <offset> and SYNC.
pub fn sync(ctx: &mut Ctx, a: &[Bytes]) {
    // Already a replica: ignored, as Redis does.
    if ctx.sess.repl.is_replica {
        return;
    }
    // FAILOVER's request to take over: this replica becomes a master first (when the
    // replication id is its own), then continues its old master as a replica.
    let psync = picket::args::eq_ic(&a[0], "psync");
    if psync && a.len() > 3 && picket::args::eq_ic(&a[3], "failover") {
        if a[1][..] != *ctx.st.replid.as_bytes() {
            return ctx
                .out
                .error("ERR PSYNC FAILOVER replid must match my replid.");
        }
        crate::repl::link::promote(ctx.node, ctx.st);
        tracing::info!(
            "Failover request received for replid {}, promoting to primary.",
            String::from_utf8_lossy(&a[1])
        );
    }
    if ctx.st.repl.failover.state != crate::state::repl::FailoverState::None {
        return ctx.out.error("NOMASTERLINK Can't SYNC while failing over");
    }
    if ctx.st.repl.link_down() {
        return ctx
            .out
            .error("NOMASTERLINK Can't SYNC while not connected with my master");
    }
    let ip = replica_ip(ctx);
    let port = ctx.sess.repl.listening_port;
    let wanted = if psync {
        match Args::at(a, 2).int() {
            Ok(n) => Some((a[1].clone(), n)),
            Err(e) => {
                tracing::warn!(
                    "Replica {ip}:{port} asks for synchronization but with a wrong offset"
                );
                return ctx.out.error(&e);
            }
        }
    } else {
        None
    };
    tracing::info!("Replica {ip}:{port} asks for synchronization");
    // What the batch wrote so far belongs before the snapshot's offset.
    crate::propagate::flush(ctx.st);
    if let Some((id, off)) = &wanted {
        if id.as_ref() != b"?" {
            match master::can_continue(ctx.st, id, (*off).max(0) as u64) {
                Ok(()) => {
                    return master::continue_partial(
                        ctx.st,
                        ctx.sess,
                        ctx.out,
                        ip,
                        port,
                        *off as u64,
                    )
                }
                Err(why) => {
                    ctx.st.repl.sync_partial_err += 1;
                    tracing::info!("Partial resynchronization not accepted: {why}");
                }
            }
        }
    }
    master::full_resync(ctx.node, ctx.st, ctx.sess, ip, port, psync);
}

/// REPLCONF <option> <value> ...
pub fn replconf(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() > 1 && picket::args::eq_ic(&a[1], "fencing-lease") {
        return super::fencing::lease(ctx, a);
    }
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
                        master::ack(ctx.st, ctx.sess.client.id, off.max(0) as u64);
                        super::fencing::on_ack(ctx.st, ctx.sess.client.id, off.max(0) as u64);
                        super::blocking::serve_waits(ctx.st);
                        crate::repl::failover::tick(ctx.node, ctx.st);
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
            "rdb-only" => {}
            "rdb-filter-only" => {
                let text = String::from_utf8_lossy(val);
                let mut functions = false;
                for f in text.split_whitespace() {
                    if !f.eq_ignore_ascii_case("functions") {
                        return ctx
                            .out
                            .error(&format!("ERR Unsupported rdb-filter-only option: {f}"));
                    }
                    functions = true;
                }
                ctx.sess.repl.rdb_filter = Some(crate::state::repl::RdbFilter { functions });
            }
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
