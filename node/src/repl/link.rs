//! The replica side: one task keeps the link to the configured master. It connects, runs the
//! handshake exactly as Redis sends it (PING; AUTH, REPLCONF listening-port / ip-address /
//! capa pipelined; PSYNC), loads a full snapshot (`$<len>` or `$EOF:<mark>`) or continues from
//! its cached history, then applies the master's stream without replying, proxies the applied
//! bytes verbatim to its own backlog and replicas, and ACKs once a second and on GETACK.
//! REPLICAOF bumps the link generation and wakes the task, which drops the old link.

use crate::clock::now_ms;
use crate::state::repl::{LinkState, MasterLink};
use crate::state::replay::Replay;
use crate::state::{Node, NodeState, Session};
use bytes::{Bytes, BytesMut};
use picket::resp::{Limits, Reply, RequestParser};
use picket::server::ClientKind;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

type LinkResult<T> = Result<T, String>;

/// Points this node at a master (REPLICAOF host port, the `replicaof` directive).
pub fn set_master(node: &Node, st: &mut NodeState, host: &str, port: u16) {
    // A master becoming a replica, or a replica that was in sync, offers its history to the
    // new master; one that never synced keeps what it had.
    if !matches!(&st.repl.master, Some(m) if m.state != LinkState::Connected) {
        st.repl.cached = Some((st.replid.clone(), st.repl.offset));
    }
    drop_master_client(node, st);
    st.fencing.clear();
    st.repl.generation += 1;
    st.ks.is_replica = true;
    st.stream.replica = true;
    st.repl.master = Some(MasterLink {
        host: host.to_string(),
        port,
        state: LinkState::Connect,
        generation: st.repl.generation,
        last_io: None,
        down_since: None,
        read_reploff: None,
        reploff: None,
        sync_bytes: (0, 0),
        sync_last_io: None,
        client: None,
    });
    let _ = st.config.set_str("replicaof", &format!("{host} {port}"));
    tracing::info!("Connecting to MASTER {host}:{port}");
    node.repl_gen.send_replace(st.repl.generation);
}

/// REPLICAOF NO ONE: this replica becomes a master; its history stays valid as replid2.
pub fn promote(node: &Node, st: &mut NodeState) {
    if st.repl.master.is_none() {
        return;
    }
    drop_master_client(node, st);
    st.repl.master = None;
    st.repl.generation += 1;
    st.repl.cached = None;
    st.ks.is_replica = false;
    st.stream.replica = false;
    // A master expires every key itself.
    st.ks.replica_local_expires.clear();
    super::shift_replid(st);
    // The replicas reconnect and continue through replid2.
    for r in st.repl.replicas.drain(..) {
        r.client.kill();
    }
    st.repl.no_replicas_since = Instant::now();
    if st.repl.backlog.is_none() {
        super::create_backlog(st);
    }
    st.stream.reset_select();
    let _ = st.config.set_str("replicaof", "");
    node.repl_gen.send_replace(st.repl.generation);
}

fn drop_master_client(node: &Node, st: &mut NodeState) {
    if let Some(m) = st.repl.master.as_mut() {
        if let Some(c) = m.client.take() {
            c.kill();
            node.registry.unregister(c.id);
        }
    }
}

/// Keeps the link to the configured master for as long as the process runs.
pub async fn supervise(node: Arc<Node>, replay: Arc<dyn Replay>) {
    let mut gen_rx = node.repl_gen.subscribe();
    loop {
        gen_rx.borrow_and_update();
        let target = {
            let st = node.state.lock();
            st.repl
                .master
                .as_ref()
                .map(|m| (m.host.clone(), m.port, m.generation))
        };
        let Some((host, port, gen)) = target else {
            let _ = gen_rx.changed().await;
            continue;
        };
        if node.loading.is_loading() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let mut link = Link {
            node: node.clone(),
            replay: replay.clone(),
            gen,
            sess: None,
            multi_raw: Vec::new(),
        };
        let res = tokio::select! {
            r = link.run(&host, port) => r,
            _ = gen_rx.changed() => Ok(()),
        };
        if let Err(e) = &res {
            tracing::warn!("{e}");
        }
        link.close();
        {
            let mut st = node.state.lock();
            if let Some(m) = st.repl.master.as_mut().filter(|m| m.generation == gen) {
                if m.state == LinkState::Connected {
                    m.down_since = Some(Instant::now());
                    st.repl.cached = Some((st.replid.clone(), st.repl.offset));
                    tracing::info!("Caching the disconnected master state.");
                }
                if let Some(m) = st.repl.master.as_mut() {
                    m.state = LinkState::Connect;
                    if let Some(c) = m.client.take() {
                        node.registry.unregister(c.id);
                    }
                }
            }
        }
        // Reconnect once a second, or at once when REPLICAOF changed the master.
        if node.state.lock().repl.generation != gen {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = gen_rx.changed() => {}
        }
    }
}

/// The socket to the master with its read buffer.
struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    buf: BytesMut,
    timeout: Duration,
}

impl Conn {
    async fn fill(&mut self) -> LinkResult<usize> {
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        match tokio::time::timeout(self.timeout, self.rd.read_buf(&mut self.buf)).await {
            Err(_) => Err("Timeout connecting to the MASTER...".into()),
            Ok(Err(e)) => Err(format!("Error condition on socket for SYNC: {e}")),
            Ok(Ok(0)) => Err("Error condition on socket for SYNC: Connection reset by peer".into()),
            Ok(Ok(n)) => Ok(n),
        }
    }

    /// One reply line without its CRLF (an empty string for a `\n` keepalive).
    async fn line(&mut self) -> LinkResult<String> {
        loop {
            if let Some(p) = self.buf.iter().position(|b| *b == b'\n') {
                let l = self.buf.split_to(p + 1);
                let s = String::from_utf8_lossy(&l[..p]);
                return Ok(s.trim_end_matches('\r').to_string());
            }
            if self.buf.len() > 64 * 1024 {
                return Err("Master sent a line that is too long".into());
            }
            self.fill().await?;
        }
    }

    /// The next line that is not a keepalive.
    async fn reply(&mut self) -> LinkResult<String> {
        loop {
            let l = self.line().await?;
            if !l.is_empty() {
                return Ok(l);
            }
        }
    }

    async fn send(&mut self, argv: &[&[u8]]) -> LinkResult<()> {
        let mut buf = Vec::new();
        let args: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        crate::state::stream::encode_command(&mut buf, &args);
        self.wr
            .write_all(&buf)
            .await
            .map_err(|e| format!("Error writing to MASTER: {e}"))
    }
}

struct Link {
    node: Arc<Node>,
    /// Runs the master's commands (the command layer, handed down from main).
    replay: Arc<dyn Replay>,
    gen: u64,
    /// The master client's session, while streaming.
    sess: Option<Session>,
    /// Applied commands of a MULTI whose EXEC has not arrived: they enter the offset, the
    /// backlog and the sub-replicas together with it.
    multi_raw: Vec<u8>,
}

impl Link {
    /// Runs `f` on the state if this link is still the configured one.
    fn with_state<T>(&self, f: impl FnOnce(&mut NodeState) -> T) -> LinkResult<T> {
        let mut st = self.node.state.lock();
        match &st.repl.master {
            Some(m) if m.generation == self.gen => Ok(f(&mut st)),
            _ => Err("Replication link replaced".into()),
        }
    }

    fn set_state(&self, s: LinkState) -> LinkResult<()> {
        self.with_state(|st| {
            if let Some(m) = st.repl.master.as_mut() {
                m.state = s;
            }
        })
    }

    fn close(&mut self) {
        if let Some(mut sess) = self.sess.take() {
            self.replay.end_session(&self.node, &mut sess);
            self.node.registry.unregister(sess.client.id);
        }
    }

    async fn run(&mut self, host: &str, port: u16) -> LinkResult<()> {
        let (timeout, auth, user, announce_port, announce_ip, my_port) = {
            let st = self.node.state.lock();
            let c = &st.config;
            (
                Duration::from_secs(c.get_i64("repl-timeout").max(1) as u64),
                c.get("masterauth").to_string(),
                c.get("masteruser").to_string(),
                c.get_i64("replica-announce-port"),
                c.get("replica-announce-ip").to_string(),
                c.get_i64("port"),
            )
        };
        self.set_state(LinkState::Connecting)?;
        tracing::info!("MASTER <-> REPLICA sync started");
        let source = self
            .node
            .state
            .lock()
            .config
            .get("bind-source-addr")
            .to_string();
        let stream = tokio::time::timeout(timeout, connect_master(host, port, &source))
            .await
            .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
            .map_err(|e| format!("Unable to connect to MASTER: {e}"))?;
        let _ = stream.set_nodelay(true);
        let laddr = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let (rd, wr) = stream.into_split();
        let mut c = Conn {
            rd,
            wr,
            buf: BytesMut::with_capacity(64 * 1024),
            timeout,
        };
        tracing::info!("Non blocking connect for SYNC fired the event.");
        self.set_state(LinkState::Handshake)?;
        c.send(&[b"PING"]).await?;
        let pong = c.reply().await?;
        let pong_ok = pong.starts_with('+')
            || pong.starts_with("-NOAUTH")
            || pong.starts_with("-NOPERM")
            || pong.starts_with("-ERR operation not permitted");
        if !pong_ok {
            return Err(format!("Error reply to PING from master: '{pong}'"));
        }
        tracing::info!("Master replied to PING, replication can continue...");
        // AUTH and the REPLCONFs go in one burst; the replies are read in order.
        let listening = if announce_port > 0 {
            announce_port
        } else {
            my_port
        }
        .to_string();
        if !auth.is_empty() {
            if user.is_empty() {
                c.send(&[b"AUTH", auth.as_bytes()]).await?;
            } else {
                c.send(&[b"AUTH", user.as_bytes(), auth.as_bytes()]).await?;
            }
        }
        c.send(&[b"REPLCONF", b"listening-port", listening.as_bytes()])
            .await?;
        if !announce_ip.is_empty() {
            c.send(&[b"REPLCONF", b"ip-address", announce_ip.as_bytes()])
                .await?;
        }
        c.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
            .await?;
        if !auth.is_empty() {
            let r = c.reply().await?;
            if r.starts_with('-') {
                return Err(format!("Unable to AUTH to MASTER: {r}"));
            }
        }
        let r = c.reply().await?;
        if r.starts_with('-') {
            tracing::info!(
                "(Non critical) Master does not understand REPLCONF listening-port: {r}"
            );
        }
        if !announce_ip.is_empty() {
            let r = c.reply().await?;
            if r.starts_with('-') {
                tracing::info!(
                    "(Non critical) Master does not understand REPLCONF ip-address: {r}"
                );
            }
        }
        let r = c.reply().await?;
        if r.starts_with('-') {
            tracing::info!("(Non critical) Master does not understand REPLCONF capa: {r}");
        }
        // PSYNC with the cached history, or `? -1`.
        // During FAILOVER this node asks its target to take over.
        let (cached, failing_over) = self.with_state(|st| {
            let f = st.repl.failover.state == crate::state::repl::FailoverState::InProgress;
            (st.repl.cached.clone(), f)
        })?;
        match &cached {
            Some((id, off)) => {
                let next = (off + 1).to_string();
                tracing::info!("Trying a partial resynchronization (request {id}:{next}).");
                if failing_over {
                    c.send(&[b"PSYNC", id.as_bytes(), next.as_bytes(), b"FAILOVER"])
                        .await?;
                } else {
                    c.send(&[b"PSYNC", id.as_bytes(), next.as_bytes()]).await?;
                }
            }
            None => {
                tracing::info!("Partial resynchronization not possible (no cached master)");
                c.send(&[b"PSYNC", b"?", b"-1"]).await?;
            }
        }
        let r = c.reply().await?;
        if failing_over {
            self.end_failover(&r)?;
        }
        let client_addr = format!("{host}:{port}");
        if let Some(rest) = r.strip_prefix("+FULLRESYNC") {
            let mut w = rest.split_whitespace();
            let id = w.next().unwrap_or("").to_string();
            let off: u64 = w.next().and_then(|o| o.parse().ok()).unwrap_or(0);
            tracing::info!("Full resync from master: {id}:{off}");
            self.full_sync(&mut c, id, off).await?;
        } else if let Some(rest) = r.strip_prefix("+CONTINUE") {
            let new_id = rest.trim().to_string();
            tracing::info!("Successful partial resynchronization with master.");
            self.continue_sync(new_id, cached)?;
        } else if r.starts_with("-NOMASTERLINK") || r.starts_with("-LOADING") {
            return Err(format!(
                "Master is currently unable to PSYNC but should be in the future: {r}"
            ));
        } else {
            return Err(format!("Unexpected reply to PSYNC from master: {r}"));
        }
        let partial = r.starts_with("+CONTINUE");
        self.start_session(&client_addr, &laddr, partial)?;
        tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization or finished a full one; streaming.");
        self.stream(&mut c).await
    }

    /// The reply to PSYNC ... FAILOVER: the target took over (the failover is done), or it
    /// refused (this node is a master again).
    fn end_failover(&mut self, reply: &str) -> LinkResult<()> {
        let node = self.node.clone();
        let took_over = reply.starts_with("+CONTINUE") || reply.starts_with("+FULLRESYNC");
        self.with_state(|st| {
            if took_over {
                super::failover::clear(&node, st);
            } else {
                super::failover::abort(&node, st, "Failover target rejected psync request");
            }
        })?;
        if took_over {
            Ok(())
        } else {
            Err(format!("Failover target rejected psync request: {reply}"))
        }
    }

    /// `+FULLRESYNC`: reads the payload in either framing and installs it.
    async fn full_sync(&mut self, c: &mut Conn, id: String, off: u64) -> LinkResult<()> {
        self.set_state(LinkState::Sync)?;
        let head = c.reply().await?;
        if head.starts_with('-') {
            return Err(format!("MASTER aborted replication with an error: {head}"));
        }
        let Some(spec) = head.strip_prefix('$') else {
            return Err(format!(
                "Bad protocol from MASTER, the first byte is not '$' (we received '{head}'), are you sure the host and port are right?"
            ));
        };
        let mark = spec.strip_prefix("EOF:").map(|m| m.as_bytes().to_vec());
        let total: i64 = match &mark {
            Some(_) => -1,
            None => spec
                .parse()
                .map_err(|_| format!("Bad payload length from MASTER: {spec}"))?,
        };
        match &mark {
            Some(_) => tracing::info!(
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to memory"
            ),
            None => tracing::info!(
                "MASTER <-> REPLICA sync: receiving {total} bytes from master to memory"
            ),
        }
        // The snapshot is parsed on a blocking thread while it arrives; a transfer cut short
        // ends the parser's input early and nothing of it is installed.
        let (dbs, lim, lru) = {
            let st = self.node.state.lock();
            (st.ks.dbs.len(), st.ks.enc, st.ks.lru.initial())
        };
        let (tx, rx) = std::sync::mpsc::channel::<Bytes>();
        let parser = tokio::task::spawn_blocking(move || {
            crate::persistence::rdb_file::read_rdb_stream(ChunkReader::new(rx), dbs, &lim, lru)
        });
        let mut received: u64 = 0;
        let mut last_report = Instant::now();
        // With an EOF mark, the last bytes seen may be the mark: they are held back.
        let mut held = BytesMut::new();
        loop {
            let done = match &mark {
                Some(m) => {
                    held.extend_from_slice(&c.buf);
                    c.buf.clear();
                    if held.len() >= m.len() && held.ends_with(m) {
                        held.truncate(held.len() - m.len());
                        let chunk = held.split().freeze();
                        received += chunk.len() as u64;
                        let _ = tx.send(chunk);
                        true
                    } else {
                        let keep = m.len().min(held.len());
                        let chunk = held.split_to(held.len() - keep).freeze();
                        received += chunk.len() as u64;
                        if !chunk.is_empty() && tx.send(chunk).is_err() {
                            break;
                        }
                        false
                    }
                }
                None => {
                    let want = (total as u64 - received) as usize;
                    let chunk = c.buf.split_to(want.min(c.buf.len())).freeze();
                    received += chunk.len() as u64;
                    if !chunk.is_empty() && tx.send(chunk).is_err() {
                        break;
                    }
                    received == total as u64
                }
            };
            if done {
                break;
            }
            if last_report.elapsed() >= Duration::from_millis(200) {
                last_report = Instant::now();
                self.with_state(|st| {
                    if let Some(m) = st.repl.master.as_mut() {
                        m.sync_bytes = (total, received);
                        m.sync_last_io = Some(Instant::now());
                    }
                })?;
            }
            if c.buf.capacity() < 1 << 20 {
                c.buf.reserve(1 << 20);
            }
            c.fill().await?;
        }
        drop(tx);
        tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
        let loaded = parser
            .await
            .map_err(|e| format!("Failed trying to load the MASTER synchronization DB: {e}"))?
            .map_err(|e| {
                format!("Failed trying to load the MASTER synchronization DB from socket: {e}")
            })?;
        let usemark = mark.is_some();
        self.with_state(|st| {
            tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
            // The sub-replicas must resync from the new history.
            for r in st.repl.replicas.drain(..) {
                r.client.kill();
            }
            crate::persistence::rdb_file::install(st, loaded);
            // The keys this replica's clients gave a TTL went with the old dataset.
            st.ks.replica_local_expires.clear();
            st.dirty += 1;
            st.replid = if id.len() == 40 { id } else { "0".repeat(40) };
            super::clear_replid2(st);
            st.repl.offset = off;
            super::create_backlog(st);
            st.repl.cached = None;
            if let Some(m) = st.repl.master.as_mut() {
                m.read_reploff = Some(off);
                m.reploff = Some(off);
            }
            // The AOF restarts from the new dataset, in the background, as Redis restarts it
            // after a sync: until its first base is written, the old files stay listed.
            if crate::persistence::aof::enabled(st) {
                crate::persistence::aof::stop(st);
                crate::persistence::aof::turn_on(&self.node, st);
            }
            tracing::info!("MASTER <-> REPLICA sync: Finished with success");
        })?;
        if usemark {
            // The master holds the stream until this first ACK.
            let off = off.to_string();
            c.send(&[b"REPLCONF", b"ACK", off.as_bytes()]).await?;
        }
        Ok(())
    }

    /// `+CONTINUE [<new id>]`: keeps the data; a new id shifts the history.
    fn continue_sync(&mut self, new_id: String, cached: Option<(String, u64)>) -> LinkResult<()> {
        self.with_state(|st| {
            let (old_id, off) = cached.unwrap_or_else(|| (st.replid.clone(), st.repl.offset));
            st.replid = old_id.clone();
            st.repl.offset = off;
            if !new_id.is_empty() && new_id != old_id {
                st.replid2 = old_id;
                st.repl.second_offset = off as i64 + 1;
                st.replid = new_id;
                tracing::info!("Master replication ID changed to {}", st.replid);
                for r in st.repl.replicas.drain(..) {
                    r.client.kill();
                }
            }
            if st.repl.backlog.is_none() {
                super::create_backlog(st);
            }
            st.repl.cached = None;
            if let Some(m) = st.repl.master.as_mut() {
                m.read_reploff = Some(off);
                m.reploff = Some(off);
            }
        })
    }

    /// Creates the master client (CLIENT LIST flags=M) and marks the link up.
    /// A continued stream goes on in the db the previous one had selected (the master sends
    /// no SELECT for it); a full resync's stream starts with one.
    fn start_session(&mut self, addr: &str, laddr: &str, partial: bool) -> LinkResult<()> {
        let (client, _rx) =
            self.node
                .registry
                .register(addr.to_string(), laddr.to_string(), -1, true);
        client.set_kind(ClientKind::Master);
        let mut sess = Session::new(client.clone());
        sess.authenticated = true;
        sess.repl.is_master = true;
        sess.db = self.with_state(|st| {
            if !partial {
                st.repl.master_db = 0;
            }
            st.repl.master_db
        })?;
        self.with_state(|st| {
            if let Some(m) = st.repl.master.as_mut() {
                m.state = LinkState::Connected;
                m.down_since = None;
                m.last_io = Some(Instant::now());
                m.client = Some(client.clone());
            }
        })?;
        self.sess = Some(sess);
        Ok(())
    }

    /// Applies the master's stream until the link breaks; ACKs every second.
    async fn stream(&mut self, c: &mut Conn) -> LinkResult<()> {
        let mut parser = RequestParser::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let kill = self
            .sess
            .as_ref()
            .map(|s| s.client.clone())
            .ok_or("no master session")?;
        loop {
            // Bytes that arrived with the payload or the PSYNC reply first.
            if !c.buf.is_empty() {
                let (ack, more) = self.apply(&mut parser, &mut c.buf)?;
                if let Some(off) = ack {
                    let off = off.to_string();
                    c.send(&[b"REPLCONF", b"ACK", off.as_bytes()]).await?;
                }
                // The clients' tasks run between two slices of the stream (the runtime may
                // have one worker thread): a replica catching up on megabytes of backlog
                // keeps answering them.
                tokio::task::yield_now().await;
                if more {
                    continue;
                }
            }
            if c.buf.capacity() - c.buf.len() < 16 * 1024 {
                c.buf.reserve(64 * 1024);
            }
            tokio::select! {
                r = tokio::time::timeout(c.timeout, c.rd.read_buf(&mut c.buf)) => match r {
                    Err(_) => return Err("MASTER timeout: no data nor PING received...".into()),
                    Ok(Ok(0)) | Ok(Err(_)) => return Err("Connection with master lost.".into()),
                    Ok(Ok(n)) => {
                        self.with_state(|st| {
                            if let Some(m) = st.repl.master.as_mut() {
                                m.last_io = Some(Instant::now());
                                m.read_reploff = Some(m.read_reploff.unwrap_or(0) + n as u64);
                            }
                        })?;
                    }
                },
                _ = tick.tick() => {
                    let off = self.with_state(|st| st.repl.offset)?.to_string();
                    c.send(&[b"REPLCONF", b"ACK", off.as_bytes()]).await?;
                }
                _ = kill.kill_notify.notified() => return Err("Connection with master lost (killed).".into()),
            }
        }
    }

    /// Runs the complete commands in `buf`, at most [`APPLY_SLICE`] while holding the lock;
    /// returns the offset to ACK if the master asked with REPLCONF GETACK (the offset before
    /// that command), and whether commands may be left.
    fn apply(
        &mut self,
        parser: &mut RequestParser,
        buf: &mut BytesMut,
    ) -> LinkResult<(Option<u64>, bool)> {
        let node = self.node.clone();
        let replay = self.replay.clone();
        let sess = self.sess.as_mut().ok_or("no master session")?;
        let mut st = node.state.lock();
        if !matches!(&st.repl.master, Some(m) if m.generation == self.gen) {
            return Err("Replication link replaced".into());
        }
        let limits = Limits {
            proto_max_bulk_len: i64::MAX,
            unauthenticated: false,
        };
        let now = now_ms();
        let mut out = Reply::new(false);
        let mut ack = None;
        let pending = &mut self.multi_raw;
        st.stream.suppress = true;
        st.ks.applying_master = true;
        let mut budget = APPLY_SLICE;
        let res = loop {
            if budget == 0 {
                break Ok(true);
            }
            budget -= 1;
            let req = match parser.parse(buf, limits) {
                Ok(Some(r)) => r,
                Ok(None) => break Ok(false),
                Err(e) => break Err(format!("Protocol error from MASTER: {}", e.0)),
            };
            if req.empty_line || req.args.is_empty() {
                continue;
            }
            let before = st.repl.offset + st.stream.buffer.len() as u64;
            crate::state::stream::encode_command(pending, &req.args);
            replay.run(&node, &mut st, sess, &req.args, &mut out, now);
            if !out.buf.is_empty() && out.buf[0] == b'-' && sess.multi.is_none() {
                tracing::warn!(
                    "== CRITICAL == This replica is sending an error to its master: '{}' after processing the command '{}'",
                    String::from_utf8_lossy(&out.buf[1..]).trim_end(),
                    String::from_utf8_lossy(&req.args[0])
                );
            }
            out.buf.clear();
            out.errors.clear();
            if std::mem::take(&mut sess.repl.getack) {
                ack = Some(before);
            }
            // Inside MULTI the offset moves only at EXEC, as Redis counts it.
            if sess.multi.is_none() && !pending.is_empty() {
                st.stream.buffer.extend_from_slice(pending);
                pending.clear();
            }
        };
        st.stream.suppress = false;
        st.ks.applying_master = false;
        st.repl.master_db = sess.db;
        crate::propagate::flush(&mut st);
        let off = st.repl.offset;
        if let Some(m) = st.repl.master.as_mut() {
            m.reploff = Some(off);
        }
        res.map(|more| (ack, more))
    }
}

/// Commands of the master's stream applied per hold of the lock.
const APPLY_SLICE: usize = 2048;

/// The snapshot's bytes as they arrive, for the RDB reader on its own thread.
struct ChunkReader {
    rx: std::sync::mpsc::Receiver<Bytes>,
    cur: Bytes,
}

impl ChunkReader {
    fn new(rx: std::sync::mpsc::Receiver<Bytes>) -> Self {
        ChunkReader {
            rx,
            cur: Bytes::new(),
        }
    }
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.cur = b,
                // The link closed before the end: the reader sees a short file.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        bytes::Buf::advance(&mut self.cur, n);
        Ok(n)
    }
}

/// Connects to the master, from `bind-source-addr` when it is set (the replica's outgoing
/// address, as Redis binds it before connecting).
async fn connect_master(host: &str, port: u16, source: &str) -> std::io::Result<TcpStream> {
    if source.is_empty() {
        return TcpStream::connect((host, port)).await;
    }
    let src: std::net::IpAddr = source
        .parse()
        .map_err(|_| std::io::Error::other(format!("invalid bind-source-addr {source}")))?;
    let mut last = std::io::Error::other("no address for the master");
    for addr in tokio::net::lookup_host((host, port)).await? {
        if addr.is_ipv4() != src.is_ipv4() {
            continue;
        }
        let sock = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        sock.bind(std::net::SocketAddr::new(src, 0))?;
        match sock.connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}
