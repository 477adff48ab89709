//! `picket`: the library shared by picket-node and picket-sentinel.
//!
//! - [`resp`]: the bounded request parser and the RESP2/RESP3 reply encoder.
//! - [`server`]: listeners, the connection loop, the client registry, the [`server::Service`] trait.
//! - [`pubsub`]: channels, patterns, PUBLISH fan-out with output limits.
//! - [`config`]: the directive table, redis.conf/TOML/CLI loading, CONFIG REWRITE.
//! - [`glob`]: Redis's glob matching. [`numfmt`]: Redis's number parsing and printing.
//! - [`info`]: INFO section building. [`logging`]: tracing set-up in Redis's line format or JSON.
//!   [`crash`]: the bug report (signal, stack trace) written to the log on a crash or a panic.
//! - [`acl`]: ACL users, their passwords and command rules.
//! - [`args`]: the argument cursor that produces Redis's exact errors.
//! - [`keyspace_events`]: the classes of keyspace notifications and their flag string.
//! - [`command`]: command tables (declared entries joined with Redis's metadata) and COMMAND.
//! - [`http`]: the small HTTP server; [`metrics`]: Prometheus metrics built at each scrape.

pub mod acl;
pub mod args;
pub mod command;
pub mod config;
pub mod crash;
pub mod fsutil;
pub mod glob;
pub mod help;
pub mod http;
pub mod info;
pub mod keyspace_events;
pub mod logging;
pub mod metrics;
pub mod numfmt;
pub mod pubsub;
pub mod resp;
pub mod server;

/// The Redis version Picket reports (clients and sentinels parse it).
pub const REDIS_VERSION: &str = "7.0.15";

/// A random 40-hex-character id (run_id, replid, sentinel myid).
pub fn random_hex_id() -> String {
    use rand::RngExt;
    let mut r = rand::rng();
    (0..40)
        .map(|_| char::from_digit(r.random_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}
