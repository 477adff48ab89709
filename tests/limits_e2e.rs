//! End-to-end tests of picket-node's client limits and the statistics of refused and failed
//! calls, as Redis's unit/obuf-limits and unit/info check them.

use common::{info_field, wait_until, Client, Server};
use picket_testkit as common;
use std::time::Duration;

fn used_memory(c: &mut Client) -> u64 {
    info_field(&c.info("memory"), "used_memory")
        .unwrap()
        .parse()
        .unwrap()
}

fn client_names(c: &mut Client) -> String {
    c.cmd_str(&["CLIENT", "LIST"])
}

/// `client-output-buffer-limit normal <hard>`: a reply over the limit closes its client with
/// nothing of it sent; a whole EXEC runs first; a huge HRANDFIELD stops and frees its memory.
#[test]
fn a_normal_client_over_its_output_limit_is_closed_without_a_reply() {
    let s = Server::picket(&[]);
    let mut c = s.client();
    let item = "x".repeat(1000);
    for _ in 0..150 {
        c.cmd(&["LPUSH", "mylist", &item]);
    }
    assert_eq!(
        c.cmd_str(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 100000 0 0"
        ]),
        "+OK\r\n"
    );
    let mut big = s.client();
    assert_eq!(big.cmd_str(&["CLIENT", "SETNAME", "mybiglist"]), "+OK\r\n");
    big.send(&[b"LRANGE", b"mylist", b"0", b"-1"]);
    assert!(big.read_reply().is_none(), "a reply came over the limit");
    assert!(!client_names(&mut c).contains("name=mybiglist"));
    assert!(s.log_text().contains("overcoming of output buffer limits"));

    // The transaction runs whole before its client goes.
    let mut t = s.client();
    t.cmd(&["MULTI"]);
    t.cmd(&["SET", "k2", "v2"]);
    t.cmd(&["LRANGE", "mylist", "0", "-1"]);
    t.cmd(&["SET", "k3", "v3"]);
    t.send(&[b"EXEC"]);
    assert!(t.read_reply().is_none());
    assert_eq!(
        c.cmd_str(&["MGET", "k2", "k3"]),
        "*2\r\n$2\r\nv2\r\n$2\r\nv3\r\n"
    );

    // A count of a billion picks is drawn as written, and stops at the limit.
    c.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "normal 1000000 0 0",
    ]);
    c.cmd(&["HSET", "myhash", "a", "b"]);
    c.cmd(&["ZADD", "myzset", "1", "a"]);
    c.cmd(&["SADD", "myset", "a"]);
    let before = used_memory(&mut c);
    for (cmd, key) in [
        ("HRANDFIELD", "myhash"),
        ("ZRANDMEMBER", "myzset"),
        ("SRANDMEMBER", "myset"),
    ] {
        let mut h = s.client();
        h.send(&[cmd.as_bytes(), key.as_bytes(), b"-999999999"]);
        assert!(h.read_reply().is_none(), "{cmd} replied");
    }
    assert!(
        wait_until(Duration::from_secs(5), || used_memory(&mut c)
            < before + (8 << 20)),
        "memory grew: {before} -> {}",
        used_memory(&mut c)
    );
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
}

/// INFO commandstats and errorstats: a call with the wrong number of arguments is the
/// command's rejected call; a blocked call ended by CLIENT UNBLOCK ERROR is its failed call.
#[test]
fn rejected_and_unblocked_calls_are_counted_as_redis_counts_them() {
    let s = Server::picket(&[]);
    let mut c = s.client();
    let stat = |c: &mut Client, name: &str| {
        let text = c.info("commandstats");
        text.lines()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .map(|l| l.split_once(',').map(|(_, rest)| rest.to_string()).unwrap())
            .unwrap_or_default()
    };
    c.cmd(&["CONFIG", "RESETSTAT"]);
    assert!(c
        .cmd_str(&["SET", "k"])
        .starts_with("-ERR wrong number of arguments"));
    assert!(c
        .cmd_str(&["CONFIG", "GET"])
        .starts_with("-ERR wrong number of arguments"));
    c.cmd(&["SET", "k1", "v1"]);
    let set = c.info("commandstats");
    assert!(
        set.contains("cmdstat_set:calls=1,") && set.contains("rejected_calls=1,failed_calls=0"),
        "{set}"
    );
    assert!(stat(&mut c, "config|get").contains("rejected_calls=1"));

    let mut blocked = s.client();
    let id = blocked.cmd_str(&["CLIENT", "ID"]);
    let id = id.trim().trim_start_matches(':').to_string();
    blocked.send(&[b"BLPOP", b"nolist", b"0"]);
    assert!(wait_until(Duration::from_secs(5), || c
        .field("blocked_clients")
        == "1"));
    assert_eq!(c.cmd_str(&["CLIENT", "UNBLOCK", &id, "ERROR"]), ":1\r\n");
    let reply = String::from_utf8(blocked.read_reply().unwrap()).unwrap();
    assert!(reply.starts_with("-UNBLOCKED"), "{reply}");
    assert!(c.info("errorstats").contains("errorstat_UNBLOCKED:count=1"));
    assert!(stat(&mut c, "blpop").ends_with("rejected_calls=0,failed_calls=1"));
}

/// A client's field in CLIENT LIST, found by its name.
fn client_field(c: &mut Client, name: &str, field: &str) -> Option<usize> {
    let list = c.cmd_str(&["CLIENT", "LIST"]);
    let line = list
        .lines()
        .find(|l| l.contains(&format!("name={name} ")))?;
    let value = line
        .split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{field}=")))?;
    value.parse().ok()
}

/// The query buffer as Redis's unit/querybuf sees it: 16 KiB after a first command, given
/// back whole after 2 s idle, and shrunk to its recent peak after a large request.
#[test]
fn query_buffers_are_given_back_as_redis_gives_them_back() {
    let s = Server::picket(&[]);
    let mut c = s.client();
    let mut idle = s.client();
    idle.cmd(&["CLIENT", "SETNAME", "idle"]);
    let room = |c: &mut Client, n: &str| {
        client_field(c, n, "qbuf").unwrap() + client_field(c, n, "qbuf-free").unwrap()
    };
    let first = room(&mut c, "idle");
    assert!((16384..32768).contains(&first), "{first}");
    assert!(
        wait_until(Duration::from_secs(6), || room(&mut c, "idle") == 0),
        "the idle client's query buffer was not given back"
    );
    assert_eq!(idle.cmd_str(&["PING"]), "+PONG\r\n");

    let mut busy = s.client();
    busy.cmd(&["CLIENT", "SETNAME", "busy"]);
    busy.cmd(&["SET", "x", &"A".repeat(400_000)]);
    let big = room(&mut c, "busy");
    assert!(big > 32768, "{big}");
    assert!(
        wait_until(Duration::from_secs(3), || {
            busy.cmd(&["SET", "x", "small"]);
            let now = room(&mut c, "busy");
            now > 0 && now < big
        }),
        "the busy client's query buffer did not shrink"
    );
}

/// A subscriber over the pubsub soft limit is closed once its seconds pass, even when no more
/// messages come (the server's cron checks, as Redis's clientsCron).
#[test]
fn a_pubsub_soft_limit_is_enforced_without_more_traffic() {
    let s = Server::picket(&[]);
    let mut c = s.client();
    c.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 0 100000 1",
    ]);
    let mut sub = s.client();
    sub.cmd(&["CLIENT", "SETNAME", "slow"]);
    sub.cmd(&["SUBSCRIBE", "foo"]);
    let payload = "x".repeat(1000);
    for _ in 0..10_000 {
        c.cmd(&["PUBLISH", "foo", &payload]);
        if client_field(&mut c, "slow", "omem").unwrap_or(0) > 100_000 {
            break;
        }
    }
    assert!(client_field(&mut c, "slow", "omem").unwrap_or(0) > 100_000);
    assert!(
        wait_until(Duration::from_secs(4), || client_field(
            &mut c, "slow", "omem"
        )
        .is_none()),
        "the subscriber over its soft limit stayed connected"
    );
}

/// A foreground save that fails (SAVE, a shutdown's) does not refuse writes: only a failed
/// background save does, as in Redis (unit/shutdown).
#[test]
fn a_failed_foreground_save_does_not_refuse_writes() {
    let s = Server::picket(&["--save", "900 1"]);
    let mut c = s.client();
    c.cmd(&["SET", "k", "v"]);
    std::fs::create_dir(s.dir.path().join("dump.rdb")).unwrap();
    assert!(c.cmd_str(&["SAVE"]).starts_with("-ERR"));
    assert!(c
        .cmd_str(&["SHUTDOWN"])
        .starts_with("-ERR Errors trying to SHUTDOWN"));
    assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
    assert_eq!(c.cmd_str(&["SET", "k", "w"]), "+OK\r\n");
    std::fs::remove_dir(s.dir.path().join("dump.rdb")).unwrap();
}
