//! picket-sentinel: a Redis-Sentinel-compatible supervisor.
//!
//! The modules form layers; each imports only from the layers below it (the architecture test,
//! `tests/architecture.rs`, checks it):
//!
//! 1. Leaves
//!    - [`core`]: every decision, as a pure state machine driven by ticks and inputs.
//!    - [`commands`]: the command table (names, arity, flags, ACL categories, tips).
//!    - [`scripts`]: notification and client-reconfig scripts, queued and run.
//!    - [`clock`]: the core's monotonic millisecond clock.
//! 2. [`state`]: `SentinelNode`, `SentinelState`, `Session`.
//! 3. [`config`]: sentinel.conf (and TOML) loading, rendering, atomic rewriting.
//! 4. [`runtime`]: tokio tasks that turn actions into connections and bytes, and back.
//! 5. [`sentinel_cmd`]: the SENTINEL command and its subcommands.
//! 6. [`server`]: the client-facing command set (PING, INFO, ROLE, PUBLISH hello, ...).

pub mod clock;
pub mod commands;
pub mod config;
pub mod core;
pub mod runtime;
pub mod scripts;
pub mod sentinel_cmd;
pub mod server;
pub mod state;
