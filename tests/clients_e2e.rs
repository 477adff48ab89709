//! Real client libraries following a failover run by picket-sentinel: redis-py's Sentinel
//! client (RESP2 and RESP3) and the `redis` crate's sentinel client keep writing through it.

use common::{free_port, redis_node, sentinel, wait_until, Client, Proc};
use picket_testkit as common;
use std::process::Command;
use std::time::Duration;

struct Group {
    _dir: common::TestDir,
    nodes: Vec<Proc>,
    sentinels: Vec<Proc>,
}

fn group() -> Group {
    let dir = common::test_dir();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes = vec![redis_node(dir.path(), ports[0], None)];
    for p in &ports[1..] {
        nodes.push(redis_node(dir.path(), *p, Some(ports[0])));
    }
    let sentinels: Vec<Proc> = (0..3)
        .map(|_| sentinel(false, dir.path(), free_port(), ports[0], 2))
        .collect();
    for s in &sentinels {
        assert!(wait_until(Duration::from_secs(20), || {
            let mut c = Client::connect(s.port);
            let r = c.cmd_str(&["SENTINEL", "REPLICAS", "mymaster"]);
            r.matches("master-link-status\r\n$2\r\nok").count() == 2
                && c.cmd_str(&["SENTINEL", "MASTER", "mymaster"])
                    .contains("num-other-sentinels\r\n$1\r\n2")
        }));
    }
    Group {
        _dir: dir,
        nodes,
        sentinels,
    }
}

fn python_has_redis() -> bool {
    Command::new("python3")
        .args(["-c", "import redis"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn redispy_through_failover(protocol: &str) {
    assert!(
        python_has_redis(),
        "redis-py is missing: run .ci/run, or pip install redis"
    );
    let mut g = group();
    let script = common::root().join("tests/clients/redispy_sentinel.py");
    let mut args = vec![
        script.display().to_string(),
        protocol.to_string(),
        "30".to_string(),
    ];
    args.extend(g.sentinels.iter().map(|s| s.port.to_string()));
    let child = Command::new("python3")
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    g.nodes[0].kill();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "redis-py (RESP{protocol}) did not follow the failover: {text}"
    );
    assert!(text.starts_with("ok "), "{text}");
}

#[test]
fn redis_py_resp2_follows_failover() {
    redispy_through_failover("2");
}

#[test]
fn redis_py_resp3_follows_failover() {
    redispy_through_failover("3");
}

#[test]
fn redis_crate_sentinel_client_follows_failover() {
    use redis::sentinel::{SentinelClient, SentinelServerType};
    let mut g = group();
    let urls: Vec<String> = g
        .sentinels
        .iter()
        .map(|s| format!("redis://127.0.0.1:{}/", s.port))
        .collect();
    let mut client = SentinelClient::build(
        urls,
        "mymaster".to_string(),
        None,
        SentinelServerType::Master,
    )
    .unwrap();
    let mut con = client.get_connection().unwrap();
    let port_of = |con: &mut redis::Connection| -> Option<String> {
        redis::cmd("CONFIG")
            .arg("GET")
            .arg("port")
            .query::<Vec<String>>(con)
            .ok()
            .and_then(|v| v.get(1).cloned())
    };
    let first = port_of(&mut con).unwrap();
    let _: i64 = redis::cmd("INCR")
        .arg("crate:counter")
        .query(&mut con)
        .unwrap();
    g.nodes[0].kill();
    let mut last = first.clone();
    let ok = wait_until(Duration::from_secs(30), || {
        let Ok(mut con) = client.get_connection() else {
            return false;
        };
        last = port_of(&mut con).unwrap_or_default();
        last != first
            && redis::cmd("INCR")
                .arg("crate:counter")
                .query::<i64>(&mut con)
                .is_ok()
    });
    assert!(
        ok,
        "the redis crate did not reach a new master (first {first}, last {last})"
    );
}
