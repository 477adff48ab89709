//! The sentinel's clock.

static CLOCK_START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The core's clock: monotonic milliseconds, starting far from zero so that "long ago" (a zero
/// timestamp) is really long ago, as with Redis's wall-clock milliseconds.
pub fn clock_ms() -> u64 {
    CLOCK_START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
        + 1_000_000_000
}
