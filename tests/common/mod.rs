//! Helpers for end-to-end tests: building and starting picket-node and redis-server on
//! ephemeral loopback ports, a raw RESP client, polling with deadlines.
#![allow(dead_code)]

pub mod dataset;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

/// A port that was free a moment ago (never 6379 or 26379), and never handed out before in
/// this test process: a test that still talks to the port of a server it killed must not reach
/// another test's new server there.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let p = l.local_addr().unwrap().port();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if p != 6379 && p != 26379 && !given.contains(&p) {
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

/// A server process killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
}

impl Server {
    fn start(bin: PathBuf, extra: &[&str]) -> Server {
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            // `--port N` in `extra` restarts a server where an earlier one was.
            let fixed = extra
                .iter()
                .position(|a| *a == "--port")
                .and_then(|i| extra.get(i + 1))
                .and_then(|p| p.parse::<u16>().ok());
            let port = fixed.unwrap_or_else(free_port);
            let log = dir.path().join("server.log");
            let mut args: Vec<String> = vec![
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--save".into(),
                "".into(),
                "--dir".into(),
                dir.path().display().to_string(),
                "--logfile".into(),
                log.display().to_string(),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            let child = Command::new(&bin)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start server");
            let mut s = Server {
                child,
                port,
                dir,
                log,
            };
            // The port was free a moment ago; another process (or a client connection's local
            // port) may have taken it since, and then this server exits: only a server that
            // reports our child's pid counts.
            let pid = s.child.id().to_string();
            // (With requirepass, INFO needs AUTH: then the child being alive has to do.)
            let ours = |s: &mut Server| {
                s.child.try_wait().ok().flatten().is_none()
                    && Client::try_connect(port)
                        .and_then(|mut c| c.try_cmd_str(&["INFO", "server"]))
                        .is_some_and(|i| {
                            i.starts_with("-NOAUTH")
                                || info_field(&i, "process_id").is_some_and(|p| p == pid)
                        })
            };
            if wait_until(Duration::from_secs(10), || {
                TcpStream::connect(("127.0.0.1", port)).is_ok()
            }) && ours(&mut s)
            {
                // Listening is not ready: a server loading its data answers -LOADING.
                let loaded = wait_until(Duration::from_secs(60), || {
                    Client::try_connect(port)
                        .and_then(|mut c| c.try_cmd_str(&["PING"]))
                        .map(|r| !r.starts_with("-LOADING"))
                        .unwrap_or(false)
                });
                assert!(loaded, "server {} stayed in LOADING", bin.display());
                return s;
            }
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
        panic!("server {} did not start", bin.display());
    }

    pub fn picket(extra: &[&str]) -> Server {
        Server::start(binary("picket-node"), extra)
    }

    pub fn redis(extra: &[&str]) -> Server {
        Server::start(redis_server(), extra)
    }

    pub fn client(&self) -> Client {
        Client::connect(self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident memory of the process in bytes.
    pub fn rss(&self) -> u64 {
        let s =
            std::fs::read_to_string(format!("/proc/{}/statm", self.child.id())).unwrap_or_default();
        s.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 4096
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // `PICKET_KEEP_LOGS=<dir>` keeps every server's log, named by test, port and pid.
        if let Ok(keep) = std::env::var("PICKET_KEEP_LOGS") {
            let test = std::thread::current()
                .name()
                .unwrap_or("main")
                .replace("::", "-");
            let name = format!("{test}-{}-{}.log", self.port, self.child.id());
            let _ = std::fs::create_dir_all(&keep);
            let _ = std::fs::copy(&self.log, std::path::Path::new(&keep).join(name));
        }
    }
}

/// A raw RESP client: sends commands, returns whole replies as raw bytes.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// Encodes a command as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Length of the first complete RESP2/RESP3 frame in `buf`, if complete.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&buf[1..line_end]).unwrap_or("");
    let after = line_end + 2;
    let count = || {
        head.parse::<i64>().unwrap_or_else(|_| {
            panic!(
                "bad RESP header {:?}",
                String::from_utf8_lossy(&buf[..line_end])
            )
        })
    };
    match buf[0] {
        b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n = count();
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = count();
            let items = if buf[0] == b'%' || buf[0] == b'|' {
                n * 2
            } else {
                n.max(0)
            };
            let mut pos = after;
            for _ in 0..items {
                pos += frame_len(&buf[pos..])?;
            }
            if buf[0] == b'|' {
                pos += frame_len(&buf[pos..])?;
            }
            Some(pos)
        }
        other => panic!(
            "unexpected reply type byte {:?} in {:?}",
            other as char,
            String::from_utf8_lossy(&buf[..buf.len().min(200)])
        ),
    }
}

impl Client {
    pub fn try_connect(port: u16) -> Option<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream.set_nodelay(true).ok()?;
        Some(Client {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send_raw(&mut self, b: &[u8]) {
        self.stream.write_all(b).expect("write");
    }

    pub fn send(&mut self, args: &[&[u8]]) {
        self.send_raw(&encode(args));
    }

    /// Reads one complete reply, or None on EOF/timeout.
    pub fn read_reply(&mut self) -> Option<Vec<u8>> {
        loop {
            if !self.buf.is_empty() {
                if let Some(n) = frame_len(&self.buf) {
                    return Some(self.buf.drain(..n).collect());
                }
            }
            let mut tmp = [0u8; 65536];
            match self.stream.read(&mut tmp) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }

    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&a);
        self.read_reply()
            .unwrap_or_else(|| panic!("no reply to {args:?}"))
    }

    /// Like [`cmd_str`](Self::cmd_str), but None when the connection drops (a sentinel's
    /// CLIENT KILL during reconfiguration, a node restarting).
    pub fn try_cmd_str(&mut self, args: &[&str]) -> Option<String> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.stream.write_all(&encode(&a)).ok()?;
        self.read_reply()
            .map(|r| String::from_utf8_lossy(&r).into_owned())
    }

    pub fn cmd_str(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    /// True when the server closed the connection (EOF) within the timeout.
    pub fn is_closed(&mut self) -> bool {
        let mut tmp = [0u8; 1024];
        loop {
            match self.stream.read(&mut tmp) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => {
                    return e.kind() != std::io::ErrorKind::WouldBlock
                        && e.kind() != std::io::ErrorKind::TimedOut
                }
            }
        }
    }
}

/// A value of INFO's `field:value` lines.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

/// Any child process, killed (SIGKILL) when dropped.
pub struct Proc {
    pub child: Child,
    pub port: u16,
}

impl Proc {
    /// Starts `bin args` and waits until `port` accepts connections.
    pub fn spawn(bin: &std::path::Path, args: &[String], port: u16) -> Proc {
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let p = Proc { child, port };
        assert!(
            wait_until(Duration::from_secs(15), || TcpStream::connect((
                "127.0.0.1",
                port
            ))
            .is_ok()),
            "{} did not listen on {}",
            bin.display(),
            port
        );
        p
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The data-node binary of the sentinel and client suites: redis-server, or picket-node when
/// `PICKET_NODES=1` (`.ci/run` runs the sentinel suite both ways).
pub fn data_node_server() -> PathBuf {
    if std::env::var("PICKET_NODES").is_ok_and(|v| v == "1") {
        binary("picket-node")
    } else {
        redis_server()
    }
}

/// A data node (redis-server, or picket-node with `PICKET_NODES=1`) on `port` in `dir`,
/// optionally a replica of `master`.
pub fn redis_node(dir: &std::path::Path, port: u16, master: Option<u16>) -> Proc {
    redis_node_with(dir, port, master, &[])
}

/// A picket-node data node on `port` in `dir`, optionally a replica of `master`.
pub fn picket_node(dir: &std::path::Path, port: u16, master: Option<u16>) -> Proc {
    let args = node_args(dir, port, master, "picket", &[]);
    Proc::spawn(&binary("picket-node"), &args, port)
}

/// Like [`redis_node`], with extra arguments (`--replica-priority 0`, `--requirepass x`).
pub fn redis_node_with(
    dir: &std::path::Path,
    port: u16,
    master: Option<u16>,
    extra: &[&str],
) -> Proc {
    let args = node_args(dir, port, master, "redis", extra);
    Proc::spawn(&data_node_server(), &args, port)
}

/// The arguments of a data node: loopback, no snapshots, `<name>-<port>.log` and
/// `<name>-<port>.rdb` in `dir`, optionally a replica of `master`, then `extra`.
fn node_args(
    dir: &std::path::Path,
    port: u16,
    master: Option<u16>,
    name: &str,
    extra: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--appendonly".into(),
        "no".into(),
        "--dir".into(),
        dir.display().to_string(),
        "--dbfilename".into(),
        format!("{name}-{port}.rdb"),
        "--logfile".into(),
        dir.join(format!("{name}-{port}.log")).display().to_string(),
    ];
    if let Some(m) = master {
        args.extend(["--replicaof".into(), "127.0.0.1".into(), m.to_string()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// A sentinel (picket or real) monitoring `mymaster` at `master_port`, with 1 s down-after.
pub fn sentinel(
    real: bool,
    dir: &std::path::Path,
    port: u16,
    master_port: u16,
    quorum: u32,
) -> Proc {
    let conf = dir.join(format!("sentinel-{port}.conf"));
    std::fs::write(
        &conf,
        format!("port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {master_port} {quorum}\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n", dir.display()),
    )
    .unwrap();
    let log = dir
        .join(format!("sentinel-{port}.log"))
        .display()
        .to_string();
    let bin = if real {
        tool("redis-sentinel")
    } else {
        binary("picket-sentinel")
    };
    Proc::spawn(
        &bin,
        &[conf.display().to_string(), "--logfile".into(), log],
        port,
    )
}

/// SENTINEL GET-MASTER-ADDR-BY-NAME mymaster, as "ip:port".
pub fn master_addr(sentinel_port: u16) -> Option<String> {
    let mut c = Client::connect(sentinel_port);
    let r = c.try_cmd_str(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])?;
    let parts: Vec<&str> = r.split("\r\n").collect();
    if parts.len() >= 5 && parts[0] == "*2" {
        Some(format!("{}:{}", parts[2], parts[4]))
    } else {
        None
    }
}

/// ROLE's first element.
pub fn role(port: u16) -> Option<String> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok().map(|s| {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Client {
            stream: s,
            buf: Vec::new(),
        }
    })?;
    let r = c.try_cmd_str(&["ROLE"])?;
    r.split("\r\n").nth(2).map(String::from)
}
