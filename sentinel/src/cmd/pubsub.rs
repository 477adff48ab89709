//! Pub/sub on a sentinel: SUBSCRIBE and friends for clients, PUBLISH for the hellos of peers.

use super::Ctx;
use bytes::Bytes;
use picket::pubsub::SubKind;

fn subscription(ctx: &mut Ctx, a: &[Bytes], pattern: bool, subscribe: bool) {
    let pattern = if pattern {
        SubKind::Pattern
    } else {
        SubKind::Channel
    };
    let mut st = ctx.node.state.lock();
    let (sess, out) = (&mut *ctx.sess, &mut *ctx.out);
    if subscribe {
        st.pubsub
            .subscribe(&sess.client, &mut sess.subs, &a[1..], pattern, out);
    } else {
        st.pubsub
            .unsubscribe(&sess.client, &mut sess.subs, &a[1..], pattern, out);
    }
}

/// SUBSCRIBE channel [channel ...]
pub fn subscribe(ctx: &mut Ctx, a: &[Bytes]) {
    subscription(ctx, a, false, true)
}

/// PSUBSCRIBE pattern [pattern ...]
pub fn psubscribe(ctx: &mut Ctx, a: &[Bytes]) {
    subscription(ctx, a, true, true)
}

/// UNSUBSCRIBE [channel ...]
pub fn unsubscribe(ctx: &mut Ctx, a: &[Bytes]) {
    subscription(ctx, a, false, false)
}

/// PUNSUBSCRIBE [pattern ...]
pub fn punsubscribe(ctx: &mut Ctx, a: &[Bytes]) {
    subscription(ctx, a, true, false)
}

/// PUBLISH __sentinel__:hello message: a peer's hello, processed as if read from a link.
pub fn publish(ctx: &mut Ctx, a: &[Bytes]) {
    if &a[1][..] != crate::core::HELLO_CHANNEL.as_bytes() {
        return ctx
            .out
            .error("ERR Only HELLO messages are accepted by Sentinel instances.");
    }
    let mut st = ctx.node.state.lock();
    let now = crate::clock::clock_ms();
    st.core.process_hello(&String::from_utf8_lossy(&a[2]), now);
    let actions = st.core.take_actions();
    let _ = crate::runtime::dispatch(ctx.node, &mut st, actions);
    ctx.out.int(1);
}
