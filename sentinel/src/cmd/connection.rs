//! Connection commands of the sentinel: PING, AUTH, HELLO, CLIENT, ACL WHOAMI, SHUTDOWN.

use super::Ctx;
use bytes::Bytes;
use picket::args::{lower, wrong_args};
use picket::server::hello::{self, HelloArgs};

/// PING [message]
pub fn ping(ctx: &mut Ctx, a: &[Bytes]) {
    let (sess, out) = (&mut *ctx.sess, &mut *ctx.out);
    if a.len() > 2 {
        return out.error(&wrong_args("ping"));
    }
    if !sess.client.resp3() && sess.subs.count() > 0 {
        out.array(2);
        out.bulk(b"pong");
        out.bulk(a.get(1).map(|b| &b[..]).unwrap_or(b""));
    } else if let Some(m) = a.get(1) {
        out.bulk(m);
    } else {
        out.simple("PONG");
    }
}

/// AUTH [username] password
pub fn auth(ctx: &mut Ctx, a: &[Bytes]) {
    let (node, sess, out) = (ctx.node, &mut *ctx.sess, &mut *ctx.out);
    if a.len() > 3 {
        return out.error(picket::args::ERR_SYNTAX);
    }
    let users = node.acl.read();
    if a.len() == 2 && users.default_needs_no_auth() {
        return out.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    let (user, given) = if a.len() == 2 {
        ("default".to_string(), &a[1][..])
    } else {
        (String::from_utf8_lossy(&a[1]).into_owned(), &a[2][..])
    };
    if users.authenticate(&user, given) {
        log_in(sess, user);
        out.ok();
    } else {
        out.error(WRONGPASS);
    }
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// The connection is now authenticated as `user`.
fn log_in(sess: &mut crate::state::Session, user: String) {
    sess.authenticated = true;
    let mut m = sess.client.meta.lock();
    m.authenticated = true;
    m.user = user;
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx, a: &[Bytes]) {
    let h = match HelloArgs::parse(a) {
        Ok(h) => h,
        Err(e) => return ctx.out.error(&e),
    };
    let (node, sess, out) = (ctx.node, &mut *ctx.sess, &mut *ctx.out);
    if let Some((user, pass)) = &h.auth {
        let user = String::from_utf8_lossy(user).into_owned();
        if !node.acl.read().authenticate(&user, pass) {
            return out.error(WRONGPASS);
        }
        log_in(sess, user);
    }
    if let Some(n) = h.setname {
        sess.client.meta.lock().name = n;
    }
    if !sess.authenticated {
        return out.error(hello::NOAUTH);
    }
    if let Some(v) = h.proto {
        sess.client.set_resp3(v == 3);
        out.resp3 = v == 3;
    }
    let proto = if sess.client.resp3() { 3 } else { 2 };
    hello::write_reply(out, proto, sess.client.id, "sentinel", None);
}

/// CLIENT: the shared implementation (PAUSE and REPLY are node features and are refused here).
/// The CLIENT subcommands: the shared implementation (PAUSE and REPLY act on the sentinel's
/// own state).
pub mod client {
    use super::Ctx;
    picket::client_handlers!(Ctx, super::apply_client);
}

/// Carries out what a CLIENT subcommand asked for.
fn apply_client(ctx: &mut Ctx, a: &[Bytes], action: picket::server::client_cmd::ClientAction) {
    use picket::server::client_cmd::{ClientAction, ReplyMode};
    let (node, sess, out) = (ctx.node, &mut *ctx.sess, &mut *ctx.out);
    match action {
        ClientAction::None => {}
        ClientAction::CloseSelf => sess.close = true,
        ClientAction::Pause { ms, write_only } => {
            node.state.lock().pause.pause(ms, write_only);
            out.ok()
        }
        ClientAction::Unpause => {
            node.state.lock().pause.until = None;
            node.pause_notify.notify_waiters();
            out.ok()
        }
        ClientAction::Reply(ReplyMode::On) => {
            sess.reply_off = false;
            out.ok()
        }
        ClientAction::Reply(ReplyMode::Off) => sess.reply_off = true,
        ClientAction::Reply(ReplyMode::Skip) => sess.reply_skip_next = !sess.reply_off,
        // A sentinel never blocks a client.
        ClientAction::Unblock { .. } => out.int(0),
        ClientAction::Unhandled => out.error(&picket::args::unknown_subcommand("client", &a[1])),
    }
}

/// ACL WHOAMI
pub fn acl_whoami(ctx: &mut Ctx, _a: &[Bytes]) {
    let user = ctx.sess.client.meta.lock().user.clone();
    ctx.out.bulk(user.as_bytes());
}

/// ACL SETUSER username [rule ...]
pub fn acl_setuser(ctx: &mut Ctx, a: &[Bytes]) {
    let name = String::from_utf8_lossy(&a[2]).into_owned();
    let rules: Vec<String> = a[3..]
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    let known = |c: &str, s: Option<&str>| {
        let table = super::command_table();
        match (table.get(c.as_bytes()), s) {
            (Some(cmd), Some(s)) => cmd.sub(s).is_some(),
            (found, _) => found.is_some(),
        }
    };
    let mut users = ctx.node.acl.write();
    match users.set_user(&name, &rules, &known) {
        Ok(()) => {
            ctx.node
                .registry
                .set_users(users.users.keys().cloned().collect());
            ctx.out.ok()
        }
        Err(e) => ctx.out.error(&format!("ERR {e}")),
    }
}

/// ACL DELUSER username [username ...]: the number deleted; `default` cannot be.
pub fn acl_deluser(ctx: &mut Ctx, a: &[Bytes]) {
    let names: Vec<String> = a[2..]
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    if names.iter().any(|n| n == "default") {
        return ctx.out.error("ERR The 'default' user cannot be removed");
    }
    let mut users = ctx.node.acl.write();
    let n = names
        .iter()
        .filter(|n| users.users.remove(n.as_str()).is_some())
        .count();
    ctx.node
        .registry
        .set_users(users.users.keys().cloned().collect());
    drop(users);
    // Connections authenticated as a deleted user are closed, as in Redis.
    for c in ctx.node.registry.all() {
        if !names.contains(&c.meta.lock().user) {
            continue;
        }
        if c.id == ctx.sess.client.id {
            // This connection gets its reply first.
            ctx.sess.close = true;
        } else {
            c.kill();
        }
    }
    ctx.out.int(n as i64);
}

/// ACL USERS
pub fn acl_users(ctx: &mut Ctx, _a: &[Bytes]) {
    let users = ctx.node.acl.read();
    ctx.out.array(users.users.len());
    for name in users.users.keys() {
        ctx.out.bulk(name.as_bytes());
    }
}

/// ACL LIST
pub fn acl_list(ctx: &mut Ctx, _a: &[Bytes]) {
    let users = ctx.node.acl.read();
    ctx.out.array(users.users.len());
    for (name, u) in &users.users {
        ctx.out
            .bulk(format!("user {name} {}", u.describe()).as_bytes());
    }
}

/// The ACL subcommands a sentinel does not have yet.
pub fn acl_not_here(ctx: &mut Ctx, a: &[Bytes]) {
    ctx.out
        .error(&picket::args::unknown_subcommand("acl", &a[1]));
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
pub fn shutdown(ctx: &mut Ctx, a: &[Bytes]) {
    if let Err(e) = shutdown_args(&a[1..]) {
        return ctx.out.error(e);
    }
    tracing::warn!("User requested shutdown...");
    ctx.sess.close = true;
    ctx.node.shutdown.notify_one();
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT], checked as Redis checks them; a sentinel
/// has no shutdown to abort and nothing to save, so valid options all shut down at once.
fn shutdown_args(a: &[Bytes]) -> Result<(), &'static str> {
    let (mut save, mut nosave, mut other, mut abort) = (false, false, false, false);
    for x in a {
        match lower(x).as_str() {
            "save" => save = true,
            "nosave" => nosave = true,
            "now" | "force" => other = true,
            "abort" => abort = true,
            _ => return Err(picket::args::ERR_SYNTAX),
        }
    }
    if (abort && (save || nosave || other)) || (save && nosave) {
        return Err(picket::args::ERR_SYNTAX);
    }
    if abort {
        return Err("ERR No shutdown in progress.");
    }
    Ok(())
}
