//! End-to-end tests of scripting where more than one reply matters: what a script propagates
//! to replicas (its effects, in MULTI/EXEC), what other clients see while a script is busy
//! (`-BUSY`, SCRIPT KILL, FUNCTION KILL, new connections), the error stats of scripts, and
//! the client libraries that run scripts (redis-py's Lock, `limits`, node-redlock). Each
//! scenario that can runs against real redis-server 7.0 and picket-node and must see the same.

use common::{Client, Server, StreamReader};
use picket_testkit as common;
use std::process::Command;
use std::time::Duration;

/// What the replication stream carries for a set of scripts, up to a final marker write.
fn propagated_scripts(s: &Server) -> Vec<String> {
    let mut repl = StreamReader::attach(s.port);
    let mut c = s.client();
    // Reads only: nothing.
    c.cmd(&["EVAL", "return redis.call('get', KEYS[1])", "1", "k"]);
    // One write: the write alone.
    c.cmd(&["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "k"]);
    // Several writes, a SELECT between them, a read: MULTI, the writes, EXEC.
    c.cmd(&[
        "EVAL",
        "redis.call('incr', KEYS[1]); redis.call('get', KEYS[1]); redis.call('select', 3); \
         redis.call('rpush', KEYS[2], 'a', 'b'); return 1",
        "2",
        "n",
        "l",
    ]);
    // Effects, not the script: SPOP's random pick is replicated as the member it removed.
    c.cmd(&["SADD", "s", "only"]);
    c.cmd(&["EVAL", "return redis.call('spop', KEYS[1])", "1", "s"]);
    // A script that fails after a write: the write it made stays and is replicated.
    c.cmd(&[
        "EVAL",
        "redis.call('set', KEYS[1], 'w'); error('boom')",
        "1",
        "k2",
    ]);
    // A script that writes nothing in the end (a DEL of a missing key): nothing.
    c.cmd(&["EVAL", "return redis.call('del', KEYS[1])", "1", "missing"]);
    // A function library: FUNCTION LOAD itself, then its call's effects.
    c.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\nredis.register_function('f', function(k) return redis.call('set', k[1], 'f') end)",
    ]);
    c.cmd(&["FCALL", "f", "1", "fk"]);
    c.cmd(&["FUNCTION", "DELETE", "lib"]);
    c.cmd(&["SET", "end", "1"]);
    repl.until("set end 1")
}

#[test]
fn scripts_propagate_their_effects_as_redis_does() {
    let real = propagated_scripts(&Server::redis(&["--repl-diskless-sync", "no"]));
    let ours = propagated_scripts(&Server::picket(&["--repl-diskless-sync", "no"]));
    assert!(real.contains(&"multi".to_string()), "{real:?}");
    assert_eq!(ours, real);
}

/// Polls until `c` gets a -BUSY reply to PING.
fn wait_busy(c: &mut Client) -> String {
    let mut last = String::new();
    let ok = common::wait_until(Duration::from_secs(10), || {
        last = c.cmd_str(&["PING"]);
        last.starts_with("-BUSY")
    });
    assert!(ok, "no -BUSY while the script runs: {last}");
    last
}

/// A busy EVAL as others see it: -BUSY to existing and new connections, FUNCTION KILL
/// refused, SCRIPT KILL ends it, the script's caller gets the kill error, then PONG.
fn busy_eval(s: &Server) -> Vec<String> {
    let mut admin = s.client();
    admin.cmd(&["CONFIG", "SET", "busy-reply-threshold", "50"]);
    let mut runner = s.client();
    runner.send(&[b"EVAL", b"while true do end", b"0"]);
    let mut seen = vec![wait_busy(&mut admin)];
    // A connection made while the script is busy is answered too.
    let mut late = s.client();
    seen.push(late.cmd_str(&["GET", "x"]));
    seen.push(late.cmd_str(&["FUNCTION", "KILL"]));
    seen.push(admin.cmd_str(&["SCRIPT", "KILL"]));
    seen.push(String::from_utf8_lossy(&runner.read_reply().expect("the script's reply")).into());
    seen.push(admin.cmd_str(&["PING"]));
    seen.push(late.cmd_str(&["PING"]));
    seen.push(runner.cmd_str(&["PING"]));
    seen.push(admin.cmd_str(&["SCRIPT", "KILL"]));
    seen
}

#[test]
fn a_busy_script_answers_busy_and_is_killed_by_script_kill() {
    let real = busy_eval(&Server::redis(&[]));
    let ours = busy_eval(&Server::picket(&[]));
    assert!(real[0].starts_with("-BUSY"), "{real:?}");
    assert_eq!(ours, real);
}

/// A busy function that wrote: FUNCTION KILL answers -UNKILLABLE; SHUTDOWN NOSAVE ends the
/// server (the only way out).
fn busy_writing_function(s: &Server) -> Vec<String> {
    let mut admin = s.client();
    admin.cmd(&["CONFIG", "SET", "busy-reply-threshold", "50"]);
    admin.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=spin\nredis.register_function('spin', function(k) redis.call('set', k[1], 'x') while true do end end)",
    ]);
    let mut runner = s.client();
    runner.send(&[b"FCALL", b"spin", b"1", b"key"]);
    let mut seen = vec![wait_busy(&mut admin)];
    seen.push(admin.cmd_str(&["SCRIPT", "KILL"]));
    seen.push(admin.cmd_str(&["FUNCTION", "KILL"]));
    admin.send(&[b"SHUTDOWN", b"NOSAVE"]);
    let gone = common::wait_until(Duration::from_secs(10), || {
        Client::try_connect(s.port).is_none()
    });
    seen.push(format!("exited: {gone}"));
    seen
}

#[test]
fn a_busy_function_that_wrote_is_unkillable_but_shutdown_nosave_works() {
    let real = busy_writing_function(&Server::redis(&[]));
    let ours = busy_writing_function(&Server::picket(&[]));
    assert_eq!(
        real.last().map(String::as_str),
        Some("exited: true"),
        "{real:?}"
    );
    assert_eq!(ours, real);
}

/// Error stats after scripts that fail in their different ways.
fn script_error_stats(s: &Server) -> Vec<String> {
    let mut c = s.client();
    let mut seen = Vec::new();
    let stats = |c: &mut Client, cmds: &[&str]| {
        let info = c.cmd_str(&["INFO", "ALL"]);
        let mut v: Vec<String> = info
            .lines()
            .filter(|l| {
                l.starts_with("errorstat_")
                    || l.starts_with("total_error_replies")
                    || cmds.iter().any(|n| l.starts_with(&format!("cmdstat_{n}:")))
            })
            .map(|l| {
                // usec figures differ: keep the counts.
                l.split(',')
                    .filter(|f| !f.contains("usec"))
                    .collect::<Vec<_>>()
                    .join(",")
                    .trim()
                    .to_string()
            })
            .collect();
        v.sort();
        v.join(" ")
    };
    c.cmd(&["CONFIG", "RESETSTAT"]);
    seen.push(c.cmd_str(&["EVAL", "return redis.call('select', 99)", "0"]));
    seen.push(stats(&mut c, &["select", "eval"]));
    c.cmd(&["CONFIG", "RESETSTAT"]);
    seen.push(c.cmd_str(&["EVAL", "return redis.pcall('select', 99)", "0"]));
    seen.push(stats(&mut c, &["select", "eval"]));
    c.cmd(&["CONFIG", "RESETSTAT"]);
    seen.push(c.cmd_str(&["EVAL", "local t = redis.pcall('select', 99) return 1", "0"]));
    seen.push(stats(&mut c, &["select", "eval"]));
    c.cmd(&["CONFIG", "RESETSTAT"]);
    seen.push(c.cmd_str(&["EVAL", "return {err='MY own'}", "0"]));
    seen.push(stats(&mut c, &["eval"]));
    c.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
    c.cmd(&["CONFIG", "RESETSTAT"]);
    seen.push(c.cmd_str(&["EVAL", "return redis.call('set', 'x', 'y')", "1", "x"]));
    seen.push(stats(&mut c, &["set", "eval"]));
    c.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    seen
}

#[test]
fn script_errors_are_counted_once_as_redis_counts_them() {
    let real = script_error_stats(&Server::redis(&[]));
    let ours = script_error_stats(&Server::picket(&[]));
    assert!(real[1].contains("errorstat_ERR:count=1"), "{real:?}");
    assert_eq!(ours, real);
}

/// Whether `python3` has the modules the client script needs.
fn python_has(modules: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Runs a client-library script against a fresh picket-node; its output on failure.
fn run_client(program: &str, script: &str) {
    let s = Server::picket(&[]);
    let path = common::root().join("tests/clients").join(script);
    let out = Command::new(program)
        .arg(&path)
        .arg(s.port.to_string())
        .output()
        .unwrap_or_else(|e| panic!("{program} {}: {e}", path.display()));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("all passed"),
        "{script} failed:\n{text}"
    );
}

#[test]
fn redis_py_lock_and_limits_moving_window_run_unchanged() {
    assert!(
        python_has("redis, limits"),
        "redis-py and limits are missing: run .ci/run, or pip install redis limits"
    );
    run_client("python3", "redispy_scripts.py");
}

#[test]
fn node_redlock_runs_unchanged() {
    let modules = common::root().join("tests/clients/node/node_modules/redlock");
    assert!(
        modules.exists(),
        "node-redlock is missing: run .ci/run, or npm install --prefix tests/clients/node"
    );
    run_client("node", "node/redlock.js");
}

/// Starts `bin` on a free port in `dir` (the snapshot there is loaded).
fn node_in(bin: &std::path::Path, dir: &std::path::Path, log: &str) -> (common::Proc, u16) {
    let port = common::free_port();
    let args = common::process::base_args(port, dir, &dir.join(log));
    (common::Proc::spawn(bin, &args, port), port)
}

/// The libraries `writer` saved, as `reader` loads them from the same file.
fn functions_survive_a_snapshot(writer: &std::path::Path, reader: &std::path::Path) -> Vec<String> {
    let dir = common::test_dir();
    let (mut w, port) = node_in(writer, dir.path(), "writer.log");
    let mut c = Client::connect(port);
    c.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=kept\nredis.register_function{function_name='kept_f', callback=function(k, a) return a[1] end, flags={'no-writes'}}",
    ]);
    c.cmd(&["SET", "k", "v"]);
    assert_eq!(c.cmd_str(&["SAVE"]), "+OK\r\n");
    w.kill();
    let (mut r, port) = node_in(reader, dir.path(), "reader.log");
    let mut c = Client::connect(port);
    let seen = vec![
        c.cmd_str(&["FCALL_RO", "kept_f", "0", "hello"]),
        c.cmd_str(&["FUNCTION", "LIST", "WITHCODE"]),
        c.cmd_str(&["GET", "k"]),
    ];
    r.kill();
    seen
}

#[test]
fn function_libraries_are_in_the_snapshot_both_ways_between_redis_and_picket() {
    let (redis, picket) = (common::redis_server(), common::binary("picket-node"));
    let by_redis = functions_survive_a_snapshot(&redis, &redis);
    assert_eq!(by_redis[0], "$5\r\nhello\r\n", "{by_redis:?}");
    assert_eq!(functions_survive_a_snapshot(&picket, &redis), by_redis);
    assert_eq!(functions_survive_a_snapshot(&redis, &picket), by_redis);
    assert_eq!(functions_survive_a_snapshot(&picket, &picket), by_redis);
}

/// FUNCTION DUMP of the same library is the same payload, and each server restores the
/// other's.
#[test]
fn function_dump_payloads_are_redis_s_and_restore_both_ways() {
    let (real, ours) = (Server::redis(&[]), Server::picket(&[]));
    let code = "#!lua name=d\nredis.register_function('d_f', function() return 'dumped' end)";
    let (mut a, mut b) = (real.client(), ours.client());
    a.cmd(&["FUNCTION", "LOAD", code]);
    b.cmd(&["FUNCTION", "LOAD", code]);
    let (da, db) = (a.cmd(&["FUNCTION", "DUMP"]), b.cmd(&["FUNCTION", "DUMP"]));
    assert_eq!(da, db);
    // The bulk's payload, without the `$<len>\r\n` header and the trailing CRLF.
    let payload = |r: &[u8]| {
        let start = r.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        r[start..r.len() - 2].to_vec()
    };
    for (c, p) in [(&mut a, payload(&db)), (&mut b, payload(&da))] {
        c.cmd(&["FUNCTION", "FLUSH"]);
        c.send(&[b"FUNCTION", b"RESTORE", &p]);
        assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
        assert_eq!(c.cmd_str(&["FCALL", "d_f", "0"]), "$6\r\ndumped\r\n");
        c.send(&[b"FUNCTION", b"RESTORE", &p]);
        let again = String::from_utf8(c.read_reply().unwrap()).unwrap();
        assert_eq!(again, "-ERR Library d already exists\r\n");
    }
}
