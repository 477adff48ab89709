//! Replication end to end, with real Redis 7.0 on the other side of every link it can be on:
//! picket → picket, picket → real replica (full, partial after a cut, partial after the
//! picket replica's promotion through replid2), real master → picket replica (both payload
//! framings), mixed chains, and the faults of the issue (a bad password, a replica behind the
//! backlog, a master restarted with a new replid). Data is compared logically key by key.

use common::dataset::{assert_same, fill, logical};
use common::{info_field, test_dir, wait_until, Client, Server, TestDir};
use picket_testkit as common;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn picket(dir: &TestDir, name: &str, extra: &[&str]) -> Server {
    let log = dir.path().join(format!("{name}.log")).display().to_string();
    let mut a = vec!["--logfile", &log, "--repl-diskless-sync-delay", "0"];
    a.extend_from_slice(extra);
    Server::picket(&a)
}

fn redis(dir: &TestDir, name: &str, extra: &[&str]) -> Server {
    let log = dir.path().join(format!("{name}.log")).display().to_string();
    let mut a = vec!["--logfile", &log, "--repl-diskless-sync-delay", "0"];
    a.extend_from_slice(extra);
    Server::redis(&a)
}

/// Every key's type, elements and TTL (string encodings left out: see `logical`).
fn dump(c: &mut Client) -> std::collections::BTreeMap<String, String> {
    logical(common::dataset::dump_all(c))
}

/// Waits until `replica` is linked and has applied everything `master` has produced.
fn wait_synced(master: &Server, replica: &Server) {
    let mut m = master.client();
    let mut r = replica.client();
    let ok = wait_until(T, || {
        let want = m.field("master_repl_offset");
        r.field("master_link_status") == "up" && r.field("slave_repl_offset") == want
    });
    assert!(
        ok,
        "replica {} never caught up with {}:\nmaster: {}\nreplica: {}",
        replica.port,
        master.port,
        m.info("replication"),
        r.info("replication")
    );
}

fn replicaof(replica: &Server, master: &Server) {
    let r = replica
        .client()
        .cmd_str(&["REPLICAOF", "127.0.0.1", &master.port.to_string()]);
    assert_eq!(r, "+OK\r\n");
}

/// A write load touching every type, expiry, transactions and two databases.
fn write_load(c: &mut Client, n: usize) {
    for i in 0..n {
        let k = format!("load{}", i % 50);
        let cmds: Vec<Vec<String>> = match i % 9 {
            0 => vec![vec![
                "SET".into(),
                k,
                i.to_string(),
                "EX".into(),
                "1000".into(),
            ]],
            1 => vec![vec!["INCRBY".into(), "counter".into(), i.to_string()]],
            2 => vec![vec!["RPUSH".into(), "list".into(), i.to_string()]],
            3 => vec![vec!["HSET".into(), "hash".into(), k, i.to_string()]],
            4 => vec![vec!["ZADD".into(), "zset".into(), (i % 13).to_string(), k]],
            5 => vec![vec!["SADD".into(), "set".into(), (i % 77).to_string()]],
            6 => vec![
                vec!["MULTI".into()],
                vec!["LPOP".into(), "list".into()],
                vec!["INCRBYFLOAT".into(), "float".into(), "0.5".into()],
                vec!["EXEC".into()],
            ],
            7 => vec![
                vec!["SELECT".into(), "5".into()],
                vec!["SET".into(), k, "db5".into()],
                vec!["SELECT".into(), "0".into()],
            ],
            _ => vec![vec!["EXPIRE".into(), k, "500".into()]],
        };
        for c_ in cmds {
            let a: Vec<&str> = c_.iter().map(|s| s.as_str()).collect();
            let r = c.cmd_str(&a);
            assert!(!r.starts_with('-'), "{a:?}: {r}");
        }
    }
}

#[test]
fn picket_replica_of_picket_full_partial_and_promotion() {
    let dir = test_dir();
    let m = picket(&dir, "master", &[]);
    let r = picket(&dir, "replica", &[]);
    let mut mc = m.client();
    fill(&mut mc);
    replicaof(&r, &m);
    wait_synced(&m, &r);
    write_load(&mut mc, 900);
    wait_synced(&m, &r);
    let want = dump(&mut mc);
    let mut rc = r.client();
    assert_same(&want, &dump(&mut rc));

    // Shapes a client sees.
    assert_eq!(
        rc.cmd_str(&["SET", "x", "1"]),
        "-READONLY You can't write against a read only replica.\r\n"
    );
    let role = rc.cmd_str(&["ROLE"]);
    assert!(
        role.starts_with(&format!(
            "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{}\r\n$9\r\nconnected\r\n:",
            m.port
        )),
        "{role}"
    );
    let mrole = mc.cmd_str(&["ROLE"]);
    assert!(mrole.starts_with("*3\r\n$6\r\nmaster\r\n:"), "{mrole}");
    assert!(
        mrole.contains(&format!(
            "$9\r\n127.0.0.1\r\n${}\r\n{}\r\n",
            r.port.to_string().len(),
            r.port
        )),
        "{mrole}"
    );
    mc.cmd(&["SET", "w", "1"]);
    assert_eq!(mc.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
    assert_eq!(
        rc.cmd_str(&["WAIT", "1", "0"]),
        "-ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.\r\n"
    );
    assert!(mc.field("slave0").starts_with(&format!(
        "ip=127.0.0.1,port={},state=online,offset=",
        r.port
    )));

    // A cut link continues from the backlog.
    assert_eq!(mc.cmd_str(&["CLIENT", "KILL", "TYPE", "replica"]), ":1\r\n");
    write_load(&mut mc, 90);
    wait_synced(&m, &r);
    assert!(
        dir.log("master")
            .contains("Partial resynchronization request from 127.0.0.1:"),
        "{}",
        dir.log("master")
    );
    assert_same(&dump(&mut mc), &dump(&mut rc));

    // A third node behind the replica; promoting the replica keeps the third's history
    // (PSYNC2: +CONTINUE with the new id, no full resync).
    let c3 = picket(&dir, "third", &[]);
    replicaof(&c3, &r);
    wait_synced(&m, &c3);
    let old_id = mc.field("master_replid");
    assert_eq!(rc.cmd_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    assert_eq!(rc.field("master_replid2"), old_id);
    let mut cc = c3.client();
    assert!(wait_until(T, || cc.field("master_replid")
        == rc.field("master_replid")
        && cc.field("master_link_status") == "up"));
    assert_eq!(rc.cmd_str(&["SET", "after-promotion", "yes"]), "+OK\r\n");
    wait_synced(&r, &c3);
    assert_eq!(
        cc.cmd_str(&["GET", "after-promotion"]),
        "$3\r\nyes\r\n",
        "{}\n{}",
        rc.info("replication"),
        cc.info("replication")
    );
    let third = dir.log("third");
    assert_eq!(
        third.matches("Full resync from master").count(),
        1,
        "{third}"
    );
    assert!(
        third.contains("Master replication ID changed to"),
        "{third}"
    );
}

#[test]
fn real_redis_replica_of_picket_full_partial_and_psync2() {
    let dir = test_dir();
    let m = picket(&dir, "master", &[]);
    let p2 = picket(&dir, "picket-replica", &[]);
    let real = redis(&dir, "real", &[]);
    let mut mc = m.client();
    fill(&mut mc);
    replicaof(&real, &m);
    replicaof(&p2, &m);
    wait_synced(&m, &real);
    write_load(&mut mc, 450);
    wait_synced(&m, &real);
    wait_synced(&m, &p2);
    let want = dump(&mut mc);
    assert_same(&want, &dump(&mut real.client()));

    // A link cut: the real replica continues from picket's backlog.
    assert_eq!(mc.cmd_str(&["CLIENT", "KILL", "TYPE", "replica"]), ":2\r\n");
    write_load(&mut mc, 90);
    wait_synced(&m, &real);
    wait_synced(&m, &p2);
    let rl = dir.log("real");
    assert!(
        rl.contains("Successful partial resynchronization with master."),
        "{rl}"
    );
    assert_eq!(rl.matches("Full resync from master").count(), 1, "{rl}");

    // Promote the picket replica and move the real replica under it: replid2 lets it continue.
    let mut pc = p2.client();
    assert_eq!(pc.cmd_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    replicaof(&real, &p2);
    let mut rc = real.client();
    assert!(wait_until(T, || rc.field("master_link_status") == "up"
        && rc.field("master_port") == p2.port.to_string()));
    pc.cmd(&["SET", "new-master-write", "1"]);
    wait_synced(&p2, &real);
    assert_eq!(rc.cmd_str(&["GET", "new-master-write"]), "$1\r\n1\r\n");
    let rl = dir.log("real");
    assert_eq!(rl.matches("Full resync from master").count(), 1, "{rl}");
    assert_eq!(
        rl.matches("Successful partial resynchronization with master.")
            .count(),
        2,
        "{rl}"
    );
    assert_same(&dump(&mut pc), &dump(&mut rc));
}

#[test]
fn picket_replica_of_real_redis_both_payload_framings() {
    let dir = test_dir();
    for (name, diskless) in [("eof", "yes"), ("len", "no")] {
        let real = redis(
            &dir,
            &format!("real-{name}"),
            &["--repl-diskless-sync", diskless],
        );
        let mut rc = real.client();
        fill(&mut rc);
        let p = picket(&dir, &format!("picket-{name}"), &[]);
        replicaof(&p, &real);
        wait_synced(&real, &p);
        write_load(&mut rc, 450);
        wait_synced(&real, &p);
        assert_same(&dump(&mut rc), &dump(&mut p.client()));
        // HELLO names the role, as Redis does (it said `master` on a replica too).
        let hello = p.client().cmd_str(&["HELLO", "2"]);
        assert!(hello.contains("$4\r\nrole\r\n$7\r\nreplica\r\n"), "{hello}");
        let pl = dir.log(&format!("picket-{name}"));
        let framing = if diskless == "yes" {
            "receiving streamed RDB from master with EOF"
        } else {
            "bytes from master to memory"
        };
        assert!(pl.contains(framing), "{pl}");
        // The real master sees ACKs with our offset.
        let s0 = rc.field("slave0");
        let off = rc.field("master_repl_offset");
        assert!(
            wait_until(T, || rc.field("slave0").contains(&format!("offset={off},"))),
            "{s0} vs {off}"
        );
    }
}

#[test]
fn mixed_chains() {
    let dir = test_dir();
    // picket master → picket replica → real replica
    let m = picket(&dir, "m", &[]);
    let mid = picket(&dir, "mid", &[]);
    let tail = redis(&dir, "tail", &[]);
    replicaof(&mid, &m);
    replicaof(&tail, &mid);
    let mut mc = m.client();
    fill(&mut mc);
    write_load(&mut mc, 300);
    wait_synced(&m, &mid);
    wait_synced(&m, &tail);
    assert_same(&dump(&mut mc), &dump(&mut tail.client()));
    // real master → real replica → picket replica
    let rm = redis(&dir, "rm", &[]);
    let rmid = redis(&dir, "rmid", &[]);
    let ptail = picket(&dir, "ptail", &[]);
    replicaof(&rmid, &rm);
    replicaof(&ptail, &rmid);
    let mut rmc = rm.client();
    fill(&mut rmc);
    write_load(&mut rmc, 300);
    wait_synced(&rm, &rmid);
    wait_synced(&rm, &ptail);
    assert_same(&dump(&mut rmc), &dump(&mut ptail.client()));
}

#[test]
fn faults_bad_password_backlog_overrun_new_replid() {
    let dir = test_dir();
    let m = picket(
        &dir,
        "master",
        &["--requirepass", "secret", "--repl-backlog-size", "16kb"],
    );
    let r = picket(&dir, "replica", &["--masterauth", "wrong"]);
    let mut mc = m.client();
    assert_eq!(mc.cmd_str(&["AUTH", "secret"]), "+OK\r\n");
    mc.cmd(&["SET", "k", "v"]);
    replicaof(&r, &m);
    let mut rc = r.client();
    assert!(wait_until(T, || dir
        .log("replica")
        .contains("Unable to AUTH to MASTER")));
    assert_eq!(rc.field("master_link_status"), "down");
    assert_eq!(
        rc.cmd_str(&["CONFIG", "SET", "masterauth", "secret"]),
        "+OK\r\n"
    );
    assert!(wait_until(T, || rc.field("master_link_status") == "up"));

    // Behind the backlog: more than 16 KB written while the link is down → full resync.
    assert_eq!(
        rc.cmd_str(&["CONFIG", "SET", "masterauth", "wrong"]),
        "+OK\r\n"
    );
    assert_eq!(mc.cmd_str(&["CLIENT", "KILL", "TYPE", "replica"]), ":1\r\n");
    let big = "z".repeat(1000);
    for i in 0..40 {
        mc.cmd(&["SET", &format!("big{i}"), &big]);
    }
    assert_eq!(
        rc.cmd_str(&["CONFIG", "SET", "masterauth", "secret"]),
        "+OK\r\n"
    );
    assert!(wait_until(T, || dir
        .log("master")
        .contains("for lack of backlog")));
    wait_synced_auth(&m, &r);
    assert_same(&dump(&mut auth(&m)), &dump(&mut rc));

    // The master restarts empty with a new replid: the replica resyncs fully and ends equal.
    let port = m.port.to_string();
    drop(m);
    assert!(wait_until(T, || rc.field("master_link_status") == "down"));
    let m2 = picket(
        &dir,
        "master2",
        &["--port", &port, "--requirepass", "secret"],
    );
    let mut m2c = auth(&m2);
    m2c.cmd(&["SET", "fresh", "1"]);
    wait_synced_auth(&m2, &r);
    assert_same(&dump(&mut m2c), &dump(&mut rc));
    assert_eq!(rc.cmd_str(&["DBSIZE"]), ":1\r\n");
}

fn auth(s: &Server) -> Client {
    let mut c = s.client();
    assert_eq!(c.cmd_str(&["AUTH", "secret"]), "+OK\r\n");
    c
}

fn wait_synced_auth(master: &Server, replica: &Server) {
    let mut m = auth(master);
    let mut r = replica.client();
    let ok = wait_until(T, || {
        let want = m.field("master_repl_offset");
        r.field("master_link_status") == "up" && r.field("slave_repl_offset") == want
    });
    assert!(ok, "{}\n{}", m.info("replication"), r.info("replication"));
}

#[test]
fn stale_data_min_replicas_and_sentinel_block() {
    let dir = test_dir();
    let m = picket(&dir, "master", &[]);
    let r = picket(&dir, "replica", &["--replica-serve-stale-data", "no"]);
    let mut rc = r.client();
    // Pointed at a port nobody listens on: the link stays down.
    let dead = common::free_port().to_string();
    assert_eq!(rc.cmd_str(&["REPLICAOF", "127.0.0.1", &dead]), "+OK\r\n");
    assert_eq!(
        rc.cmd_str(&["GET", "x"]),
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    assert!(rc
        .cmd_str(&["INFO", "replication"])
        .contains("master_link_status:down"));
    assert_eq!(
        rc.cmd_str(&["REPLICAOF", "127.0.0.1", &dead]),
        "+OK Already connected to specified master\r\n"
    );
    assert_eq!(
        rc.cmd_str(&["REPLICAOF", "127.0.0.1", "70000"]),
        "-ERR Invalid master port\r\n"
    );
    // What a sentinel sends to promote: every command queues and runs.
    for (cmd, want) in [
        (vec!["MULTI"], "+OK\r\n"),
        (vec!["SLAVEOF", "NO", "ONE"], "+QUEUED\r\n"),
        (vec!["CONFIG", "REWRITE"], "+QUEUED\r\n"),
        (vec!["CLIENT", "KILL", "TYPE", "normal"], "+QUEUED\r\n"),
        (vec!["CLIENT", "KILL", "TYPE", "pubsub"], "+QUEUED\r\n"),
    ] {
        assert_eq!(rc.cmd_str(&cmd), want, "{cmd:?}");
    }
    let exec = rc.cmd_str(&["EXEC"]);
    assert!(exec.starts_with("*4\r\n+OK\r\n"), "{exec}");
    assert_eq!(rc.field("role"), "master");

    // min-replicas-to-write on a master with no replica.
    let mut mc = m.client();
    mc.cmd(&["CONFIG", "SET", "min-replicas-to-write", "1"]);
    assert_eq!(
        mc.cmd_str(&["SET", "a", "1"]),
        "-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    let r2 = picket(&dir, "replica2", &[]);
    replicaof(&r2, &m);
    assert!(wait_until(T, || mc.cmd_str(&["SET", "a", "1"]) == "+OK\r\n"));
    assert_eq!(mc.field("min_slaves_good_slaves"), "1");
}

/// A scripted master on loopback: it answers the handshake (PING, REPLCONF), then sends the
/// next script entry as its PSYNC answer; `true` keeps that connection open afterwards (and
/// reports whether an ACK arrived), `false` closes it.
fn fake_master(script: Vec<(Vec<u8>, bool)>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for (answer, keep) in script {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = Vec::new();
            let read_until =
                |s: &mut std::net::TcpStream, buf: &mut Vec<u8>, pat: &[u8], crlfs: usize| loop {
                    if let Some(i) = buf.windows(pat.len()).position(|w| w == pat) {
                        if buf[i..].windows(2).filter(|w| w == b"\r\n").count() >= crlfs {
                            return true;
                        }
                    }
                    let mut chunk = [0u8; 4096];
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return false,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
            if !read_until(&mut s, &mut buf, b"PING", 1) {
                continue;
            }
            s.write_all(b"+PONG\r\n").unwrap();
            read_until(&mut s, &mut buf, b"psync2", 1);
            s.write_all(b"+OK\r\n+OK\r\n").unwrap();
            read_until(&mut s, &mut buf, b"PSYNC", 5);
            let text = String::from_utf8_lossy(&buf).into_owned();
            seen.push(
                text.split("PSYNC")
                    .nth(1)
                    .unwrap_or("")
                    .replace("\r\n", " "),
            );
            buf.clear();
            s.write_all(&answer).unwrap();
            if keep {
                let acked = read_until(&mut s, &mut buf, b"ACK", 3);
                seen.push(format!(
                    "ack={acked} {}",
                    String::from_utf8_lossy(&buf).replace("\r\n", " ")
                ));
            }
        }
        seen
    });
    (port, h)
}

#[test]
fn faults_loading_master_and_payload_cut_short() {
    let dir = test_dir();
    // A real snapshot to serve, written by a picket node.
    let src = picket(&dir, "source", &["--dbfilename", "src.rdb"]);
    let mut sc = src.client();
    sc.cmd(&["SET", "from-rdb", "1"]);
    sc.cmd(&["RPUSH", "list", "a", "b"]);
    assert_eq!(sc.cmd_str(&["SAVE"]), "+OK\r\n");
    let rdb = std::fs::read(src.dir.path().join("src.rdb")).unwrap();
    let id = "a".repeat(40);
    let head = format!("+FULLRESYNC {id} 100\r\n$").into_bytes();
    let mut cut = head.clone();
    cut.extend_from_slice(format!("{}\r\n", rdb.len()).as_bytes());
    cut.extend_from_slice(&rdb[..rdb.len() / 2]);
    let mut full = b"\n\n".to_vec();
    full.extend_from_slice(&head);
    full.extend_from_slice(format!("{}\r\n", rdb.len()).as_bytes());
    full.extend_from_slice(&rdb);
    let set = b"*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$1\r\n1\r\n";
    full.extend_from_slice(set);
    let (port, fake) = fake_master(vec![
        (
            b"-LOADING Redis is loading the dataset in memory\r\n".to_vec(),
            false,
        ),
        (cut, false),
        (full, true),
    ]);
    let r = picket(&dir, "replica", &[]);
    let mut rc = r.client();
    rc.cmd(&["SET", "old", "kept until a whole snapshot arrives"]);
    assert_eq!(
        rc.cmd_str(&["REPLICAOF", "127.0.0.1", &port.to_string()]),
        "+OK\r\n"
    );
    assert!(wait_until(T, || dir
        .log("replica")
        .contains("Connection reset by peer")
        || dir
            .log("replica")
            .matches("MASTER <-> REPLICA sync started")
            .count()
            >= 3));
    assert!(
        wait_until(T, || rc.cmd_str(&["GET", "after"]) == "$1\r\n1\r\n"),
        "{}",
        dir.log("replica")
    );
    assert_eq!(rc.cmd_str(&["GET", "old"]), "$-1\r\n");
    assert_eq!(rc.cmd_str(&["GET", "from-rdb"]), "$1\r\n1\r\n");
    assert_eq!(rc.field("master_replid"), id);
    assert!(wait_until(T, || rc.field("slave_repl_offset")
        == (100 + set.len()).to_string()));
    let seen = fake.join().unwrap();
    // A master turned replica offers its own history first, as Redis does.
    assert!(
        seen[0].trim().starts_with("$40 ") && seen[0].trim().ends_with("$1 1"),
        "{seen:?}"
    );
    assert!(seen[3].starts_with("ack=true"), "{seen:?}");
    let l = dir.log("replica");
    assert!(
        l.contains("Master is currently unable to PSYNC but should be in the future: -LOADING"),
        "{l}"
    );
    assert!(
        l.contains("receiving streamed RDB")
            || l.contains(&format!("receiving {} bytes", rdb.len())),
        "{l}"
    );
}

#[test]
fn one_diskless_snapshot_serves_several_replicas_and_disk_framing() {
    let dir = test_dir();
    let m = picket(
        &dir,
        "master",
        &[
            "--repl-diskless-sync-delay",
            "2",
            "--repl-diskless-sync-max-replicas",
            "2",
        ],
    );
    let mut mc = m.client();
    fill(&mut mc);
    let p = picket(&dir, "picket-replica", &[]);
    let real = redis(&dir, "real-replica", &[]);
    replicaof(&p, &m);
    replicaof(&real, &m);
    // Both wait for the same snapshot, which starts as soon as two replicas wait.
    wait_synced(&m, &p);
    wait_synced(&m, &real);
    let ml = dir.log("master");
    assert!(ml.contains("replicas sockets (2 replica(s)"), "{ml}");
    write_load(&mut mc, 200);
    wait_synced(&m, &p);
    wait_synced(&m, &real);
    let want = dump(&mut mc);
    assert_same(&want, &dump(&mut p.client()));
    assert_same(&want, &dump(&mut real.client()));
    // `repl-diskless-sync no`: the `$<len>` framing, which a real replica reads as from disk.
    assert_eq!(
        mc.cmd_str(&["CONFIG", "SET", "repl-diskless-sync", "no"]),
        "+OK\r\n"
    );
    let real2 = redis(&dir, "real-disk", &[]);
    replicaof(&real2, &m);
    wait_synced(&m, &real2);
    assert_same(&want, &dump(&mut real2.client()));
    let rl = dir.log("real-disk");
    assert!(rl.contains("bytes from master to disk"), "{rl}");
}

#[test]
fn replica_hides_expired_keys_until_the_masters_del() {
    let dir = test_dir();
    let m = picket(&dir, "master", &["--enable-debug-command", "yes"]);
    let r = picket(&dir, "replica", &[]);
    replicaof(&r, &m);
    let mut mc = m.client();
    assert_eq!(mc.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    mc.cmd(&["SET", "k", "v", "PX", "150"]);
    wait_synced(&m, &r);
    let mut rc = r.client();
    assert_eq!(rc.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    std::thread::sleep(Duration::from_millis(300));
    // Logically expired: hidden from readers, still held until the master deletes it.
    assert_eq!(rc.cmd_str(&["GET", "k"]), "$-1\r\n");
    assert_eq!(rc.cmd_str(&["EXISTS", "k"]), ":0\r\n");
    assert_eq!(rc.cmd_str(&["DBSIZE"]), ":1\r\n");
    // The master's lazy expiry propagates DEL.
    assert_eq!(mc.cmd_str(&["GET", "k"]), "$-1\r\n");
    wait_synced(&m, &r);
    assert_eq!(rc.cmd_str(&["DBSIZE"]), ":0\r\n");
}

/// The names and order of INFO replication's fields, for a master with a replica and for the
/// replica, link up and link down, as real Redis prints them.
#[test]
fn info_replication_fields_match_redis() {
    let dir = test_dir();
    let names = |c: &mut Client| -> Vec<String> {
        c.info("replication")
            .lines()
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .collect()
    };
    let mut got = Vec::new();
    for real in [true, false] {
        let start = |n: &str| {
            if real {
                redis(&dir, n, &[])
            } else {
                picket(&dir, n, &[])
            }
        };
        let m = start(&format!("m{real}"));
        let r = start(&format!("r{real}"));
        replicaof(&r, &m);
        wait_synced(&m, &r);
        let mut mc = m.client();
        assert!(wait_until(T, || mc
            .field("slave0")
            .contains("state=online")));
        let master = names(&mut mc);
        let replica = names(&mut r.client());
        let port = m.port.to_string();
        drop(m);
        let mut rc = r.client();
        assert!(wait_until(T, || rc.field("master_link_status") == "down"));
        let down = names(&mut rc);
        got.push((master, replica, down, port));
    }
    let (real, ours) = (&got[0], &got[1]);
    assert_eq!(real.0, ours.0, "master");
    assert_eq!(real.1, ours.1, "replica");
    assert_eq!(real.2, ours.2, "replica with the link down");
}

#[test]
fn client_kill_spares_links_and_shutdown_waits_for_replicas() {
    let dir = test_dir();
    let m = picket(&dir, "master", &[]);
    let r = picket(&dir, "replica", &[]);
    replicaof(&r, &m);
    wait_synced(&m, &r);
    let mut mc = m.client();
    let mut rc = r.client();
    // What a sentinel sends: normal clients go, replication links stay. (First, every
    // connection is registered and the harness's closed ones are gone: a TCP connect returns
    // before the server has accepted it, and a close takes effect when the server reads it.)
    let mut other = m.client();
    assert_eq!(other.cmd_str(&["PING"]), "+PONG\r\n");
    let normal = |c: &mut Client| {
        c.cmd_str(&["CLIENT", "LIST", "TYPE", "normal"])
            .matches("id=")
            .count()
    };
    assert!(wait_until(T, || normal(&mut mc) == 2 && normal(&mut rc) == 1));
    assert_eq!(mc.cmd_str(&["CLIENT", "KILL", "TYPE", "normal"]), ":1\r\n");
    assert_eq!(rc.cmd_str(&["CLIENT", "KILL", "TYPE", "normal"]), ":0\r\n");
    assert_eq!(mc.field("connected_slaves"), "1");
    assert_eq!(rc.field("master_link_status"), "up");
    // SHUTDOWN waits until the replica has acknowledged the last write.
    for i in 0..2000 {
        mc.send(&[b"SET", format!("k{i}").as_bytes(), b"v"]);
    }
    for _ in 0..2000 {
        mc.read_reply();
    }
    mc.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(mc.is_closed());
    assert!(wait_until(T, || dir
        .log("master")
        .contains("replicas are in sync when shutting down")));
    let l = dir.log("master");
    assert!(
        l.contains("1 of 1 replicas are in sync when shutting down."),
        "{l}"
    );
    assert_eq!(rc.cmd_str(&["GET", "k1999"]), "$1\r\nv\r\n");
}

/// A replica with `appendonly yes` restarts its AOF after a full resync in the background, as
/// Redis does: the new base and incr file are numbered after the old ones, which are removed
/// once the new manifest lists them; the replica restarted alone from its AOF (after kill -9)
/// has the master's data, with the writes streamed during and after the rewrite.
#[test]
fn replica_aof_restarts_after_a_full_resync() {
    let dir = test_dir();
    let rdir = dir.path().join("replica-dir");
    std::fs::create_dir_all(&rdir).unwrap();
    let rd = rdir.display().to_string();
    let m = picket(&dir, "master", &[]);
    let mut mc = m.client();
    fill(&mut mc);
    let port = m.port.to_string();
    let r = picket(
        &dir,
        "replica",
        &[
            "--dir",
            &rd,
            "--appendonly",
            "yes",
            "--replicaof",
            "127.0.0.1",
            &port,
        ],
    );
    write_load(&mut mc, 3000);
    wait_synced(&m, &r);
    let mut rc = r.client();
    let persistence = |c: &mut Client, f: &str| {
        info_field(&c.cmd_str(&["INFO", "persistence"]), f).unwrap_or_default()
    };
    assert!(wait_until(T, || persistence(&mut rc, "aof_rewrites")
        == "1"
        && persistence(&mut rc, "aof_rewrite_in_progress") == "0"));
    assert_eq!(persistence(&mut rc, "aof_enabled"), "1");
    assert_eq!(persistence(&mut rc, "aof_last_bgrewrite_status"), "ok");
    write_load(&mut mc, 500);
    wait_synced(&m, &r);
    let aof = rdir.join("appendonlydir");
    let manifest = std::fs::read_to_string(aof.join("appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest,
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    let mut names: Vec<String> = std::fs::read_dir(&aof)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "appendonly.aof.2.base.rdb",
            "appendonly.aof.2.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    let log = dir.log("replica");
    for line in [
        "Creating AOF incr file temp-appendonly.aof.incr on background rewrite",
        "Successfully renamed the temporary AOF incr file temp-appendonly.aof.incr into appendonly.aof.2.incr.aof",
        "Removing the history file appendonly.aof.1.incr.aof in the background",
    ] {
        assert!(log.contains(line), "no {line:?} in:\n{log}");
    }
    let want = dump(&mut mc);
    drop(rc);
    drop(r);
    let alone = picket(
        &dir,
        "replica-alone",
        &["--dir", &rd, "--appendonly", "yes"],
    );
    assert_same(&want, &dump(&mut alone.client()));
}

/// A writable replica expires the keys its own clients gave a TTL (its master never sends a
/// DEL for them), and still leaves the master's keys to the master.
#[test]
fn a_writable_replica_expires_its_own_keys() {
    let dir = test_dir();
    let master = picket(&dir, "m", &["--enable-debug-command", "yes"]);
    let replica = picket(&dir, "r", &["--replica-read-only", "no"]);
    replicaof(&replica, &master);
    let mut m = master.client();
    m.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    m.cmd(&["SET", "from-master", "1", "PX", "300"]);
    wait_synced(&master, &replica);
    let mut r = replica.client();
    for k in ["key1", "key2", "key3"] {
        assert_eq!(r.cmd_str(&["SET", k, "1", "PX", "300"]), "+OK\r\n");
    }
    assert_eq!(r.cmd_str(&["DBSIZE"]), ":4\r\n");
    assert_eq!(
        info_field(&r.info("stats"), "slave_expires_tracked_keys").unwrap(),
        "3"
    );
    assert_eq!(info_field(&m.info("stats"), "sync_full").unwrap(), "1");
    // The replica's own keys are deleted; the master's expired key stays until its DEL.
    assert!(
        wait_until(Duration::from_secs(5), || r.cmd_str(&["DBSIZE"])
            == ":1\r\n"),
        "{}",
        r.cmd_str(&["DBSIZE"])
    );
    assert_eq!(r.cmd_str(&["EXISTS", "from-master"]), ":0\r\n");
    m.cmd(&["GET", "from-master"]);
    assert!(wait_until(Duration::from_secs(5), || r
        .cmd_str(&["DBSIZE"])
        == ":0\r\n"));
    // A client's write over a key the master let expire: deleted first, created anew.
    m.cmd(&["SET", "key1", "5", "PX", "10"]);
    m.cmd(&["SET", "key2", "5", "PX", "10"]);
    wait_synced(&master, &replica);
    assert!(wait_until(Duration::from_secs(5), || r
        .cmd_str(&["EXISTS", "key1", "key2"])
        == ":0\r\n"));
    assert_eq!(r.cmd_str(&["DBSIZE"]), ":2\r\n");
    assert_eq!(r.cmd_str(&["INCR", "key1"]), ":1\r\n");
    assert_eq!(r.cmd_str(&["TTL", "key1"]), ":-1\r\n");
    assert_eq!(r.cmd_str(&["GET", "key2"]), "$-1\r\n");
    assert_eq!(r.cmd_str(&["DBSIZE"]), ":2\r\n");
    assert_eq!(
        info_field(&m.info("stats"), "sync_partial_ok").unwrap(),
        "0"
    );
    // A broken link continues partially; RESETSTAT zeroes the counters, as Redis's.
    r.cmd(&["CLIENT", "KILL", "TYPE", "master"]);
    assert!(wait_until(T, || info_field(
        &m.info("stats"),
        "sync_partial_ok"
    )
    .as_deref()
        == Some("1")));
    assert_eq!(m.cmd_str(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
    let stats = m.info("stats");
    for f in ["sync_full", "sync_partial_ok", "sync_partial_err"] {
        assert_eq!(info_field(&stats, f).unwrap(), "0", "{f}");
    }
}

/// Writes into db 12 (the stream selects it once), then the link breaks: the partial resync's
/// stream sends no SELECT, and the replica must go on in db 12. Then the replica restarts
/// from its snapshot (`repl-stream-db`) and continues again. A picket-node replica of a
/// picket-node master and of a real redis-server master.
#[test]
fn a_continued_stream_goes_on_in_the_db_it_had_selected() {
    for real_master in [false, true] {
        let dir = test_dir();
        let d = dir.path().display().to_string();
        let debug = ["--enable-debug-command", "yes"];
        let m = if real_master {
            redis(&dir, "master", &debug)
        } else {
            picket(&dir, "master", &debug)
        };
        let rargs = [
            "--enable-debug-command",
            "yes",
            "--dir",
            &d,
            "--dbfilename",
            "r.rdb",
        ];
        let r = picket(&dir, "replica", &rargs);
        replicaof(&r, &m);
        let mut mc = m.client();
        mc.cmd(&["SELECT", "12"]);
        mc.cmd(&["SET", "before", "1"]);
        wait_synced(&m, &r);
        let mut rc = r.client();
        rc.cmd(&["CLIENT", "KILL", "TYPE", "master"]);
        mc.cmd(&["SET", "after-kill", "1"]);
        assert!(wait_until(T, || dir
            .log("replica")
            .matches("Successful partial resynchronization")
            .count()
            >= 1));
        wait_synced(&m, &r);
        let after_reconnect = dump(&mut r.client());
        assert_eq!(
            after_reconnect,
            dump(&mut m.client()),
            "real master: {real_master}"
        );
        assert!(after_reconnect.keys().any(|k| k.contains("after-kill")));
        // A restart from the replica's own snapshot continues in db 12 too.
        rc.send(&[b"SHUTDOWN", b"SAVE"]);
        assert!(rc.is_closed());
        drop(r);
        mc.cmd(&["SET", "while-down", "1"]);
        let port = m.port.to_string();
        let mut restart = rargs.to_vec();
        restart.extend(["--replicaof", "127.0.0.1", &port]);
        let r = picket(&dir, "replica2", &restart);
        mc.cmd(&["SET", "after-restart", "1"]);
        wait_synced(&m, &r);
        let after_restart = dump(&mut r.client());
        assert_eq!(
            after_restart,
            dump(&mut m.client()),
            "real master: {real_master}"
        );
        assert!(after_restart.keys().any(|k| k.contains("after-restart")));
        assert!(
            dir.log("replica2")
                .contains("Successful partial resynchronization"),
            "the restarted replica did a full resync:\n{}",
            dir.log("replica2")
        );
    }
}
