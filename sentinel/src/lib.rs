//! picket-sentinel: a Redis-Sentinel-compatible supervisor.
//!
//! - [`core`]: every decision, as a pure state machine driven by ticks and inputs.
//! - [`runtime`]: tokio tasks that turn actions into connections and bytes, and back.
//! - [`server`]: the client-facing command set (SENTINEL, INFO, ROLE, PUBLISH hello, ...).
//! - [`config`]: sentinel.conf loading and rewriting.

pub mod commands;
pub mod config;
pub mod core;
pub mod runtime;
pub mod scripts;
pub mod sentinel_cmd;
pub mod server;
