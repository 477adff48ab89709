//! Failure detection: SDOWN for every instance (§4.6), ODOWN for masters by the reports of
//! peers (§4.7), and asking the peers with SENTINEL is-master-down-by-addr.

use super::model::*;
use super::{Level, Sentinel, Tag, Who};

impl Sentinel {
    pub(crate) fn check_sdown(&mut self, m: &str, who: &Who, now: u64) {
        let Some(master) = self.masters.get(m) else {
            return;
        };
        let down_after = master.down_after;
        let reboot_period = master.reboot_down_after;
        let Some(inst) = self.inst(m, who) else {
            return;
        };
        let l = &inst.link;
        let connected = l.connected(inst.kind);
        let elapsed = if l.act_ping_time != 0 {
            now.saturating_sub(l.act_ping_time)
        } else if !connected {
            now.saturating_sub(l.last_avail_time)
        } else {
            0
        };
        // Link health: a command connection that stopped answering, or a pub/sub connection
        // that saw nothing for three hello periods, is closed and reopened.
        let close_cc = l.cc_connected
            && now.saturating_sub(l.cc_conn_time) > self.timing.min_link_reconnect_period
            && l.act_ping_time != 0
            && now.saturating_sub(l.act_ping_time) > down_after / 2
            && now.saturating_sub(l.last_pong_time) > down_after / 2;
        let close_pc = l.pc_connected
            && now.saturating_sub(l.pc_conn_time) > self.timing.min_link_reconnect_period
            && now.saturating_sub(l.pc_last_activity) > self.timing.publish_period * 3;
        let role_mismatch = inst.kind == Kind::Master
            && !inst.role_reported_master
            && now.saturating_sub(inst.role_reported_time)
                > down_after + 2 * self.timing.info_period;
        let rebooting =
            inst.master_reboot && now.saturating_sub(inst.master_reboot_since) > reboot_period;
        let down = elapsed > down_after || role_mismatch || rebooting;
        let was = inst.s_down;
        if close_cc {
            self.close_one(m, who, false);
        }
        if close_pc {
            self.close_one(m, who, true);
        }
        if down && !was {
            if let Some(i) = self.inst_mut(m, who) {
                i.s_down = true;
                i.s_down_since = now;
            }
            self.event(Level::Warning, "+sdown", m, who, "");
        } else if !down && was {
            if let Some(i) = self.inst_mut(m, who) {
                i.s_down = false;
                i.script_kill_sent = false;
            }
            self.event(Level::Warning, "-sdown", m, who, "");
        }
    }

    pub(crate) fn check_odown(&mut self, m: &str, now: u64) {
        let Some(x) = self.masters.get(m) else { return };
        let (odown, votes) = if x.inst.s_down {
            let votes = 1 + x.sentinels.values().filter(|p| p.master_down).count() as u32;
            (votes >= x.quorum, votes)
        } else {
            (false, 0)
        };
        let quorum = x.quorum;
        if odown && !x.o_down {
            if let Some(x) = self.masters.get_mut(m) {
                x.o_down = true;
                x.o_down_since = now;
            }
            self.event(
                Level::Warning,
                "+odown",
                m,
                &Who::Master,
                &format!(" #quorum {votes}/{quorum}"),
            );
        } else if !odown && x.o_down {
            if let Some(x) = self.masters.get_mut(m) {
                x.o_down = false;
            }
            self.event(Level::Warning, "-odown", m, &Who::Master, "");
        }
    }

    /// Asks every connected peer whether it sees the master down (and, during a failover, for
    /// its vote). Replies older than 5 ask periods are forgotten.
    pub(crate) fn ask_master_state(&mut self, m: &str, now: u64, forced: bool) {
        let Some(x) = self.masters.get(m) else { return };
        let s_down = x.inst.s_down;
        let (host, port) = (x.inst.host.clone(), x.inst.port);
        let asking_vote = x.failover != FailoverState::None;
        let cmd = x.cmd("SENTINEL");
        let ask = self.timing.ask_period;
        let peers: Vec<String> = x.sentinels.keys().cloned().collect();
        for id in peers {
            let Some(p) = self
                .masters
                .get_mut(m)
                .and_then(|x| x.sentinels.get_mut(&id))
            else {
                continue;
            };
            if now.saturating_sub(p.last_master_down_reply_time) > ask * 5 {
                p.master_down = false;
                p.leader = None;
            }
            if !s_down || !p.inst.link.cc_connected {
                continue;
            }
            if !forced && now.saturating_sub(p.last_master_down_reply_time) < ask {
                continue;
            }
            let runid = if asking_vote {
                self.myid.clone()
            } else {
                "*".to_string()
            };
            let argv = vec![
                cmd.clone(),
                "is-master-down-by-addr".into(),
                host.clone(),
                port.to_string(),
                self.current_epoch.to_string(),
                runid,
            ];
            self.send(m, &Who::Sentinel(id), argv, Tag::IsMasterDown);
        }
    }
}
