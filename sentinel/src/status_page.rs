//! The sentinel's HTTP port (`metrics-port`): `/metrics` for Prometheus, and a read-only
//! status page at `/`: the topology drawn (the master, its replicas with their lag, the
//! sentinels and their state), a timeline of recent events and failovers with their
//! durations. The page is one self-contained HTML file (no external assets, no framework)
//! that follows `/events`, a server-sent-events stream of the state as JSON (`/status.json`
//! gives it once).

use std::sync::Arc;
use std::time::Duration;

use picket::http::{Handler, Page};
use serde_json::{json, Value};

use crate::state::{SentinelNode, SentinelState};

const PAGE: &str = include_str!("status_page.html");

/// How often the stream looks for a change.
const STREAM_PERIOD: Duration = Duration::from_millis(250);

/// The HTTP handler of the sentinel's metrics port.
pub fn handler(node: Arc<SentinelNode>) -> Handler {
    Arc::new(move |path| match path {
        "/" => Page::ok("text/html; charset=utf-8", PAGE.to_string()),
        "/metrics" => Page::ok(
            picket::metrics::CONTENT_TYPE,
            crate::metrics::render(&node.state.lock()),
        ),
        "/status.json" => Page::ok(
            "application/json",
            status(&node.state.lock(), node.port).to_string(),
        ),
        "/events" => Page::stream("text/event-stream", follow(node.clone())),
        _ => Page::not_found(),
    })
}

/// The state as server-sent events: one `data:` line each time it changes (and a comment
/// every 15 s, so proxies keep the connection open), until the client goes away.
fn follow(node: Arc<SentinelNode>) -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let mut last = String::new();
        let mut quiet = Duration::ZERO;
        loop {
            let now = status(&node.state.lock(), node.port).to_string();
            let msg = if now != last {
                quiet = Duration::ZERO;
                Some(format!("data: {now}\n\n"))
            } else if quiet >= Duration::from_secs(15) {
                quiet = Duration::ZERO;
                Some(": keep-alive\n\n".to_string())
            } else {
                None
            };
            if let Some(m) = msg {
                if tx.send(m).await.is_err() {
                    return;
                }
            }
            last = now;
            tokio::time::sleep(STREAM_PERIOD).await;
            quiet += STREAM_PERIOD;
        }
    });
    rx
}

/// The state the page draws.
pub fn status(st: &SentinelState, port: u16) -> Value {
    let c = &st.core;
    let masters: Vec<Value> = c
        .masters
        .iter()
        .map(|(name, x)| {
            let (h, p) = c.announced_addr(name).unwrap_or_default();
            let offset = x
                .inst
                .info_text
                .as_deref()
                .and_then(|i| picket::info::field(i, "master_repl_offset"))
                .and_then(|v| v.parse::<u64>().ok());
            let replicas: Vec<Value> = x
                .replicas
                .values()
                .map(|r| {
                    json!({
                        "addr": crate::core::addr_name(&r.inst.host, r.inst.port),
                        "down": r.inst.s_down,
                        "link_up": r.master_link_up,
                        "offset": r.repl_offset,
                        "lag_bytes": offset.map(|o| o.saturating_sub(r.repl_offset)),
                    })
                })
                .collect();
            let sentinels: Vec<Value> = x
                .sentinels
                .values()
                .map(|s| {
                    json!({
                        "addr": crate::core::addr_name(&s.inst.host, s.inst.port),
                        "down": s.inst.s_down,
                        "leader": s.leader,
                        "leader_epoch": s.leader_epoch,
                    })
                })
                .collect();
            let history = st.history.masters.get(name).cloned().unwrap_or_default();
            json!({
                "name": name,
                "addr": crate::core::addr_name(&h, p),
                "status": if x.o_down { "odown" } else if x.inst.s_down { "sdown" } else { "ok" },
                "failover": x.failover.name(),
                "config_epoch": x.config_epoch,
                "quorum": x.quorum,
                "offset": offset,
                "replicas": replicas,
                "sentinels": sentinels,
                "failovers": {
                    "started": history.failovers_started,
                    "completed": history.failovers_completed,
                    "aborted": history.failovers_aborted,
                },
            })
        })
        .collect();
    let events: Vec<&crate::history::Recent> = st.history.recent.iter().rev().take(100).collect();
    json!({
        "sentinel": {"port": port, "myid": c.myid, "current_epoch": c.current_epoch, "tilt": c.tilt},
        "masters": masters,
        "events": events,
    })
}
