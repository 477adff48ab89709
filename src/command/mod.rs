//! Commands as data: each program declares its commands ([`table::Entry`]: name, handler,
//! subcommands), and Redis's own metadata ([`meta`]: arity, flags, ACL categories, tips, key
//! specs, documentation, captured from Redis 7.0.15) fills in the rest. Dispatch, arity
//! errors, flag checks and COMMAND ([`introspect`]) all read the one [`table::Table`].
//!
//! - [`flags`]: the flag bits and their COMMAND INFO names.
//! - [`meta`]: Redis 7.0.15's COMMAND INFO and DOCS, parsed.
//! - [`table`]: entries joined with the metadata; lookup and resolution with Redis's errors.
//! - [`keys`]: the keys of a command's arguments, from its key specs.
//! - [`introspect`]: COMMAND COUNT, INFO, DOCS, LIST, GETKEYS, GETKEYSANDFLAGS.

pub mod flags;
pub mod introspect;
pub mod keys;
pub mod meta;
pub mod table;

pub use table::{Command, Entry, Table};

use std::collections::HashMap;
use std::sync::OnceLock;

/// Redis 7.0.15's server commands, parsed once.
pub fn server_meta() -> &'static HashMap<String, meta::Meta> {
    static META: OnceLock<HashMap<String, meta::Meta>> = OnceLock::new();
    META.get_or_init(|| meta::parse(meta::REDIS_SERVER).expect("the bundled command metadata"))
}

/// Redis 7.0.15's Sentinel commands, parsed once.
pub fn sentinel_meta() -> &'static HashMap<String, meta::Meta> {
    static META: OnceLock<HashMap<String, meta::Meta>> = OnceLock::new();
    META.get_or_init(|| meta::parse(meta::REDIS_SENTINEL).expect("the bundled command metadata"))
}
