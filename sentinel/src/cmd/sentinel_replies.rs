//! The instance maps SENTINEL MASTER(S), REPLICAS and SENTINELS answer, as Redis 7.0 writes
//! them: every value a bulk string, the flags as Redis lists them.

use crate::core::{FailoverState, Instance, Master, Peer, Replica};
use picket::resp::Reply;

fn flags(inst: &Instance, master: Option<&Master>, extra: &[&str]) -> String {
    let mut f: Vec<&str> = Vec::new();
    if inst.s_down {
        f.push("s_down");
    }
    if let Some(m) = master {
        if m.o_down {
            f.push("o_down");
        }
    }
    f.push(inst.kind.name());
    if !inst.link.connected(inst.kind) {
        f.push("disconnected");
    }
    f.extend_from_slice(extra);
    if inst.master_reboot {
        f.push("master_reboot");
    }
    f.join(",")
}

/// Writes a map of string fields; every value is a bulk string.
pub fn write_map(out: &mut Reply, fields: &[(&str, String)]) {
    out.map(fields.len());
    for (k, v) in fields {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
}

fn common(
    inst: &Instance,
    ip: String,
    now: u64,
    flags: String,
    down_after: u64,
    failover: Option<FailoverState>,
) -> Vec<(&'static str, String)> {
    let l = &inst.link;
    let mut v = vec![
        ("name", inst.name.clone()),
        ("ip", ip),
        ("port", inst.port.to_string()),
        ("runid", inst.runid.clone().unwrap_or_default()),
        ("flags", flags),
        ("link-pending-commands", l.pending.to_string()),
        ("link-refcount", "1".to_string()),
    ];
    if let Some(f) = failover {
        v.push(("failover-state", f.name().to_string()));
    }
    v.push((
        "last-ping-sent",
        if l.act_ping_time != 0 {
            now.saturating_sub(l.act_ping_time).to_string()
        } else {
            "0".into()
        },
    ));
    v.push((
        "last-ok-ping-reply",
        now.saturating_sub(l.last_avail_time).to_string(),
    ));
    v.push((
        "last-ping-reply",
        now.saturating_sub(l.last_pong_time).to_string(),
    ));
    if inst.s_down {
        v.push((
            "s-down-time",
            now.saturating_sub(inst.s_down_since).to_string(),
        ));
    }
    v.push(("down-after-milliseconds", down_after.to_string()));
    v
}

fn data_fields(inst: &Instance, now: u64, v: &mut Vec<(&'static str, String)>) {
    v.push((
        "info-refresh",
        if inst.info_refresh == 0 {
            "0".into()
        } else {
            now.saturating_sub(inst.info_refresh).to_string()
        },
    ));
    v.push((
        "role-reported",
        if inst.role_reported_master {
            "master"
        } else {
            "slave"
        }
        .to_string(),
    ));
    v.push((
        "role-reported-time",
        now.saturating_sub(inst.role_reported_time).to_string(),
    ));
}

/// `ip` is the address as shown (`Sentinel::shown_host`: the hostname under
/// announce-hostnames yes).
pub fn master_map(m: &Master, ip: String, now: u64) -> Vec<(&'static str, String)> {
    let mut extra = Vec::new();
    if m.failover != FailoverState::None {
        extra.push("failover_in_progress");
    }
    if m.force_failover {
        extra.push("force_failover");
    }
    let fl = flags(&m.inst, Some(m), &extra);
    let mut v = common(
        &m.inst,
        ip,
        now,
        fl,
        m.down_after,
        (m.failover != FailoverState::None).then_some(m.failover),
    );
    if m.o_down {
        // o-down-time follows s-down-time.
        let pos = v
            .iter()
            .position(|(k, _)| *k == "down-after-milliseconds")
            .unwrap_or(v.len());
        v.insert(
            pos,
            (
                "o-down-time",
                now.saturating_sub(m.o_down_since).to_string(),
            ),
        );
    }
    data_fields(&m.inst, now, &mut v);
    v.push(("config-epoch", m.config_epoch.to_string()));
    v.push(("num-slaves", m.replicas.len().to_string()));
    v.push(("num-other-sentinels", m.sentinels.len().to_string()));
    v.push(("quorum", m.quorum.to_string()));
    v.push(("failover-timeout", m.failover_timeout.to_string()));
    v.push(("parallel-syncs", m.parallel_syncs.to_string()));
    if let Some(f) = &m.fencing {
        v.push(("fencing-acks", f.acks.to_string()));
        let blocked = f.blocked.clone().unwrap_or_default();
        v.push(("fencing-blocked", blocked));
    }
    if let Some(s) = &m.notification_script {
        v.push(("notification-script", s.clone()));
    }
    if let Some(s) = &m.client_reconfig_script {
        v.push(("client-reconfig-script", s.clone()));
    }
    v
}

pub fn replica_map(m: &Master, r: &Replica, ip: String, now: u64) -> Vec<(&'static str, String)> {
    let mut extra = Vec::new();
    if r.promoted {
        extra.push("promoted");
    }
    match r.reconf {
        crate::core::Reconf::Sent(_) => extra.push("reconf_sent"),
        crate::core::Reconf::InProgress => extra.push("reconf_inprog"),
        crate::core::Reconf::Done => extra.push("reconf_done"),
        crate::core::Reconf::None => {}
    }
    let fl = flags(&r.inst, None, &extra);
    let mut v = common(&r.inst, ip, now, fl, m.down_after, None);
    data_fields(&r.inst, now, &mut v);
    v.push(("master-link-down-time", r.master_link_down_time.to_string()));
    v.push((
        "master-link-status",
        if r.master_link_up { "ok" } else { "err" }.to_string(),
    ));
    v.push((
        "master-host",
        r.master_host.clone().unwrap_or_else(|| "?".into()),
    ));
    v.push(("master-port", r.master_port.to_string()));
    v.push(("slave-priority", r.priority.to_string()));
    v.push(("slave-repl-offset", r.repl_offset.to_string()));
    v.push(("replica-announced", (r.announced as u8).to_string()));
    v
}

pub fn sentinel_map(m: &Master, p: &Peer, ip: String, now: u64) -> Vec<(&'static str, String)> {
    let fl = flags(&p.inst, None, &[]);
    let mut v = common(&p.inst, ip, now, fl, m.down_after, None);
    v.push((
        "last-hello-message",
        now.saturating_sub(p.inst.last_hello_time).to_string(),
    ));
    v.push((
        "voted-leader",
        p.leader.clone().unwrap_or_else(|| "?".into()),
    ));
    v.push(("voted-leader-epoch", p.leader_epoch.to_string()));
    v
}
