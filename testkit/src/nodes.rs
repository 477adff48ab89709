//! Data nodes and sentinels as the sentinel and client suites start them: redis-server or
//! picket-node (`PICKET_NODES=1`), redis-sentinel or picket-sentinel, in a test directory.

use crate::{binary, redis_server, tool, Client, Proc};
use std::path::PathBuf;

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
    picket_node_with(dir, port, master, &[])
}

/// Like [`picket_node`], with extra arguments (`--metrics-port 7200`).
pub fn picket_node_with(
    dir: &std::path::Path,
    port: u16,
    master: Option<u16>,
    extra: &[&str],
) -> Proc {
    let args = node_args(dir, port, master, "picket", extra);
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
    let log = dir.join(format!("{name}-{port}.log"));
    let mut args = crate::process::base_args(port, dir, &log);
    args.extend(
        [
            "--appendonly",
            "no",
            "--dbfilename",
            &format!("{name}-{port}.rdb"),
        ]
        .map(String::from),
    );
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
    sentinel_with(real, dir, port, master_port, quorum, "")
}

/// Like [`sentinel`], with extra config lines (`metrics-port 7300\n`).
pub fn sentinel_with(
    real: bool,
    dir: &std::path::Path,
    port: u16,
    master_port: u16,
    quorum: u32,
    extra: &str,
) -> Proc {
    let conf = dir.join(format!("sentinel-{port}.conf"));
    std::fs::write(
        &conf,
        format!("port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {master_port} {quorum}\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n{extra}", dir.display()),
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
    let mut c = Client::try_connect(port)?;
    let r = c.try_cmd_str(&["ROLE"])?;
    r.split("\r\n").nth(2).map(String::from)
}
