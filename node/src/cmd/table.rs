//! picket-node's command table: every command and subcommand it runs, by Redis's name, with
//! its handler. Everything else about a command (arity, flags, ACL categories, key specs, tips,
//! documentation) is Redis 7.0.15's own metadata ([`picket::command::meta`]), joined in once at
//! start-up; dispatch, the checks before a command runs, propagation and COMMAND all read the
//! joined [`CommandTable`]. Adding a command is one entry here and one handler.
//!
//! Where Picket differs from Redis 7.0: ZRANK and ZREVRANK also take WITHSCORE (Redis 7.2's
//! addition), so their arity is -3.

use super::connection::client;
use super::{
    bitfield, bitmaps, cluster, config, connection, debug, dump, expire, failover, functions, geo,
    hashes, hyperloglog, info, keys, latency, lists, memory, migrate, multi, psync, pubsub,
    replication, scripting, server, sets, slowlog, sort, strings, zranges, zsetops, zsets, Ctx,
    Handler, NodeProgram,
};
use bytes::Bytes;
use picket::command::{Entry, Table};
use std::sync::OnceLock;

type E = Entry<Handler>;

/// picket-node's commands, in name order.
#[rustfmt::skip]
pub static ENTRIES: &[E] = &[
    E::new("append", strings::append),
    E::new("asking", cluster::disabled),
    E::new("auth", connection::auth),
    E::new("bgrewriteaof", server::bgrewriteaof),
    E::new("bgsave", server::bgsave),
    E::new("bitcount", bitmaps::bitcount),
    E::new("bitfield", bitfield::bitfield),
    E::new("bitfield_ro", bitfield::bitfield_ro),
    E::new("bitop", bitmaps::bitop),
    E::new("bitpos", bitmaps::bitpos),
    E::new("blmove", lists::blmove),
    E::new("blmpop", lists::blmpop),
    E::new("blpop", lists::blpop),
    E::new("brpop", lists::brpop),
    E::new("brpoplpush", lists::brpoplpush),
    E::new("bzmpop", zsets::bzmpop),
    E::new("bzpopmax", zsets::bzpopmax),
    E::new("bzpopmin", zsets::bzpopmin),
    picket::client_container!(no_subcommand, client; tracking, trackinginfo),
    E::container("cluster", no_subcommand, &[
        E::new("addslots", cluster::disabled),
        E::new("addslotsrange", cluster::disabled),
        E::new("bumpepoch", cluster::disabled),
        E::new("count-failure-reports", cluster::disabled),
        E::new("countkeysinslot", cluster::disabled),
        E::new("delslots", cluster::disabled),
        E::new("delslotsrange", cluster::disabled),
        E::new("failover", cluster::disabled),
        E::new("flushslots", cluster::disabled),
        E::new("forget", cluster::disabled),
        E::new("getkeysinslot", cluster::disabled),
        E::new("help", cluster::disabled),
        E::new("info", cluster::disabled),
        E::new("keyslot", cluster::disabled),
        E::new("links", cluster::disabled),
        E::new("meet", cluster::disabled),
        E::new("myid", cluster::disabled),
        E::new("nodes", cluster::disabled),
        E::new("replicas", cluster::disabled),
        E::new("replicate", cluster::disabled),
        E::new("reset", cluster::disabled),
        E::new("saveconfig", cluster::disabled),
        E::new("set-config-epoch", cluster::disabled),
        E::new("setslot", cluster::disabled),
        E::new("shards", cluster::disabled),
        E::new("slaves", cluster::disabled),
        E::new("slots", cluster::disabled),
    ]),
    picket::command_container!(NodeProgram),
    E::container("config", no_subcommand, &[
        E::new("get", config::get),
        E::new("help", config::help),
        E::new("resetstat", config::resetstat),
        E::new("rewrite", config::rewrite),
        E::new("set", config::set),
    ]),
    E::new("copy", keys::copy),
    E::new("dbsize", keys::dbsize),
    E::new("debug", debug::debug),
    E::new("decr", strings::decr),
    E::new("decrby", strings::decrby),
    E::new("del", keys::del),
    E::new("discard", multi::discard),
    E::new("dump", dump::dump),
    E::new("echo", connection::echo),
    E::new("eval", scripting::eval),
    E::new("eval_ro", scripting::eval_ro),
    E::new("evalsha", scripting::evalsha),
    E::new("evalsha_ro", scripting::evalsha_ro),
    E::new("exec", multi::exec),
    E::new("exists", keys::exists),
    E::new("expire", expire::expire),
    E::new("expireat", expire::expireat),
    E::new("expiretime", expire::expiretime),
    E::new("failover", failover::failover_cmd),
    E::new("fcall", functions::fcall),
    E::new("fcall_ro", functions::fcall_ro),
    E::new("flushall", keys::flushall),
    E::new("flushdb", keys::flushdb),
    E::container("function", no_subcommand, &[
        E::new("delete", functions::delete),
        E::new("dump", functions::dump),
        E::new("flush", functions::flush),
        E::new("help", functions::help),
        E::new("kill", functions::kill),
        E::new("list", functions::list),
        E::new("load", functions::load),
        E::new("restore", functions::restore),
        E::new("stats", functions::stats),
    ]),
    E::new("geoadd", geo::geoadd),
    E::new("geodist", geo::geodist),
    E::new("geohash", geo::geohash),
    E::new("geopos", geo::geopos),
    E::new("georadius", geo::georadius),
    E::new("georadius_ro", geo::georadius_ro),
    E::new("georadiusbymember", geo::georadiusbymember),
    E::new("georadiusbymember_ro", geo::georadiusbymember_ro),
    E::new("geosearch", geo::geosearch),
    E::new("geosearchstore", geo::geosearchstore),
    E::new("get", strings::get),
    E::new("getdel", strings::getdel),
    E::new("getex", strings::getex),
    E::new("getbit", bitmaps::getbit),
    E::new("getrange", strings::getrange),
    E::new("getset", strings::getset),
    E::new("hdel", hashes::hdel),
    E::new("hello", connection::hello),
    E::new("hexists", hashes::hexists),
    E::new("hget", hashes::hget),
    E::new("hgetall", hashes::hgetall),
    E::new("hincrby", hashes::hincrby),
    E::new("hincrbyfloat", hashes::hincrbyfloat),
    E::new("hkeys", hashes::hkeys),
    E::new("hlen", hashes::hlen),
    E::new("hmget", hashes::hmget),
    E::new("hmset", hashes::hmset),
    E::new("hrandfield", hashes::hrandfield),
    E::new("hscan", hashes::hscan),
    E::new("hset", hashes::hset),
    E::new("hsetnx", hashes::hsetnx),
    E::new("hstrlen", hashes::hstrlen),
    E::new("hvals", hashes::hvals),
    E::new("incr", strings::incr),
    E::new("incrby", strings::incrby),
    E::new("incrbyfloat", strings::incrbyfloat),
    E::new("info", info::info),
    E::new("keys", keys::keys),
    E::new("lastsave", server::lastsave),
    E::container("latency", no_subcommand, &[
        E::new("doctor", latency::doctor),
        E::new("graph", latency::graph),
        E::new("help", latency::help),
        E::new("histogram", latency::histogram),
        E::new("history", latency::history),
        E::new("latest", latency::latest),
        E::new("reset", latency::reset),
    ]),
    E::new("lcs", strings::lcs),
    E::new("lindex", lists::lindex),
    E::new("linsert", lists::linsert),
    E::new("llen", lists::llen),
    E::new("lmove", lists::lmove),
    E::new("lmpop", lists::lmpop),
    E::new("lolwut", memory::lolwut),
    E::new("lpop", lists::lpop),
    E::new("lpos", lists::lpos),
    E::new("lpush", lists::lpush),
    E::new("lpushx", lists::lpushx),
    E::new("lrange", lists::lrange),
    E::new("lrem", lists::lrem),
    E::new("lset", lists::lset),
    E::new("ltrim", lists::ltrim),
    E::container("memory", no_subcommand, &[
        E::new("doctor", memory::memory_doctor),
        E::new("help", memory::memory_help),
        E::new("malloc-stats", memory::memory_malloc_stats),
        E::new("purge", memory::memory_purge),
        E::new("stats", memory::memory_stats),
        E::new("usage", memory::memory_usage),
    ]),
    E::new("mget", strings::mget),
    E::new("migrate", migrate::migrate),
    E::container("module", no_subcommand, &[
        E::new("help", memory::module_help),
        E::new("list", memory::module_list),
        E::new("load", memory::module_refused),
        E::new("loadex", memory::module_refused),
        E::new("unload", memory::module_refused),
    ]),
    E::new("monitor", server::monitor),
    E::new("move", keys::move_),
    E::new("mset", strings::mset),
    E::new("msetnx", strings::msetnx),
    E::new("multi", multi::multi),
    E::container("object", no_subcommand, &[
        E::new("encoding", keys::object_encoding),
        E::new("freq", keys::object_freq),
        E::new("help", keys::object_help),
        E::new("idletime", keys::object_idletime),
        E::new("refcount", keys::object_refcount),
    ]),
    E::new("persist", expire::persist),
    E::new("pexpire", expire::pexpire),
    E::new("pexpireat", expire::pexpireat),
    E::new("pexpiretime", expire::pexpiretime),
    E::new("pfadd", hyperloglog::pfadd),
    E::new("pfcount", hyperloglog::pfcount),
    E::new("pfdebug", hyperloglog::pfdebug),
    E::new("pfmerge", hyperloglog::pfmerge),
    E::new("pfselftest", hyperloglog::pfselftest),
    E::new("ping", connection::ping),
    E::new("psetex", strings::psetex),
    E::new("psubscribe", pubsub::psubscribe),
    E::new("psync", psync::sync),
    E::new("pttl", expire::pttl),
    E::new("publish", pubsub::publish),
    E::container("pubsub", no_subcommand, &[
        E::new("channels", pubsub::pubsub_channels),
        E::new("help", pubsub::pubsub_help),
        E::new("numpat", pubsub::pubsub_numpat),
        E::new("numsub", pubsub::pubsub_numsub),
        E::new("shardchannels", pubsub::pubsub_shardchannels),
        E::new("shardnumsub", pubsub::pubsub_shardnumsub),
    ]),
    E::new("punsubscribe", pubsub::punsubscribe),
    E::new("quit", connection::quit),
    E::new("randomkey", keys::randomkey),
    E::new("readonly", cluster::disabled),
    E::new("readwrite", cluster::disabled),
    E::new("rename", keys::rename),
    E::new("renamenx", keys::renamenx),
    E::new("replconf", psync::replconf),
    E::new("replicaof", replication::replicaof),
    E::new("reset", connection::reset),
    E::new("restore", dump::restore),
    E::new("restore-asking", dump::restore),
    E::new("role", replication::role),
    E::new("rpop", lists::rpop),
    E::new("rpoplpush", lists::rpoplpush),
    E::new("rpush", lists::rpush),
    E::new("rpushx", lists::rpushx),
    E::new("sadd", sets::sadd),
    E::new("save", server::save),
    E::new("scan", keys::scan),
    E::new("scard", sets::scard),
    E::container("script", no_subcommand, &[
        E::new("debug", scripting::script_debug),
        E::new("exists", scripting::script_exists),
        E::new("flush", scripting::script_flush),
        E::new("help", scripting::script_help),
        E::new("kill", scripting::script_kill),
        E::new("load", scripting::script_load),
    ]),
    E::new("sdiff", sets::sdiff),
    E::new("sdiffstore", sets::sdiffstore),
    E::new("select", connection::select),
    E::new("set", strings::set),
    E::new("setbit", bitmaps::setbit),
    E::new("setex", strings::setex),
    E::new("setnx", strings::setnx),
    E::new("setrange", strings::setrange),
    E::new("shutdown", server::shutdown),
    E::new("sinter", sets::sinter),
    E::new("sintercard", sets::sintercard),
    E::new("sinterstore", sets::sinterstore),
    E::new("sismember", sets::sismember),
    E::new("slaveof", replication::replicaof),
    E::container("slowlog", no_subcommand, &[
        E::new("get", slowlog::get),
        E::new("help", slowlog::help),
        E::new("len", slowlog::len),
        E::new("reset", slowlog::reset),
    ]),
    E::new("smembers", sets::smembers),
    E::new("smismember", sets::smismember),
    E::new("smove", sets::smove),
    E::new("sort", sort::sort),
    E::new("sort_ro", sort::sort_ro),
    E::new("spop", sets::spop),
    E::new("spublish", pubsub::spublish),
    E::new("srandmember", sets::srandmember),
    E::new("srem", sets::srem),
    E::new("sscan", sets::sscan),
    E::new("ssubscribe", pubsub::ssubscribe),
    E::new("strlen", strings::strlen),
    E::new("subscribe", pubsub::subscribe),
    E::new("substr", strings::getrange),
    E::new("sunion", sets::sunion),
    E::new("sunionstore", sets::sunionstore),
    E::new("sunsubscribe", pubsub::sunsubscribe),
    E::new("swapdb", keys::swapdb),
    E::new("sync", psync::sync),
    E::new("time", server::time),
    E::new("touch", keys::touch),
    E::new("ttl", expire::ttl),
    E::new("type", keys::type_),
    E::new("unlink", keys::unlink),
    E::new("unsubscribe", pubsub::unsubscribe),
    E::new("unwatch", multi::unwatch),
    E::new("wait", replication::wait),
    E::new("watch", multi::watch),
    E::new("zadd", zsets::zadd),
    E::new("zcard", zsets::zcard),
    E::new("zcount", zranges::zcount),
    E::new("zdiff", zsetops::zdiff),
    E::new("zdiffstore", zsetops::zdiffstore),
    E::new("zincrby", zsets::zincrby),
    E::new("zinter", zsetops::zinter),
    E::new("zintercard", zsetops::zintercard),
    E::new("zinterstore", zsetops::zinterstore),
    E::new("zlexcount", zranges::zlexcount),
    E::new("zmpop", zsets::zmpop),
    E::new("zmscore", zsets::zmscore),
    E::new("zpopmax", zsets::zpopmax),
    E::new("zpopmin", zsets::zpopmin),
    E::new("zrandmember", zsets::zrandmember),
    E::new("zrange", zranges::zrange),
    E::new("zrangebylex", zranges::zrangebylex),
    E::new("zrangebyscore", zranges::zrangebyscore),
    E::new("zrangestore", zranges::zrangestore),
    E::new("zrank", zsets::zrank).arity(-3),
    E::new("zrem", zsets::zrem),
    E::new("zremrangebylex", zranges::zremrangebylex),
    E::new("zremrangebyrank", zranges::zremrangebyrank),
    E::new("zremrangebyscore", zranges::zremrangebyscore),
    E::new("zrevrange", zranges::zrevrange),
    E::new("zrevrangebylex", zranges::zrevrangebylex),
    E::new("zrevrangebyscore", zranges::zrevrangebyscore),
    E::new("zrevrank", zsets::zrevrank).arity(-3),
    E::new("zscan", zsets::zscan),
    E::new("zscore", zsets::zscore),
    E::new("zunion", zsetops::zunion),
    E::new("zunionstore", zsetops::zunionstore),
];

/// A container called without a subcommand (the dispatcher answers arity errors first, so
/// this runs only for containers Redis lets run alone).
fn no_subcommand(ctx: &mut Ctx, a: &[Bytes]) {
    ctx.out.error(&picket::args::wrong_args(
        &String::from_utf8_lossy(&a[0]).to_lowercase(),
    ));
}

pub type CommandTable = Table<Handler>;

static TABLE: OnceLock<CommandTable> = OnceLock::new();

fn build() -> CommandTable {
    // The entries are checked against the bundled metadata by the test below.
    Table::build(ENTRIES, picket::command::server_meta())
        .unwrap_or_else(|e| panic!("picket-node's command table: {e}"))
}

/// Builds the table with the configuration's `rename-command`s (once, at start-up, before the
/// first command runs).
pub fn install(renames: &[(String, String)]) {
    let mut t = build();
    for (from, to) in renames {
        t.rename(from, to);
    }
    let _ = TABLE.set(t);
}

/// The joined table (built without renames if [`install`] was not called).
pub fn command_table() -> &'static CommandTable {
    TABLE.get_or_init(build)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_entry_is_a_redis_command() {
        let t = super::command_table();
        assert_eq!(t.commands.len(), super::ENTRIES.len());
    }

    fn argv(v: &[&str]) -> Vec<bytes::Bytes> {
        v.iter()
            .map(|a| bytes::Bytes::from(a.to_string()))
            .collect()
    }

    /// A connection's name cache answers exactly as the full lookup does, whatever ran before:
    /// other cases of the name, wrong arities, subcommands, unknown and empty names.
    #[test]
    fn the_name_cache_resolves_as_the_table() {
        let t = super::command_table();
        let cases: &[&[&str]] = &[
            &["SET", "k", "v"],
            &["SET", "k"],
            &["set", "k", "v", "EX", "1"],
            &["GET", "k"],
            &["GET"],
            &["get", "k", "extra"],
            &["CONFIG", "GET", "x"],
            &["CONFIG", "NOPE"],
            &["config"],
            &["nosuchcommand"],
            &[""],
            &["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
            &["GET", "k"],
            &["SET", "k", "v"],
        ];
        let name = |r: Result<&super::super::Command, String>| r.map(|c| c.name);
        let mut cache = picket::command::NameCache::default();
        for round in 0..3 {
            for (i, c) in cases.iter().enumerate() {
                let a = argv(c);
                let want = name(t.resolve(&a));
                assert_eq!(
                    name(t.resolve_cached(&mut cache, &a)),
                    want,
                    "{round} {i} {c:?}"
                );
                // The same command twice: the second one is served from the cache.
                assert_eq!(
                    name(t.resolve_cached(&mut cache, &a)),
                    want,
                    "{round} {i} again"
                );
            }
        }
    }
}
