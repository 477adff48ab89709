//! picket-sentinel: a Redis-Sentinel-compatible supervisor.
//!
//! The modules form layers; each imports only from the layers below it (the architecture test,
//! `tests/architecture.rs`, checks it):
//!
//! 1. Leaves
//!    - [`core`]: every decision, as a pure state machine driven by ticks and inputs.
//!    - [`scripts`]: notification and client-reconfig scripts, queued and run.
//!    - [`clock`]: the core's monotonic millisecond clock.
//!    - [`history`]: what the events add up to (failovers, time down), for the metrics.
//! 2. [`state`]: `SentinelNode`, `SentinelState`, `Session`.
//! 3. [`config`]: sentinel.conf (and TOML) loading, rendering, atomic rewriting.
//! 4. [`runtime`]: tokio tasks that turn actions into connections and bytes, and back.
//! 5. [`cmd`]: the command table and one file per command family (SENTINEL, INFO, ...).
//! 6. [`server`]: the sentinel as a `picket::server::Service`; [`metrics`]: the Prometheus
//!    metrics; [`status_page`]: the HTTP port (`metrics-port`) with the metrics and the live
//!    status page.

pub mod clock;
pub mod cmd;
pub mod config;
pub mod core;
pub mod history;
pub mod metrics;
pub mod runtime;
pub mod scripts;
pub mod server;
pub mod state;
pub mod status_page;
