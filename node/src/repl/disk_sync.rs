//! Full resyncs with the `$<len>` framing: `repl-diskless-sync no`, replicas without
//! `capa eof`, and SYNC. As Redis does with a disk-backed BGSAVE, the snapshot is written to a
//! file first (its length must be known before it is sent), then sent. The snapshot is the
//! point-in-time capture ([`crate::persistence::snapshot`]), so clients keep running meanwhile; the replica is
//! attached at the capture's start, `+FULLRESYNC` carries that offset, and the stream from then
//! on waits in its `held` buffer until the payload has been queued.

use crate::state::repl::ReplicaInfo;
use crate::state::{Node, NodeState};
use bytes::Bytes;
use picket::server::ClientHandle;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// PSYNC (or SYNC) that needs a full resync with the `$<len>` framing: answered from a thread.
pub fn queue(node: &Node, client: Arc<ClientHandle>, ip: String, port: u16, psync: bool) {
    let Some(node) = node.me.upgrade() else {
        return;
    };
    std::thread::spawn(move || send_snapshot(node, client, ip, port, psync));
}

fn send_snapshot(node: Arc<Node>, client: Arc<ClientHandle>, ip: String, port: u16, psync: bool) {
    // One snapshot at a time: wait for a running one (a BGSAVE, a rewrite, another sync).
    loop {
        if client.is_killed() {
            return;
        }
        {
            let mut st = node.state.lock();
            if !st.snapshot_busy() {
                st.repl.sync_starting = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let dir = std::path::PathBuf::from(node.state.lock().config.get("dir"));
    let path = dir.join(format!(
        "temp-repl-{}-{}.rdb",
        std::process::id(),
        client.id
    ));
    let mut offset = 0;
    let begin = |st: &mut NodeState| {
        offset = super::full_sync_offset(st);
        tracing::info!("Starting BGSAVE for SYNC with target: disk (Picket: on a thread, no fork)");
        if psync {
            let head = format!("+FULLRESYNC {} {offset}\r\n", st.replid);
            client.send_unlimited(Bytes::from(head));
        }
        let r = ReplicaInfo::syncing(client.clone(), ip.clone(), port, !psync, offset);
        st.repl.replicas.push(r);
        super::full_sync_format(st, offset)
    };
    let res = std::fs::File::create(&path).and_then(|f| {
        let out = std::io::BufWriter::with_capacity(1 << 16, f);
        let (_, n) = crate::persistence::snapshot::write_snapshot(&node, begin, out)?;
        Ok(n)
    });
    let sent = res.and_then(|n| {
        client.send_unlimited(Bytes::from(format!("${n}\r\n")));
        let mut f = std::fs::File::open(&path)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let k = f.read(&mut buf)?;
            if k == 0 {
                return Ok(n);
            }
            if !client.send_unlimited(Bytes::copy_from_slice(&buf[..k])) {
                return Err(std::io::Error::other("the replica went away"));
            }
        }
    });
    let _ = std::fs::remove_file(&path);
    let mut st = node.state.lock();
    st.repl.sync_starting = false;
    let lim = st.repl.obuf_limit;
    match sent {
        Ok(n) => {
            if let Some(r) = st
                .repl
                .replicas
                .iter_mut()
                .find(|r| r.client.id == client.id)
            {
                r.syncing = false;
                r.ack_time = Instant::now();
                // The replica reads the stream right after the payload.
                if let Some(h) = r.held.take().filter(|h| !h.is_empty()) {
                    if !r.client.send(Bytes::from(h), lim) {
                        r.client.kill();
                    }
                }
            }
            st.repl.sync_full += 1;
            tracing::info!(
                "Synchronization with replica {ip}:{port} succeeded ({n} bytes of snapshot at offset {offset})"
            );
        }
        Err(e) => {
            tracing::warn!("Can't write the snapshot for replica {ip}:{port}: {e}");
            client.kill();
            st.repl.replicas.retain(|r| r.client.id != client.id);
        }
    }
}
