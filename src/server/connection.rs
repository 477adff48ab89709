//! One client connection: read, parse every complete request, execute them as a batch, flush
//! the replies once, and interleave queued pushes (pub/sub, MONITOR) between batches.

use super::{Control, Service};
use crate::resp::{Reply, RequestParser};
use bytes::{Bytes, BytesMut};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Requests executed per batch at most, so one pipelining client cannot starve the others.
const MAX_BATCH: usize = 512;

/// Writes everything, unless the client is killed first (a stuck peer must not pin the task).
async fn write_or_kill<W: AsyncWrite + Unpin>(
    wr: &mut W,
    data: &[u8],
    client: &super::ClientHandle,
) -> std::io::Result<()> {
    if client.is_killed() {
        return Err(std::io::Error::other("client killed"));
    }
    tokio::select! {
        r = wr.write_all(data) => r,
        _ = client.kill_notify.notified() => Err(std::io::Error::other("client killed")),
    }
}

async fn write_out<W: AsyncWrite + Unpin, S: Service>(
    svc: &S,
    wr: &mut W,
    out: &mut Reply,
    client: &super::ClientHandle,
) -> std::io::Result<()> {
    if out.buf.is_empty() {
        return Ok(());
    }
    write_or_kill(wr, &out.buf, client).await?;
    let st = svc.net_stats();
    st.output_bytes
        .fetch_add(out.buf.len() as u64, Ordering::Relaxed);
    st.writes.fetch_add(1, Ordering::Relaxed);
    out.buf.clear();
    if out.buf.capacity() > 64 * 1024 {
        out.buf.shrink_to(16 * 1024);
    }
    Ok(())
}

async fn write_pushes<W: AsyncWrite + Unpin>(
    wr: &mut W,
    first: Bytes,
    rx: &mut mpsc::UnboundedReceiver<Bytes>,
    client: &super::ClientHandle,
) -> std::io::Result<()> {
    let mut batch = Vec::with_capacity(first.len());
    let mut n = first.len();
    batch.extend_from_slice(&first);
    while batch.len() < 256 * 1024 {
        match rx.try_recv() {
            Ok(m) => {
                n += m.len();
                batch.extend_from_slice(&m);
            }
            Err(_) => break,
        }
    }
    let r = write_or_kill(wr, &batch, client).await;
    client.sent(n);
    r
}

/// Serves one connection until either side closes it.
pub async fn serve_connection<S, R, W>(
    svc: Arc<S>,
    mut rd: R,
    mut wr: W,
    client: Arc<super::ClientHandle>,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
) where
    S: Service,
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    let mut sess = svc.open(client.clone());
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut parser = RequestParser::new();
    let mut out = Reply::new(false);
    let mut reqs = Vec::new();
    'conn: loop {
        // Parse and run everything that is complete.
        loop {
            let mut proto_err = None;
            let mut full = false;
            let limits = svc.limits(&sess);
            while !full {
                // Before AUTH, parse one request at a time: the limits change once it succeeds.
                full = reqs.len() >= MAX_BATCH || limits.unauthenticated && !reqs.is_empty();
                if full {
                    break;
                }
                match parser.parse(&mut buf, limits) {
                    Ok(Some(r)) if r.empty_line => continue,
                    Ok(Some(r)) => reqs.push(r),
                    Ok(None) => break,
                    Err(e) => {
                        proto_err = Some(e);
                        break;
                    }
                }
            }
            let mut close = false;
            while !reqs.is_empty() {
                out.resp3 = client.resp3();
                match svc.execute(&mut sess, &mut reqs, &mut out) {
                    Control::Continue => {}
                    Control::Close => {
                        close = true;
                        reqs.clear();
                    }
                    Control::Suspend { wake, deadline } => {
                        if write_out(&*svc, &mut wr, &mut out, &client).await.is_err() {
                            break 'conn;
                        }
                        let notified = wake.notified();
                        tokio::pin!(notified);
                        let sleep = async {
                            match deadline {
                                Some(d) => tokio::time::sleep_until(d.into()).await,
                                None => std::future::pending().await,
                            }
                        };
                        tokio::select! {
                            _ = &mut notified => {}
                            _ = sleep => {}
                            _ = client.kill_notify.notified() => break 'conn,
                        }
                    }
                }
                if client.is_killed() {
                    break 'conn;
                }
            }
            if let Some(e) = proto_err {
                tracing::debug!(
                    "Protocol error ({}) from client: id={} addr={}",
                    e.0,
                    client.id,
                    client.addr
                );
                out.resp3 = client.resp3();
                out.error(&format!("ERR {e}"));
                close = true;
            }
            if close {
                let _ = write_out(&*svc, &mut wr, &mut out, &client).await;
                let _ = wr.shutdown().await;
                break 'conn;
            }
            // A batch cut at MAX_BATCH: flush it and run the next one before reading more.
            if !full {
                break;
            }
            if write_out(&*svc, &mut wr, &mut out, &client).await.is_err() {
                break 'conn;
            }
        }
        if write_out(&*svc, &mut wr, &mut out, &client).await.is_err() {
            break;
        }
        if buf.len() > svc.query_buffer_limit() {
            tracing::warn!("Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})", client.id, client.addr, String::from_utf8_lossy(&buf[..buf.len().min(64)]));
            break;
        }
        client.meta.lock().qbuf = buf.len();
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        let idle = svc.idle_timeout(&sess);
        let idle_sleep = async {
            match idle {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let st = svc.net_stats();
                    st.input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    st.reads.fetch_add(1, Ordering::Relaxed);
                }
            },
            m = rx.recv() => match m {
                Some(m) => if write_pushes(&mut wr, m, &mut rx, &client).await.is_err() { break },
                None => break,
            },
            _ = client.kill_notify.notified() => break,
            _ = idle_sleep => {
                tracing::debug!("Closing idle client id={}", client.id);
                break;
            }
        }
        if client.is_killed() {
            break;
        }
    }
    svc.close(&mut sess);
    svc.registry().unregister(client.id);
}
