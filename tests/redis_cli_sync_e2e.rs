//! redis-cli's replication modes against picket-node, as against redis-server:
//! `--functions-rdb` (REPLCONF rdb-filter-only functions) gets a file with the libraries and
//! no keys (before, picket-node sent every key), and `--replica` (an empty filter) is online
//! at once and is sent the write stream after its empty payload.

use common::{test_dir, tool, wait_until, Server};
use picket_testkit as common;
use std::process::{Command, Stdio};
use std::time::Duration;

const LIB: &str = "#!lua name=lib1\nredis.register_function('func1', function() return 123 end)";

#[test]
fn functions_rdb_holds_the_libraries_and_no_keys() {
    for redis in [true, false] {
        let s = Server::either(redis, &[]);
        let mut c = s.client();
        assert_eq!(c.cmd_str(&["SET", "k", "v"]), "+OK\r\n");
        assert_eq!(c.cmd_str(&["FUNCTION", "LOAD", LIB]), "$4\r\nlib1\r\n");
        let dir = test_dir();
        let file = dir.path().join("cli.rdb");
        let port = s.port.to_string();
        let out = Command::new(tool("redis-cli"))
            .args(["-p", &port, "--functions-rdb"])
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(text.contains("Transfer finished with success"), "{text}");
        let check = Command::new(tool("redis-check-rdb"))
            .arg(&file)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&check.stdout).to_string();
        assert!(report.contains("RDB looks OK"), "redis: {redis}: {report}");
        assert!(
            report.contains("[info] 0 keys read"),
            "redis: {redis}: {report}"
        );
        let bytes = std::fs::read(&file).unwrap();
        let has_lib = bytes.windows(4).any(|w| w == b"lib1");
        assert!(has_lib, "redis: {redis}: no library in the file");
    }
}

#[test]
fn a_redis_cli_replica_is_online_and_gets_the_stream() {
    let s = Server::picket(&["--repl-diskless-sync", "no"]);
    let mut c = s.client();
    let mut cli = Command::new(tool("redis-cli"))
        .args(["-p", &s.port.to_string(), "--replica"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let online = wait_until(Duration::from_secs(5), || {
        c.info("replication").contains("state=online")
    });
    assert!(online, "{}", c.info("replication"));
    assert_eq!(c.cmd_str(&["SET", "streamed", "1"]), "+OK\r\n");
    assert_eq!(c.cmd_str(&["CLIENT", "KILL", "TYPE", "replica"]), ":1\r\n");
    let out = cli.wait_with_output_timeout();
    assert!(out.contains("\"SET\",\"streamed\",\"1\""), "{out}");
}

trait WaitOutput {
    fn wait_with_output_timeout(&mut self) -> String;
}

impl WaitOutput for std::process::Child {
    /// The stdout of a process that exits within 5 s (killed otherwise).
    fn wait_with_output_timeout(&mut self) -> String {
        let exited = wait_until(Duration::from_secs(5), || {
            matches!(self.try_wait(), Ok(Some(_)))
        });
        if !exited {
            let _ = self.kill();
        }
        let mut s = String::new();
        if let Some(mut o) = self.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut o, &mut s);
        }
        s
    }
}

/// A connection that became a replica (SYNC) and then sends a command with a reply is
/// dropped with Redis's log line, as redis-server does (before, the reply went into the link
/// and corrupted what the replica read); a PSYNC with an offset that is not a number gets
/// Redis's error and log line, and the server goes on.
#[test]
fn a_replica_that_would_get_a_reply_is_dropped() {
    use std::io::{Read, Write};
    for redis in [true, false] {
        let s = Server::either(redis, &[]);
        let mut link = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        link.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        link.write_all(b"SYNC\r\n").unwrap();
        let mut c = s.client();
        assert!(wait_until(Duration::from_secs(5), || {
            c.info("replication").contains("slave0:")
        }));
        link.write_all(b"PING\r\n").unwrap();
        let mut buf = [0u8; 65536];
        let closed = wait_until(Duration::from_secs(5), || {
            matches!(link.read(&mut buf), Ok(0) | Err(_))
        });
        assert!(closed, "redis: {redis}: the replica was kept");
        let log = s.log_text();
        let line = "Replica generated a reply to command 'ping', disconnecting it: id=";
        assert!(log.contains(line), "redis: {redis}: {log}");
        // A keyspace command from a replica: refused, the error logged, the replica dropped.
        let mut link = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        link.write_all(b"PSYNC ? -1\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        link.write_all(b"GET foo\r\n").unwrap();
        let critical = "== CRITICAL == This master is sending an error to its replica: ";
        assert!(
            wait_until(Duration::from_secs(5), || {
                let log = s.log_text();
                log.contains(critical)
                    && log.contains("Replica can't interact with the keyspace")
                    && log.contains("Replica generated a reply to command 'get'")
            }),
            "redis: {redis}: {}",
            s.log_text()
        );
        let err = c.cmd_str(&["PSYNC", "replicationid", "offset_str"]);
        assert_eq!(err, "-ERR value is not an integer or out of range\r\n");
        assert!(s
            .log_text()
            .contains("asks for synchronization but with a wrong offset"));
        assert_eq!(c.cmd_str(&["PING"]), "+PONG\r\n");
    }
}
