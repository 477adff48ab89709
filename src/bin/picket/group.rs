//! A local group's layout: which ports, which programs, where its files live. `picket up`
//! writes it to `DIR/group.toml` with one directory per process (`node-PORT/`,
//! `sentinel-PORT/`, each holding its config file in redis.conf syntax, its log, its data and
//! its pid file), and reads it back to resume the group.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::resp::Addr;
use crate::Failure;

/// A Picket process's HTTP port (metrics; the sentinels' status page) is this far above its
/// own port.
pub const METRICS_OFFSET: u16 = 200;

/// The name the sentinels monitor the group's master by.
pub const MASTER_NAME: &str = "mymaster";

/// Which programs run the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Picket,
    Redis,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Picket => "picket-node / picket-sentinel",
            Kind::Redis => "redis-server / redis-sentinel",
        }
    }
}

/// The contents of `group.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub kind: Kind,
    pub master_name: String,
    pub down_after_ms: u64,
    pub nodes: Vec<u16>,
    pub sentinels: Vec<u16>,
    /// Fencing mode's acknowledgements per write (docs/fencing.md); 0: off.
    #[serde(default)]
    pub fencing: u32,
}

/// A process of the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Node,
    Sentinel,
}

impl Group {
    /// A new layout: nodes on `base..`, sentinels on `base + 100..`.
    pub fn plan(
        kind: Kind,
        nodes: u16,
        sentinels: u16,
        base: u16,
        down_after_ms: u64,
    ) -> Result<Group, Failure> {
        if nodes == 0 || sentinels == 0 || nodes > 100 || sentinels > 100 {
            return Err(Failure::usage(
                "--nodes and --sentinels take 1 to 100 (3 and 3 make a group that survives losing one of each)",
            ));
        }
        if u32::from(base) + METRICS_OFFSET as u32 + 100 + u32::from(sentinels) > 65535
            || base < 1024
        {
            return Err(Failure::usage(format!(
                "--base-port {base} leaves no room: nodes use base.., sentinels base+100.., their HTTP ports 200 above; pick 1024 to {}",
                65535 - 300 - u32::from(sentinels)
            )));
        }
        if down_after_ms < 100 {
            return Err(Failure::usage(
                "--down-after is in milliseconds, at least 100",
            ));
        }
        Ok(Group {
            kind,
            master_name: MASTER_NAME.into(),
            down_after_ms,
            nodes: (0..nodes).map(|i| base + i).collect(),
            sentinels: (0..sentinels).map(|i| base + 100 + i).collect(),
            fencing: 0,
        })
    }

    pub fn manifest(dir: &Path) -> PathBuf {
        dir.join("group.toml")
    }

    /// The group stored in `dir`, if there is one.
    pub fn load(dir: &Path) -> Result<Option<Group>, Failure> {
        let path = Group::manifest(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Failure::env(format!("{}: {e}", path.display()))),
        };
        toml::from_str(&text).map(Some).map_err(|e| {
            Failure::env(format!(
                "{} is not a group file picket can read ({e}); move DIR aside to start a new group",
                path.display()
            ))
        })
    }

    pub fn quorum(&self) -> usize {
        self.sentinels.len() / 2 + 1
    }

    pub fn sentinel_addrs(&self) -> Vec<Addr> {
        self.sentinels.iter().map(|p| Addr::local(*p)).collect()
    }

    pub fn members(&self) -> Vec<(Role, u16)> {
        let nodes = self.nodes.iter().map(|p| (Role::Node, *p));
        nodes
            .chain(self.sentinels.iter().map(|p| (Role::Sentinel, *p)))
            .collect()
    }

    pub fn member_dir(dir: &Path, role: Role, port: u16) -> PathBuf {
        match role {
            Role::Node => dir.join(format!("node-{port}")),
            Role::Sentinel => dir.join(format!("sentinel-{port}")),
        }
    }

    pub fn config_name(role: Role) -> &'static str {
        match role {
            Role::Node => "node.conf",
            Role::Sentinel => "sentinel.conf",
        }
    }

    /// Creates `dir` with every process's directory and config file, then `group.toml` last
    /// (so a half-written group is never taken for one to resume).
    pub fn create(&self, dir: &Path) -> Result<(), Failure> {
        let io = |e: std::io::Error, p: &Path| Failure::env(format!("{}: {e}", p.display()));
        for (role, port) in self.members() {
            let d = Group::member_dir(dir, role, port);
            std::fs::create_dir_all(&d).map_err(|e| io(e, &d))?;
            let d = d.canonicalize().map_err(|e| io(e, &d))?;
            let text = match role {
                Role::Node => self.node_config(&d, port),
                Role::Sentinel => self.sentinel_config(&d, port),
            };
            let file = d.join(Group::config_name(role));
            std::fs::write(&file, text).map_err(|e| io(e, &file))?;
        }
        let toml = toml::to_string(self).map_err(|e| Failure::env(e.to_string()))?;
        let path = Group::manifest(dir);
        picket::fsutil::atomic_write(&path, toml.as_bytes()).map_err(|e| io(e, &path))
    }

    fn node_config(&self, dir: &Path, port: u16) -> String {
        let mut s = format!(
            "# Written by `picket up`. The sentinels rewrite it when they reconfigure this node.\n\
             port {port}\nbind 127.0.0.1\ndir {}\nappendonly yes\nappendfsync everysec\n",
            picket::config::file_repr(&dir.display().to_string())
        );
        if port != self.nodes[0] {
            s.push_str(&format!("replicaof 127.0.0.1 {}\n", self.nodes[0]));
        }
        if self.kind == Kind::Picket {
            s.push_str(&format!("metrics-port {}\n", port + METRICS_OFFSET));
        }
        if self.fencing > 0 {
            s.push_str("fencing yes\n");
        }
        s
    }

    fn sentinel_config(&self, dir: &Path, port: u16) -> String {
        let name = &self.master_name;
        format!(
            "# Written by `picket up`. The sentinel keeps its state here.\n\
             port {port}\nbind 127.0.0.1\ndir {}\n\
             sentinel monitor {name} 127.0.0.1 {} {}\n\
             sentinel down-after-milliseconds {name} {}\n\
             sentinel failover-timeout {name} {}\n\
             sentinel parallel-syncs {name} 1\n{}",
            picket::config::file_repr(&dir.display().to_string()),
            self.nodes[0],
            self.quorum(),
            self.down_after_ms,
            (self.down_after_ms * 6).max(10_000),
            match self.kind {
                Kind::Picket => format!("metrics-port {}\n", port + METRICS_OFFSET),
                Kind::Redis => String::new(),
            }
        ) + &if self.fencing > 0 {
            format!("sentinel fencing {name} {}\n", self.fencing)
        } else {
            String::new()
        }
    }

    /// The status page of the first sentinel (Picket groups only).
    pub fn status_page(&self) -> Option<String> {
        (self.kind == Kind::Picket)
            .then(|| format!("http://127.0.0.1:{}/", self.sentinels[0] + METRICS_OFFSET))
    }
}

/// The programs a group runs, found once.
pub struct Binaries {
    pub node: PathBuf,
    pub sentinel: PathBuf,
}

impl Binaries {
    /// picket-node and picket-sentinel beside this executable (built first when `picket` runs
    /// under `cargo run`); redis-server and redis-sentinel from `PATH`.
    pub fn find(kind: Kind) -> Result<Binaries, Failure> {
        match kind {
            Kind::Picket => picket_binaries(),
            Kind::Redis => {
                let find = |name: &str| {
                    which(name).ok_or_else(|| {
                        Failure::env(format!(
                            "{name} is not installed; install it with: apt-get install -y redis-server redis-sentinel"
                        ))
                    })
                };
                Ok(Binaries {
                    node: find("redis-server")?,
                    sentinel: find("redis-sentinel")?,
                })
            }
        }
    }
}

fn picket_binaries() -> Result<Binaries, Failure> {
    let exe = std::env::current_exe().map_err(|e| Failure::env(e.to_string()))?;
    let dir = exe.parent().unwrap_or(Path::new(".")).to_path_buf();
    let b = Binaries {
        node: dir.join("picket-node"),
        sentinel: dir.join("picket-sentinel"),
    };
    // Under `cargo run` the two servers are not built with `picket`: build them now (a no-op
    // when they are up to date), so `cargo run --release --bin picket -- up` is the one command.
    if let Some(cargo) = std::env::var_os("CARGO") {
        let release = dir.file_name().is_some_and(|n| n == "release");
        let bar = crate::term::spinner("building picket-node and picket-sentinel");
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "picket-node",
            "-p",
            "picket-sentinel",
        ]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status();
        bar.finish_and_clear();
        if !status.is_ok_and(|s| s.success()) {
            return Err(Failure::env(
                "building picket-node and picket-sentinel failed (the compiler's messages are above)",
            ));
        }
    }
    for p in [&b.node, &b.sentinel] {
        if !p.is_file() {
            return Err(Failure::env(format!(
                "{} is missing; build it with: cargo build --release (then run target/release/picket again)",
                p.display()
            )));
        }
    }
    Ok(b)
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_puts_sentinels_a_hundred_ports_above_the_nodes() {
        let g = Group::plan(Kind::Picket, 3, 3, 7000, 5000).unwrap();
        assert_eq!(g.nodes, [7000, 7001, 7002]);
        assert_eq!(g.sentinels, [7100, 7101, 7102]);
        assert_eq!(g.quorum(), 2);
        assert!(Group::plan(Kind::Picket, 0, 3, 7000, 5000).is_err());
        assert!(Group::plan(Kind::Picket, 3, 3, 65300, 5000).is_err());
        assert!(Group::plan(Kind::Picket, 3, 3, 65200, 5000).is_ok());
        assert!(Group::plan(Kind::Picket, 3, 3, 7000, 10).is_err());
    }

    #[test]
    fn a_created_group_is_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let g = Group::plan(Kind::Redis, 2, 3, 9000, 1500).unwrap();
        g.create(dir.path()).unwrap();
        assert_eq!(Group::load(dir.path()).unwrap(), Some(g));
        let replica = std::fs::read_to_string(dir.path().join("node-9001/node.conf")).unwrap();
        assert!(replica.contains("replicaof 127.0.0.1 9000"), "{replica}");
        let s = std::fs::read_to_string(dir.path().join("sentinel-9100/sentinel.conf")).unwrap();
        assert!(
            s.contains("sentinel monitor mymaster 127.0.0.1 9000 2"),
            "{s}"
        );
        assert!(s.contains("down-after-milliseconds mymaster 1500"), "{s}");
        assert_eq!(Group::load(&dir.path().join("none")).unwrap(), None);
    }
}
