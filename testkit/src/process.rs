//! [`Proc`]: every binary a test starts (picket-node, picket-sentinel, redis-server,
//! redis-sentinel), checked to be the process answering on its port, killed when dropped;
//! [`Server`]: a node in its own temporary directory on a fresh port.

use crate::{binary, free_port, info_field, redis_server, wait_until, Client};
use std::net::TcpStream;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A spawned binary listening on `port`, killed (SIGKILL) when dropped.
pub struct Proc {
    pub child: Child,
    pub port: u16,
}

impl Proc {
    /// Starts `bin args` and waits until the process answers on `port` as itself: its INFO
    /// reports the child's pid (or `-NOAUTH`, with `requirepass`, while the child lives). The
    /// port was free a moment ago; another process may have taken it since, and then this one
    /// exits while the other answers: that is an `Err`, as is a process that never listens.
    /// Then it waits until the process is done loading its data.
    pub fn try_start(bin: &Path, args: &[String], port: u16) -> Result<Proc, String> {
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
        let mut p = Proc { child, port };
        let listening = wait_until(Duration::from_secs(15), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if !listening || !p.answers_as_itself() {
            return Err(format!("{} did not answer on {port}", bin.display()));
        }
        // Listening is not ready: a server loading its data answers -LOADING.
        let loaded = wait_until(Duration::from_secs(60), || {
            Client::try_connect(port)
                .and_then(|mut c| c.try_cmd_str(&["PING"]))
                .is_some_and(|r| !r.starts_with("-LOADING"))
        });
        if !loaded {
            return Err(format!("{} stayed in LOADING", bin.display()));
        }
        Ok(p)
    }

    /// [`Proc::try_start`] on a port the caller chose; a failure fails the test.
    pub fn spawn(bin: &Path, args: &[String], port: u16) -> Proc {
        Proc::try_start(bin, args, port).unwrap_or_else(|e| panic!("{e}"))
    }

    fn answers_as_itself(&mut self) -> bool {
        let pid = self.child.id().to_string();
        self.alive()
            && Client::try_connect(self.port)
                .and_then(|mut c| c.try_cmd_str(&["INFO", "server"]))
                .is_some_and(|i| {
                    i.starts_with("-NOAUTH")
                        || info_field(&i, "process_id").is_some_and(|p| p == pid)
                })
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A node's first arguments: loopback on `port`, no save points, `dir`, `log`.
pub fn base_args(port: u16, dir: &Path, log: &Path) -> Vec<String> {
    [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        &dir.display().to_string(),
        "--logfile",
        &log.display().to_string(),
    ]
    .map(String::from)
    .to_vec()
}

/// A node (picket-node or redis-server) in its own temporary directory: loopback, no save
/// points, `server.log`, on a fresh port unless `--port N` is given.
pub struct Server {
    proc: Proc,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
}

impl Deref for Server {
    type Target = Proc;
    fn deref(&self) -> &Proc {
        &self.proc
    }
}

impl DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Proc {
        &mut self.proc
    }
}

impl Server {
    fn start(bin: PathBuf, extra: &[&str]) -> Server {
        let mut last = String::new();
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
            let mut args = base_args(port, dir.path(), &log);
            args.extend(extra.iter().map(|s| s.to_string()));
            match Proc::try_start(&bin, &args, port) {
                Ok(proc) => return Server { proc, dir, log },
                Err(e) => last = e,
            }
        }
        panic!("server {} did not start: {last}", bin.display());
    }

    pub fn picket(extra: &[&str]) -> Server {
        Server::start(binary("picket-node"), extra)
    }

    pub fn redis(extra: &[&str]) -> Server {
        Server::start(redis_server(), extra)
    }

    /// redis-server when `redis`, else picket-node: the two sides of a differential test.
    pub fn either(redis: bool, extra: &[&str]) -> Server {
        if redis {
            Server::redis(extra)
        } else {
            Server::picket(extra)
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.proc.kill();
        // `PICKET_KEEP_LOGS=<dir>` keeps every server's log, named by test, port and pid.
        if let Ok(keep) = std::env::var("PICKET_KEEP_LOGS") {
            let test = std::thread::current()
                .name()
                .unwrap_or("main")
                .replace("::", "-");
            let name = format!("{test}-{}-{}.log", self.port, self.proc.child.id());
            let _ = std::fs::create_dir_all(&keep);
            let _ = std::fs::copy(&self.log, Path::new(&keep).join(name));
        }
    }
}
