//! RDB persistence end to end, with real Redis as the oracle: a dump written by picket-node
//! passes redis-check-rdb and loads into redis-server with identical contents (types,
//! elements, encodings, TTLs); a dump written by redis-server with every type and encoding
//! loads into picket-node the same way; SHUTDOWN/SIGTERM snapshots survive a restart; a corrupt
//! file stops start-up with the offset and reason.

use common::dataset::{assert_same, dump_all, fill, items};
use common::{test_dir, tool, wait_until, Client, Server};
use picket_testkit as common;
use std::process::Command;
use std::time::Duration;

fn check_rdb(path: &std::path::Path) {
    let out = Command::new(tool("redis-check-rdb"))
        .arg(path)
        .output()
        .unwrap();
    let s =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && s.contains("RDB looks OK"), "{s}");
}

#[test]
fn picket_dump_loads_into_redis_and_passes_check_rdb() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let p = Server::picket(&["--dir", &d, "--dbfilename", "p.rdb"]);
    let mut c = p.client();
    fill(&mut c);
    let want = dump_all(&mut c);
    assert_eq!(c.cmd_str(&["SAVE"]), "+OK\r\n");
    check_rdb(&dir.path().join("p.rdb"));
    let r = Server::redis(&["--dir", &d, "--dbfilename", "p.rdb"]);
    let got = dump_all(&mut r.client());
    assert_same(&want, &got);
}

/// Plain quicklist nodes (elements over `DEBUG QUICKLIST-PACKED-THRESHOLD`) both ways: a list
/// of large and small elements saved by each server loads into the other unchanged.
#[test]
fn plain_list_nodes_load_both_ways() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let items = ["9", "xxxxxxxxxx", "bb", "xxxxxxxxxx", "y"];
    for (first, second) in [(true, false), (false, true)] {
        let start = |picket: bool, file: &str| {
            let args = [
                "--dir",
                &d,
                "--dbfilename",
                file,
                "--enable-debug-command",
                "yes",
            ];
            if picket {
                Server::picket(&args)
            } else {
                Server::redis(&args)
            }
        };
        let file = if first { "plain-p.rdb" } else { "plain-r.rdb" };
        let a = start(first, file);
        let mut c = a.client();
        assert_eq!(
            c.cmd_str(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5b"]),
            "+OK\r\n"
        );
        let mut push = vec!["RPUSH", "lst"];
        push.extend(items);
        c.cmd(&push);
        assert_eq!(c.cmd_str(&["SAVE"]), "+OK\r\n");
        check_rdb(&dir.path().join(file));
        // A plain node: container 1, then the element as an RDB string.
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        assert!(
            bytes.windows(12).any(|w| w == b"\x01\x0axxxxxxxxxx"),
            "no plain node"
        );
        drop(c);
        drop(a);
        let b = start(second, file);
        let got = b.client().cmd_str(&["LRANGE", "lst", "0", "-1"]);
        let want: String = format!("*{}\r\n", items.len())
            + &items
                .iter()
                .map(|i| format!("${}\r\n{i}\r\n", i.len()))
                .collect::<String>();
        assert_eq!(
            got,
            want,
            "saved by {}",
            if first { "picket" } else { "redis" }
        );
    }
    let p = Server::picket(&["--enable-debug-command", "yes"]);
    let mut c = p.client();
    for (arg, reply) in [
        ("0", "+OK"),
        ("abc", "-ERR"),
        ("-1", "-ERR"),
        ("4gb", "-ERR"),
        ("1gb", "+OK"),
    ] {
        assert!(
            c.cmd_str(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", arg])
                .starts_with(reply),
            "{arg}"
        );
    }
}

#[test]
fn redis_dump_loads_into_picket() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let r = Server::redis(&["--dir", &d, "--dbfilename", "r.rdb"]);
    let mut c = r.client();
    fill(&mut c);
    let want = dump_all(&mut c);
    assert_eq!(c.cmd_str(&["SAVE"]), "+OK\r\n");
    let p = Server::picket(&["--dir", &d, "--dbfilename", "r.rdb"]);
    let mut pc = p.client();
    assert_same(&want, &dump_all(&mut pc));
    assert!(
        p.log_text().contains("DB loaded from disk"),
        "{}",
        p.log_text()
    );
    // And back: DEBUG RELOAD on picket keeps everything.
    let p2 = Server::picket(&[
        "--dir",
        &d,
        "--dbfilename",
        "r.rdb",
        "--enable-debug-command",
        "yes",
    ]);
    let mut c2 = p2.client();
    assert_eq!(c2.cmd_str(&["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_same(&want, &dump_all(&mut c2));
}

#[test]
fn shutdown_and_sigterm_snapshots_survive_a_restart() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let mut p = Server::picket(&["--dir", &d]);
    let mut c = p.client();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["RPUSH", "l", "x", "y"]);
    c.send(&[b"SHUTDOWN", b"SAVE"]);
    assert!(wait_until(Duration::from_secs(10), || !p.alive()));
    let mut p = Server::picket(&["--dir", &d, "--save", "3600 1"]);
    let mut c = p.client();
    assert_eq!(
        c.cmd_str(&["LRANGE", "l", "0", "-1"]),
        "*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
    );
    c.cmd(&["SET", "b", "2"]);
    // SIGTERM with save points configured saves too.
    Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || !p.alive()));
    let p = Server::picket(&["--dir", &d]);
    let mut c = p.client();
    assert_eq!(
        c.cmd_str(&["MGET", "a", "b"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

#[test]
fn corrupt_dump_stops_start_up_with_offset_and_reason() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    {
        let p = Server::picket(&["--dir", &d]);
        let mut c = p.client();
        fill(&mut c);
        assert_eq!(c.cmd_str(&["SAVE"]), "+OK\r\n");
    }
    let path = dir.path().join("dump.rdb");
    let mut b = std::fs::read(&path).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0xff;
    std::fs::write(&path, &b).unwrap();
    let log = dir.path().join("corrupt.log");
    let out = Command::new(common::binary("picket-node"))
        .args([
            "--port",
            &common::free_port().to_string(),
            "--dir",
            &d,
            "--logfile",
        ])
        .arg(&log)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("Fatal error loading the DB") && text.contains("offset"),
        "{text}"
    );
}

#[test]
fn aof_interop_with_redis_both_ways_and_check_aof() {
    // picket writes an appendonlydir; redis-check-aof accepts it and redis-server loads it.
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let want = {
        let p = Server::picket(&["--dir", &d, "--appendonly", "yes"]);
        let mut c = p.client();
        fill(&mut c);
        dump_all(&mut c)
    };
    let manifest = dir.path().join("appendonlydir/appendonly.aof.manifest");
    let out = Command::new(tool("redis-check-aof"))
        .arg(&manifest)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(s.contains("All AOF files and manifest are valid"), "{s}");
    let r = Server::redis(&["--dir", &d, "--appendonly", "yes"]);
    assert_same(&want, &dump_all(&mut r.client()));
    drop(r);
    // redis-server writes one (RDB preamble base + incr); picket starts on it.
    let dir2 = test_dir();
    let d2 = dir2.path().display().to_string();
    let want2 = {
        let r = Server::redis(&["--dir", &d2, "--appendonly", "yes"]);
        let mut c = r.client();
        fill(&mut c);
        c.cmd(&["BGREWRITEAOF"]);
        assert!(wait_until(Duration::from_secs(10), || {
            c.cmd_str(&["INFO", "persistence"])
                .contains("aof_rewrite_in_progress:0")
        }));
        c.cmd(&["SET", "after-rewrite", "in the incr file"]);
        dump_all(&mut c)
    };
    let p = Server::picket(&["--dir", &d2, "--appendonly", "yes"]);
    assert_same(&want2, &dump_all(&mut p.client()));
}

#[test]
fn aof_truncated_tail_is_handled_as_redis_does() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    {
        let p = Server::picket(&["--dir", &d, "--appendonly", "yes"]);
        let mut c = p.client();
        c.cmd(&["SET", "a", "1"]);
        c.cmd(&["RPUSH", "l", "x"]);
    }
    let incr = dir.path().join("appendonlydir/appendonly.aof.1.incr.aof");
    let mut b = std::fs::read(&incr).unwrap();
    b.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$5\r\nhal");
    std::fs::write(&incr, &b).unwrap();
    // aof-load-truncated no: start-up stops with Redis's line naming the file.
    let log = dir.path().join("strict.log");
    let out = Command::new(common::binary("picket-node"))
        .args([
            "--port",
            &common::free_port().to_string(),
            "--dir",
            &d,
            "--appendonly",
            "yes",
        ])
        .args(["--aof-load-truncated", "no", "--logfile"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let t = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        t.contains("Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"),
        "{t}"
    );
    // The default (yes): loads what is complete, truncates the tail, keeps appending.
    let p = Server::picket(&["--dir", &d, "--appendonly", "yes"]);
    let mut c = p.client();
    assert_eq!(c.cmd_str(&["MGET", "a", "b"]), "*2\r\n$1\r\n1\r\n$-1\r\n");
    assert!(
        p.log_text().contains("short read while loading the AOF"),
        "{}",
        p.log_text()
    );
    c.cmd(&["SET", "c", "3"]);
    drop(c);
    drop(p);
    let p = Server::picket(&["--dir", &d, "--appendonly", "yes"]);
    assert_eq!(p.client().cmd_str(&["GET", "c"]), "$1\r\n3\r\n");
}

/// kill -9 at random moments while a client writes: with appendfsync always, every
/// acknowledged write is there after the restart (over 50 kills), and nothing appears twice.
#[test]
fn aof_always_loses_no_acknowledged_write_over_50_kill9() {
    let (acked, len, lost) = kill9_rounds("always", 50);
    assert_eq!(
        lost, 0,
        "{lost} acknowledged writes lost with appendfsync always"
    );
    assert!(len >= acked && acked > 500, "{len} vs {acked}");
    eprintln!("kill -9 x50 (always): {acked} acknowledged writes, {len} present, 0 lost");
}

/// With `everysec`, a kill -9 loses at most the writes of about the last second. (A kill -9
/// leaves the page cache alone, so this bounds what Picket holds in its own buffers; what an
/// OS crash could lose is bounded by the fsync thread, which runs once a second.)
#[test]
fn aof_everysec_loses_at_most_the_last_second_over_20_kill9() {
    let (acked, len, lost) = kill9_rounds("everysec", 20);
    assert!(acked > 200, "{acked} acknowledged writes");
    eprintln!("kill -9 x20 (everysec): {acked} acknowledged writes, {len} present, {lost} lost");
}

/// Rounds of: start on the same directory, check the log of writes, write from another thread
/// for a random 20..120 ms, kill -9. Every acknowledged write must come back, except, with
/// `everysec`, those acknowledged in the last second before the kill. Returns the writes
/// acknowledged, those present at the end, and how many were lost in all.
fn kill9_rounds(fsync: &str, rounds: usize) -> (u64, u64, u64) {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let opts = ["--dir", &d, "--appendonly", "yes", "--appendfsync", fsync];
    let llen = |c: &mut Client| -> u64 {
        let r = c.cmd_str(&["LLEN", "log"]);
        r.trim_start_matches(':').trim().parse().unwrap()
    };
    // Acknowledged writes with when they were acknowledged, and when the process was killed.
    let mut acked: Vec<std::time::Instant> = Vec::new();
    let mut killed_at = std::time::Instant::now();
    let mut lost = 0u64;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut history = Vec::new();
    for round in 0..rounds {
        let mut p = Server::picket(&opts);
        let mut c = p.client();
        let len = llen(&mut c);
        if (len as usize) < acked.len() {
            let recent = killed_at - Duration::from_millis(1000);
            let gone = &acked[len as usize..];
            assert!(
                fsync == "everysec" && gone.iter().all(|t| *t > recent),
                "round {round}: {} acknowledged writes lost, the oldest {:?} before the kill\n{}",
                gone.len(),
                killed_at - gone[0],
                history.join("\n")
            );
            lost += gone.len() as u64;
            acked.truncate(len as usize);
        }
        // Written but killed before the reply: present now, kept from here on.
        acked.resize(len as usize, killed_at);
        let tail = items(&c.cmd_str(&["LRANGE", "log", "-3", "-1"]));
        let expect: Vec<String> = (len.saturating_sub(3)..len)
            .map(|i| i.to_string())
            .collect();
        assert_eq!(tail, expect, "round {round}: the log has gaps or repeats");
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let run_ms = 20 + seed % 100;
        let port = p.port;
        let writer = std::thread::spawn(move || {
            let mut w = Client::connect(port);
            let mut times = Vec::new();
            let mut i = len;
            while let Some(r) = w.try_cmd_str(&["RPUSH", "log", &i.to_string()]) {
                if !r.starts_with(':') {
                    break;
                }
                // RPUSH answers the new length: anything else is not our list.
                assert_eq!(r, format!(":{}\r\n", i + 1), "round {round}: RPUSH {i}");
                times.push(std::time::Instant::now());
                i += 1;
            }
            times
        });
        std::thread::sleep(Duration::from_millis(run_ms));
        Command::new("kill")
            .args(["-KILL", &p.child.id().to_string()])
            .status()
            .unwrap();
        killed_at = std::time::Instant::now();
        let _ = p.child.wait();
        let times = writer.join().unwrap();
        history.push(format!(
            "round {round}: pid {} port {port} started with {len}, {} acknowledged",
            p.child.id(),
            times.len()
        ));
        acked.extend(times);
    }
    let p = Server::picket(&["--dir", &d, "--appendonly", "yes"]);
    let len = llen(&mut p.client());
    if (len as usize) < acked.len() {
        assert_eq!(
            fsync,
            "everysec",
            "{} acknowledged writes lost",
            acked.len() - len as usize
        );
        lost += (acked.len() - len as usize) as u64;
    }
    (acked.len() as u64, len, lost)
}

/// A command base (`aof-use-rdb-preamble no`), `#TS:` annotations and automatic rewrites:
/// redis-check-aof and redis-server accept the directory, and a restart has the same data.
#[test]
fn aof_command_base_timestamps_and_automatic_rewrite() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let opts = [
        "--dir",
        &d,
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
        "--aof-timestamp-enabled",
        "yes",
        "--auto-aof-rewrite-min-size",
        "4096",
        "--auto-aof-rewrite-percentage",
        "100",
    ];
    let want = {
        let p = Server::picket(&opts);
        let mut c = p.client();
        fill(&mut c);
        for i in 0..200 {
            c.cmd(&["SET", &format!("k{i}"), &"v".repeat(100)]);
        }
        let ok = wait_until(Duration::from_secs(10), || {
            let info = c.cmd_str(&["INFO", "persistence"]);
            common::info_field(&info, "aof_rewrites").is_some_and(|v| v != "0")
        });
        assert!(ok, "no automatic rewrite");
        c.cmd(&["SET", "after", "rewrite"]);
        dump_all(&mut c)
    };
    let names: Vec<String> = std::fs::read_dir(dir.path().join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(".base.aof")), "{names:?}");
    let manifest = dir.path().join("appendonlydir/appendonly.aof.manifest");
    let out = Command::new(tool("redis-check-aof"))
        .arg(&manifest)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(s.contains("All AOF files and manifest are valid"), "{s}");
    let p = Server::picket(&opts);
    assert_same(&want, &dump_all(&mut p.client()));
    drop(p);
    let r = Server::redis(&["--dir", &d, "--appendonly", "yes"]);
    assert_same(&want, &dump_all(&mut r.client()));
}

/// While the snapshot loads at start-up, clients connect and get -LOADING (INFO shows the
/// loading fields); afterwards the data is there.
#[test]
fn clients_get_loading_while_the_snapshot_loads() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    {
        let p = Server::picket(&["--dir", &d, "--enable-debug-command", "yes"]);
        let mut c = p.client();
        // (1.5M keys take seconds in a debug build, more on a loaded machine.)
        c.stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        c.cmd(&["DEBUG", "POPULATE", "1500000", "key", "100"]);
        assert_eq!(c.cmd_str(&["SAVE"]), "+OK\r\n");
    }
    let (mut child, mut c) = start_loading(&d, &[], &dir.path().join("loading.log"));
    let first = c.cmd_str(&["PING"]);
    let info = c.cmd_str(&["INFO", "persistence"]);
    assert_eq!(first, "-LOADING Redis is loading the dataset in memory\r\n");
    assert!(
        info.contains("loading:1") && info.contains("loading_loaded_perc:"),
        "{info}"
    );
    // The used-mem aux field of the file, as Redis reports it, once the loader has read the
    // file's header (the first INFO may come before it has read anything).
    let mut last = String::new();
    let header_read = wait_until(Duration::from_secs(20), || {
        last = c.cmd_str(&["INFO", "persistence"]);
        last.contains("loading:1") && !last.contains("loading_rdb_used_mem:0\r\n")
    });
    assert!(header_read, "{last}");
    assert!(wait_until(Duration::from_secs(60), || c.cmd_str(&["PING"])
        == "+PONG\r\n"));
    assert_eq!(c.cmd_str(&["DBSIZE"]), ":1500000\r\n");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn save_points_bgsave_and_misconf() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let p = Server::picket(&["--dir", &d, "--save", "1 1", "--dbfilename", "sp.rdb"]);
    let mut c = p.client();
    c.cmd(&["SET", "k", "v"]);
    // The save point "1 1": saved within about a second, in the cron.
    assert!(wait_until(Duration::from_secs(10), || {
        c.cmd_str(&["INFO", "persistence"])
            .contains("rdb_changes_since_last_save:0")
    }));
    assert!(dir.path().join("sp.rdb").exists());
    assert!(
        p.log_text().contains("1 changes in 1 seconds. Saving..."),
        "{}",
        p.log_text()
    );
    let saves = |c: &mut Client| {
        common::info_field(&c.cmd_str(&["INFO", "persistence"]), "rdb_saves").unwrap_or_default()
    };
    let before = saves(&mut c);
    assert_eq!(c.cmd_str(&["BGSAVE"]), "+Background saving started\r\n");
    assert!(wait_until(Duration::from_secs(10), || saves(&mut c) != before));
    assert_eq!(
        c.cmd_str(&["BGSAVE", "SCHEDULE"]),
        "+Background saving started\r\n"
    );
    assert_eq!(c.cmd_str(&["BGSAVE", "x"]), "-ERR syntax error\r\n");
    assert!(wait_until(Duration::from_secs(10), || c
        .cmd_str(&["INFO", "persistence"])
        .contains("rdb_bgsave_in_progress:0")));
    // A snapshot that cannot be written (a directory where its temp file goes): writes and
    // PING get -MISCONF, reads still work; once the cause is gone the retry saves.
    let blocker = dir.path().join(format!("temp-{}.rdb", p.child.id()));
    std::fs::create_dir(&blocker).unwrap();
    c.cmd(&["SET", "k2", "v"]);
    let misconf = "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.\r\n";
    assert!(wait_until(Duration::from_secs(10), || c
        .cmd_str(&["SET", "k3", "v"])
        == misconf));
    assert_eq!(c.cmd_str(&["PING"]), misconf);
    assert_eq!(c.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    assert!(c
        .cmd_str(&["INFO", "persistence"])
        .contains("rdb_last_bgsave_status:err"));
    std::fs::remove_dir(&blocker).unwrap();
    assert!(wait_until(Duration::from_secs(15), || c
        .cmd_str(&["SET", "k3", "v"])
        == "+OK\r\n"));
}

/// The AOF is replayed while clients already connect: they get -LOADING until it is done.
#[test]
fn clients_get_loading_while_the_aof_replays() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let n = 400_000;
    {
        let p = Server::picket(&[
            "--dir",
            &d,
            "--appendonly",
            "yes",
            "--aof-use-rdb-preamble",
            "no",
        ]);
        let mut c = p.client();
        for chunk in 0..(n / 10_000) {
            for i in 0..10_000 {
                let k = format!("key:{}", chunk * 10_000 + i);
                c.send(&[b"SET", k.as_bytes(), b"some-value"]);
            }
            for _ in 0..10_000 {
                c.read_reply();
            }
        }
    }
    let (mut child, mut c) = start_loading(
        &d,
        &["--appendonly", "yes"],
        &dir.path().join("aofload.log"),
    );
    assert_eq!(
        c.cmd_str(&["PING"]),
        "-LOADING Redis is loading the dataset in memory\r\n"
    );
    assert!(c.cmd_str(&["INFO", "persistence"]).contains("loading:1"));
    assert!(wait_until(Duration::from_secs(60), || c.cmd_str(&["PING"])
        == "+PONG\r\n"));
    assert_eq!(c.cmd_str(&["DBSIZE"]), format!(":{n}\r\n"));
    let _ = child.kill();
    let _ = child.wait();
}

/// From the first accepted connection until the data is loaded, every command gets -LOADING:
/// none is answered from the empty dataset, and no write is acknowledged there (it would be
/// lost: not in the AOF, replaced by the RDB). A client connects in a tight loop while the
/// server starts and asks at once, 50 times for each kind of file.
#[test]
fn no_command_runs_before_the_data_is_loaded() {
    for aof in [false, true] {
        let dir = test_dir();
        let d = dir.path().display().to_string();
        let mut extra = vec!["--dir", &d];
        if aof {
            extra.extend(["--appendonly", "yes"]);
        }
        {
            let p = Server::picket(&extra);
            let mut c = p.client();
            c.cmd(&["SET", "k", "v"]);
            if !aof {
                assert_eq!(c.cmd_str(&["SAVE"]), "+OK\r\n");
            }
        }
        for round in 0..50 {
            let port = common::free_port();
            let mut child = Command::new(common::binary("picket-node"))
                .args(["--port", &port.to_string(), "--save", ""])
                .args(&extra)
                .arg("--logfile")
                .arg(dir.path().join("early.log"))
                .spawn()
                .unwrap();
            let end = std::time::Instant::now() + Duration::from_secs(10);
            let reply = loop {
                assert!(std::time::Instant::now() < end, "never listened");
                if let Some(mut c) = Client::try_connect(port) {
                    break c.cmd_str(&["GET", "k"]);
                }
                std::thread::yield_now();
            };
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                reply == "$1\r\nv\r\n" || reply.starts_with("-LOADING"),
                "aof {aof}, round {round}: the first GET got {reply:?}"
            );
        }
    }
}

/// Starts picket-node on `dir` and connects as soon as it listens (while it may still load).
fn start_loading(
    dir: &str,
    extra: &[&str],
    log: &std::path::Path,
) -> (std::process::Child, Client) {
    let port = common::free_port();
    let child = Command::new(common::binary("picket-node"))
        .args(["--port", &port.to_string(), "--dir", dir, "--save", ""])
        .args(extra)
        .arg("--logfile")
        .arg(log)
        .spawn()
        .unwrap();
    let mut c = None;
    assert!(wait_until(Duration::from_secs(10), || {
        c = Client::try_connect(port);
        c.is_some()
    }));
    (child, c.unwrap())
}

/// BGREWRITEAOF with `appendonly no` writes a base and a manifest listing only it, as Redis 7
/// does (twice: the second is numbered after the first, which goes); `appendonly yes` at the
/// next start loads it. Compared with a real redis-server, and so are the names of INFO
/// persistence's fields with the AOF on.
#[test]
fn bgrewriteaof_with_the_aof_off_writes_a_base_as_redis_does() {
    let mut seen = Vec::new();
    for real in [true, false] {
        let dir = test_dir();
        let d = dir.path().display().to_string();
        let start = |extra: &[&str]| {
            let mut a = vec!["--dir", &d];
            a.extend_from_slice(extra);
            if real {
                Server::redis(&a)
            } else {
                Server::picket(&a)
            }
        };
        let s = start(&[]);
        let mut c = s.client();
        c.cmd(&["SET", "a", "1"]);
        let mut files = Vec::new();
        for n in 1..=2 {
            assert_eq!(
                c.cmd_str(&["BGREWRITEAOF"]),
                "+Background append only file rewriting started\r\n"
            );
            assert!(wait_until(Duration::from_secs(10), || {
                let info = c.cmd_str(&["INFO", "persistence"]);
                common::info_field(&info, "aof_rewrites") == Some(n.to_string())
                    && common::info_field(&info, "aof_rewrite_in_progress").as_deref() == Some("0")
            }));
            let aof = dir.path().join("appendonlydir");
            let mut names: Vec<String> = std::fs::read_dir(&aof)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            let manifest = std::fs::read_to_string(aof.join("appendonly.aof.manifest")).unwrap();
            files.push((names, manifest));
        }
        let info = c.cmd_str(&["INFO", "persistence"]);
        assert_eq!(
            common::info_field(&info, "aof_enabled").as_deref(),
            Some("0")
        );
        drop(c);
        drop(s);
        let s = start(&["--appendonly", "yes"]);
        let mut c = s.client();
        assert_eq!(c.cmd_str(&["GET", "a"]), "$1\r\n1\r\n");
        // INFO persistence has Redis's fields, the AOF ones included, in Redis's order.
        let names: Vec<String> = c
            .cmd_str(&["INFO", "persistence"])
            .lines()
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .collect();
        seen.push((files, names));
    }
    assert_eq!(seen[1], seen[0], "picket (right) vs redis (left)");
}

/// An AOF write that fails is fatal, as in Redis: the write it was for is not acknowledged,
/// the process exits with status 1 and says why, and every write acknowledged before is in the
/// AOF. The failure is made real with a file-size limit (`ulimit -f`, SIGXFSZ ignored, so the
/// write returns EFBIG).
#[test]
fn a_failed_aof_write_acknowledges_nothing_and_exits() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    let port = common::free_port();
    let log = dir.path().join("limited.log");
    let bin = common::binary("picket-node").display().to_string();
    let mut args: Vec<String> = [
        "-c",
        "trap '' XFSZ; ulimit -f 128; exec \"$@\"",
        "limited",
        &bin,
    ]
    .map(String::from)
    .to_vec();
    args.extend(common::process::base_args(port, dir.path(), &log));
    args.extend(["--appendonly", "yes", "--appendfsync", "always"].map(String::from));
    let mut p = common::Proc::spawn(std::path::Path::new("/bin/bash"), &args, port);
    let mut c = Client::connect(port);
    let value = "x".repeat(1000);
    let mut acked = 0u64;
    let mut last = String::new();
    for i in 0..1000 {
        match c.try_cmd_str(&["RPUSH", "log", &format!("{i}:{value}")]) {
            Some(r) if r == format!(":{}\r\n", i + 1) => acked += 1,
            other => {
                last = format!("{other:?}");
                break;
            }
        }
    }
    // 128 blocks of 512 bytes: the file limit is met well before 1000 writes of 1 KB.
    assert!(
        (10..1000).contains(&acked),
        "{acked} acknowledged, then {last}"
    );
    assert_eq!(last, "None", "the failed write got a reply");
    assert!(
        wait_until(Duration::from_secs(10), || !p.alive()),
        "the server stayed up"
    );
    let status = p.child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("Error writing to the AOF file"), "{text}");
    let again = Server::picket(&["--dir", &d, "--appendonly", "yes"]);
    let len = again.client().cmd_str(&["LLEN", "log"]);
    let len: u64 = len.trim_start_matches(':').trim().parse().unwrap();
    assert!(len >= acked, "{len} in the AOF, {acked} acknowledged");
}
