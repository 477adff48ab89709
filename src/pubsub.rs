//! The pub/sub hub: channel and pattern subscriptions, PUBLISH fan-out with per-subscriber
//! output limits, and the SUBSCRIBE family of commands (shared by node and sentinel).

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
}

impl Subscriptions {
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

#[derive(Debug, Default)]
pub struct PubSub {
    channels: HashMap<Bytes, Vec<Arc<ClientHandle>>>,
    patterns: HashMap<Bytes, Vec<Arc<ClientHandle>>>,
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

fn sync_meta(client: &ClientHandle, subs: &Subscriptions) {
    let mut m = client.meta.lock();
    m.sub = subs.channels.len();
    m.psub = subs.patterns.len();
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
        !self.channels.is_empty() || !self.patterns.is_empty()
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
        self.channels
            .keys()
            .filter(|c| pattern.map(|p| glob_match(p, c, false)).unwrap_or(true))
            .cloned()
            .collect()
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

    fn add(
        map: &mut HashMap<Bytes, Vec<Arc<ClientHandle>>>,
        key: &Bytes,
        client: &Arc<ClientHandle>,
    ) {
        map.entry(key.clone()).or_default().push(client.clone());
    }

    fn remove(map: &mut HashMap<Bytes, Vec<Arc<ClientHandle>>>, key: &[u8], id: u64) {
        if let Some(v) = map.get_mut(key) {
            v.retain(|c| c.id != id);
            if v.is_empty() {
                map.remove(key);
            }
        }
    }

    /// SUBSCRIBE / PSUBSCRIBE.
    pub fn subscribe(
        &mut self,
        client: &Arc<ClientHandle>,
        subs: &mut Subscriptions,
        names: &[Bytes],
        pattern: bool,
        out: &mut Reply,
    ) {
        for n in names {
            let list = if pattern {
                &mut subs.patterns
            } else {
                &mut subs.channels
            };
            if !list.contains(n) {
                let n = Bytes::copy_from_slice(n);
                list.push(n.clone());
                Self::add(
                    if pattern {
                        &mut self.patterns
                    } else {
                        &mut self.channels
                    },
                    &n,
                    client,
                );
            }
            out.push(3);
            out.bulk(if pattern { b"psubscribe" } else { b"subscribe" });
            out.bulk(n);
            out.int(subs.count() as i64);
        }
        sync_meta(client, subs);
    }

    /// UNSUBSCRIBE / PUNSUBSCRIBE; no names means all of them.
    pub fn unsubscribe(
        &mut self,
        client: &Arc<ClientHandle>,
        subs: &mut Subscriptions,
        names: &[Bytes],
        pattern: bool,
        out: &mut Reply,
    ) {
        let kind: &[u8] = if pattern {
            b"punsubscribe"
        } else {
            b"unsubscribe"
        };
        let targets: Vec<Bytes> = if names.is_empty() {
            if pattern {
                subs.patterns.clone()
            } else {
                subs.channels.clone()
            }
        } else {
            names.to_vec()
        };
        if targets.is_empty() {
            out.push(3);
            out.bulk(kind);
            out.null();
            out.int(subs.count() as i64);
        }
        for n in targets {
            let list = if pattern {
                &mut subs.patterns
            } else {
                &mut subs.channels
            };
            if let Some(i) = list.iter().position(|c| *c == n) {
                list.remove(i);
                Self::remove(
                    if pattern {
                        &mut self.patterns
                    } else {
                        &mut self.channels
                    },
                    &n,
                    client.id,
                );
            }
            out.push(3);
            out.bulk(kind);
            out.bulk(&n);
            out.int(subs.count() as i64);
        }
        sync_meta(client, subs);
    }

    /// Drops every subscription of a closing client.
    pub fn drop_client(&mut self, client_id: u64, subs: &mut Subscriptions) {
        for c in subs.channels.drain(..) {
            Self::remove(&mut self.channels, &c, client_id);
        }
        for p in subs.patterns.drain(..) {
            Self::remove(&mut self.patterns, &p, client_id);
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
