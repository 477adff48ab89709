//! End-to-end tests of picket-sentinel with real redis-server nodes on loopback: automatic
//! failover after kill -9, the old master rejoining as a replica, manual failover, mixed groups
//! with real redis-sentinel, and the SENTINEL API compared with a real redis-sentinel.

use common::{
    free_port, master_addr, picket_node, redis_node, role, sentinel, wait_until, Client, Proc,
};
use picket_testkit as common;
use std::time::Duration;

struct Cluster {
    dir: common::TestDir,
    nodes: Vec<Proc>,
    node_ports: Vec<u16>,
    sentinels: Vec<Proc>,
    /// The data nodes are picket-node (else redis-server).
    picket_nodes: bool,
}

/// A data node of the kind the cluster uses.
fn data_node(dir: &std::path::Path, port: u16, master: Option<u16>, picket: bool) -> Proc {
    if picket {
        picket_node(dir, port, master)
    } else {
        redis_node(dir, port, master)
    }
}

/// 1 master + 2 replicas (redis-server), and one sentinel per entry of `real` (true =
/// redis-sentinel).
fn cluster(real: &[bool]) -> Cluster {
    cluster_of(real, false)
}

fn cluster_of(real: &[bool], picket_nodes: bool) -> Cluster {
    let dir = common::test_dir();
    let node_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes = vec![data_node(dir.path(), node_ports[0], None, picket_nodes)];
    for p in &node_ports[1..] {
        nodes.push(data_node(dir.path(), *p, Some(node_ports[0]), picket_nodes));
    }
    let sentinels: Vec<Proc> = real
        .iter()
        .map(|r| sentinel(*r, dir.path(), free_port(), node_ports[0], 2))
        .collect();
    let c = Cluster {
        dir,
        nodes,
        node_ports,
        sentinels,
        picket_nodes,
    };
    // Every sentinel knows both replicas and the other sentinels.
    for s in &c.sentinels {
        let ok = wait_until(Duration::from_secs(20), || {
            let mut cl = Client::connect(s.port);
            let m = cl.cmd_str(&["SENTINEL", "MASTER", "mymaster"]);
            let r = cl.cmd_str(&["SENTINEL", "REPLICAS", "mymaster"]);
            m.contains("num-slaves\r\n$1\r\n2")
                && m.contains(&format!("num-other-sentinels\r\n$1\r\n{}", real.len() - 1))
                && r.matches("master-link-status\r\n$2\r\nok").count() == 2
        });
        assert!(
            ok,
            "sentinel {} did not discover the group; logs in {}",
            s.port,
            c.dir.path().display()
        );
    }
    c
}

/// INFO replication of a node, or "" while it cannot answer (restarting, or its connection
/// was killed by a sentinel's CLIENT KILL).
fn info_replication(port: u16) -> String {
    Client::try_connect(port)
        .and_then(|mut c| c.try_cmd_str(&["INFO", "replication"]))
        .unwrap_or_default()
}

fn failover_and_rejoin(real: &[bool]) {
    failover_and_rejoin_of(real, false);
}

fn failover_and_rejoin_of(real: &[bool], picket_nodes: bool) {
    let mut c = cluster_of(real, picket_nodes);
    let old = format!("127.0.0.1:{}", c.node_ports[0]);
    c.nodes[0].kill();
    let ok = wait_until(Duration::from_secs(30), || {
        c.sentinels
            .iter()
            .all(|s| master_addr(s.port).map(|a| a != old).unwrap_or(false))
    });
    let addrs: Vec<_> = c.sentinels.iter().map(|s| master_addr(s.port)).collect();
    assert!(
        ok,
        "no agreed failover: {addrs:?}\n{}",
        c.sentinels
            .iter()
            .map(|s| c.dir.log(&format!("sentinel-{}", s.port)))
            .collect::<Vec<_>>()
            .join("\n----\n")
    );
    assert!(
        addrs.windows(2).all(|w| w[0] == w[1]),
        "sentinels disagree: {addrs:?}"
    );
    let new_port: u16 = addrs[0]
        .as_ref()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(role(new_port).as_deref(), Some("master"));
    let other = *c.node_ports[1..].iter().find(|p| **p != new_port).unwrap();
    assert!(wait_until(Duration::from_secs(20), || {
        info_replication(other).contains(&format!("master_port:{new_port}"))
    }));
    // The old master comes back and is turned into a replica of the new one.
    // Compared with the master the sentinels name at each poll: on a loaded machine a sentinel
    // in TILT (a 2 s stall) or a second failover may take longer or move the master again.
    c.nodes[0] = data_node(c.dir.path(), c.node_ports[0], None, c.picket_nodes);
    assert!(
        wait_until(Duration::from_secs(60), || {
            let Some(cur) = master_addr(c.sentinels[0].port) else {
                return false;
            };
            let cur_port = cur.rsplit(':').next().unwrap_or("");
            let info = info_replication(c.node_ports[0]);
            info.contains("role:slave") && info.contains(&format!("master_port:{cur_port}\r\n"))
        }),
        "old master not reconfigured: {}\n{}",
        info_replication(c.node_ports[0]),
        c.sentinels
            .iter()
            .map(|s| c.dir.log(&format!("sentinel-{}", s.port)))
            .collect::<Vec<_>>()
            .join("\n----\n")
    );
    // The leader logs +switch-master at failover end, after the replicas were reconfigured.
    for s in &c.sentinels {
        let ok = wait_until(Duration::from_secs(30), || {
            c.dir
                .log(&format!("sentinel-{}", s.port))
                .contains("+switch-master mymaster")
        });
        assert!(ok, "{}", c.dir.log(&format!("sentinel-{}", s.port)));
        if c.picket_nodes {
            let l = c.dir.log(&format!("sentinel-{}", s.port));
            assert!(!l.contains("-failover-abort"), "{l}");
        }
    }
    // The nodes applied everything the sentinels sent (a failed command would be logged).
    for p in c.node_ports.iter().filter(|_| c.picket_nodes) {
        let l = std::fs::read_to_string(c.dir.path().join(format!("picket-{p}.log")))
            .unwrap_or_default();
        assert!(!l.contains("CRITICAL"), "{l}");
    }
}

#[test]
fn picket_sentinels_fail_over_real_nodes() {
    failover_and_rejoin(&[false, false, false]);
}

/// Issue 5's interop test: real redis-sentinels manage picket-node data nodes.
#[test]
fn real_sentinels_fail_over_picket_nodes() {
    failover_and_rejoin_of(&[true, true, true], true);
}

#[test]
fn picket_sentinels_fail_over_picket_nodes() {
    failover_and_rejoin_of(&[false, false, false], true);
}

#[test]
fn mixed_group_two_picket_one_redis() {
    failover_and_rejoin(&[false, false, true]);
}

#[test]
fn mixed_group_one_picket_two_redis() {
    failover_and_rejoin(&[false, true, true]);
}

#[test]
fn manual_failover_and_events_on_pubsub() {
    let c = cluster(&[false]);
    let s = c.sentinels[0].port;
    let mut sub = Client::connect(s);
    sub.cmd(&["PSUBSCRIBE", "*"]);
    let mut cl = Client::connect(s);
    assert_eq!(cl.cmd(&["SENTINEL", "FAILOVER", "mymaster"]), b"+OK\r\n");
    assert_eq!(
        cl.cmd_str(&["SENTINEL", "FAILOVER", "mymaster"]),
        "-INPROG Failover already in progress\r\n"
    );
    let mut seen = Vec::new();
    let ok = wait_until(Duration::from_secs(30), || {
        if let Some(m) = sub.read_reply() {
            let t = String::from_utf8_lossy(&m).into_owned();
            let switched = t.contains("+switch-master");
            seen.push(t);
            switched
        } else {
            false
        }
    });
    assert!(ok, "no +switch-master: {seen:?}");
    let all = seen.join("");
    for ev in [
        "+new-epoch",
        "+try-failover",
        "+elected-leader",
        "+failover-state-select-slave",
        "+selected-slave",
        "+failover-state-send-slaveof-noone",
        "+failover-state-wait-promotion",
        "+promoted-slave",
        "+failover-state-reconf-slaves",
        "+slave-reconf-sent",
        "+failover-end",
    ] {
        assert!(all.contains(ev), "missing {ev} in {all}");
    }
}

/// Field names of a RESP2 flat map reply.
fn keys_of(reply: &str) -> Vec<String> {
    let lines: Vec<&str> = reply.split("\r\n").collect();
    let mut keys = Vec::new();
    let mut i = 1;
    let mut even = true;
    while i + 1 < lines.len() {
        if lines[i].starts_with('$') {
            if even {
                keys.push(lines[i + 1].to_string());
            }
            even = !even;
            i += 2;
        } else {
            i += 1;
        }
    }
    keys
}

#[test]
fn sentinel_api_matches_redis_sentinel() {
    let c = cluster(&[false, true]);
    let (p, r) = (c.sentinels[0].port, c.sentinels[1].port);
    let mut pc = Client::connect(p);
    let mut rc = Client::connect(r);
    // Same field names in the same order for masters, replicas and sentinels.
    for cmd in [
        &["SENTINEL", "MASTER", "mymaster"][..],
        &["SENTINEL", "SENTINELS", "mymaster"],
    ] {
        assert_eq!(
            keys_of(&pc.cmd_str(cmd)),
            keys_of(&rc.cmd_str(cmd)),
            "{cmd:?}"
        );
    }
    let pr = pc.cmd_str(&["SENTINEL", "REPLICAS", "mymaster"]);
    let rr = rc.cmd_str(&["SENTINEL", "REPLICAS", "mymaster"]);
    let first = |s: &str| {
        s.split("*")
            .nth(2)
            .map(|x| format!("*{x}"))
            .unwrap_or_default()
    };
    assert_eq!(keys_of(&first(&pr)), keys_of(&first(&rr)));
    // Exact replies where they do not depend on timing or ids.
    for cmd in [
        &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"][..],
        &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"],
        &["SENTINEL", "MASTER", "nosuch"],
        &["SENTINEL", "REPLICAS", "nosuch"],
        &["SENTINEL", "CKQUORUM", "mymaster"],
        &["SENTINEL", "CKQUORUM", "nosuch"],
        &["SENTINEL", "NOSUCH"],
        &["SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "0"],
        &["SENTINEL", "MONITOR", "x", "127.0.0.1", "abc", "1"],
        &["SENTINEL", "MONITOR", "mymaster", "127.0.0.1", "1", "1"],
        &["SENTINEL", "SET", "mymaster", "quorum", "0"],
        &["SENTINEL", "SET", "mymaster", "nosuch", "1"],
        &["SENTINEL", "SET", "nosuch", "quorum", "1"],
        &[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "127.0.0.1",
            "1",
            "0",
            "*",
        ],
        &["SENTINEL", "CONFIG", "GET", "announce-port"],
        &["SENTINEL", "SIMULATE-FAILURE", "help"],
        &["SENTINEL", "HELP"],
        &["SENTINEL", "CONFIG", "GET", "*"],
        &["SENTINEL", "DEBUG"],
        &["SENTINEL", "PENDING-SCRIPTS"],
        &["SENTINEL", "RESET", "nosuch"],
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "down-after-milliseconds",
            "0",
        ],
        &["SENTINEL", "CONFIG", "SET", "announce-port", "abc"],
        &["SENTINEL", "CONFIG", "SET", "nosuch", "1"],
        &[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "127.0.0.1",
            "abc",
            "0",
            "*",
        ],
        &["SENTINEL", "FAILOVER", "nosuch"],
        &["SENTINEL", "REMOVE", "nosuch"],
        &["SENTINEL", "MONITOR", "m2", "nohost", "1", "1"],
        &["ACL", "WHOAMI"],
        &["SENTINEL", "SIMULATE-FAILURE", "bogus"],
        &["PUBLISH", "foo", "bar"],
        &["GET", "x"],
        &["PING"],
        &["SENTINEL"],
    ] {
        assert_eq!(pc.cmd_str(cmd), rc.cmd_str(cmd), "{cmd:?}");
    }
    let names = |r: String| -> Vec<String> {
        r.split("\r\n")
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| l.split(':').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(pc.cmd_str(&["INFO"])),
        names(rc.cmd_str(&["INFO"])),
        "INFO fields"
    );
    let prole = pc.cmd_str(&["ROLE"]);
    assert_eq!(prole, rc.cmd_str(&["ROLE"]));
    let pinfo = pc.cmd_str(&["INFO", "sentinel"]);
    assert!(
        pinfo.contains("sentinel_masters:1") && pinfo.contains("master0:name=mymaster,status=ok"),
        "{pinfo}"
    );
}

#[test]
fn toml_config_with_read_only_file_and_state_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::test_dir();
    let node = free_port();
    let _n = redis_node(dir.path(), node, None);
    let port = free_port();
    let conf = dir.path().join("sentinel.toml");
    std::fs::write(
        &conf,
        format!("port = {port}\nbind = \"127.0.0.1\"\ndir = \"{}\"\n\n[sentinel]\nannounce-ip = \"127.0.0.1\"\n\n[[sentinel.monitor]]\nname = \"mymaster\"\nhost = \"127.0.0.1\"\nport = {node}\nquorum = 1\ndown-after-milliseconds = \"2s\"\nfailover-timeout = \"10s\"\n", dir.path().display()),
    )
    .unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o444)).unwrap();
    let bin = common::binary("picket-sentinel");
    let args = vec![conf.display().to_string()];
    let mut s = Proc::spawn(&bin, &args, port);
    let mut c = Client::connect(port);
    let m = c.cmd_str(&["SENTINEL", "MASTER", "mymaster"]);
    assert!(
        m.contains("down-after-milliseconds\r\n$4\r\n2000")
            && m.contains("failover-timeout\r\n$5\r\n10000"),
        "{m}"
    );
    let myid = c.cmd_str(&["SENTINEL", "MYID"]);
    let state = dir.path().join("sentinel.state.conf");
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(&state)
            .map(|t| t.contains("sentinel myid"))
            .unwrap_or(false)
    }));
    assert_eq!(
        c.cmd(&["SENTINEL", "SET", "mymaster", "quorum", "3"]),
        b"+OK\r\n"
    );
    s.kill();
    // The state file wins over the configuration on restart: same id, the changed quorum.
    let _s2 = Proc::spawn(&bin, &args, port);
    let mut c = Client::connect(port);
    assert_eq!(c.cmd_str(&["SENTINEL", "MYID"]), myid);
    assert!(c
        .cmd_str(&["SENTINEL", "MASTER", "mymaster"])
        .contains("quorum\r\n$1\r\n3"));
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap().lines().count(),
        14,
        "the read-only config was not touched"
    );
}

#[test]
fn notification_script_runs_and_failures_are_retried() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::test_dir();
    let node = free_port();
    let _n = redis_node(dir.path(), node, None);
    let out = dir.path().join("events.txt");
    let ok_script = dir.path().join("notify.sh");
    std::fs::write(
        &ok_script,
        format!("#!/bin/sh\necho \"$1|$2\" >> {}\n", out.display()),
    )
    .unwrap();
    let bad_script = dir.path().join("fail.sh");
    std::fs::write(&bad_script, "#!/bin/sh\nexit 1\n").unwrap();
    for s in [&ok_script, &bad_script] {
        std::fs::set_permissions(s, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let port = free_port();
    let conf = dir.path().join("s.conf");
    std::fs::write(&conf, format!("port {port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {node} 1\nsentinel notification-script mymaster {}\nsentinel deny-scripts-reconfig no\n", ok_script.display())).unwrap();
    let _s = Proc::spawn(
        &common::binary("picket-sentinel"),
        &[
            conf.display().to_string(),
            "--logfile".into(),
            dir.path().join("s.log").display().to_string(),
        ],
        port,
    );
    let mut c = Client::connect(port);
    assert_eq!(
        c.cmd(&["SENTINEL", "SET", "mymaster", "quorum", "2"]),
        b"+OK\r\n"
    );
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("+set|master mymaster 127.0.0.1")
    }));
    // A script that exits 1 is scheduled again with its retry count.
    assert_eq!(
        c.cmd(&[
            "SENTINEL",
            "SET",
            "mymaster",
            "notification-script",
            bad_script.to_str().unwrap()
        ]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "SET", "mymaster", "quorum", "1"]),
        b"+OK\r\n"
    );
    assert!(wait_until(Duration::from_secs(10), || {
        let p = c.cmd_str(&["SENTINEL", "PENDING-SCRIPTS"]);
        p.contains("scheduled") && p.contains("retry-num\r\n$1\r\n1")
    }));
}

#[test]
fn ipv6_master_and_replica() {
    let dir = common::test_dir();
    let (m, r) = (free_port(), free_port());
    let v6 = |port: u16, master: Option<u16>| {
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "::1",
            "--save",
            "",
            "--dir",
            &dir.path().display().to_string(),
            "--logfile",
            &dir.path()
                .join(format!("r{port}.log"))
                .display()
                .to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(mp) = master {
            args.extend(["--replicaof".into(), "::1".into(), mp.to_string()]);
        }
        let child = std::process::Command::new(common::data_node_server())
            .args(&args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        assert!(
            wait_until(Duration::from_secs(10), || std::net::TcpStream::connect((
                "::1", port
            ))
            .is_ok()),
            "redis-server did not listen on [::1]:{port}"
        );
        Proc { child, port }
    };
    let mut master = v6(m, None);
    let _replica = v6(r, Some(m));
    let port = free_port();
    let conf = dir.path().join("s.conf");
    std::fs::write(&conf, format!("port {port}\nbind 127.0.0.1\nsentinel monitor m6 ::1 {m} 1\nsentinel down-after-milliseconds m6 1000\nsentinel failover-timeout m6 5000\n")).unwrap();
    let _s = Proc::spawn(
        &common::binary("picket-sentinel"),
        &[
            conf.display().to_string(),
            "--logfile".into(),
            dir.path().join("s.log").display().to_string(),
        ],
        port,
    );
    let mut c = Client::connect(port);
    assert!(wait_until(Duration::from_secs(15), || c
        .cmd_str(&["SENTINEL", "REPLICAS", "m6"])
        .contains(&format!("[::1]:{r}"))));
    assert!(wait_until(Duration::from_secs(15), || c
        .cmd_str(&["SENTINEL", "REPLICAS", "m6"])
        .contains("master-link-status\r\n$2\r\nok")));
    master.kill();
    assert!(wait_until(Duration::from_secs(20), || c.cmd_str(&[
        "SENTINEL",
        "GET-MASTER-ADDR-BY-NAME",
        "m6"
    ]) == format!(
        "*2\r\n$3\r\n::1\r\n${}\r\n{r}\r\n",
        r.to_string().len()
    )));
}

fn picket_sentinel_with(dir: &std::path::Path, master: u16, extra: &str) -> Proc {
    let port = free_port();
    let conf = dir.join(format!("s-{port}.conf"));
    std::fs::write(&conf, format!("port {port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {master} 1\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n{extra}")).unwrap();
    Proc::spawn(
        &common::binary("picket-sentinel"),
        &[
            conf.display().to_string(),
            "--logfile".into(),
            dir.join(format!("s-{port}.log")).display().to_string(),
        ],
        port,
    )
}

fn replicas_ok(s: u16, n: usize) -> bool {
    Client::try_connect(s)
        .and_then(|mut c| c.try_cmd_str(&["SENTINEL", "REPLICAS", "mymaster"]))
        .map(|r| r.matches("master-link-status\r\n$2\r\nok").count() == n)
        .unwrap_or(false)
}

#[test]
fn replica_priority_zero_is_never_promoted_and_down_replicas_are_skipped() {
    let dir = common::test_dir();
    let (m, zero, good, down) = (free_port(), free_port(), free_port(), free_port());
    let mut master = common::redis_node_with(dir.path(), m, None, &[]);
    let _zero = common::redis_node_with(dir.path(), zero, Some(m), &["--replica-priority", "0"]);
    let _good = common::redis_node_with(dir.path(), good, Some(m), &["--replica-priority", "50"]);
    // The best-priority replica (10) goes down before the master does.
    let mut best =
        common::redis_node_with(dir.path(), down, Some(m), &["--replica-priority", "10"]);
    let s = picket_sentinel_with(dir.path(), m, "");
    assert!(wait_until(Duration::from_secs(20), || replicas_ok(
        s.port, 3
    )));
    best.kill();
    assert!(wait_until(Duration::from_secs(10), || Client::connect(
        s.port
    )
    .cmd_str(&["SENTINEL", "REPLICAS", "mymaster"])
    .contains("s_down")));
    master.kill();
    assert!(
        wait_until(Duration::from_secs(20), || master_addr(s.port)
            == Some(format!("127.0.0.1:{good}"))),
        "expected {good} to be promoted, got {:?}",
        master_addr(s.port)
    );
    assert_eq!(role(zero).as_deref(), Some("slave"));
}

#[test]
fn authenticated_nodes_and_sentinels() {
    let dir = common::test_dir();
    let (m, r) = (free_port(), free_port());
    let auth = ["--requirepass", "nodepw", "--masterauth", "nodepw"];
    let mut master = common::redis_node_with(dir.path(), m, None, &auth);
    let _replica = common::redis_node_with(dir.path(), r, Some(m), &auth);
    let extra = "sentinel auth-pass mymaster nodepw\nrequirepass sentinelpw\nsentinel sentinel-pass sentinelpw\n";
    let a = picket_sentinel_with(dir.path(), m, extra);
    let b = picket_sentinel_with(dir.path(), m, extra);
    let mut c = Client::connect(a.port);
    assert_eq!(
        c.cmd(&["SENTINEL", "MYID"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.cmd(&["AUTH", "sentinelpw"]), b"+OK\r\n");
    // The sentinels find each other (hellos through the authenticated nodes) and the replica.
    assert!(wait_until(Duration::from_secs(20), || {
        let m = c.cmd_str(&["SENTINEL", "MASTER", "mymaster"]);
        m.contains("num-other-sentinels\r\n$1\r\n1") && m.contains("num-slaves\r\n$1\r\n1")
    }));
    assert!(wait_until(Duration::from_secs(20), || {
        let r = c.cmd_str(&["SENTINEL", "REPLICAS", "mymaster"]);
        r.contains("master-link-status\r\n$2\r\nok")
    }));
    // The peer link authenticated with sentinel-pass: it answers PING, so it is connected.
    assert!(wait_until(Duration::from_secs(10), || c
        .cmd_str(&["SENTINEL", "SENTINELS", "mymaster"])
        .contains("flags\r\n$8\r\nsentinel\r\n")));
    master.kill();
    assert!(wait_until(Duration::from_secs(20), || c
        .cmd_str(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])
        .contains(&r.to_string())));
    drop(b);
}

#[test]
fn coordinated_manual_failover_loses_no_acknowledged_write() {
    let dir = common::test_dir();
    let (m, r) = (free_port(), free_port());
    let _master = common::redis_node_with(dir.path(), m, None, &[]);
    let _replica = common::redis_node_with(dir.path(), r, Some(m), &[]);
    let s = picket_sentinel_with(dir.path(), m, "");
    assert!(wait_until(Duration::from_secs(20), || replicas_ok(
        s.port, 1
    )));
    let sport = s.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    // A writer that writes unique keys and records every write a master acknowledged.
    let writer = std::thread::spawn(move || {
        let mut acked: Vec<u64> = Vec::new();
        let mut conn: Option<Client> = None;
        let mut n = 0u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            if conn.is_none() {
                let port = master_addr(sport)
                    .and_then(|a| a.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()));
                conn = port.and_then(Client::try_connect);
            }
            let Some(c) = conn.as_mut() else { continue };
            n += 1;
            match c.try_cmd_str(&["SET", &format!("w:{n}"), "1"]) {
                Some(r) if r == "+OK\r\n" => acked.push(n),
                _ => conn = None,
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(500));
    let mut c = Client::connect(s.port);
    assert_eq!(
        c.cmd(&["SENTINEL", "FAILOVER", "mymaster", "COORDINATED"]),
        b"+OK\r\n"
    );
    assert!(wait_until(Duration::from_secs(20), || master_addr(s.port)
        == Some(format!("127.0.0.1:{r}"))));
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked = writer.join().unwrap();
    let mut nm = Client::connect(r);
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|n| nm.cmd_str(&["EXISTS", &format!("w:{n}")]) != ":1\r\n")
        .collect();
    eprintln!("acknowledged {} writes, lost {}", acked.len(), lost.len());
    assert!(acked.len() > 100);
    assert!(
        lost.is_empty(),
        "{} acknowledged writes missing on the new master, first {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    let log = std::fs::read_to_string(dir.path().join(format!("s-{}.log", s.port))).unwrap();
    assert!(
        log.contains("+coordinated-pause") && log.contains("+switch-master"),
        "{log}"
    );
}

#[test]
fn resolve_and_announce_hostnames() {
    let dir = common::test_dir();
    let (m, r) = (free_port(), free_port());
    let _master = common::redis_node_with(dir.path(), m, None, &[]);
    let _replica = common::redis_node_with(dir.path(), r, Some(m), &[]);
    let port = free_port();
    let conf = dir.path().join("h.conf");
    // Without resolve-hostnames a hostname is refused, as in Redis.
    std::fs::write(
        &conf,
        format!("port {port}\nbind 127.0.0.1\nsentinel monitor mymaster localhost {m} 1\n"),
    )
    .unwrap();
    let out = std::process::Command::new(common::binary("picket-sentinel"))
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("Can't resolve instance hostname."),
        "{out:?}"
    );
    // With it, the name is resolved; clients get the IP, or the name with announce-hostnames.
    std::fs::write(&conf, format!("port {port}\nbind 127.0.0.1\nsentinel resolve-hostnames yes\nsentinel monitor mymaster localhost {m} 1\n")).unwrap();
    let _s = Proc::spawn(
        &common::binary("picket-sentinel"),
        &[
            conf.display().to_string(),
            "--logfile".into(),
            dir.path().join("s.log").display().to_string(),
        ],
        port,
    );
    let mut c = Client::connect(port);
    let addr = |c: &mut Client| c.cmd_str(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]);
    assert!(
        addr(&mut c).contains("127.0.0.1") || addr(&mut c).contains("::1"),
        "{}",
        addr(&mut c)
    );
    assert!(wait_until(Duration::from_secs(15), || replicas_ok(port, 1)));
    assert_eq!(
        c.cmd(&["SENTINEL", "CONFIG", "SET", "announce-hostnames", "yes"]),
        b"+OK\r\n"
    );
    assert!(addr(&mut c).contains("localhost"), "{}", addr(&mut c));
    assert!(std::fs::read_to_string(&conf)
        .unwrap()
        .contains(&format!("sentinel monitor mymaster localhost {m} 1")));
    // A replica that turned itself into a master is converted back with SLAVEOF naming the
    // master by its hostname (as Redis sends it under announce-hostnames yes), and the sentinel
    // then counts it as correctly configured: one conversion, no loop.
    let mut rc = Client::connect(r);
    assert_eq!(rc.cmd_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    let log = || std::fs::read_to_string(dir.path().join("s.log")).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(30), || {
            let i = info_replication(r);
            i.contains("master_host:localhost") && i.contains("master_link_status:up")
        }),
        "{}\n{}",
        info_replication(r),
        log()
    );
    std::thread::sleep(Duration::from_secs(3));
    let l = log();
    assert_eq!(l.matches("+convert-to-slave").count(), 1, "{l}");
    assert!(!l.contains("+fix-slave-config"), "{l}");
    // A replica announcing itself by name (replica-announce-ip) is shown by that name only
    // under announce-hostnames yes; with no, its IP comes back at once, as in Redis.
    let r2 = free_port();
    let _named = common::redis_node_with(
        dir.path(),
        r2,
        Some(m),
        &["--replica-announce-ip", "localhost"],
    );
    let shown = |c: &mut Client, host: &str| {
        let port = r2.to_string();
        let want = format!(
            "ip\r\n${}\r\n{host}\r\n$4\r\nport\r\n${}\r\n{port}\r\n",
            host.len(),
            port.len()
        );
        c.cmd_str(&["SENTINEL", "REPLICAS", "mymaster"])
            .contains(&want)
    };
    assert!(
        wait_until(Duration::from_secs(15), || shown(&mut c, "localhost")),
        "{}",
        c.cmd_str(&["SENTINEL", "REPLICAS", "mymaster"])
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "CONFIG", "SET", "announce-hostnames", "no"]),
        b"+OK\r\n"
    );
    assert!(
        shown(&mut c, "127.0.0.1") || shown(&mut c, "::1"),
        "{}",
        c.cmd_str(&["SENTINEL", "REPLICAS", "mymaster"])
    );
}
