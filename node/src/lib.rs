//! picket-node: a Redis-compatible in-memory server.
//!
//! The modules form layers; each imports only from the layers below it (the architecture test,
//! `tests/architecture.rs`, checks it):
//!
//! 1. Leaves
//!    - [`alloc`]: the counting allocator behind `used_memory`.
//!    - [`clock`]: wall-clock milliseconds and microseconds.
//!    - [`stats`]: the server's counters (INFO stats); [`hdr`]: the per-command latency
//!      histogram (INFO latencystats).
//!    - [`db`]: the keyspace (dict, values and their encodings, expiry, LRU/LFU, snapshot capture).
//!    - [`rdb`]: the RDB format, read and written (codecs only).
//!    - [`lazyfree`]: freeing values, in the background for large ones.
//!    - [`script`]: Lua 5.1 as Redis embeds it (EVAL's script cache, FUNCTION libraries, the
//!      sandbox, cjson/cmsgpack/bit/struct, reply conversion, the busy state); commands reach
//!      it through its `Host` interface.
//! 2. [`state`]: `Node`, `NodeState`, `Session`, `HotConfig`, and each subsystem's state type.
//! 3. [`propagate`]: the write stream, handed to the AOF and the replicas.
//! 4. [`persistence`]: RDB file, save points, snapshots, the AOF and its rewrite;
//!    [`evict`]: maxmemory.
//! 5. [`repl`]: replication mechanics (the replica link, full and partial resyncs, the cron).
//! 6. [`cmd`]: the command table and one file per command family.
//! 7. [`server`]: the node as a `picket::server::Service`; [`cron`]: periodic housekeeping;
//!    [`busy_responder`]: answers other clients while a script is busy; [`metrics`]: the
//!    Prometheus endpoint (`metrics-port`).
//!
//! What lower layers need to run commands (AOF replay, the replica's stream) is the
//! [`state::replay::Replay`] interface, which [`cmd`] implements and the top hands down.

pub mod alloc;
pub mod busy_responder;
pub mod clock;
pub mod cmd;
pub mod cron;
pub mod db;
pub mod evict;
pub mod hdr;
pub mod lazyfree;
pub mod metrics;
pub mod persistence;
pub mod propagate;
pub mod rdb;
pub mod repl;
pub mod script;
pub mod server;
pub mod state;
pub mod stats;
