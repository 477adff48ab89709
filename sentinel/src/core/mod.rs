//! The sentinel's decisions as a pure state machine. No sockets, no timers, no clock: the
//! runtime calls [`Sentinel::tick`] 10–19 times a second with the current monotonic time in
//! milliseconds and [`Sentinel::handle`] for every reply, message and connection change; both
//! leave [`Action`]s in `self.actions` (connect, send, close, publish an event, persist) for the
//! runtime to carry out. Tests drive many instances of it through a simulated network.
//!
//! Module map: `model` (instances and links), `monitor` (connections, periodic PING/INFO/hello,
//! replies, INFO and hello processing), `detect` (SDOWN, ODOWN, asking peers), `election`
//! (epochs and votes), `failover` (the failover state machine and address switches), `api`
//! (what SENTINEL commands change).

pub mod api;
pub mod detect;
pub mod election;
pub mod failover;
pub mod fencing;
pub mod frame;
pub mod hello;
pub mod info;
mod links;
pub mod model;
pub mod monitor;
pub mod slaveof;

use bytes::Bytes;
pub use frame::Frame;
pub use model::*;
use std::collections::{BTreeMap, HashMap};

/// Event levels: Debug is logged only; the others are also published; Warning events on an
/// instance run the master's notification script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Verbose,
    Notice,
    Warning,
}

/// What a sent command was, so its reply can be routed (replies come back in order per link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Ping,
    Info,
    Hello,
    IsMasterDown,
    /// INFO of the old master during a coordinated failover (for master_repl_offset).
    CoordInfo,
    /// A fencing lease grant (REPLCONF FENCING-LEASE); the reply is the next nonce.
    Lease,
    Ignore,
}

/// Work for the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a connection and send `handshake` first (its replies are discarded).
    Connect {
        link: LinkId,
        host: String,
        port: u16,
        pubsub: bool,
        handshake: Vec<Vec<Bytes>>,
    },
    Send {
        link: LinkId,
        argv: Vec<Bytes>,
        tag: Tag,
    },
    Close {
        link: LinkId,
    },
    /// Log, and publish on channel `kind` unless the level is Debug.
    Event {
        level: Level,
        kind: String,
        text: String,
    },
    /// The persistent state changed: rewrite the config file.
    Persist,
    Script {
        argv: Vec<String>,
    },
    /// SENTINEL SIMULATE-FAILURE: the process exits with this code.
    Exit {
        code: i32,
    },
}

/// What the runtime reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Connected {
        link: LinkId,
        local_ip: String,
    },
    Disconnected {
        link: LinkId,
    },
    Reply {
        link: LinkId,
        tag: Tag,
        frame: Frame,
    },
    Message {
        link: LinkId,
        channel: Bytes,
        payload: Bytes,
    },
}

/// Which instance of a master a link or event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    Master,
    Replica(String),
    Sentinel(String),
}

/// Periods and timeouts (ms); SENTINEL DEBUG changes them.
#[derive(Debug, Clone)]
pub struct Timing {
    pub info_period: u64,
    pub ping_period: u64,
    pub ask_period: u64,
    pub publish_period: u64,
    pub default_down_after: u64,
    pub default_failover_timeout: u64,
    pub tilt_trigger: u64,
    pub tilt_period: u64,
    pub slave_reconf_timeout: u64,
    pub min_link_reconnect_period: u64,
    pub election_timeout: u64,
    pub script_max_runtime: u64,
    pub script_retry_delay: u64,
    /// INFO period for replicas while their master fails over (Redis: 1000). Picket polls
    /// faster here so the promotion and the reconfiguration are seen sooner.
    pub failover_info_period: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            info_period: 10_000,
            ping_period: 1000,
            ask_period: 1000,
            publish_period: 2000,
            default_down_after: DEFAULT_DOWN_AFTER,
            default_failover_timeout: DEFAULT_FAILOVER_TIMEOUT,
            tilt_trigger: 2000,
            tilt_period: 30_000,
            slave_reconf_timeout: 10_000,
            min_link_reconnect_period: 15_000,
            election_timeout: 10_000,
            script_max_runtime: 60_000,
            script_retry_delay: 30_000,
            failover_info_period: 100,
        }
    }
}

/// A small deterministic generator (xorshift64*), so simulations replay exactly.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D) % n.max(1)
    }
}

/// Settings that are not per master.
#[derive(Clone, Default)]
pub struct Globals {
    pub announce_ip: Option<String>,
    pub announce_port: u16,
    /// Our listening port (hellos carry it unless announce-port is set).
    pub port: u16,
    pub sentinel_user: Option<String>,
    pub sentinel_pass: Option<String>,
    /// Fallback for AUTH to peers when sentinel-pass is not set.
    pub requirepass: Option<String>,
    pub deny_scripts_reconfig: bool,
    pub resolve_hostnames: bool,
    pub announce_hostnames: bool,
    /// Picket's `sentinel forget-after <ms>` (0 = never, as Redis): peers silent and
    /// unreachable, and replicas down, for longer than this are forgotten one by one, instead
    /// of SENTINEL RESET forgetting everything at once.
    pub forget_after: u64,
    /// Name resolution for `resolve-hostnames yes`, injected so the core stays free of I/O.
    pub resolver: Option<fn(&str) -> Option<String>>,
}

pub struct Sentinel {
    pub myid: String,
    pub current_epoch: u64,
    pub masters: BTreeMap<String, Master>,
    pub tilt: bool,
    pub tilt_start: u64,
    previous_time: Option<u64>,
    pub timing: Timing,
    pub globals: Globals,
    pub simfailure: u32,
    links: HashMap<LinkId, links::Owner>,
    next_link: LinkId,
    pub rng: Rng,
    pub actions: Vec<Action>,
}

pub const HELLO_CHANNEL: &str = "__sentinel__:hello";

impl Sentinel {
    pub fn new(myid: String, globals: Globals, seed: u64) -> Sentinel {
        Sentinel {
            myid,
            current_epoch: 0,
            masters: BTreeMap::new(),
            tilt: false,
            tilt_start: 0,
            previous_time: None,
            timing: Timing::default(),
            globals,
            simfailure: 0,
            links: HashMap::new(),
            next_link: 1,
            rng: Rng::new(seed),
            actions: Vec::new(),
        }
    }

    /// Takes the actions produced so far.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    pub fn persist(&mut self) {
        if self.actions.last() != Some(&Action::Persist) {
            self.actions.push(Action::Persist);
        }
    }

    /// The instance `who` of master `m`.
    pub fn inst(&self, m: &str, who: &Who) -> Option<&Instance> {
        let master = self.masters.get(m)?;
        match who {
            Who::Master => Some(&master.inst),
            Who::Replica(k) => master.replicas.get(k).map(|r| &r.inst),
            Who::Sentinel(id) => master.sentinels.get(id).map(|p| &p.inst),
        }
    }

    pub fn inst_mut(&mut self, m: &str, who: &Who) -> Option<&mut Instance> {
        let master = self.masters.get_mut(m)?;
        match who {
            Who::Master => Some(&mut master.inst),
            Who::Replica(k) => master.replicas.get_mut(k).map(|r| &mut r.inst),
            Who::Sentinel(id) => master.sentinels.get_mut(id).map(|p| &mut p.inst),
        }
    }

    /// The address an instance is reported by: its hostname with `announce-hostnames yes`,
    /// else its IP.
    pub fn shown_host(&self, i: &Instance) -> String {
        match (&i.hostname, self.globals.announce_hostnames) {
            (Some(h), true) => h.clone(),
            _ => i.host.clone(),
        }
    }

    /// The master's current address as clients and hellos see it.
    pub fn announced_addr(&self, m: &str) -> Option<(String, u16)> {
        let x = self.masters.get(m)?;
        let inst = if x.failover >= FailoverState::ReconfSlaves {
            x.promoted
                .as_ref()
                .and_then(|k| x.replicas.get(k))
                .map(|r| &r.inst)
                .unwrap_or(&x.inst)
        } else {
            &x.inst
        };
        Some((self.shown_host(inst), inst.port))
    }

    /// `master <name> <ip> <port>` or `<type> <name> <ip> <port> @ <master> <ip> <port>`.
    pub fn detail(&self, m: &str, who: &Who) -> String {
        let Some(master) = self.masters.get(m) else {
            return String::new();
        };
        let mh = &self.shown_host(&master.inst);
        let mp = master.inst.port;
        match who {
            Who::Master => format!("master {} {} {}", m, mh, mp),
            _ => match self.inst(m, who) {
                Some(i) => format!(
                    "{} {} {} {} @ {} {} {}",
                    i.kind.name(),
                    i.name,
                    self.shown_host(i),
                    i.port,
                    m,
                    mh,
                    mp
                ),
                None => String::new(),
            },
        }
    }

    /// Emits an event without an instance prefix.
    pub fn event_plain(&mut self, level: Level, kind: &str, text: String) {
        self.actions.push(Action::Event {
            level,
            kind: kind.to_string(),
            text,
        });
    }

    /// Emits an event about an instance: its details, then `extra`.
    pub fn event(&mut self, level: Level, kind: &str, m: &str, who: &Who, extra: &str) {
        let text = format!("{}{}", self.detail(m, who), extra);
        if level == Level::Warning {
            if let Some(script) = self
                .masters
                .get(m)
                .and_then(|x| x.notification_script.clone())
            {
                self.actions.push(Action::Script {
                    argv: vec![script, kind.to_string(), text.clone()],
                });
            }
        }
        self.actions.push(Action::Event {
            level,
            kind: kind.to_string(),
            text,
        });
    }

    /// Runs one timer tick.
    pub fn tick(&mut self, now: u64) {
        self.check_tilt(now);
        let names: Vec<String> = self.masters.keys().cloned().collect();
        for m in &names {
            self.handle_instance(m, &Who::Master, now);
            let replicas: Vec<String> = self
                .masters
                .get(m)
                .map(|x| x.replicas.keys().cloned().collect())
                .unwrap_or_default();
            for r in replicas {
                self.handle_instance(m, &Who::Replica(r), now);
            }
            let peers: Vec<String> = self
                .masters
                .get(m)
                .map(|x| x.sentinels.keys().cloned().collect())
                .unwrap_or_default();
            for p in peers {
                self.handle_instance(m, &Who::Sentinel(p), now);
            }
            self.fencing_tick(m, now);
        }
        for m in &names {
            if self
                .masters
                .get(m)
                .map(|x| x.failover == FailoverState::UpdateConfig)
                .unwrap_or(false)
            {
                self.switch_to_promoted(m, now);
            }
        }
        if self.globals.forget_after > 0 && !self.tilt {
            for m in &names {
                self.forget_stale(m, now);
            }
        }
    }

    /// Drops peers and replicas gone for longer than `forget-after` (see [`Globals`]).
    fn forget_stale(&mut self, m: &str, now: u64) {
        let limit = self.globals.forget_after;
        let Some(x) = self.masters.get(m) else { return };
        if x.failover != FailoverState::None {
            return;
        }
        let peers: Vec<String> = x
            .sentinels
            .values()
            .filter(|p| {
                !p.inst.link.cc_connected
                    && now.saturating_sub(p.inst.last_hello_time.max(p.inst.link.last_avail_time))
                        > limit
            })
            .map(|p| p.inst.name.clone())
            .collect();
        let replicas: Vec<String> = x
            .replicas
            .values()
            .filter(|r| {
                r.inst.s_down
                    && !r.promoted
                    && now.saturating_sub(r.inst.link.last_avail_time) > limit
            })
            .map(|r| r.inst.name.clone())
            .collect();
        for id in peers {
            let who = Who::Sentinel(id.clone());
            self.event(Level::Notice, "-sentinel", m, &who, "");
            self.close_links(m, &who);
            if let Some(x) = self.masters.get_mut(m) {
                x.sentinels.remove(&id);
            }
            self.persist();
        }
        for k in replicas {
            let who = Who::Replica(k.clone());
            self.event(Level::Notice, "-slave", m, &who, "");
            self.close_links(m, &who);
            if let Some(x) = self.masters.get_mut(m) {
                x.replicas.remove(&k);
            }
            self.persist();
        }
    }

    fn check_tilt(&mut self, now: u64) {
        if let Some(prev) = self.previous_time {
            let delta = now as i64 - prev as i64;
            if delta < 0 || delta as u64 > self.timing.tilt_trigger {
                self.tilt = true;
                self.tilt_start = now;
                self.event_plain(Level::Warning, "+tilt", "#tilt mode entered".into());
            }
        }
        self.previous_time = Some(now);
    }

    fn handle_instance(&mut self, m: &str, who: &Who, now: u64) {
        if self.inst(m, who).is_none() {
            return;
        }
        self.reconnect(m, who, now);
        self.send_periodic(m, who, now);
        if self.tilt {
            if now.saturating_sub(self.tilt_start) < self.timing.tilt_period {
                return;
            }
            self.tilt = false;
            self.event_plain(Level::Warning, "-tilt", "#tilt mode exited".into());
        }
        self.check_sdown(m, who, now);
        if *who == Who::Master {
            self.check_odown(m, now);
            if self.start_failover_if_needed(m, now) {
                self.ask_master_state(m, now, true);
            }
            self.failover_step(m, now);
            self.ask_master_state(m, now, false);
        }
    }
}
