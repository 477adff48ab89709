//! Command flags, as Redis names them in COMMAND INFO (in Redis's order there).

pub const WRITE: u32 = 1;
pub const READONLY: u32 = 1 << 1;
pub const DENYOOM: u32 = 1 << 2;
pub const ADMIN: u32 = 1 << 3;
pub const PUBSUB: u32 = 1 << 4;
pub const NOSCRIPT: u32 = 1 << 5;
pub const LOADING: u32 = 1 << 6;
pub const STALE: u32 = 1 << 7;
pub const FAST: u32 = 1 << 8;
pub const NO_AUTH: u32 = 1 << 9;
pub const MAY_REPLICATE: u32 = 1 << 10;
pub const NO_MULTI: u32 = 1 << 11;
pub const SKIP_MONITOR: u32 = 1 << 12;
pub const ALLOW_BUSY: u32 = 1 << 13;
pub const SKIP_SLOWLOG: u32 = 1 << 14;
pub const BLOCKING: u32 = 1 << 15;
pub const MOVABLEKEYS: u32 = 1 << 16;
pub const NO_ASYNC_LOADING: u32 = 1 << 17;
pub const NO_MANDATORY_KEYS: u32 = 1 << 18;
pub const ALLOW_STALE_READS_NOT: u32 = 1 << 19;

/// Every flag with its COMMAND INFO name.
pub const NAMES: &[(u32, &str)] = &[
    (WRITE, "write"),
    (READONLY, "readonly"),
    (DENYOOM, "denyoom"),
    (ADMIN, "admin"),
    (PUBSUB, "pubsub"),
    (NOSCRIPT, "noscript"),
    (BLOCKING, "blocking"),
    (LOADING, "loading"),
    (STALE, "stale"),
    (SKIP_MONITOR, "skip_monitor"),
    (SKIP_SLOWLOG, "skip_slowlog"),
    (FAST, "fast"),
    (NO_AUTH, "no_auth"),
    (MAY_REPLICATE, "may_replicate"),
    (NO_MANDATORY_KEYS, "no_mandatory_keys"),
    (NO_ASYNC_LOADING, "no_async_loading"),
    (NO_MULTI, "no_multi"),
    (MOVABLEKEYS, "movablekeys"),
    (ALLOW_BUSY, "allow_busy"),
];

/// The bit of a flag named as COMMAND INFO names it.
pub fn from_name(name: &str) -> Option<u32> {
    NAMES.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
}
