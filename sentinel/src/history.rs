//! What the sentinel's events add up to, for its metrics: failovers started, completed and
//! aborted per master, how long the completed ones took, and the time each master spent in
//! SDOWN and ODOWN. Pure: fed each event with the time it happened.

use std::collections::{BTreeMap, VecDeque};

/// How many failover durations are kept for the histogram.
const DURATIONS_KEPT: usize = 1000;

/// How many recent events the status page shows.
pub const RECENT_KEPT: usize = 200;

/// An event as the status page lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recent {
    /// Wall-clock milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub event: String,
    pub message: String,
}

#[derive(Default, Debug, Clone)]
pub struct MasterHistory {
    pub failovers_started: u64,
    pub failovers_completed: u64,
    pub failovers_aborted: u64,
    pub switches: u64,
    pub sdown_ms: u64,
    pub odown_ms: u64,
    sdown_since: Option<u64>,
    odown_since: Option<u64>,
    failover_since: Option<u64>,
}

impl MasterHistory {
    /// Time in SDOWN up to `now`, the current spell included.
    pub fn sdown_ms_at(&self, now: u64) -> u64 {
        self.sdown_ms + self.sdown_since.map_or(0, |s| now.saturating_sub(s))
    }

    pub fn odown_ms_at(&self, now: u64) -> u64 {
        self.odown_ms + self.odown_since.map_or(0, |s| now.saturating_sub(s))
    }
}

#[derive(Default, Debug)]
pub struct History {
    pub masters: BTreeMap<String, MasterHistory>,
    /// Completed failovers' durations in seconds, the newest last.
    pub durations: Vec<f64>,
    /// The latest events, the newest last.
    pub recent: VecDeque<Recent>,
}

impl History {
    /// Takes one event (`kind` as published, `text` its message) at `now_ms` (monotonic, for
    /// durations) and `wall_ms` (for the status page).
    pub fn record_at(&mut self, kind: &str, text: &str, now_ms: u64, wall_ms: u64) {
        self.recent.push_back(Recent {
            time_ms: wall_ms,
            event: kind.to_string(),
            message: text.to_string(),
        });
        if self.recent.len() > RECENT_KEPT {
            self.recent.pop_front();
        }
        self.record(kind, text, now_ms);
    }

    /// Takes one event (`kind` as published, `text` its message) at `now_ms`.
    pub fn record(&mut self, kind: &str, text: &str, now_ms: u64) {
        let mut w = text.split(' ');
        let master = match (kind, w.next(), w.next()) {
            ("+switch-master", Some(name), _) => name,
            (_, Some("master"), Some(name)) => name,
            _ => return,
        };
        let h = self.masters.entry(master.to_string()).or_default();
        match kind {
            "+sdown" => h.sdown_since = h.sdown_since.or(Some(now_ms)),
            "-sdown" => h.sdown_ms += h.sdown_since.take().map_or(0, |s| now_ms.saturating_sub(s)),
            "+odown" => h.odown_since = h.odown_since.or(Some(now_ms)),
            "-odown" => h.odown_ms += h.odown_since.take().map_or(0, |s| now_ms.saturating_sub(s)),
            "+try-failover" => {
                h.failovers_started += 1;
                h.failover_since = Some(now_ms);
            }
            "+failover-end" => {
                h.failovers_completed += 1;
                if let Some(s) = h.failover_since.take() {
                    self.durations
                        .push(now_ms.saturating_sub(s) as f64 / 1000.0);
                    let excess = self.durations.len().saturating_sub(DURATIONS_KEPT);
                    self.durations.drain(..excess);
                }
            }
            k if k.starts_with("-failover-abort") => {
                h.failovers_aborted += 1;
                h.failover_since = None;
            }
            "+switch-master" => {
                h.switches += 1;
                // The master it was is replaced: its down spells end here.
                if let Some(s) = h.sdown_since.take() {
                    h.sdown_ms += now_ms.saturating_sub(s);
                }
                if let Some(s) = h.odown_since.take() {
                    h.odown_ms += now_ms.saturating_sub(s);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failover_is_counted_and_timed_and_down_spells_add_up() {
        let mut h = History::default();
        h.record("+sdown", "master m 127.0.0.1 7000", 1_000);
        h.record("+odown", "master m 127.0.0.1 7000 #quorum 2/2", 1_100);
        h.record("+try-failover", "master m 127.0.0.1 7000", 1_200);
        h.record("+failover-end", "master m 127.0.0.1 7000", 2_700);
        h.record("+switch-master", "m 127.0.0.1 7000 127.0.0.1 7001", 2_700);
        h.record("+try-failover", "master m 127.0.0.1 7001", 5_000);
        h.record(
            "-failover-abort-not-elected",
            "master m 127.0.0.1 7001",
            5_100,
        );
        h.record(
            "+sdown",
            "slave 127.0.0.1:7002 127.0.0.1 7002 @ m 127.0.0.1 7001",
            6_000,
        );
        h.record("+sdown", "master m 127.0.0.1 7001", 8_000);
        h.record("-sdown", "master m 127.0.0.1 7001", 8_500);
        let m = &h.masters["m"];
        assert_eq!(
            (
                m.failovers_started,
                m.failovers_completed,
                m.failovers_aborted
            ),
            (2, 1, 1)
        );
        assert_eq!(m.switches, 1);
        assert_eq!(h.durations, vec![1.5]);
        assert_eq!(m.sdown_ms_at(9_000), 1_700 + 500);
        assert_eq!(m.odown_ms_at(9_000), 1_600);
        h.record("+odown", "master m 127.0.0.1 7001 #quorum 2/2", 9_000);
        assert_eq!(h.masters["m"].odown_ms_at(9_400), 2_000);
    }
}
