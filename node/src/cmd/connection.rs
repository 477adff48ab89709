//! Connection commands: PING, ECHO, QUIT, RESET, SELECT, HELLO, AUTH, CLIENT.

use super::Ctx;
use crate::state::Session;
use bytes::Bytes;
use picket::args::{Args, ERR_DB_INDEX, ERR_SYNTAX};
use picket::pubsub::SubKind;
use picket::server::client_cmd::{valid_name, ClientAction, ReplyMode, BAD_NAME};
use picket::server::hello::{self, HelloArgs};

pub const PROTECTED_MODE_ERROR: &str = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// PING [message]
pub fn ping(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() > 2 {
        return ctx
            .out
            .error("ERR wrong number of arguments for 'ping' command");
    }
    if !ctx.sess.client.resp3() && ctx.sess.subs.count() > 0 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(a.get(1).map(|b| &b[..]).unwrap_or(b""));
        return;
    }
    match a.get(1) {
        Some(m) => ctx.out.bulk(m),
        None => ctx.out.simple("PONG"),
    }
}

/// ECHO message
pub fn echo(ctx: &mut Ctx, a: &[Bytes]) {
    ctx.out.bulk(&a[1]);
}

/// QUIT: replies OK, then the connection closes.
pub fn quit(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.ok();
    ctx.sess.close_after_reply = true;
}

/// SELECT index
pub fn select(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(n) = ctx.parsed(Args::new(a).int()) else {
        return;
    };
    if n < 0 || n as usize >= ctx.st.ks.dbs.len() {
        return ctx.out.error(ERR_DB_INDEX);
    }
    ctx.sess.db = n as usize;
    ctx.sess.client.meta.lock().db = n as usize;
    ctx.out.ok();
}

/// Checks a password for the default user (the only user until ACLs exist).
fn check_password(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match &ctx.node.hot.read().requirepass {
        None => true,
        Some(p) => p[..] == *pass,
    }
}

fn set_authenticated(sess: &mut Session) {
    sess.authenticated = true;
    sess.client.meta.lock().authenticated = true;
}

/// AUTH [username] password
pub fn auth(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() > 3 {
        return ctx.out.error(ERR_SYNTAX);
    }
    let (user, pass): (&[u8], &[u8]) = if a.len() == 2 {
        (b"default", &a[1])
    } else {
        (&a[1], &a[2])
    };
    if a.len() == 2 && ctx.node.hot.read().requirepass.is_none() {
        return ctx.out.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    if check_password(ctx, user, pass) {
        set_authenticated(ctx.sess);
        ctx.out.ok();
    } else {
        tracing::debug!("AUTH failed for client id={}", ctx.sess.client.id);
        ctx.out.error(WRONGPASS);
    }
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(h) = ctx.parsed(HelloArgs::parse(a)) else {
        return;
    };
    if let Some((u, p)) = &h.auth {
        if !check_password(ctx, u, p) {
            return ctx.out.error(WRONGPASS);
        }
        set_authenticated(ctx.sess);
    }
    if !ctx.sess.authenticated {
        return ctx.out.error(hello::NOAUTH);
    }
    if let Some(n) = h.setname {
        if !valid_name(&n) {
            return ctx.out.error(BAD_NAME);
        }
        ctx.sess.client.meta.lock().name = n;
    }
    if let Some(v) = h.proto {
        ctx.sess.client.set_resp3(v == 3);
        ctx.out.resp3 = v == 3;
    }
    let proto = if ctx.sess.client.resp3() { 3 } else { 2 };
    let role = if ctx.st.repl.is_replica() {
        "replica"
    } else {
        "master"
    };
    let id = ctx.sess.client.id;
    hello::write_reply(ctx.out, proto, id, "standalone", Some(role));
}

/// RESET: back to a fresh connection's state.
pub fn reset(ctx: &mut Ctx, _a: &[Bytes]) {
    super::multi::discard_state(ctx.st, ctx.sess);
    let id = ctx.sess.client.id;
    let mut sink = picket::resp::Reply::new(false);
    for kind in [SubKind::Channel, SubKind::Pattern, SubKind::Shard] {
        ctx.st
            .pubsub
            .unsubscribe(&ctx.sess.client, &mut ctx.sess.subs, &[], kind, &mut sink);
    }
    if ctx.sess.monitor {
        ctx.sess.monitor = false;
        ctx.st.monitors.retain(|m| m.id != id);
        ctx.sess.client.meta.lock().monitor = false;
    }
    super::tracking::disable(ctx.st, id);
    ctx.sess.db = 0;
    ctx.sess.client.set_resp3(false);
    ctx.out.resp3 = false;
    let auth = ctx.node.hot.read().requirepass.is_none();
    ctx.sess.authenticated = auth;
    {
        let mut m = ctx.sess.client.meta.lock();
        m.db = 0;
        m.name = Bytes::new();
        m.authenticated = auth;
        m.no_evict = false;
    }
    ctx.out.simple("RESET");
}

/// CLIENT: the shared implementation; PAUSE, UNPAUSE, REPLY and UNBLOCK act on the node.
/// The CLIENT subcommands: the shared implementation, whose actions change the node's state.
pub mod client {
    pub use super::client_shared::{
        getname, help, id, info, kill, list, no_evict, pause, reply, setname, unblock, unpause,
    };
    pub use crate::cmd::tracking::{caching, getredir, tracking, trackinginfo};
}

/// The shared CLIENT subcommands' handlers (the tracking ones are the node's own).
mod client_shared {
    use super::Ctx;
    picket::client_handlers!(Ctx, super::apply_client);
}

/// Carries out what a CLIENT subcommand asked for.
fn apply_client(ctx: &mut Ctx, a: &[Bytes], action: ClientAction) {
    match action {
        ClientAction::None => {}
        ClientAction::CloseSelf => ctx.sess.close_after_reply = true,
        ClientAction::Pause { ms, write_only } => {
            ctx.st.pause.pause(ms, write_only);
            ctx.st.refresh_expiry_pause();
            ctx.out.ok();
        }
        ClientAction::Unpause => {
            ctx.st.pause.until = None;
            ctx.st.refresh_expiry_pause();
            ctx.node.pause_notify.notify_waiters();
            ctx.out.ok();
        }
        // OFF and SKIP send no reply themselves; the executor drops the replies that follow.
        ClientAction::Reply(mode) => match mode {
            ReplyMode::On => {
                ctx.sess.reply_off = false;
                ctx.sess.reply_skip = false;
                ctx.out.ok()
            }
            ReplyMode::Off => ctx.sess.reply_off = true,
            ReplyMode::Skip => {
                if !ctx.sess.reply_off {
                    ctx.sess.reply_skip_next = true;
                }
            }
        },
        ClientAction::Unblock { id, error } => {
            let done = super::blocking::unblock_client(ctx.st, id, error);
            ctx.out.int(done as i64)
        }
        ClientAction::Unhandled => ctx
            .out
            .error(&picket::args::unknown_subcommand("client", &a[1])),
    }
}
