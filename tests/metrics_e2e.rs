//! The Prometheus endpoints (`metrics-port`) of picket-node and picket-sentinel, scraped over
//! HTTP and parsed with a Prometheus text-format parser: redis_exporter's names with the
//! values the servers report, and the sentinel's failover counters and histogram moving with
//! a failover.

use std::time::Duration;

use picket_testkit::{
    free_port, http_get, picket_node_with, sentinel_with, test_dir, wait_until, Client,
};
use prometheus_parse::{Scrape, Value};

/// GET /metrics, parsed.
fn scrape(port: u16) -> Scrape {
    let (head, body) = http_get(port, "/metrics");
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text format")
}

/// The value of `name` whose labels include `want`.
fn value(s: &Scrape, name: &str, want: &[(&str, &str)]) -> Option<f64> {
    s.samples
        .iter()
        .find(|x| x.metric == name && want.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .and_then(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(*v),
            Value::Histogram(h) => h.last().map(|b| b.count),
            _ => None,
        })
}

#[test]
fn node_and_sentinel_metrics_follow_the_servers_state() {
    let t = test_dir();
    let (mp, mm, rp, rm, sp, sm) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let _master = picket_node_with(t.path(), mp, None, &["--metrics-port", &mm.to_string()]);
    let _replica = picket_node_with(t.path(), rp, Some(mp), &["--metrics-port", &rm.to_string()]);
    let mut c = Client::connect(mp);
    for i in 0..5 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    c.cmd(&["EXPIRE", "k0", "100"]);
    c.cmd(&["GET", "k1"]);
    c.cmd(&["GET", "missing"]);
    assert!(wait_until(Duration::from_secs(10), || {
        value(&scrape(mm), "redis_connected_slaves", &[]) == Some(1.0)
            && value(&scrape(rm), "redis_db_keys", &[("db", "db0")]) == Some(5.0)
    }));
    let m = scrape(mm);
    assert_eq!(value(&m, "redis_up", &[]), Some(1.0));
    assert_eq!(value(&m, "redis_db_keys", &[("db", "db0")]), Some(5.0));
    assert_eq!(
        value(&m, "redis_db_keys_expiring", &[("db", "db0")]),
        Some(1.0)
    );
    assert_eq!(
        value(&m, "redis_commands_total", &[("cmd", "set")]),
        Some(5.0)
    );
    assert_eq!(value(&m, "redis_keyspace_hits_total", &[]), Some(1.0));
    assert_eq!(value(&m, "redis_keyspace_misses_total", &[]), Some(1.0));
    assert_eq!(value(&m, "redis_replica_resyncs_full", &[]), Some(1.0));
    let offset = value(&m, "redis_master_repl_offset", &[]).unwrap();
    let info: f64 = c.field("master_repl_offset").parse().unwrap();
    assert!(
        offset <= info && info - offset < 1000.0,
        "{offset} vs INFO {info}"
    );
    let port = rp.to_string();
    assert!(value(
        &m,
        "redis_connected_slave_offset_bytes",
        &[("slave_port", &port)]
    )
    .is_some());
    assert!(value(
        &m,
        "redis_connected_slave_lag_seconds",
        &[("slave_port", &port)]
    )
    .is_some());
    assert!(value(&m, "redis_memory_used_bytes", &[]).unwrap() > 0.0);
    let r = scrape(rm);
    assert_eq!(value(&r, "redis_master_link_up", &[]), Some(1.0));
    assert!(value(&r, "redis_slave_repl_offset", &[]).is_some());

    let metrics = format!("metrics-port {sm}\n");
    let _s = sentinel_with(false, t.path(), sp, mp, 1, &metrics);
    let who = [("master_name", "mymaster")];
    assert!(wait_until(Duration::from_secs(15), || {
        value(&scrape(sm), "redis_sentinel_master_slaves", &who) == Some(1.0)
    }));
    let s = scrape(sm);
    assert_eq!(value(&s, "redis_sentinel_masters", &[]), Some(1.0));
    assert_eq!(value(&s, "redis_sentinel_tilt", &[]), Some(0.0));
    let addr = format!("127.0.0.1:{mp}");
    let ok = [
        ("master_name", "mymaster"),
        ("master_address", addr.as_str()),
        ("master_status", "ok"),
    ];
    assert_eq!(value(&s, "redis_sentinel_master_status", &ok), Some(1.0));
    assert_eq!(
        value(&s, "redis_sentinel_master_sentinels", &who),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "redis_sentinel_master_ok_slaves", &who),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "redis_sentinel_master_ckquorum_status", &who),
        Some(1.0)
    );
    assert_eq!(value(&s, "picket_sentinel_current_epoch", &[]), Some(0.0));

    // A failover moves the counters, the epoch and the histogram.
    let mut sc = Client::connect(sp);
    assert_eq!(sc.cmd_str(&["SENTINEL", "FAILOVER", "mymaster"]), "+OK\r\n");
    assert!(
        wait_until(Duration::from_secs(20), || {
            value(
                &scrape(sm),
                "picket_sentinel_failovers_completed_total",
                &who,
            ) == Some(1.0)
        }),
        "no completed failover in the metrics"
    );
    let s = scrape(sm);
    assert_eq!(
        value(&s, "picket_sentinel_failovers_started_total", &who),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "picket_sentinel_failovers_aborted_total", &who),
        Some(0.0)
    );
    assert_eq!(
        value(&s, "picket_sentinel_switch_master_total", &who),
        Some(1.0)
    );
    assert_eq!(value(&s, "picket_sentinel_current_epoch", &[]), Some(1.0));
    assert_eq!(
        value(&s, "redis_sentinel_master_config_epoch", &who),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "picket_sentinel_failover_duration_seconds", &[]),
        Some(1.0)
    );
}
