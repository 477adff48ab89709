//! Redis's `math.random`: a 48-bit linear congruential generator (the `lrand48` family),
//! starting from the same seed as Redis and never reseeded between scripts, so the same
//! sequence of scripts draws the same numbers on Redis and Picket.

use std::sync::atomic::{AtomicU64, Ordering};

const A: u64 = 0x5DEECE66D;
const C: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;
/// The state before any `math.randomseed`.
pub const INITIAL: u64 = 0x1234_ABCD_330E;
const MAX: u64 = i32::MAX as u64;

/// The generator's state, shared by the VM's `math.random` and `math.randomseed`.
#[derive(Debug)]
pub struct Rand48(AtomicU64);

impl Default for Rand48 {
    fn default() -> Self {
        Rand48(AtomicU64::new(INITIAL))
    }
}

impl Rand48 {
    /// The next 31-bit draw.
    pub fn next(&self) -> u64 {
        let x = (A
            .wrapping_mul(self.0.load(Ordering::Relaxed))
            .wrapping_add(C))
            & MASK;
        self.0.store(x, Ordering::Relaxed);
        x >> 17
    }

    pub fn seed(&self, seed: i64) {
        self.0.store(
            (((seed as u32) as u64) << 16 | 0x330E) & MASK,
            Ordering::Relaxed,
        );
    }

    /// `math.random()`: in [0, 1).
    pub fn unit(&self) -> f64 {
        (self.next() % MAX) as f64 / MAX as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_what_redis_draws() {
        // Redis 7.0.15: the first `tostring(math.random())` after start, and after
        // `math.randomseed(0)`.
        let r = Rand48::default();
        assert_eq!(format!("{:.14}", r.unit()), "0.39646477363839");
        r.seed(0);
        assert_eq!(format!("{:.14}", r.unit()), "0.17082803611217");
    }
}
