//! The sentinel's data model: monitored masters, their replicas and peer sentinels, and the
//! per-link timing state that SDOWN is computed from.

use std::collections::BTreeMap;

pub type LinkId = u64;

/// What kind of instance something is (event prefixes, flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Master,
    Replica,
    Sentinel,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Master => "master",
            Kind::Replica => "slave",
            Kind::Sentinel => "sentinel",
        }
    }
}

/// The two connections of an instance (peers have only `cc`), with Redis's link timestamps.
#[derive(Debug, Clone, Default)]
pub struct Link {
    pub cc: Option<LinkId>,
    pub pc: Option<LinkId>,
    pub cc_connected: bool,
    pub pc_connected: bool,
    /// Time of the oldest PING still unanswered (0: none).
    pub act_ping_time: u64,
    pub last_ping_time: u64,
    pub last_pong_time: u64,
    pub last_avail_time: u64,
    pub pc_last_activity: u64,
    pub cc_conn_time: u64,
    pub pc_conn_time: u64,
    pub last_reconn_time: u64,
    pub pending: u32,
    /// Our address on the command connection (getsockname), for hellos.
    pub local_ip: Option<String>,
}

impl Link {
    pub fn new(now: u64) -> Link {
        Link {
            act_ping_time: now,
            last_avail_time: now,
            last_pong_time: now,
            ..Default::default()
        }
    }

    /// Connected: the command connection, and for masters and replicas the pub/sub one too.
    pub fn connected(&self, kind: Kind) -> bool {
        self.cc_connected && (kind == Kind::Sentinel || self.pc_connected)
    }
}

/// Fields every instance has.
#[derive(Debug, Clone)]
pub struct Instance {
    pub kind: Kind,
    /// Master name, `ip:port` for replicas, run id for sentinels.
    pub name: String,
    /// The address reported and connected to: an IP unless configured otherwise.
    pub host: String,
    pub port: u16,
    /// The configured hostname, when `resolve-hostnames yes` turned it into `host`: links
    /// connect by this name (re-resolved on every reconnect) and `announce-hostnames yes`
    /// reports it.
    pub hostname: Option<String>,
    pub runid: Option<String>,
    pub link: Link,
    pub s_down: bool,
    pub s_down_since: u64,
    pub info_refresh: u64,
    pub info_text: Option<String>,
    /// Role the instance reports in INFO (true = master).
    pub role_reported_master: bool,
    pub role_reported_time: u64,
    pub last_hello_time: u64,
    pub last_pub_time: u64,
    pub master_reboot: bool,
    pub master_reboot_since: u64,
    /// When INFO last showed a new run_id for this instance (it restarted), 0 if never.
    pub rebooted_at: u64,
    pub script_kill_sent: bool,
}

impl Instance {
    pub fn new(kind: Kind, name: String, host: String, port: u16, now: u64) -> Instance {
        Instance {
            kind,
            name,
            host,
            port,
            hostname: None,
            runid: None,
            link: Link::new(now),
            s_down: false,
            s_down_since: 0,
            info_refresh: 0,
            info_text: None,
            role_reported_master: kind != Kind::Replica,
            role_reported_time: now,
            last_hello_time: 0,
            last_pub_time: 0,
            master_reboot: false,
            master_reboot_since: 0,
            rebooted_at: 0,
            script_kill_sent: false,
        }
    }
}

/// Progress of a replica's reconfiguration during a failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconf {
    None,
    Sent(u64),
    InProgress,
    Done,
}

#[derive(Debug, Clone)]
pub struct Replica {
    pub inst: Instance,
    pub master_link_down_time: u64,
    pub master_link_up: bool,
    pub master_host: Option<String>,
    pub master_port: u16,
    pub priority: u64,
    pub repl_offset: u64,
    pub announced: bool,
    pub conf_change_time: u64,
    pub reconf: Reconf,
    pub promoted: bool,
    /// This entry is the address of a master we switched away from (see the fast rejoin rule
    /// in `monitor.rs`).
    pub demoted_master: bool,
}

impl Replica {
    pub fn new(host: String, port: u16, now: u64) -> Replica {
        Replica {
            inst: Instance::new(Kind::Replica, addr_name(&host, port), host, port, now),
            master_link_down_time: 0,
            master_link_up: false,
            master_host: None,
            master_port: 0,
            priority: 100,
            repl_offset: 0,
            announced: true,
            conf_change_time: now,
            reconf: Reconf::None,
            promoted: false,
            demoted_master: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Peer {
    pub inst: Instance,
    pub master_down: bool,
    pub last_master_down_reply_time: u64,
    pub leader: Option<String>,
    pub leader_epoch: u64,
    /// The master config epoch in this peer's last hello.
    pub hello_config_epoch: u64,
}

impl Peer {
    pub fn new(runid: String, host: String, port: u16, now: u64) -> Peer {
        let mut inst = Instance::new(Kind::Sentinel, runid.clone(), host, port, now);
        inst.runid = Some(runid);
        Peer {
            inst,
            master_down: false,
            last_master_down_reply_time: 0,
            leader: None,
            leader_epoch: 0,
            hello_config_epoch: 0,
        }
    }
}

/// Progress of a coordinated manual failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Coordination {
    /// CLIENT PAUSE WRITE and INFO were sent to the old master.
    pub paused: bool,
    /// The old master's replication offset once writes were paused.
    pub target_offset: Option<u64>,
}

/// The failover state machine's states (names as INFO and SENTINEL MASTER show them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailoverState {
    None,
    WaitStart,
    SelectSlave,
    SendSlaveofNoOne,
    WaitPromotion,
    ReconfSlaves,
    UpdateConfig,
}

impl FailoverState {
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoOne => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

pub const DEFAULT_DOWN_AFTER: u64 = 30_000;
pub const DEFAULT_FAILOVER_TIMEOUT: u64 = 180_000;

#[derive(Debug, Clone)]
pub struct Master {
    pub inst: Instance,
    pub quorum: u32,
    pub down_after: u64,
    pub failover_timeout: u64,
    pub parallel_syncs: u32,
    pub auth_pass: Option<String>,
    pub auth_user: Option<String>,
    pub notification_script: Option<String>,
    pub client_reconfig_script: Option<String>,
    pub reboot_down_after: u64,
    /// rename-command: (original lowercase, new name).
    pub renamed: Vec<(String, String)>,
    pub o_down: bool,
    pub o_down_since: u64,
    pub config_epoch: u64,
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub failover: FailoverState,
    pub failover_epoch: u64,
    pub failover_state_change_time: u64,
    pub failover_start_time: u64,
    pub force_failover: bool,
    /// SENTINEL FAILOVER ... COORDINATED: writes paused on the old master until the chosen
    /// replica has its offset.
    pub coordinated: Option<Coordination>,
    /// Key of the replica being promoted.
    pub promoted: Option<String>,
    pub replicas: BTreeMap<String, Replica>,
    pub sentinels: BTreeMap<String, Peer>,
    /// Fencing mode (`sentinel fencing`, docs/fencing.md).
    pub fencing: Option<super::fencing::Fencing>,
}

impl Master {
    pub fn new(name: String, host: String, port: u16, quorum: u32, now: u64) -> Master {
        Master {
            inst: Instance::new(Kind::Master, name, host, port, now),
            quorum,
            down_after: DEFAULT_DOWN_AFTER,
            failover_timeout: DEFAULT_FAILOVER_TIMEOUT,
            parallel_syncs: 1,
            auth_pass: None,
            auth_user: None,
            notification_script: None,
            client_reconfig_script: None,
            reboot_down_after: 0,
            renamed: Vec::new(),
            o_down: false,
            o_down_since: 0,
            config_epoch: 0,
            leader: None,
            leader_epoch: 0,
            failover: FailoverState::None,
            failover_epoch: 0,
            failover_state_change_time: 0,
            failover_start_time: 0,
            force_failover: false,
            coordinated: None,
            promoted: None,
            replicas: BTreeMap::new(),
            sentinels: BTreeMap::new(),
            fencing: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.inst.name
    }

    /// A command name after the master's rename-command table.
    pub fn cmd(&self, name: &str) -> String {
        self.renamed
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(name))
            .map(|(_, b)| b.clone())
            .unwrap_or_else(|| name.to_string())
    }

    /// The address clients should use now: the promoted replica once reconfiguration started.
    pub fn current_addr(&self) -> (String, u16) {
        if self.failover >= FailoverState::ReconfSlaves {
            if let Some(r) = self.promoted.as_ref().and_then(|k| self.replicas.get(k)) {
                return (r.inst.host.clone(), r.inst.port);
            }
        }
        (self.inst.host.clone(), self.inst.port)
    }
}

/// `ip:port`, or `[ipv6]:port`.
pub fn addr_name(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
