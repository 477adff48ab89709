//! Client-side caching: CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO, and the points where
//! the executor and the cron hand key changes to the tracking state
//! ([`crate::state::tracking`]): before a command (the table limit and evictions, told before
//! its reply), after each call (changes, then the keys a read remembers), after the command
//! (its own messages and the BCAST broadcast, after its reply), and the cron.

use super::Ctx;
use crate::state::tracking::{Delivery, Options};
use crate::state::{Node, NodeState, Session};
use bytes::Bytes;
use picket::args::eq_ic;
use picket::resp::Reply;

const ERR_SYNTAX: &str = "ERR syntax error";

/// Where the invalidations of a command run by `current` go.
fn delivery<'a>(node: &'a Node, st: &NodeState, current: Option<u64>) -> Delivery<'a> {
    Delivery {
        registry: &node.registry,
        normal_limit: st.settings.normal_limit,
        pubsub_limit: st.settings.pubsub_limit,
        current,
        own: Vec::new(),
    }
}

/// Keeps the keyspace recording changes exactly while the tracking state needs them.
fn sync(st: &mut NodeState) {
    st.ks.track_changes = st.tracking.wants_changes();
    if !st.ks.track_changes {
        st.ks.changes.clear();
    }
}

/// Invalidates the keys changed since the last look; `by` changed them (expiries: nobody).
fn process_changes(st: &mut NodeState, d: &mut Delivery, by: Option<u64>) {
    if st.ks.changes.is_empty() {
        return;
    }
    let mut changes = std::mem::take(&mut st.ks.changes);
    for (key, expired) in &changes {
        let who = if *expired { None } else { by };
        st.tracking.invalidate(key, who, true, d);
    }
    // The buffer is kept for the next command.
    changes.clear();
    st.ks.changes = changes;
    sync(st);
}

/// Before a command runs (after its checks, which may evict): the table limit and the
/// changes so far are told at once, so the client's own messages precede its reply.
pub fn before_command(node: &Node, st: &mut NodeState, sess: &Session, out: &mut Reply) {
    let mut d = delivery(node, st, Some(sess.client.id));
    let max = st.settings.tracking_max_keys;
    st.tracking.enforce_limit(max, &mut d);
    process_changes(st, &mut d, None);
    sync(st);
    out.raw(&d.own);
}

/// After a call (a top-level command, one of EXEC's or of a script's): its changes are told,
/// the client's own messages held until its reply is out.
pub fn after_call(node: &Node, st: &mut NodeState, sess: &mut Session) {
    let me = sess.client.id;
    let mut d = delivery(node, st, Some(me));
    process_changes(st, &mut d, Some(me));
    sess.tracking_pending.extend_from_slice(&d.own);
}

/// A read by a tracking client: the keys of `cmd` with `args` are remembered for it (unless
/// BCAST, or OPTIN without CLIENT CACHING YES, or OPTOUT after CLIENT CACHING NO).
pub fn remember(st: &mut NodeState, sess: &Session, cmd: &super::Command, args: &[Bytes]) {
    let id = sess.client.id;
    if !st
        .tracking
        .clients
        .get(&id)
        .is_some_and(|t| t.remembers_reads())
    {
        return;
    }
    let Ok(keys) = picket::command::keys::find_keys(cmd.meta, args) else {
        return;
    };
    st.tracking
        .remember(id, keys.iter().map(|k| &args[k.index][..]));
    sync(st);
}

/// Whether a call of `cmd` remembers its keys: a read, but not the read-only script commands
/// (the reads their scripts make are remembered, with the script's keys).
pub fn remembers(cmd: &super::Command) -> bool {
    cmd.has(super::flags::READONLY) && !matches!(cmd.name, "eval_ro" | "evalsha_ro" | "fcall_ro")
}

/// After a top-level command and its reply: the messages it produced for its own client,
/// then the broadcast of changed keys; the CLIENT CACHING flag lasts one command (a whole
/// transaction, and it survives CLIENT subcommands).
pub fn after_command(
    node: &Node,
    st: &mut NodeState,
    sess: &mut Session,
    args: &[Bytes],
    out: &mut Reply,
) {
    let me = sess.client.id;
    let mut d = delivery(node, st, Some(me));
    process_changes(st, &mut d, Some(me));
    st.tracking.broadcast(&mut d);
    out.raw(&sess.tracking_pending);
    sess.tracking_pending.clear();
    out.raw(&d.own);
    if sess.multi.is_none() && !eq_ic(&args[0], "client") {
        if let Some(t) = st.tracking.clients.get_mut(&me) {
            t.caching = false;
        }
    }
}

/// The cron: expiries' invalidations, the broadcast, the table limit.
pub fn cron(node: &Node, st: &mut NodeState) {
    if st.tracking.clients.is_empty() && st.ks.changes.is_empty() {
        return;
    }
    let mut d = delivery(node, st, None);
    process_changes(st, &mut d, None);
    st.tracking.broadcast(&mut d);
    let max = st.settings.tracking_max_keys;
    st.tracking.enforce_limit(max, &mut d);
    sync(st);
}

/// FLUSHALL / FLUSHDB: every tracking client is told to drop all it cached.
pub fn flushed(ctx: &mut Ctx) {
    if !ctx.st.tracking.wants_changes() && ctx.st.tracking.clients.is_empty() {
        return;
    }
    let mut d = delivery(ctx.node, ctx.st, Some(ctx.sess.client.id));
    ctx.st.tracking.flushed(&mut d);
    ctx.sess.tracking_pending.extend_from_slice(&d.own);
    sync(ctx.st);
}

/// A client stops tracking (CLIENT TRACKING OFF, RESET, its connection closed).
pub fn disable(st: &mut NodeState, id: u64) {
    st.tracking.disable(id);
    sync(st);
}

/// CLIENT TRACKING (ON|OFF) [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP]
pub fn tracking(ctx: &mut Ctx, a: &[Bytes]) {
    let Some((opts, prefixes)) = parse_options(ctx, a) else {
        return;
    };
    if eq_ic(&a[2], "off") {
        disable(ctx.st, ctx.sess.client.id);
        return ctx.out.ok();
    }
    if !eq_ic(&a[2], "on") {
        return ctx.out.error(ERR_SYNTAX);
    }
    if let Err(e) = check_on(ctx, &opts, &prefixes) {
        return ctx.out.error(&e);
    }
    if opts.bcast {
        if let Err(e) = ctx
            .st
            .tracking
            .check_prefixes(ctx.sess.client.id, &prefixes)
        {
            ctx.out.error(&e.error);
            // Redis 7.0 goes on (and replies OK too) when the overlap is among the given
            // prefixes past the first.
            if !e.enable_anyway {
                return;
            }
        }
    }
    ctx.st.tracking.enable(&ctx.sess.client, opts, &prefixes);
    sync(ctx.st);
    ctx.out.ok();
}

/// The options of CLIENT TRACKING, parsed in Redis's order (before ON/OFF is looked at).
fn parse_options(ctx: &mut Ctx, a: &[Bytes]) -> Option<(Options, Vec<Bytes>)> {
    let mut opts = Options::default();
    let mut prefixes = Vec::new();
    let mut i = 3;
    while i < a.len() {
        let more = i + 1 < a.len();
        let o = &a[i];
        if eq_ic(o, "redirect") && more {
            i += 1;
            if opts.redirect != 0 {
                ctx.out
                    .error("ERR A client can only redirect to a single other client");
                return None;
            }
            let Some(id) = picket::numfmt::parse_i64(&a[i]) else {
                ctx.out.error("ERR value is not an integer or out of range");
                return None;
            };
            if id <= 0 || ctx.node.registry.get(id as u64).is_none() {
                ctx.out
                    .error("ERR The client ID you want redirect to does not exist");
                return None;
            }
            opts.redirect = id as u64;
        } else if eq_ic(o, "bcast") {
            opts.bcast = true;
        } else if eq_ic(o, "optin") {
            opts.optin = true;
        } else if eq_ic(o, "optout") {
            opts.optout = true;
        } else if eq_ic(o, "noloop") {
            opts.noloop = true;
        } else if eq_ic(o, "prefix") && more {
            i += 1;
            prefixes.push(a[i].clone());
        } else {
            ctx.out.error(ERR_SYNTAX);
            return None;
        }
        i += 1;
    }
    Some((opts, prefixes))
}

/// CLIENT TRACKING ON's checks of the options against each other and the client's mode.
fn check_on(ctx: &Ctx, opts: &Options, prefixes: &[Bytes]) -> Result<(), String> {
    if !opts.bcast && !prefixes.is_empty() {
        return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
    }
    let current = ctx.st.tracking.clients.get(&ctx.sess.client.id);
    if current.is_some_and(|t| t.opts.bcast != opts.bcast) {
        return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    if opts.bcast && (opts.optin || opts.optout) {
        return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
    }
    if opts.optin && opts.optout {
        return Err("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
    }
    if current.is_some_and(|t| opts.optin && t.opts.optout || opts.optout && t.opts.optin) {
        return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    Ok(())
}

/// CLIENT CACHING (YES|NO)
pub fn caching(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(t) = ctx.st.tracking.clients.get_mut(&ctx.sess.client.id) else {
        return ctx.out.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    };
    if eq_ic(&a[2], "yes") {
        if !t.opts.optin {
            return ctx.out.error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
    } else if eq_ic(&a[2], "no") {
        if !t.opts.optout {
            return ctx.out.error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
    } else {
        return ctx.out.error(ERR_SYNTAX);
    }
    t.caching = true;
    ctx.out.ok();
}

/// CLIENT GETREDIR: the redirect target (0 for none), -1 when not tracking.
pub fn getredir(ctx: &mut Ctx, _a: &[Bytes]) {
    let t = ctx.st.tracking.clients.get(&ctx.sess.client.id);
    ctx.out.int(t.map_or(-1, |t| t.opts.redirect as i64));
}

/// CLIENT TRACKINGINFO: flags, redirect, prefixes.
pub fn trackinginfo(ctx: &mut Ctx, _a: &[Bytes]) {
    let t = ctx.st.tracking.clients.get(&ctx.sess.client.id);
    let mut flags = Vec::new();
    match t {
        None => flags.push("off"),
        Some(t) => {
            flags.push("on");
            let o = &t.opts;
            for (on, name) in [
                (o.bcast, "bcast"),
                (o.optin, "optin"),
                (o.optin && t.caching, "caching-yes"),
                (o.optout, "optout"),
                (o.optout && t.caching, "caching-no"),
                (o.noloop, "noloop"),
                (t.broken_redirect, "broken_redirect"),
            ] {
                if on {
                    flags.push(name);
                }
            }
        }
    }
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(t.map_or(-1, |t| t.opts.redirect as i64));
    out.bulk(b"prefixes");
    let prefixes: Vec<&Bytes> = t.map(|t| t.prefixes.iter().collect()).unwrap_or_default();
    out.array(prefixes.len());
    for p in prefixes {
        out.bulk(p);
    }
}
