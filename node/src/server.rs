//! The node as a [`Service`]: admission, sessions opened and closed, and each batch handed to
//! the command executor ([`crate::cmd::execute_batch`]).

use crate::cmd;
use crate::state::{Node, Session};
use picket::resp::{Limits, Reply, Request};
use picket::server::{ClientHandle, ClientRegistry, Control, NetStats, Service};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

impl Service for Node {
    type Session = Session;

    fn registry(&self) -> &ClientRegistry {
        &self.registry
    }

    fn net_stats(&self) -> &NetStats {
        &self.net
    }

    fn admit(&self, peer: Option<&SocketAddr>) -> Result<(), String> {
        let hot = self.hot.read();
        if self.registry.count() >= hot.maxclients {
            return Err("ERR max number of clients reached".into());
        }
        if let Some(p) = peer {
            if hot.protected_mode
                && hot.requirepass.is_none()
                && hot.bind_any
                && !p.ip().is_loopback()
            {
                return Err(crate::cmd::connection::PROTECTED_MODE_ERROR.into());
            }
        }
        Ok(())
    }

    fn starts_authenticated(&self) -> bool {
        self.hot.read().requirepass.is_none()
    }

    fn open(&self, client: Arc<ClientHandle>) -> Session {
        Session::new(client)
    }

    fn execute(&self, sess: &mut Session, reqs: &mut Vec<Request>, out: &mut Reply) -> Control {
        cmd::execute_batch(self, sess, reqs, out)
    }

    fn close(&self, sess: &mut Session) {
        cmd::close_session(self, sess);
    }

    fn limits(&self, sess: &Session) -> Limits {
        Limits {
            proto_max_bulk_len: self.hot.read().proto_max_bulk_len,
            unauthenticated: !sess.authenticated,
        }
    }

    fn query_buffer_limit(&self) -> usize {
        self.hot.read().query_buffer_limit
    }

    fn idle_timeout(&self, sess: &Session) -> Option<Duration> {
        let t = self.hot.read().timeout;
        if t == 0 || sess.subs.count() > 0 || sess.monitor {
            return None;
        }
        Some(Duration::from_secs(t))
    }

    fn client<'a>(&self, sess: &'a Session) -> &'a Arc<ClientHandle> {
        &sess.client
    }

    fn hold(
        &self,
        sess: &mut Session,
        out: &mut Reply,
    ) -> Option<(Arc<tokio::sync::Notify>, std::time::Instant)> {
        sess.fence.as_ref()?;
        cmd::fencing::hold(self, sess, out)
    }
}
