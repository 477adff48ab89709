//! The processes `picket up` starts: spawning them (each in its own process group, so Ctrl-C
//! reaches only `picket`, and with a parent-death signal, so none outlives it), pid files,
//! noticing exits, and stopping them all in order (sentinels first, so no failover starts
//! while the nodes go down).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::group::{Binaries, Group, Role};
use crate::Failure;

/// One process of the group.
pub struct Member {
    pub role: Role,
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Member {
    pub fn name(&self) -> String {
        match self.role {
            Role::Node => format!("node {}", self.port),
            Role::Sentinel => format!("sentinel {}", self.port),
        }
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("picket-up.pid")
    }

    pub fn log_file(&self) -> PathBuf {
        match self.role {
            Role::Node => self.dir.join("node.log"),
            Role::Sentinel => self.dir.join("sentinel.log"),
        }
    }

    /// The last `n` lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Every process of a group.
pub struct Supervisor {
    pub members: Vec<Member>,
    bins: Binaries,
}

impl Supervisor {
    pub fn new(group: &Group, dir: &Path, bins: Binaries) -> Supervisor {
        let members = group
            .members()
            .into_iter()
            .map(|(role, port)| Member {
                role,
                port,
                dir: Group::member_dir(dir, role, port),
                child: None,
            })
            .collect();
        Supervisor { members, bins }
    }

    /// Refuses to start over a copy of the group that is still running, or on a port that
    /// another program holds.
    pub fn check_free(&self) -> Result<(), Failure> {
        for m in &self.members {
            if let Some(pid) = live_pid(&m.pid_file()) {
                return Err(Failure::env(format!(
                    "this group is already running ({} has pid {pid}); look at it with `picket status`, or stop that `picket up` first",
                    m.name()
                )));
            }
            if std::net::TcpListener::bind(("127.0.0.1", m.port)).is_err() {
                return Err(Failure::env(format!(
                    "port {} ({}) is in use by another program; stop it, or start a new group elsewhere with --dir D --base-port P",
                    m.port,
                    m.name()
                )));
            }
        }
        Ok(())
    }

    /// Starts the member at `index`.
    pub fn start(&mut self, index: usize) -> Result<(), Failure> {
        let m = &mut self.members[index];
        let bin = match m.role {
            Role::Node => &self.bins.node,
            Role::Sentinel => &self.bins.sentinel,
        };
        let log = File::options()
            .create(true)
            .append(true)
            .open(m.log_file())
            .map_err(|e| Failure::env(format!("{}: {e}", m.log_file().display())))?;
        let err = log
            .try_clone()
            .map_err(|e| Failure::env(format!("{}: {e}", m.log_file().display())))?;
        let mut cmd = Command::new(bin);
        cmd.arg(Group::config_name(m.role))
            .current_dir(&m.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; the closure touches nothing else.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| Failure::env(format!("starting {}: {e}", bin.display())))?;
        let _ = std::fs::write(m.pid_file(), format!("{}\n", child.id()));
        m.child = Some(child);
        Ok(())
    }

    /// Members that exited since the last call, with how they ended.
    pub fn reap(&mut self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            let Some(c) = m.child.as_mut() else { continue };
            if let Ok(Some(status)) = c.try_wait() {
                m.child = None;
                let _ = std::fs::remove_file(m.pid_file());
                out.push((i, describe_exit(status)));
            }
        }
        out
    }

    /// Stops everything: SIGTERM to the sentinels, then to the nodes (each given `grace` to
    /// save and exit), SIGKILL to whatever is left.
    pub fn stop_all(&mut self, grace: Duration) {
        for role in [Role::Sentinel, Role::Node] {
            for m in self.members.iter().filter(|m| m.role == role) {
                if let Some(pid) = m.pid() {
                    // SAFETY: a plain kill(2) on a child we started.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                }
            }
            let deadline = Instant::now() + grace;
            for m in self.members.iter_mut().filter(|m| m.role == role) {
                let Some(c) = m.child.as_mut() else { continue };
                while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if matches!(c.try_wait(), Ok(None)) {
                    let _ = c.kill();
                }
                let _ = c.wait();
                m.child = None;
                let _ = std::fs::remove_file(m.pid_file());
            }
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if self.members.iter().any(|m| m.running()) {
            self.stop_all(Duration::from_secs(10));
        }
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(9)) => "was killed (SIGKILL)".into(),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => "exited".into(),
    }
}

/// The pid in `file` if that process still runs.
fn live_pid(file: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    // A pid reused by an unrelated program does not count.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let ours = String::from_utf8_lossy(&cmdline).contains("picket")
        || String::from_utf8_lossy(&cmdline).contains("redis");
    (alive && ours).then_some(pid)
}
