//! The end-to-end test harness shared by every test binary: building the workspace binaries,
//! starting picket-node, picket-sentinel and the real Redis programs on ephemeral loopback ports
//! (each one checked to be the process answering there), a raw RESP client, polling with
//! deadlines, and a dataset with every type and encoding.
//!
//! - [`process`]: [`Proc`], the one wrapper of a spawned binary; [`Server`], a node in its own
//!   temporary directory.
//! - [`client`]: [`Client`], RESP framing, INFO fields.
//! - [`nodes`]: data nodes and sentinels as the sentinel and client suites start them.
//! - [`dataset`]: the dataset and the logical dump that compares two servers.
//! - [`stream`]: [`StreamReader`], a replica's view of the propagated stream.

pub mod client;
pub mod dataset;
pub mod nodes;
pub mod process;
pub mod stream;

pub use client::{assert_command_entries_match, encode, frame_len, info_field, Client};
pub use nodes::{
    data_node_server, master_addr, picket_node, picket_node_with, redis_node, redis_node_with,
    role, sentinel, sentinel_with,
};
pub use process::{Proc, Server};
pub use stream::StreamReader;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn root() -> PathBuf {
    let kit = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    kit.parent().map(PathBuf::from).unwrap_or(kit)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Builds the workspace binaries once per test process and returns the path of one.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "--quiet", "--bins"])
            .current_dir(root())
            .status()
            .expect("run cargo build");
        assert!(st.success(), "cargo build of the binaries failed");
    });
    let p = target_dir().join("debug").join(name);
    assert!(p.exists(), "{} was not built", p.display());
    p
}

/// The real redis-server: tests that compare against it must have it (`.ci/run` installs it).
pub fn redis_server() -> PathBuf {
    for p in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] {
        if std::path::Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("redis-server is not installed: run .ci/run, or apt-get install -y redis-server redis-tools");
}

pub fn tool(name: &str) -> PathBuf {
    for d in ["/usr/bin", "/usr/local/bin"] {
        let p = PathBuf::from(d).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed: run .ci/run, or apt-get install -y redis-tools");
}

/// A port that was free a moment ago, and never handed out before in this test process: a
/// test that still talks to the port of a server it killed must not reach another test's new
/// server there. It is drawn from 10000-19999, below the kernel's ephemeral range (32768 and
/// up), so no outgoing connection of a parallel test can take it as its local port before the
/// server binds it (that race once made a redis-server fail to start in CI), and below the
/// fixed ports of Redis's own suites (20000 and up); never 6379 or 26379.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    static SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let _ = SEED.compare_exchange(
        0,
        std::process::id() as u64
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1),
        std::sync::atomic::Ordering::Relaxed,
        std::sync::atomic::Ordering::Relaxed,
    );
    loop {
        // A 64-bit LCG step; the high bits pick the port.
        let x = SEED
            .fetch_add(0x9e37_79b9_7f4a_7c15, std::sync::atomic::Ordering::Relaxed)
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let p = 10_000 + ((x >> 33) % 10_000) as u16;
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if given.contains(&p) {
            continue;
        }
        // Free right now on loopback.
        if TcpListener::bind(("127.0.0.1", p)).is_ok() {
            given.push(p);
            return p;
        }
    }
}

/// Polls `f` every 20 ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A test's working directory, removed at the end. When the test fails, the tail of every
/// `*.log` file in it is printed first, so a CI failure shows what the processes said.
pub struct TestDir(tempfile::TempDir);

pub fn test_dir() -> TestDir {
    TestDir(tempfile::tempdir().expect("tempdir"))
}

impl TestDir {
    pub fn path(&self) -> &std::path::Path {
        self.0.path()
    }

    /// The text of `<name>.log` in this directory (empty when there is none yet).
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.path().join(format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        // `PICKET_KEEP_LOGS=<dir>` keeps a failed test's whole directory too.
        if let Ok(keep) = std::env::var("PICKET_KEEP_LOGS") {
            let test = std::thread::current()
                .name()
                .unwrap_or("main")
                .replace("::", "-");
            let to = std::path::Path::new(&keep).join(format!("{test}-{}-dir", std::process::id()));
            let _ = std::fs::create_dir_all(&keep);
            let _ = Command::new("cp")
                .arg("-a")
                .arg(self.0.path())
                .arg(&to)
                .status();
        }
        let Ok(rd) = std::fs::read_dir(self.0.path()) else {
            return;
        };
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().map(|x| x == "log").unwrap_or(false))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(150);
            eprintln!("===== {} (last {} lines)", f.display(), lines.len() - from);
            for l in &lines[from..] {
                eprintln!("{l}");
            }
        }
    }
}

/// GET `path` on a loopback HTTP port: the response head and body. The request is HTTP/1.0,
/// so the body comes whole (never chunked) and the connection closes after it.
pub fn http_get(port: u16, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to HTTP port");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_string(), body.to_string())
}
