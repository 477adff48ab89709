//! INFO and ROLE of a sentinel.

use super::Ctx;
use crate::state::SentinelNode;
use bytes::Bytes;
use picket::info::{InfoBuilder, InfoSelection, ServerFields, StatsFields};

/// INFO [section ...]: a plain bulk string, even in RESP3, as Sentinel answers.
pub fn info(ctx: &mut Ctx, a: &[Bytes]) {
    let args: Vec<&[u8]> = a[1..].iter().map(|b| &b[..]).collect();
    let text = info_text(ctx.node, &InfoSelection::from_args(&args));
    ctx.out.bulk(text.as_bytes());
}

/// ROLE: `sentinel` and the names of the monitored masters.
pub fn role(ctx: &mut Ctx, _a: &[Bytes]) {
    let st = ctx.node.state.lock();
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(b"sentinel");
    out.array(st.core.masters.len());
    for n in st.core.masters.keys() {
        out.bulk(n.as_bytes());
    }
}

/// INFO for a sentinel: server, clients, cpu, stats and sentinel sections only.
pub fn info_text(node: &SentinelNode, sel: &InfoSelection) -> String {
    let st = node.state.lock();
    let mut b = InfoBuilder::default();
    let up = node.started.elapsed().as_secs();
    if sel.wants("server", true) {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        b.server_section(&ServerFields {
            mode: "sentinel",
            run_id: &st.run_id,
            tcp_port: node.port,
            uptime_secs: up,
            hz: "10",
            lru_clock: 0,
            executable: &exe,
            config_file: &st.config_path.display().to_string(),
        });
    }
    if sel.wants("clients", true) {
        b.clients_section(node.registry.count(), "10000", 0, 0);
    }
    if sel.wants("stats", true) {
        let net = &node.net;
        b.stats_section(&StatsFields {
            total_connections_received: node
                .registry
                .total_connections
                .load(std::sync::atomic::Ordering::Relaxed),
            total_net_input_bytes: net.input_bytes.load(std::sync::atomic::Ordering::Relaxed),
            total_net_output_bytes: net.output_bytes.load(std::sync::atomic::Ordering::Relaxed),
            rejected_connections: node
                .registry
                .rejected_connections
                .load(std::sync::atomic::Ordering::Relaxed),
            pubsub_channels: st.pubsub.num_channels() as u64,
            pubsub_patterns: st.pubsub.numpat() as u64,
            total_reads_processed: net.reads.load(std::sync::atomic::Ordering::Relaxed),
            total_writes_processed: net.writes.load(std::sync::atomic::Ordering::Relaxed),
            ..Default::default()
        });
    }
    if sel.wants("cpu", true) {
        b.cpu_section();
    }
    if sel.wants("sentinel", true) {
        let c = &st.core;
        let mut lines = vec![
            format!("sentinel_masters:{}", c.masters.len()),
            format!("sentinel_tilt:{}", c.tilt as u8),
            format!(
                "sentinel_tilt_since_seconds:{}",
                if c.tilt {
                    (crate::clock::clock_ms().saturating_sub(c.tilt_start) / 1000) as i64
                } else {
                    -1
                }
            ),
            format!("sentinel_running_scripts:{}", st.scripts.running()),
            format!(
                "sentinel_scripts_queue_length:{}",
                st.scripts.jobs.len() - st.scripts.running()
            ),
            format!("sentinel_simulate_failure_flags:{}", c.simfailure),
        ];
        for (i, (name, m)) in c.masters.iter().enumerate() {
            let status = if m.o_down {
                "odown"
            } else if m.inst.s_down {
                "sdown"
            } else {
                "ok"
            };
            let (h, p) = c.announced_addr(name).unwrap_or_default();
            lines.push(format!(
                "master{i}:name={name},status={status},address={},slaves={},sentinels={}",
                picket_addr(&h, p),
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
        b.section_lines("Sentinel", &lines);
    }
    b.text
}

fn picket_addr(h: &str, p: u16) -> String {
    crate::core::addr_name(h, p)
}
