//! Who owns which connection. Masters and replicas own their two links alone. A peer sentinel
//! known under several masters has one command link, shared by every master's entry for it (as
//! Redis's link refcount): one TCP connection, one PING/PONG timing, one pending count. Each
//! entry keeps a copy of the shared [`Link`] state, and every change made through one entry is
//! copied to the others at once, so the copies never differ.
//!
//! Replies come back in the order commands were sent, so each link remembers which entry sent
//! what and hands the reply to that entry.

use super::{Action, Input, Sentinel, Tag, Who};
use super::{LinkId, HELLO_CHANNEL};
use bytes::Bytes;
use std::collections::VecDeque;

type OwnerKey = (String, Who);

#[derive(Debug, Clone)]
pub(crate) struct Owner {
    /// Every (master, instance) entry using this link; more than one only for peer sentinels.
    owners: Vec<OwnerKey>,
    pubsub: bool,
    /// Who sent each command still waiting for its reply, oldest first.
    senders: VecDeque<OwnerKey>,
}

impl Sentinel {
    pub(crate) fn new_link(&mut self, m: &str, who: &Who, pubsub: bool) -> LinkId {
        let id = self.next_link;
        self.next_link += 1;
        self.links.insert(
            id,
            Owner {
                owners: vec![(m.to_string(), who.clone())],
                pubsub,
                senders: VecDeque::new(),
            },
        );
        id
    }

    /// How many entries use the command link of `who` (SENTINEL SENTINELS `link-refcount`).
    pub fn link_refcount(&self, m: &str, who: &Who) -> usize {
        self.inst(m, who)
            .and_then(|i| i.link.cc)
            .and_then(|id| self.links.get(&id))
            .map(|o| o.owners.len())
            .unwrap_or(1)
    }

    /// For a peer sentinel without a command link: uses the link another master's entry for
    /// the same sentinel (same run id and address) already has. True if it did.
    pub(crate) fn share_peer_link(&mut self, m: &str, who: &Who) -> bool {
        let Who::Sentinel(id) = who else {
            return false;
        };
        let Some(me) = self.inst(m, who) else {
            return false;
        };
        let (host, port) = (me.host.clone(), me.port);
        let found = self.masters.iter().find_map(|(name, x)| {
            let p = x.sentinels.get(id).filter(|_| name != m)?;
            (p.inst.host == host && p.inst.port == port)
                .then_some(())
                .and(p.inst.link.cc.map(|cc| (cc, p.inst.link.clone())))
        });
        let Some((cc, link)) = found else {
            return false;
        };
        let Some(owner) = self.links.get_mut(&cc) else {
            return false;
        };
        owner.owners.push((m.to_string(), who.clone()));
        if let Some(i) = self.inst_mut(m, who) {
            i.link = link;
        }
        true
    }

    /// Copies the shared link state of a peer entry to every other entry using the link.
    pub(crate) fn sync_shared(&mut self, m: &str, who: &Who) {
        if !matches!(who, Who::Sentinel(_)) {
            return;
        }
        let Some(link) = self.inst(m, who).map(|i| i.link.clone()) else {
            return;
        };
        let Some(owner) = link.cc.and_then(|cc| self.links.get(&cc)) else {
            return;
        };
        if owner.owners.len() < 2 {
            return;
        }
        let others: Vec<OwnerKey> = owner
            .owners
            .iter()
            .filter(|(om, ow)| om != m || ow != who)
            .cloned()
            .collect();
        for (om, ow) in others {
            if let Some(i) = self.inst_mut(&om, &ow) {
                i.link = link.clone();
            }
        }
    }

    /// Lets go of both connections of an instance. A shared peer link stays open for the
    /// other masters' entries; it closes with its last user.
    pub fn close_links(&mut self, m: &str, who: &Who) {
        let Some(inst) = self.inst_mut(m, who) else {
            return;
        };
        let ids: Vec<LinkId> = [inst.link.cc.take(), inst.link.pc.take()]
            .into_iter()
            .flatten()
            .collect();
        inst.link.cc_connected = false;
        inst.link.pc_connected = false;
        inst.link.pending = 0;
        for id in ids {
            let Some(owner) = self.links.get_mut(&id) else {
                continue;
            };
            owner.owners.retain(|(om, ow)| om != m || ow != who);
            if owner.owners.is_empty() {
                self.links.remove(&id);
                self.actions.push(Action::Close { link: id });
            }
        }
    }

    /// Closes every link to a peer sentinel (new `sentinel-user`/`sentinel-pass`): they
    /// reconnect with the new credentials at the next reconnect period.
    pub fn drop_peer_links(&mut self) {
        let peers: Vec<(String, Who)> = self
            .masters
            .iter()
            .flat_map(|(m, x)| {
                x.sentinels
                    .keys()
                    .map(move |id| (m.clone(), Who::Sentinel(id.clone())))
            })
            .collect();
        for (m, who) in peers {
            self.close_links(&m, &who);
        }
    }

    /// Closes one connection (cc or pc) of an instance, for every entry that uses it.
    pub(crate) fn close_one(&mut self, m: &str, who: &Who, pubsub: bool) {
        let Some(inst) = self.inst(m, who) else {
            return;
        };
        let id = if pubsub { inst.link.pc } else { inst.link.cc };
        match id {
            Some(id) => {
                self.drop_link(id);
                self.actions.push(Action::Close { link: id });
            }
            None => {
                if let Some(i) = self.inst_mut(m, who) {
                    if pubsub {
                        i.link.pc_connected = false;
                    } else {
                        i.link.cc_connected = false;
                        i.link.pending = 0;
                    }
                }
            }
        }
    }

    /// Forgets a connection that is gone: every entry using it is left without it.
    fn drop_link(&mut self, id: LinkId) {
        let Some(owner) = self.links.remove(&id) else {
            return;
        };
        for (m, who) in &owner.owners {
            if let Some(inst) = self.inst_mut(m, who) {
                if owner.pubsub {
                    inst.link.pc = None;
                    inst.link.pc_connected = false;
                } else {
                    inst.link.cc = None;
                    inst.link.cc_connected = false;
                    inst.link.pending = 0;
                }
            }
        }
    }

    /// Sends a command on an instance's command connection (names are renamed by the caller).
    pub fn send(&mut self, m: &str, who: &Who, argv: Vec<String>, tag: Tag) -> bool {
        let Some(inst) = self.inst_mut(m, who) else {
            return false;
        };
        let Some(link) = inst.link.cc.filter(|_| inst.link.cc_connected) else {
            return false;
        };
        inst.link.pending += 1;
        if let Some(o) = self.links.get_mut(&link) {
            o.senders.push_back((m.to_string(), who.clone()));
        }
        self.actions.push(Action::Send {
            link,
            argv: argv.into_iter().map(Bytes::from).collect(),
            tag,
        });
        self.sync_shared(m, who);
        true
    }

    /// Processes one report from the runtime.
    pub fn handle(&mut self, input: Input, now: u64) {
        let link = match &input {
            Input::Connected { link, .. }
            | Input::Disconnected { link }
            | Input::Reply { link, .. }
            | Input::Message { link, .. } => *link,
        };
        let is_reply = matches!(input, Input::Reply { .. });
        let Some(owner) = self.links.get_mut(&link) else {
            return;
        };
        let Some((m, who)) = owner.owners.first().cloned() else {
            return;
        };
        let pubsub = owner.pubsub;
        let sender = if is_reply {
            let s = owner.senders.pop_front();
            s.filter(|s| owner.owners.contains(s))
        } else {
            None
        };
        match input {
            Input::Connected { local_ip, .. } => {
                self.on_connected(&m, &who, pubsub, local_ip, now);
                self.sync_shared(&m, &who);
            }
            Input::Disconnected { .. } => self.drop_link(link),
            Input::Reply { tag, frame, .. } => match sender {
                Some((sm, sw)) => {
                    self.on_reply(&sm, &sw, tag, frame, now);
                    self.sync_shared(&sm, &sw);
                }
                // Sent for an entry that has let go of the link since: only the count.
                None => {
                    if let Some(i) = self.inst_mut(&m, &who) {
                        i.link.pending = i.link.pending.saturating_sub(1);
                    }
                    self.sync_shared(&m, &who);
                }
            },
            Input::Message {
                channel, payload, ..
            } => {
                if let Some(inst) = self.inst_mut(&m, &who) {
                    inst.link.pc_last_activity = now;
                }
                if &channel[..] == HELLO_CHANNEL.as_bytes() {
                    let p = String::from_utf8_lossy(&payload).into_owned();
                    if !p.contains(&self.myid) {
                        self.process_hello(&p, now);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Frame, Globals};
    use super::*;

    const PEER: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn connects_to(actions: &[Action], port: u16) -> Vec<LinkId> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Connect { link, port: p, .. } if *p == port => Some(*link),
                _ => None,
            })
            .collect()
    }

    /// A sentinel watching two masters, with one peer known under both.
    fn two_masters_one_peer() -> (Sentinel, LinkId) {
        let mut s = Sentinel::new("a".repeat(40), Globals::default(), 7);
        s.monitor("m1", "127.0.0.1", 7001, 2, 0, false).unwrap();
        s.monitor("m2", "127.0.0.1", 7002, 2, 0, false).unwrap();
        for (m, port) in [("m1", 7001), ("m2", 7002)] {
            s.process_hello(
                &format!("127.0.0.1,26999,{PEER},0,{m},127.0.0.1,{port},0"),
                0,
            );
        }
        s.tick(2000);
        let acts = s.take_actions();
        let peer = connects_to(&acts, 26999);
        assert_eq!(peer.len(), 1, "one connection to the peer: {acts:?}");
        (s, peer[0])
    }

    #[test]
    fn a_peer_under_two_masters_gets_one_connection() {
        let (mut s, link) = two_masters_one_peer();
        let p = Who::Sentinel(PEER.into());
        assert_eq!(s.link_refcount("m1", &p), 2);
        assert_eq!(s.link_refcount("m2", &p), 2);
        s.handle(
            Input::Connected {
                link,
                local_ip: "127.0.0.1".into(),
            },
            2100,
        );
        // One PING for the connection, not one per master.
        let pings = s
            .take_actions()
            .into_iter()
            .filter(|a| matches!(a, Action::Send { tag: Tag::Ping, link: l, .. } if *l == link))
            .count();
        assert_eq!(pings, 1);
        for m in ["m1", "m2"] {
            let l = &s.inst(m, &p).unwrap().link;
            assert!(l.cc_connected && l.pending == 1 && l.last_ping_time == 2100);
        }
        // The PONG counts for both entries.
        s.handle(
            Input::Reply {
                link,
                tag: Tag::Ping,
                frame: Frame::Simple("PONG".into()),
            },
            2200,
        );
        for m in ["m1", "m2"] {
            let l = &s.inst(m, &p).unwrap().link;
            assert_eq!(
                (l.pending, l.last_avail_time, l.act_ping_time),
                (0, 2200, 0)
            );
        }
    }

    #[test]
    fn replies_go_to_the_master_that_asked_and_the_link_outlives_one_user() {
        let (mut s, link) = two_masters_one_peer();
        let p = Who::Sentinel(PEER.into());
        s.handle(
            Input::Connected {
                link,
                local_ip: "127.0.0.1".into(),
            },
            2100,
        );
        s.handle(
            Input::Reply {
                link,
                tag: Tag::Ping,
                frame: Frame::Simple("PONG".into()),
            },
            2150,
        );
        assert!(s.send("m2", &p, vec!["X".into()], Tag::Ignore));
        assert!(s.send("m1", &p, vec!["Y".into()], Tag::Ignore));
        assert_eq!(s.inst("m1", &p).unwrap().link.pending, 2);
        // m2 lets go of the peer: the connection stays for m1; m2's reply is only counted.
        s.close_links("m2", &p);
        assert!(!s
            .take_actions()
            .iter()
            .any(|a| matches!(a, Action::Close { .. })));
        assert_eq!(s.link_refcount("m1", &p), 1);
        for _ in 0..2 {
            let r = Input::Reply {
                link,
                tag: Tag::Ignore,
                frame: Frame::Simple("OK".into()),
            };
            s.handle(r, 2200);
        }
        assert_eq!(s.inst("m1", &p).unwrap().link.pending, 0);
        // A disconnection reaches every user; the last release closes.
        s.close_links("m1", &p);
        assert!(s
            .take_actions()
            .iter()
            .any(|a| matches!(a, Action::Close { link: l } if *l == link)));
    }

    #[test]
    fn a_dropped_shared_link_leaves_every_entry_without_it() {
        let (mut s, link) = two_masters_one_peer();
        let p = Who::Sentinel(PEER.into());
        s.handle(Input::Disconnected { link }, 2100);
        for m in ["m1", "m2"] {
            assert!(s.inst(m, &p).unwrap().link.cc.is_none());
        }
        s.tick(4000);
        assert_eq!(connects_to(&s.take_actions(), 26999).len(), 1);
        assert_eq!(s.link_refcount("m2", &p), 2);
    }
}
