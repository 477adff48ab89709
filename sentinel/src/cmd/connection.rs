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
    let Some(pass) = &node.requirepass else {
        return out.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    };
    let (user, given) = if a.len() == 2 {
        (&b"default"[..], &a[1][..])
    } else {
        (&a[1][..], &a[2][..])
    };
    if user == b"default" && given == pass.as_bytes() {
        sess.authenticated = true;
        sess.client.meta.lock().authenticated = true;
        out.ok();
    } else {
        out.error("WRONGPASS invalid username-password pair or user is disabled.");
    }
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx, a: &[Bytes]) {
    let h = match HelloArgs::parse(a) {
        Ok(h) => h,
        Err(e) => return ctx.out.error(&e),
    };
    let (node, sess, out) = (ctx.node, &mut *ctx.sess, &mut *ctx.out);
    if let Some((user, pass)) = &h.auth {
        let ok = user[..] == *b"default"
            && node
                .requirepass
                .as_deref()
                .map(|p| p.as_bytes() == &pass[..])
                .unwrap_or(true);
        if !ok {
            return out.error("WRONGPASS invalid username-password pair or user is disabled.");
        }
        sess.authenticated = true;
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

/// ACL WHOAMI: the sentinel has only the default user.
pub fn acl_whoami(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.bulk(b"default");
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
