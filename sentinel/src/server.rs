//! The client-facing side of picket-sentinel: the command set Redis Sentinel 7.0 accepts
//! (PING, AUTH, HELLO, CLIENT, COMMAND, INFO, ROLE, SUBSCRIBE family, PUBLISH of hellos,
//! SHUTDOWN, ACL WHOAMI, SENTINEL ...); everything else is an unknown command, as in Redis.

use crate::state::{SentinelNode, Session};
use picket::args::eq_ic;
use picket::resp::{Limits, Reply, Request};
use picket::server::{ClientHandle, ClientRegistry, Control, NetStats, Service};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

impl Service for SentinelNode {
    type Session = Session;

    fn registry(&self) -> &ClientRegistry {
        &self.registry
    }

    fn net_stats(&self) -> &NetStats {
        &self.net
    }

    fn admit(&self, _peer: Option<&SocketAddr>) -> Result<(), String> {
        if self.registry.count() >= 10_000 {
            return Err("ERR max number of clients reached".into());
        }
        Ok(())
    }

    fn starts_authenticated(&self) -> bool {
        self.acl.read().default_needs_no_auth()
    }

    fn open(&self, client: Arc<ClientHandle>) -> Session {
        Session::new(client)
    }

    fn execute(&self, sess: &mut Session, reqs: &mut Vec<Request>, out: &mut Reply) -> Control {
        let mut done = 0;
        let mut control = Control::Continue;
        for req in reqs.iter() {
            if req.args.is_empty() {
                done += 1;
                continue;
            }
            // CLIENT PAUSE holds every command (ALL) or PUBLISH (WRITE) until it ends.
            let writes = eq_ic(&req.args[0], "publish");
            if let Some(until) = self.state.lock().pause.holds(writes) {
                control = Control::Suspend {
                    wake: self.pause_notify.clone(),
                    deadline: Some(until),
                };
                break;
            }
            done += 1;
            out.resp3 = sess.client.resp3();
            let mark = out.buf.len();
            let skip_this = std::mem::take(&mut sess.reply_skip_next);
            crate::cmd::execute_one(self, sess, &req.args, out);
            // Suppressed replies, except the (un)subscribe confirmations, which Redis 7 sends as pushes.
            if (sess.reply_off || skip_this) && !picket::pubsub::confirms_with_push(&req.args[0]) {
                out.buf.truncate(mark);
            }
            if sess.close {
                control = Control::Close;
                break;
            }
        }
        reqs.drain(..done);
        control
    }

    fn close(&self, sess: &mut Session) {
        let mut st = self.state.lock();
        st.pubsub.drop_client(sess.client.id, &mut sess.subs);
    }

    fn limits(&self, sess: &Session) -> Limits {
        Limits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: !sess.authenticated,
        }
    }

    fn query_buffer_limit(&self) -> usize {
        1 << 30
    }

    fn idle_timeout(&self, _sess: &Session) -> Option<Duration> {
        None
    }

    fn client<'a>(&self, sess: &'a Session) -> &'a Arc<ClientHandle> {
        &sess.client
    }
}
