//! End-to-end tests of picket-node as a process: real clients and tools, bad input, limits,
//! pub/sub, expiry, transactions across connections, configuration files, shutdown.

use common::{info_field, wait_until, Client, Server};
use picket_testkit as common;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

#[test]
fn redis_cli_and_inline_commands() {
    let s = Server::picket(&[]);
    let cli = common::tool("redis-cli");
    let out = Command::new(&cli)
        .args(["-p", &s.port.to_string(), "set", "greeting", "hello world"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    let out = Command::new(&cli)
        .args(["-p", &s.port.to_string(), "get", "greeting"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello world");
    // Inline commands as nc, telnet and HAProxy send them; a bare newline is ignored.
    let mut c = s.client();
    c.send_raw(b"\nPING\r\nset k \"a b\"\r\nGET k\n");
    assert_eq!(c.read_reply().unwrap(), b"+PONG\r\n");
    assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
    assert_eq!(c.read_reply().unwrap(), b"$3\r\na b\r\n");
}

#[test]
fn redis_benchmark_runs_against_picket() {
    let s = Server::picket(&[]);
    let out = Command::new(common::tool("redis-benchmark"))
        .args([
            "-p",
            &s.port.to_string(),
            "-n",
            "2000",
            "-c",
            "10",
            "-P",
            "4",
            "-t",
            "set,get,incr,mset,ping",
            "-q",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for t in ["SET", "GET", "INCR", "MSET"] {
        assert!(
            text.split(['\n', '\r'])
                .any(|l| l.trim_start().starts_with(t) && l.contains("requests per second")),
            "{t} missing in {text}"
        );
    }
}

#[test]
fn redis_crate_client_works() {
    let s = Server::picket(&[]);
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", s.port)).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("k").arg(41).query(&mut con).unwrap();
    let v: i64 = redis::cmd("INCR").arg("k").query(&mut con).unwrap();
    assert_eq!(v, 42);
    let (a, b): (i64, Option<String>) = redis::pipe()
        .cmd("GET")
        .arg("k")
        .cmd("GET")
        .arg("missing")
        .query(&mut con)
        .unwrap();
    assert_eq!((a, b), (42, None));
    let r: redis::RedisResult<i64> = redis::cmd("INCR").arg("k").arg("extra").query(&mut con);
    assert!(r
        .unwrap_err()
        .to_string()
        .contains("wrong number of arguments"));
}

#[test]
fn protocol_errors_close_the_connection_and_others_keep_working() {
    let s = Server::picket(&[]);
    let mut bystander = s.client();
    let cases: &[(&[u8], &str)] = &[
        (
            b"*1\r\n$999999999999\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n*1\r\n*1\r\n",
            "-ERR Protocol error: expected '$', got '*'\r\n",
        ),
        (
            b"*abc\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*2147483648\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"set a \"b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (input, want) in cases {
        let mut c = s.client();
        c.send_raw(input);
        assert_eq!(String::from_utf8_lossy(&c.read_reply().unwrap()), *want);
        assert!(
            c.is_closed(),
            "connection not closed after {:?}",
            String::from_utf8_lossy(input)
        );
    }
    // Random bytes: whatever the reply, the server survives.
    let mut seed = 12345u64;
    for _ in 0..50 {
        let mut c = s.client();
        let junk: Vec<u8> = (0..2000)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) as u8
            })
            .collect();
        let _ = c.stream.write_all(&junk);
    }
    // A command cut off mid-frame, then the client goes away.
    let mut c = s.client();
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$10\r\nabc");
    drop(c);
    assert_eq!(bystander.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn protocol_errors_match_real_redis() {
    let r = Server::redis(&[]);
    let p = Server::picket(&[]);
    let inputs: &[&[u8]] = &[
        b"*1\r\n$-5\r\n",
        b"*1\r\n$abc\r\n",
        b"*2\r\n$3\r\nGET\r\n:1\r\n",
        b"*2147483648\r\n",
        b"*-1\r\nPING\r\n",
        b"*0\r\nPING\r\n",
        b"PING \"unterminated\r\n",
        b"\r\n\r\nPING\r\n",
    ];
    for input in inputs {
        let mut a = r.client();
        let mut b = p.client();
        a.send_raw(input);
        b.send_raw(input);
        assert_eq!(
            a.read_reply(),
            b.read_reply(),
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
    // Oversized inline request (no newline within 64 KiB).
    let big = vec![b'x'; 70 * 1024];
    let mut a = r.client();
    let mut b = p.client();
    a.send_raw(&big);
    b.send_raw(&big);
    assert_eq!(a.read_reply(), b.read_reply());
}

#[test]
fn many_connections_opened_and_dropped() {
    // Bursts of 1000 connects: a backlog that holds a whole burst, so a busy CI machine cannot
    // drop handshakes from a full accept queue (those never reach the server to be counted).
    let s = Server::picket(&["--maxclients", "20000", "--tcp-backlog", "4096"]);
    let total = |c: &mut Client| -> u64 {
        info_field(&c.cmd_str(&["INFO", "stats"]), "total_connections_received")
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut c = s.client();
    let before = s.rss();
    for _ in 0..10 {
        let conns: Vec<TcpStream> = (0..1000)
            .map(|_| TcpStream::connect(("127.0.0.1", s.port)).unwrap())
            .collect();
        drop(conns);
    }
    // Every connection accepted (some may still wait in the accept queue when the ones
    // accepted so far are gone) and every one closed again.
    assert!(
        wait_until(Duration::from_secs(20), || total(&mut c) >= 10_001
            && info_field(
                &c.cmd_str(&["INFO", "clients"]),
                "connected_clients"
            )
            .as_deref()
                == Some("1")),
        "accepted {}, connected {:?}",
        total(&mut c),
        info_field(&c.cmd_str(&["INFO", "clients"]), "connected_clients")
    );
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let after = s.rss();
    assert!(
        after < before + 64 * 1024 * 1024,
        "rss grew from {before} to {after}"
    );
}

#[test]
fn maxclients_rejects_with_redis_error() {
    let s = Server::picket(&["--maxclients", "2"]);
    let _a = s.client();
    let _b = s.client();
    let mut c = s.client();
    c.send_raw(b"PING\r\n");
    assert_eq!(
        c.read_reply().unwrap(),
        b"-ERR max number of clients reached\r\n"
    );
}

#[test]
fn slow_pubsub_subscriber_is_disconnected_and_memory_returns() {
    let s = Server::picket(&[
        "--client-output-buffer-limit",
        "pubsub",
        "1mb",
        "256kb",
        "1",
    ]);
    let mut sub = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    sub.write_all(&common::encode(&[b"SUBSCRIBE", b"news"]))
        .unwrap();
    let mut buf = [0u8; 64];
    let _ = sub.read(&mut buf).unwrap();
    // The subscriber never reads again.
    let mut publ = s.client();
    let used = |c: &mut Client| -> u64 {
        info_field(&c.cmd_str(&["INFO", "memory"]), "used_memory")
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = used(&mut publ);
    let payload = "x".repeat(10_000);
    let mut dropped = false;
    for _ in 0..2000 {
        let n = publ.cmd_str(&["PUBLISH", "news", &payload]);
        if n == ":0\r\n" {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the slow subscriber was never disconnected");
    assert!(
        s.log_text().contains("output buffer limits"),
        "log: {}",
        s.log_text()
    );
    // The queued messages were freed with the client.
    assert!(
        wait_until(Duration::from_secs(5), || used(&mut publ)
            < before + 2 * 1024 * 1024),
        "memory did not come back: before {before}, now {}",
        used(&mut publ)
    );
    assert_eq!(
        publ.cmd(&["PUBSUB", "NUMSUB", "news"]),
        b"*2\r\n$4\r\nnews\r\n:0\r\n"
    );
}

#[test]
fn pubsub_delivery_resp2_and_resp3() {
    let s = Server::picket(&[]);
    let mut sub = s.client();
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "ch"]),
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(
        sub.cmd(&["PSUBSCRIBE", "c*"]),
        b"*3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:2\r\n"
    );
    let mut p3 = s.client();
    p3.cmd(&["HELLO", "3"]);
    assert_eq!(
        p3.cmd(&["SUBSCRIBE", "ch"]),
        b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    let mut publ = s.client();
    assert_eq!(publ.cmd(&["PUBLISH", "ch", "hi"]), b":3\r\n");
    assert_eq!(
        sub.read_reply().unwrap(),
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        sub.read_reply().unwrap(),
        b"*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        p3.read_reply().unwrap(),
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    );
    // RESP3 clients may run other commands while subscribed.
    assert_eq!(p3.cmd(&["GET", "x"]), b"_\r\n");
}

#[test]
fn watch_is_broken_by_other_clients_and_by_expiry() {
    let s = Server::picket(&[]);
    let mut a = s.client();
    let mut b = s.client();
    a.cmd(&["SET", "k", "1"]);
    a.cmd(&["WATCH", "k"]);
    b.cmd(&["SET", "k", "2"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["GET", "k"]);
    assert_eq!(a.cmd(&["EXEC"]), b"*-1\r\n");
    a.cmd(&["SET", "t", "1", "PX", "50"]);
    a.cmd(&["WATCH", "t"]);
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(b.cmd(&["EXISTS", "t"]), b":0\r\n");
    a.cmd(&["MULTI"]);
    a.cmd(&["PING"]);
    assert_eq!(a.cmd(&["EXEC"]), b"*-1\r\n");
}

#[test]
fn active_expiry_frees_keys_nobody_reads() {
    let s = Server::picket(&["--hz", "50"]);
    let mut c = s.client();
    for i in 0..2000 {
        c.send(&[b"SET", format!("k{i}").as_bytes(), b"v", b"PX", b"100"]);
    }
    for _ in 0..2000 {
        c.read_reply();
    }
    c.cmd(&["SET", "persistent", "v"]);
    assert!(
        wait_until(Duration::from_secs(10), || c.cmd(&["DBSIZE"]) == b":1\r\n"),
        "expired keys were not reclaimed"
    );
    let info = c.cmd_str(&["INFO", "stats"]);
    assert_eq!(info_field(&info, "expired_keys").as_deref(), Some("2000"));
}

#[test]
fn client_kill_and_pause() {
    let s = Server::picket(&[]);
    let mut a = s.client();
    let mut b = s.client();
    let id = String::from_utf8(b.cmd(&["CLIENT", "ID"])).unwrap();
    let id = id.trim_start_matches(':').trim().to_string();
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &id]), b":1\r\n");
    assert!(b.is_closed());
    // Writes wait while paused; reads do not.
    let mut w = s.client();
    a.cmd(&["CLIENT", "PAUSE", "300", "WRITE"]);
    let t = std::time::Instant::now();
    assert_eq!(w.cmd(&["GET", "x"]), b"$-1\r\n");
    assert!(t.elapsed() < Duration::from_millis(250));
    assert_eq!(w.cmd(&["SET", "x", "1"]), b"+OK\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn requirepass_auth_and_hello() {
    let s = Server::picket(&["--requirepass", "sekret"]);
    let mut c = s.client();
    assert_eq!(
        c.cmd(&["GET", "a"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        c.cmd(&["AUTH", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd(&["AUTH", "sekret"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "a"]), b"$-1\r\n");
    let mut h = s.client();
    assert!(h
        .cmd_str(&["HELLO", "3"])
        .starts_with("-NOAUTH HELLO must be called"));
    assert!(h
        .cmd_str(&["HELLO", "3", "AUTH", "default", "sekret"])
        .starts_with("%7"));
    let mut u = s.client();
    assert_eq!(u.cmd(&["AUTH", "default", "sekret"]), b"+OK\r\n");
}

#[test]
fn maxmemory_evicts_or_refuses() {
    let s = Server::picket(&["--maxmemory", "40mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = s.client();
    let v = "v".repeat(1000);
    for i in 0..60_000 {
        c.send(&[b"SET", format!("key:{i}").as_bytes(), v.as_bytes()]);
        if i % 100 == 99 {
            for _ in 0..100 {
                assert_eq!(c.read_reply().unwrap(), b"+OK\r\n");
            }
        }
    }
    let info = c.cmd_str(&["INFO"]);
    let evicted: u64 = info_field(&info, "evicted_keys").unwrap().parse().unwrap();
    assert!(evicted > 0, "nothing evicted");
    let used: u64 = info_field(&info, "used_memory").unwrap().parse().unwrap();
    assert!(used <= 42 * 1024 * 1024, "used_memory {used}");
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    c.cmd(&["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(
        c.cmd(&["SET", "x", "y"]),
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    assert_eq!(
        c.cmd(&["GET", "key:59999"]),
        b"$1000\r\n"
            .iter()
            .chain(v.as_bytes())
            .chain(b"\r\n")
            .copied()
            .collect::<Vec<u8>>()
    );
}

#[test]
fn monitor_sees_commands() {
    let s = Server::picket(&[]);
    let mut m = s.client();
    assert_eq!(m.cmd(&["MONITOR"]), b"+OK\r\n");
    let mut c = s.client();
    c.cmd(&["SET", "k", "v v"]);
    let line = String::from_utf8(m.read_reply().unwrap()).unwrap();
    assert!(
        line.starts_with('+') && line.ends_with("\"SET\" \"k\" \"v v\"\r\n"),
        "{line}"
    );
}

#[test]
fn shutdown_and_sigterm_exit_cleanly() {
    let mut s = Server::picket(&[]);
    let mut c = s.client();
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(c.read_reply().is_none());
    assert!(wait_until(Duration::from_secs(5), || !s.alive()));
    let mut s = Server::picket(&[]);
    unsafe_kill(s.child.id(), 15);
    assert!(wait_until(Duration::from_secs(5), || !s.alive()));
    assert!(s.log_text().contains("Received SIGTERM"));
}

fn unsafe_kill(pid: u32, sig: i32) {
    Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()
        .unwrap();
}

#[test]
fn redis_conf_file_rewrite_and_toml() {
    let dir = common::test_dir();
    let conf = dir.path().join("redis.conf");
    let port = common::free_port();
    std::fs::write(
        &conf,
        format!("# my node\nport {port}\nbind 127.0.0.1\nmaxmemory 10mb\nsave \"\"\n"),
    )
    .unwrap();
    let mut child = Command::new(common::binary("picket-node"))
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || TcpStream::connect(
        ("127.0.0.1", port)
    )
    .is_ok()));
    let mut c = Client::connect(port);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$8\r\n10485760\r\n"
    );
    c.cmd(&["CONFIG", "SET", "maxmemory", "20mb", "timeout", "30"]);
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with("# my node\n"), "{text}");
    assert!(
        text.contains("maxmemory 20mb\n") && text.contains("timeout 30\n"),
        "{text}"
    );
    assert_eq!(text.matches("maxmemory ").count(), 1);
    let _ = child.kill();
    let _ = child.wait();
    // TOML with durations.
    let toml = dir.path().join("node.toml");
    let port = common::free_port();
    std::fs::write(
        &toml,
        format!(
            "port = {port}\nbind = \"127.0.0.1\"\ntimeout = \"2m\"\nappendfsync = \"always\"\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(common::binary("picket-node"))
        .arg(&toml)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || TcpStream::connect(
        ("127.0.0.1", port)
    )
    .is_ok()));
    let mut c = Client::connect(port);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "timeout"]),
        b"*2\r\n$7\r\ntimeout\r\n$3\r\n120\r\n"
    );
    let _ = child.kill();
    let _ = child.wait();
    // A bad directive stops start-up with the file, line and reason.
    std::fs::write(&conf, "port 7000\nmaxmemory lots\n").unwrap();
    let out = Command::new(common::binary("picket-node"))
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("at line 2") && err.contains("argument must be a memory value"),
        "{err}"
    );
}

#[test]
fn idle_timeout_closes_normal_clients_but_not_subscribers() {
    let s = Server::picket(&["--timeout", "1"]);
    let mut idle = s.client();
    let mut sub = s.client();
    sub.cmd(&["SUBSCRIBE", "ch"]);
    idle.cmd(&["PING"]);
    let t = std::time::Instant::now();
    assert!(idle.is_closed());
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    let mut p = s.client();
    assert_eq!(p.cmd(&["PUBLISH", "ch", "still here"]), b":1\r\n");
    assert_eq!(
        sub.read_reply().unwrap(),
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$10\r\nstill here\r\n"
    );
}

#[test]
fn unix_socket_listener() {
    let dir = common::test_dir();
    let sock = dir.path().join("picket.sock");
    let s = Server::picket(&[
        "--unixsocket",
        sock.to_str().unwrap(),
        "--unixsocketperm",
        "700",
    ]);
    assert!(wait_until(Duration::from_secs(5), || sock.exists()));
    let mut u = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    u.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 16];
    let n = u.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"+PONG\r\n");
    drop(s);
}

#[test]
fn command_docs_carry_arguments_for_redis_cli_hints() {
    let s = Server::picket(&[]);
    let mut c = s.client();
    let docs = c.cmd_str(&["COMMAND", "DOCS", "set"]);
    for part in [
        "$9\r\narguments\r\n",
        "$5\r\ntoken\r\n$2\r\nNX\r\n",
        "$7\r\nseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$5\r\ntoken\r\n$2\r\nEX\r\n",
        "optional",
    ] {
        assert!(docs.contains(part), "{part:?} missing in {docs}");
    }
    // Every command is documented: the map has as many entries as COMMAND COUNT.
    let count: usize = c
        .cmd_str(&["COMMAND", "COUNT"])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!(c
        .cmd_str(&["COMMAND", "DOCS"])
        .starts_with(&format!("*{}\r\n", 2 * count)));
}

/// Field names (and section headers) of an INFO reply, in order.
fn info_names(reply: &str) -> Vec<String> {
    reply
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

#[test]
fn info_fields_match_real_redis() {
    let r = Server::redis(&[]);
    let p = Server::picket(&[]);
    for section in [
        &["INFO"][..],
        &["INFO", "everything"],
        &["INFO", "replication"],
        &["INFO", "stats", "cpu"],
    ] {
        let a = info_names(&r.client().cmd_str(section));
        let b = info_names(&p.client().cmd_str(section));
        // Sections Redis fills only when they have content (Errorstats, Keyspace, Commandstats,
        // Latencystats) are compared by header.
        let keep = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .filter(|n| {
                    !n.starts_with("errorstat_")
                        && !n.starts_with("cmdstat_")
                        && !n.starts_with("latency_percentiles_usec_")
                        && !n.starts_with("db")
                })
                .collect()
        };
        assert_eq!(keep(a), keep(b), "{section:?}");
    }
}

/// CLIENT REPLY OFF does not suppress the confirmations of SUBSCRIBE and friends, nor
/// published messages, in RESP2 and RESP3, as in Redis 7 (Redis's pubsub unit hung there).
/// Compared with Redis.
#[test]
fn pushes_pass_client_reply_off_as_in_redis() {
    let transcript = |s: &Server, proto: &str| -> Vec<String> {
        let mut c = s.client();
        let mut p = s.client();
        c.cmd_str(&["HELLO", proto]);
        let mut t = Vec::new();
        let send = |c: &mut Client, args: &[&str]| {
            let a: Vec<&[u8]> = args.iter().map(|x| x.as_bytes()).collect();
            c.send(&a);
        };
        send(&mut c, &["CLIENT", "REPLY", "OFF"]);
        send(&mut c, &["SUBSCRIBE", "channel"]);
        t.push(String::from_utf8_lossy(&c.read_reply().expect("subscribe push")).into_owned());
        send(&mut c, &["PSUBSCRIBE", "ch*"]);
        t.push(String::from_utf8_lossy(&c.read_reply().expect("psubscribe push")).into_owned());
        t.push(p.cmd_str(&["PUBLISH", "channel", "hello"]));
        for _ in 0..2 {
            t.push(String::from_utf8_lossy(&c.read_reply().expect("message")).into_owned());
        }
        send(&mut c, &["UNSUBSCRIBE", "channel"]);
        t.push(String::from_utf8_lossy(&c.read_reply().expect("unsubscribe push")).into_owned());
        send(&mut c, &["PUNSUBSCRIBE"]);
        t.push(String::from_utf8_lossy(&c.read_reply().expect("punsubscribe push")).into_owned());
        // Ordinary replies stay suppressed: the PING is not answered, the next command is.
        send(&mut c, &["PING"]);
        send(&mut c, &["CLIENT", "REPLY", "ON"]);
        t.push(String::from_utf8_lossy(&c.read_reply().expect("reply on")).into_owned());
        t
    };
    let real = Server::redis(&[]);
    let ours = Server::picket(&[]);
    for proto in ["2", "3"] {
        assert_eq!(
            transcript(&ours, proto),
            transcript(&real, proto),
            "RESP{proto}"
        );
    }
}

/// A configuration file named by a relative path is rewritten in place after the server has
/// changed to its `dir` (Redis keeps the file's absolute path; the harness of Redis's suites
/// starts servers that way).
#[test]
fn config_rewrite_with_a_relative_config_path() {
    let dir = common::test_dir();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let port = common::free_port();
    std::fs::write(
        dir.path().join("n.conf"),
        format!(
            "port {port}\nbind 127.0.0.1\nsave \"\"\ndir {}\n",
            data.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(common::binary("picket-node"))
        .arg("n.conf")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || Client::try_connect(
        port
    )
    .is_some()));
    let mut c = Client::connect(port);
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "key-load-delay", "7"]),
        "+OK\r\n"
    );
    let r = c.cmd_str(&["CONFIG", "REWRITE"]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(r, "+OK\r\n");
    let text = std::fs::read_to_string(dir.path().join("n.conf")).unwrap();
    assert!(text.contains("key-load-delay 7"), "{text}");
}
