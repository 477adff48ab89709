//! Epochs, votes and the leader election of §4.8: one vote per epoch, first come first
//! served; a leader needs max(quorum, voters/2+1) votes over every sentinel ever seen.

use super::{Level, Sentinel};
use std::collections::BTreeMap;

impl Sentinel {
    /// Votes for `req_runid` in `req_epoch` unless we already voted in it; returns our current
    /// vote (leader, epoch), which may be an earlier one.
    pub fn vote_leader(
        &mut self,
        m: &str,
        req_epoch: u64,
        req_runid: &str,
        now: u64,
    ) -> (Option<String>, u64) {
        if req_epoch > self.current_epoch {
            self.current_epoch = req_epoch;
            self.persist();
            self.event_plain(Level::Warning, "+new-epoch", req_epoch.to_string());
        }
        let current = self.current_epoch;
        let Some(x) = self.masters.get(m) else {
            return (None, 0);
        };
        // Fencing: no vote while the master may still hold a lease this sentinel granted.
        let promised = self.fencing_promise(m, now);
        if !promised && x.leader_epoch < req_epoch && current <= req_epoch {
            let jitter = self.rng.below(1000);
            let me = self.myid.clone();
            if let Some(x) = self.masters.get_mut(m) {
                x.leader = Some(req_runid.to_string());
                x.leader_epoch = current;
                if req_runid != me {
                    // Voting for someone else delays our own attempt (2 x failover-timeout).
                    x.failover_start_time = now + jitter;
                }
            }
            self.fencing_voted(m, now);
            self.persist();
            self.event_plain(
                Level::Warning,
                "+vote-for-leader",
                format!("{req_runid} {current}"),
            );
        }
        let x = &self.masters[m];
        (x.leader.clone(), x.leader_epoch)
    }

    /// The leader for `epoch` if one has a majority, casting our own vote on the way.
    pub fn get_leader(&mut self, m: &str, epoch: u64, now: u64) -> Option<String> {
        let x = self.masters.get(m)?;
        let voters = x.sentinels.len() as u32 + 1;
        let quorum = x.quorum;
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for p in x.sentinels.values() {
            if let Some(l) = &p.leader {
                if p.leader_epoch == self.current_epoch {
                    *counts.entry(l.clone()).or_default() += 1;
                }
            }
        }
        let best = |c: &BTreeMap<String, u32>| {
            c.iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(k, v)| (k.clone(), *v))
        };
        let winner = best(&counts).map(|w| w.0);
        let candidate = winner.unwrap_or_else(|| self.myid.clone());
        let (my_leader, my_epoch) = self.vote_leader(m, epoch, &candidate, now);
        if let Some(l) = my_leader {
            if my_epoch == epoch {
                *counts.entry(l).or_default() += 1;
            }
        }
        let (leader, votes) = best(&counts)?;
        if votes < voters / 2 + 1 || votes < quorum {
            return None;
        }
        Some(leader)
    }
}
