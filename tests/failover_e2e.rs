//! FAILOVER (Redis 6.2's coordinated switch) between picket-node and real redis-server 7.0:
//! a picket master hands over to a real replica and a real master to a picket replica, each
//! way with a partial resync of the old master (no full sync), no write lost, and the old
//! master following the new one; TIMEOUT without FORCE aborts and resumes writes.

use common::{info_field, wait_until, Server};
use picket_testkit as common;
use std::time::Duration;

fn start(picket: bool, extra: &[&str]) -> Server {
    if picket {
        Server::picket(extra)
    } else {
        Server::redis(extra)
    }
}

fn field(s: &Server, section: &str, name: &str) -> String {
    info_field(&s.client().info(section), name).unwrap_or_default()
}

fn int(s: &Server, section: &str, name: &str) -> i64 {
    field(s, section, name).parse().unwrap_or(-1)
}

fn wait(what: &str, f: impl FnMut() -> bool) {
    assert!(wait_until(Duration::from_secs(20), f), "timed out: {what}");
}

/// A master (picket or not) with a target replica (picket or not) and a picket replica.
fn group(master_picket: bool, target_picket: bool) -> (Server, Server, Server) {
    let m = start(master_picket, &[]);
    let port = m.port.to_string();
    let target = start(target_picket, &["--replicaof", "127.0.0.1", &port]);
    let other = start(true, &["--replicaof", "127.0.0.1", &port]);
    wait("replicas attached", || {
        int(&m, "replication", "connected_slaves") == 2
            && field(&target, "replication", "master_link_status") == "up"
            && field(&other, "replication", "master_link_status") == "up"
    });
    (m, target, other)
}

fn hand_over(master_picket: bool, target_picket: bool) {
    let (m, target, _other) = group(master_picket, target_picket);
    let mut c = m.client();
    for i in 0..200 {
        c.cmd(&["SET", &format!("k{i}"), &i.to_string()]);
    }
    let full_before = int(&target, "stats", "sync_full");
    let partial_before = int(&target, "stats", "sync_partial_ok");
    let port = target.port.to_string();
    assert_eq!(
        c.cmd_str(&["FAILOVER", "TO", "127.0.0.1", &port]).trim(),
        "+OK"
    );
    wait("failover finished", || {
        field(&m, "replication", "master_failover_state") == "no-failover"
            && field(&m, "replication", "role") == "slave"
            && field(&target, "replication", "role") == "master"
            && field(&m, "replication", "master_link_status") == "up"
    });
    assert_eq!(
        int(&target, "stats", "sync_full"),
        full_before,
        "no full sync"
    );
    assert!(int(&target, "stats", "sync_partial_ok") > partial_before);
    let mut t = target.client();
    assert_eq!(t.cmd_str(&["DBSIZE"]).trim(), ":200");
    t.cmd(&["SET", "after", "1"]);
    wait("old master follows", || {
        m.client().cmd_str(&["GET", "after"]).contains('1')
    });
    let mut old = m.client();
    assert!(old.cmd_str(&["SET", "x", "1"]).starts_with("-READONLY"));
}

#[test]
fn picket_master_fails_over_to_a_redis_replica() {
    hand_over(true, false);
}

#[test]
fn redis_master_fails_over_to_a_picket_replica() {
    hand_over(false, true);
}

#[test]
fn a_failover_that_times_out_aborts_and_writes_resume() {
    let (m, target, _other) = group(true, true);
    // The target never acknowledges: it is stopped.
    let pid = target.child.id();
    let _ = std::process::Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status();
    let mut c = m.client();
    c.cmd(&["SET", "during", "1"]);
    let port = target.port.to_string();
    assert_eq!(
        c.cmd_str(&["FAILOVER", "TO", "127.0.0.1", &port, "TIMEOUT", "300"])
            .trim(),
        "+OK"
    );
    assert_eq!(
        field(&m, "replication", "master_failover_state"),
        "waiting-for-sync"
    );
    assert_eq!(
        c.cmd_str(&["FAILOVER"]).trim(),
        "-ERR FAILOVER already in progress."
    );
    wait("aborted", || {
        field(&m, "replication", "master_failover_state") == "no-failover"
    });
    let _ = std::process::Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status();
    assert_eq!(field(&m, "replication", "role"), "master");
    assert_eq!(c.cmd_str(&["SET", "after", "1"]).trim(), "+OK");
    assert!(m
        .log_text()
        .contains("Replica never caught up before timeout"));
}
