//! Fencing mode on the sentinel (docs/fencing.md): the lease grants sent to a fencing master,
//! the promise that goes with them (no vote, no failover until the last grant's lease surely
//! ran out), and the choice of the replica to promote (the most advanced among at least
//! |R| − k + 1 reached after the lease ended).

use super::model::*;
use super::{Frame, Level, Sentinel, Tag, Who};

/// A master's fencing state (`sentinel fencing <master> <acks>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fencing {
    /// Acknowledgements a write needs (k).
    pub acks: u32,
    /// The nonce the master gave with its last answer, for the next grant.
    pub nonce: Option<u64>,
    /// When the last grant was sent (ms, this sentinel's clock).
    pub last_grant: Option<u64>,
    /// When the master last answered a grant.
    pub last_answer: u64,
    /// When this sentinel last voted in a failover of this master.
    pub voted_at: Option<u64>,
    /// Why the last failover attempt did not promote, for SENTINEL MASTER.
    pub blocked: Option<String>,
}

/// The lease a grant gives: half of down-after.
pub fn lease_ms(x: &Master) -> u64 {
    (x.down_after / 2).max(10)
}

/// How long after its last grant a sentinel keeps its promise: the lease and 2% for clock
/// rates (docs/fencing.md: ρ ≤ 1%).
pub fn promise_ms(x: &Master) -> u64 {
    let d = lease_ms(x);
    d + d / 50 + 1
}

impl Sentinel {
    /// Sends the master its next grant when one is due and this sentinel may grant.
    pub(crate) fn fencing_tick(&mut self, m: &str, now: u64) {
        let Some(x) = self.masters.get(m) else { return };
        let Some(f) = &x.fencing else { return };
        let lease = lease_ms(x);
        let voted_recently = f.voted_at.is_some_and(|v| now < v + 2 * x.failover_timeout);
        let answered = x.inst.link.last_avail_time.max(f.last_answer);
        let unresponsive = now.saturating_sub(answered) > lease;
        let due = f.last_grant.is_none_or(|t| now >= t + lease / 4);
        if x.failover != FailoverState::None || voted_recently || unresponsive || !due {
            return;
        }
        let mut argv = vec![
            x.cmd("REPLCONF"),
            "FENCING-LEASE".to_string(),
            self.myid.clone(),
            (x.sentinels.len() + 1).to_string(),
            lease.to_string(),
            f.acks.max(1).to_string(),
            f.nonce.map_or("-".to_string(), |n| n.to_string()),
        ];
        argv.extend(
            x.replicas
                .values()
                .map(|r| format!("{}:{}", r.inst.host, r.inst.port)),
        );
        if self.send(m, &Who::Master, argv, Tag::Lease) {
            if let Some(f) = self.masters.get_mut(m).and_then(|x| x.fencing.as_mut()) {
                f.last_grant = Some(now);
            }
        }
    }

    /// The master's answer to a grant: the nonce for the next one.
    pub(crate) fn on_lease_reply(&mut self, m: &str, frame: &Frame, now: u64) {
        if let Some(f) = self.masters.get_mut(m).and_then(|x| x.fencing.as_mut()) {
            f.nonce = match frame {
                Frame::Int(n) if *n > 0 => Some(*n as u64),
                _ => None,
            };
            if f.nonce.is_some() {
                f.last_answer = now;
            }
        }
    }

    /// The master's address changed (a failover ended, or a newer configuration): the votes
    /// and nonces were about the old one.
    pub(crate) fn fencing_new_master(&mut self, m: &str) {
        if let Some(f) = self.masters.get_mut(m).and_then(|x| x.fencing.as_mut()) {
            f.nonce = None;
            f.voted_at = None;
            f.last_answer = 0;
        }
    }

    /// Whether this sentinel's promise for `m` still holds (it must not vote or fail over).
    pub fn fencing_promise(&self, m: &str, now: u64) -> bool {
        let Some(x) = self.masters.get(m) else {
            return false;
        };
        x.fencing
            .as_ref()
            .and_then(|f| f.last_grant)
            .is_some_and(|t| now < t + promise_ms(x))
    }

    /// A vote was cast in a failover of `m`: no more grants to it for a while.
    pub(crate) fn fencing_voted(&mut self, m: &str, now: u64) {
        if let Some(f) = self.masters.get_mut(m).and_then(|x| x.fencing.as_mut()) {
            f.voted_at = Some(now);
        }
    }

    /// Fencing's choice of the replica to promote. `Err` while it cannot be sure yet (the
    /// reason); the caller gives up after the failover timeout.
    pub fn select_fenced_replica(&self, m: &str, since: u64) -> Result<String, String> {
        let x = self.masters.get(m).ok_or("no master")?;
        let acks = x.fencing.as_ref().map_or(1, |f| f.acks.max(1)) as usize;
        let (oh, op) = (&x.inst.host, x.inst.port);
        let reached: Vec<&Replica> = x
            .replicas
            .values()
            .filter(|r| {
                !r.inst.s_down
                    && r.inst.info_refresh > since
                    && r.master_host.as_deref() == Some(oh.as_str())
                    && r.master_port == op
            })
            .collect();
        let needed = (x.replicas.len() + 1).saturating_sub(acks);
        if reached.len() < needed {
            return Err(format!(
                "reached {} of {} replicas, {} needed",
                reached.len(),
                x.replicas.len(),
                needed
            ));
        }
        let best = reached.iter().map(|r| r.repl_offset).max().unwrap_or(0);
        let mut top: Vec<&&Replica> = reached
            .iter()
            .filter(|r| r.repl_offset == best && r.priority != 0)
            .collect();
        top.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.inst.runid.cmp(&b.inst.runid))
        });
        top.first()
            .map(|r| r.inst.name.clone())
            .ok_or_else(|| "the most advanced replica has replica-priority 0".to_string())
    }

    /// A fencing failover that cannot promote safely: the event, and the reason kept for
    /// SENTINEL MASTER.
    pub(crate) fn fencing_blocked(&mut self, m: &str, why: String) {
        if let Some(f) = self.masters.get_mut(m).and_then(|x| x.fencing.as_mut()) {
            f.blocked = Some(why.clone());
        }
        self.event(
            Level::Warning,
            "-failover-abort-fencing",
            m,
            &Who::Master,
            &why,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Action, Globals, Input, LinkId};
    use super::*;

    const M: &str = "mymaster";
    /// When the tests' clock starts (the first connection is made at a tick after start-up).
    const B: u64 = 2000;

    /// A sentinel monitoring a fencing master (k = 1, down-after 1000: lease 500 ms) whose
    /// command link is up before B.
    fn fenced() -> (Sentinel, LinkId) {
        let mut s = Sentinel::new("a".repeat(40), Globals::default(), 7);
        s.monitor(M, "127.0.0.1", 7001, 2, 0, false).unwrap();
        let x = s.masters.get_mut(M).unwrap();
        x.down_after = 1000;
        x.fencing = Some(Fencing {
            acks: 1,
            ..Default::default()
        });
        s.tick(B - 100);
        let acts = s.take_actions();
        let link = acts
            .iter()
            .find_map(|a| match a {
                Action::Connect {
                    link,
                    pubsub: false,
                    ..
                } => Some(*link),
                _ => None,
            })
            .expect("a command link");
        s.handle(
            Input::Connected {
                link,
                local_ip: "127.0.0.1".into(),
            },
            B - 50,
        );
        s.take_actions();
        // It answered a PING.
        s.inst_mut(M, &Who::Master).unwrap().link.last_avail_time = B;
        (s, link)
    }

    fn grants(acts: &[Action]) -> Vec<Vec<String>> {
        acts.iter()
            .filter_map(|a| match a {
                Action::Send {
                    argv,
                    tag: Tag::Lease,
                    ..
                } => Some(
                    argv.iter()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn grants_go_every_quarter_lease_with_the_last_nonce() {
        let (mut s, link) = fenced();
        replica(&mut s, 7002, 0, 0, 100);
        s.tick(B + 150);
        let first = grants(&s.take_actions());
        assert_eq!(first.len(), 1, "one grant");
        assert_eq!(
            first[0][1..],
            [
                "FENCING-LEASE",
                &"a".repeat(40),
                "1",
                "500",
                "1",
                "-",
                "127.0.0.1:7002"
            ]
        );
        s.handle(
            Input::Reply {
                link,
                tag: Tag::Lease,
                frame: Frame::Int(42),
            },
            B + 160,
        );
        s.tick(B + 200);
        assert!(
            grants(&s.take_actions()).is_empty(),
            "not due before 125 ms"
        );
        // The master answers its PINGs, so it is not unresponsive.
        s.inst_mut(M, &Who::Master).unwrap().link.last_avail_time = B + 270;
        s.tick(B + 280);
        let next = grants(&s.take_actions());
        assert_eq!(next.len(), 1);
        assert_eq!(next[0][6], "42");
    }

    #[test]
    fn no_grant_to_an_unresponsive_master_and_no_vote_while_promised() {
        let (mut s, _) = fenced();
        s.tick(B + 150);
        assert_eq!(grants(&s.take_actions()).len(), 1);
        assert!(s.fencing_promise(M, B + 150 + 510));
        let (leader, _) = s.vote_leader(M, 1, "b", B + 600);
        assert_eq!(leader, None, "promised: no vote");
        // The master stops answering: no more grants after the lease length.
        s.tick(B + 700);
        assert!(grants(&s.take_actions()).is_empty());
        let after = B + 150 + promise_ms(&s.masters[M]);
        assert!(!s.fencing_promise(M, after));
        let (leader, epoch) = s.vote_leader(M, 2, "b", after);
        assert_eq!((leader.as_deref(), epoch), (Some("b"), 2));
        s.inst_mut(M, &Who::Master).unwrap().link.last_avail_time = after + 10;
        s.tick(after + 20);
        assert!(
            grants(&s.take_actions()).is_empty(),
            "no grant after a vote"
        );
    }

    fn replica(s: &mut Sentinel, port: u16, offset: u64, refreshed: u64, priority: u64) {
        let x = s.masters.get_mut(M).unwrap();
        let mut r = Replica::new("127.0.0.1".into(), port, 0);
        r.master_host = Some("127.0.0.1".into());
        r.master_port = 7001;
        r.repl_offset = offset;
        r.inst.info_refresh = refreshed;
        r.priority = priority;
        x.replicas.insert(r.inst.name.clone(), r);
    }

    #[test]
    fn the_most_advanced_of_enough_reached_replicas_is_chosen() {
        let (mut s, _) = fenced();
        replica(&mut s, 7002, 500, 2000, 100);
        replica(&mut s, 7003, 900, 500, 100);
        // k = 1 of two replicas: both must be reached after the failover began (t = 1000).
        let err = s.select_fenced_replica(M, 1000).unwrap_err();
        assert_eq!(err, "reached 1 of 2 replicas, 2 needed");
        replica(&mut s, 7003, 900, 2000, 100);
        assert_eq!(s.select_fenced_replica(M, 1000).unwrap(), "127.0.0.1:7003");
        // The most advanced one may not be promoted: none is, rather than lose writes.
        replica(&mut s, 7003, 900, 2000, 0);
        assert!(s.select_fenced_replica(M, 1000).is_err());
        // k = 2: one reached replica is enough, and a lower priority does not beat the offset.
        s.masters.get_mut(M).unwrap().fencing.as_mut().unwrap().acks = 2;
        replica(&mut s, 7003, 900, 500, 100);
        replica(&mut s, 7002, 500, 2000, 1);
        assert_eq!(s.select_fenced_replica(M, 1000).unwrap(), "127.0.0.1:7002");
    }

    #[test]
    fn a_forced_failover_of_a_fencing_master_is_coordinated() {
        let (mut s, _) = fenced();
        replica(&mut s, 7002, 500, B + 90, 100);
        for r in s.masters.get_mut(M).unwrap().replicas.values_mut() {
            r.inst.link.cc_connected = true;
            r.inst.link.pc_connected = true;
            r.inst.link.last_avail_time = B + 90;
        }
        s.force_failover(M, B + 100, false).unwrap();
        assert!(
            s.masters[M].coordinated.is_some(),
            "plain SENTINEL FAILOVER of a fencing master pauses it first"
        );
        s.abort_failover(M, B + 200);
        s.masters.get_mut(M).unwrap().fencing = None;
        s.force_failover(M, B + 300, false).unwrap();
        assert!(
            s.masters[M].coordinated.is_none(),
            "without fencing: Redis's"
        );
    }
}
