//! INFO: Redis 7.0's sections and field names, in Redis's order.

use super::Ctx;
use crate::state::{Node, NodeState};
use bytes::Bytes;
use picket::info::{bytes_human, InfoBuilder, InfoSelection, ServerFields, StatsFields};
use std::sync::atomic::Ordering;

pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|p| p * 4096)
        .unwrap_or(0)
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
        .map(|k| k * 1024)
        .unwrap_or(0)
}

/// INFO's sections in Redis's order: name, whether a plain INFO includes it, and its writer.
type Section = (&'static str, bool, fn(&mut InfoBuilder, &Node, &NodeState));

const SECTIONS: &[Section] = &[
    ("server", true, server),
    ("clients", true, clients),
    ("memory", true, memory),
    ("persistence", true, persistence),
    ("stats", true, stats),
    ("replication", true, |b, _, st| {
        b.section_lines("Replication", &crate::repl::info::info_lines(st))
    }),
    ("cpu", true, |b, _, _| b.cpu_section()),
    ("modules", true, |b, _, _| b.section("Modules", &[])),
    ("commandstats", false, commandstats),
    ("errorstats", true, errorstats),
    ("latencystats", false, latencystats),
    ("cluster", true, |b, _, _| {
        b.section("Cluster", &[("cluster_enabled", "0".into())])
    }),
    ("keyspace", true, keyspace),
];

/// Builds the INFO text for the requested sections.
pub fn info_text(ctx: &mut Ctx, sel: &InfoSelection) -> String {
    info_of(ctx.node, ctx.st, sel)
}

/// The INFO text outside a command (the metrics endpoint reads it as redis_exporter does).
pub fn info_of(node: &Node, st: &NodeState, sel: &InfoSelection) -> String {
    let mut b = InfoBuilder::default();
    for (name, default, write) in SECTIONS {
        if sel.wants(name, *default) {
            write(&mut b, node, st);
        }
    }
    b.text
}

/// INFO server.
fn server(b: &mut InfoBuilder, node: &Node, st: &NodeState) {
    let uptime = node.started.elapsed().as_secs();
    let cfg_file = st
        .config
        .file
        .as_ref()
        .map(|f| {
            std::fs::canonicalize(&f.path)
                .unwrap_or(f.path.clone())
                .display()
                .to_string()
        })
        .unwrap_or_default();
    b.server_section(&ServerFields {
        mode: "standalone",
        run_id: &st.run_id,
        tcp_port: st.config.get_i64("port") as u16,
        uptime_secs: uptime,
        hz: st.config.get("hz"),
        lru_clock: crate::db::lru::lru_clock(),
        executable: &node.executable,
        config_file: &cfg_file,
    });
}

/// INFO clients.
fn clients(b: &mut InfoBuilder, node: &Node, st: &NodeState) {
    b.clients_section(
        node.registry.count(),
        st.config.get("maxclients"),
        st.blocking.count() + st.paused_clients,
        st.tracking.clients.len(),
    );
}

/// INFO memory's script fields: the EVAL VM and cache, the function VM and libraries.
fn script_memory(st: &NodeState) -> Vec<(&'static str, String)> {
    let (vm_eval, cache, cached) = st
        .scripts
        .as_ref()
        .map_or((0, 0, 0), |e| (e.vm_memory(), e.cache_memory(), e.count()));
    let (vm_fn, code, nfunc, nlib) = st.functions.as_ref().map_or((0, 0, 0, 0), |f| {
        (
            f.vm_memory(),
            f.code_memory(),
            f.function_count(),
            f.library_count(),
        )
    });
    let (vm_eval, vm_fn) = (vm_eval as u64, vm_fn as u64);
    vec![
        ("used_memory_lua", vm_eval.to_string()),
        ("used_memory_vm_eval", vm_eval.to_string()),
        ("used_memory_lua_human", bytes_human(vm_eval)),
        ("used_memory_scripts_eval", cache.to_string()),
        ("number_of_cached_scripts", cached.to_string()),
        ("number_of_functions", nfunc.to_string()),
        ("number_of_libraries", nlib.to_string()),
        ("used_memory_vm_functions", vm_fn.to_string()),
        ("used_memory_vm_total", (vm_eval + vm_fn).to_string()),
        ("used_memory_vm_total_human", bytes_human(vm_eval + vm_fn)),
        ("used_memory_functions", code.to_string()),
        ("used_memory_scripts", (cache + code).to_string()),
        (
            "used_memory_scripts_human",
            bytes_human((cache + code) as u64),
        ),
    ]
}

/// INFO memory: counted by the allocator; RSS and the system total from /proc.
fn memory(b: &mut InfoBuilder, _node: &Node, st: &NodeState) {
    let used = crate::alloc::used_memory() as u64;
    let peak = crate::alloc::peak_memory() as u64;
    let rss = rss_bytes();
    let sys = total_system_memory();
    let maxmem: u64 = st.config.get_i64("maxmemory") as u64;
    let mut fields = vec![
        ("used_memory", used.to_string()),
        ("used_memory_human", bytes_human(used)),
        ("used_memory_rss", rss.to_string()),
        ("used_memory_rss_human", bytes_human(rss)),
        ("used_memory_peak", peak.to_string()),
        ("used_memory_peak_human", bytes_human(peak)),
        (
            "used_memory_peak_perc",
            format!(
                "{:.2}%",
                if peak > 0 {
                    used as f64 * 100.0 / peak as f64
                } else {
                    100.0
                }
            ),
        ),
        ("used_memory_overhead", "0".into()),
        ("used_memory_startup", "0".into()),
        ("used_memory_dataset", used.to_string()),
        ("used_memory_dataset_perc", "100.00%".into()),
        ("allocator_allocated", used.to_string()),
        ("allocator_active", used.to_string()),
        ("allocator_resident", rss.to_string()),
        ("total_system_memory", sys.to_string()),
        ("total_system_memory_human", bytes_human(sys)),
    ];
    fields.extend(script_memory(st));
    fields.extend([
        ("maxmemory", maxmem.to_string()),
        ("maxmemory_human", bytes_human(maxmem)),
        ("maxmemory_policy", st.config.get("maxmemory-policy").into()),
        ("allocator_frag_ratio", "1.00".into()),
        ("allocator_frag_bytes", "0".into()),
        ("allocator_rss_ratio", "1.00".into()),
        ("allocator_rss_bytes", "0".into()),
        ("rss_overhead_ratio", "1.00".into()),
        ("rss_overhead_bytes", "0".into()),
        (
            "mem_fragmentation_ratio",
            format!(
                "{:.2}",
                if used > 0 {
                    rss as f64 / used as f64
                } else {
                    0.0
                }
            ),
        ),
        (
            "mem_fragmentation_bytes",
            (rss as i64 - used as i64).to_string(),
        ),
        ("mem_not_counted_for_evict", "0".into()),
        ("mem_replication_backlog", "0".into()),
        ("mem_total_replication_buffers", "0".into()),
        ("mem_clients_slaves", "0".into()),
        ("mem_clients_normal", "0".into()),
        ("mem_cluster_links", "0".into()),
        ("mem_aof_buffer", "0".into()),
        ("mem_allocator", "libc".into()),
        ("active_defrag_running", "0".into()),
        ("lazyfree_pending_objects", "0".into()),
        ("lazyfreed_objects", crate::lazyfree::freed().to_string()),
    ]);
    b.section("Memory", &fields);
}

/// INFO persistence: the RDB and AOF fields, the AOF's own when it is on, loading progress.
fn persistence(b: &mut InfoBuilder, node: &Node, st: &NodeState) {
    let loading = node.loading.is_loading();
    let ps = &st.persist;
    // An RDB is being produced: a BGSAVE, or a full resync's snapshot (Redis's RDB child
    // serves both); an AOF rewrite is the other kind of child.
    let rdb_age = match ps.bgsave_since {
        Some(t) => Some(t.elapsed()),
        None if ps.aof_rewrite_since.is_none() => st.ks.capture_age(),
        None => None,
    };
    let mut fields = vec![
        ("loading", (loading as u8).to_string()),
        ("async_loading", "0".into()),
        ("current_cow_peak", "0".into()),
        ("current_cow_size", "0".into()),
        ("current_cow_size_age", "0".into()),
        ("current_fork_perc", "0.00".into()),
        ("current_save_keys_processed", "0".into()),
        ("current_save_keys_total", "0".into()),
        ("rdb_changes_since_last_save", st.dirty.to_string()),
        (
            "rdb_bgsave_in_progress",
            (rdb_age.is_some() as u8).to_string(),
        ),
        ("rdb_last_save_time", st.lastsave.to_string()),
        (
            "rdb_last_bgsave_status",
            if st.persist.last_save_ok { "ok" } else { "err" }.into(),
        ),
        (
            "rdb_last_bgsave_time_sec",
            st.persist.last_bgsave_secs.to_string(),
        ),
        (
            "rdb_current_bgsave_time_sec",
            rdb_age
                .map(|t| t.as_secs() as i64)
                .unwrap_or(-1)
                .to_string(),
        ),
        ("rdb_saves", st.persist.saves.to_string()),
        ("rdb_last_cow_size", "0".into()),
        (
            "rdb_last_load_keys_expired",
            st.persist.last_load_expired.to_string(),
        ),
        (
            "rdb_last_load_keys_loaded",
            st.persist.last_load_keys.to_string(),
        ),
        (
            "aof_enabled",
            (crate::persistence::aof::enabled(st) as u8).to_string(),
        ),
        (
            "aof_rewrite_in_progress",
            (ps.aof_rewrite_since.is_some() as u8).to_string(),
        ),
        (
            "aof_rewrite_scheduled",
            (ps.aof_rewrite_scheduled as u8).to_string(),
        ),
        (
            "aof_last_rewrite_time_sec",
            ps.aof_last_rewrite_secs.to_string(),
        ),
        (
            "aof_current_rewrite_time_sec",
            ps.aof_rewrite_since
                .map(|t| t.elapsed().as_secs() as i64)
                .unwrap_or(-1)
                .to_string(),
        ),
        (
            "aof_last_bgrewrite_status",
            if ps.aof_last_rewrite_ok { "ok" } else { "err" }.into(),
        ),
        ("aof_rewrites", ps.aof_rewrites.to_string()),
        (
            "aof_rewrites_consecutive_failures",
            ps.aof_rewrite_failures.to_string(),
        ),
        ("aof_last_write_status", "ok".into()),
        ("aof_last_cow_size", "0".into()),
        ("module_fork_in_progress", "0".into()),
        ("module_fork_last_cow_size", "0".into()),
    ];
    if crate::persistence::aof::enabled(st) {
        fields.extend(crate::persistence::aof::info_fields(st));
    }
    if loading {
        fields.extend(loading_fields(node));
    }
    b.section("Persistence", &fields);
}

/// INFO persistence's `loading_*` fields while the data loads.
fn loading_fields(node: &Node) -> Vec<(&'static str, String)> {
    let l = &node.loading;
    let total = l.total_bytes.load(Ordering::Relaxed);
    let done = l.loaded_bytes.load(Ordering::Relaxed).min(total);
    let start = l.start_time.load(Ordering::Relaxed);
    let elapsed = (crate::clock::now_ms() / 1000 - start).max(0) as u64;
    let perc = if total > 0 {
        done as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    let eta = (elapsed * (total - done)).checked_div(done).unwrap_or(1);
    vec![
        ("loading_start_time", start.to_string()),
        ("loading_total_bytes", total.to_string()),
        (
            "loading_rdb_used_mem",
            l.rdb_used_mem.load(Ordering::Relaxed).to_string(),
        ),
        ("loading_loaded_bytes", done.to_string()),
        ("loading_loaded_perc", format!("{perc:.2}")),
        ("loading_eta_seconds", eta.to_string()),
    ]
}

/// INFO stats.
fn stats(b: &mut InfoBuilder, node: &Node, st: &NodeState) {
    let net = &node.net;
    let ks = &st.ks.stats;
    b.stats_section(&StatsFields {
        total_connections_received: node.registry.total_connections.load(Ordering::Relaxed),
        total_commands_processed: st.stats.commands_processed,
        instantaneous_ops_per_sec: st.stats.instantaneous_ops(),
        total_net_input_bytes: net.input_bytes.load(Ordering::Relaxed),
        total_net_output_bytes: net.output_bytes.load(Ordering::Relaxed),
        rejected_connections: node.registry.rejected_connections.load(Ordering::Relaxed),
        expired_keys: ks.expired_keys,
        expired_stale_perc: ks.expired_stale_perc,
        expired_time_cap_reached_count: ks.expired_time_cap_reached,
        evicted_keys: ks.evicted_keys,
        keyspace_hits: ks.hits,
        keyspace_misses: ks.misses,
        pubsub_channels: st.pubsub.num_channels() as u64,
        pubsubshard_channels: st.pubsub.num_shard_channels() as u64,
        pubsub_patterns: st.pubsub.numpat() as u64,
        total_error_replies: st.stats.total_error_replies,
        total_reads_processed: net.reads.load(Ordering::Relaxed),
        total_writes_processed: net.writes.load(Ordering::Relaxed),
        sync_full: st.repl.sync_full,
        sync_partial_ok: st.repl.sync_partial_ok,
        sync_partial_err: st.repl.sync_partial_err,
        slave_expires_tracked_keys: st.ks.replica_local_expires.len() as u64,
        tracking_totals: st.tracking.totals(),
        migrate_cached_sockets: st.migrate.len(),
    });
}

/// INFO commandstats: calls, time and failures per command.
fn commandstats(b: &mut InfoBuilder, _node: &Node, st: &NodeState) {
    let cmds = st.stats.commands();
    let lines: Vec<String> = cmds
        .into_iter()
        .map(|(n, s)| {
            format!(
                "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}",
                n,
                s.calls,
                s.usec,
                if s.calls > 0 {
                    s.usec as f64 / s.calls as f64
                } else {
                    0.0
                },
                s.rejected,
                s.failed
            )
        })
        .collect();
    b.section_lines("Commandstats", &lines);
}

/// INFO latencystats: each command's latency percentiles (µs), as
/// `latency-tracking-info-percentiles` asks.
fn latencystats(b: &mut InfoBuilder, _node: &Node, st: &NodeState) {
    let percentiles = &st.settings.latency_percentiles;
    let lines: Vec<String> = st
        .stats
        .commands()
        .into_iter()
        .filter(|(_, s)| s.hdr_total > 0)
        .map(|(n, s)| {
            let values: Vec<String> = percentiles
                .iter()
                .map(|p| {
                    let v = crate::hdr::value_at_percentile(&s.hdr, s.hdr_total, *p);
                    let name = format!("{p:.6}");
                    let name = name.trim_end_matches('0').trim_end_matches('.');
                    format!("p{name}={:.3}", v as f64 / 1000.0)
                })
                .collect();
            format!("latency_percentiles_usec_{n}:{}", values.join(","))
        })
        .collect();
    b.section_lines("Latencystats", &lines);
}

/// INFO errorstats: error replies by their first word.
fn errorstats(b: &mut InfoBuilder, _node: &Node, st: &NodeState) {
    let lines: Vec<String> = st
        .stats
        .errors
        .iter()
        .map(|(k, v)| format!("errorstat_{k}:count={v}"))
        .collect();
    b.section_lines("Errorstats", &lines);
}

/// INFO keyspace: the databases that hold keys.
fn keyspace(b: &mut InfoBuilder, _node: &Node, st: &NodeState) {
    let lines: Vec<String> = st
        .ks
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.main.is_empty())
        .map(|(i, d)| {
            format!(
                "db{}:keys={},expires={},avg_ttl={}",
                i,
                d.main.len(),
                d.expires.len(),
                d.avg_ttl
            )
        })
        .collect();
    b.section_lines("Keyspace", &lines);
}

pub fn info(ctx: &mut Ctx, a: &[Bytes]) {
    let args: Vec<&[u8]> = a[1..].iter().map(|b| &b[..]).collect();
    let sel = InfoSelection::from_args(&args);
    let text = info_text(ctx, &sel);
    ctx.out.verbatim(text.as_bytes());
}
