//! The sentinel's commands: the table ([`table`]) and one file per family. Every command runs
//! through [`execute_one`], which makes Redis's checks from the table (unknown command or
//! subcommand, arity, NOAUTH, the subscribed context) before the handler.
//!
//! - [`connection`]: PING, AUTH, HELLO, CLIENT, ACL WHOAMI, SHUTDOWN.
//! - [`info`]: INFO and ROLE.
//! - [`pubsub`]: SUBSCRIBE and friends, PUBLISH of hellos.
//! - [`sentinel`]: the SENTINEL subcommands ([`sentinel_replies`]: their instance maps).

pub mod connection;
pub mod info;
pub mod pubsub;
pub mod sentinel;
pub mod sentinel_replies;
pub mod table;

pub use table::command_table;

use crate::state::{SentinelNode, Session};
use bytes::Bytes;
use picket::args::lower;
use picket::resp::Reply;
use std::time::Instant;

/// What a handler works with.
pub struct Ctx<'a> {
    pub node: &'a SentinelNode,
    pub sess: &'a mut Session,
    pub out: &'a mut Reply,
}

pub type Handler = fn(&mut Ctx, &[Bytes]);

picket::command_program!(
    /// The sentinel as the shared COMMAND handlers see it.
    SentinelProgram,
    Ctx,
    Handler,
    command_table
);

/// The ACL check: whether the connection's user may run this command (AUTH and HELLO are
/// always allowed, as in Redis).
fn permitted(
    node: &SentinelNode,
    sess: &Session,
    cmd: &picket::command::Command<Handler>,
) -> Result<(), String> {
    if cmd.has(picket::command::flags::NO_AUTH) {
        return Ok(());
    }
    let user = sess.client.meta.lock().user.clone();
    let users = node.acl.read();
    let Some(u) = users.users.get(&user) else {
        return Err(picket::acl::noperm(cmd.meta.name.as_str(), None));
    };
    let (name, sub) = match cmd.meta.name.split_once('|') {
        Some((c, s)) => (c, Some(s)),
        None => (cmd.meta.name.as_str(), None),
    };
    let cats: Vec<&str> = cmd
        .meta
        .acl
        .iter()
        .map(|c| c.trim_start_matches('@'))
        .collect();
    if u.may_run(name, sub, &cats) {
        return Ok(());
    }
    Err(picket::acl::noperm(name, sub))
}

/// Runs one command: the table's checks, then its handler.
pub fn execute_one(node: &SentinelNode, sess: &mut Session, a: &[Bytes], out: &mut Reply) {
    let cmd = match command_table().resolve(a) {
        Ok(c) => c,
        Err(e) => return out.error(&e),
    };
    sess.client.meta.lock().last_interaction = Instant::now();
    if !sess.authenticated && !cmd.has(picket::command::flags::NO_AUTH) {
        return out.error("NOAUTH Authentication required.");
    }
    if let Err(e) = permitted(node, sess, cmd) {
        return out.error(&e);
    }
    let name = lower(&a[0]);
    if !sess.client.resp3()
        && sess.subs.count() > 0
        && !picket::pubsub::allowed_when_subscribed(&name)
    {
        return out.error(&picket::pubsub::subscribed_context_error(&name));
    }
    (cmd.handler)(&mut Ctx { node, sess, out }, a);
}
