//! Keyspace notifications: `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>`
//! messages for the classes `notify-keyspace-events` enables. Commands call
//! [`NodeState::notify`] after their change, as Redis does; what the keyspace itself sees
//! (a new key, an expiry, a miss) it records in order, and those are sent first.

use crate::state::NodeState;
use picket::config::Config;
use picket::keyspace_events as class;

/// The enabled classes, or 0 when neither keyspace nor keyevent messages are on.
pub fn classes(config: &Config) -> u16 {
    let flags = class::parse(config.get("notify-keyspace-events")).unwrap_or(0);
    if flags & (class::KEYSPACE | class::KEYEVENT) == 0 {
        0
    } else {
        flags
    }
}

impl NodeState {
    /// Sends `event` about `key` in `db` if its class is enabled.
    #[inline]
    pub fn notify(&mut self, class: u16, event: &str, db: usize, key: &[u8]) {
        if self.settings.keyspace_events & class == 0 {
            return;
        }
        self.publish_key_events();
        self.publish_event(event.as_bytes(), db, key);
    }

    /// Sends the events the keyspace recorded (new keys, expiries, misses), in order.
    pub fn publish_key_events(&mut self) {
        if self.ks.events.is_empty() {
            return;
        }
        for (event, db, key) in std::mem::take(&mut self.ks.events) {
            self.publish_event(event.as_bytes(), db, &key);
        }
    }

    fn publish_event(&self, event: &[u8], db: usize, key: &[u8]) {
        let flags = self.settings.keyspace_events;
        let limit = self.settings.pubsub_limit;
        if !self.pubsub.has_subscribers() {
            return;
        }
        if flags & class::KEYSPACE != 0 {
            let mut chan = format!("__keyspace@{db}__:").into_bytes();
            chan.extend_from_slice(key);
            self.pubsub.publish(&chan, event, limit);
        }
        if flags & class::KEYEVENT != 0 {
            let mut chan = format!("__keyevent@{db}__:").into_bytes();
            chan.extend_from_slice(event);
            self.pubsub.publish(&chan, key, limit);
        }
    }
}
