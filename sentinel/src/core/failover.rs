//! The failover state machine (§4.9), replica selection (§4.11), and the reset-and-switch of a
//! master's address (§4.10) used by the leader at the end and by observers on a newer config.

use super::model::*;
use super::{Level, Sentinel, Who};

/// How long a fencing leader waits to reach enough replicas before it gives up this attempt.
const REACH_WAIT_MS: u64 = 10_000;

impl Sentinel {
    /// Starts a failover when the master is ODOWN and the back-off since the last attempt (or
    /// the last vote for another sentinel) has passed.
    pub(crate) fn start_failover_if_needed(&mut self, m: &str, now: u64) -> bool {
        let Some(x) = self.masters.get(m) else {
            return false;
        };
        if !x.o_down || x.failover != FailoverState::None {
            return false;
        }
        if now < x.failover_start_time + 2 * x.failover_timeout {
            return false;
        }
        if self.fencing_promise(m, now) {
            return false;
        }
        self.start_failover(m, now);
        true
    }

    pub fn start_failover(&mut self, m: &str, now: u64) {
        self.current_epoch += 1;
        let epoch = self.current_epoch;
        let jitter = self.rng.below(1000);
        if let Some(x) = self.masters.get_mut(m) {
            x.failover = FailoverState::WaitStart;
            x.failover_state_change_time = now;
            x.failover_epoch = epoch;
            x.failover_start_time = now + jitter;
        }
        self.event_plain(Level::Warning, "+new-epoch", epoch.to_string());
        self.event(Level::Warning, "+try-failover", m, &Who::Master, "");
    }

    fn set_state(&mut self, m: &str, s: FailoverState, now: u64) {
        if let Some(x) = self.masters.get_mut(m) {
            x.failover = s;
            x.failover_state_change_time = now;
        }
    }

    /// Announces why, then gives up the failover.
    fn abort_with(&mut self, m: &str, event: &str, now: u64) {
        self.event(Level::Warning, event, m, &Who::Master, "");
        self.abort_failover(m, now);
    }

    /// Gives up a failover that has not promoted anyone yet.
    pub(crate) fn abort_failover(&mut self, m: &str, now: u64) {
        let Some(x) = self.masters.get_mut(m) else {
            return;
        };
        if x.failover > FailoverState::WaitPromotion {
            return;
        }
        x.failover = FailoverState::None;
        x.failover_state_change_time = now;
        x.force_failover = false;
        x.coordinated = None;
        if let Some(k) = x.promoted.take() {
            if let Some(r) = x.replicas.get_mut(&k) {
                r.promoted = false;
            }
        }
    }

    pub(crate) fn failover_step(&mut self, m: &str, now: u64) {
        let Some(x) = self.masters.get(m) else { return };
        let (state, timeout, change, start, epoch, force) = (
            x.failover,
            x.failover_timeout,
            x.failover_state_change_time,
            x.failover_start_time,
            x.failover_epoch,
            x.force_failover,
        );
        match state {
            FailoverState::None | FailoverState::UpdateConfig => {}
            FailoverState::WaitStart => {
                let leader = self.get_leader(m, epoch, now);
                let is_leader = leader.as_deref() == Some(self.myid.as_str());
                if !is_leader && !force {
                    let election_timeout = self.timing.election_timeout.min(timeout);
                    if now.saturating_sub(start) > election_timeout {
                        self.abort_with(m, "-failover-abort-not-elected", now);
                    }
                    return;
                }
                self.event(Level::Warning, "+elected-leader", m, &Who::Master, "");
                if self.simfailure & SIM_CRASH_AFTER_ELECTION != 0 {
                    self.actions.push(super::Action::Exit { code: 99 });
                }
                self.set_state(m, FailoverState::SelectSlave, now);
                self.event(
                    Level::Warning,
                    "+failover-state-select-slave",
                    m,
                    &Who::Master,
                    "",
                );
            }
            FailoverState::SelectSlave => match self.choose_replica(m, change, now) {
                Err(None) => {}
                Err(Some(why)) => {
                    self.fencing_blocked(m, why);
                    self.abort_failover(m, now);
                }
                Ok(None) => {
                    self.abort_with(m, "-failover-abort-no-good-slave", now);
                }
                Ok(Some(k)) => {
                    if let Some(f) = self.masters.get_mut(m).and_then(|x| x.fencing.as_mut()) {
                        f.blocked = None;
                    }
                    self.promote_selected(m, k, now);
                }
            },
            FailoverState::SendSlaveofNoOne => {
                let Some(k) = self.masters.get(m).and_then(|x| x.promoted.clone()) else {
                    return;
                };
                let who = Who::Replica(k);
                let connected = self
                    .inst(m, &who)
                    .map(|i| i.link.connected(Kind::Replica))
                    .unwrap_or(false);
                if !connected {
                    if now.saturating_sub(change) > timeout {
                        self.abort_with(m, "-failover-abort-slave-timeout", now);
                    }
                    return;
                }
                if let Some(c) = self.masters.get(m).and_then(|x| x.coordinated) {
                    if !self.coordinate(m, &who, c, now, change, timeout) {
                        return;
                    }
                }
                if self.send_slaveof(m, &who, None) {
                    self.event(Level::Notice, "+failover-state-wait-promotion", m, &who, "");
                    self.set_state(m, FailoverState::WaitPromotion, now);
                    // Coordinated: demote the paused old master right away, so the writes it
                    // held get -READONLY when the pause ends instead of being accepted and lost.
                    if self
                        .masters
                        .get(m)
                        .map(|x| x.coordinated.is_some())
                        .unwrap_or(false)
                    {
                        let target = self.inst(m, &who).map(|i| (i.host.clone(), i.port));
                        if self.send_slaveof(m, &Who::Master, target) {
                            self.event(
                                Level::Notice,
                                "+coordinated-demote-old-master",
                                m,
                                &Who::Master,
                                "",
                            );
                        }
                    }
                }
            }
            FailoverState::WaitPromotion => {
                if now.saturating_sub(change) > timeout {
                    self.abort_with(m, "-failover-abort-slave-timeout", now);
                }
            }
            FailoverState::ReconfSlaves => {
                self.reconf_next_replica(m, now);
                self.detect_failover_end(m, now);
            }
        }
    }

    /// A coordinated failover's wait before promotion: pause writes on the old master, learn
    /// its offset, and go on only once the chosen replica has replicated up to it. False while
    /// waiting. Gives up (and unpauses) after failover-timeout.
    fn coordinate(
        &mut self,
        m: &str,
        replica: &Who,
        c: Coordination,
        now: u64,
        change: u64,
        timeout: u64,
    ) -> bool {
        if now.saturating_sub(change) > timeout {
            let client = self
                .masters
                .get(m)
                .map(|x| x.cmd("CLIENT"))
                .unwrap_or_default();
            self.send(
                m,
                &Who::Master,
                vec![client, "UNPAUSE".into()],
                super::Tag::Ignore,
            );
            self.abort_with(m, "-failover-abort-slave-timeout", now);
            return false;
        }
        if !c.paused {
            let (client, info) = self
                .masters
                .get(m)
                .map(|x| (x.cmd("CLIENT"), x.cmd("INFO")))
                .unwrap_or_default();
            // The pause covers the whole failover; CLIENT UNPAUSE or the demotion end it sooner.
            let sent = self.send(
                m,
                &Who::Master,
                vec![client, "PAUSE".into(), timeout.to_string(), "WRITE".into()],
                super::Tag::Ignore,
            ) && self.send(
                m,
                &Who::Master,
                vec![info, "replication".into()],
                super::Tag::CoordInfo,
            );
            if sent {
                if let Some(x) = self.masters.get_mut(m) {
                    x.coordinated = Some(Coordination {
                        paused: true,
                        target_offset: None,
                    });
                }
                self.event(Level::Notice, "+coordinated-pause", m, &Who::Master, "");
            }
            return false;
        }
        let Some(target) = c.target_offset else {
            return false;
        };
        let Who::Replica(k) = replica else {
            return false;
        };
        let offset = self
            .masters
            .get(m)
            .and_then(|x| x.replicas.get(k))
            .map(|r| r.repl_offset)
            .unwrap_or(0);
        offset >= target
    }

    /// The replica to promote: `Ok(None)` when there is none (plain Redis rules), `Err(None)`
    /// while a fencing master's replicas are still being reached, `Err(Some(why))` when fencing
    /// gives up (the failover timeout passed without enough of them).
    fn choose_replica(
        &self,
        m: &str,
        since: u64,
        now: u64,
    ) -> Result<Option<String>, Option<String>> {
        let Some(x) = self.masters.get(m) else {
            return Ok(None);
        };
        if x.fencing.is_none() {
            return Ok(self.select_replica(m, now));
        }
        match self.select_fenced_replica(m, since) {
            Ok(k) => Ok(Some(k)),
            Err(_) if now.saturating_sub(since) <= x.failover_timeout.min(REACH_WAIT_MS) => {
                Err(None)
            }
            Err(why) => Err(Some(why)),
        }
    }

    /// Announces the selected replica and moves on to promoting it.
    fn promote_selected(&mut self, m: &str, k: String, now: u64) {
        let who = Who::Replica(k.clone());
        self.event(Level::Warning, "+selected-slave", m, &who, "");
        if let Some(x) = self.masters.get_mut(m) {
            x.promoted = Some(k.clone());
            if let Some(r) = x.replicas.get_mut(&k) {
                r.promoted = true;
            }
        }
        self.set_state(m, FailoverState::SendSlaveofNoOne, now);
        self.event(
            Level::Notice,
            "+failover-state-send-slaveof-noone",
            m,
            &who,
            "",
        );
    }

    /// The best replica to promote, or none (§4.11).
    pub fn select_replica(&self, m: &str, now: u64) -> Option<String> {
        let x = self.masters.get(m)?;
        let ping = self.timing.ping_period;
        let master_down_time = if x.inst.s_down {
            now.saturating_sub(x.inst.s_down_since)
        } else {
            0
        };
        let max_link_down = master_down_time + x.down_after * 10;
        let info_validity = if x.inst.s_down {
            ping * 5
        } else {
            self.timing.info_period * 3
        };
        let mut candidates: Vec<&Replica> = x
            .replicas
            .values()
            .filter(|r| {
                !r.inst.s_down
                    && r.inst.link.connected(Kind::Replica)
                    && now.saturating_sub(r.inst.link.last_avail_time) <= ping * 5
                    && r.priority != 0
                    && now.saturating_sub(r.inst.info_refresh) <= info_validity
                    && r.master_link_down_time <= max_link_down
            })
            .collect();
        candidates.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then(b.repl_offset.cmp(&a.repl_offset))
                .then_with(|| match (&a.inst.runid, &b.inst.runid) {
                    (Some(x), Some(y)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
        });
        candidates.first().map(|r| r.inst.name.clone())
    }

    /// The promoted replica reports role:master: it becomes the master's new configuration.
    pub(crate) fn on_promotion_observed(&mut self, m: &str, k: &str, now: u64) {
        let Some(x) = self.masters.get_mut(m) else {
            return;
        };
        x.config_epoch = x.failover_epoch;
        x.failover = FailoverState::ReconfSlaves;
        x.failover_state_change_time = now;
        let (oh, op) = (x.inst.host.clone(), x.inst.port);
        let (nh, np) = x
            .replicas
            .get(k)
            .map(|r| (r.inst.host.clone(), r.inst.port))
            .unwrap_or_default();
        self.persist();
        self.event(
            Level::Warning,
            "+promoted-slave",
            m,
            &Who::Replica(k.to_string()),
            "",
        );
        if self.simfailure & SIM_CRASH_AFTER_PROMOTION != 0 {
            self.actions.push(super::Action::Exit { code: 99 });
        }
        self.event(
            Level::Warning,
            "+failover-state-reconf-slaves",
            m,
            &Who::Master,
            "",
        );
        self.run_reconfig_script(m, "leader", (&oh, op), (&nh, np));
        // Hellos go out at once so the others learn the new configuration quickly.
        let back = self.timing.publish_period + 1;
        if let Some(x) = self.masters.get_mut(m) {
            x.inst.last_pub_time = x.inst.last_pub_time.saturating_sub(back);
            for r in x.replicas.values_mut() {
                r.inst.last_pub_time = r.inst.last_pub_time.saturating_sub(back);
            }
            for p in x.sentinels.values_mut() {
                p.inst.last_pub_time = p.inst.last_pub_time.saturating_sub(back);
            }
        }
    }

    /// Points up to `parallel-syncs` replicas at a time at the promoted one.
    fn reconf_next_replica(&mut self, m: &str, now: u64) {
        let Some(x) = self.masters.get(m) else { return };
        let Some(target) = x
            .promoted
            .as_ref()
            .and_then(|k| x.replicas.get(k))
            .map(|r| (r.inst.host.clone(), r.inst.port))
        else {
            return;
        };
        let mut in_progress = x
            .replicas
            .values()
            .filter(|r| matches!(r.reconf, Reconf::Sent(_) | Reconf::InProgress))
            .count() as u32;
        let parallel = x.parallel_syncs.max(1);
        let keys: Vec<String> = x.replicas.keys().cloned().collect();
        for k in keys {
            if in_progress >= parallel {
                break;
            }
            let Some(r) = self.masters.get(m).and_then(|x| x.replicas.get(&k)) else {
                continue;
            };
            if r.promoted || r.reconf == Reconf::Done {
                continue;
            }
            let who = Who::Replica(k.clone());
            if let Reconf::Sent(t) = r.reconf {
                if now.saturating_sub(t) > self.timing.slave_reconf_timeout {
                    self.event(Level::Notice, "-slave-reconf-sent-timeout", m, &who, "");
                    if let Some(r) = self.masters.get_mut(m).and_then(|x| x.replicas.get_mut(&k)) {
                        r.reconf = Reconf::Done;
                    }
                }
                continue;
            }
            if r.reconf != Reconf::None || !r.inst.link.connected(Kind::Replica) {
                continue;
            }
            if self.send_slaveof(m, &who, Some(target.clone())) {
                if let Some(r) = self.masters.get_mut(m).and_then(|x| x.replicas.get_mut(&k)) {
                    r.reconf = Reconf::Sent(now);
                }
                self.event(Level::Notice, "+slave-reconf-sent", m, &who, "");
                in_progress += 1;
            }
        }
    }

    fn detect_failover_end(&mut self, m: &str, now: u64) {
        let Some(x) = self.masters.get(m) else { return };
        let Some(p) = x.promoted.as_ref().and_then(|k| x.replicas.get(k)) else {
            return;
        };
        if p.inst.s_down {
            return;
        }
        let target = (p.inst.host.clone(), p.inst.port);
        let mut not_reconfigured = x
            .replicas
            .values()
            .filter(|r| !(r.promoted || r.reconf == Reconf::Done || r.inst.s_down))
            .count();
        let mut timeout = false;
        if now.saturating_sub(x.failover_state_change_time) > x.failover_timeout {
            not_reconfigured = 0;
            timeout = true;
            self.event(
                Level::Warning,
                "+failover-end-for-timeout",
                m,
                &Who::Master,
                "",
            );
        }
        if not_reconfigured == 0 {
            self.event(Level::Warning, "+failover-end", m, &Who::Master, "");
            self.set_state(m, FailoverState::UpdateConfig, now);
        }
        if timeout {
            let keys: Vec<String> = self
                .masters
                .get(m)
                .map(|x| x.replicas.keys().cloned().collect())
                .unwrap_or_default();
            for k in keys {
                let Some(r) = self.masters.get(m).and_then(|x| x.replicas.get(&k)) else {
                    continue;
                };
                if r.promoted
                    || matches!(r.reconf, Reconf::Done | Reconf::Sent(_))
                    || !r.inst.link.cc_connected
                {
                    continue;
                }
                let who = Who::Replica(k.clone());
                if self.send_slaveof(m, &who, Some(target.clone())) {
                    self.event(Level::Notice, "+slave-reconf-sent-be", m, &who, "");
                    if let Some(r) = self.masters.get_mut(m).and_then(|x| x.replicas.get_mut(&k)) {
                        r.reconf = Reconf::Sent(now);
                    }
                }
            }
        }
    }

    /// The leader's last step: announce and switch to the promoted replica.
    pub(crate) fn switch_to_promoted(&mut self, m: &str, now: u64) {
        let Some(x) = self.masters.get(m) else { return };
        let Some(promoted) = x.promoted.as_ref().and_then(|k| x.replicas.get(k)) else {
            return;
        };
        let (nh, np) = (promoted.inst.host.clone(), promoted.inst.port);
        let (sh, so) = (self.shown_host(&promoted.inst), self.shown_host(&x.inst));
        let (oh, op) = (so, x.inst.port);
        let nh_shown = sh;
        let _ = &nh_shown;
        self.event_plain(
            Level::Warning,
            "+switch-master",
            format!("{m} {oh} {op} {nh_shown} {np}"),
        );
        self.reset_and_change_address(m, &nh, np, now);
    }

    /// Clears a master's runtime state. With `drop_sentinels`, forgets its peers too (RESET).
    pub fn reset_master(&mut self, m: &str, drop_sentinels: bool, now: u64) {
        let replicas: Vec<String> = self
            .masters
            .get(m)
            .map(|x| x.replicas.keys().cloned().collect())
            .unwrap_or_default();
        for k in replicas {
            self.close_links(m, &Who::Replica(k));
        }
        if drop_sentinels {
            let peers: Vec<String> = self
                .masters
                .get(m)
                .map(|x| x.sentinels.keys().cloned().collect())
                .unwrap_or_default();
            for p in peers {
                self.close_links(m, &Who::Sentinel(p));
            }
        }
        self.close_links(m, &Who::Master);
        self.fencing_new_master(m);
        let Some(x) = self.masters.get_mut(m) else {
            return;
        };
        x.replicas.clear();
        if drop_sentinels {
            x.sentinels.clear();
        }
        x.inst.s_down = false;
        x.o_down = false;
        x.inst.master_reboot = false;
        x.inst.script_kill_sent = false;
        x.leader = None;
        x.failover = FailoverState::None;
        x.failover_state_change_time = 0;
        x.failover_start_time = 0;
        x.force_failover = false;
        x.coordinated = None;
        x.promoted = None;
        x.inst.runid = None;
        x.inst.info_refresh = 0;
        x.inst.info_text = None;
        x.inst.role_reported_master = true;
        x.inst.role_reported_time = now;
        x.inst.link = Link::new(now);
    }

    /// §4.10: the master now lives at `host:port`; the old address becomes a replica.
    pub fn reset_and_change_address(&mut self, m: &str, host: &str, port: u16, now: u64) {
        let Some(x) = self.masters.get(m) else { return };
        let mut addrs: Vec<(String, u16)> = x
            .replicas
            .values()
            .filter(|r| !(r.inst.host == host && r.inst.port == port))
            .map(|r| (r.inst.host.clone(), r.inst.port))
            .collect();
        let mut demoted = None;
        // The old master's run id follows it into its replica entry: when it comes back after a
        // crash, the new run id shows the restart (see the fast rejoin rule).
        let old_runid = x.inst.runid.clone();
        if !(x.inst.host == host && x.inst.port == port) {
            addrs.push((x.inst.host.clone(), x.inst.port));
            demoted = Some((x.inst.host.clone(), x.inst.port));
        }
        self.reset_master(m, false, now);
        // A hostname (from a peer announcing hostnames) is resolved; the name is kept.
        let (ip, hostname) = if host.parse::<std::net::IpAddr>().is_ok() {
            (host.to_string(), None)
        } else {
            let r = self.globals.resolver.and_then(|r| r(host));
            (
                r.unwrap_or_else(|| host.to_string()),
                Some(host.to_string()),
            )
        };
        let Some(x) = self.masters.get_mut(m) else {
            return;
        };
        x.inst.host = ip;
        x.inst.hostname = hostname;
        x.inst.port = port;
        x.inst.s_down_since = 0;
        x.o_down_since = 0;
        let mut added = Vec::new();
        for (h, p) in addrs {
            let mut r = Replica::new(h, p, now);
            r.demoted_master = demoted
                .as_ref()
                .map(|d| d.0 == r.inst.host && d.1 == r.inst.port)
                .unwrap_or(false);
            if r.demoted_master {
                r.inst.runid = old_runid.clone();
            }
            added.push(r.inst.name.clone());
            x.replicas.insert(r.inst.name.clone(), r);
        }
        for k in added {
            self.event(Level::Notice, "+slave", m, &Who::Replica(k), "");
        }
        self.persist();
    }
}

pub const SIM_CRASH_AFTER_ELECTION: u32 = 1;
pub const SIM_CRASH_AFTER_PROMOTION: u32 = 2;
