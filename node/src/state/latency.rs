//! The latency monitor: per event (`command`, `fast-command`, `expire-cycle`), the samples
//! of at least `latency-monitor-threshold` milliseconds, one per second (the worst of that
//! second), the last 160 of them and the all-time maximum — what LATENCY LATEST, HISTORY,
//! RESET, GRAPH and DOCTOR read. Pure: the caller gives the time.

use std::collections::{BTreeMap, VecDeque};

/// Samples kept per event.
pub const HISTORY_LEN: usize = 160;

#[derive(Debug, Default, Clone)]
pub struct Series {
    /// (unix seconds, milliseconds), oldest first.
    pub samples: VecDeque<(i64, u64)>,
    pub max: u64,
}

#[derive(Debug, Default)]
pub struct LatencyMonitor {
    pub events: BTreeMap<&'static str, Series>,
}

impl LatencyMonitor {
    /// Records `ms` for `event` at `now` (seconds) when the monitor is on (`threshold` > 0)
    /// and the latency reaches it.
    pub fn record(&mut self, threshold: i64, event: &'static str, ms: u64, now: i64) {
        if threshold <= 0 || (ms as i64) < threshold {
            return;
        }
        let s = self.events.entry(event).or_default();
        s.max = s.max.max(ms);
        match s.samples.back_mut() {
            Some(last) if last.0 == now => last.1 = last.1.max(ms),
            _ => {
                s.samples.push_back((now, ms));
                if s.samples.len() > HISTORY_LEN {
                    s.samples.pop_front();
                }
            }
        }
    }

    /// Forgets the named events (all of them when none is named); returns how many it did.
    pub fn reset(&mut self, names: &[&[u8]]) -> usize {
        if names.is_empty() {
            let n = self.events.len();
            self.events.clear();
            return n;
        }
        let before = self.events.len();
        self.events
            .retain(|e, _| !names.iter().any(|n| n.eq_ignore_ascii_case(e.as_bytes())));
        before - self.events.len()
    }

    pub fn get(&self, name: &[u8]) -> Option<&Series> {
        self.events
            .iter()
            .find(|(e, _)| name.eq_ignore_ascii_case(e.as_bytes()))
            .map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_merge_per_second_and_keep_the_max() {
        let mut m = LatencyMonitor::default();
        m.record(0, "command", 500, 1);
        assert!(m.events.is_empty());
        m.record(100, "command", 99, 1);
        assert!(m.events.is_empty());
        m.record(100, "command", 300, 1);
        m.record(100, "command", 200, 1);
        m.record(100, "command", 400, 2);
        let s = m.get(b"COMMAND").unwrap();
        assert_eq!(Vec::from(s.samples.clone()), vec![(1, 300), (2, 400)]);
        assert_eq!(s.max, 400);
        for t in 3..200 {
            m.record(100, "command", 150, t);
        }
        assert_eq!(m.get(b"command").unwrap().samples.len(), HISTORY_LEN);
        assert_eq!(m.get(b"command").unwrap().max, 400);
        assert_eq!(m.reset(&[b"nope"]), 0);
        assert_eq!(m.reset(&[]), 1);
    }
}
