//! Fencing mode's lease on the master (docs/fencing.md, rule 2): the grants sentinels send with
//! `PICKET LEASE`, the nonces that anchor them in this node's clock, and what the lease allows
//! now (held or not, the replicas whose acknowledgements count, how many are needed).
//!
//! Pure: every function takes the current monotonic instant.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The clock-rate bound ρ of docs/fencing.md, as parts per thousand: a grant of D ms lasts
/// D·(1−2ρ) on this node.
pub const DRIFT_PER_MILLE: u64 = 10;

/// How many issued nonces are remembered (a sentinel answers the latest within a grant period).
const NONCES_KEPT: usize = 256;

/// A client's write replies in its output buffer that wait for acknowledgements.
#[derive(Debug, Default)]
pub struct FenceHold {
    /// Each write's reply as a byte range of the output buffer, with its write offset.
    pub marks: Vec<(usize, usize, u64)>,
    pub deadline: Option<Instant>,
    /// The write offset the replicas were last asked to acknowledge (REPLCONF GETACK).
    pub asked: u64,
}

/// One sentinel's latest grant.
#[derive(Debug, Clone)]
pub struct Grant {
    pub expires: Instant,
    /// The sentinels the granting sentinel counts (itself included).
    pub sentinels: usize,
    /// Acknowledgements a write needs.
    pub acks: usize,
    /// The replicas it knows, as `ip:port`.
    pub replicas: Vec<String>,
}

/// What the lease allows at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseView {
    pub acks: usize,
    /// Replicas named by a majority of the valid grants, as `ip:port`.
    pub eligible: Vec<String>,
}

#[derive(Debug)]
pub struct Fencing {
    next_nonce: u64,
    nonces: VecDeque<(u64, Instant)>,
    grants: HashMap<String, Grant>,
    /// The most acknowledgements any grant asked for (never below 1).
    acks_needed: usize,
    /// Wakes the clients whose replies wait for acknowledgements.
    pub notify: std::sync::Arc<tokio::sync::Notify>,
}

impl Default for Fencing {
    fn default() -> Self {
        Fencing {
            next_nonce: 1,
            nonces: VecDeque::new(),
            grants: HashMap::new(),
            acks_needed: 1,
            notify: Default::default(),
        }
    }
}

/// A grant as `PICKET LEASE` carries it.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    pub sentinel: String,
    pub sentinels: usize,
    pub lease_ms: u64,
    pub acks: usize,
    pub nonce: Option<u64>,
    pub replicas: Vec<String>,
}

impl Fencing {
    /// A fresh nonce anchored at `now`, for the sentinel's next grant.
    pub fn issue_nonce(&mut self, now: Instant) -> u64 {
        let n = self.next_nonce;
        self.next_nonce += 1;
        self.nonces.push_back((n, now));
        while self.nonces.len() > NONCES_KEPT {
            self.nonces.pop_front();
        }
        n
    }

    /// Records a grant; false when its nonce is unknown (first grant, or too old): it then
    /// gives no lease, and the reply's nonce makes the next one count.
    pub fn grant(&mut self, req: GrantRequest, now: Instant) -> bool {
        let anchor = req
            .nonce
            .and_then(|n| self.nonces.iter().find(|(m, _)| *m == n).map(|(_, t)| *t));
        let Some(anchor) = anchor else {
            return false;
        };
        let lasting = req.lease_ms * (1000 - 2 * DRIFT_PER_MILLE) / 1000;
        let expires = anchor + Duration::from_millis(lasting);
        if expires <= now {
            return false;
        }
        self.acks_needed = self.acks_needed.max(req.acks);
        // A grant never shortens what the same sentinel granted before.
        let keep = self
            .grants
            .get(&req.sentinel)
            .is_some_and(|g| g.expires > expires);
        if !keep {
            self.grants.insert(
                req.sentinel,
                Grant {
                    expires,
                    sentinels: req.sentinels.max(1),
                    acks: req.acks,
                    replicas: req.replicas,
                },
            );
        }
        true
    }

    /// The lease now, if this node holds it: valid grants from a majority of the largest
    /// sentinel count any of them reports.
    pub fn lease(&self, now: Instant) -> Option<LeaseView> {
        let valid: Vec<&Grant> = self.grants.values().filter(|g| g.expires > now).collect();
        let sentinels = valid.iter().map(|g| g.sentinels).max()?;
        let majority = sentinels / 2 + 1;
        if valid.len() < majority {
            return None;
        }
        let mut named: HashMap<&str, usize> = HashMap::new();
        for g in &valid {
            for r in &g.replicas {
                *named.entry(r.as_str()).or_default() += 1;
            }
        }
        let mut eligible: Vec<String> = named
            .into_iter()
            .filter(|(_, n)| *n >= majority)
            .map(|(r, _)| r.to_string())
            .collect();
        eligible.sort();
        Some(LeaseView {
            acks: valid.iter().map(|g| g.acks).max().unwrap_or(1).max(1),
            eligible,
        })
    }

    /// When the lease held now ends (the instant the majority's grants run out), for INFO.
    pub fn lease_remaining(&self, now: Instant) -> Option<Duration> {
        self.lease(now)?;
        let valid: Vec<&Grant> = self.grants.values().filter(|g| g.expires > now).collect();
        let mut ends: Vec<Instant> = valid.iter().map(|g| g.expires).collect();
        ends.sort_unstable_by(|a, b| b.cmp(a));
        let sentinels = valid.iter().map(|g| g.sentinels).max()?;
        ends.get(sentinels / 2).map(|e| *e - now)
    }

    /// Forgets every grant (the node became a replica).
    pub fn clear(&mut self) {
        self.grants.clear();
    }

    /// Acknowledgements a write needs: the most any grant asked for.
    pub fn acks_needed(&self) -> usize {
        self.acks_needed
    }

    /// Grants still valid at `now`.
    pub fn grants(&self, now: Instant) -> usize {
        self.grants.values().filter(|g| g.expires > now).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: &str, nonce: Option<u64>, replicas: &[&str]) -> GrantRequest {
        GrantRequest {
            sentinel: id.into(),
            sentinels: 3,
            lease_ms: 1000,
            acks: 1,
            nonce,
            replicas: replicas.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn a_lease_needs_valid_grants_from_a_majority() {
        let t0 = Instant::now();
        let mut f = Fencing::default();
        assert!(!f.grant(req("a", None, &["r1"]), t0), "no nonce, no lease");
        let n = f.issue_nonce(t0);
        assert!(f.grant(req("a", Some(n), &["r1", "r2"]), t0));
        assert_eq!(f.lease(t0), None, "one of three is not a majority");
        assert!(f.grant(req("b", Some(n), &["r1"]), t0));
        let view = f.lease(t0).expect("two of three hold it");
        assert_eq!(
            view.eligible,
            vec!["r1".to_string()],
            "r2 is named by one only"
        );
        assert_eq!(view.acks, 1);
        // D·(1−2ρ) = 980 ms after the nonce was issued.
        assert!(f.lease(t0 + Duration::from_millis(979)).is_some());
        assert_eq!(f.lease(t0 + Duration::from_millis(980)), None);
    }

    #[test]
    fn a_grant_counts_from_its_nonce_not_from_its_arrival() {
        let t0 = Instant::now();
        let mut f = Fencing::default();
        let n = f.issue_nonce(t0);
        let late = t0 + Duration::from_millis(900);
        assert!(f.grant(req("a", Some(n), &[]), late));
        assert!(f.grant(req("b", Some(n), &[]), late));
        assert_eq!(f.lease(t0 + Duration::from_millis(990)), None);
        assert!(
            !f.grant(req("c", Some(n), &[]), t0 + Duration::from_millis(2000)),
            "a grant that arrives after its lease would end gives nothing"
        );
        assert!(!f.grant(req("c", Some(9999), &[]), late), "unknown nonce");
    }

    #[test]
    fn the_largest_sentinel_count_and_ack_count_rule() {
        let t0 = Instant::now();
        let mut f = Fencing::default();
        let n = f.issue_nonce(t0);
        let mut five = req("a", Some(n), &[]);
        five.sentinels = 5;
        five.acks = 2;
        f.grant(five, t0);
        f.grant(req("b", Some(n), &[]), t0);
        assert_eq!(f.lease(t0), None, "five sentinels need three grants");
        f.grant(req("c", Some(n), &[]), t0);
        assert_eq!(f.lease(t0).map(|v| v.acks), Some(2));
        assert!(f.lease_remaining(t0).is_some());
        f.clear();
        assert_eq!(f.lease(t0), None);
    }
}
