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

/// The COMMAND container with its subcommands, for a program `P` (an
/// [`introspect::Program`]): both programs declare it the same way.
#[macro_export]
macro_rules! command_container {
    ($p:ty) => {
        $crate::command::Entry::container(
            "command",
            $crate::command::introspect::all::<$p>,
            &[
                $crate::command::Entry::new("count", $crate::command::introspect::count::<$p>),
                $crate::command::Entry::new("docs", $crate::command::introspect::docs::<$p>),
                $crate::command::Entry::new("getkeys", $crate::command::introspect::getkeys::<$p>),
                $crate::command::Entry::new(
                    "getkeysandflags",
                    $crate::command::introspect::getkeysandflags::<$p>,
                ),
                $crate::command::Entry::new("help", $crate::command::introspect::help::<$p>),
                $crate::command::Entry::new("info", $crate::command::introspect::info::<$p>),
                $crate::command::Entry::new("list", $crate::command::introspect::list::<$p>),
            ],
        )
    };
}

/// The CLIENT container: the subcommands both programs have, then `extra` ones, all run by
/// `handler` (the shared CLIENT implementation, [`crate::server::client_cmd`]).
#[macro_export]
macro_rules! client_container {
    ($none:expr, $handler:expr $(, $extra:literal)*) => {
        $crate::command::Entry::container(
            "client",
            $none,
            &[
                $(
                    $crate::command::Entry::new($extra, $handler),
                )*
                $crate::command::Entry::new("caching", $handler),
                $crate::command::Entry::new("getname", $handler),
                $crate::command::Entry::new("getredir", $handler),
                $crate::command::Entry::new("help", $handler),
                $crate::command::Entry::new("id", $handler),
                $crate::command::Entry::new("info", $handler),
                $crate::command::Entry::new("kill", $handler),
                $crate::command::Entry::new("list", $handler),
                $crate::command::Entry::new("no-evict", $handler),
                $crate::command::Entry::new("pause", $handler),
                $crate::command::Entry::new("reply", $handler),
                $crate::command::Entry::new("setname", $handler),
                $crate::command::Entry::new("unblock", $handler),
                $crate::command::Entry::new("unpause", $handler),
            ],
        )
    };
}

/// Declares `$prog`, the program as the shared COMMAND handlers see it: its handlers' context
/// `$ctx` (which has `out: &mut Reply`), its handler type and its table.
#[macro_export]
macro_rules! command_program {
    ($(#[$doc:meta])* $prog:ident, $ctx:ident, $handler:ty, $table:path) => {
        $(#[$doc])*
        pub struct $prog;

        impl $crate::command::introspect::Program for $prog {
            type Ctx<'a> = $ctx<'a>;
            type Handler = $handler;

            fn table() -> &'static $crate::command::Table<$handler> {
                $table()
            }

            fn reply<'b>(ctx: &'b mut $ctx<'_>) -> &'b mut $crate::resp::Reply {
                ctx.out
            }
        }
    };
}
