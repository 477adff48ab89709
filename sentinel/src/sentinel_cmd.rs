//! SENTINEL subcommands with Redis 7.0's reply shapes: instance maps whose numbers are bulk
//! strings, null arrays for unknown masters in GET-MASTER-ADDR-BY-NAME, and Redis's errors.

use crate::core::{FailoverState, Instance, Master, Peer, Replica, Sentinel, Who};
use crate::runtime::dispatch;
use crate::state::{SentinelNode, Session};
use bytes::Bytes;
use picket::args::{eq_ic, lower};
use picket::resp::Reply;

const NO_SUCH_MASTER: &str = "ERR No such master with that name";

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
fn write_map(out: &mut Reply, fields: &[(&str, String)]) {
    out.map(fields.len());
    for (k, v) in fields {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
}

fn common(
    inst: &Instance,
    now: u64,
    flags: String,
    down_after: u64,
    failover: Option<FailoverState>,
) -> Vec<(&'static str, String)> {
    let l = &inst.link;
    let mut v = vec![
        ("name", inst.name.clone()),
        ("ip", inst.host.clone()),
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

pub fn master_map(m: &Master, now: u64) -> Vec<(&'static str, String)> {
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
    if let Some(s) = &m.notification_script {
        v.push(("notification-script", s.clone()));
    }
    if let Some(s) = &m.client_reconfig_script {
        v.push(("client-reconfig-script", s.clone()));
    }
    v
}

fn replica_map(m: &Master, r: &Replica, now: u64) -> Vec<(&'static str, String)> {
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
    let mut v = common(&r.inst, now, fl, m.down_after, None);
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

fn sentinel_map(m: &Master, p: &Peer, now: u64) -> Vec<(&'static str, String)> {
    let fl = flags(&p.inst, None, &[]);
    let mut v = common(&p.inst, now, fl, m.down_after, None);
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

const HELP: &[&str] = &[
    "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CKQUORUM <master-name>",
    "    Check if the current Sentinel configuration is able to reach the quorum",
    "    needed to failover a master and the majority needed to authorize the",
    "    failover.",
    "CONFIG SET <param> <value>",
    "    Set a global Sentinel configuration parameter.",
    "CONFIG GET <param>",
    "    Get global Sentinel configuration parameter.",
    "DEBUG [<param> <value> ...]",
    "    Show a list of configurable time parameters and their values (milliseconds).",
    "    Or update current configurable parameters values (one or more).",
    "GET-MASTER-ADDR-BY-NAME <master-name>",
    "    Return the ip and port number of the master with that name.",
    "FAILOVER <master-name>",
    "    Manually failover a master node without asking for agreement from other",
    "    Sentinels",
    "FLUSHCONFIG",
    "    Force Sentinel to rewrite its configuration on disk, including the current",
    "    Sentinel state.",
    "INFO-CACHE <master-name>",
    "    Return last cached INFO output from masters and all its replicas.",
    "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
    "    Check if the master specified by ip:port is down from current Sentinel's",
    "    point of view.",
    "MASTER <master-name>",
    "    Show the state and info of the specified master.",
    "MASTERS",
    "    Show a list of monitored masters and their state.",
    "MONITOR <name> <ip> <port> <quorum>",
    "    Start monitoring a new master with the specified name, ip, port and quorum.",
    "MYID",
    "    Return the ID of the Sentinel instance.",
    "PENDING-SCRIPTS",
    "    Get pending scripts information.",
    "REMOVE <master-name>",
    "    Remove master from Sentinel's monitor list.",
    "REPLICAS <master-name>",
    "    Show a list of replicas for this master and their state.",
    "RESET <pattern>",
    "    Reset masters for specific master name matching this pattern.",
    "SENTINELS <master-name>",
    "    Show a list of Sentinel instances for this master and their state.",
    "SET <master-name> <option> <value> [<option> <value> ...]",
    "    Set configuration parameters for certain masters.",
    "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
    "    Simulate a Sentinel crash.",
    "HELP",
    "    Prints this help.",
];

fn act(node: &SentinelNode, st: &mut crate::state::SentinelState) {
    let actions = st.core.take_actions();
    dispatch(node, st, actions);
}

pub fn sentinel(node: &SentinelNode, _sess: &mut Session, a: &[Bytes], out: &mut Reply) {
    let sub = lower(&a[1]);
    // The arity was checked against the command table before.
    let known = crate::commands::lookup("sentinel").and_then(|c| c.sub(&a[1]));
    if known.is_none() {
        return out.error(&picket::args::unknown_subcommand("sentinel", &a[1]));
    }
    let now = crate::clock::clock_ms();
    let mut st = node.state.lock();
    let arg = |i: usize| String::from_utf8_lossy(&a[i]).into_owned();
    match sub.as_str() {
        "help" => {
            out.help(HELP);
        }
        "myid" => out.bulk(st.core.myid.as_bytes()),
        "masters" => {
            out.array(st.core.masters.len());
            for m in st.core.masters.values() {
                write_map(out, &master_map(m, now));
            }
        }
        "master" => match st.core.masters.get(&arg(2)) {
            Some(m) => write_map(out, &master_map(m, now)),
            None => out.error(NO_SUCH_MASTER),
        },
        "replicas" | "slaves" => match st.core.masters.get(&arg(2)) {
            Some(m) => {
                let reps: Vec<&Replica> = m.replicas.values().filter(|r| r.announced).collect();
                out.array(reps.len());
                for r in reps {
                    write_map(out, &replica_map(m, r, now));
                }
            }
            None => out.error(NO_SUCH_MASTER),
        },
        "sentinels" => match st.core.masters.get(&arg(2)) {
            Some(m) => {
                out.array(m.sentinels.len());
                for p in m.sentinels.values() {
                    let refs = st
                        .core
                        .link_refcount(&m.inst.name, &Who::Sentinel(p.inst.name.clone()));
                    let mut v = sentinel_map(m, p, now);
                    if let Some(f) = v.iter_mut().find(|(k, _)| *k == "link-refcount") {
                        f.1 = refs.to_string();
                    }
                    write_map(out, &v);
                }
            }
            None => out.error(NO_SUCH_MASTER),
        },
        "get-master-addr-by-name" => match st.core.masters.get(&arg(2)) {
            Some(_) => {
                let (h, p) = st.core.announced_addr(&arg(2)).unwrap_or_default();
                out.array(2);
                out.bulk(h.as_bytes());
                out.bulk(p.to_string().as_bytes());
            }
            None => out.null_array(),
        },
        "is-master-down-by-addr" => {
            let (Ok(port), Ok(epoch)) =
                (picket::args::int_arg(&a[3]), picket::args::int_arg(&a[4]))
            else {
                return out.error(picket::args::ERR_NOT_INT);
            };
            let (down, leader, le) = st.core.is_master_down_by_addr(
                &arg(2),
                port as u16,
                epoch.max(0) as u64,
                &arg(5),
                now,
            );
            act(node, &mut st);
            out.array(3);
            out.int(down as i64);
            out.bulk(leader.as_bytes());
            out.int(le as i64);
        }
        "reset" => {
            let n = st.core.reset(&a[2], now);
            act(node, &mut st);
            out.int(n as i64);
        }
        "failover" => {
            let coordinated = match a.get(3) {
                None => false,
                Some(o) if a.len() == 4 && eq_ic(o, "coordinated") => true,
                Some(_) => return out.error(&picket::args::wrong_args("sentinel|failover")),
            };
            failover(node, &mut st, &arg(2), now, coordinated, out)
        }
        "ckquorum" => match st.core.ckquorum(&arg(2)) {
            Some(Ok(s)) => out.simple(&s),
            Some(Err(e)) => out.error(&e),
            None => out.error(NO_SUCH_MASTER),
        },
        "flushconfig" => match crate::config::flush(&mut st) {
            Ok(()) => out.ok(),
            Err(_) => out.error("ERR Failed to save config file. Check server logs."),
        },
        "monitor" => {
            let Ok(quorum) = picket::args::int_arg(&a[5]) else {
                return out.error("ERR Invalid quorum");
            };
            let Ok(port) = picket::args::int_arg(&a[4]) else {
                return out.error("ERR Invalid port");
            };
            if quorum <= 0 {
                return out.error("ERR Quorum must be 1 or greater.");
            }
            if !(0..=65535).contains(&port) {
                return out.error("ERR Invalid port number.");
            }
            let host = arg(3);
            if !st.core.globals.resolve_hostnames && host.parse::<std::net::IpAddr>().is_err() {
                return out.error("ERR Invalid IP address or hostname specified");
            }
            match st.core.monitor(&arg(2), &host, port, quorum, now, true) {
                Ok(()) => {
                    act(node, &mut st);
                    out.ok()
                }
                Err(e) => out.error(&format!("ERR {e}")),
            }
        }
        "remove" => {
            if st.core.remove(&arg(2), now) {
                act(node, &mut st);
                out.ok()
            } else {
                out.error(NO_SUCH_MASTER)
            }
        }
        "set" => {
            let args: Vec<String> = (3..a.len()).map(arg).collect();
            let r = st.core.set_options(&arg(2), &args, now);
            act(node, &mut st);
            match r {
                Ok(_) => out.ok(),
                Err(e) => out.error(&e),
            }
        }
        "config" => config_cmd(node, &mut st, a, out),
        "info-cache" => {
            let names: Vec<String> = (2..a.len())
                .map(arg)
                .filter(|n| st.core.masters.contains_key(n))
                .collect();
            out.array(names.len() * 2);
            for n in names {
                let m = &st.core.masters[&n];
                out.bulk(n.as_bytes());
                let insts: Vec<&Instance> = std::iter::once(&m.inst)
                    .chain(m.replicas.values().map(|r| &r.inst))
                    .collect();
                out.array(insts.len());
                for i in insts {
                    out.array(2);
                    out.int(if i.info_refresh == 0 {
                        0
                    } else {
                        now.saturating_sub(i.info_refresh) as i64
                    });
                    match &i.info_text {
                        Some(t) => out.bulk(t.as_bytes()),
                        None => out.null(),
                    }
                }
            }
        }
        "pending-scripts" => st.scripts.pending(out),
        "simulate-failure" => {
            st.core.simfailure = 0;
            for f in &a[2..] {
                if eq_ic(f, "crash-after-election") {
                    st.core.simfailure |= crate::core::failover::SIM_CRASH_AFTER_ELECTION;
                } else if eq_ic(f, "crash-after-promotion") {
                    st.core.simfailure |= crate::core::failover::SIM_CRASH_AFTER_PROMOTION;
                } else if eq_ic(f, "help") {
                    out.array(2);
                    out.bulk(b"crash-after-election");
                    out.bulk(b"crash-after-promotion");
                    return;
                } else {
                    return out.error("ERR Unknown failure simulation specified");
                }
            }
            out.ok();
        }
        "debug" => debug_cmd(&mut st.core, a, out),
        _ => out.error(&picket::args::unknown_subcommand("sentinel", &a[1])),
    }
}

fn failover(
    node: &SentinelNode,
    st: &mut crate::state::SentinelState,
    name: &str,
    now: u64,
    coordinated: bool,
    out: &mut Reply,
) {
    match st.core.force_failover(name, now, coordinated) {
        Ok(()) => {
            act(node, st);
            out.ok()
        }
        Err(e) => out.error(&e),
    }
}

const GLOBAL_PARAMS: &[&str] = &[
    "resolve-hostnames",
    "announce-hostnames",
    "announce-ip",
    "announce-port",
    "sentinel-user",
    "sentinel-pass",
];

fn global_value(st: &crate::state::SentinelState, p: &str) -> String {
    let g = &st.core.globals;
    match p {
        "resolve-hostnames" => if g.resolve_hostnames { "yes" } else { "no" }.into(),
        "announce-hostnames" => if g.announce_hostnames { "yes" } else { "no" }.into(),
        "announce-ip" => g.announce_ip.clone().unwrap_or_default(),
        "announce-port" => g.announce_port.to_string(),
        "sentinel-user" => g.sentinel_user.clone().unwrap_or_default(),
        "sentinel-pass" => g.sentinel_pass.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

fn config_cmd(
    node: &SentinelNode,
    st: &mut crate::state::SentinelState,
    a: &[Bytes],
    out: &mut Reply,
) {
    let sub = lower(&a[2]);
    let n = a.len();
    if !((sub == "get" && n == 4) || (sub == "set" && n >= 5 && n % 2 == 1)) {
        return out
            .error("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.");
    }
    if sub == "get" {
        let mut pairs = Vec::new();
        for pat in &a[3..] {
            for p in GLOBAL_PARAMS {
                if picket::glob::glob_match(pat, p.as_bytes(), true)
                    && !pairs.iter().any(|(k, _): &(String, String)| k == p)
                {
                    pairs.push((p.to_string(), global_value(st, p)));
                }
            }
        }
        out.map(pairs.len());
        for (k, v) in pairs {
            out.bulk(k.as_bytes());
            out.bulk(v.as_bytes());
        }
        return;
    }
    // Validate everything first, then apply.
    let mut seen: Vec<String> = Vec::new();
    let mut i = 3;
    while i < a.len() {
        let p = lower(&a[i]);
        if !GLOBAL_PARAMS.contains(&p.as_str()) {
            return out.error(&format!(
                "ERR Invalid argument '{p}' to SENTINEL CONFIG SET"
            ));
        }
        if seen.contains(&p) {
            return out.error(&format!(
                "ERR Duplicate argument '{p}' to SENTINEL CONFIG SET"
            ));
        }
        let Some(v) = a.get(i + 1) else {
            return out.error(&format!("ERR Missing argument '{p}' value"));
        };
        let v = String::from_utf8_lossy(v).into_owned();
        let bad = match p.as_str() {
            "resolve-hostnames" | "announce-hostnames" => {
                !(v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("no"))
            }
            "announce-port" => v.parse::<u16>().is_err(),
            _ => false,
        };
        if bad {
            return out.error(&format!(
                "ERR Invalid value '{v}' to SENTINEL CONFIG SET '{p}'"
            ));
        }
        seen.push(p);
        i += 2;
    }
    let mut i = 3;
    while i < a.len() {
        let p = lower(&a[i]);
        let v = String::from_utf8_lossy(&a[i + 1]).into_owned();
        let g = &mut st.core.globals;
        match p.as_str() {
            "resolve-hostnames" => g.resolve_hostnames = v.eq_ignore_ascii_case("yes"),
            "announce-hostnames" => g.announce_hostnames = v.eq_ignore_ascii_case("yes"),
            "announce-ip" => g.announce_ip = (!v.is_empty()).then_some(v),
            "announce-port" => g.announce_port = v.parse().unwrap_or(0),
            "sentinel-user" => g.sentinel_user = (!v.is_empty()).then_some(v),
            "sentinel-pass" => g.sentinel_pass = (!v.is_empty()).then_some(v),
            _ => {}
        }
        i += 2;
    }
    st.core.persist();
    let actions = st.core.take_actions();
    dispatch(node, st, actions);
    out.ok();
}

fn debug_cmd(core: &mut Sentinel, a: &[Bytes], out: &mut Reply) {
    let t = &mut core.timing;
    if a.len() == 2 {
        let fields: [(&str, u64); 13] = [
            ("INFO-PERIOD", t.info_period),
            ("PING-PERIOD", t.ping_period),
            ("ASK-PERIOD", t.ask_period),
            ("PUBLISH-PERIOD", t.publish_period),
            ("DEFAULT-DOWN-AFTER", t.default_down_after),
            ("DEFAULT-FAILOVER-TIMEOUT", t.default_failover_timeout),
            ("TILT-TRIGGER", t.tilt_trigger),
            ("TILT-PERIOD", t.tilt_period),
            ("SLAVE-RECONF-TIMEOUT", t.slave_reconf_timeout),
            ("MIN-LINK-RECONNECT-PERIOD", t.min_link_reconnect_period),
            ("ELECTION-TIMEOUT", t.election_timeout),
            ("SCRIPT-MAX-RUNTIME", t.script_max_runtime),
            ("SCRIPT-RETRY-DELAY", t.script_retry_delay),
        ];
        out.map(fields.len());
        for (k, v) in fields {
            out.bulk(k.as_bytes());
            out.bulk(v.to_string().as_bytes());
        }
        return;
    }
    let mut i = 2;
    while i < a.len() {
        let name = lower(&a[i]);
        let Some(v) = a
            .get(i + 1)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|v| *v > 0)
        else {
            return out.error(&format!(
                "ERR Invalid argument '{}' for SENTINEL DEBUG '{}'",
                a.get(i + 1)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default(),
                name
            ));
        };
        let v = v as u64;
        match name.as_str() {
            "info-period" => t.info_period = v,
            "ping-period" => t.ping_period = v,
            "ask-period" => t.ask_period = v,
            "publish-period" => t.publish_period = v,
            "default-down-after" => t.default_down_after = v,
            "default-failover-timeout" => t.default_failover_timeout = v,
            "tilt-trigger" => t.tilt_trigger = v,
            "tilt-period" => t.tilt_period = v,
            "slave-reconf-timeout" => t.slave_reconf_timeout = v,
            "min-link-reconnect-period" => t.min_link_reconnect_period = v,
            "election-timeout" => t.election_timeout = v,
            "script-max-runtime" => t.script_max_runtime = v,
            "script-retry-delay" => t.script_retry_delay = v,
            _ => {
                return out.error(&format!(
                    "ERR Unknown option or number of arguments for SENTINEL DEBUG '{}'",
                    name
                ))
            }
        }
        i += 2;
    }
    out.ok();
}
