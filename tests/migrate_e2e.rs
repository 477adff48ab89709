//! MIGRATE between picket-node and real redis-server 7.0 in every direction: the same script
//! gives the same replies and leaves the same data, whichever program is the source and which
//! the target (a key with its TTL, several with KEYS and COPY, BUSYKEY without REPLACE, NOKEY,
//! a target that is not there, AUTH errors from the target, the cached connection), and the
//! keys moved away are propagated as one DEL (seen by a replica of the source).

use common::{wait_until, Server};
use picket_testkit as common;
use std::time::Duration;

fn script(src: &Server, dst: &Server) -> Vec<String> {
    let mut s = src.client();
    let mut t = dst.client();
    let host = "127.0.0.1";
    let port_text = dst.port.to_string();
    let port = port_text.as_str();
    let mut log = Vec::new();
    let on = |c: &mut common::Client, args: &[&str], log: &mut Vec<String>| {
        let r = c.cmd_str(args);
        log.push(format!("{args:?} => {r}").replace(&format!("\"{port}\""), "PORT"));
    };
    on(&mut t, &["FLUSHALL"], &mut log);
    on(&mut s, &["FLUSHALL"], &mut log);
    on(&mut s, &["SET", "a", "1", "EX", "100"], &mut log);
    on(&mut s, &["RPUSH", "l", "x", "y"], &mut log);
    on(&mut s, &["HSET", "h", "f", "v"], &mut log);
    on(&mut s, &["ZADD", "z", "1", "m"], &mut log);
    on(&mut s, &["SET", "busy", "1"], &mut log);
    on(&mut t, &["SET", "busy", "2"], &mut log);
    on(&mut s, &["MIGRATE", host, port, "a", "3", "5000"], &mut log);
    on(&mut s, &["EXISTS", "a"], &mut log);
    let copy = [
        "MIGRATE", host, port, "", "3", "5000", "COPY", "KEYS", "l", "h", "nokey", "z",
    ];
    on(&mut s, &copy, &mut log);
    on(&mut s, &["EXISTS", "l", "h", "z"], &mut log);
    on(
        &mut s,
        &["MIGRATE", host, port, "busy", "0", "5000"],
        &mut log,
    );
    on(
        &mut s,
        &["MIGRATE", host, port, "busy", "0", "5000", "REPLACE"],
        &mut log,
    );
    on(
        &mut s,
        &["MIGRATE", host, port, "gone", "0", "5000"],
        &mut log,
    );
    on(&mut s, &["SET", "k", "v"], &mut log);
    on(
        &mut s,
        &["MIGRATE", host, port, "k", "0", "5000", "AUTH", "pw"],
        &mut log,
    );
    on(
        &mut s,
        &["MIGRATE", host, port, "k", "0", "5000", "AUTH2", "u", "pw"],
        &mut log,
    );
    on(&mut s, &["MIGRATE", host, "1", "k", "0", "200"], &mut log);
    on(&mut s, &["MIGRATE", host, port, "k", "x", "200"], &mut log);
    on(
        &mut s,
        &["MIGRATE", host, port, "k", "0", "200", "KEYS", "k"],
        &mut log,
    );
    on(
        &mut s,
        &["MIGRATE", host, port, "k", "0", "200", "AUTH2", "u"],
        &mut log,
    );
    let cached = s.info("stats");
    log.push(format!(
        "cached {:?}",
        common::info_field(&cached, "migrate_cached_sockets")
    ));
    on(&mut t, &["SELECT", "3"], &mut log);
    let ttl: i64 = t
        .cmd_str(&["TTL", "a"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    log.push(format!("ttl kept {}", (90..=100).contains(&ttl)));
    for args in [
        &["GET", "a"][..],
        &["LRANGE", "l", "0", "-1"],
        &["HGETALL", "h"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["SELECT", "0"],
        &["GET", "busy"],
        &["GET", "k"],
        &["DBSIZE"],
    ] {
        on(&mut t, args, &mut log);
    }
    on(&mut s, &["DBSIZE"], &mut log);
    log
}

#[test]
fn migrate_works_between_picket_and_redis_in_every_direction() {
    let start = |picket: bool| {
        if picket {
            Server::picket(&[])
        } else {
            Server::redis(&[])
        }
    };
    let want = script(&start(false), &start(false));
    assert!(want.iter().any(|l| l.contains("BUSYKEY")), "{want:?}");
    for (src, dst) in [(true, false), (false, true), (true, true)] {
        let name = format!("picket source {src}, picket target {dst}");
        let got = script(&start(src), &start(dst));
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(w, g, "{name}");
        }
        assert_eq!(want.len(), got.len(), "{name}");
    }
}

/// A migrated key goes from the source's replica too: MIGRATE propagates a DEL.
#[test]
fn migrate_propagates_the_deletion_to_replicas() {
    let target = Server::redis(&[]);
    let src = Server::picket(&[]);
    let replica = Server::picket(&["--replicaof", "127.0.0.1", &src.port.to_string()]);
    let mut s = src.client();
    let mut r = replica.client();
    s.cmd(&["SET", "moved", "v"]);
    s.cmd(&["SET", "copied", "v"]);
    assert!(wait_until(Duration::from_secs(10), || r
        .cmd_str(&["DBSIZE"])
        .trim()
        == ":2"));
    let port = target.port.to_string();
    assert_eq!(
        s.cmd_str(&["MIGRATE", "127.0.0.1", &port, "moved", "0", "5000"])
            .trim(),
        "+OK"
    );
    let copy = ["MIGRATE", "127.0.0.1", &port, "copied", "0", "5000", "COPY"];
    assert_eq!(s.cmd_str(&copy).trim(), "+OK");
    assert!(wait_until(Duration::from_secs(10), || r
        .cmd_str(&["EXISTS", "moved"])
        .trim()
        == ":0"));
    assert_eq!(r.cmd_str(&["EXISTS", "copied"]).trim(), ":1");
    assert_eq!(target.client().cmd_str(&["DBSIZE"]).trim(), ":2");
}
