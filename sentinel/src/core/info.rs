//! Parsing the INFO reply of a master or replica: only the fields Sentinel reads, with Redis's
//! exact prefixes. `role:` sets the role for the lines that follow it.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaLine {
    pub ip: String,
    pub port: u16,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoReport {
    pub run_id: Option<String>,
    /// `Some(true)` for role:master, `Some(false)` for role:slave.
    pub role_master: Option<bool>,
    pub replicas: Vec<ReplicaLine>,
    pub master_link_down_since_ms: u64,
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    pub master_link_up: bool,
    pub slave_priority: Option<u64>,
    pub slave_repl_offset: Option<u64>,
    pub replica_announced: Option<bool>,
    pub connected_slaves: Option<u64>,
}

/// Parses `slaveN:ip=..,port=..,...` (new form) or `slaveN:ip,port,state` (old form).
fn parse_slave_line(l: &str) -> Option<ReplicaLine> {
    let (_, rest) = l.split_once(':')?;
    if rest.contains("ip=") {
        let mut ip = None;
        let mut port = None;
        for kv in rest.split(',') {
            if let Some(v) = kv.strip_prefix("ip=") {
                ip = Some(v.to_string());
            } else if let Some(v) = kv.strip_prefix("port=") {
                port = v.parse().ok();
            }
        }
        Some(ReplicaLine {
            ip: ip?,
            port: port?,
        })
    } else {
        let mut it = rest.split(',');
        let ip = it.next()?.to_string();
        let port = it.next()?.parse().ok()?;
        Some(ReplicaLine { ip, port })
    }
}

pub fn parse_info(text: &str, configured_master: bool) -> InfoReport {
    let mut r = InfoReport::default();
    let mut role_slave = false;
    for line in text.split("\r\n").flat_map(|l| l.split('\n')) {
        if let Some(id) = line.strip_prefix("run_id:") {
            if id.len() == 40 {
                r.run_id = Some(id.to_string());
            }
        } else if configured_master
            && line.starts_with("slave")
            && line
                .as_bytes()
                .get(5)
                .map(|c| c.is_ascii_digit())
                .unwrap_or(false)
        {
            if let Some(s) = parse_slave_line(line) {
                r.replicas.push(s);
            }
        } else if let Some(v) = line.strip_prefix("master_link_down_since_seconds:") {
            r.master_link_down_since_ms = v
                .trim()
                .parse::<i64>()
                .map(|s| s.max(0) as u64 * 1000)
                .unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("connected_slaves:") {
            r.connected_slaves = v.trim().parse().ok();
        } else if line == "role:master" {
            r.role_master = Some(true);
            role_slave = false;
        } else if line == "role:slave" {
            r.role_master = Some(false);
            role_slave = true;
        } else if role_slave {
            if let Some(v) = line.strip_prefix("master_host:") {
                r.master_host = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("master_port:") {
                r.master_port = v.parse().ok();
            } else if let Some(v) = line.strip_prefix("master_link_status:") {
                r.master_link_up = v == "up";
            } else if let Some(v) = line.strip_prefix("slave_priority:") {
                r.slave_priority = v.parse().ok();
            } else if let Some(v) = line.strip_prefix("slave_repl_offset:") {
                r.slave_repl_offset = v.parse().ok();
            } else if let Some(v) = line.strip_prefix("replica_announced:") {
                r.replica_announced = Some(v != "0");
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_info() {
        let t = "# Server\r\nrun_id:e00f14cac29d8e3fb0c6796bc5a0b77d1f82c4d9\r\n# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=127.0.0.1,port=16401,state=online,offset=0,lag=1\r\nslave1:127.0.0.2,16402,online\r\n";
        let r = parse_info(t, true);
        assert_eq!(
            r.run_id.as_deref(),
            Some("e00f14cac29d8e3fb0c6796bc5a0b77d1f82c4d9")
        );
        assert_eq!(r.role_master, Some(true));
        assert_eq!(
            r.replicas,
            vec![
                ReplicaLine {
                    ip: "127.0.0.1".into(),
                    port: 16401
                },
                ReplicaLine {
                    ip: "127.0.0.2".into(),
                    port: 16402
                }
            ]
        );
    }

    #[test]
    fn replica_info() {
        let t = "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:16400\r\nmaster_link_status:up\r\nslave_repl_offset:123\r\nslave_priority:0\r\nreplica_announced:0\r\nmaster_link_down_since_seconds:3\r\n";
        let r = parse_info(t, false);
        assert_eq!(r.role_master, Some(false));
        assert_eq!(r.master_host.as_deref(), Some("127.0.0.1"));
        assert_eq!(r.master_port, Some(16400));
        assert!(r.master_link_up);
        assert_eq!(r.slave_priority, Some(0));
        assert_eq!(r.slave_repl_offset, Some(123));
        assert_eq!(r.replica_announced, Some(false));
        assert_eq!(r.master_link_down_since_ms, 3000);
    }
}
