//! End-to-end tests of transactions where the server's state matters: EXEC checked with the
//! flags of its queued commands (min-replicas, OOM, a stale replica) and how a transaction is
//! propagated to a replica. Each scenario runs against real redis-server 7.0 and picket-node
//! and their answers must be the same bytes, as Redis's unit/multi checks them.

use common::{Server, StreamReader};
use picket_testkit as common;

/// What EXEC answers when the state changed after the commands were queued.
fn exec_after_state_changes(s: &Server) -> Vec<String> {
    let mut c = s.client();
    let mut admin = s.client();
    let mut seen = Vec::new();
    c.cmd(&["SET", "xx", "1"]);
    // A write queued, then min-replicas-to-write raised: the transaction is discarded.
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "xx"]);
    admin.cmd(&["CONFIG", "SET", "min-replicas-to-write", "2"]);
    seen.push(c.cmd_str(&["EXEC"]));
    seen.push(c.cmd_str(&["GET", "xx"]));
    // Only reads: EXEC runs.
    c.cmd(&["MULTI"]);
    c.cmd(&["GET", "xx"]);
    seen.push(c.cmd_str(&["EXEC"]));
    // A write queued while refused: the transaction is flagged.
    c.cmd(&["MULTI"]);
    seen.push(c.cmd_str(&["INCR", "xx"]));
    seen.push(c.cmd_str(&["EXEC"]));
    admin.cmd(&["CONFIG", "SET", "min-replicas-to-write", "0"]);

    // OOM: a use-memory command in the queue fails EXEC, reads alone do not.
    c.cmd(&["MULTI"]);
    c.cmd(&["GET", "xx"]);
    c.cmd(&["PING"]);
    admin.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
    seen.push(c.cmd_str(&["EXEC"]));
    admin.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "x", "1"]);
    c.cmd(&["GET", "x"]);
    admin.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
    seen.push(c.cmd_str(&["EXEC"]));
    admin.cmd(&["CONFIG", "SET", "maxmemory", "0"]);

    // A replica that turned stale after the queue: GET and PING are refused, MULTI is not.
    c.cmd(&["CONFIG", "SET", "replica-serve-stale-data", "no"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    admin.cmd(&["REPLICAOF", "localhost", "1"]);
    seen.push(c.cmd_str(&["EXEC"]));
    seen.push(c.cmd_str(&["MULTI"]));
    admin.cmd(&["REPLICAOF", "NO", "ONE"]);
    seen.push(c.cmd_str(&["GET", "xx"]));
    seen.push(c.cmd_str(&["EXEC"]));
    seen
}

#[test]
fn exec_is_checked_with_its_queued_commands_flags() {
    let real = exec_after_state_changes(&Server::redis(&[]));
    let ours = exec_after_state_changes(&Server::picket(&[]));
    assert!(
        real[0].starts_with("-EXECABORT Transaction discarded because of: NOREPLICAS"),
        "{real:?}"
    );
    assert_eq!(ours, real);
}

fn propagated_transactions(s: &Server) -> Vec<String> {
    let mut repl = StreamReader::attach(s.port);
    let mut c = s.client();
    // One write: no MULTI/EXEC around it.
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "foo", "bar"]);
    c.cmd(&["EXEC"]);
    // Several writes, reads between them, databases switched inside.
    c.cmd(&["MULTI"]);
    c.cmd(&["SELECT", "1"]);
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["GET", "a"]);
    c.cmd(&["SELECT", "2"]);
    c.cmd(&["SET", "b", "2"]);
    c.cmd(&["EXEC"]);
    c.cmd(&["SET", "end", "1"]);
    repl.until("set end 1")
}

#[test]
fn a_transaction_of_several_writes_is_propagated_inside_multi_exec() {
    let real = propagated_transactions(&Server::redis(&["--repl-diskless-sync", "no"]));
    let ours = propagated_transactions(&Server::picket(&["--repl-diskless-sync", "no"]));
    assert!(real.contains(&"multi".to_string()), "{real:?}");
    assert_eq!(ours, real);
}

/// What MONITOR shows of transactions, without the timestamp and the client's address.
fn monitored_transactions(s: &Server) -> Vec<String> {
    let mut m = s.client();
    m.cmd(&["MONITOR"]);
    let mut c = s.client();
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "foo", "bar"]);
    c.cmd(&["EXEC"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SYNTAX", "ERROR"]);
    c.cmd(&["EXEC"]);
    c.cmd(&["PING"]);
    let mut seen = Vec::new();
    loop {
        let line = String::from_utf8(m.read_reply().expect("MONITOR line")).unwrap();
        let cmd = line.split_once("] ").map(|(_, c)| c.trim_end().to_string());
        let cmd = cmd.unwrap_or(line);
        let done = cmd == "\"PING\"";
        seen.push(cmd);
        if done {
            return seen;
        }
    }
}

#[test]
fn monitor_shows_exec_after_the_commands_it_ran() {
    let real = monitored_transactions(&Server::redis(&[]));
    let ours = monitored_transactions(&Server::picket(&[]));
    assert_eq!(
        real[..3],
        ["\"MULTI\"", "\"SET\" \"foo\" \"bar\"", "\"EXEC\""]
    );
    assert_eq!(ours, real);
}

/// SMOVE of a member the destination already holds leaves a WATCH on the destination alone;
/// a real move breaks it. Both count changes as Redis does.
fn smove_and_watch(s: &Server) -> Vec<String> {
    let mut c = s.client();
    let mut other = s.client();
    let mut seen = Vec::new();
    c.cmd(&["SADD", "src", "a", "b"]);
    c.cmd(&["SADD", "dst", "a"]);
    for member in ["a", "b"] {
        c.cmd(&["WATCH", "dst"]);
        c.cmd(&["MULTI"]);
        c.cmd(&["SADD", "dst", "c"]);
        let before = common::info_field(
            &other.cmd_str(&["INFO", "persistence"]),
            "rdb_changes_since_last_save",
        );
        seen.push(other.cmd_str(&["SMOVE", "src", "dst", member]));
        let after = common::info_field(
            &other.cmd_str(&["INFO", "persistence"]),
            "rdb_changes_since_last_save",
        );
        seen.push(format!("{before:?} -> {after:?}"));
        seen.push(c.cmd_str(&["EXEC"]));
    }
    seen
}

#[test]
fn smove_touches_the_destination_only_when_it_adds() {
    let real = smove_and_watch(&Server::redis(&[]));
    let ours = smove_and_watch(&Server::picket(&[]));
    assert_eq!(real[2], "*1\r\n:1\r\n", "{real:?}");
    assert_eq!(ours, real);
}
