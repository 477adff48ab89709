//! The SENTINEL subcommands, one handler each, with Redis 7.0's replies and errors (null arrays
//! for unknown masters in GET-MASTER-ADDR-BY-NAME, NO_SUCH_MASTER elsewhere).

use super::sentinel_replies::{master_map, replica_map, sentinel_map, write_map};
use super::Ctx;
use crate::core::{Instance, Replica, Sentinel, Who};
use crate::runtime::dispatch;
use crate::state::{SentinelNode, SentinelState};
use bytes::Bytes;
use picket::args::{eq_ic, lower};
use picket::resp::Reply;

const NO_SUCH_MASTER: &str = "ERR No such master with that name";

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

fn act(node: &SentinelNode, st: &mut crate::state::SentinelState) -> Result<(), String> {
    let actions = st.core.take_actions();
    dispatch(node, st, actions)
}

/// Runs a SENTINEL subcommand with the state locked: the node, the state, the arguments, the
/// core's clock and the reply.
fn locked(
    ctx: &mut Ctx,
    a: &[Bytes],
    f: impl FnOnce(&SentinelNode, &mut SentinelState, &[Bytes], u64, &mut Reply),
) {
    let now = crate::clock::clock_ms();
    let mut st = ctx.node.state.lock();
    f(ctx.node, &mut st, a, now, ctx.out)
}

/// Argument `i` as a string.
fn arg(a: &[Bytes], i: usize) -> String {
    String::from_utf8_lossy(&a[i]).into_owned()
}

/// SENTINEL HELP
pub fn help(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.help(HELP);
}

/// SENTINEL MYID
pub fn myid(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |_node, st, _a, _now, out| {
        out.bulk(st.core.myid.as_bytes())
    })
}

/// SENTINEL MASTERS
pub fn masters(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |_node, st, _a, now, out| {
        out.array(st.core.masters.len());
        for m in st.core.masters.values() {
            write_map(out, &master_map(m, st.core.shown_host(&m.inst), now));
        }
    })
}

/// SENTINEL MASTER
pub fn master(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |_node, st, a, now, out| {
        match st.core.masters.get(&arg(a, 2)) {
            Some(m) => write_map(out, &master_map(m, st.core.shown_host(&m.inst), now)),
            None => out.error(NO_SUCH_MASTER),
        }
    })
}

/// SENTINEL REPLICAS / SLAVES
pub fn replicas(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |_node, st, a, now, out| {
        match st.core.masters.get(&arg(a, 2)) {
            Some(m) => {
                let reps: Vec<&Replica> = m.replicas.values().filter(|r| r.announced).collect();
                out.array(reps.len());
                for r in reps {
                    write_map(out, &replica_map(m, r, st.core.shown_host(&r.inst), now));
                }
            }
            None => out.error(NO_SUCH_MASTER),
        }
    })
}

/// SENTINEL SENTINELS
pub fn sentinels(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |_node, st, a, now, out| {
        match st.core.masters.get(&arg(a, 2)) {
            Some(m) => {
                out.array(m.sentinels.len());
                for p in m.sentinels.values() {
                    let refs = st
                        .core
                        .link_refcount(&m.inst.name, &Who::Sentinel(p.inst.name.clone()));
                    let mut v = sentinel_map(m, p, st.core.shown_host(&p.inst), now);
                    if let Some(f) = v.iter_mut().find(|(k, _)| *k == "link-refcount") {
                        f.1 = refs.to_string();
                    }
                    write_map(out, &v);
                }
            }
            None => out.error(NO_SUCH_MASTER),
        }
    })
}

/// SENTINEL GET-MASTER-ADDR-BY-NAME
pub fn get_master_addr_by_name(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |_node, st, a, _now, out| {
        match st.core.masters.get(&arg(a, 2)) {
            Some(_) => {
                let (h, p) = st.core.announced_addr(&arg(a, 2)).unwrap_or_default();
                out.array(2);
                out.bulk(h.as_bytes());
                out.bulk(p.to_string().as_bytes());
            }
            None => out.null_array(),
        }
    })
}

/// SENTINEL IS-MASTER-DOWN-BY-ADDR
pub fn is_master_down_by_addr(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |node, st, a, now, out| {
        let (Ok(port), Ok(epoch)) = (picket::args::int_arg(&a[3]), picket::args::int_arg(&a[4]))
        else {
            return out.error(picket::args::ERR_NOT_INT);
        };
        let (down, leader, le) = st.core.is_master_down_by_addr(
            &arg(a, 2),
            port as u16,
            epoch.max(0) as u64,
            &arg(a, 5),
            now,
        );
        let _ = act(node, st);
        out.array(3);
        out.int(down as i64);
        out.bulk(leader.as_bytes());
        out.int(le as i64);
    })
}

/// SENTINEL RESET
pub fn reset(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |node, st, a, now, out| {
        let n = st.core.reset(&a[2], now);
        let _ = act(node, st);
        out.int(n as i64);
    })
}

/// SENTINEL FAILOVER
pub fn failover(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |node, st, a, now, out| {
        let coordinated = match a.get(3) {
            None => false,
            Some(o) if a.len() == 4 && eq_ic(o, "coordinated") => true,
            Some(_) => return out.error(&picket::args::wrong_args("sentinel|failover")),
        };
        start_failover(node, st, &arg(a, 2), now, coordinated, out)
    })
}

/// SENTINEL CKQUORUM
pub fn ckquorum(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |_node, st, a, _now, out| {
        match st.core.ckquorum(&arg(a, 2)) {
            Some(Ok(s)) => out.simple(&s),
            Some(Err(e)) => out.error(&e),
            None => out.error(NO_SUCH_MASTER),
        }
    })
}

/// SENTINEL FLUSHCONFIG
pub fn flushconfig(ctx: &mut Ctx, a: &[Bytes]) {
    locked(
        ctx,
        a,
        |_node, st, _a, _now, out| match crate::config::flush(st) {
            Ok(()) => out.ok(),
            Err(_) => out.error("ERR Failed to save config file. Check server logs."),
        },
    )
}

/// SENTINEL MONITOR
pub fn monitor(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |node, st, a, now, out| {
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
        let host = arg(a, 3);
        if !st.core.globals.resolve_hostnames && host.parse::<std::net::IpAddr>().is_err() {
            return out.error("ERR Invalid IP address or hostname specified");
        }
        match st.core.monitor(&arg(a, 2), &host, port, quorum, now, true) {
            Ok(()) => {
                let _ = act(node, st);
                out.ok()
            }
            Err(e) => out.error(&format!("ERR {e}")),
        }
    })
}

/// SENTINEL REMOVE
pub fn remove(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |node, st, a, now, out| {
        if st.core.remove(&arg(a, 2), now) {
            let _ = act(node, st);
            out.ok()
        } else {
            out.error(NO_SUCH_MASTER)
        }
    })
}

/// SENTINEL SET
pub fn set(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |node, st, a, now, out| {
        let args: Vec<String> = (3..a.len()).map(|i| arg(a, i)).collect();
        let r = st.core.set_options(&arg(a, 2), &args, now);
        let saved = act(node, st);
        match (r, saved) {
            (Err(e), _) => out.error(&e),
            // As Redis: the change is made, and the reply says the file could not be written.
            (Ok(_), Err(e)) => out.error(&format!("ERR Failed to save config file: {e}")),
            (Ok(_), Ok(())) => out.ok(),
        }
    })
}

/// SENTINEL CONFIG
pub fn config(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |node, st, a, _now, out| {
        config_cmd(node, st, a, out)
    })
}

/// SENTINEL INFO-CACHE
pub fn info_cache(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |_node, st, a, now, out| {
        let names: Vec<String> = (2..a.len())
            .map(|i| arg(a, i))
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
    })
}

/// SENTINEL PENDING-SCRIPTS
pub fn pending_scripts(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |_node, st, _a, _now, out| st.scripts.pending(out))
}

/// SENTINEL SIMULATE-FAILURE
pub fn simulate_failure(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |_node, st, a, _now, out| {
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
    })
}

/// SENTINEL DEBUG
pub fn debug(ctx: &mut Ctx, a: &[Bytes]) {
    locked(ctx, a, |_node, st, a, _now, out| {
        debug_cmd(&mut st.core, a, out)
    })
}

fn start_failover(
    node: &SentinelNode,
    st: &mut crate::state::SentinelState,
    name: &str,
    now: u64,
    coordinated: bool,
    out: &mut Reply,
) {
    match st.core.force_failover(name, now, coordinated) {
        Ok(()) => {
            let _ = act(node, st);
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
    let mut credentials = false;
    while i < a.len() {
        let p = lower(&a[i]);
        credentials |= p == "sentinel-user" || p == "sentinel-pass";
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
    if credentials {
        // Taken on the fly, as Redis does: the peer links reconnect with them.
        st.core.drop_peer_links();
    }
    st.core.persist();
    let actions = st.core.take_actions();
    match dispatch(node, st, actions) {
        Ok(()) => out.ok(),
        Err(e) => out.error(&format!("ERR Failed to save config file: {e}")),
    }
}

/// The timings SENTINEL DEBUG shows and sets, in Redis's order.
const DEBUG_TIMINGS: [&str; 13] = [
    "INFO-PERIOD",
    "PING-PERIOD",
    "ASK-PERIOD",
    "PUBLISH-PERIOD",
    "DEFAULT-DOWN-AFTER",
    "DEFAULT-FAILOVER-TIMEOUT",
    "TILT-TRIGGER",
    "TILT-PERIOD",
    "SLAVE-RECONF-TIMEOUT",
    "MIN-LINK-RECONNECT-PERIOD",
    "ELECTION-TIMEOUT",
    "SCRIPT-MAX-RUNTIME",
    "SCRIPT-RETRY-DELAY",
];

/// The timing named `name` (lowercase).
fn timing_mut<'a>(t: &'a mut crate::core::Timing, name: &str) -> Option<&'a mut u64> {
    Some(match name {
        "info-period" => &mut t.info_period,
        "ping-period" => &mut t.ping_period,
        "ask-period" => &mut t.ask_period,
        "publish-period" => &mut t.publish_period,
        "default-down-after" => &mut t.default_down_after,
        "default-failover-timeout" => &mut t.default_failover_timeout,
        "tilt-trigger" => &mut t.tilt_trigger,
        "tilt-period" => &mut t.tilt_period,
        "slave-reconf-timeout" => &mut t.slave_reconf_timeout,
        "min-link-reconnect-period" => &mut t.min_link_reconnect_period,
        "election-timeout" => &mut t.election_timeout,
        "script-max-runtime" => &mut t.script_max_runtime,
        "script-retry-delay" => &mut t.script_retry_delay,
        _ => return None,
    })
}

fn debug_cmd(core: &mut Sentinel, a: &[Bytes], out: &mut Reply) {
    let t = &mut core.timing;
    if a.len() == 2 {
        out.map(DEBUG_TIMINGS.len());
        for k in DEBUG_TIMINGS {
            let v = timing_mut(t, &k.to_ascii_lowercase()).map_or(0, |v| *v);
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
        let Some(field) = timing_mut(t, &name) else {
            return out.error(&format!(
                "ERR Unknown option or number of arguments for SENTINEL DEBUG '{name}'"
            ));
        };
        *field = v as u64;
        i += 2;
    }
    out.ok();
}
