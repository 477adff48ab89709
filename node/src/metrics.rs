//! The node's Prometheus metrics (`metrics-port`): read from the INFO text at each scrape, as
//! redis_exporter reads it, under redis_exporter's names, so its dashboards work unchanged.

use std::sync::Arc;

use picket::http::{Handler, Page};
use picket::info::InfoSelection;
use picket::metrics::{info_kv, labels, Labels, Metrics, CONTENT_TYPE};

use crate::state::Node;

/// The HTTP handler: `/metrics`, and a page linking to it at `/`.
pub fn handler(node: Arc<Node>) -> Handler {
    Arc::new(move |path| match path {
        "/metrics" => Page::ok(CONTENT_TYPE, render(&node)),
        "/" => Page::metrics_index(),
        _ => Page::not_found(),
    })
}

/// One scrape.
pub fn render(node: &Node) -> String {
    let (info, databases) = {
        let st = node.state.lock();
        let sel = InfoSelection::from_args(&[b"everything"]);
        let info = crate::cmd::info::info_of(node, &st, &sel);
        (info, st.config.get_i64("databases").max(0) as usize)
    };
    from_info(&info, databases)
}

/// The metrics of an INFO text; `databases` many databases (empty ones count 0 keys, as
/// redis_exporter shows them).
pub fn from_info(info: &str, databases: usize) -> String {
    let fields: Vec<(&str, &str)> = info
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end().split_once(':'))
        .collect();
    let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let int = |name: &str| get(name).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let mut m = Metrics::default();
    m.gauge("redis_up", "Whether the node answers", 1);
    m.gauge(
        "redis_connected_clients",
        "Connected clients",
        int("connected_clients"),
    );
    m.gauge(
        "redis_blocked_clients",
        "Clients blocked in a blocking command",
        int("blocked_clients"),
    );
    m.counter(
        "redis_commands_processed",
        "Commands processed",
        int("total_commands_processed") as u64,
    );
    m.counters(
        "redis_commands",
        "Calls per command",
        &command_calls(&fields),
    );
    m.gauge(
        "redis_memory_used_bytes",
        "Memory used by data and structures",
        int("used_memory"),
    );
    m.gauge(
        "redis_memory_max_bytes",
        "The maxmemory setting",
        int("maxmemory"),
    );
    let (keys, expiring) = keyspace(&fields, databases);
    m.gauges("redis_db_keys", "Keys per database", &keys);
    m.gauges(
        "redis_db_keys_expiring",
        "Keys with a TTL per database",
        &expiring,
    );
    m.counter(
        "redis_keyspace_hits",
        "Lookups that found their key",
        int("keyspace_hits") as u64,
    );
    m.counter(
        "redis_keyspace_misses",
        "Lookups that did not",
        int("keyspace_misses") as u64,
    );
    m.gauge(
        "redis_master_repl_offset",
        "The replication offset",
        int("master_repl_offset"),
    );
    m.gauge(
        "redis_connected_slaves",
        "Connected replicas",
        int("connected_slaves"),
    );
    let (offsets, lags) = replicas(&fields);
    m.gauges(
        "redis_connected_slave_offset_bytes",
        "Each replica's acknowledged offset",
        &offsets,
    );
    m.gauges(
        "redis_connected_slave_lag_seconds",
        "Seconds since each replica's last ack",
        &lags,
    );
    if get("role") == Some("slave") {
        let up = i64::from(get("master_link_status") == Some("up"));
        m.gauge(
            "redis_master_link_up",
            "Whether the link to the master is up",
            up,
        );
        m.gauge(
            "redis_slave_repl_offset",
            "This replica's offset",
            int("slave_repl_offset"),
        );
    }
    m.gauge(
        "redis_replica_resyncs_full",
        "Full resyncs served to replicas",
        int("sync_full"),
    );
    m.render()
}

/// `cmdstat_get:calls=3,...` → `{cmd="get"} 3`.
fn command_calls(fields: &[(&str, &str)]) -> Vec<(Labels, u64)> {
    fields
        .iter()
        .filter_map(|(k, v)| {
            let cmd = k.strip_prefix("cmdstat_")?;
            let calls = info_kv(v).into_iter().find(|(f, _)| *f == "calls")?.1;
            Some((labels(&[("cmd", cmd)]), calls.parse().ok()?))
        })
        .collect()
}

type Rows = Vec<(Labels, i64)>;

fn keyspace(fields: &[(&str, &str)], databases: usize) -> (Rows, Rows) {
    let (mut keys, mut expiring) = (Vec::new(), Vec::new());
    for n in 0..databases {
        let k = format!("db{n}");
        let v = fields.iter().find(|(f, _)| *f == k).map_or("", |(_, v)| *v);
        let k = k.as_str();
        let kv = info_kv(v);
        let num = |name| {
            kv.iter()
                .find(|(f, _)| *f == name)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        };
        keys.push((labels(&[("db", k)]), num("keys")));
        expiring.push((labels(&[("db", k)]), num("expires")));
    }
    (keys, expiring)
}

/// `slave0:ip=...,port=...,state=online,offset=N,lag=S` → offsets and lags, labelled as
/// redis_exporter labels them.
fn replicas(fields: &[(&str, &str)]) -> (Rows, Rows) {
    let (mut offsets, mut lags) = (Vec::new(), Vec::new());
    for (k, v) in fields {
        if !(k.starts_with("slave") && k[5..].parse::<u32>().is_ok()) {
            continue;
        }
        let kv = info_kv(v);
        let get = |name| {
            kv.iter()
                .find(|(f, _)| *f == name)
                .map(|(_, v)| *v)
                .unwrap_or("")
        };
        let l = labels(&[
            ("slave_ip", get("ip")),
            ("slave_port", get("port")),
            ("slave_state", get("state")),
        ]);
        offsets.push((l.clone(), get("offset").parse().unwrap_or(0)));
        lags.push((l, get("lag").parse().unwrap_or(0)));
    }
    (offsets, lags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_become_exporter_metrics() {
        let info = "# Clients\r\nconnected_clients:3\r\nblocked_clients:1\r\n# Stats\r\n\
                    total_commands_processed:10\r\nkeyspace_hits:4\r\nkeyspace_misses:2\r\nsync_full:1\r\n\
                    # Replication\r\nrole:master\r\nconnected_slaves:1\r\n\
                    slave0:ip=127.0.0.1,port=7001,state=online,offset=99,lag=0\r\nmaster_repl_offset:99\r\n\
                    # Commandstats\r\ncmdstat_get:calls=7,usec=1,usec_per_call=0.1\r\n\
                    # Keyspace\r\ndb0:keys=5,expires=2,avg_ttl=0\r\n";
        let text = from_info(info, 16);
        for want in [
            "redis_connected_clients 3\n",
            "redis_blocked_clients 1\n",
            "redis_commands_processed_total 10\n",
            "redis_commands_total{cmd=\"get\"} 7\n",
            "redis_db_keys{db=\"db0\"} 5\n",
            "redis_db_keys_expiring{db=\"db0\"} 2\n",
            "redis_db_keys{db=\"db15\"} 0\n",
            "redis_keyspace_hits_total 4\n",
            "redis_connected_slave_offset_bytes{slave_ip=\"127.0.0.1\",slave_port=\"7001\",slave_state=\"online\"} 99\n",
            "redis_replica_resyncs_full 1\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(
            !text.contains("redis_master_link_up"),
            "a master has no link metric"
        );
    }
}
