//! The latency histogram Redis keeps per command for INFO latencystats: an HDR histogram of
//! nanoseconds from 1 to 1e9 with 2 significant digits (HdrHistogram's layout: 23 buckets of
//! 128 half sub-buckets at unit magnitude 0), and its value-at-percentile, so the figures are
//! the bucket edges redis-server reports (`p50=1.003`).

/// Sub-buckets per bucket (2 significant digits: the first power of two above 200).
const SUB_BUCKETS: u64 = 256;
const HALF_MAGNITUDE: u32 = 7;
const HALF: u64 = 128;
const MASK: u64 = SUB_BUCKETS - 1;
/// Buckets covering 1..=1e9.
const BUCKETS: usize = 23;
/// Counts in the histogram.
pub const LEN: usize = (BUCKETS + 1) * HALF as usize;
/// The highest value tracked (1 s in ns); longer durations count as it.
const HIGHEST: u64 = 1_000_000_000;

fn bucket_of(v: u64) -> u32 {
    let pow2ceiling = 64 - (v | MASK).leading_zeros();
    pow2ceiling - (HALF_MAGNITUDE + 1)
}

/// The counts index of value `v`.
pub fn index_of(v: u64) -> usize {
    let v = v.min(HIGHEST);
    let b = bucket_of(v);
    let sub = v >> b;
    (((b as u64 + 1) << HALF_MAGNITUDE) + sub - HALF) as usize
}

fn value_at_index(i: usize) -> u64 {
    let mut b = (i as i64 >> HALF_MAGNITUDE) - 1;
    let mut sub = (i as u64 & (HALF - 1)) + HALF;
    if b < 0 {
        sub -= HALF;
        b = 0;
    }
    sub << b
}

/// The highest value counted together with `v`.
fn highest_equivalent(v: u64) -> u64 {
    let b = bucket_of(v);
    let sub = v >> b;
    let lowest = sub << b;
    let adjusted = if sub >= SUB_BUCKETS { b + 1 } else { b };
    lowest + (1u64 << adjusted) - 1
}

/// The value at `percentile` (0..=100) of `counts` holding `total` values, as
/// HdrHistogram's `hdr_value_at_percentile`.
pub fn value_at_percentile(counts: &[u64], total: u64, percentile: f64) -> u64 {
    let p = percentile.min(100.0);
    let wanted = (((p / 100.0) * total as f64) + 0.5) as u64;
    let wanted = wanted.max(1);
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= wanted {
            let v = value_at_index(i);
            // The 0th percentile is the lowest value of its bucket, as HdrHistogram has it.
            return if p == 0.0 { v } else { highest_equivalent(v) };
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[u64]) -> Vec<u64> {
        let mut h = vec![0; LEN];
        for v in values {
            h[index_of(*v)] += 1;
        }
        h
    }

    #[test]
    fn percentiles_are_the_bucket_edges_redis_reports() {
        // Values as redis-server 7.0 printed them for one call each (µs ×1000).
        for (ns, shown) in [
            (1000, 1003),
            (3000, 3007),
            (4010, 4015),
            (24060, 24063),
            (473000, 473087),
        ] {
            let h = hist(&[ns]);
            assert_eq!(value_at_percentile(&h, 1, 50.0), shown, "{ns}");
        }
        let h = hist(&[1, 2, 3, 100, 100_000]);
        assert_eq!(value_at_percentile(&h, 5, 50.0), 3);
        assert_eq!(
            value_at_percentile(&h, 5, 99.9),
            highest_equivalent(100_000)
        );
        assert_eq!(value_at_percentile(&hist(&[24100]), 1, 0.0), 24064);
        assert_eq!(value_at_percentile(&hist(&[23940]), 1, 0.0), 23936);
        assert_eq!(index_of(u64::MAX), index_of(HIGHEST));
        assert!(index_of(HIGHEST) < LEN);
    }
}
