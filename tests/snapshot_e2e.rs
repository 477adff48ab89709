//! Snapshots taken while clients write (BGSAVE and diskless full resyncs without a fork): the
//! file or the replica's data is exactly the dataset at one instant.
//!
//! One writer changes keys in a fixed order, round after round: at round `r`, for each `i`,
//! `SET k:i r` then `HSET h:(i%64) f:i r` (DEL and HDEL instead when `r` is a multiple of 3),
//! then `INCR c:(i%64)`, which is not idempotent: applied twice or lost, it shows.
//! A point-in-time copy therefore shows a cut: every operation before some position has its
//! round-`r+1` effect, every one after it the round-`r` effect. A snapshot that mixed instants
//! (a value written after the start, or one lost by a delete) breaks the cut.

use common::{test_dir, tool, wait_until, Client, Server};
use picket_testkit as common;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const N: usize = 60_000;
const HASHES: usize = 64;
const BATCH: usize = 500;

/// What operation `p` (2 per index) leaves after round `r`.
fn effect(r: u64) -> Option<String> {
    (!r.is_multiple_of(3)).then(|| r.to_string())
}

/// Runs the writer until `stop`; publishes the number of complete rounds.
fn writer(port: u16, stop: Arc<AtomicBool>, rounds: Arc<AtomicU64>) {
    let mut c = Client::connect(port);
    let mut r = 1u64;
    while !stop.load(Ordering::Relaxed) {
        for start in (0..N).step_by(BATCH) {
            for i in start..(start + BATCH).min(N) {
                let (k, h, f, v) = (
                    format!("k:{i}"),
                    format!("h:{}", i % HASHES),
                    format!("f:{i}"),
                    r.to_string(),
                );
                if r.is_multiple_of(3) {
                    c.send(&[b"DEL", k.as_bytes()]);
                    c.send(&[b"HDEL", h.as_bytes(), f.as_bytes()]);
                } else {
                    c.send(&[b"SET", k.as_bytes(), v.as_bytes()]);
                    c.send(&[b"HSET", h.as_bytes(), f.as_bytes(), v.as_bytes()]);
                }
                c.send(&[b"INCR", format!("c:{}", i % HASHES).as_bytes()]);
            }
            for _ in 0..3 * ((start + BATCH).min(N) - start) {
                let rep = c.read_reply().expect("writer connection closed");
                assert!(!rep.starts_with(b"-"), "{}", String::from_utf8_lossy(&rep));
            }
        }
        rounds.store(r, Ordering::Relaxed);
        r += 1;
    }
}

/// Starts the writer on `port` and waits for its first complete round; returns the flag that
/// stops it and its thread.
fn start_writer(port: u16) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let (stop, rounds) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let w = {
        let (stop, rounds) = (stop.clone(), rounds.clone());
        std::thread::spawn(move || writer(port, stop, rounds))
    };
    assert!(wait_until(Duration::from_secs(60), || rounds
        .load(Ordering::Relaxed)
        >= 1));
    (stop, w)
}

/// The sum of the INCR counters.
fn counters(port: u16) -> u64 {
    let mut c = Client::connect(port);
    (0..HASHES)
        .map(|m| {
            let r = c.cmd_str(&["GET", &format!("c:{m}")]);
            r.split("\r\n")
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

/// Reads what the writer's SET/DEL and HSET/HDEL left in the node at `port`, in operation
/// order.
fn observe(port: u16) -> Vec<Option<String>> {
    let mut c = Client::connect(port);
    let mut hashes: Vec<std::collections::HashMap<String, String>> = Vec::new();
    for m in 0..HASHES {
        let r = c.cmd_str(&["HGETALL", &format!("h:{m}")]);
        let parts: Vec<&str> = r.split("\r\n").collect();
        let mut map = std::collections::HashMap::new();
        let mut i = 1;
        while i + 3 < parts.len() {
            map.insert(parts[i + 1].to_string(), parts[i + 3].to_string());
            i += 4;
        }
        hashes.push(map);
    }
    let mut out = Vec::with_capacity(2 * N);
    for start in (0..N).step_by(BATCH) {
        let end = (start + BATCH).min(N);
        for i in start..end {
            c.send(&[b"GET", format!("k:{i}").as_bytes()]);
        }
        for i in start..end {
            let r = String::from_utf8(c.read_reply().unwrap()).unwrap();
            out.push(
                r.split("\r\n")
                    .nth(1)
                    .filter(|_| r != "$-1\r\n")
                    .map(String::from),
            );
            out.push(hashes[i % HASHES].get(&format!("f:{i}")).cloned());
        }
    }
    out
}

/// Two observations are equal; on a difference, says where and how many (not the 120,000
/// values).
fn assert_same_obs(got: &[Option<String>], want: &[Option<String>]) {
    let diff: Vec<usize> = (0..got.len().max(want.len()))
        .filter(|i| got.get(*i) != want.get(*i))
        .collect();
    if let Some(first) = diff.first() {
        panic!(
            "{} of {} operations differ, the first at {first}: got {:?}, want {:?} (want's cut {:?})",
            diff.len(),
            want.len(),
            got.get(*first),
            want.get(*first),
            cut_of(want)
        );
    }
}

/// The round and cut position the observation shows, or None if it is not one instant. All
/// deleted (the end of a round that deletes) shows as round 0.
fn cut_of(obs: &[Option<String>]) -> Option<(u64, usize)> {
    if obs.iter().all(|o| o.is_none()) {
        return Some((0, 0));
    }
    let rounds: std::collections::BTreeSet<u64> = obs
        .iter()
        .flatten()
        .filter_map(|v| v.parse().ok())
        .collect();
    let candidates: Vec<u64> = rounds
        .iter()
        .flat_map(|r| [r.saturating_sub(1), *r])
        .filter(|r| *r >= 1)
        .collect();
    for r in candidates {
        let (new, old) = (effect(r + 1), effect(r));
        let cut = obs.iter().take_while(|o| **o == new).count();
        if obs[cut..].iter().all(|o| *o == old) {
            return Some((r, cut));
        }
    }
    None
}

#[test]
fn bgsave_while_clients_write_is_one_instant() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let p = Server::picket(&["--dir", &d, "--dbfilename", "pit.rdb"]);
    let (stop, w) = start_writer(p.port);
    let mut c = p.client();
    let ops_before = c.field("total_commands_processed");
    assert_eq!(c.cmd_str(&["BGSAVE"]), "+Background saving started\r\n");
    assert!(c.field("rdb_bgsave_in_progress") == "1" || c.field("rdb_saves") == "1");
    assert_eq!(
        c.cmd_str(&["BGSAVE"]),
        "-ERR Background save already in progress\r\n"
    );
    assert!(wait_until(Duration::from_secs(60), || c.field("rdb_saves") == "1"));
    let ops_after = c.field("total_commands_processed");
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    assert_eq!(c.field("rdb_bgsave_in_progress"), "0");
    assert_eq!(c.field("rdb_last_bgsave_status"), "ok");
    // The writer kept going while the snapshot was taken, and changed entries it had not
    // written yet.
    let during: u64 = ops_after.parse::<u64>().unwrap() - ops_before.parse::<u64>().unwrap();
    assert!(
        during > 1000,
        "only {during} commands ran during the BGSAVE"
    );
    assert!(
        p.log_text().contains("were kept as they were at its start"),
        "{}",
        p.log_text()
    );
    let file = dir.path().join("pit.rdb");
    let check = std::process::Command::new(tool("redis-check-rdb"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    // Loaded by picket-node and by a real redis-server: one instant, the same one.
    let q = Server::picket(&["--dir", &d, "--dbfilename", "pit.rdb"]);
    let obs = observe(q.port);
    let cut = cut_of(&obs);
    assert!(
        cut.is_some(),
        "the snapshot is not one instant: {:?}",
        &obs[..20]
    );
    // The INCRs before the cut, and no other: the last one before `k:i` may or may not be in.
    let (r, c2) = cut.unwrap();
    let (i, on_hash) = (c2 / 2, c2 % 2 == 1);
    let base = r * N as u64 + i as u64;
    let incrs = counters(q.port);
    let ok = if on_hash {
        incrs == base
    } else {
        incrs == base || incrs + 1 == base
    };
    assert!(
        ok || r == 0,
        "{incrs} INCRs in the snapshot, cut at round {r} op {c2}"
    );
    let real = Server::redis(&["--dir", &d, "--dbfilename", "pit.rdb"]);
    assert_same_obs(&observe(real.port), &obs);
    eprintln!(
        "snapshot at round {:?}, {during} commands during the BGSAVE",
        cut
    );
}

#[test]
fn a_replica_synced_while_clients_write_gets_one_instant() {
    replica_synced_while_clients_write("yes");
}

#[test]
fn a_replica_synced_from_disk_while_clients_write_gets_one_instant() {
    replica_synced_while_clients_write("no");
}

/// A full resync (diskless `$EOF:` framing, or `$<len>` through a file) while the writer runs:
/// once caught up, the replica equals the master, counters included.
fn replica_synced_while_clients_write(diskless: &str) {
    let p = Server::picket(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-diskless-sync",
        diskless,
    ]);
    let (stop, w) = start_writer(p.port);
    let r = Server::picket(&["--replicaof", "127.0.0.1", &p.port.to_string()]);
    let mut rc = r.client();
    assert!(wait_until(Duration::from_secs(60), || {
        rc.field("master_link_status") == "up"
    }));
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    // Once caught up, the replica equals the master.
    let mut mc = p.client();
    assert!(wait_until(Duration::from_secs(30), || {
        rc.field("slave_repl_offset") == mc.field("master_repl_offset")
    }));
    let (a, b) = (observe(p.port), observe(r.port));
    assert!(cut_of(&a).is_some());
    assert_same_obs(&b, &a);
    assert_eq!(counters(p.port), counters(r.port));
    let target = if diskless == "yes" {
        "replicas sockets"
    } else {
        "target: disk"
    };
    assert!(p.log_text().contains(target), "{}", p.log_text());
}

/// The AOF files the manifest lists, in order.
fn manifest(dir: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    text.lines()
        .map(|l| l.split(' ').nth(1).unwrap_or_default().to_string())
        .collect()
}

fn rewrite_while_clients_write(preamble: &str) {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let opts = [
        "--dir",
        &d,
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        preamble,
        "--auto-aof-rewrite-percentage",
        "0",
    ];
    let p = Server::picket(&opts);
    let (stop, w) = start_writer(p.port);
    let mut c = p.client();
    let ops_before: u64 = c.field("total_commands_processed").parse().unwrap();
    assert_eq!(
        c.cmd_str(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    // While it runs: another rewrite is refused, BGSAVE waits for it only when scheduled.
    let during_rewrite = c.field("aof_rewrite_in_progress") == "1";
    eprintln!("rewrite still running at the second call: {during_rewrite}");
    if during_rewrite {
        assert_eq!(
            c.cmd_str(&["BGREWRITEAOF"]),
            "-ERR Background append only file rewriting already in progress\r\n"
        );
        assert!(c
            .cmd_str(&["BGSAVE"])
            .starts_with("-ERR Another child process is active"));
        assert_eq!(
            c.cmd_str(&["BGSAVE", "SCHEDULE"]),
            "+Background saving scheduled\r\n"
        );
    }
    assert!(wait_until(Duration::from_secs(60), || {
        c.field("aof_rewrites") == "1" && c.field("aof_rewrite_in_progress") == "0"
    }));
    let ops_after: u64 = c.field("total_commands_processed").parse().unwrap();
    assert_eq!(c.field("aof_last_bgrewrite_status"), "ok");
    if during_rewrite {
        assert!(wait_until(Duration::from_secs(30), || c.field("rdb_saves") == "1"));
    }
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    assert!(
        ops_after - ops_before > 1000,
        "the writer waited for the rewrite"
    );
    let ext = if preamble == "yes" { "rdb" } else { "aof" };
    assert_eq!(
        manifest(dir.path()),
        [
            format!("appendonly.aof.2.base.{ext}"),
            "appendonly.aof.2.incr.aof".to_string()
        ]
    );
    let left: Vec<String> = std::fs::read_dir(dir.path().join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".1."))
        .collect();
    assert!(left.is_empty(), "old files left: {left:?}");
    // kill -9: the new base plus the incr file written since its start give back everything.
    kill9_then_both_restart_the_same(p, &d, &opts);
}

/// Observes `p` (one instant), kills it with SIGKILL, checks its AOF directory with
/// redis-check-aof, and restarts picket-node (with `opts`) and a real redis-server on it: both
/// have the same data and counters.
fn kill9_then_both_restart_the_same(mut p: Server, d: &str, opts: &[&str]) {
    let (want, want_incrs) = (observe(p.port), counters(p.port));
    assert!(cut_of(&want).is_some());
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    let check = std::process::Command::new(tool("redis-check-aof"))
        .arg(std::path::Path::new(d).join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        out.contains("All AOF files and manifest are valid"),
        "{out}"
    );
    let q = Server::picket(opts);
    assert_same_obs(&observe(q.port), &want);
    assert_eq!(counters(q.port), want_incrs);
    drop(q);
    let real = Server::redis(&["--dir", d, "--appendonly", "yes"]);
    assert_same_obs(&observe(real.port), &want);
    assert_eq!(counters(real.port), want_incrs);
}

#[test]
fn aof_rewrite_while_clients_write_loses_nothing() {
    rewrite_while_clients_write("yes");
}

#[test]
fn aof_rewrite_with_a_command_base_while_clients_write() {
    rewrite_while_clients_write("no");
}

/// `CONFIG SET appendonly yes` while the writer runs: the first base is a snapshot of that
/// instant and the writes from then on go to `temp-appendonly.aof.incr`; at the end both are
/// renamed to sequence 1 and the manifest is written, as Redis 7 does. Turned off before it
/// is done, nothing is left. After kill -9, picket-node and redis-server load the same data.
#[test]
fn config_set_appendonly_yes_while_clients_write() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let p = Server::picket(&["--dir", &d]);
    let (stop, w) = start_writer(p.port);
    let mut c = p.client();
    let aof_dir = dir.path().join("appendonlydir");
    let files = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&aof_dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    // On, then off before the first base is done: nothing is listed or left behind.
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "appendonly", "yes"]),
        "+OK\r\n"
    );
    assert_eq!(c.cmd_str(&["CONFIG", "SET", "appendonly", "no"]), "+OK\r\n");
    assert_eq!(c.field("aof_enabled"), "0");
    assert!(wait_until(Duration::from_secs(60), || c
        .field("aof_rewrite_in_progress")
        == "0"));
    assert!(
        wait_until(Duration::from_secs(10), || files().is_empty()),
        "{:?}",
        files()
    );
    // On for good.
    let ops_before: u64 = c.field("total_commands_processed").parse().unwrap();
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "appendonly", "yes"]),
        "+OK\r\n"
    );
    assert_eq!(c.field("aof_enabled"), "1");
    let during = c.field("aof_rewrite_in_progress") == "1";
    eprintln!("first rewrite still running at the check: {during}");
    if during {
        // Exiting now would leave no AOF: refused, as Redis refuses it.
        assert_eq!(
            c.cmd_str(&["SHUTDOWN"]),
            "-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
        );
        assert_eq!(
            c.cmd_str(&["BGREWRITEAOF"]),
            "-ERR Background append only file rewriting already in progress\r\n"
        );
    }
    assert!(wait_until(Duration::from_secs(60), || {
        c.field("aof_rewrites") == "1" && c.field("aof_rewrite_in_progress") == "0"
    }));
    assert_eq!(c.field("aof_last_bgrewrite_status"), "ok");
    let ops_after: u64 = c.field("total_commands_processed").parse().unwrap();
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    assert!(ops_after - ops_before > 1000, "the writer waited");
    assert_eq!(
        files(),
        [
            "appendonly.aof.1.base.rdb",
            "appendonly.aof.1.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    assert_eq!(
        manifest(dir.path()),
        ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"]
    );
    assert!(p.log_text().contains(
        "Successfully renamed the temporary AOF incr file temp-appendonly.aof.incr into appendonly.aof.1.incr.aof"
    ));
    kill9_then_both_restart_the_same(p, &d, &["--dir", &d, "--appendonly", "yes"]);
}
