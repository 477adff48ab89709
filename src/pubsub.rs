//! The pub/sub hub: channel, pattern and shard-channel subscriptions, PUBLISH and SPUBLISH
//! fan-out with per-subscriber output limits, and the SUBSCRIBE family of commands (shared by
//! node and sentinel).

use crate::glob::glob_match;
use crate::resp::Reply;
use crate::server::{ClientHandle, ClientKind, OutputLimit};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;

/// One client's subscriptions, kept in its session (in subscription order).
#[derive(Debug, Default)]
pub struct Subscriptions {
    pub channels: Vec<Bytes>,
    pub patterns: Vec<Bytes>,
    /// Shard channels (SSUBSCRIBE).
    pub shard: Vec<Bytes>,
}

/// What a subscription is to: a channel, a pattern or a shard channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubKind {
    Channel,
    Pattern,
    Shard,
}

impl SubKind {
    fn verbs(self) -> (&'static [u8], &'static [u8]) {
        match self {
            SubKind::Channel => (b"subscribe", b"unsubscribe"),
            SubKind::Pattern => (b"psubscribe", b"punsubscribe"),
            SubKind::Shard => (b"ssubscribe", b"sunsubscribe"),
        }
    }
}

impl Subscriptions {
    /// Every subscription: the client is in subscribed mode while this is not 0.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }

    /// The count a (un)subscribe confirmation carries: channels and patterns together, shard
    /// channels on their own (as Redis 7.0).
    fn reply_count(&self, kind: SubKind) -> usize {
        match kind {
            SubKind::Shard => self.shard.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    fn list(&mut self, kind: SubKind) -> &mut Vec<Bytes> {
        match kind {
            SubKind::Channel => &mut self.channels,
            SubKind::Pattern => &mut self.patterns,
            SubKind::Shard => &mut self.shard,
        }
    }
}

type Subscribers = HashMap<Bytes, Vec<Arc<ClientHandle>>>;

#[derive(Debug, Default)]
pub struct PubSub {
    channels: Subscribers,
    patterns: Subscribers,
    shard: Subscribers,
}

fn encode_message(
    resp3: bool,
    kind: &[u8],
    pattern: Option<&[u8]>,
    channel: &[u8],
    payload: &[u8],
) -> Bytes {
    let mut r = Reply::new(resp3);
    r.push(if pattern.is_some() { 4 } else { 3 });
    r.bulk(kind);
    if let Some(p) = pattern {
        r.bulk(p);
    }
    r.bulk(channel);
    r.bulk(payload);
    Bytes::from(r.buf)
}

/// The names in `map` matching a glob (all of them without one).
fn matching(map: &Subscribers, pattern: Option<&[u8]>) -> Vec<Bytes> {
    map.keys()
        .filter(|c| pattern.map(|p| glob_match(p, c, false)).unwrap_or(true))
        .cloned()
        .collect()
}

fn sync_meta(client: &ClientHandle, subs: &Subscriptions) {
    let mut m = client.meta.lock();
    m.sub = subs.channels.len();
    m.psub = subs.patterns.len();
    m.ssub = subs.shard.len();
    drop(m);
    if client.kind() == ClientKind::Normal || client.kind() == ClientKind::Pubsub {
        client.set_kind(if subs.count() > 0 {
            ClientKind::Pubsub
        } else {
            ClientKind::Normal
        });
    }
}

impl PubSub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether any client subscribes to anything (a message to no one is not built).
    pub fn has_subscribers(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty() || !self.shard.is_empty()
    }

    /// Delivers `payload` to the subscribers of shard channel `channel` (SPUBLISH); returns
    /// how many got it.
    pub fn spublish(&self, channel: &[u8], payload: &[u8], limit: OutputLimit) -> i64 {
        let Some(subs) = self.shard.get(channel) else {
            return 0;
        };
        let mut cache: [Option<Bytes>; 2] = [None, None];
        for c in subs {
            let r3 = c.resp3() as usize;
            let msg = cache[r3]
                .get_or_insert_with(|| encode_message(r3 == 1, b"smessage", None, channel, payload))
                .clone();
            c.send(msg, limit);
        }
        subs.len() as i64
    }

    /// Shard channels with at least one subscriber, optionally matching a glob.
    pub fn active_shard_channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        matching(&self.shard, pattern)
    }

    pub fn shard_numsub(&self, channel: &[u8]) -> usize {
        self.shard.get(channel).map(|v| v.len()).unwrap_or(0)
    }

    /// Shard channels with a subscriber (INFO pubsubshard_channels).
    pub fn num_shard_channels(&self) -> usize {
        self.shard.len()
    }

    /// Delivers `payload` to every subscriber of `channel` and every matching pattern; returns
    /// the number of deliveries (PUBLISH's reply).
    pub fn publish(&self, channel: &[u8], payload: &[u8], limit: OutputLimit) -> i64 {
        let mut n = 0;
        let mut cache: [Option<Bytes>; 2] = [None, None];
        if let Some(subs) = self.channels.get(channel) {
            for c in subs {
                let r3 = c.resp3() as usize;
                let msg = cache[r3]
                    .get_or_insert_with(|| {
                        encode_message(r3 == 1, b"message", None, channel, payload)
                    })
                    .clone();
                c.send(msg, limit);
                n += 1;
            }
        }
        for (pat, subs) in &self.patterns {
            if glob_match(pat, channel, false) {
                for c in subs {
                    c.send(
                        encode_message(c.resp3(), b"pmessage", Some(pat), channel, payload),
                        limit,
                    );
                    n += 1;
                }
            }
        }
        n
    }

    /// Channels with at least one subscriber, optionally matching a glob.
    pub fn active_channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        matching(&self.channels, pattern)
    }

    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.get(channel).map(|v| v.len()).unwrap_or(0)
    }

    /// Distinct patterns with a subscriber (PUBSUB NUMPAT, INFO pubsub_patterns).
    pub fn numpat(&self) -> usize {
        self.patterns.len()
    }

    pub fn num_channels(&self) -> usize {
        self.channels.len()
    }

    fn map(&mut self, kind: SubKind) -> &mut Subscribers {
        match kind {
            SubKind::Channel => &mut self.channels,
            SubKind::Pattern => &mut self.patterns,
            SubKind::Shard => &mut self.shard,
        }
    }

    fn remove(map: &mut Subscribers, key: &[u8], id: u64) {
        if let Some(v) = map.get_mut(key) {
            v.retain(|c| c.id != id);
            if v.is_empty() {
                map.remove(key);
            }
        }
    }

    /// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE.
    pub fn subscribe(
        &mut self,
        client: &Arc<ClientHandle>,
        subs: &mut Subscriptions,
        names: &[Bytes],
        kind: SubKind,
        out: &mut Reply,
    ) {
        for n in names {
            if !subs.list(kind).contains(n) {
                let n = Bytes::copy_from_slice(n);
                subs.list(kind).push(n.clone());
                self.map(kind).entry(n).or_default().push(client.clone());
            }
            out.push(3);
            out.bulk(kind.verbs().0);
            out.bulk(n);
            out.int(subs.reply_count(kind) as i64);
        }
        sync_meta(client, subs);
    }

    /// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE; no names means all of that kind.
    pub fn unsubscribe(
        &mut self,
        client: &Arc<ClientHandle>,
        subs: &mut Subscriptions,
        names: &[Bytes],
        kind: SubKind,
        out: &mut Reply,
    ) {
        let verb = kind.verbs().1;
        let targets: Vec<Bytes> = if names.is_empty() {
            subs.list(kind).clone()
        } else {
            names.to_vec()
        };
        if targets.is_empty() {
            out.push(3);
            out.bulk(verb);
            out.null();
            out.int(subs.reply_count(kind) as i64);
        }
        for n in targets {
            let list = subs.list(kind);
            if let Some(i) = list.iter().position(|c| *c == n) {
                list.remove(i);
                Self::remove(self.map(kind), &n, client.id);
            }
            out.push(3);
            out.bulk(verb);
            out.bulk(&n);
            out.int(subs.reply_count(kind) as i64);
        }
        sync_meta(client, subs);
    }

    /// Drops every subscription of a closing client.
    pub fn drop_client(&mut self, client_id: u64, subs: &mut Subscriptions) {
        for kind in [SubKind::Channel, SubKind::Pattern, SubKind::Shard] {
            for c in std::mem::take(subs.list(kind)) {
                Self::remove(self.map(kind), &c, client_id);
            }
        }
    }
}

/// The error a RESP2 client in subscribed mode gets for any other command.
pub fn subscribed_context_error(cmd: &str) -> String {
    format!("ERR Can't execute '{cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
}

/// Commands a RESP2 client may run while subscribed.
/// The (un)subscribe commands, whose confirmations Redis 7 sends as push replies (an array in
/// RESP2): CLIENT REPLY OFF and SKIP do not suppress them.
pub fn confirms_with_push(cmd: &[u8]) -> bool {
    [
        "subscribe",
        "ssubscribe",
        "unsubscribe",
        "sunsubscribe",
        "psubscribe",
        "punsubscribe",
    ]
    .iter()
    .any(|c| cmd.eq_ignore_ascii_case(c.as_bytes()))
}

pub fn allowed_when_subscribed(cmd: &str) -> bool {
    matches!(
        cmd,
        "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}
