//! Keyspace notifications that the differential corpus (tests/differential.rs, which checks
//! every command's events) cannot reach: events sent outside a command's own reply — a
//! blocked client served by another client's push, the active expiry cycle, eviction when
//! CONFIG SET lowers maxmemory — each compared with redis-server's.

use common::{wait_until, Client, Server};
use picket_testkit as common;
use std::time::Duration;

const MARKER: &str = "__events_marker__";

/// A subscriber to every channel on `server`.
fn subscriber(server: &Server) -> Client {
    let mut sub = server.client();
    sub.cmd(&["PSUBSCRIBE", "*"]);
    sub
}

/// The keyspace events `sub` received until the marker `ctl` publishes now.
fn events(ctl: &mut Client, sub: &mut Client) -> Vec<String> {
    ctl.cmd(&["PUBLISH", MARKER, "x"]);
    let mut out = Vec::new();
    while let Some(msg) = sub.read_reply() {
        let text = String::from_utf8_lossy(&msg).into_owned();
        let parts: Vec<&str> = text.split("\r\n").collect();
        // *4 $8 pmessage $1 * $len channel $len payload
        let (channel, payload) = (parts.get(6).copied(), parts.get(8).copied());
        match (channel, payload) {
            (Some(MARKER), _) => return out,
            (Some(c), Some(p)) if c.starts_with("__key") => out.push(format!("{c} {p}")),
            _ => {}
        }
    }
    out.push("(subscriber connection lost)".into());
    out
}

/// Runs `scenario` on a fresh server of each kind and returns (redis's, picket's) events.
fn both(scenario: fn(&Server, &mut Client)) -> (Vec<String>, Vec<String>) {
    let run = |server: Server| {
        let mut ctl = server.client();
        ctl.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEAmn"]);
        let mut sub = subscriber(&server);
        scenario(&server, &mut ctl);
        events(&mut ctl, &mut sub)
    };
    (run(Server::redis(&[])), run(Server::picket(&[])))
}

fn blocked_pop_served_by_push(server: &Server, ctl: &mut Client) {
    let mut blocked = server.client();
    blocked.send(&[b"BLPOP", b"bl", b"0"]);
    assert!(wait_until(Duration::from_secs(5), || ctl
        .field("blocked_clients")
        == "1"));
    ctl.cmd(&["RPUSH", "bl", "x"]);
    assert!(blocked.read_reply().is_some());
}

fn active_expiry(_server: &Server, ctl: &mut Client) {
    ctl.cmd(&["PSETEX", "foo", "50", "1"]);
    assert!(wait_until(Duration::from_secs(5), || ctl
        .field("expired_keys")
        == "1"));
}

fn eviction_when_maxmemory_is_lowered(_server: &Server, ctl: &mut Client) {
    ctl.cmd(&["SET", "foo", "bar"]);
    ctl.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    ctl.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
    assert!(wait_until(Duration::from_secs(5), || ctl
        .field("evicted_keys")
        == "1"));
    ctl.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
}

#[test]
fn events_outside_the_command_reply_match_redis() {
    for (name, scenario) in [
        (
            "blocked pop",
            blocked_pop_served_by_push as fn(&Server, &mut Client),
        ),
        ("active expiry", active_expiry),
        ("eviction", eviction_when_maxmemory_is_lowered),
    ] {
        let (redis, picket) = both(scenario);
        assert!(!redis.is_empty(), "{name}: redis sent no events");
        assert_eq!(redis, picket, "{name}");
    }
}

/// CONFIG GET shows the flags as Redis does (`A` hides `n`), but every class set stays on.
#[test]
fn config_flags_keep_new_under_all() {
    let server = Server::picket(&[]);
    let mut ctl = server.client();
    ctl.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEAn"]);
    assert!(ctl
        .cmd_str(&["CONFIG", "GET", "notify-keyspace-events"])
        .contains("AKE\r\n"));
    let mut sub = subscriber(&server);
    ctl.cmd(&["SET", "k", "v"]);
    let got = events(&mut ctl, &mut sub);
    assert!(got.contains(&"__keyevent@0__:new k".to_string()), "{got:?}");
}
