//! Access tracking for eviction, as Redis keeps it in 24 bits per key: an LRU clock in
//! seconds, or for LFU policies 16 bits of minutes since the last decrement and an 8-bit
//! logarithmic counter.

use std::time::{SystemTime, UNIX_EPOCH};

pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
const LFU_INIT_VAL: u32 = 5;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The LRU clock: seconds, wrapping at 24 bits.
static LRU_CLOCK: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The LRU clock: seconds, wrapping at 24 bits. Cached (as Redis's server.lruclock) and
/// refreshed by [`update_lru_clock`] from the cron, so key accesses do not read the time.
pub fn lru_clock() -> u32 {
    let c = LRU_CLOCK.load(std::sync::atomic::Ordering::Relaxed);
    if c != 0 {
        return c;
    }
    update_lru_clock()
}

/// Reads the time into the cached LRU clock.
pub fn update_lru_clock() -> u32 {
    let c = ((now_secs() as u32) & LRU_CLOCK_MAX).max(1);
    LRU_CLOCK.store(c, std::sync::atomic::Ordering::Relaxed);
    c
}

fn lfu_minutes() -> u32 {
    ((now_secs() / 60) & 0xFFFF) as u32
}

#[derive(Debug, Clone, Copy)]
pub struct AccessPolicy {
    pub lfu: bool,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        AccessPolicy {
            lfu: false,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
        }
    }
}

impl AccessPolicy {
    /// The field of a new key.
    pub fn initial(&self) -> u32 {
        if self.lfu {
            (lfu_minutes() << 8) | LFU_INIT_VAL
        } else {
            lru_clock()
        }
    }

    /// Records an access.
    pub fn touch(&self, field: &mut u32) {
        if self.lfu {
            let counter = self.decayed_counter(*field);
            let counter = self.log_incr(counter);
            *field = (lfu_minutes() << 8) | counter;
        } else {
            *field = lru_clock();
        }
    }

    fn log_incr(&self, counter: u32) -> u32 {
        if counter == 255 {
            return 255;
        }
        let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
        let p = 1.0 / (base * self.lfu_log_factor as f64 + 1.0);
        if rand::random::<f64>() < p {
            counter + 1
        } else {
            counter
        }
    }

    /// The LFU counter after decay for the minutes elapsed since the last access.
    pub fn decayed_counter(&self, field: u32) -> u32 {
        let ldt = field >> 8;
        let counter = field & 255;
        let now = lfu_minutes();
        let elapsed = if now >= ldt {
            now - ldt
        } else {
            65535 - ldt + now
        };
        let periods = elapsed.checked_div(self.lfu_decay_time).unwrap_or(0);
        counter.saturating_sub(periods)
    }

    /// Seconds since the last access (LRU mode).
    pub fn idle_secs(field: u32) -> u64 {
        let now = lru_clock();
        if now >= field {
            (now - field) as u64
        } else {
            (LRU_CLOCK_MAX - field + now) as u64
        }
    }
}
