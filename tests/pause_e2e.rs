//! End-to-end tests of CLIENT PAUSE and blocked clients, against real redis-server 7.0 and picket-node with the
//! same expectations, as Redis's unit/pause checks them: paused clients count as blocked, an
//! EXEC with a queued write waits for a WRITE pause, and keys do not expire while paused.

use common::{info_field, wait_until, Client, Server};
use picket_testkit as common;
use std::time::Duration;

fn int_field(c: &mut Client, field: &str) -> i64 {
    info_field(&c.cmd_str(&["INFO"]), field)
        .unwrap()
        .parse()
        .unwrap()
}

fn wait_blocked(c: &mut Client, n: i64) {
    assert!(
        wait_until(Duration::from_secs(5), || int_field(c, "blocked_clients")
            == n),
        "blocked_clients never reached {n}: {}",
        int_field(c, "blocked_clients")
    );
}

fn paused_clients_are_blocked(s: &Server) {
    let mut r = s.client();
    // A write waits and is counted in blocked_clients.
    r.cmd(&["CLIENT", "PAUSE", "60000", "WRITE"]);
    let mut w = s.client();
    w.send(&[b"SET", b"FOO", b"BAR"]);
    wait_blocked(&mut r, 1);
    // A read goes through.
    let mut reader = s.client();
    assert_eq!(reader.cmd_str(&["GET", "FOO"]), "$-1\r\n");
    r.cmd(&["CLIENT", "UNPAUSE"]);
    assert_eq!(w.read_reply().unwrap(), b"+OK\r\n");
    wait_blocked(&mut r, 0);

    // EXEC with a write queued waits; one with only reads does not.
    let mut t = s.client();
    t.cmd(&["MULTI"]);
    t.cmd(&["SET", "FOO", "BAZ"]);
    r.cmd(&["CLIENT", "PAUSE", "60000", "WRITE"]);
    t.send(&[b"EXEC"]);
    wait_blocked(&mut r, 1);
    let mut ro = s.client();
    ro.cmd(&["MULTI"]);
    ro.cmd(&["GET", "FOO"]);
    assert_eq!(ro.cmd_str(&["EXEC"]), "*1\r\n$3\r\nBAR\r\n");
    // A paused client that goes away is not counted any more.
    let mut gone = s.client();
    gone.send(&[b"DEL", b"FOO"]);
    wait_blocked(&mut r, 2);
    drop(gone);
    wait_blocked(&mut r, 1);
    r.cmd(&["CLIENT", "UNPAUSE"]);
    assert_eq!(t.read_reply().unwrap(), b"*1\r\n+OK\r\n");
    wait_blocked(&mut r, 0);
}

#[test]
fn paused_clients_count_as_blocked_and_exec_waits_for_its_writes() {
    paused_clients_are_blocked(&Server::redis(&[]));
    paused_clients_are_blocked(&Server::picket(&[]));
}

fn no_expiry_while_paused(s: &Server) {
    let mut r = s.client();
    let before = int_field(&mut r, "expired_keys");
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "foo", "bar", "PX", "10"]);
    r.cmd(&["SET", "bar", "foo", "PX", "10"]);
    r.cmd(&["CLIENT", "PAUSE", "50000", "WRITE"]);
    r.cmd(&["EXEC"]);
    assert!(wait_until(Duration::from_secs(2), || {
        r.cmd_str(&["GET", "foo"]) == "$-1\r\n" && r.cmd_str(&["GET", "bar"]) == "$-1\r\n"
    }));
    // Past the active expiry's cycles too: hidden, not deleted.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(int_field(&mut r, "expired_keys"), before);
    r.cmd(&["CLIENT", "UNPAUSE"]);
    r.cmd(&["GET", "foo"]);
    r.cmd(&["GET", "bar"]);
    assert_eq!(int_field(&mut r, "expired_keys"), before + 2);
}

#[test]
fn keys_do_not_expire_while_clients_are_paused() {
    no_expiry_while_paused(&Server::redis(&[]));
    no_expiry_while_paused(&Server::picket(&[]));
}

fn blocked_client_goes_away(s: &Server) {
    let mut r = s.client();
    let mut b = s.client();
    b.send(&[b"BLPOP", b"nolist", b"0"]);
    wait_blocked(&mut r, 1);
    drop(b);
    wait_blocked(&mut r, 0);
    // Commands pipelined behind a block wait for it and then run, in order.
    let mut p = s.client();
    p.send(&[b"BLPOP", b"l", b"0"]);
    wait_blocked(&mut r, 1);
    p.send(&[b"INCR", b"n"]);
    p.send(&[b"INCR", b"n"]);
    r.cmd(&["RPUSH", "l", "x"]);
    assert_eq!(p.read_reply().unwrap(), b"*2\r\n$1\r\nl\r\n$1\r\nx\r\n");
    assert_eq!(p.read_reply().unwrap(), b":1\r\n");
    assert_eq!(p.read_reply().unwrap(), b":2\r\n");
}

#[test]
fn a_blocked_client_that_disconnects_is_unblocked_at_once() {
    blocked_client_goes_away(&Server::redis(&[]));
    blocked_client_goes_away(&Server::picket(&[]));
}
