//! picket-sentinel's command table: every command and subcommand Redis Sentinel 7.0 has, by
//! name, with its handler. Arity, flags, ACL categories, tips and documentation are Redis
//! Sentinel 7.0.15's own ([`picket::command::meta`]); dispatch, the arity errors and COMMAND
//! read the joined table.
//!
//! Where Picket differs: SENTINEL FAILOVER also takes `COORDINATED` (arity -3).

use super::connection::client;
use super::{connection, info, pubsub, sentinel, Ctx, Handler, SentinelProgram};
use bytes::Bytes;
use picket::command::{Entry, Table};
use std::sync::OnceLock;

type E = Entry<Handler>;

#[rustfmt::skip]
pub static ENTRIES: &[E] = &[
    E::container("acl", no_subcommand, &[
        E::new("cat", connection::acl_not_here),
        E::new("deluser", connection::acl_deluser),
        E::new("dryrun", connection::acl_not_here),
        E::new("genpass", connection::acl_not_here),
        E::new("getuser", connection::acl_not_here),
        E::new("help", connection::acl_not_here),
        E::new("list", connection::acl_list),
        E::new("load", connection::acl_not_here),
        E::new("log", connection::acl_not_here),
        E::new("save", connection::acl_not_here),
        E::new("setuser", connection::acl_setuser),
        E::new("users", connection::acl_users),
        E::new("whoami", connection::acl_whoami),
    ]),
    E::new("auth", connection::auth),
    picket::client_container!(no_subcommand, client; tracking, trackinginfo),
    picket::command_container!(SentinelProgram),
    E::new("hello", connection::hello),
    E::new("info", info::info),
    E::new("ping", connection::ping),
    E::new("psubscribe", pubsub::psubscribe),
    E::new("publish", pubsub::publish),
    E::new("punsubscribe", pubsub::punsubscribe),
    E::new("role", info::role),
    E::container("sentinel", no_subcommand, &[
        E::new("ckquorum", sentinel::ckquorum),
        E::new("config", sentinel::config),
        E::new("debug", sentinel::debug),
        E::new("failover", sentinel::failover).arity(-3),
        E::new("flushconfig", sentinel::flushconfig),
        E::new("get-master-addr-by-name", sentinel::get_master_addr_by_name),
        E::new("help", sentinel::help),
        E::new("info-cache", sentinel::info_cache),
        E::new("is-master-down-by-addr", sentinel::is_master_down_by_addr),
        E::new("master", sentinel::master),
        E::new("masters", sentinel::masters),
        E::new("monitor", sentinel::monitor),
        E::new("myid", sentinel::myid),
        E::new("pending-scripts", sentinel::pending_scripts),
        E::new("remove", sentinel::remove),
        E::new("replicas", sentinel::replicas),
        E::new("reset", sentinel::reset),
        E::new("sentinels", sentinel::sentinels),
        E::new("set", sentinel::set),
        E::new("simulate-failure", sentinel::simulate_failure),
        E::new("slaves", sentinel::replicas),
    ]),
    E::new("shutdown", connection::shutdown),
    E::new("subscribe", pubsub::subscribe),
    E::new("unsubscribe", pubsub::unsubscribe),
];

/// A container called without a subcommand: the dispatcher answers the arity error first.
fn no_subcommand(ctx: &mut Ctx, a: &[Bytes]) {
    ctx.out.error(&picket::args::wrong_args(
        &String::from_utf8_lossy(&a[0]).to_lowercase(),
    ));
}

pub type CommandTable = Table<Handler>;

/// The joined table, built on first use.
pub fn command_table() -> &'static CommandTable {
    static TABLE: OnceLock<CommandTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The entries are checked against the bundled metadata by the test below.
        Table::build(ENTRIES, picket::command::sentinel_meta())
            .unwrap_or_else(|e| panic!("picket-sentinel's command table: {e}"))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_entry_is_a_redis_sentinel_command() {
        assert_eq!(super::command_table().commands.len(), super::ENTRIES.len());
    }
}
