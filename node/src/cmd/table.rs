//! The command table: one entry per command, as Redis 7.0 declares it (arity, flags, keys).

use super::flags::*;
use super::{
    build_index, config, connection, debug, expire, info, introspect, keys, multi, pubsub, server,
    strings, Command, Handler,
};
use std::sync::{LazyLock, OnceLock};

#[allow(clippy::too_many_arguments)]
pub(super) const fn c(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: Handler,
) -> Command {
    Command {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        group,
        summary,
        since,
        handler,
        subcommands: &[],
    }
}

#[allow(clippy::too_many_arguments)]
const fn container(
    name: &'static str,
    arity: i32,
    flags: u32,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: Handler,
    subcommands: &'static [Command],
) -> Command {
    Command {
        name,
        arity,
        flags,
        first_key: 0,
        last_key: 0,
        step: 0,
        group,
        summary,
        since,
        handler,
        subcommands,
    }
}

const NK: (i32, i32, i32) = (0, 0, 0);
const K1: (i32, i32, i32) = (1, 1, 1);
const KALL: (i32, i32, i32) = (1, -1, 1);
const K12: (i32, i32, i32) = (1, 2, 1);
const LS: u32 = LOADING | STALE;
const CONN: u32 = NOSCRIPT | LOADING | STALE | FAST | NO_AUTH;

fn unreachable_container(ctx: &mut super::Ctx, _a: &[bytes::Bytes]) {
    ctx.out.error("ERR unknown subcommand");
}

static CLIENT_SUBS: &[Command] = &[
    c(
        "caching",
        3,
        NOSCRIPT | LS,
        NK,
        "connection",
        "6.0.0",
        "Instruct the server about tracking or not keys in the next request",
        connection::client,
    ),
    c(
        "getname",
        2,
        NOSCRIPT | LS,
        NK,
        "connection",
        "2.6.9",
        "Get the current connection name",
        connection::client,
    ),
    c(
        "getredir",
        2,
        NOSCRIPT | LS,
        NK,
        "connection",
        "6.0.0",
        "Get tracking notifications redirection client ID if any",
        connection::client,
    ),
    c(
        "help",
        2,
        LS,
        NK,
        "connection",
        "5.0.0",
        "Show helpful text about the different subcommands",
        connection::client,
    ),
    c(
        "id",
        2,
        NOSCRIPT | LS,
        NK,
        "connection",
        "5.0.0",
        "Returns the client ID for the current connection",
        connection::client,
    ),
    c(
        "info",
        2,
        NOSCRIPT | LS,
        NK,
        "connection",
        "6.2.0",
        "Returns information about the current client connection.",
        connection::client,
    ),
    c(
        "kill",
        -3,
        ADMIN | NOSCRIPT | LS,
        NK,
        "connection",
        "2.4.0",
        "Kill the connection of a client",
        connection::client,
    ),
    c(
        "list",
        -2,
        ADMIN | NOSCRIPT | LS,
        NK,
        "connection",
        "2.4.0",
        "Get the list of client connections",
        connection::client,
    ),
    c(
        "no-evict",
        3,
        ADMIN | NOSCRIPT | LS,
        NK,
        "connection",
        "7.0.0",
        "Set client eviction mode for the current connection",
        connection::client,
    ),
    c(
        "pause",
        -3,
        ADMIN | NOSCRIPT | LS,
        NK,
        "connection",
        "2.9.50",
        "Stop processing commands from clients for some time",
        connection::client,
    ),
    c(
        "reply",
        3,
        NOSCRIPT | LS,
        NK,
        "connection",
        "3.2.0",
        "Instruct the server whether to reply to commands",
        connection::client,
    ),
    c(
        "setname",
        3,
        NOSCRIPT | LS,
        NK,
        "connection",
        "2.6.9",
        "Set the current connection name",
        connection::client,
    ),
    c(
        "unblock",
        -3,
        ADMIN | NOSCRIPT | LS,
        NK,
        "connection",
        "5.0.0",
        "Unblock a client blocked in a blocking command from a different connection",
        connection::client,
    ),
    c(
        "unpause",
        2,
        ADMIN | NOSCRIPT | LS,
        NK,
        "connection",
        "6.2.0",
        "Resume processing of clients that were paused",
        connection::client,
    ),
];

static CONFIG_SUBS: &[Command] = &[
    c(
        "get",
        -3,
        ADMIN | NOSCRIPT | LS,
        NK,
        "server",
        "2.0.0",
        "Get the values of configuration parameters",
        config::get,
    ),
    c(
        "help",
        2,
        LS,
        NK,
        "server",
        "5.0.0",
        "Show helpful text about the different subcommands",
        config::help,
    ),
    c(
        "resetstat",
        2,
        ADMIN | NOSCRIPT | LS,
        NK,
        "server",
        "2.0.0",
        "Reset the stats returned by INFO",
        config::resetstat,
    ),
    c(
        "rewrite",
        2,
        ADMIN | NOSCRIPT | LS,
        NK,
        "server",
        "2.8.0",
        "Rewrite the configuration file with the in memory configuration",
        config::rewrite,
    ),
    c(
        "set",
        -4,
        ADMIN | NOSCRIPT | LS,
        NK,
        "server",
        "2.0.0",
        "Set configuration parameters to the given values",
        config::set,
    ),
];

static OBJECT_SUBS: &[Command] = &[
    c(
        "encoding",
        3,
        READONLY,
        (2, 2, 1),
        "generic",
        "2.2.3",
        "Inspect the internal encoding of a Redis object",
        keys::object,
    ),
    c(
        "freq",
        3,
        READONLY,
        (2, 2, 1),
        "generic",
        "4.0.0",
        "Get the logarithmic access frequency counter of a Redis object",
        keys::object,
    ),
    c(
        "help",
        2,
        LS,
        NK,
        "generic",
        "6.2.0",
        "Show helpful text about the different subcommands",
        keys::object,
    ),
    c(
        "idletime",
        3,
        READONLY,
        (2, 2, 1),
        "generic",
        "2.2.3",
        "Get the time since a Redis object was last accessed",
        keys::object,
    ),
    c(
        "refcount",
        3,
        READONLY,
        (2, 2, 1),
        "generic",
        "2.2.3",
        "Get the number of references to the value of the key",
        keys::object,
    ),
];

static COMMAND_SUBS: &[Command] = &[
    c(
        "count",
        2,
        LS,
        NK,
        "server",
        "2.8.13",
        "Get total number of Redis commands",
        introspect::command,
    ),
    c(
        "docs",
        -2,
        LS,
        NK,
        "server",
        "7.0.0",
        "Get array of specific Redis command documentation",
        introspect::command,
    ),
    c(
        "help",
        2,
        LS,
        NK,
        "server",
        "5.0.0",
        "Show helpful text about the different subcommands",
        introspect::command,
    ),
    c(
        "info",
        -2,
        LS,
        NK,
        "server",
        "2.8.13",
        "Get array of specific Redis command details, or all when no argument is given.",
        introspect::command,
    ),
    c(
        "list",
        -2,
        LS,
        NK,
        "server",
        "7.0.0",
        "Get an array of Redis command names",
        introspect::command,
    ),
];

static PUBSUB_SUBS: &[Command] = &[
    c(
        "channels",
        -2,
        PUBSUB | LS,
        NK,
        "pubsub",
        "2.8.0",
        "List active channels",
        pubsub::pubsub,
    ),
    c(
        "help",
        2,
        LS,
        NK,
        "pubsub",
        "6.2.0",
        "Show helpful text about the different subcommands",
        pubsub::pubsub,
    ),
    c(
        "numpat",
        2,
        PUBSUB | LS,
        NK,
        "pubsub",
        "2.8.0",
        "Get the count of unique patterns pattern subscriptions",
        pubsub::pubsub,
    ),
    c(
        "numsub",
        -2,
        PUBSUB | LS,
        NK,
        "pubsub",
        "2.8.0",
        "Get the count of subscribers for channels",
        pubsub::pubsub,
    ),
    c(
        "shardchannels",
        -2,
        PUBSUB | LS,
        NK,
        "pubsub",
        "7.0.0",
        "List active shard channels",
        pubsub::pubsub,
    ),
    c(
        "shardnumsub",
        -2,
        PUBSUB | LS,
        NK,
        "pubsub",
        "7.0.0",
        "Get the count of subscribers for shard channels",
        pubsub::pubsub,
    ),
];

static SCRIPT_SUBS: &[Command] = &[
    c(
        "help",
        2,
        LS,
        NK,
        "scripting",
        "5.0.0",
        "Show helpful text about the different subcommands",
        debug::script,
    ),
    c(
        "kill",
        2,
        NOSCRIPT | ALLOW_BUSY,
        NK,
        "scripting",
        "2.6.0",
        "Kill the script currently in execution.",
        debug::script,
    ),
];

/// Every command, alphabetically.
/// The commands of the foundation (strings, keys, server, connection, pub/sub, transactions).
pub static CORE_COMMANDS: &[Command] = &[
    c("append", 3, WRITE | DENYOOM | FAST, K1, "string", "2.0.0", "Append a value to a key", strings::append),
    c("auth", -2, CONN, NK, "connection", "1.0.0", "Authenticate to the server", connection::auth),
    c("bgrewriteaof", 1, ADMIN | NOSCRIPT | NO_MULTI, NK, "server", "1.0.0", "Asynchronously rewrite the append-only file", server::bgrewriteaof),
    c("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, NK, "server", "1.0.0", "Asynchronously save the dataset to disk", server::bgsave),
    container("client", -2, NOSCRIPT | LS, "connection", "2.4.0", "A container for client connection commands", unreachable_container, CLIENT_SUBS),
    container("command", -1, LS, "server", "2.8.13", "Get array of Redis command details", introspect::command, COMMAND_SUBS),
    container("config", -2, NOSCRIPT | LS, "server", "2.0.0", "A container for server configuration commands", unreachable_container, CONFIG_SUBS),
    c("copy", -3, WRITE | DENYOOM, K12, "generic", "6.2.0", "Copy a key", keys::copy),
    c("dbsize", 1, READONLY | FAST, NK, "server", "1.0.0", "Return the number of keys in the selected database", keys::dbsize),
    c("debug", -2, ADMIN | NOSCRIPT | LS, NK, "server", "1.0.0", "A container for debugging commands", debug::debug),
    c("decr", 2, WRITE | DENYOOM | FAST, K1, "string", "1.0.0", "Decrement the integer value of a key by one", strings::decr),
    c("decrby", 3, WRITE | DENYOOM | FAST, K1, "string", "1.0.0", "Decrement the integer value of a key by the given number", strings::decrby),
    c("del", -2, WRITE, KALL, "generic", "1.0.0", "Delete a key", keys::del),
    c("discard", 1, NOSCRIPT | LS | FAST | ALLOW_BUSY, NK, "transactions", "2.0.0", "Discard all commands issued after MULTI", multi::discard),
    c("echo", 2, FAST, NK, "connection", "1.0.0", "Echo the given string", connection::echo),
    c("exec", 1, NOSCRIPT | LS | SKIP_SLOWLOG, NK, "transactions", "1.2.0", "Execute all commands issued after MULTI", multi::exec),
    c("exists", -2, READONLY | FAST, KALL, "generic", "1.0.0", "Determine if a key exists", keys::exists),
    c("expire", -3, WRITE | FAST, K1, "generic", "1.0.0", "Set a key's time to live in seconds", expire::expire),
    c("expireat", -3, WRITE | FAST, K1, "generic", "1.2.0", "Set the expiration for a key as a UNIX timestamp", expire::expireat),
    c("expiretime", 2, READONLY | FAST, K1, "generic", "7.0.0", "Get the expiration Unix timestamp for a key", expire::expiretime),
    c("flushall", -1, WRITE, NK, "server", "1.0.0", "Remove all keys from all databases", keys::flushall),
    c("flushdb", -1, WRITE, NK, "server", "1.0.0", "Remove all keys from the current database", keys::flushdb),
    c("get", 2, READONLY | FAST, K1, "string", "1.0.0", "Get the value of a key", strings::get),
    c("getdel", 2, WRITE | FAST, K1, "string", "6.2.0", "Get the value of a key and delete the key", strings::getdel),
    c("getex", -2, WRITE | FAST, K1, "string", "6.2.0", "Get the value of a key and optionally set its expiration", strings::getex),
    c("getrange", 4, READONLY, K1, "string", "2.4.0", "Get a substring of the string stored at a key", strings::getrange),
    c("getset", 3, WRITE | DENYOOM | FAST, K1, "string", "1.0.0", "Set the string value of a key and return its old value", strings::getset),
    c("hello", -1, CONN, NK, "connection", "6.0.0", "Handshake with Redis", connection::hello),
    c("incr", 2, WRITE | DENYOOM | FAST, K1, "string", "1.0.0", "Increment the integer value of a key by one", strings::incr),
    c("incrby", 3, WRITE | DENYOOM | FAST, K1, "string", "1.0.0", "Increment the integer value of a key by the given amount", strings::incrby),
    c("incrbyfloat", 3, WRITE | DENYOOM | FAST, K1, "string", "2.6.0", "Increment the float value of a key by the given amount", strings::incrbyfloat),
    c("info", -1, LS, NK, "server", "1.0.0", "Get information and statistics about the server", info::info),
    c("keys", 2, READONLY, NK, "generic", "1.0.0", "Find all keys matching the given pattern", keys::keys),
    c("lastsave", 1, LS | FAST, NK, "server", "1.0.0", "Get the UNIX time stamp of the last successful save to disk", server::lastsave),
    c("lcs", -3, READONLY, K12, "string", "7.0.0", "Find longest common substring", strings::lcs),
    c("mget", -2, READONLY | FAST, KALL, "string", "1.0.0", "Get the values of all the given keys", strings::mget),
    c("monitor", 1, ADMIN | NOSCRIPT | LS, NK, "server", "1.0.0", "Listen for all requests received by the server in real time", server::monitor),
    c("move", 3, WRITE | FAST, K1, "generic", "1.0.0", "Move a key to another database", keys::move_),
    c("mset", -3, WRITE | DENYOOM, (1, -1, 2), "string", "1.0.1", "Set multiple keys to multiple values", strings::mset),
    c("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), "string", "1.0.1", "Set multiple keys to multiple values, only if none of the keys exist", strings::msetnx),
    c("multi", 1, NOSCRIPT | LS | FAST | ALLOW_BUSY, NK, "transactions", "1.2.0", "Mark the start of a transaction block", multi::multi),
    container("object", -2, 0, "generic", "2.2.3", "A container for object introspection commands", unreachable_container, OBJECT_SUBS),
    c("persist", 2, WRITE | FAST, K1, "generic", "2.2.0", "Remove the expiration from a key", expire::persist),
    c("pexpire", -3, WRITE | FAST, K1, "generic", "2.6.0", "Set a key's time to live in milliseconds", expire::pexpire),
    c("pexpireat", -3, WRITE | FAST, K1, "generic", "2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds", expire::pexpireat),
    c("pexpiretime", 2, READONLY | FAST, K1, "generic", "7.0.0", "Get the expiration Unix timestamp for a key in milliseconds", expire::pexpiretime),
    c("ping", -1, FAST, NK, "connection", "1.0.0", "Ping the server", connection::ping),
    c("psetex", 4, WRITE | DENYOOM, K1, "string", "2.6.0", "Set the value and expiration in milliseconds of a key", strings::psetex),
    c("psubscribe", -2, PUBSUB | NOSCRIPT | LS, NK, "pubsub", "2.0.0", "Listen for messages published to channels matching the given patterns", pubsub::psubscribe),
    c("pttl", 2, READONLY | FAST, K1, "generic", "2.6.0", "Get the time to live for a key in milliseconds", expire::pttl),
    c("publish", 3, PUBSUB | LS | FAST | MAY_REPLICATE, NK, "pubsub", "2.0.0", "Post a message to a channel", pubsub::publish),
    container("pubsub", -2, 0, "pubsub", "2.8.0", "A container for Pub/Sub commands", unreachable_container, PUBSUB_SUBS),
    c("punsubscribe", -1, PUBSUB | NOSCRIPT | LS, NK, "pubsub", "2.0.0", "Stop listening for messages posted to channels matching the given patterns", pubsub::punsubscribe),
    c("quit", -1, ALLOW_BUSY | CONN, NK, "connection", "1.0.0", "Close the connection", connection::quit),
    c("randomkey", 1, READONLY, NK, "generic", "1.0.0", "Return a random key from the keyspace", keys::randomkey),
    c("rename", 3, WRITE, K12, "generic", "1.0.0", "Rename a key", keys::rename),
    c("renamenx", 3, WRITE | FAST, K12, "generic", "1.0.0", "Rename a key, only if the new key does not exist", keys::renamenx),
    c("reset", 1, CONN, NK, "connection", "6.2.0", "Reset the connection", connection::reset),
    c("save", 1, ADMIN | NOSCRIPT | NO_MULTI, NK, "server", "1.0.0", "Synchronously save the dataset to disk", server::save),
    c("scan", -2, READONLY, NK, "generic", "2.8.0", "Incrementally iterate the keys space", keys::scan),
    container("script", -2, 0, "scripting", "2.6.0", "A container for Lua scripts management commands", unreachable_container, SCRIPT_SUBS),
    c("select", 2, LS | FAST, NK, "connection", "1.0.0", "Change the selected database for the current connection", connection::select),
    c("set", -3, WRITE | DENYOOM, K1, "string", "1.0.0", "Set the string value of a key", strings::set),
    c("setex", 4, WRITE | DENYOOM, K1, "string", "2.0.0", "Set the value and expiration of a key", strings::setex),
    c("setnx", 3, WRITE | DENYOOM | FAST, K1, "string", "1.0.0", "Set the value of a key, only if the key does not exist", strings::setnx),
    c("setrange", 4, WRITE | DENYOOM, K1, "string", "2.2.0", "Overwrite part of a string at key starting at the specified offset", strings::setrange),
    c("shutdown", -1, ADMIN | NOSCRIPT | LS | NO_MULTI | ALLOW_BUSY, NK, "server", "1.0.0", "Synchronously save the dataset to disk and then shut down the server", server::shutdown),
    c("strlen", 2, READONLY | FAST, K1, "string", "2.2.0", "Get the length of the value stored in a key", strings::strlen),
    c("subscribe", -2, PUBSUB | NOSCRIPT | LS, NK, "pubsub", "2.0.0", "Listen for messages published to the given channels", pubsub::subscribe),
    c("substr", 4, READONLY, K1, "string", "1.0.0", "Get a substring of the string stored at a key", strings::getrange),
    c("swapdb", 3, WRITE | FAST, NK, "server", "4.0.0", "Swaps two Redis databases", keys::swapdb),
    c("time", 1, LS | FAST, NK, "server", "2.6.0", "Return the current server time", server::time),
    c("touch", -2, READONLY | FAST, KALL, "generic", "3.2.1", "Alters the last access time of a key(s). Returns the number of existing keys specified.", keys::touch),
    c("ttl", 2, READONLY | FAST, K1, "generic", "1.0.0", "Get the time to live for a key in seconds", expire::ttl),
    c("type", 2, READONLY | FAST, K1, "generic", "1.0.0", "Determine the type stored at key", keys::type_),
    c("unlink", -2, WRITE | FAST, KALL, "generic", "4.0.0", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", keys::unlink),
    c("unsubscribe", -1, PUBSUB | NOSCRIPT | LS, NK, "pubsub", "2.0.0", "Stop listening for messages posted to the given channels", pubsub::unsubscribe),
    c("unwatch", 1, NOSCRIPT | LS | FAST | ALLOW_BUSY, NK, "transactions", "2.2.0", "Forget about all watched keys", multi::unwatch),
    c("watch", -2, NOSCRIPT | LS | FAST | ALLOW_BUSY, KALL, "transactions", "2.2.0", "Watch the given keys to determine execution of the MULTI/EXEC block", multi::watch),
];

/// Every top-level command, sorted by name (the order of COMMAND and COMMAND DOCS).
pub static COMMANDS: LazyLock<Vec<&'static Command>> = LazyLock::new(|| {
    let mut v: Vec<&'static Command> = CORE_COMMANDS
        .iter()
        .chain(crate::cmd::table_coll::COLLECTION_COMMANDS)
        .chain(crate::cmd::replication::REPLICATION_COMMANDS)
        .collect();
    v.sort_by_key(|c| c.name);
    v
});

static TABLE: OnceLock<super::CommandIndex> = OnceLock::new();

/// The name index, with `rename-command` applied.
pub fn command_table() -> &'static super::CommandIndex {
    TABLE.get_or_init(|| {
        let mut t = build_index(COMMANDS.iter().copied());
        if let Some(r) = super::renames() {
            for (from, to) in r {
                if let Some(cmd) = t.remove(from.as_str()) {
                    if let Some(to) = to {
                        t.insert(Box::leak(to.clone().into_boxed_str()), cmd);
                    }
                }
            }
        }
        t
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for part in [
            CORE_COMMANDS,
            crate::cmd::table_coll::COLLECTION_COMMANDS,
            crate::cmd::replication::REPLICATION_COMMANDS,
        ] {
            let names: Vec<_> = part.iter().map(|c| c.name).collect();
            let mut sorted = names.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(names, sorted);
        }
        let mut all: Vec<_> = COMMANDS.iter().map(|c| c.name).collect();
        let n = all.len();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
