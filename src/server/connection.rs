//! One client connection: read, parse every complete request, execute them as a batch, flush
//! the replies once, and interleave queued pushes (pub/sub, MONITOR) between batches.

use super::{Control, Service};
use crate::resp::{Limits, ProtocolError, Reply, Request, RequestParser};
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

/// Parses complete requests from `buf` into `reqs`, up to a batch. Returns whether the batch
/// is full (more may be left in `buf`) and the protocol error that stopped parsing, if any.
/// Before AUTH, one request at a time: the limits change once it succeeds.
fn parse_batch(
    parser: &mut RequestParser,
    buf: &mut BytesMut,
    limits: Limits,
    reqs: &mut Vec<Request>,
) -> (bool, Option<ProtocolError>) {
    loop {
        if reqs.len() >= MAX_BATCH || limits.unauthenticated && !reqs.is_empty() {
            return (true, None);
        }
        match parser.parse(buf, limits) {
            Ok(Some(r)) if r.empty_line => continue,
            Ok(Some(r)) => reqs.push(r),
            Ok(None) => return (false, None),
            Err(e) => return (false, Some(e)),
        }
    }
}

/// Free room in a query buffer worth giving back (Redis's 4 KiB).
const QBUF_WASTE: usize = 4 * 1024;
/// A query buffer idle this long gives its free room back (Redis: more than 2 s idle).
const QBUF_IDLE: std::time::Duration = std::time::Duration::from_millis(2500);
/// A query buffer above this is trimmed to its recent peak (Redis's PROTO_RESIZE_THRESHOLD).
const QBUF_RESIZE_THRESHOLD: usize = 32 * 1024;

/// A copy of the unread part of `buf` in a buffer of `room` bytes (at least its length).
fn trimmed(buf: &BytesMut, room: usize) -> BytesMut {
    let mut b = BytesMut::with_capacity(room.max(buf.len()));
    b.extend_from_slice(buf);
    b
}

/// Redis's once-a-second query buffer resize for a busy client: a buffer over 32 KiB that is
/// more than twice its recent peak shrinks to that peak (not below what it holds or the bulk
/// being read).
struct QueryBufferCron {
    peak: usize,
    last: std::time::Instant,
    /// Trimmed while idle, and nothing read since.
    idle_trimmed: bool,
}

impl QueryBufferCron {
    fn new() -> Self {
        QueryBufferCron {
            peak: 0,
            last: std::time::Instant::now(),
            idle_trimmed: false,
        }
    }

    fn cron(&mut self, buf: &mut BytesMut, bulk: usize) {
        if self.last.elapsed() < std::time::Duration::from_secs(1) {
            return;
        }
        self.last = std::time::Instant::now();
        let cap = buf.capacity();
        if cap - buf.len() > QBUF_WASTE && cap > QBUF_RESIZE_THRESHOLD && cap / 2 > self.peak {
            *buf = trimmed(buf, self.peak.max(bulk));
        }
        self.peak = buf.len().max(bulk);
    }
}

/// How a batch ended.
enum BatchEnd {
    /// Every request ran.
    Done,
    /// The connection is to be closed after the replies are written.
    Close,
    /// The connection is gone (killed, or a write failed).
    Gone,
}

/// One connection's state between batches.
struct Conn<S: Service, W> {
    svc: Arc<S>,
    sess: S::Session,
    client: Arc<super::ClientHandle>,
    wr: W,
    out: Reply,
    reqs: Vec<Request>,
}

impl<S: Service, W: AsyncWrite + Unpin + Send> Conn<S, W> {
    async fn flush(&mut self) -> std::io::Result<()> {
        self.wait_for_release().await?;
        write_out(&*self.svc, &mut self.wr, &mut self.out, &self.client).await
    }

    /// Waits while the service holds the output ([`Service::hold`]).
    async fn wait_for_release(&mut self) -> std::io::Result<()> {
        loop {
            let Some((wake, until)) = self.svc.hold(&mut self.sess, &mut self.out) else {
                return Ok(());
            };
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Asked again once registered, so a wake between the two is not missed.
            if self.svc.hold(&mut self.sess, &mut self.out).is_none() {
                return Ok(());
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = self.client.kill_notify.notified() => {
                    return Err(std::io::ErrorKind::ConnectionAborted.into());
                }
            }
        }
    }

    /// Runs the parsed requests; a suspended command (a blocking pop, CLIENT PAUSE) writes
    /// what is ready and waits to be woken or for its deadline.
    ///
    /// While suspended the socket is still read, as Redis reads a blocked client: a client
    /// that goes away is noticed at once (its block or pause ends with it), and what it sends
    /// meanwhile waits in `buf`.
    async fn run_batch<R: AsyncRead + Unpin>(
        &mut self,
        rd: &mut R,
        buf: &mut BytesMut,
    ) -> BatchEnd {
        while !self.reqs.is_empty() {
            self.out.resp3 = self.client.resp3();
            match self
                .svc
                .execute(&mut self.sess, &mut self.reqs, &mut self.out)
            {
                Control::Continue => {}
                Control::Close => {
                    self.reqs.clear();
                    return BatchEnd::Close;
                }
                Control::Suspend { wake, deadline } => {
                    if self.flush().await.is_err() {
                        return BatchEnd::Gone;
                    }
                    let notified = wake.notified();
                    tokio::pin!(notified);
                    let sleep = async {
                        match deadline {
                            Some(d) => tokio::time::sleep_until(d.into()).await,
                            None => std::future::pending().await,
                        }
                    };
                    let room = buf.len() < self.svc.query_buffer_limit();
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = sleep => {}
                        _ = self.client.kill_notify.notified() => return BatchEnd::Gone,
                        r = rd.read_buf(buf), if room => match r {
                            Ok(0) | Err(_) => return BatchEnd::Gone,
                            Ok(n) => {
                                let st = self.svc.net_stats();
                                st.input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                                st.reads.fetch_add(1, Ordering::Relaxed);
                            }
                        },
                    }
                }
            }
            if self.client.is_killed() {
                return BatchEnd::Gone;
            }
        }
        BatchEnd::Done
    }

    /// Parses and runs everything complete in `buf`, batch by batch. False when the
    /// connection is to end.
    async fn run_buffered<R: AsyncRead + Unpin>(
        &mut self,
        rd: &mut R,
        parser: &mut RequestParser,
        buf: &mut BytesMut,
    ) -> bool {
        loop {
            let limits = self.svc.limits(&self.sess);
            let (full, proto_err) = parse_batch(parser, buf, limits, &mut self.reqs);
            let unparsed = buf.len();
            let mut close = match self.run_batch(rd, buf).await {
                BatchEnd::Done => false,
                BatchEnd::Close => true,
                BatchEnd::Gone => return false,
            };
            if let Some(e) = proto_err {
                tracing::debug!(
                    "Protocol error ({}) from client: id={} addr={}",
                    e.0,
                    self.client.id,
                    self.client.addr
                );
                self.out.resp3 = self.client.resp3();
                self.out.error(&format!("ERR {e}"));
                close = true;
            }
            if close {
                let _ = self.flush().await;
                let _ = self.wr.shutdown().await;
                return false;
            }
            // A batch cut at MAX_BATCH, or more read while it was suspended: flush it and run
            // the next one before reading more.
            if !full && buf.len() == unparsed {
                return true;
            }
            if self.flush().await.is_err() {
                return false;
            }
        }
    }
}

/// Serves one connection until either side closes it.
pub async fn serve_connection<S, R, W>(
    svc: Arc<S>,
    mut rd: R,
    wr: W,
    client: Arc<super::ClientHandle>,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
) where
    S: Service,
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    let sess = svc.open(client.clone());
    let mut c = Conn {
        svc,
        sess,
        client,
        wr,
        out: Reply::new(false),
        reqs: Vec::new(),
    };
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut parser = RequestParser::new();
    let mut qbuf = QueryBufferCron::new();
    loop {
        if !c.run_buffered(&mut rd, &mut parser, &mut buf).await || c.flush().await.is_err() {
            break;
        }
        if buf.len() > c.svc.query_buffer_limit() {
            tracing::warn!("Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})", c.client.id, c.client.addr, String::from_utf8_lossy(&buf[..buf.len().min(64)]));
            break;
        }
        // An emptied buffer gets its whole allocation back (no copy when no request still
        // holds a part of it), as Redis's query buffer keeps its size between reads; one
        // trimmed while idle stays small until data comes (the first read then grows it).
        let room = if buf.is_empty() { 16 * 1024 } else { 4096 };
        if buf.capacity() - buf.len() < room && !qbuf.idle_trimmed {
            buf.reserve(16 * 1024);
        }
        qbuf.cron(&mut buf, parser.bulk_pending());
        c.client.meta.lock().set_query_buffer(&buf);
        let wasting = buf.capacity() - buf.len() > QBUF_WASTE;
        let idle_trim = async {
            if wasting {
                tokio::time::sleep(QBUF_IDLE).await
            } else {
                std::future::pending().await
            }
        };
        let idle = c.svc.idle_timeout(&c.sess);
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
                    qbuf.peak = qbuf.peak.max(buf.len());
                    qbuf.idle_trimmed = false;
                    // While they run, the commands read are still in the query buffer, as
                    // Redis's CLIENT LIST shows them (`qbuf=26` for its own request).
                    c.client.meta.lock().set_query_buffer(&buf);
                    let st = c.svc.net_stats();
                    st.input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    st.reads.fetch_add(1, Ordering::Relaxed);
                }
            },
            m = rx.recv() => match m {
                Some(m) => if write_pushes(&mut c.wr, m, &mut rx, &c.client).await.is_err() { break },
                None => break,
            },
            _ = c.client.kill_notify.notified() => break,
            _ = idle_trim => {
                // Idle: the query buffer's free room goes back (all of it when empty).
                buf = trimmed(&buf, buf.len());
                qbuf.idle_trimmed = true;
                c.client.meta.lock().set_query_buffer(&buf);
                continue;
            }
            _ = idle_sleep => {
                tracing::debug!("Closing idle client id={}", c.client.id);
                break;
            }
        }
        if c.client.is_killed() {
            break;
        }
    }
    c.svc.close(&mut c.sess);
    c.svc.registry().unregister(c.client.id);
}
