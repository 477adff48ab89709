//! redis_exporter (Debian's prometheus-redis-exporter) pointed at picket-node and at
//! picket-sentinel exports exactly the series it exports for redis-server and redis-sentinel
//! holding the same data: every query it makes (INFO and its `masterN:` lines, CONFIG GET,
//! SENTINEL MASTERS/SENTINELS/SLAVES/CKQUORUM, ...) gets what it parses. And Picket's own
//! `metrics-port` gives the same values as the exporter under the names they share.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use picket_testkit::{
    free_port, http_get, picket_node_with, sentinel_with, test_dir, wait_until, Client, Server,
};

fn exporter_bin() -> PathBuf {
    let p = PathBuf::from("/usr/bin/prometheus-redis-exporter");
    assert!(
        p.exists(),
        "redis_exporter is missing: run .ci/run, or apt-get install -y prometheus-redis-exporter"
    );
    p
}

/// redis_exporter watching `target`, killed on drop.
struct Exporter(Child, u16);

impl Exporter {
    fn start(target: u16) -> Exporter {
        let port = free_port();
        let child = Command::new(exporter_bin())
            .arg(format!("--redis.addr=redis://127.0.0.1:{target}"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis_exporter");
        let up = wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "redis_exporter did not listen");
        Exporter(child, port)
    }

    fn scrape(&self) -> BTreeMap<String, f64> {
        series(&http_get(self.1, "/metrics").1)
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `name{labels}` → value, for the `redis_*` series; each `:PORT` of a monitored server is
/// written `:PORT` so two servers' series compare.
fn series(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| l.starts_with("redis_") && !l.starts_with("redis_exporter"))
        // Per-command series depend on which commands each server happened to see.
        .filter(|l| !l.starts_with("redis_commands_"))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(f64::NAN)))
        .collect()
}

fn normalized(m: &BTreeMap<String, f64>, ports: &[u16]) -> BTreeMap<String, f64> {
    m.iter()
        .map(|(k, v)| {
            let mut k = drop_labels(k, &["os", "process_id", "run_id", "redis_build_id"]);
            for p in ports {
                k = k.replace(&p.to_string(), "PORT");
            }
            (k, *v)
        })
        .collect()
}

/// `name{a="1",b="2"}` without the labels named in `names` (values unique to a process).
fn drop_labels(series: &str, names: &[&str]) -> String {
    let Some((name, rest)) = series.split_once('{') else {
        return series.to_string();
    };
    let labels = rest.trim_end_matches('}');
    let kept: Vec<&str> = labels
        .split("\",")
        .filter(|l| !names.iter().any(|n| l.starts_with(&format!("{n}="))))
        .collect();
    let mut joined = kept.join("\",");
    if !joined.is_empty() && !joined.ends_with('"') {
        joined.push('"');
    }
    format!("{name}{{{joined}}}")
}

/// Scrapes until `key` is there (the servers' first moments can miss a series).
fn scrape_with(e: &Exporter, key: &str) -> BTreeMap<String, f64> {
    let mut last = BTreeMap::new();
    let found = wait_until(Duration::from_secs(15), || {
        last = e.scrape();
        last.contains_key(key)
    });
    assert!(found, "no {key} from the exporter: {last:?}");
    last
}

/// Series whose values are expected to differ between two servers (times, sizes, counts of
/// connections and commands the exporter's own queries add, ids).
fn volatile(name: &str) -> bool {
    let stable = [
        "redis_up",
        "redis_db_keys",
        "redis_db_keys_expiring",
        "redis_connected_slaves",
        "redis_memory_max_bytes",
        "redis_sentinel_masters",
        "redis_sentinel_tilt",
        "redis_sentinel_running_scripts",
        "redis_sentinel_scripts_queue_length",
        "redis_sentinel_master_status",
        "redis_sentinel_master_slaves",
        "redis_sentinel_master_sentinels",
        "redis_sentinel_master_ok_sentinels",
        "redis_sentinel_master_ok_slaves",
        "redis_sentinel_master_ckquorum_status",
    ];
    let base = name.split('{').next().unwrap_or(name);
    !stable.contains(&base)
}

/// The same series on both sides, and the same values for the stable ones.
fn assert_same_series(
    r: &BTreeMap<String, f64>,
    p: &BTreeMap<String, f64>,
    real: &str,
    ours: &str,
) {
    let names = |m: &BTreeMap<String, f64>| m.keys().cloned().collect::<BTreeSet<_>>();
    let (rn, pn) = (names(r), names(p));
    let only_real: Vec<&String> = rn.difference(&pn).collect();
    assert!(
        only_real.is_empty(),
        "series the exporter gives for {real} but not for {ours}: {only_real:?}"
    );
    let only_ours: Vec<&String> = pn.difference(&rn).collect();
    assert!(
        only_ours.is_empty(),
        "series the exporter gives only for {ours}: {only_ours:?}"
    );
    for (k, v) in r.iter().filter(|(k, _)| !volatile(k)) {
        assert_eq!(p.get(k), Some(v), "{k}");
    }
}

fn load(c: &mut Client) {
    for i in 0..10 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    c.cmd(&["EXPIRE", "k0", "1000"]);
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["RPUSH", "list", "a", "b"]);
}

#[test]
fn redis_exporter_sees_picket_as_it_sees_redis() {
    let t = test_dir();
    let real = Server::redis(&[]);
    let mp = free_port();
    let metrics = free_port();
    let _ours = picket_node_with(
        t.path(),
        mp,
        None,
        &["--metrics-port", &metrics.to_string()],
    );
    load(&mut real.client());
    load(&mut Client::connect(mp));
    let (er, ep) = (Exporter::start(real.port), Exporter::start(mp));
    let key = "redis_db_keys{db=\"db3\"}";
    let (r, p) = (
        normalized(&scrape_with(&er, key), &[real.port]),
        normalized(&scrape_with(&ep, key), &[mp]),
    );
    assert_eq!(
        r.get("redis_up"),
        Some(&1.0),
        "the exporter cannot read redis-server"
    );
    assert_same_series(&r, &p, "redis-server", "picket-node");
    // Picket's own endpoint agrees with the exporter on the names they share.
    let own = series(&http_get(metrics, "/metrics").1);
    for k in [
        "redis_db_keys{db=\"db0\"}",
        "redis_db_keys{db=\"db3\"}",
        "redis_db_keys_expiring{db=\"db0\"}",
        "redis_db_keys{db=\"db15\"}",
    ] {
        assert_eq!(own.get(k), p.get(k), "{k}");
    }
}

#[test]
fn redis_exporter_sees_picket_sentinel_as_it_sees_redis_sentinel() {
    let t = test_dir();
    let real = Server::redis(&[]);
    let mp = free_port();
    let _ours = picket_node_with(t.path(), mp, None, &[]);
    let (rs, ps, metrics) = (free_port(), free_port(), free_port());
    let _real_sentinel = sentinel_with(true, t.path(), rs, real.port, 1, "");
    let _our_sentinel = sentinel_with(
        false,
        t.path(),
        ps,
        mp,
        1,
        &format!("metrics-port {metrics}\n"),
    );
    let (er, ep) = (Exporter::start(rs), Exporter::start(ps));
    let key = "redis_sentinel_masters";
    let (r, p) = (
        normalized(&scrape_with(&er, key), &[real.port, rs]),
        normalized(&scrape_with(&ep, key), &[mp, ps]),
    );
    assert_eq!(
        r.get("redis_sentinel_masters"),
        Some(&1.0),
        "the exporter does not see redis-sentinel as a sentinel: {r:?}"
    );
    assert_same_series(&r, &p, "redis-sentinel", "picket-sentinel");
    let own = normalized(&series(&http_get(metrics, "/metrics").1), &[mp, ps]);
    for (k, v) in p.iter().filter(|(k, _)| k.starts_with("redis_sentinel")) {
        assert_eq!(
            own.get(k),
            Some(v),
            "Picket's endpoint and the exporter differ on {k}"
        );
    }
}
