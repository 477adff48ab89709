//! Listening sockets: the `bind` list (a leading `-` marks an address whose failure is
//! tolerated, `*` is every IPv4 address, `::*` every IPv6 one), `port`, and `unixsocket`.

use super::{serve_connection, Service};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UnixListener};

/// What to listen on.
#[derive(Debug, Clone)]
pub struct ListenSpec {
    pub bind: Vec<String>,
    pub port: u16,
    pub unixsocket: Option<String>,
    pub unixsocketperm: u32,
    pub tcp_keepalive: Duration,
    pub backlog: u32,
}

/// Bound sockets, ready to accept.
pub struct Listeners {
    pub tcp: Vec<TcpListener>,
    pub unix: Option<UnixListener>,
}

fn parse_bind(addr: &str) -> Option<IpAddr> {
    match addr {
        "*" => Some(IpAddr::from([0u8, 0, 0, 0])),
        "::*" => Some("::".parse().ok()?),
        a => a.parse().ok(),
    }
}

/// Binds `port` on every address of `bind` (none for port 0). A failure on an address without
/// `-` is an error with Redis's message; `strict` (CONFIG SET) refuses any unparsable address.
pub fn bind_tcp(
    bind: &[String],
    port: u16,
    backlog: u32,
    strict: bool,
) -> Result<Vec<TcpListener>, String> {
    let mut tcp = Vec::new();
    if port != 0 {
        for b in bind {
            let (optional, a) = match b.strip_prefix('-') {
                Some(a) => (true, a),
                None => (false, b.as_str()),
            };
            let Some(ip) = parse_bind(a) else {
                if optional && !strict {
                    continue;
                }
                return Err(format!(
                    "Failed listening on port {} (tcp), aborting.",
                    port
                ));
            };
            let addr = SocketAddr::new(ip, port);
            let res = (|| -> std::io::Result<TcpListener> {
                let sock = socket2::Socket::new(
                    socket2::Domain::for_address(addr),
                    socket2::Type::STREAM,
                    None,
                )?;
                sock.set_reuse_address(true)?;
                if addr.is_ipv6() {
                    sock.set_only_v6(true)?;
                }
                sock.set_nonblocking(true)?;
                sock.bind(&addr.into())?;
                sock.listen(backlog as i32)?;
                TcpListener::from_std(sock.into())
            })();
            match res {
                Ok(l) => tcp.push(l),
                Err(e) if optional => {
                    tracing::debug!("Skipping optional bind address {}: {}", a, e)
                }
                Err(e) => {
                    return Err(format!("Warning: Could not create server TCP listening socket {}:{}: {}\nFailed listening on port {} (tcp), aborting.", a, port, e, port));
                }
            }
        }
    }
    Ok(tcp)
}

/// Binds every address of the spec. A failure on an address without `-` fails start-up with
/// Redis's message.
pub fn bind_listeners(spec: &ListenSpec) -> Result<Listeners, String> {
    let tcp = bind_tcp(&spec.bind, spec.port, spec.backlog, false)?;
    let unix = match &spec.unixsocket {
        Some(p) if !p.is_empty() => {
            let _ = std::fs::remove_file(p);
            let l =
                UnixListener::bind(p).map_err(|e| format!("Failed opening Unix socket: {e}"))?;
            if spec.unixsocketperm != 0 {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(
                    p,
                    std::fs::Permissions::from_mode(spec.unixsocketperm),
                );
            }
            Some(l)
        }
        _ => None,
    };
    if tcp.is_empty() && unix.is_none() && spec.port != 0 {
        return Err(format!(
            "Failed listening on port {} (tcp), aborting.",
            spec.port
        ));
    }
    Ok(Listeners { tcp, unix })
}

async fn reject<W: AsyncWriteExt + Unpin>(mut w: W, msg: String) {
    let _ = w.write_all(format!("-{msg}\r\n").as_bytes()).await;
    let _ = w.shutdown().await;
}

/// What [`run_listeners`] is handed while it runs.
pub enum ListenerMsg {
    /// Newly bound TCP listeners (CONFIG SET port/bind); the old ones close.
    Replace(Vec<TcpListener>),
    /// A connection accepted outside the runtime (while it could not run: a busy script),
    /// to be served like one accepted here.
    Adopt(std::net::TcpStream),
}

/// Where [`ListenerMsg`]s reach [`run_listeners`].
pub type ListenerSwap = tokio::sync::mpsc::UnboundedSender<ListenerMsg>;

/// Accepts connections forever, each served on its own task. TCP listeners sent on `swap`
/// replace the current ones; connections sent on it are served.
pub async fn run_listeners<S: Service>(
    svc: Arc<S>,
    l: Listeners,
    keepalive: Duration,
    swap: Option<tokio::sync::mpsc::UnboundedReceiver<ListenerMsg>>,
) {
    let mut tcp_tasks = tokio::task::JoinSet::new();
    for t in l.tcp {
        tcp_tasks.spawn(accept_tcp(svc.clone(), t, keepalive));
    }
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(u) = l.unix {
        let svc = svc.clone();
        tasks.spawn(async move {
            loop {
                let Ok((stream, _)) = u.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let svc = svc.clone();
                let fd = stream.as_raw_fd() as i64;
                let laddr = stream
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
                    .unwrap_or_default();
                let (rd, wr) = stream.into_split();
                if let Err(e) = svc.admit(None) {
                    tokio::spawn(reject(wr, e));
                    continue;
                }
                let (h, rx) = svc.registry().register(
                    format!("{laddr}:0"),
                    format!("{laddr}:0"),
                    fd,
                    svc.starts_authenticated(),
                );
                tokio::spawn(serve_connection(svc, rd, wr, h, rx));
            }
        });
    }
    let Some(mut swap) = swap else {
        while tasks.join_next().await.is_some() {}
        std::future::pending::<()>().await;
        return;
    };
    while let Some(msg) = swap.recv().await {
        match msg {
            ListenerMsg::Replace(new) => {
                tcp_tasks.abort_all();
                for t in new {
                    tcp_tasks.spawn(accept_tcp(svc.clone(), t, keepalive));
                }
            }
            ListenerMsg::Adopt(s) => {
                let _ = s.set_nonblocking(true);
                let Ok(peer) = s.peer_addr() else { continue };
                if let Ok(stream) = tokio::net::TcpStream::from_std(s) {
                    serve_accepted(&svc, stream, peer, keepalive);
                }
            }
        }
    }
    std::future::pending::<()>().await
}

/// Accepts on one TCP listener until the task is aborted (the listener closes with it).
async fn accept_tcp<S: Service>(svc: Arc<S>, t: TcpListener, keepalive: Duration) {
    loop {
        let (stream, peer) = match t.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("Accepting client connection: {}", e);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        serve_accepted(&svc, stream, peer, keepalive);
    }
}

/// Admits, registers and serves one accepted TCP connection on its own task.
fn serve_accepted<S: Service>(
    svc: &Arc<S>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    keepalive: Duration,
) {
    let _ = stream.set_nodelay(true);
    if !keepalive.is_zero() {
        let sock = socket2::SockRef::from(&stream);
        let _ = sock.set_tcp_keepalive(
            &socket2::TcpKeepalive::new()
                .with_time(keepalive)
                .with_interval(keepalive / 3),
        );
    }
    let laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let fd = stream.as_raw_fd() as i64;
    let svc = svc.clone();
    let (rd, wr) = stream.into_split();
    // Admission and registration happen here, in accept order, so maxclients counts
    // every connection accepted before this one.
    if let Err(e) = svc.admit(Some(&peer)) {
        svc.registry()
            .rejected_connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(reject(wr, e));
        return;
    }
    let (h, rx) = svc
        .registry()
        .register(peer.to_string(), laddr, fd, svc.starts_authenticated());
    tokio::spawn(serve_connection(svc, rd, wr, h, rx));
}
