//! `picket status`: a group's topology read from its sentinels and nodes, as one table or as
//! JSON. Each master with its replicas (role, link, offset, lag in bytes and seconds), each
//! sentinel with its flags and its view of the master, CKQUORUM, the epochs, and the last
//! failover when the group's event log knows it.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::resp::{field, fields, info_field, items, text, Addr, Conn};
use crate::term::{human, Style};
use crate::Failure;

#[derive(Debug, Serialize)]
pub struct Topology {
    pub masters: Vec<MasterView>,
    pub sentinels: Vec<SentinelView>,
}

#[derive(Debug, Serialize)]
pub struct MasterView {
    pub name: String,
    pub addr: Addr,
    pub flags: String,
    pub quorum: u32,
    pub ckquorum: String,
    pub quorum_ok: bool,
    pub config_epoch: u64,
    /// The highest epoch any sentinel reported (config or vote).
    pub epoch: u64,
    pub nodes: Vec<NodeView>,
    pub last_failover: Option<LastFailover>,
}

#[derive(Debug, Serialize)]
pub struct NodeView {
    pub addr: Addr,
    /// What the node itself says (`master`, `slave`), or `unreachable`.
    pub role: String,
    /// The replication link as the replica sees it (`up`/`down`); `-` for the master.
    pub link: String,
    pub offset: Option<i64>,
    pub lag_bytes: Option<i64>,
    pub lag_seconds: Option<i64>,
    /// The sentinel's flags for it.
    pub flags: String,
}

#[derive(Debug, Serialize)]
pub struct SentinelView {
    pub addr: Addr,
    pub reachable: bool,
    /// Per master: (name, flags this sentinel gives it, the address it hands clients).
    pub views: Vec<(String, String, String)>,
}

#[derive(Debug, Serialize)]
pub struct LastFailover {
    pub started: String,
    pub ended: String,
    pub duration_ms: u64,
    pub to: String,
}

/// Reads the topology from the first reachable sentinel, then asks every sentinel it knows.
pub async fn collect(given: &[Addr]) -> Result<Topology, Failure> {
    let mut errors = Vec::new();
    let mut first = None;
    for a in given {
        match Conn::connect(a).await {
            Ok(c) => {
                first = Some(c);
                break;
            }
            Err(e) => errors.push(e),
        }
    }
    let Some(mut conn) = first else {
        return Err(Failure::down(format!(
            "no sentinel answers ({}); is the group running? (`picket up` starts one)",
            errors.join("; ")
        )));
    };
    let masters = conn
        .cmd(&["SENTINEL", "MASTERS"])
        .await
        .map_err(Failure::down)?;
    let mut all_sentinels: BTreeSet<Addr> = given.iter().cloned().collect();
    let mut views = Vec::new();
    for m in items(&masters) {
        let mf = fields(m);
        let name = field(&mf, "name").to_string();
        for s in items(
            &conn
                .cmd(&["SENTINEL", "SENTINELS", &name])
                .await
                .map_err(Failure::down)?,
        ) {
            let sf = fields(s);
            if let Ok(port) = field(&sf, "port").parse() {
                all_sentinels.insert(Addr {
                    host: field(&sf, "ip").to_string(),
                    port,
                });
            }
        }
        views.push(master_view(&mut conn, mf).await?);
    }
    let mut sentinels = Vec::new();
    for a in &all_sentinels {
        sentinels.push(sentinel_view(a, &views).await);
    }
    for v in &mut views {
        v.epoch = v.epoch.max(sentinel_epoch(&all_sentinels, &v.name).await);
    }
    Ok(Topology {
        masters: views,
        sentinels,
    })
}

async fn master_view(conn: &mut Conn, mf: Vec<(String, String)>) -> Result<MasterView, Failure> {
    let name = field(&mf, "name").to_string();
    let addr = Addr {
        host: field(&mf, "ip").to_string(),
        port: field(&mf, "port").parse().unwrap_or(0),
    };
    let ck = conn.cmd(&["SENTINEL", "CKQUORUM", &name]).await;
    let (ckquorum, quorum_ok) = match ck {
        Ok(f) => (text(&f), true),
        Err(e) => (e.rsplit(": ").next().unwrap_or(&e).to_string(), false),
    };
    let master_info = node_info(&addr).await;
    let master_offset = master_info
        .as_deref()
        .and_then(|i| info_field(i, "master_repl_offset"))
        .and_then(|v| v.parse::<i64>().ok());
    let mut nodes = vec![NodeView {
        addr: addr.clone(),
        role: role_of(master_info.as_deref()),
        link: "-".into(),
        offset: master_offset,
        lag_bytes: None,
        lag_seconds: None,
        flags: field(&mf, "flags").to_string(),
    }];
    let replicas = conn
        .cmd(&["SENTINEL", "REPLICAS", &name])
        .await
        .map_err(Failure::down)?;
    for r in items(&replicas) {
        let rf = fields(r);
        let raddr = Addr {
            host: field(&rf, "ip").to_string(),
            port: field(&rf, "port").parse().unwrap_or(0),
        };
        let info = node_info(&raddr).await;
        let offset = info
            .as_deref()
            .and_then(|i| info_field(i, "slave_repl_offset"))
            .and_then(|v| v.parse::<i64>().ok());
        nodes.push(NodeView {
            role: role_of(info.as_deref()),
            link: info
                .as_deref()
                .and_then(|i| info_field(i, "master_link_status"))
                .unwrap_or("-")
                .to_string(),
            lag_bytes: offset.zip(master_offset).map(|(o, m)| (m - o).max(0)),
            lag_seconds: master_info.as_deref().and_then(|i| replica_lag(i, &raddr)),
            offset,
            flags: field(&rf, "flags").to_string(),
            addr: raddr,
        });
    }
    Ok(MasterView {
        quorum: field(&mf, "quorum").parse().unwrap_or(0),
        config_epoch: field(&mf, "config-epoch").parse().unwrap_or(0),
        epoch: field(&mf, "config-epoch").parse().unwrap_or(0),
        flags: field(&mf, "flags").to_string(),
        name,
        addr,
        ckquorum,
        quorum_ok,
        nodes,
        last_failover: None,
    })
}

async fn node_info(addr: &Addr) -> Option<String> {
    let mut c = Conn::connect(addr).await.ok()?;
    c.text(&["INFO", "replication"]).await.ok()
}

fn role_of(info: Option<&str>) -> String {
    info.and_then(|i| info_field(i, "role"))
        .unwrap_or("unreachable")
        .to_string()
}

/// `lag=` of the master's `slaveN:` line for this replica.
fn replica_lag(master_info: &str, replica: &Addr) -> Option<i64> {
    let want_ip = format!("ip={},", replica.host);
    let want_port = format!("port={},", replica.port);
    master_info
        .lines()
        .filter(|l| l.starts_with("slave") && l.contains(&want_ip) && l.contains(&want_port))
        .find_map(|l| {
            l.split(',')
                .find_map(|kv| kv.strip_prefix("lag="))
                .and_then(|v| v.trim().parse().ok())
        })
}

async fn sentinel_view(addr: &Addr, masters: &[MasterView]) -> SentinelView {
    let mut view = SentinelView {
        addr: addr.clone(),
        reachable: false,
        views: Vec::new(),
    };
    let Ok(mut c) = Conn::connect(addr).await else {
        return view;
    };
    for m in masters {
        let Ok(f) = c.cmd(&["SENTINEL", "MASTER", &m.name]).await else {
            continue;
        };
        view.reachable = true;
        let mf = fields(&f);
        let at = c
            .cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &m.name])
            .await
            .map(|f| items(&f).iter().map(text).collect::<Vec<_>>().join(":"))
            .unwrap_or_default();
        view.views
            .push((m.name.clone(), field(&mf, "flags").to_string(), at));
    }
    view
}

/// The highest voted-leader epoch the sentinels report about each other.
async fn sentinel_epoch(sentinels: &BTreeSet<Addr>, name: &str) -> u64 {
    let mut best = 0;
    for a in sentinels {
        let Ok(mut c) = Conn::connect(a).await else {
            continue;
        };
        if let Ok(f) = c.cmd(&["SENTINEL", "SENTINELS", name]).await {
            for s in items(&f) {
                let e = field(&fields(s), "voted-leader-epoch").parse().unwrap_or(0);
                best = best.max(e);
            }
        }
    }
    best
}

/// The last completed failover of `name` in a group's event log: from the `+try-failover`
/// (or `+failover-state-*` of a forced one) that led to the last `+switch-master`.
pub fn last_failover(log: &std::path::Path, name: &str) -> Option<LastFailover> {
    let text = std::fs::read_to_string(log).ok()?;
    let mut start: Option<u64> = None;
    let mut last = None;
    let prefix = format!("master {name} ");
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (event, message) = (v["event"].as_str()?, v["message"].as_str()?);
        let t = v["time_ms"].as_u64()?;
        let about_it = message.starts_with(&prefix) || message.starts_with(&format!("{name} "));
        if !about_it {
            continue;
        }
        if event == "+try-failover" || (event == "+new-epoch" && start.is_none()) {
            start = start.or(Some(t));
        }
        if event == "+switch-master" {
            let begun = start.take().unwrap_or(t);
            let w: Vec<&str> = message.split(' ').collect();
            let at = |ms: u64| {
                crate::term::clock(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
            };
            last = Some(LastFailover {
                started: at(begun),
                ended: at(t),
                duration_ms: t - begun,
                to: w.get(3..5).map(|a| a.join(":")).unwrap_or_default(),
            });
        }
        if event.starts_with("-failover-abort") {
            start = None;
        }
    }
    last
}

/// The table.
pub fn render(t: &Topology, style: Style) -> String {
    let mut out = String::new();
    for m in &t.masters {
        let health = if m.quorum_ok {
            style.green(&m.ckquorum)
        } else {
            style.red(&m.ckquorum)
        };
        out.push_str(&format!(
            "{} {}  at {}  quorum {}  epoch {} (config epoch {})\n  {health}\n",
            style.bold("master"),
            style.bold(&m.name),
            style.cyan(&m.addr.to_string()),
            m.quorum,
            m.epoch,
            m.config_epoch
        ));
        out.push_str(&format!(
            "\n  {:<22} {:<12} {:<6} {:>12} {:>10} {:>7}  {}\n",
            "NODE", "ROLE", "LINK", "OFFSET", "LAG(B)", "LAG(S)", "SENTINEL FLAGS"
        ));
        for n in &m.nodes {
            let opt = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
            out.push_str(&format!(
                "  {:<22} {:<12} {:<6} {:>12} {:>10} {:>7}  {}\n",
                n.addr.to_string(),
                n.role,
                n.link,
                opt(n.offset),
                opt(n.lag_bytes),
                opt(n.lag_seconds),
                n.flags
            ));
        }
        if let Some(f) = &m.last_failover {
            out.push_str(&format!(
                "\n  last failover: {} -> {} ({}), new master {}\n",
                f.started,
                f.ended,
                human(std::time::Duration::from_millis(f.duration_ms)),
                f.to
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "  {:<22} {:<26} {}\n",
        "SENTINEL", "FLAGS", "MASTER IT GIVES CLIENTS"
    ));
    for s in &t.sentinels {
        if !s.reachable {
            out.push_str(&format!(
                "  {:<22} {}\n",
                s.addr.to_string(),
                style.red("unreachable")
            ));
        }
        for (name, flags, at) in &s.views {
            out.push_str(&format!(
                "  {:<22} {:<26} {name} {at}\n",
                s.addr.to_string(),
                flags
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_failover_is_timed_from_its_try_to_its_switch() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("events.log");
        let lines = [
            (1000, "+sdown", "master mymaster 127.0.0.1 7000"),
            (1200, "+try-failover", "master mymaster 127.0.0.1 7000"),
            (
                1300,
                "-failover-abort-not-elected",
                "master mymaster 127.0.0.1 7000",
            ),
            (5000, "+try-failover", "master mymaster 127.0.0.1 7000"),
            (
                5900,
                "+switch-master",
                "mymaster 127.0.0.1 7000 127.0.0.1 7002",
            ),
        ];
        let text: String = lines
            .iter()
            .map(|(t, e, m)| {
                format!(
                    "{}\n",
                    serde_json::json!({"time_ms": t, "event": e, "message": m, "sentinel": "x"})
                )
            })
            .collect();
        std::fs::write(&log, text).unwrap();
        let f = last_failover(&log, "mymaster").unwrap();
        assert_eq!((f.duration_ms, f.to.as_str()), (900, "127.0.0.1:7002"));
        assert!(last_failover(&log, "other").is_none());
    }

    #[test]
    fn a_replicas_lag_is_read_from_the_masters_line_for_it() {
        let info = "role:master\r\nslave0:ip=127.0.0.1,port=7001,state=online,offset=10,lag=0\r\n\
                    slave1:ip=127.0.0.1,port=7002,state=online,offset=9,lag=3\r\n";
        assert_eq!(replica_lag(info, &Addr::local(7002)), Some(3));
        assert_eq!(replica_lag(info, &Addr::local(7001)), Some(0));
        assert_eq!(replica_lag(info, &Addr::local(7003)), None);
    }
}
