//! Deterministic simulation of several sentinel cores in simulated time: simulated Redis nodes
//! (PING, INFO, PUBLISH/SUBSCRIBE, SLAVEOF), message delays, node crashes and restarts,
//! partitions that heal. Invariants checked on every step: at most one leader per epoch and
//! config epochs never going back; at the end, every sentinel agrees on one live master and the
//! live replicas follow it. Hundreds of seeds run in CI.

use bytes::Bytes;
use picket_sentinel::core::{Action, Frame, Globals, Input, LinkId, Rng, Sentinel, Tag};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Target {
    Node(usize),
    Sentinel(usize),
}

struct Node {
    port: u16,
    runid: String,
    up: bool,
    master: Option<u16>,
    subscribers: Vec<(usize, LinkId)>,
}

struct Link {
    target: Target,
    alive: bool,
    last_req: u64,
    last_rep: u64,
}

enum Ev {
    Tick(usize),
    Input(usize, Input),
    Request(usize, LinkId, Vec<Bytes>, Tag),
}

struct Sim {
    now: u64,
    rng: Rng,
    sentinels: Vec<Sentinel>,
    sentinel_ports: Vec<u16>,
    nodes: Vec<Node>,
    links: HashMap<(usize, LinkId), Link>,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    events: HashMap<u64, Ev>,
    seq: u64,
    blocked: HashSet<(usize, Target)>,
    /// Sentinels whose process is frozen (no ticks, no inputs) until the given time.
    frozen_until: Vec<u64>,
    leaders: BTreeMap<u64, String>,
    config_epochs: Vec<u64>,
    log: Vec<String>,
}

const BASE: u64 = 1_000_000_000;

fn runid(seed: u64, i: usize) -> String {
    let mut r = Rng::new(seed * 7919 + i as u64 * 104729 + 1);
    (0..40)
        .map(|_| char::from_digit(r.below(16) as u32, 16).unwrap())
        .collect()
}

impl Sim {
    fn new(seed: u64, n_sentinels: usize, n_nodes: usize) -> Sim {
        let mut sim = Sim {
            now: BASE,
            rng: Rng::new(seed),
            sentinels: Vec::new(),
            sentinel_ports: Vec::new(),
            nodes: Vec::new(),
            links: HashMap::new(),
            queue: BinaryHeap::new(),
            events: HashMap::new(),
            seq: 0,
            blocked: HashSet::new(),
            leaders: BTreeMap::new(),
            config_epochs: vec![0; n_sentinels],
            frozen_until: vec![0; n_sentinels],
            log: Vec::new(),
        };
        for i in 0..n_nodes {
            sim.nodes.push(Node {
                port: 7000 + i as u16,
                runid: runid(seed, i + 100),
                up: true,
                master: if i == 0 { None } else { Some(7000) },
                subscribers: Vec::new(),
            });
        }
        for i in 0..n_sentinels {
            let port = 26000 + i as u16;
            let mut s = Sentinel::new(
                runid(seed, i),
                Globals {
                    port,
                    deny_scripts_reconfig: true,
                    ..Default::default()
                },
                seed * 31 + i as u64,
            );
            s.monitor(
                "mymaster",
                "127.0.0.1",
                7000,
                (n_sentinels / 2 + 1) as i64,
                BASE,
                false,
            )
            .unwrap();
            let m = s.masters.get_mut("mymaster").unwrap();
            m.down_after = 1000;
            m.failover_timeout = 5000;
            sim.sentinels.push(s);
            sim.sentinel_ports.push(port);
            let t = BASE + sim.rng.below(100);
            sim.push(t, Ev::Tick(i));
        }
        sim
    }

    fn push(&mut self, t: u64, ev: Ev) {
        self.seq += 1;
        self.events.insert(self.seq, ev);
        self.queue.push(Reverse((t, self.seq)));
    }

    fn delay(&mut self) -> u64 {
        1 + self.rng.below(30)
    }

    fn target_of(&self, port: u16) -> Option<Target> {
        if let Some(i) = self.nodes.iter().position(|n| n.port == port) {
            return Some(Target::Node(i));
        }
        self.sentinel_ports
            .iter()
            .position(|p| *p == port)
            .map(Target::Sentinel)
    }

    fn reachable(&self, s: usize, t: Target) -> bool {
        let up = match t {
            Target::Node(n) => self.nodes[n].up,
            Target::Sentinel(_) => true,
        };
        up && !self.blocked.contains(&(s, t))
    }

    fn info(&self, n: usize) -> String {
        let node = &self.nodes[n];
        let mut t = format!("# Server\r\nrun_id:{}\r\n# Replication\r\n", node.runid);
        match node.master {
            None => {
                let reps: Vec<&Node> = self
                    .nodes
                    .iter()
                    .filter(|r| r.up && r.master == Some(node.port))
                    .collect();
                t.push_str(&format!(
                    "role:master\r\nconnected_slaves:{}\r\n",
                    reps.len()
                ));
                for (i, r) in reps.iter().enumerate() {
                    t.push_str(&format!(
                        "slave{i}:ip=127.0.0.1,port={},state=online,offset=100,lag=0\r\n",
                        r.port
                    ));
                }
            }
            Some(mp) => {
                let up = self
                    .nodes
                    .iter()
                    .any(|m| m.port == mp && m.up && m.master.is_none());
                t.push_str(&format!("role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:{mp}\r\nmaster_link_status:{}\r\n", if up { "up" } else { "down" }));
                if !up {
                    t.push_str("master_link_down_since_seconds:1\r\n");
                }
                t.push_str(&format!(
                    "slave_priority:100\r\nslave_repl_offset:{}\r\nreplica_announced:1\r\n",
                    100 + n
                ));
            }
        }
        t
    }

    fn run_actions(&mut self, s: usize) {
        let actions = self.sentinels[s].take_actions();
        for a in actions {
            match a {
                Action::Connect {
                    link, port, pubsub, ..
                } => {
                    let d = self.delay();
                    match self.target_of(port) {
                        Some(t) if self.reachable(s, t) => {
                            self.links.insert(
                                (s, link),
                                Link {
                                    target: t,
                                    alive: true,
                                    last_req: 0,
                                    last_rep: 0,
                                },
                            );
                            if pubsub {
                                if let Target::Node(n) = t {
                                    self.nodes[n].subscribers.push((s, link));
                                }
                            }
                            self.push(
                                self.now + d,
                                Ev::Input(
                                    s,
                                    Input::Connected {
                                        link,
                                        local_ip: "127.0.0.1".into(),
                                    },
                                ),
                            );
                        }
                        _ => self.push(
                            self.now + d * 10,
                            Ev::Input(s, Input::Disconnected { link }),
                        ),
                    }
                }
                Action::Send { link, argv, tag } => {
                    let d = self.delay();
                    if let Some(l) = self.links.get_mut(&(s, link)) {
                        if l.alive {
                            let t = (self.now + d).max(l.last_req + 1);
                            l.last_req = t;
                            self.push(t, Ev::Request(s, link, argv, tag));
                        }
                    }
                }
                Action::Close { link } => {
                    if let Some(l) = self.links.get_mut(&(s, link)) {
                        l.alive = false;
                    }
                }
                Action::Event { kind, text, .. } => {
                    self.log
                        .push(format!("{} s{} {} {}", self.now, s, kind, text));
                    if kind == "+elected-leader" {
                        let epoch = self.sentinels[s].masters["mymaster"].failover_epoch;
                        let me = self.sentinels[s].myid.clone();
                        if let Some(prev) = self.leaders.insert(epoch, me.clone()) {
                            assert_eq!(
                                prev,
                                me,
                                "two leaders in epoch {epoch}\n{}",
                                self.log.join("\n")
                            );
                        }
                    }
                }
                Action::Persist | Action::Script { .. } | Action::Exit { .. } => {}
            }
        }
        let ce = self.sentinels[s].masters["mymaster"].config_epoch;
        assert!(
            ce >= self.config_epochs[s],
            "config epoch went back on s{s}"
        );
        self.config_epochs[s] = ce;
    }

    fn reply(&mut self, s: usize, link: LinkId, tag: Tag, frame: Frame) {
        let d = self.delay();
        let Some(l) = self.links.get_mut(&(s, link)) else {
            return;
        };
        let t = (self.now + d).max(l.last_rep + 1);
        l.last_rep = t;
        self.push(t, Ev::Input(s, Input::Reply { link, tag, frame }));
    }

    fn serve(&mut self, s: usize, link: LinkId, argv: Vec<Bytes>, tag: Tag) {
        let Some(l) = self.links.get(&(s, link)) else {
            return;
        };
        if !l.alive {
            return;
        }
        let target = l.target;
        let a: Vec<String> = argv
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        let cmd = a[0].to_ascii_uppercase();
        let frame = match target {
            Target::Node(n) => match cmd.as_str() {
                "PING" => Frame::Simple("PONG".into()),
                "INFO" => Frame::Bulk(Some(Bytes::from(self.info(n)))),
                "PUBLISH" => {
                    let subs = self.nodes[n].subscribers.clone();
                    let mut count = 0;
                    for (sub, sl) in subs {
                        let ok = self.links.get(&(sub, sl)).map(|x| x.alive).unwrap_or(false)
                            && self.reachable(sub, target);
                        if ok {
                            count += 1;
                            let d = self.delay();
                            self.push(
                                self.now + d,
                                Ev::Input(
                                    sub,
                                    Input::Message {
                                        link: sl,
                                        channel: argv[1].clone(),
                                        payload: argv[2].clone(),
                                    },
                                ),
                            );
                        }
                    }
                    Frame::Int(count)
                }
                "SLAVEOF" => {
                    self.nodes[n].master = if a[1].eq_ignore_ascii_case("no") {
                        None
                    } else {
                        a[2].parse().ok()
                    };
                    Frame::Simple("QUEUED".into())
                }
                _ => Frame::Simple("OK".into()),
            },
            Target::Sentinel(j) => match cmd.as_str() {
                "PING" => Frame::Simple("PONG".into()),
                "PUBLISH" => {
                    let now = self.now;
                    self.sentinels[j].process_hello(&a[2], now);
                    self.run_actions(j);
                    Frame::Int(1)
                }
                "SENTINEL" => {
                    let now = self.now;
                    let (down, leader, epoch) = self.sentinels[j].is_master_down_by_addr(
                        &a[2],
                        a[3].parse().unwrap(),
                        a[4].parse().unwrap(),
                        &a[5],
                        now,
                    );
                    self.run_actions(j);
                    Frame::Array(Some(vec![
                        Frame::Int(down as i64),
                        Frame::Bulk(Some(Bytes::from(leader))),
                        Frame::Int(epoch as i64),
                    ]))
                }
                _ => Frame::Error("ERR unknown command".into()),
            },
        };
        self.reply(s, link, tag, frame);
    }

    /// Drops every connection between sentinel `s` and `t` (both directions).
    fn cut(&mut self, filter: impl Fn(usize, Target) -> bool) {
        let keys: Vec<(usize, LinkId)> = self
            .links
            .iter()
            .filter(|((s, _), l)| l.alive && filter(*s, l.target))
            .map(|(k, _)| *k)
            .collect();
        // HashMap order differs between runs: sort, so the random delays drawn below go to
        // the same links every time and a seed always replays the same run.
        let mut keys = keys;
        keys.sort();
        for (s, link) in keys {
            if let Some(l) = self.links.get_mut(&(s, link)) {
                l.alive = false;
            }
            let d = self.delay();
            self.push(self.now + d, Ev::Input(s, Input::Disconnected { link }));
        }
    }

    fn kill_node(&mut self, n: usize) {
        self.nodes[n].up = false;
        self.nodes[n].subscribers.clear();
        self.cut(|_, t| t == Target::Node(n));
    }

    fn restart_node(&mut self, n: usize, seed: u64) {
        self.nodes[n].up = true;
        self.nodes[n].runid = runid(seed, 500 + n);
    }

    fn partition(&mut self, s: usize) {
        let targets: Vec<Target> = (0..self.nodes.len())
            .map(Target::Node)
            .chain(
                (0..self.sentinels.len())
                    .filter(|j| *j != s)
                    .map(Target::Sentinel),
            )
            .collect();
        for t in targets {
            self.blocked.insert((s, t));
            if let Target::Sentinel(j) = t {
                self.blocked.insert((j, Target::Sentinel(s)));
            }
        }
        self.cut(|x, t| x == s || t == Target::Sentinel(s));
    }

    fn heal(&mut self) {
        self.blocked.clear();
    }

    fn run_until(&mut self, t_end: u64) {
        while let Some(Reverse((t, id))) = self.queue.pop() {
            if t > t_end {
                self.queue.push(Reverse((t, id)));
                break;
            }
            self.now = t;
            // A frozen process handles nothing until it wakes (its events wait).
            let target = match self.events.get(&id) {
                Some(Ev::Tick(s)) | Some(Ev::Input(s, _)) => Some(*s),
                _ => None,
            };
            if let Some(s) = target {
                if self.frozen_until[s] > t {
                    let wake = self.frozen_until[s];
                    self.queue.push(Reverse((wake, id)));
                    continue;
                }
            }
            let ev = self.events.remove(&id).unwrap();
            match ev {
                Ev::Tick(s) => {
                    let now = self.now;
                    self.sentinels[s].tick(now);
                    self.run_actions(s);
                    let next = now + 1000 / (10 + self.rng.below(10));
                    self.push(next, Ev::Tick(s));
                }
                Ev::Input(s, input) => {
                    let now = self.now;
                    self.sentinels[s].handle(input, now);
                    self.run_actions(s);
                }
                Ev::Request(s, link, argv, tag) => self.serve(s, link, argv, tag),
            }
        }
        self.now = t_end;
    }

    fn master_views(&self) -> Vec<u16> {
        self.sentinels
            .iter()
            .map(|s| s.masters["mymaster"].current_addr().1)
            .collect()
    }

    /// Every sentinel names the same live master, and every live replica follows it.
    fn assert_converged(&self, seed: u64) {
        let views = self.master_views();
        let ctx = || {
            format!(
                "seed {seed}, views {views:?}\n{}",
                self.log[self.log.len().saturating_sub(80)..].join("\n")
            )
        };
        assert!(
            views.windows(2).all(|w| w[0] == w[1]),
            "sentinels disagree: {}",
            ctx()
        );
        let m = self.nodes.iter().find(|n| n.port == views[0]).unwrap();
        assert!(
            m.up && m.master.is_none(),
            "agreed master is not a live master: {}",
            ctx()
        );
        for n in self.nodes.iter().filter(|n| n.up && n.port != views[0]) {
            assert_eq!(
                n.master,
                Some(views[0]),
                "replica {} not following: {}",
                n.port,
                ctx()
            );
        }
    }
}

#[test]
fn kill_master_then_restart_it() {
    for seed in 1..=120 {
        let mut sim = Sim::new(seed, 3, 3);
        sim.run_until(BASE + 5_000);
        assert_eq!(sim.master_views(), vec![7000; 3]);
        sim.kill_node(0);
        sim.run_until(BASE + 25_000);
        assert_ne!(sim.master_views()[0], 7000, "seed {seed}: no failover");
        sim.restart_node(0, seed);
        sim.run_until(BASE + 60_000);
        sim.assert_converged(seed);
    }
}

#[test]
fn five_sentinels_with_a_partition_that_heals() {
    for seed in 1..=60 {
        let mut sim = Sim::new(seed, 5, 3);
        sim.run_until(BASE + 5_000);
        // One sentinel is cut off before the master dies and comes back later.
        sim.partition((seed % 5) as usize);
        sim.run_until(BASE + 6_000);
        sim.kill_node(0);
        sim.run_until(BASE + 30_000);
        sim.heal();
        sim.run_until(BASE + 80_000);
        sim.assert_converged(seed);
    }
}

#[test]
fn minority_cannot_fail_over() {
    for seed in 1..=40 {
        let mut sim = Sim::new(seed, 3, 3);
        // Quorum 1: the lone sentinel reaches ODOWN and tries, but the election still needs a
        // majority of all sentinels (2 of 3).
        for s in sim.sentinels.iter_mut() {
            s.masters.get_mut("mymaster").unwrap().quorum = 1;
        }
        sim.run_until(BASE + 5_000);
        // Two of three sentinels are isolated: the remaining one sees the master down but must
        // not get a majority.
        sim.partition(1);
        sim.partition(2);
        sim.kill_node(0);
        sim.run_until(BASE + 30_000);
        let s0 = &sim.sentinels[0];
        assert_eq!(
            s0.masters["mymaster"].current_addr().1,
            7000,
            "seed {seed}: minority failed over"
        );
        assert!(
            sim.log.iter().any(|l| l.contains("s0 +sdown master")),
            "seed {seed}"
        );
        assert!(
            sim.log.iter().any(|l| l.contains("s0 +try-failover")),
            "seed {seed}"
        );
        assert!(
            !sim.log.iter().any(|l| l.contains("+elected-leader")),
            "seed {seed}"
        );
    }
}

#[test]
fn second_failover_after_the_new_master_dies() {
    for seed in 1..=40 {
        let mut sim = Sim::new(seed, 3, 4);
        sim.run_until(BASE + 5_000);
        sim.kill_node(0);
        sim.run_until(BASE + 30_000);
        let first = sim.master_views()[0];
        assert_ne!(first, 7000, "seed {seed}");
        let idx = sim.nodes.iter().position(|n| n.port == first).unwrap();
        sim.kill_node(idx);
        // failover-timeout 5 s: the back-off of 2 x timeout applies to sentinels that voted.
        sim.run_until(BASE + 90_000);
        sim.assert_converged(seed);
        assert_ne!(
            sim.master_views()[0],
            first,
            "seed {seed}: no second failover"
        );
    }
}

#[test]
fn a_frozen_sentinel_enters_tilt_and_does_not_act() {
    for seed in 1..=20 {
        let mut sim = Sim::new(seed, 3, 3);
        sim.run_until(BASE + 5_000);
        // Sentinel 0's process stops for 3 s (a VM pause): its next tick sees the jump.
        sim.frozen_until[0] = BASE + 8_000;
        sim.run_until(BASE + 9_000);
        assert!(
            sim.log.iter().any(|l| l.contains("s0 +tilt")),
            "seed {seed}: no +tilt"
        );
        // In TILT it still monitors but does not judge: the master dies, s0 reports no sdown.
        sim.kill_node(0);
        sim.run_until(BASE + 30_000);
        assert!(
            !sim.log.iter().any(|l| l.contains("s0 +sdown master")),
            "seed {seed}: acted in TILT"
        );
        // The others fail over; after 30 s s0 leaves TILT and converges with them.
        sim.run_until(BASE + 60_000);
        assert!(
            sim.log.iter().any(|l| l.contains("s0 -tilt")),
            "seed {seed}: no -tilt"
        );
        sim.assert_converged(seed);
    }
}

#[test]
fn forget_after_lets_survivors_reach_a_majority() {
    for (seed, forget) in (1..=20)
        .map(|s| (s, true))
        .chain((1..=5).map(|s| (s, false)))
    {
        let mut sim = Sim::new(seed, 4, 3);
        for s in sim.sentinels.iter_mut() {
            s.masters.get_mut("mymaster").unwrap().quorum = 2;
            s.globals.forget_after = if forget { 10_000 } else { 0 };
        }
        sim.run_until(BASE + 5_000);
        // Two of four sentinels are gone for good: the two left need 3 votes of 4...
        sim.partition(2);
        sim.partition(3);
        sim.run_until(BASE + 30_000);
        sim.kill_node(0);
        sim.run_until(BASE + 60_000);
        let views: Vec<u16> = sim.master_views()[..2].to_vec();
        if forget {
            // ...unless they forgot the departed ones: then 2 of 2 is a majority.
            assert!(
                sim.log.iter().any(|l| l.contains("s0 -sentinel")),
                "seed {seed}"
            );
            assert!(
                views.iter().all(|p| *p != 7000) && views[0] == views[1],
                "seed {seed}: {views:?}"
            );
        } else {
            assert_eq!(
                views,
                vec![7000, 7000],
                "seed {seed}: failover without a majority"
            );
        }
    }
}

/// Failover time in simulated ms for many seeds (printed; asserts no round needs a retry).
#[test]
fn failover_latency_distribution() {
    let mut times = Vec::new();
    for seed in 1..=100 {
        let mut sim = Sim::new(seed, 3, 3);
        sim.run_until(BASE + 5_000);
        sim.kill_node(0);
        let killed = sim.now;
        let mut t = killed;
        while t < killed + 30_000 {
            t += 50;
            sim.run_until(t);
            if sim.master_views().iter().all(|p| *p != 7000) {
                break;
            }
        }
        times.push((t - killed, seed));
    }
    times.sort();
    let med = times[times.len() / 2].0;
    let worst = times[times.len() - 1];
    eprintln!(
        "simulated kill -> all sentinels switched: median {med} ms, p90 {} ms, worst {:?}",
        times[times.len() * 9 / 10].0,
        worst
    );
    let slow: Vec<_> = times.iter().filter(|(t, _)| *t > 5_000).collect();
    assert!(
        slow.is_empty(),
        "rounds needing a second election: {slow:?}"
    );
}

#[test]
fn a_rejoined_old_master_promoted_later_is_not_demoted_again() {
    for seed in 1..=60 {
        let mut sim = Sim::new(seed, 3, 2);
        sim.run_until(BASE + 5_000);
        sim.kill_node(0);
        sim.run_until(BASE + 20_000);
        // The old master restarts and rejoins as a replica (fast path)...
        sim.restart_node(0, seed);
        sim.run_until(BASE + 35_000);
        assert_eq!(
            sim.nodes[0].master,
            Some(7001),
            "seed {seed}: old master did not rejoin"
        );
        // ...then the new master dies: the old one is the only replica and must be promoted
        // and stay promoted (no sentinel may undo another leader's promotion).
        sim.kill_node(1);
        sim.run_until(BASE + 70_000);
        assert!(
            !sim.log
                .iter()
                .any(|l| l.contains("-failover-abort-slave-timeout")),
            "seed {seed}:\n{}",
            sim.log.join("\n")
        );
        assert!(sim.nodes[0].master.is_none(), "seed {seed}: not promoted");
        assert_eq!(sim.master_views(), vec![7000; 3], "seed {seed}");
    }
}
