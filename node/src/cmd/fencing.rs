//! Fencing mode on the node (docs/fencing.md): the sentinels' lease grants
//! (`REPLCONF FENCING-LEASE`, a Picket-only REPLCONF option so COMMAND stays Redis's), and the
//! hold on replies: a write's reply leaves only once enough eligible replicas acknowledged it
//! under the lease, or becomes `-NOREPLICAS` when they do not in `fencing-ack-timeout`.

use super::Ctx;
use crate::state::fencing::{FenceHold, GrantRequest};
use crate::state::{Node, NodeState, Session};
use bytes::Bytes;
use picket::resp::Reply;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub const NOT_ACKED: &str = "NOREPLICAS Not enough good replicas to write.";
pub const NO_LEASE: &str = "READONLY You can't write against a read only replica.";

/// `REPLCONF FENCING-LEASE <sentinel-id> <sentinels> <lease-ms> <acks> <nonce|-> [ip:port ...]`:
/// records the grant and answers a fresh nonce for the next one.
pub fn lease(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(req) = parse_grant(a) else {
        return ctx.out.error(picket::args::ERR_SYNTAX);
    };
    let now = Instant::now();
    if !ctx.st.repl.is_replica() {
        ctx.st.fencing.grant(req, now);
    }
    let nonce = ctx.st.fencing.issue_nonce(now);
    ctx.out.int(nonce as i64);
}

fn parse_grant(a: &[Bytes]) -> Option<GrantRequest> {
    if a.len() < 7 {
        return None;
    }
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let num = |b: &Bytes| text(b).parse::<u64>().ok();
    Some(GrantRequest {
        sentinel: text(&a[2]),
        sentinels: num(&a[3])? as usize,
        lease_ms: num(&a[4])?.min(3_600_000),
        acks: num(&a[5])? as usize,
        nonce: num(&a[6]),
        replicas: a[7..].iter().map(text).collect(),
    })
}

/// Whether writes are refused before they run: fencing on, this node a master, no lease.
pub fn refuses_writes(st: &NodeState) -> bool {
    st.settings.fencing && !st.repl.is_replica() && st.fencing.lease(Instant::now()).is_none()
}

/// A replica acknowledged `off`: it counts for fencing if the lease is held now and the
/// replica is eligible; held clients are woken.
pub fn on_ack(st: &mut NodeState, client: u64, off: u64) {
    if !st.settings.fencing {
        return;
    }
    if let Some(view) = st.fencing.lease(Instant::now()) {
        if let Some(r) = st.repl.replicas.iter_mut().find(|r| r.client.id == client) {
            let addr = format!("{}:{}", r.ip, r.port);
            if view.eligible.contains(&addr) {
                r.fenced_off = r.fenced_off.max(off);
            }
        }
    }
    st.fencing.notify.notify_waiters();
}

/// Eligible replicas whose acknowledgement under the lease covers `off`, against the number
/// needed.
fn covered(st: &NodeState, off: u64) -> bool {
    let needed = st.fencing.acks_needed();
    let have = st
        .repl
        .replicas
        .iter()
        .filter(|r| r.fenced_off >= off)
        .count();
    have >= needed
}

/// After a command ran: its reply (bytes `mark..` of `out`) waits for acknowledgements if it
/// wrote on a fencing master for a normal client.
pub fn after_command(st: &NodeState, sess: &mut Session, out: &Reply, mark: usize, dirty: u64) {
    if !st.settings.fencing || sess.repl.is_master || sess.repl.is_replica || st.repl.is_replica() {
        return;
    }
    // A change (not only what reached the stream: without replicas nothing is streamed).
    if st.dirty > dirty && out.buf.len() > mark {
        let hold = sess.fence.get_or_insert_with(FenceHold::default);
        hold.marks.push((mark, out.buf.len(), sess.repl.woff));
    }
}

/// After a batch's writes went to the replicas: asks them for their offsets at once.
pub fn after_batch(st: &mut NodeState, sess: &mut Session) {
    let Some(hold) = sess.fence.as_mut() else {
        return;
    };
    hold.deadline.get_or_insert_with(|| {
        Instant::now() + Duration::from_millis(st.settings.fencing_ack_timeout_ms)
    });
    // Asked once per batch that added writes past what was asked already (a batch cut by the
    // output limit runs again before the flush, with writes of its own).
    let last = hold.marks.iter().map(|m| m.2).max().unwrap_or(0);
    if last > hold.asked {
        hold.asked = last;
        crate::propagate::feed_replicas_only(st, &[b"REPLCONF", b"GETACK", b"*"]);
        crate::propagate::flush(st);
    }
}

/// Before the output is written: `None` when it may leave now (the writes are acknowledged,
/// or their time ran out and their replies became errors), else what to wait on.
pub fn hold(node: &Node, sess: &mut Session, out: &mut Reply) -> Option<(Arc<Notify>, Instant)> {
    let hold = sess.fence.as_ref()?;
    let st = node.state.lock();
    let last = hold.marks.iter().map(|m| m.2).max().unwrap_or(0);
    if covered(&st, last) {
        drop(st);
        sess.fence = None;
        return None;
    }
    let deadline = hold.deadline.unwrap_or_else(Instant::now);
    if Instant::now() < deadline {
        return Some((st.fencing.notify.clone(), deadline));
    }
    let acked: Vec<bool> = hold.marks.iter().map(|m| covered(&st, m.2)).collect();
    drop(st);
    let hold = sess.fence.take()?;
    out.buf = replace_unacked(&out.buf, &hold.marks, &acked, out.resp3);
    None
}

/// The output with the replies of the unacknowledged writes replaced by [`NOT_ACKED`].
fn replace_unacked(
    buf: &[u8],
    marks: &[(usize, usize, u64)],
    acked: &[bool],
    resp3: bool,
) -> Vec<u8> {
    let mut err = Reply::new(resp3);
    err.error(NOT_ACKED);
    let mut rebuilt = Vec::with_capacity(buf.len());
    let mut at = 0;
    for (&(start, end, _), &ok) in marks.iter().zip(acked) {
        let (start, end) = (start.min(buf.len()), end.min(buf.len()));
        if ok || start < at {
            continue;
        }
        rebuilt.extend_from_slice(&buf[at..start]);
        rebuilt.extend_from_slice(&err.buf);
        at = end;
    }
    rebuilt.extend_from_slice(&buf[at..]);
    rebuilt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_unacknowledged_replies_become_errors() {
        let buf = b"+OK\r\n:1\r\n+OK\r\n".to_vec();
        let marks = [(0, 5, 10), (5, 9, 0), (9, 14, 20)];
        let out = replace_unacked(&buf, &marks, &[true, true, false], false);
        assert_eq!(
            out,
            b"+OK\r\n:1\r\n-NOREPLICAS Not enough good replicas to write.\r\n".to_vec()
        );
        let all = replace_unacked(&buf, &marks, &[false, true, false], false);
        assert!(all.starts_with(b"-NOREPLICAS"));
        assert!(all.ends_with(b"write.\r\n"));
        assert_eq!(all.windows(4).filter(|w| w == b":1\r\n").count(), 1);
    }

    #[test]
    fn grants_parse_and_reject_bad_numbers() {
        let argv = |line: &str| {
            line.split(' ')
                .map(|s| Bytes::from(s.to_string()))
                .collect::<Vec<_>>()
        };
        let g = parse_grant(&argv("replconf fencing-lease s1 3 1000 1 7 127.0.0.2:6380")).unwrap();
        assert_eq!(
            (g.sentinels, g.lease_ms, g.acks, g.nonce),
            (3, 1000, 1, Some(7))
        );
        assert_eq!(g.replicas, vec!["127.0.0.2:6380".to_string()]);
        let first = parse_grant(&argv("replconf fencing-lease s1 3 1000 1 -"));
        assert_eq!(first.unwrap().nonce, None, "the first grant has no nonce");
        assert!(parse_grant(&argv("replconf fencing-lease s1 x 1 1 -")).is_none());
        assert!(parse_grant(&argv("replconf fencing-lease s1")).is_none());
    }
}
