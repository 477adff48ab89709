//! Counters for INFO stats, commandstats and errorstats.

use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Calls per duration bucket (LATENCY HISTOGRAM): bucket k holds durations up to
    /// 1024·2^k ns (empty until the first call).
    pub hist: Vec<u64>,
    /// The HDR histogram of durations (ns) INFO latencystats reads (empty until a call is
    /// recorded with `latency-tracking yes`).
    pub hdr: Vec<u64>,
    /// Calls counted in `hdr`.
    pub hdr_total: u64,
}

/// Duration buckets of [`CommandStat::hist`].
pub const HIST_BUCKETS: usize = 40;

impl CommandStat {
    /// Counts one call's duration in its bucket.
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        if self.hist.is_empty() {
            self.hist = vec![0; HIST_BUCKETS];
        }
        let k = if ns <= 1024 {
            0
        } else {
            (64 - ((ns - 1) >> 10).leading_zeros()) as usize
        };
        self.hist[k.min(HIST_BUCKETS - 1)] += 1;
    }

    /// Counts one call's duration for the percentiles (`latency-tracking`).
    #[inline]
    pub fn record_percentile_ns(&mut self, ns: u64) {
        if self.hdr.is_empty() {
            self.hdr = vec![0; crate::hdr::LEN];
        }
        self.hdr[crate::hdr::index_of(ns)] += 1;
        self.hdr_total += 1;
    }
}

/// The microseconds LATENCY HISTOGRAM shows for bucket `k`: the highest value an HDR
/// histogram of 2 significant digits (Redis's) counts with 1024·2^k ns, in µs.
pub fn bucket_usec(k: usize) -> u64 {
    let top = 1024u64 << k;
    // Sub-buckets of 256 values: the unit at this magnitude is 2^(log2(top) - 7).
    let unit = 1u64 << (63 - top.leading_zeros()).saturating_sub(7);
    (top + unit - 1) / 1000
}

#[derive(Debug, Default)]
pub struct Stats {
    pub commands_processed: u64,
    /// Per command, at its table id ([`crate::cmd::Command::id`]), with its name; `None` for
    /// a command that has not run (nor been rejected) since the last reset.
    commands: Vec<Option<(&'static str, CommandStat)>>,
    pub errors: BTreeMap<String, u64>,
    pub total_error_replies: u64,
    /// (time ms, commands processed) samples for instantaneous_ops_per_sec.
    pub ops_samples: Vec<(i64, u64)>,
}

impl Stats {
    /// The counters of the command with table id `id` and name `name`.
    #[inline]
    pub fn command(&mut self, id: usize, name: &'static str) -> &mut CommandStat {
        if id >= self.commands.len() {
            self.commands.resize(id + 1, None);
        }
        &mut self.commands[id]
            .get_or_insert_with(|| (name, CommandStat::default()))
            .1
    }

    /// Every command that ran or was rejected, by name.
    pub fn commands(&self) -> Vec<(&'static str, &CommandStat)> {
        let mut v: Vec<_> = self
            .commands
            .iter()
            .flatten()
            .map(|(n, s)| (*n, s))
            .collect();
        v.sort_by_key(|(n, _)| *n);
        v
    }

    /// Counts error replies by code; an empty code is an error already counted.
    pub fn record_errors(&mut self, codes: Vec<String>) {
        for c in codes.into_iter().filter(|c| !c.is_empty()) {
            self.total_error_replies += 1;
            *self.errors.entry(c).or_default() += 1;
        }
    }

    /// Operations per second over the recent samples.
    pub fn instantaneous_ops(&self) -> u64 {
        match (self.ops_samples.first(), self.ops_samples.last()) {
            (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1) * 1000 / (b.0 - a.0) as u64,
            _ => 0,
        }
    }

    pub fn sample(&mut self, now_ms: i64) {
        self.ops_samples.push((now_ms, self.commands_processed));
        if self.ops_samples.len() > 16 {
            self.ops_samples.remove(0);
        }
    }

    pub fn reset(&mut self) {
        self.commands.clear();
        self.errors.clear();
        self.total_error_replies = 0;
        self.commands_processed = 0;
        self.ops_samples.clear();
    }
}
