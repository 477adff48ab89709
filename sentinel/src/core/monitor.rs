//! Monitoring: connections, the periodic PING / INFO / hello, reply handling, INFO processing
//! (discovery, role changes, reconfiguration progress, enforcement) and hello processing.

use super::hello::Hello;
use super::info::{parse_info, InfoReport};
use super::model::*;
use super::{Frame, Level, Sentinel, Tag, Who, HELLO_CHANNEL};
use bytes::Bytes;

impl Sentinel {
    fn auth_handshake(&self, m: &str, who: &Who) -> Option<Vec<Bytes>> {
        let master = self.masters.get(m)?;
        let (user, pass) = match who {
            Who::Sentinel(_) => (
                self.globals.sentinel_user.clone(),
                self.globals
                    .sentinel_pass
                    .clone()
                    .or(self.globals.requirepass.clone()),
            ),
            _ => (master.auth_user.clone(), master.auth_pass.clone()),
        };
        let pass = pass?;
        let mut v = vec![Bytes::from(master.cmd("AUTH"))];
        if let Some(u) = user {
            v.push(Bytes::from(u));
        }
        v.push(Bytes::from(pass));
        Some(v)
    }

    /// Opens missing connections, at most once per ping period per instance.
    pub(crate) fn reconnect(&mut self, m: &str, who: &Who, now: u64) {
        let ping_period = self.timing.ping_period;
        let Some(inst) = self.inst(m, who) else {
            return;
        };
        if inst.port == 0 {
            return;
        }
        let need_cc = inst.link.cc.is_none();
        let need_pc = inst.kind != Kind::Sentinel && inst.link.pc.is_none();
        if !need_cc && !need_pc || now.saturating_sub(inst.link.last_reconn_time) < ping_period {
            return;
        }
        let is_peer = inst.kind == Kind::Sentinel;
        if need_cc && is_peer && self.share_peer_link(m, who) {
            return;
        }
        let Some(inst) = self.inst(m, who) else {
            return;
        };
        // By hostname when one was configured: resolved again on every reconnect.
        let (host, port) = (
            inst.hostname.clone().unwrap_or_else(|| inst.host.clone()),
            inst.port,
        );
        let Some(master) = self.masters.get(m) else {
            return;
        };
        let setname = master.cmd("CLIENT");
        let subscribe = master.cmd("SUBSCRIBE");
        let id8: String = self.myid.chars().take(8).collect();
        let auth = self.auth_handshake(m, who);
        if need_cc {
            let link = self.new_link(m, who, false);
            let mut hs: Vec<Vec<Bytes>> = auth.iter().cloned().collect();
            hs.push(vec![
                Bytes::from(setname.clone()),
                Bytes::from_static(b"SETNAME"),
                Bytes::from(format!("sentinel-{id8}-cmd")),
            ]);
            self.actions.push(super::Action::Connect {
                link,
                host: host.clone(),
                port,
                pubsub: false,
                handshake: hs,
            });
            if let Some(i) = self.inst_mut(m, who) {
                i.link.cc = Some(link);
            }
        }
        if need_pc {
            let link = self.new_link(m, who, true);
            let mut hs: Vec<Vec<Bytes>> = auth.iter().cloned().collect();
            hs.push(vec![
                Bytes::from(setname),
                Bytes::from_static(b"SETNAME"),
                Bytes::from(format!("sentinel-{id8}-pubsub")),
            ]);
            hs.push(vec![
                Bytes::from(subscribe),
                Bytes::from_static(HELLO_CHANNEL.as_bytes()),
            ]);
            self.actions.push(super::Action::Connect {
                link,
                host,
                port,
                pubsub: true,
                handshake: hs,
            });
            if let Some(i) = self.inst_mut(m, who) {
                i.link.pc = Some(link);
            }
        }
        if let Some(i) = self.inst_mut(m, who) {
            i.link.last_reconn_time = now;
        }
    }

    pub(crate) fn on_connected(
        &mut self,
        m: &str,
        who: &Who,
        pubsub: bool,
        local_ip: String,
        now: u64,
    ) {
        let Some(inst) = self.inst_mut(m, who) else {
            return;
        };
        if pubsub {
            inst.link.pc_connected = true;
            inst.link.pc_conn_time = now;
            inst.link.pc_last_activity = now;
        } else {
            inst.link.cc_connected = true;
            inst.link.cc_conn_time = now;
            inst.link.local_ip = Some(local_ip);
            // A fresh connection asks for INFO at once rather than at the next period, so an
            // instance that comes back is seen (and reconfigured) sooner than in Redis.
            inst.info_refresh = 0;
            let data_node = inst.kind != Kind::Sentinel;
            self.send_ping(m, who, now);
            if data_node {
                if let Some(info) = self.masters.get(m).map(|x| x.cmd("INFO")) {
                    self.send(m, who, vec![info], Tag::Info);
                }
            }
        }
    }

    fn send_ping(&mut self, m: &str, who: &Who, now: u64) {
        let ping = self
            .masters
            .get(m)
            .map(|x| x.cmd("PING"))
            .unwrap_or_else(|| "PING".into());
        if self.send(m, who, vec![ping], Tag::Ping) {
            if let Some(i) = self.inst_mut(m, who) {
                i.link.last_ping_time = now;
                if i.link.act_ping_time == 0 {
                    i.link.act_ping_time = now;
                }
            }
            self.sync_shared(m, who);
        }
    }

    /// The PING, INFO and hello cadence of §4.3.
    pub(crate) fn send_periodic(&mut self, m: &str, who: &Who, now: u64) {
        let Some(master) = self.masters.get(m) else {
            return;
        };
        let down_after = master.down_after;
        let master_troubled = master.o_down || master.failover != FailoverState::None;
        let Some(inst) = self.inst(m, who) else {
            return;
        };
        if !inst.link.connected(inst.kind) || inst.link.pending >= 100 {
            return;
        }
        let link_down_time = match who {
            Who::Replica(k) => master
                .replicas
                .get(k)
                .map(|r| r.master_link_down_time)
                .unwrap_or(0),
            _ => 0,
        };
        let failing_over = master.failover != FailoverState::None;
        let info_period = if inst.kind == Kind::Replica && failing_over {
            self.timing.failover_info_period
        } else if inst.kind == Kind::Replica && (master_troubled || link_down_time != 0) {
            1000
        } else {
            self.timing.info_period
        };
        let ping_period = down_after.min(self.timing.ping_period);
        let want_info = inst.kind != Kind::Sentinel
            && (inst.info_refresh == 0 || now.saturating_sub(inst.info_refresh) > info_period);
        let want_ping = now.saturating_sub(inst.link.last_pong_time) > ping_period
            && now.saturating_sub(inst.link.last_ping_time) > ping_period / 2;
        let want_hello = now.saturating_sub(inst.last_pub_time) > self.timing.publish_period;
        if want_info {
            let info = master.cmd("INFO");
            self.send(m, who, vec![info], Tag::Info);
        }
        if want_ping {
            self.send_ping(m, who, now);
        }
        if want_hello {
            self.send_hello(m, who);
        }
    }

    /// The hello payload for master `m` as seen from a link with local address `local_ip`.
    pub fn hello_payload(&self, m: &str, local_ip: Option<&str>) -> Option<String> {
        let master = self.masters.get(m)?;
        let ip = self
            .globals
            .announce_ip
            .clone()
            .or_else(|| local_ip.map(String::from))?;
        let port = if self.globals.announce_port != 0 {
            self.globals.announce_port
        } else {
            self.globals.port
        };
        let (mh, mp) = self.announced_addr(m)?;
        Some(
            Hello {
                ip,
                port,
                runid: self.myid.clone(),
                current_epoch: self.current_epoch,
                master_name: m.to_string(),
                master_ip: mh,
                master_port: mp,
                master_config_epoch: master.config_epoch,
            }
            .encode(),
        )
    }

    fn send_hello(&mut self, m: &str, who: &Who) {
        let local = self.inst(m, who).and_then(|i| i.link.local_ip.clone());
        let Some(payload) = self.hello_payload(m, local.as_deref()) else {
            return;
        };
        let publish = self
            .masters
            .get(m)
            .map(|x| x.cmd("PUBLISH"))
            .unwrap_or_else(|| "PUBLISH".into());
        self.send(
            m,
            who,
            vec![publish, HELLO_CHANNEL.to_string(), payload],
            Tag::Hello,
        );
    }

    pub(crate) fn on_reply(&mut self, m: &str, who: &Who, tag: Tag, frame: Frame, now: u64) {
        if let Some(i) = self.inst_mut(m, who) {
            i.link.pending = i.link.pending.saturating_sub(1);
        }
        match tag {
            Tag::Ping => {
                let text = match &frame {
                    Frame::Simple(s) | Frame::Error(s) => s.clone(),
                    _ => String::new(),
                };
                let s_down = self
                    .inst(m, who)
                    .map(|i| i.s_down && !i.script_kill_sent)
                    .unwrap_or(false);
                if let Some(i) = self.inst_mut(m, who) {
                    i.link.last_pong_time = now;
                    if text.starts_with("PONG")
                        || text.starts_with("LOADING")
                        || text.starts_with("MASTERDOWN")
                    {
                        i.link.last_avail_time = now;
                        i.link.act_ping_time = 0;
                        if text.starts_with("PONG") {
                            i.master_reboot = false;
                        }
                    }
                }
                if text.starts_with("BUSY") && s_down {
                    let cmd = self
                        .masters
                        .get(m)
                        .map(|x| x.cmd("SCRIPT"))
                        .unwrap_or_default();
                    self.send(m, who, vec![cmd, "KILL".into()], Tag::Ignore);
                    if let Some(i) = self.inst_mut(m, who) {
                        i.script_kill_sent = true;
                    }
                }
            }
            Tag::Info => {
                if let Some(t) = frame.text() {
                    self.refresh_from_info(m, who, &t, now);
                }
            }
            Tag::Hello => {
                if !frame.is_error() {
                    if let Some(i) = self.inst_mut(m, who) {
                        i.last_pub_time = now;
                    }
                }
            }
            Tag::IsMasterDown => {
                if let (Who::Sentinel(id), Frame::Array(Some(items))) = (who, &frame) {
                    if let [Frame::Int(down), leader, Frame::Int(epoch)] = &items[..] {
                        let leader = leader.text();
                        if let Some(p) = self
                            .masters
                            .get_mut(m)
                            .and_then(|x| x.sentinels.get_mut(id))
                        {
                            p.last_master_down_reply_time = now;
                            p.master_down = *down == 1;
                            if let Some(l) = leader.filter(|l| l != "*") {
                                p.leader = Some(l);
                                p.leader_epoch = *epoch as u64;
                            }
                        }
                    }
                }
            }
            Tag::CoordInfo => {
                let offset = frame.text().and_then(|t| {
                    t.split("\r\n").find_map(|l| {
                        l.strip_prefix("master_repl_offset:")
                            .and_then(|v| v.trim().parse::<u64>().ok())
                    })
                });
                if let (Some(o), Some(x)) = (offset, self.masters.get_mut(m)) {
                    if let Some(c) = x.coordinated.as_mut() {
                        c.target_offset = Some(o);
                    }
                }
            }
            Tag::Lease => self.on_lease_reply(m, &frame, now),
            Tag::Ignore => {}
        }
    }

    /// True when the master is configured and reported as master, is up, and its INFO is fresh.
    pub(crate) fn master_looks_sane(&self, m: &str, now: u64) -> bool {
        let Some(x) = self.masters.get(m) else {
            return false;
        };
        x.inst.role_reported_master
            && !x.inst.s_down
            && !x.o_down
            && now.saturating_sub(x.inst.info_refresh) < self.timing.info_period * 2
    }

    /// The instance has not been S/ODOWN within the last `ms`.
    fn no_down_for(inst: &Instance, o_down_since: u64, ms: u64, now: u64) -> bool {
        let recent = inst.s_down_since.max(o_down_since);
        recent == 0 || now.saturating_sub(recent) > ms
    }

    /// §4.5: what an INFO reply tells and what Sentinel does about it.
    pub(crate) fn refresh_from_info(&mut self, m: &str, who: &Who, text: &str, now: u64) {
        let configured_master = *who == Who::Master;
        let r = parse_info(text, configured_master);
        self.note_run_id(m, who, &r, now);
        if configured_master {
            self.discover_replicas(m, &r, now);
        }
        if let Who::Replica(k) = who {
            self.update_replica(m, k, &r, now);
        }
        if let Some(i) = self.inst_mut(m, who) {
            i.info_refresh = now;
            i.info_text = Some(text.to_string());
        }
        // Role changes are reported even in TILT.
        let Some(reported_master) = r.role_master else {
            return;
        };
        self.note_role(m, who, reported_master, now);
        if self.tilt {
            return;
        }
        let Who::Replica(k) = who else { return };
        if reported_master {
            self.replica_reports_master(m, who, k, &r, now);
        } else {
            self.fix_replica_config(m, who, k, now);
            self.track_reconfiguration(m, who, k);
        }
    }

    /// Run id: the first sighting, or a reboot (`+reboot`; a configured master with
    /// `master-reboot-down-after-period` is then flagged).
    fn note_run_id(&mut self, m: &str, who: &Who, r: &InfoReport, now: u64) {
        let configured_master = *who == Who::Master;
        let reboot_period = self
            .masters
            .get(m)
            .map(|x| x.reboot_down_after)
            .unwrap_or(0);
        // Run id: first sighting or a reboot.
        if let Some(id) = &r.run_id {
            let prev = self.inst(m, who).and_then(|i| i.runid.clone());
            if prev.as_deref() != Some(id) {
                if prev.is_some() {
                    self.event(Level::Notice, "+reboot", m, who, "");
                    if let Some(i) = self.inst_mut(m, who) {
                        i.rebooted_at = now;
                    }
                    if configured_master && reboot_period != 0 {
                        if let Some(i) = self.inst_mut(m, who) {
                            i.master_reboot = true;
                            i.master_reboot_since = now;
                        }
                    }
                }
                if let Some(i) = self.inst_mut(m, who) {
                    i.runid = Some(id.clone());
                }
            }
        }
    }

    /// A replica announced by hostname (`replica-announce-ip`) with `resolve-hostnames yes`:
    /// the IP is resolved now and the name kept, so `announce-hostnames` picks either.
    pub(crate) fn resolve_announced(&self, inst: &mut Instance) {
        if !self.globals.resolve_hostnames || inst.host.parse::<std::net::IpAddr>().is_ok() {
            return;
        }
        if let Some(ip) = self.globals.resolver.and_then(|r| r(&inst.host)) {
            inst.hostname = Some(std::mem::replace(&mut inst.host, ip));
        }
    }

    /// Replica discovery from the master's slaveN lines (`+slave`).
    fn discover_replicas(&mut self, m: &str, r: &InfoReport, now: u64) {
        // Replica discovery from the master's slaveN lines.
        for line in &r.replicas {
            let key = addr_name(&line.ip, line.port);
            let exists = self
                .masters
                .get(m)
                .map(|x| x.replicas.contains_key(&key))
                .unwrap_or(true);
            if !exists {
                let mut rep = Replica::new(line.ip.clone(), line.port, now);
                self.resolve_announced(&mut rep.inst);
                if let Some(x) = self.masters.get_mut(m) {
                    x.replicas.insert(key.clone(), rep);
                }
                self.event(Level::Notice, "+slave", m, &Who::Replica(key.clone()), "");
                self.persist();
                // Connected at once rather than at the next tick: a replica just discovered
                // is a candidate for a failover asked for right away (SENTINEL FAILOVER).
                self.reconnect(m, &Who::Replica(key), now);
            }
        }
    }

    /// A replica's own INFO: its master as it sees it, link, priority, offset, announced.
    fn update_replica(&mut self, m: &str, k: &str, r: &InfoReport, now: u64) {
        if let Some(rep) = self.masters.get_mut(m).and_then(|x| x.replicas.get_mut(k)) {
            rep.master_link_down_time = r.master_link_down_since_ms;
            if r.role_master == Some(false) {
                if r.master_host != rep.master_host || r.master_port.unwrap_or(0) != rep.master_port
                {
                    rep.conf_change_time = now;
                }
                rep.master_host = r.master_host.clone();
                rep.master_port = r.master_port.unwrap_or(0);
                rep.master_link_up = r.master_link_up;
                if let Some(p) = r.slave_priority {
                    rep.priority = p;
                }
                if let Some(o) = r.slave_repl_offset {
                    rep.repl_offset = o;
                }
                if let Some(a) = r.replica_announced {
                    rep.announced = a;
                }
            }
        }
    }

    /// The role the instance reports: `+role-change` / `-role-change` when it changed.
    fn note_role(&mut self, m: &str, who: &Who, reported_master: bool, now: u64) {
        let Some(inst) = self.inst(m, who) else {
            return;
        };
        if inst.role_reported_master != reported_master {
            let kind = inst.kind;
            if let Some(i) = self.inst_mut(m, who) {
                i.role_reported_master = reported_master;
                i.role_reported_time = now;
            }
            let matches = (kind == Kind::Master) == reported_master;
            let ev = if matches {
                "+role-change"
            } else {
                "-role-change"
            };
            self.event(
                Level::Verbose,
                ev,
                m,
                who,
                &format!(
                    " new reported role is {}",
                    if reported_master { "master" } else { "slave" }
                ),
            );
        }
    }

    /// A replica that reports itself a master: the promotion being waited for, or an old
    /// master back from the dead that is turned into a replica (`+convert-to-slave`).
    fn replica_reports_master(&mut self, m: &str, who: &Who, k: &str, r: &InfoReport, now: u64) {
        let Some(master) = self.masters.get(m) else {
            return;
        };
        let Some(rep) = master.replicas.get(k) else {
            return;
        };
        let (failover, promoted) = (master.failover, rep.promoted);
        if promoted && failover == FailoverState::WaitPromotion {
            self.on_promotion_observed(m, k, now);
        } else if !promoted {
            // Redis's rule: 8 s after the role change with no recent down state; or
            // Picket's confirmed fast rejoin.
            let slow_ok = self.master_looks_sane(m, now)
                && Self::no_down_for(&rep.inst, 0, self.timing.publish_period * 4, now)
                && now.saturating_sub(rep.inst.role_reported_time) > self.timing.publish_period * 4;
            if slow_ok || self.fast_rejoin_ok(m, k, r, now) {
                let target = (master.inst.host.clone(), master.inst.port);
                if self.send_slaveof(m, who, Some(target)) {
                    self.event(Level::Notice, "+convert-to-slave", m, who, "");
                }
            }
        }
    }

    /// A replica following the wrong master is pointed back (`+fix-slave-config`).
    fn fix_replica_config(&mut self, m: &str, who: &Who, k: &str, now: u64) {
        let Some(master) = self.masters.get(m) else {
            return;
        };
        let Some(rep) = master.replicas.get(k) else {
            return;
        };
        let (failover_timeout, promoted) = (master.failover_timeout, rep.promoted);
        // A replica following the wrong master.
        let (mh, mp) = (master.inst.host.clone(), master.inst.port);
        let wrong = rep.master_port != mp || !self.names_host(m, rep.master_host.as_deref(), &mh);
        if wrong
            && !promoted
            && self.master_looks_sane(m, now)
            && Self::no_down_for(&rep.inst, 0, failover_timeout, now)
            && now.saturating_sub(rep.conf_change_time) > failover_timeout
            && self.send_slaveof(m, who, Some((mh, mp)))
        {
            self.event(Level::Notice, "+fix-slave-config", m, who, "");
        }
    }

    /// Reconfiguration progress during a failover (`+slave-reconf-inprog`, `-done`).
    fn track_reconfiguration(&mut self, m: &str, who: &Who, k: &str) {
        let Some(master) = self.masters.get(m) else {
            return;
        };
        let promoted_addr = master
            .promoted
            .as_ref()
            .and_then(|p| master.replicas.get(p))
            .map(|p| (p.inst.host.clone(), p.inst.port));
        let Some(rep) = master.replicas.get(k) else {
            return;
        };
        let (reconf, host, port, up) = (
            rep.reconf,
            rep.master_host.clone(),
            rep.master_port,
            rep.master_link_up,
        );
        if let Some((ph, pp)) = promoted_addr {
            let points_to_promoted = self.names_host(m, host.as_deref(), &ph) && port == pp;
            if matches!(reconf, Reconf::Sent(_)) && points_to_promoted {
                if let Some(r) = self.masters.get_mut(m).and_then(|x| x.replicas.get_mut(k)) {
                    r.reconf = Reconf::InProgress;
                }
                self.event(Level::Notice, "+slave-reconf-inprog", m, who, "");
            }
            let reconf = self
                .masters
                .get(m)
                .and_then(|x| x.replicas.get(k))
                .map(|r| r.reconf);
            if reconf == Some(Reconf::InProgress) && up {
                if let Some(r) = self.masters.get_mut(m).and_then(|x| x.replicas.get_mut(k)) {
                    r.reconf = Reconf::Done;
                }
                self.event(Level::Notice, "+slave-reconf-done", m, who, "");
            }
        }
    }

    /// Picket's fast rejoin: a master we failed over that restarted (new run_id) and comes back
    /// still claiming to be a master, with no replicas of its own, is turned into a replica at once instead of after
    /// Redis's 8 s wait, when our view is confirmed: the current master looks sane and at least
    /// quorum-1 peers announced our config epoch within the last two hello periods. The 8 s
    /// exist so that a sentinel with a stale view cannot demote a newer master; the
    /// confirmation covers that case.
    fn fast_rejoin_ok(&self, m: &str, k: &str, r: &super::info::InfoReport, now: u64) -> bool {
        let Some(x) = self.masters.get(m) else {
            return false;
        };
        let Some(rep) = x.replicas.get(k) else {
            return false;
        };
        // Only an instance that restarted (new run_id): a replica promoted by SLAVEOF NO ONE
        // keeps its run_id, so another leader's fresh promotion is never undone here.
        // The restart must show in this very INFO (run_id changed now): any later INFO may
        // already reflect a promotion by another leader.
        let restarted = rep.inst.rebooted_at == now;
        if !restarted
            || !rep.demoted_master
            || r.connected_slaves != Some(0)
            || x.config_epoch == 0
            || !self.master_looks_sane(m, now)
        {
            return false;
        }
        let fresh = self.timing.publish_period * 2;
        let confirming = x
            .sentinels
            .values()
            .filter(|p| {
                p.hello_config_epoch == x.config_epoch
                    && now.saturating_sub(p.inst.last_hello_time) <= fresh
            })
            .count() as u32;
        confirming + 1 >= x.quorum
    }

    /// §4.4: a hello heard on a hello channel or PUBLISHed to us.
    pub fn process_hello(&mut self, payload: &str, now: u64) {
        let Some(h) = Hello::parse(payload) else {
            return;
        };
        let m = h.master_name.clone();
        if !self.masters.contains_key(&m) {
            return;
        }
        let known = self
            .masters
            .get(&m)
            .and_then(|x| x.sentinels.get(&h.runid))
            .map(|p| p.inst.host == h.ip && p.inst.port == h.port)
            .unwrap_or(false);
        if !known {
            self.learn_peer(&m, &h, now);
            self.persist();
        }
        if h.current_epoch > self.current_epoch {
            self.current_epoch = h.current_epoch;
            self.persist();
            self.event_plain(Level::Warning, "+new-epoch", h.current_epoch.to_string());
        }
        self.follow_config_epoch(&m, &h, now);
        if let Some(p) = self
            .masters
            .get_mut(&m)
            .and_then(|x| x.sentinels.get_mut(&h.runid))
        {
            p.inst.last_hello_time = now;
            p.hello_config_epoch = h.master_config_epoch;
        }
    }

    /// A peer not known at this address: a new one (`+sentinel`), or a known run id at a new
    /// address (`+sentinel-address-switch`, updated under every master); another run id that
    /// claimed this address is stale everywhere (`+sentinel-invalid-addr`).
    fn learn_peer(&mut self, m: &str, h: &Hello, now: u64) {
        let m = m.to_string();
        // The same run id at another address: an address switch.
        let removed = self
            .masters
            .get(&m)
            .map(|x| x.sentinels.contains_key(&h.runid))
            .unwrap_or(false);
        if removed {
            self.close_links(&m, &Who::Sentinel(h.runid.clone()));
            if let Some(x) = self.masters.get_mut(&m) {
                x.sentinels.remove(&h.runid);
            }
            self.event(
                Level::Notice,
                "+sentinel-address-switch",
                &m,
                &Who::Master,
                &format!(" ip {} port {} for {}", h.ip, h.port, h.runid),
            );
        } else {
            // Another run id claiming this address is stale everywhere.
            let other = self.masters.get(&m).and_then(|x| {
                x.sentinels
                    .values()
                    .find(|p| p.inst.host == h.ip && p.inst.port == h.port)
                    .map(|p| p.inst.name.clone())
            });
            if let Some(o) = other {
                self.event(
                    Level::Notice,
                    "+sentinel-invalid-addr",
                    &m,
                    &Who::Sentinel(o.clone()),
                    "",
                );
                let names: Vec<String> = self.masters.keys().cloned().collect();
                for n in names {
                    self.close_links(&n, &Who::Sentinel(o.clone()));
                    if let Some(x) = self.masters.get_mut(&n) {
                        x.sentinels.remove(&o);
                    }
                }
            }
        }
        if let Some(x) = self.masters.get_mut(&m) {
            x.sentinels.insert(
                h.runid.clone(),
                Peer::new(h.runid.clone(), h.ip.clone(), h.port, now),
            );
        }
        if !removed {
            self.event(
                Level::Notice,
                "+sentinel",
                &m,
                &Who::Sentinel(h.runid.clone()),
                "",
            );
        } else {
            // Update the address under every other master too.
            let names: Vec<String> = self.masters.keys().filter(|n| **n != m).cloned().collect();
            for n in names {
                let has = self
                    .masters
                    .get(&n)
                    .map(|x| x.sentinels.contains_key(&h.runid))
                    .unwrap_or(false);
                if has {
                    self.close_links(&n, &Who::Sentinel(h.runid.clone()));
                    if let Some(p) = self
                        .masters
                        .get_mut(&n)
                        .and_then(|x| x.sentinels.get_mut(&h.runid))
                    {
                        p.inst.host = h.ip.clone();
                        p.inst.port = h.port;
                    }
                }
            }
        }
    }

    /// A hello with a newer configuration epoch for the master: follow its address
    /// (`+config-update-from`, `+switch-master`, the reconfig script).
    fn follow_config_epoch(&mut self, m: &str, h: &Hello, now: u64) {
        let m = m.to_string();
        let config_epoch = self.masters.get(&m).map(|x| x.config_epoch).unwrap_or(0);
        if config_epoch < h.master_config_epoch {
            if let Some(x) = self.masters.get_mut(&m) {
                x.config_epoch = h.master_config_epoch;
            }
            let (oh, ohn, op) = self
                .masters
                .get(&m)
                .map(|x| (x.inst.host.clone(), x.inst.hostname.clone(), x.inst.port))
                .unwrap_or_default();
            // Peers may announce the hostname or the IP of the same master.
            let same = (oh == h.master_ip || ohn.as_deref() == Some(h.master_ip.as_str()))
                && op == h.master_port;
            if !same {
                self.event(
                    Level::Warning,
                    "+config-update-from",
                    &m,
                    &Who::Sentinel(h.runid.clone()),
                    "",
                );
                self.event_plain(
                    Level::Warning,
                    "+switch-master",
                    format!("{} {} {} {} {}", m, oh, op, h.master_ip, h.master_port),
                );
                self.reset_and_change_address(&m, &h.master_ip, h.master_port, now);
                self.run_reconfig_script(&m, "observer", (&oh, op), (&h.master_ip, h.master_port));
            }
            self.persist();
        }
    }

    /// `client-reconfig-script <name> <role> start <from-ip> <from-port> <to-ip> <to-port>`.
    pub(crate) fn run_reconfig_script(
        &mut self,
        m: &str,
        role: &str,
        from: (&str, u16),
        to: (&str, u16),
    ) {
        if let Some(s) = self
            .masters
            .get(m)
            .and_then(|x| x.client_reconfig_script.clone())
        {
            self.actions.push(super::Action::Script {
                argv: vec![
                    s,
                    m.to_string(),
                    role.to_string(),
                    "start".into(),
                    from.0.to_string(),
                    from.1.to_string(),
                    to.0.to_string(),
                    to.1.to_string(),
                ],
            });
        }
    }
}
