//! Pub/Sub commands on the node: the shared hub does the work.

use super::Ctx;
use bytes::Bytes;
use picket::pubsub::SubKind;

fn limit(ctx: &Ctx) -> picket::server::OutputLimit {
    ctx.node.hot.read().obuf_pubsub
}

fn subscribe_as(ctx: &mut Ctx, a: &[Bytes], kind: SubKind) {
    let (sess, out) = (&mut *ctx.sess, &mut *ctx.out);
    ctx.st
        .pubsub
        .subscribe(&sess.client, &mut sess.subs, &a[1..], kind, out);
}

fn unsubscribe_as(ctx: &mut Ctx, a: &[Bytes], kind: SubKind) {
    let (sess, out) = (&mut *ctx.sess, &mut *ctx.out);
    ctx.st
        .pubsub
        .unsubscribe(&sess.client, &mut sess.subs, &a[1..], kind, out);
}

/// SUBSCRIBE channel [channel ...]
pub fn subscribe(ctx: &mut Ctx, a: &[Bytes]) {
    subscribe_as(ctx, a, SubKind::Channel)
}

/// UNSUBSCRIBE [channel ...]
pub fn unsubscribe(ctx: &mut Ctx, a: &[Bytes]) {
    unsubscribe_as(ctx, a, SubKind::Channel)
}

/// PSUBSCRIBE pattern [pattern ...]
pub fn psubscribe(ctx: &mut Ctx, a: &[Bytes]) {
    subscribe_as(ctx, a, SubKind::Pattern)
}

/// PUNSUBSCRIBE [pattern ...]
pub fn punsubscribe(ctx: &mut Ctx, a: &[Bytes]) {
    unsubscribe_as(ctx, a, SubKind::Pattern)
}

/// SSUBSCRIBE shardchannel [shardchannel ...]
pub fn ssubscribe(ctx: &mut Ctx, a: &[Bytes]) {
    subscribe_as(ctx, a, SubKind::Shard)
}

/// SUNSUBSCRIBE [shardchannel ...]
pub fn sunsubscribe(ctx: &mut Ctx, a: &[Bytes]) {
    unsubscribe_as(ctx, a, SubKind::Shard)
}

/// SPUBLISH shardchannel message: the number of clients that received it (replicated as
/// PUBLISH is).
pub fn spublish(ctx: &mut Ctx, a: &[Bytes]) {
    let n = ctx.st.pubsub.spublish(&a[1], &a[2], limit(ctx));
    ctx.propagate_as_is(a);
    ctx.out.int(n);
}

/// PUBLISH channel message: the number of clients that received it.
pub fn publish(ctx: &mut Ctx, a: &[Bytes]) {
    let n = ctx.st.pubsub.publish(&a[1], &a[2], limit(ctx));
    ctx.propagate_as_is(a);
    ctx.out.int(n);
}

/// PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP
/// PUBSUB CHANNELS [pattern]
pub fn pubsub_channels(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() > 3 {
        return ctx
            .out
            .error(&picket::args::subcommand_syntax_error("pubsub", &a[1]));
    }
    let chans = ctx.st.pubsub.active_channels(a.get(2).map(|b| &b[..]));
    ctx.out.array(chans.len());
    for c in chans {
        ctx.out.bulk(&c);
    }
}

/// PUBSUB NUMSUB [channel ...]: a flat array, even in RESP3, as Redis 7.0 answers.
pub fn pubsub_numsub(ctx: &mut Ctx, a: &[Bytes]) {
    ctx.out.array(2 * (a.len() - 2));
    for c in &a[2..] {
        ctx.out.bulk(c);
        ctx.out.int(ctx.st.pubsub.numsub(c) as i64);
    }
}

/// PUBSUB NUMPAT
pub fn pubsub_numpat(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.int(ctx.st.pubsub.numpat() as i64);
}

/// PUBSUB SHARDCHANNELS [pattern]
pub fn pubsub_shardchannels(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() > 3 {
        return ctx
            .out
            .error(&picket::args::subcommand_syntax_error("pubsub", &a[1]));
    }
    let chans = ctx
        .st
        .pubsub
        .active_shard_channels(a.get(2).map(|b| &b[..]));
    ctx.out.array(chans.len());
    for c in chans {
        ctx.out.bulk(&c);
    }
}

/// PUBSUB SHARDNUMSUB [shardchannel ...]
pub fn pubsub_shardnumsub(ctx: &mut Ctx, a: &[Bytes]) {
    ctx.out.array(2 * (a.len() - 2));
    for c in &a[2..] {
        ctx.out.bulk(c);
        ctx.out.int(ctx.st.pubsub.shard_numsub(c) as i64);
    }
}

/// PUBSUB HELP
pub fn pubsub_help(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.help(&[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ]);
}
