//! Wall-clock time as the node reads it: milliseconds and microseconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Redis's testing delays (`key-load-delay`, `rdb-key-save-delay`): `usec` > 0 sleeps that many
/// microseconds; `usec` < 0 sleeps one microsecond once in `-usec` calls (shorter delays on
/// average than a sleep can make).
pub fn debug_delay(usec: i64) {
    let usec = if usec < 0 {
        i64::from(rand::random_range(0..usec.unsigned_abs()) == 0)
    } else {
        usec
    };
    if usec > 0 {
        std::thread::sleep(std::time::Duration::from_micros(usec as u64));
    }
}
