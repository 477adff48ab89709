//! Client-side caching (CLIENT TRACKING), as Redis 7.0 keeps it: the table of keys that
//! tracking clients read (key → client ids, whatever the database), the broadcast prefixes
//! (BCAST mode: prefix → subscribed clients and the keys changed since the last broadcast),
//! and each tracking client's options. The commands and the points where invalidations are
//! sent are in [`crate::cmd::tracking`]; this file only keeps the state and encodes messages.
//!
//! Where a message goes: a RESP3 client gets an `invalidate` push on its own connection (or on
//! the connection it redirects to); a RESP2 client only through a redirect to a connection in
//! subscribed mode, as a `message` on `__redis__:invalidate`. Messages for the client whose
//! command is running are handed back to the caller ([`Delivery::own`]), which writes them
//! into that client's reply at the point Redis does.

use bytes::Bytes;
use picket::resp::Reply;
use picket::server::{ClientHandle, ClientKind, ClientRegistry, OutputLimit, TrackingMeta};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

/// The pub/sub channel RESP2 redirect targets receive invalidations on.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// CLIENT TRACKING's options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
}

/// One tracking client.
#[derive(Debug)]
pub struct Tracker {
    pub handle: Arc<ClientHandle>,
    pub opts: Options,
    /// CLIENT CACHING was given for the next command.
    pub caching: bool,
    /// The redirect target was gone when a message was due.
    pub broken_redirect: bool,
    /// BCAST prefixes, in order.
    pub prefixes: BTreeSet<Bytes>,
}

impl Tracker {
    /// Whether the keys this client's next read touches are remembered (OPTIN needs
    /// CLIENT CACHING YES, OPTOUT skips after CLIENT CACHING NO).
    pub fn remembers_reads(&self) -> bool {
        let skipped_by_caching = if self.opts.optin {
            !self.caching
        } else {
            self.opts.optout && self.caching
        };
        !self.opts.bcast && !skipped_by_caching
    }

    fn publish_meta(&self) {
        self.handle.meta.lock().tracking = Some(TrackingMeta {
            redirect: self.opts.redirect,
            broken: self.broken_redirect,
            bcast: self.opts.bcast,
        });
    }
}

/// One broadcast prefix.
#[derive(Debug, Default)]
struct Prefix {
    clients: BTreeSet<u64>,
    /// Keys changed since the last broadcast, with the client that changed each last (none
    /// for expiry and eviction): NOLOOP clients are not told of their own changes.
    keys: BTreeMap<Bytes, Option<u64>>,
}

/// Where messages go while invalidating.
pub struct Delivery<'a> {
    pub registry: &'a ClientRegistry,
    pub normal_limit: OutputLimit,
    pub pubsub_limit: OutputLimit,
    /// The client whose command is running, if any (NOLOOP; its messages go to `own`).
    pub current: Option<u64>,
    /// Messages for the current client, in order.
    pub own: Vec<u8>,
}

impl Delivery<'_> {
    fn deliver(&mut self, target: &ClientHandle, msg: &[u8]) {
        if Some(target.id) == self.current {
            self.own.extend_from_slice(msg);
            return;
        }
        let limit = if target.kind() == ClientKind::Pubsub {
            self.pubsub_limit
        } else {
            self.normal_limit
        };
        target.send(Bytes::copy_from_slice(msg), limit);
    }
}

/// The whole tracking state.
#[derive(Debug, Default)]
pub struct Tracking {
    pub clients: HashMap<u64, Tracker>,
    /// Key → the clients that read it, in id order (ids of clients no longer tracking stay
    /// until the key is invalidated, as in Redis).
    table: HashMap<Bytes, Vec<u64>>,
    items: usize,
    prefixes: BTreeMap<Bytes, Prefix>,
    /// Consecutive table-limit passes that could not get under the limit (more effort each).
    over_limit_passes: usize,
    /// Some prefix has keys waiting to be broadcast.
    broadcast_due: bool,
}

/// Why CLIENT TRACKING ON's prefixes were refused: the error and whether Redis goes on to
/// enable tracking anyway (it does when the overlap is between two given prefixes past the
/// first, replying the error and then OK).
pub struct PrefixOverlap {
    pub error: String,
    pub enable_anyway: bool,
}

fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

impl Tracking {
    /// INFO: tracking_total_keys, tracking_total_items, tracking_total_prefixes.
    pub fn totals(&self) -> (usize, usize, usize) {
        (self.table.len(), self.items, self.prefixes.len())
    }

    /// Whether key changes need recording (some key is tracked or some prefix broadcast).
    pub fn wants_changes(&self) -> bool {
        !self.table.is_empty() || !self.prefixes.is_empty()
    }

    /// Checks new BCAST prefixes against the client's and each other, as Redis does.
    pub fn check_prefixes(&self, id: u64, new: &[Bytes]) -> Result<(), PrefixOverlap> {
        let existing = self.clients.get(&id).map(|t| &t.prefixes);
        for (i, p) in new.iter().enumerate() {
            if let Some(old) = existing.and_then(|e| e.iter().find(|o| overlaps(o, p))) {
                return Err(PrefixOverlap {
                    error: format!(
                        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(old)
                    ),
                    enable_anyway: false,
                });
            }
            if let Some(other) = new[i + 1..].iter().find(|o| overlaps(p, o)) {
                return Err(PrefixOverlap {
                    error: format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(other)
                    ),
                    enable_anyway: i > 0,
                });
            }
        }
        Ok(())
    }

    /// CLIENT TRACKING ON: (re)enables with `opts`; BCAST prefixes are added to the ones the
    /// client has (the empty prefix when none is given).
    pub fn enable(&mut self, handle: &Arc<ClientHandle>, opts: Options, prefixes: &[Bytes]) {
        let id = handle.id;
        let t = self.clients.entry(id).or_insert_with(|| Tracker {
            handle: handle.clone(),
            opts: Options::default(),
            caching: false,
            broken_redirect: false,
            prefixes: BTreeSet::new(),
        });
        t.opts = opts;
        t.broken_redirect = false;
        if t.opts.bcast {
            let empty = [Bytes::new()];
            let list = if prefixes.is_empty() {
                &empty[..]
            } else {
                prefixes
            };
            for p in list {
                t.prefixes.insert(p.clone());
                self.prefixes
                    .entry(p.clone())
                    .or_default()
                    .clients
                    .insert(id);
            }
        }
        t.publish_meta();
    }

    /// CLIENT TRACKING OFF, RESET, or the client closed.
    pub fn disable(&mut self, id: u64) {
        let Some(t) = self.clients.remove(&id) else {
            return;
        };
        for p in &t.prefixes {
            if let Some(state) = self.prefixes.get_mut(p) {
                state.clients.remove(&id);
                if state.clients.is_empty() {
                    self.prefixes.remove(p);
                }
            }
        }
        t.handle.meta.lock().tracking = None;
    }

    /// Remembers that client `id` read `keys`.
    pub fn remember<'k>(&mut self, id: u64, keys: impl Iterator<Item = &'k [u8]>) {
        for k in keys {
            let ids = self.table.entry(Bytes::copy_from_slice(k)).or_default();
            if let Err(at) = ids.binary_search(&id) {
                ids.insert(at, id);
                self.items += 1;
            }
        }
    }

    /// A key changed: the clients that read it are told (and forgotten for it), and with
    /// `broadcast` the prefixes it falls under note it for the next broadcast. `by` is the
    /// client that changed it (none for expiry and eviction).
    pub fn invalidate(&mut self, key: &[u8], by: Option<u64>, broadcast: bool, d: &mut Delivery) {
        if broadcast && !self.prefixes.is_empty() {
            let upto = (Bound::Unbounded, Bound::Included(key));
            for (p, state) in self.prefixes.range_mut::<[u8], _>(upto) {
                if key.starts_with(p) {
                    state.keys.insert(Bytes::copy_from_slice(key), by);
                    self.broadcast_due = true;
                }
            }
        }
        let Some(ids) = self.table.remove(key) else {
            return;
        };
        self.items -= ids.len();
        let msg = keys_array(std::iter::once(key), 1);
        for id in ids {
            let Some(t) = self.clients.get(&id) else {
                continue;
            };
            if t.opts.bcast || t.opts.noloop && d.current == Some(id) {
                continue;
            }
            self.send(id, &msg, d);
        }
    }

    /// FLUSHALL/FLUSHDB: every tracking client is told to drop everything (a null), and the
    /// table is emptied.
    pub fn flushed(&mut self, d: &mut Delivery) {
        let mut ids: Vec<u64> = self.clients.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let null: &[u8] = if self.clients[&id].handle.resp3() {
                b"_\r\n"
            } else {
                b"$-1\r\n"
            };
            self.send(id, null, d);
        }
        self.table.clear();
        self.items = 0;
    }

    /// Sends each BCAST client the keys changed under its prefixes since the last call (one
    /// message per prefix; a NOLOOP client without its own changes).
    pub fn broadcast(&mut self, d: &mut Delivery) {
        if !std::mem::take(&mut self.broadcast_due) {
            return;
        }
        let mut sends = Vec::new();
        for state in self.prefixes.values_mut() {
            if state.keys.is_empty() {
                continue;
            }
            let keys = std::mem::take(&mut state.keys);
            let all = keys_array(keys.keys().map(|k| &k[..]), keys.len());
            for &id in &state.clients {
                let noloop = self.clients.get(&id).is_some_and(|t| t.opts.noloop);
                if !noloop {
                    sends.push((id, all.clone()));
                    continue;
                }
                let others: Vec<&[u8]> = keys
                    .iter()
                    .filter(|(_, by)| **by != Some(id))
                    .map(|(k, _)| &k[..])
                    .collect();
                if !others.is_empty() {
                    sends.push((id, keys_array(others.iter().copied(), others.len())));
                }
            }
        }
        for (id, msg) in sends {
            self.send(id, &msg, d);
        }
    }

    /// `tracking-table-max-keys`: over it, keys are invalidated (no broadcast) until under,
    /// up to 100 keys more per consecutive pass that did not get there, as Redis.
    pub fn enforce_limit(&mut self, max_keys: usize, d: &mut Delivery) {
        if max_keys == 0 || self.table.len() <= max_keys {
            self.over_limit_passes = 0;
            return;
        }
        let effort = 100 * (self.over_limit_passes + 1);
        for _ in 0..effort {
            let Some(key) = self.table.keys().next().cloned() else {
                break;
            };
            self.invalidate(&key, None, false, d);
            if self.table.len() <= max_keys {
                self.over_limit_passes = 0;
                return;
            }
        }
        self.over_limit_passes += 1;
    }

    /// Sends `value` (the keys array, or a null) to tracking client `id`, where it goes.
    fn send(&mut self, id: u64, value: &[u8], d: &mut Delivery) {
        let Some(t) = self.clients.get_mut(&id) else {
            return;
        };
        let (target, redirected) = if t.opts.redirect == 0 {
            (t.handle.clone(), false)
        } else {
            match d.registry.get(t.opts.redirect) {
                Some(h) => (h, true),
                None => {
                    t.broken_redirect = true;
                    t.publish_meta();
                    if t.handle.resp3() {
                        let mut r = Reply::new(true);
                        r.push(2);
                        r.bulk(b"tracking-redir-broken");
                        r.int(t.opts.redirect as i64);
                        let handle = t.handle.clone();
                        d.deliver(&handle, &r.buf);
                    }
                    return;
                }
            }
        };
        let mut r = Reply::new(true);
        if target.resp3() {
            r.push(2);
            r.bulk(b"invalidate");
        } else if redirected && target.kind() == ClientKind::Pubsub {
            r.array(3);
            r.bulk(b"message");
            r.bulk(CHANNEL);
        } else {
            // A RESP2 connection cannot take pushes: nothing to send.
            return;
        }
        r.raw(value);
        d.deliver(&target, &r.buf);
    }
}

/// A RESP array of `n` keys.
fn keys_array<'k>(keys: impl Iterator<Item = &'k [u8]>, n: usize) -> Vec<u8> {
    let mut r = Reply::new(false);
    r.array(n);
    for k in keys {
        r.bulk(k);
    }
    r.buf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry_with(n: u64) -> (ClientRegistry, Vec<Arc<ClientHandle>>) {
        let reg = ClientRegistry::new();
        let handles = (0..n)
            .map(|_| reg.register(String::new(), String::new(), -1, true).0)
            .collect();
        (reg, handles)
    }

    fn delivery(reg: &ClientRegistry, current: Option<u64>) -> Delivery<'_> {
        Delivery {
            registry: reg,
            normal_limit: OutputLimit::default(),
            pubsub_limit: OutputLimit::default(),
            current,
            own: Vec::new(),
        }
    }

    #[test]
    fn a_read_key_is_invalidated_once_for_its_reader() {
        let (reg, h) = registry_with(1);
        h[0].set_resp3(true);
        let mut t = Tracking::default();
        t.enable(&h[0], Options::default(), &[]);
        t.remember(h[0].id, [&b"k"[..]].into_iter());
        assert_eq!(t.totals(), (1, 1, 0));
        let mut d = delivery(&reg, Some(h[0].id));
        t.invalidate(b"k", Some(h[0].id), true, &mut d);
        assert_eq!(d.own, b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
        d.own.clear();
        t.invalidate(b"k", None, true, &mut d);
        assert!(d.own.is_empty(), "a key is told once, then forgotten");
        assert_eq!(t.totals(), (0, 0, 0));
    }

    #[test]
    fn noloop_skips_own_changes_and_resp2_without_redirect_gets_nothing() {
        let (reg, h) = registry_with(2);
        let mut t = Tracking::default();
        let noloop = Options {
            noloop: true,
            ..Default::default()
        };
        h[0].set_resp3(true);
        t.enable(&h[0], noloop, &[]);
        t.enable(&h[1], Options::default(), &[]);
        t.remember(h[0].id, [&b"k"[..]].into_iter());
        t.remember(h[1].id, [&b"k"[..]].into_iter());
        let mut d = delivery(&reg, Some(h[0].id));
        t.invalidate(b"k", Some(h[0].id), true, &mut d);
        assert!(d.own.is_empty());
        assert_eq!(t.totals(), (0, 0, 0));
    }

    #[test]
    fn broadcast_groups_keys_per_prefix_in_order_and_noloop_filters() {
        let (reg, h) = registry_with(1);
        h[0].set_resp3(true);
        let mut t = Tracking::default();
        let opts = Options {
            bcast: true,
            noloop: true,
            ..Default::default()
        };
        t.enable(&h[0], opts, &[Bytes::from_static(b"a:")]);
        let me = Some(h[0].id);
        let mut d = delivery(&reg, me);
        t.invalidate(b"a:2", None, true, &mut d);
        t.invalidate(b"b:1", None, true, &mut d);
        t.invalidate(b"a:1", None, true, &mut d);
        t.invalidate(b"a:3", me, true, &mut d);
        t.broadcast(&mut d);
        assert_eq!(
            d.own,
            b">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\na:1\r\n$3\r\na:2\r\n"
        );
        d.own.clear();
        t.broadcast(&mut d);
        assert!(d.own.is_empty());
    }

    #[test]
    fn prefix_overlaps_are_refused_as_redis_refuses_them() {
        let (_reg, h) = registry_with(1);
        let mut t = Tracking::default();
        let p = |s: &'static str| Bytes::from_static(s.as_bytes());
        let e = t
            .check_prefixes(h[0].id, &[p("FOOBAR"), p("FOO")])
            .err()
            .unwrap();
        assert!(e
            .error
            .starts_with("ERR Prefix 'FOOBAR' overlaps with another"));
        assert!(!e.enable_anyway);
        let e = t
            .check_prefixes(h[0].id, &[p("a"), p("b"), p("bc")])
            .err()
            .unwrap();
        assert!(
            e.enable_anyway,
            "Redis replies the error and enables anyway"
        );
        let bcast = Options {
            bcast: true,
            ..Default::default()
        };
        t.enable(&h[0], bcast, &[p("FOO"), p("BAR")]);
        let e = t.check_prefixes(h[0].id, &[p("FO")]).err().unwrap();
        assert!(e
            .error
            .contains("'FO' overlaps with an existing prefix 'FOO'"));
        assert!(t.check_prefixes(h[0].id, &[p("BAZ")]).is_ok());
        t.disable(h[0].id);
        assert_eq!(t.totals(), (0, 0, 0));
    }

    #[test]
    fn a_flush_empties_the_table_even_with_no_client_tracking_any_more() {
        let (reg, h) = registry_with(1);
        let mut t = Tracking::default();
        t.enable(&h[0], Options::default(), &[]);
        t.remember(h[0].id, [&b"k"[..]].into_iter());
        t.disable(h[0].id);
        assert!(
            t.wants_changes(),
            "keys stay until invalidated, as in Redis"
        );
        t.flushed(&mut delivery(&reg, None));
        assert_eq!(t.totals(), (0, 0, 0));
        assert!(!t.wants_changes());
    }

    #[test]
    fn the_table_limit_invalidates_just_enough_keys_with_growing_effort() {
        let (reg, h) = registry_with(1);
        let mut t = Tracking::default();
        t.enable(&h[0], Options::default(), &[]);
        let keys: Vec<Vec<u8>> = (0..250).map(|i| format!("k{i}").into_bytes()).collect();
        t.remember(h[0].id, keys.iter().map(|k| &k[..]));
        let mut d = delivery(&reg, None);
        t.enforce_limit(1, &mut d);
        assert_eq!(t.totals().0, 150);
        t.enforce_limit(1, &mut d);
        assert_eq!(t.totals().0, 1, "the second pass has twice the effort");
        t.enforce_limit(1, &mut d);
        assert_eq!(t.totals().0, 1);
    }
}
