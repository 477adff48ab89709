//! INFO replication and ROLE, in Redis 7.0's exact templates for both roles.

use crate::state::repl::{LinkState, MasterLink};
use crate::state::NodeState;
use picket::resp::Reply;

fn secs_since(t: Option<std::time::Instant>) -> i64 {
    t.map(|t| t.elapsed().as_secs() as i64).unwrap_or(-1)
}

/// The lines of `# Replication`: a replica's link first, then the replicas of this node, the
/// replication ids and offsets, the backlog.
pub fn info_lines(st: &NodeState) -> Vec<String> {
    let r = &st.repl;
    let mut l = Vec::new();
    match &r.master {
        None => l.push("role:master".to_string()),
        Some(m) => replica_lines(&mut l, st, m),
    }
    l.push(format!(
        "connected_slaves:{}",
        r.replicas.len() + r.pending_sync.len()
    ));
    let min_to_write = st.settings.min_replicas_to_write;
    let max_lag = st.settings.min_replicas_max_lag;
    if min_to_write > 0 && max_lag > 0 {
        l.push(format!(
            "min_slaves_good_slaves:{}",
            r.good_replicas(max_lag as u64)
        ));
    }
    attached_lines(&mut l, st);
    l.push(format!("master_failover_state:{}", r.failover.state.name()));
    l.push(format!("master_replid:{}", st.replid));
    l.push(format!("master_replid2:{}", st.replid2));
    l.push(format!("master_repl_offset:{}", r.offset));
    l.push(format!("second_repl_offset:{}", r.second_offset));
    backlog_lines(&mut l, st);
    l
}

/// A replica's fields: its master, the link, the offsets, a full sync in progress.
fn replica_lines(l: &mut Vec<String>, st: &NodeState, m: &MasterLink) {
    l.push("role:slave".to_string());
    l.push(format!("master_host:{}", m.host));
    l.push(format!("master_port:{}", m.port));
    let up = m.state == LinkState::Connected;
    l.push(format!(
        "master_link_status:{}",
        if up { "up" } else { "down" }
    ));
    l.push(format!(
        "master_last_io_seconds_ago:{}",
        if m.client.is_some() {
            secs_since(m.last_io)
        } else {
            -1
        }
    ));
    let syncing = m.state == LinkState::Sync;
    l.push(format!("master_sync_in_progress:{}", u8::from(syncing)));
    l.push(format!(
        "slave_read_repl_offset:{}",
        m.read_reploff.unwrap_or(1)
    ));
    l.push(format!("slave_repl_offset:{}", m.reploff.unwrap_or(1)));
    if syncing {
        sync_lines(l, m);
    }
    if !up {
        l.push(format!(
            "master_link_down_since_seconds:{}",
            secs_since(m.down_since)
        ));
    }
    l.push(format!(
        "slave_priority:{}",
        st.config.get("replica-priority")
    ));
    l.push(format!(
        "slave_read_only:{}",
        u8::from(st.config.get_bool("replica-read-only"))
    ));
    l.push(format!(
        "replica_announced:{}",
        u8::from(st.config.get_bool("replica-announced"))
    ));
}

/// The progress of a full sync being received.
fn sync_lines(l: &mut Vec<String>, m: &MasterLink) {
    let (total, read) = m.sync_bytes;
    l.push(format!("master_sync_total_bytes:{total}"));
    l.push(format!("master_sync_read_bytes:{read}"));
    l.push(format!(
        "master_sync_left_bytes:{}",
        if total < 0 { -1 } else { total - read as i64 }
    ));
    let perc = if total > 0 {
        read as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    l.push(format!("master_sync_perc:{perc:.2}"));
    l.push(format!(
        "master_sync_last_io_seconds_ago:{}",
        secs_since(m.sync_last_io).max(0)
    ));
}

/// `slaveN:` for every attached replica and every replica waiting for a diskless sync.
fn attached_lines(l: &mut Vec<String>, st: &NodeState) {
    let r = &st.repl;
    for (i, s) in r.replicas.iter().enumerate() {
        l.push(if s.syncing {
            format!(
                "slave{i}:ip={},port={},state=wait_bgsave,offset=0,lag=0",
                s.ip, s.port
            )
        } else {
            format!(
                "slave{i}:ip={},port={},state=online,offset={},lag={}",
                s.ip,
                s.port,
                s.ack_off,
                s.ack_time.elapsed().as_secs()
            )
        });
    }
    for (i, p) in r.pending_sync.iter().enumerate() {
        l.push(format!(
            "slave{}:ip={},port={},state=wait_bgsave,offset=0,lag=0",
            r.replicas.len() + i,
            p.ip,
            p.port
        ));
    }
}

/// The backlog's fields (the configured size when there is none).
fn backlog_lines(l: &mut Vec<String>, st: &NodeState) {
    let r = &st.repl;
    match &r.backlog {
        Some(b) => {
            l.push("repl_backlog_active:1".to_string());
            l.push(format!("repl_backlog_size:{}", b.size()));
            l.push(format!(
                "repl_backlog_first_byte_offset:{}",
                b.first_offset()
            ));
            l.push(format!("repl_backlog_histlen:{}", b.histlen()));
        }
        None => {
            l.push("repl_backlog_active:0".to_string());
            l.push(format!(
                "repl_backlog_size:{}",
                st.config.get_i64("repl-backlog-size")
            ));
            l.push("repl_backlog_first_byte_offset:0".to_string());
            l.push("repl_backlog_histlen:0".to_string());
        }
    }
    if st.settings.fencing {
        fencing_lines(l, st);
    }
}

/// Fencing mode's state (docs/fencing.md); only with `fencing yes`, so INFO stays Redis's.
fn fencing_lines(l: &mut Vec<String>, st: &NodeState) {
    let now = std::time::Instant::now();
    let lease = st.fencing.lease(now);
    l.push(format!(
        "fencing_lease:{}",
        if lease.is_some() { "held" } else { "none" }
    ));
    let left = st.fencing.lease_remaining(now).map_or(0, |d| d.as_millis());
    l.push(format!("fencing_lease_remaining_ms:{left}"));
    l.push(format!("fencing_grants:{}", st.fencing.grants(now)));
    l.push(format!("fencing_acks_needed:{}", st.fencing.acks_needed()));
    let eligible = lease.map(|v| v.eligible.join(",")).unwrap_or_default();
    l.push(format!("fencing_eligible:{eligible}"));
}

/// ROLE.
pub fn role(st: &NodeState, out: &mut Reply) {
    match &st.repl.master {
        None => {
            out.array(3);
            out.bulk(b"master");
            out.int(st.repl.offset as i64);
            let online: Vec<_> = st.repl.replicas.iter().filter(|r| !r.pre_psync).collect();
            out.array(online.len());
            for r in online {
                out.array(3);
                out.bulk(r.ip.as_bytes());
                out.bulk(r.port.to_string().as_bytes());
                out.bulk(r.ack_off.to_string().as_bytes());
            }
        }
        Some(m) => {
            out.array(5);
            out.bulk(b"slave");
            out.bulk(m.host.as_bytes());
            out.int(m.port as i64);
            out.bulk(m.state.role_name().as_bytes());
            out.int(match (m.state, m.reploff) {
                (LinkState::Connected, Some(o)) => o as i64,
                _ => -1,
            });
        }
    }
}
