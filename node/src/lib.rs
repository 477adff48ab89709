//! picket-node: a Redis-compatible in-memory server.
//!
//! - [`server`]: the node as a `picket::server::Service` — state, sessions, configuration.
//! - [`cmd`]: the command table and one file per command family.
//! - [`db`]: the keyspace (dict, values, expiry, LRU/LFU).
//! - [`propagate`]: the write stream that replication and the AOF consume.
//! - [`cron`]: active expiry and periodic housekeeping. [`evict`]: maxmemory.
//! - [`alloc`]: the counting allocator behind `used_memory`. [`lazyfree`]: background frees.

pub mod alloc;
pub mod aof;
pub mod aof_rewrite;
pub mod cmd;
pub mod cron;
pub mod db;
pub mod evict;
pub mod lazyfree;
pub mod persist;
pub mod propagate;
pub mod rdb;
pub mod repl;
pub mod savepoints;
pub mod server;
pub mod snapshot;
pub mod stats;
