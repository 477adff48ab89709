//! Pub/Sub commands on the node: the shared hub does the work.

use super::Ctx;
use bytes::Bytes;

fn limit(ctx: &Ctx) -> picket::server::OutputLimit {
    ctx.node.hot.read().obuf_pubsub
}

/// SUBSCRIBE channel [channel ...]
pub fn subscribe(ctx: &mut Ctx, a: &[Bytes]) {
    ctx.st.pubsub.subscribe(
        &ctx.sess.client,
        &mut ctx.sess.subs,
        &a[1..],
        false,
        ctx.out,
    );
}

/// UNSUBSCRIBE [channel ...]
pub fn unsubscribe(ctx: &mut Ctx, a: &[Bytes]) {
    ctx.st.pubsub.unsubscribe(
        &ctx.sess.client,
        &mut ctx.sess.subs,
        &a[1..],
        false,
        ctx.out,
    );
}

/// PSUBSCRIBE pattern [pattern ...]
pub fn psubscribe(ctx: &mut Ctx, a: &[Bytes]) {
    ctx.st
        .pubsub
        .subscribe(&ctx.sess.client, &mut ctx.sess.subs, &a[1..], true, ctx.out);
}

/// PUNSUBSCRIBE [pattern ...]
pub fn punsubscribe(ctx: &mut Ctx, a: &[Bytes]) {
    ctx.st
        .pubsub
        .unsubscribe(&ctx.sess.client, &mut ctx.sess.subs, &a[1..], true, ctx.out);
}

/// PUBLISH channel message: the number of clients that received it.
pub fn publish(ctx: &mut Ctx, a: &[Bytes]) {
    let n = ctx.st.pubsub.publish(&a[1], &a[2], limit(ctx));
    ctx.propagate_as_is(a);
    ctx.out.int(n);
}

/// PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP
pub fn pubsub(ctx: &mut Ctx, a: &[Bytes]) {
    picket::pubsub::pubsub_command(&ctx.st.pubsub, a, ctx.out);
}
