//! Loading an AOF whose last incr file ends inside a transaction (a crash between MULTI and
//! EXEC): with `aof-load-truncated yes` the transaction is dropped and the file cut back to
//! before its MULTI, so writes acknowledged after the restart survive the next one; with
//! `aof-load-truncated no` start-up stops with Redis's "Unexpected end of file" line. A file
//! with garbage, an unknown command, or a listed file that is missing stops start-up with
//! Redis's log line (before, each of them loaded what it could and started).

use common::{test_dir, Server};
use picket_testkit as common;
use std::process::Command;

const MANIFEST: &str = "file appendonly.aof.1.incr.aof seq 1 type i\n";
const UNFINISHED: &[u8] =
    b"*3\r\n$3\r\nset\r\n$1\r\nx\r\n$1\r\n1\r\n*1\r\n$5\r\nmulti\r\n*3\r\n$3\r\nset\r\n$1\r\ny\r\n$1\r\n2\r\n";

fn write_aof(dir: &std::path::Path) {
    write_files(dir, MANIFEST, Some(UNFINISHED));
}

fn write_files(dir: &std::path::Path, manifest: &str, incr: Option<&[u8]>) {
    let aof = dir.join("appendonlydir");
    std::fs::create_dir_all(&aof).unwrap();
    std::fs::write(aof.join("appendonly.aof.manifest"), manifest).unwrap();
    if let Some(b) = incr {
        std::fs::write(aof.join("appendonly.aof.1.incr.aof"), b).unwrap();
    }
}

/// Starts picket-node on `dir` with `appendonly yes` and `extra`; it must exit; its log.
fn failed_start_log(dir: &std::path::Path, extra: &[&str]) -> String {
    let log = dir.join("node.log");
    let _ = std::fs::remove_file(&log);
    let out = Command::new(common::binary("picket-node"))
        .args(["--port", &common::free_port().to_string()])
        .arg("--dir")
        .arg(dir)
        .args(["--appendonly", "yes"])
        .args(extra)
        .arg("--logfile")
        .arg(&log)
        .output()
        .unwrap();
    assert!(!out.status.success(), "picket-node started");
    std::fs::read_to_string(&log).unwrap_or_default()
}

#[test]
fn an_unfinished_transaction_is_cut_off_so_later_writes_survive() {
    let dir = test_dir();
    let d = dir.path().display().to_string();
    write_aof(dir.path());
    let args = [
        "--dir",
        &d,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    {
        let p = Server::picket(&args);
        let mut c = p.client();
        assert_eq!(c.cmd_str(&["GET", "x"]), "$1\r\n1\r\n");
        assert_eq!(c.cmd_str(&["EXISTS", "y"]), ":0\r\n");
        assert_eq!(c.cmd_str(&["SET", "z", "3"]), "+OK\r\n");
    }
    let incr = std::fs::read(dir.path().join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    assert!(
        !incr.windows(5).any(|w| w.eq_ignore_ascii_case(b"multi")),
        "the MULTI is still in the file"
    );
    let p = Server::picket(&args);
    let mut c = p.client();
    assert_eq!(
        c.cmd_str(&["GET", "z"]),
        "$1\r\n3\r\n",
        "an acknowledged write was lost"
    );
    assert_eq!(c.cmd_str(&["GET", "x"]), "$1\r\n1\r\n");
    assert_eq!(c.cmd_str(&["EXISTS", "y"]), ":0\r\n");
}

#[test]
fn an_unfinished_transaction_stops_start_up_without_aof_load_truncated() {
    let dir = test_dir();
    write_aof(dir.path());
    let text = failed_start_log(dir.path(), &["--aof-load-truncated", "no"]);
    assert!(
        text.contains(
            "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"
        ),
        "{text}"
    );
}

#[test]
fn garbage_an_unknown_command_or_a_missing_file_stops_start_up() {
    let set = b"*3\r\n$3\r\nset\r\n$3\r\nfoo\r\n$5\r\nhello\r\n";
    let cases: [(&str, Option<Vec<u8>>, &str); 3] = [
        (
            MANIFEST,
            Some([&set[..], b"!!!", &set[..]].concat()),
            "Bad file format reading the append only file",
        ),
        (
            MANIFEST,
            Some([&set[..], b"*3\r\n$3\r\nbla\r\n$3\r\nfoo\r\n$5\r\nhello\r\n"].concat()),
            "Unknown command 'bla' reading the append only file appendonly.aof.1.incr.aof",
        ),
        (
            MANIFEST,
            None,
            "The append log file appendonly.aof.1.incr.aof doesn't exist: No such file or directory",
        ),
    ];
    for (manifest, incr, want) in cases {
        let dir = test_dir();
        write_files(dir.path(), manifest, incr.as_deref());
        let text = failed_start_log(dir.path(), &[]);
        assert!(text.contains(want), "want {want:?} in {text}");
    }
}

/// An old-style AOF (`dir/appendonly.aof`, Redis 6 and before) moves into `appendonlydir/` as
/// the base and is loaded, with the manifest redis-server 7.0 writes for it; a restart loads
/// it again from there.
#[test]
fn an_old_style_aof_is_upgraded_as_redis_upgrades_it() {
    let set = |k: &str, v: &str| {
        format!(
            "*3\r\n$3\r\nset\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
            k.len(),
            v.len()
        )
    };
    let old = [set("k1", "v1"), set("k2", "v2")].concat();
    let upgrade = |redis: bool| {
        let dir = test_dir();
        let d = dir.path().display().to_string();
        std::fs::write(dir.path().join("appendonly.aof"), &old).unwrap();
        let args = ["--dir", d.as_str(), "--appendonly", "yes"];
        let s = Server::either(redis, &args);
        let mut c = s.client();
        assert_eq!(c.cmd_str(&["GET", "k2"]), "$2\r\nv2\r\n");
        assert_eq!(c.cmd_str(&["SET", "k3", "v3"]), "+OK\r\n");
        assert!(!dir.path().join("appendonly.aof").exists());
        assert!(dir.path().join("appendonlydir/appendonly.aof").exists());
        let manifest = dir.path().join("appendonlydir/appendonly.aof.manifest");
        let text = std::fs::read_to_string(manifest).unwrap();
        drop(c);
        drop(s);
        (dir, text)
    };
    let (_, want) = upgrade(true);
    let (dir, got) = upgrade(false);
    assert_eq!(
        want,
        "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    assert_eq!(got, want);
    let d = dir.path().display().to_string();
    let p = Server::picket(&["--dir", &d, "--appendonly", "yes"]);
    let mut c = p.client();
    assert_eq!(
        c.cmd_str(&["MGET", "k1", "k3"]),
        "*2\r\n$2\r\nv1\r\n$2\r\nv3\r\n"
    );
}

/// An old-style AOF of Redis 6 with an RDB preamble followed by commands: redis-server writes
/// the preamble (its own BGREWRITEAOF base), commands are appended after it, and both servers
/// load the whole of it (before, picket-node loaded the RDB part and dropped the commands).
#[test]
fn an_old_style_aof_with_an_rdb_preamble_and_commands_loads_whole() {
    let made = test_dir();
    let d = made.path().display().to_string();
    let base = {
        let args = ["--dir", d.as_str(), "--appendonly", "yes"];
        let s = Server::redis(&[&args[..], &["--aof-use-rdb-preamble", "yes"]].concat());
        let mut c = s.client();
        assert_eq!(c.cmd_str(&["SET", "k1", "v1"]), "+OK\r\n");
        assert!(c.cmd_str(&["BGREWRITEAOF"]).starts_with('+'));
        let dir = made.path().join("appendonlydir");
        let rdb_base = || {
            std::fs::read_dir(&dir)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(".base.rdb"))
        };
        assert!(common::wait_until(
            std::time::Duration::from_secs(10),
            || { rdb_base().is_some() && c.field("aof_rewrite_in_progress") == "0" }
        ));
        std::fs::read(rdb_base().unwrap()).unwrap()
    };
    assert!(base.starts_with(b"REDIS"));
    let tail = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$2\r\nk3\r\n$2\r\nv3\r\n";
    for redis in [true, false] {
        let dir = test_dir();
        let d = dir.path().display().to_string();
        std::fs::write(
            dir.path().join("appendonly.aof"),
            [&base[..], tail].concat(),
        )
        .unwrap();
        let args = ["--dir", d.as_str(), "--appendonly", "yes"];
        let s = Server::either(redis, &args);
        let mut c = s.client();
        let want = "*2\r\n$2\r\nv1\r\n$2\r\nv3\r\n";
        assert_eq!(c.cmd_str(&["MGET", "k1", "k3"]), want, "redis: {redis}");
    }
}

/// No key expires while an AOF is replayed, as in Redis: a TTL already in the past is set,
/// the next command finds the key, and the key is gone once loaded (before, picket-node
/// deleted it at the PEXPIREAT, and the RPUSH after it made a new list that survived).
#[test]
fn keys_do_not_expire_while_the_aof_is_replayed() {
    let cmd = |args: &[&str]| {
        let mut s = format!("*{}\r\n", args.len());
        for a in args {
            s += &format!("${}\r\n{a}\r\n", a.len());
        }
        s
    };
    let incr = [
        cmd(&["rpush", "list", "foo"]),
        cmd(&["pexpireat", "list", "1000"]),
        cmd(&["rpush", "list", "bar"]),
    ]
    .concat();
    for redis in [true, false] {
        let dir = test_dir();
        let d = dir.path().display().to_string();
        write_files(dir.path(), MANIFEST, Some(incr.as_bytes()));
        let args = ["--dir", d.as_str(), "--appendonly", "yes"];
        let s = Server::either(redis, &args);
        let mut c = s.client();
        assert_eq!(c.cmd_str(&["LLEN", "list"]), ":0\r\n", "redis: {redis}");
    }
}
