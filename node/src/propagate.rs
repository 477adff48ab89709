//! Propagation: what the write stream ([`crate::state::stream::WriteStream`]) recorded is
//! handed to its consumers, the AOF ([`crate::state::aof::Aof::append`]) and the replication
//! backlog and replicas ([`crate::state::repl::ReplState::feed`]). With `appendfsync always`
//! the file is fsynced before [`flush`] returns, so before the replies of the batch are written.

use crate::state::NodeState;
use bytes::Bytes;

/// Hands what the write stream produced to its consumers. An AOF write that fails is fatal
/// (`NodeState::fatal`): the batch's replies are not sent and the node exits, as Redis does.
pub fn flush(st: &mut NodeState) {
    if !st.stream.local.is_empty() {
        flush_local(st);
    }
    if st.stream.buffer.is_empty() {
        return;
    }
    let mut buf = std::mem::take(&mut st.stream.buffer);
    if st.aof.is_some() {
        if st.aof_flush_sleep_us > 0 {
            std::thread::sleep(std::time::Duration::from_micros(st.aof_flush_sleep_us));
        }
        let timestamps = st.settings.aof_timestamp_enabled;
        // `no-appendfsync-on-rewrite yes` while a snapshot runs: no fsync, as Redis skips it
        // while it has a child process.
        let fsync_allowed = !fsync_paused(st);
        if let Some(aof) = st.aof.as_mut() {
            if let Err(e) = aof.append(&buf, timestamps, fsync_allowed) {
                st.fail(e);
            }
        }
    }
    st.repl.feed(&buf);
    buf.clear();
    if buf.capacity() > 1 << 20 {
        buf.shrink_to(64 * 1024);
    }
    st.stream.buffer = buf;
}

/// A replica's own writes: to the AOF only, then a SELECT of its master's stream db, so the
/// master's bytes that follow apply where they belong.
fn flush_local(st: &mut NodeState) {
    let mut local = std::mem::take(&mut st.stream.local);
    if st.aof.is_some() {
        let db = Bytes::from(st.repl.master_db.to_string());
        crate::state::stream::encode_command(&mut local, &[Bytes::from_static(b"SELECT"), db]);
        let timestamps = st.settings.aof_timestamp_enabled;
        let fsync_allowed = !fsync_paused(st);
        if let Some(aof) = st.aof.as_mut() {
            if let Err(e) = aof.append(&local, timestamps, fsync_allowed) {
                st.fail(e);
            }
        }
    }
    local.clear();
    st.stream.local = local;
}

/// `no-appendfsync-on-rewrite yes` and a snapshot (a BGSAVE, a rewrite, a full resync) runs.
pub fn fsync_paused(st: &NodeState) -> bool {
    st.snapshot_busy() && st.settings.no_appendfsync_on_rewrite
}

/// Sends a command to the replicas outside any client's command (PING, REPLCONF GETACK): the
/// AOF does not see it, only the backlog and the replicas.
pub fn feed_replicas_only(st: &mut NodeState, argv: &[&[u8]]) {
    flush(st);
    let mut buf = Vec::new();
    let args: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    crate::state::stream::encode_command(&mut buf, &args);
    st.repl.feed(&buf);
}

/// Propagates a `DEL` for every key that expired since the last call (lazily, on access, or
/// by the active expiry cycle), each as its own command, as Redis does; first publishes the
/// keyspace events the keyspace recorded meanwhile (expired, new, keymiss).
pub fn expired_dels(st: &mut NodeState) {
    st.publish_key_events();
    if st.ks.expired_pending.is_empty() {
        return;
    }
    for (db, key) in std::mem::take(&mut st.ks.expired_pending) {
        st.stream.push(db, vec![Bytes::from_static(b"DEL"), key]);
        st.stream.commit(false);
    }
}
