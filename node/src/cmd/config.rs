//! CONFIG GET|SET|RESETSTAT|REWRITE|HELP, and applying changed values to the running node.

use super::Ctx;
use crate::state::HotConfig;
use bytes::Bytes;

/// Directives that CONFIG SET changes but this build does not act on yet are still stored;
/// these are the ones it does act on (the rest are logged at start-up).
pub const ACTED_ON: &[&str] = &[
    "port",
    "tracking-table-max-keys",
    "latency-tracking",
    "latency-tracking-info-percentiles",
    "latency-monitor-threshold",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "lazyfree-lazy-server-del",
    "busy-reply-threshold",
    "hll-sparse-max-bytes",
    "notify-keyspace-events",
    "key-load-delay",
    "rdb-key-save-delay",
    "bind",
    "unixsocket",
    "unixsocketperm",
    "tcp-keepalive",
    "tcp-backlog",
    "timeout",
    "databases",
    "requirepass",
    "maxclients",
    "protected-mode",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "client-output-buffer-limit",
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "lfu-log-factor",
    "lfu-decay-time",
    "hz",
    "active-expire-effort",
    "loglevel",
    "logfile",
    "log-format",
    "metrics-bind",
    "metrics-port",
    "enable-debug-command",
    "lazyfree-lazy-user-flush",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-user-del",
    "lazyfree-lazy-eviction",
    "maxmemory-eviction-tenacity",
    "io-threads",
    "dir",
    "daemonize",
    "pidfile",
    "save",
    "dbfilename",
    "supervised",
    "always-show-logo",
    "set-proc-title",
    "replicaof",
    "masterauth",
    "masteruser",
    "replica-read-only",
    "replica-serve-stale-data",
    "replica-priority",
    "replica-announce-ip",
    "replica-announce-port",
    "replica-announced",
    "repl-timeout",
    "repl-ping-replica-period",
    "repl-backlog-size",
    "repl-backlog-ttl",
    "min-replicas-to-write",
    "min-replicas-max-lag",
    "fencing",
    "fencing-ack-timeout",
    "repl-diskless-sync",
    "repl-diskless-sync-delay",
    "repl-diskless-sync-max-replicas",
    "shutdown-timeout",
    "stop-writes-on-bgsave-error",
    "rdbcompression",
    "rdbchecksum",
    "appendonly",
    "appendfilename",
    "appenddirname",
    "appendfsync",
    "no-appendfsync-on-rewrite",
    "aof-use-rdb-preamble",
    "aof-timestamp-enabled",
    "aof-load-truncated",
    "auto-aof-rewrite-percentage",
    "auto-aof-rewrite-min-size",
];

/// CONFIG GET parameter [parameter ...]
pub fn get(ctx: &mut Ctx, a: &[Bytes]) {
    let pats: Vec<&[u8]> = a[2..].iter().map(|b| &b[..]).collect();
    let pairs = ctx.st.config.matching(&pats);
    ctx.out.map(pairs.len());
    for (k, v) in pairs {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
}

/// CONFIG SET parameter value [parameter value ...]: all or nothing.
pub fn set(ctx: &mut Ctx, a: &[Bytes]) {
    if !a.len().is_multiple_of(2) {
        return ctx
            .out
            .error("ERR wrong number of arguments for 'config|set' command");
    }
    let mut next = ctx.st.config.clone();
    let mut seen: Vec<String> = Vec::new();
    for p in a[2..].chunks(2) {
        let name = String::from_utf8_lossy(&p[0]).to_ascii_lowercase();
        let val = String::from_utf8_lossy(&p[1]).into_owned();
        let Some(spec) = next.spec(&name).cloned() else {
            return ctx.out.error(&format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                name
            ));
        };
        if spec.immutable {
            return ctx.out.error(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"));
        }
        if seen.contains(&spec.name) {
            return ctx.out.error(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"));
        }
        seen.push(spec.name.clone());
        if let Err(e) = next.set_str(&name, &val) {
            return ctx.out.error(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {}",
                e.0
            ));
        }
    }
    if let Err(e) = rebind(ctx, &next) {
        return ctx.out.error(&e);
    }
    let mut evict_now = false;
    if next.get_i64("maxmemory") > 0 && next.get("maxmemory") != ctx.st.config.get("maxmemory") {
        let used = crate::alloc::used_memory() as i64;
        if next.get_i64("maxmemory") < used {
            tracing::warn!("WARNING: the new maxmemory value set via CONFIG SET ({}) is smaller than the current memory usage ({}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.", next.get_i64("maxmemory"), used);
            evict_now = true;
        }
    }
    ctx.st.config = next;
    apply(ctx);
    if evict_now {
        // Redis evicts at once when the limit is lowered below the memory in use.
        let hot = ctx.node.hot.read().clone();
        crate::evict::perform_evictions(ctx.st, &hot);
    }
    ctx.out.ok();
}

/// CONFIG SET port / bind: the new sockets are bound first, and only then replace the old
/// ones, so a port in use or an address that cannot be bound leaves the server as it was (with
/// Redis's errors).
fn rebind(ctx: &Ctx, next: &picket::config::Config) -> Result<(), String> {
    let (port, bind) = (next.get("port"), next.get("bind"));
    if port == ctx.st.config.get("port") && bind == ctx.st.config.get("bind") {
        return Ok(());
    }
    let Some(swap) = ctx.node.listener_swap.lock().clone() else {
        return Ok(());
    };
    let addrs: Vec<String> = bind.split_whitespace().map(str::to_string).collect();
    let backlog = next.get_i64("tcp-backlog").max(1) as u32;
    let bound = picket::server::bind_tcp(&addrs, next.get_i64("port") as u16, backlog, true);
    let arg = if port != ctx.st.config.get("port") {
        "port"
    } else {
        "bind"
    };
    match bound {
        Ok(l) => {
            use std::os::fd::AsRawFd;
            *ctx.node.listen_fds.lock() = l.iter().map(|t| t.as_raw_fd()).collect();
            let _ = swap.send(picket::server::ListenerMsg::Replace(l));
            Ok(())
        }
        Err(e) => {
            tracing::warn!("{e}");
            Err(if arg == "port" {
                "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.".into()
            } else {
                "ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.".into()
            })
        }
    }
}

/// Pushes changed values into the running node.
fn apply(ctx: &mut Ctx) {
    // appendonly / appendfsync take effect at once.
    crate::persistence::apply_appendonly(ctx.node, ctx.st);
    let mode = match ctx.st.config.get("appendfsync") {
        "always" => crate::state::aof::Fsync::Always,
        "no" => crate::state::aof::Fsync::No,
        _ => crate::state::aof::Fsync::EverySec,
    };
    if let Some(a) = ctx.st.aof.as_mut() {
        a.fsync = mode;
    }
    let hot = HotConfig::from_config(&ctx.st.config);
    *ctx.node.hot.write() = hot;
    ctx.st.settings = crate::state::settings::Settings::from_config(&ctx.st.config);
    crate::state::hot::apply_keyspace_settings(&mut ctx.st.ks, &ctx.st.config);
}

/// CONFIG RESETSTAT
pub fn resetstat(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.st.stats.reset();
    ctx.st.ks.stats = Default::default();
    // As Redis 7.0: the sync counters and rejected connections too (connections received,
    // network bytes and reads/writes processed are kept).
    let repl = &mut ctx.st.repl;
    (repl.sync_full, repl.sync_partial_ok, repl.sync_partial_err) = (0, 0, 0);
    ctx.node
        .registry
        .rejected_connections
        .store(0, std::sync::atomic::Ordering::Relaxed);
    ctx.out.ok();
}

/// CONFIG REWRITE
pub fn rewrite(ctx: &mut Ctx, _a: &[Bytes]) {
    if ctx.st.config.file.is_none() {
        return ctx
            .out
            .error("ERR The server is running without a config file");
    }
    match picket::config::rewrite_file(&ctx.st.config) {
        Ok(()) => {
            tracing::info!("CONFIG REWRITE executed with success.");
            ctx.out.ok()
        }
        Err(e) => {
            tracing::warn!("CONFIG REWRITE failed: {}", e);
            ctx.out.error(&format!("ERR Rewriting config file: {e}"))
        }
    }
}

/// CONFIG HELP
pub fn help(ctx: &mut Ctx, _a: &[Bytes]) {
    let lines = [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.help(&lines);
}

#[cfg(test)]
mod tests {
    use super::ACTED_ON;

    /// Every directive the node's code reads is in [`ACTED_ON`], so start-up never logs
    /// "accepted but not acted on" for a directive that is acted on.
    #[test]
    fn every_directive_read_by_the_code_is_listed_as_acted_on() {
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        let mut missing = Vec::new();
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                for call in ["config.get(\"", "config.get_bool(\"", "config.get_i64(\""] {
                    for part in text.split(call).skip(1) {
                        let name = part.split('"').next().unwrap_or("");
                        if !ACTED_ON.contains(&name) && !missing.contains(&name.to_string()) {
                            missing.push(name.to_string());
                        }
                    }
                }
            }
        }
        assert!(missing.is_empty(), "read but not in ACTED_ON: {missing:?}");
    }
}
