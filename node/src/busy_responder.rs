//! Answers other clients while a script is busy.
//!
//! A script runs on the thread that serves the connections, so while it runs no connection
//! task does. Past `busy-reply-threshold` the script's hook starts this responder: a thread
//! that polls the other clients' sockets (and accepts new ones), takes the complete requests waiting there, and
//! answers them as Redis answers during a busy script (`-BUSY`, SCRIPT KILL, FUNCTION KILL,
//! SHUTDOWN NOSAVE; [`crate::cmd::scripting::busy_batch`]). It stops, and touches no socket
//! again, before the script's caller goes on, so each connection's own task then finds its
//! socket as if it had read those requests itself.
//!
//! What a client does to its transaction meanwhile (MULTI, DISCARD, EXEC, commands refused
//! inside MULTI) is recorded in its handle for its session to apply. A client whose task
//! holds state of its own is left to wait for the script: one with unread bytes or unsent
//! replies in its buffers (a reply would overtake them), a blocked client, one that has not
//! authenticated, replicas and the master link.

use crate::cmd::scripting::{busy_batch, busy_batch_of};
use crate::state::Node;
use bytes::BytesMut;
use parking_lot::Mutex;
use picket::resp::{Limits, Reply, Request, RequestParser};
use picket::server::{BusyTransaction, ClientHandle, ClientKind, Control};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one poll waits, and the pause after a round that found nothing complete.
const POLL_MS: i32 = 10;
/// At most this much of a client's input is looked at per round.
const PEEK_BYTES: usize = 64 * 1024;

pub struct BusyResponder {
    node: Weak<Node>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl BusyResponder {
    /// Hands a responder for `node` to its script state.
    pub fn install(node: &Arc<Node>) {
        let r = Arc::new(BusyResponder {
            node: Arc::downgrade(node),
            stop: Arc::new(AtomicBool::new(false)),
            thread: Mutex::new(None),
        });
        node.script_busy.set_responder(r);
    }
}

impl crate::script::busy::Responder for BusyResponder {
    fn start(&self, running_client: u64) {
        let Some(node) = self.node.upgrade() else {
            return;
        };
        self.stop.store(false, Ordering::SeqCst);
        let stop = self.stop.clone();
        let t = std::thread::Builder::new()
            .name("busy-responder".into())
            .spawn(move || serve(&node, running_client, &stop));
        if let Ok(t) = t {
            *self.thread.lock() = Some(t);
        }
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

/// Whether the responder may answer `c` without overtaking anything its own task holds.
fn answerable(c: &ClientHandle, running: u64) -> bool {
    if c.id == running || c.fd < 0 || c.pending_bytes() != 0 || c.is_killed() {
        return false;
    }
    if !matches!(c.kind(), ClientKind::Normal | ClientKind::Pubsub) {
        return false;
    }
    let m = c.meta.lock();
    m.qbuf == 0 && !m.blocked && m.authenticated && !m.monitor
}

/// One socket the responder watches.
enum Watched {
    Listener,
    /// A registered client's socket.
    Client(Arc<ClientHandle>),
    /// A connection accepted while busy (by its index in `adopted`).
    Adopted(usize),
}

fn serve(node: &Node, running: u64, stop: &AtomicBool) {
    // Connections accepted while busy, served here until the script ends.
    let mut adopted: Vec<(std::net::TcpStream, BusyTransaction)> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let mut watched: Vec<(i32, Watched)> = node
            .listen_fds
            .lock()
            .iter()
            .map(|&fd| (fd, Watched::Listener))
            .collect();
        for c in node.registry.all() {
            if answerable(&c, running) {
                watched.push((c.fd as i32, Watched::Client(c)));
            }
        }
        for (i, (s, _)) in adopted.iter().enumerate() {
            watched.push((s.as_raw_fd(), Watched::Adopted(i)));
        }
        let mut fds: Vec<libc::pollfd> = watched
            .iter()
            .map(|(fd, _)| libc::pollfd {
                fd: *fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd entries for the call's length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, POLL_MS) };
        let mut progress = false;
        let mut closed = Vec::new();
        if n > 0 {
            for (pfd, (fd, what)) in fds.iter().zip(&watched) {
                if pfd.revents & libc::POLLIN == 0 || stop.load(Ordering::SeqCst) {
                    continue;
                }
                progress |= match what {
                    Watched::Listener => accept(*fd, &mut adopted),
                    Watched::Client(c) => answer(node, *fd, c.resp3(), |reqs, out| {
                        let loading = node.loading.is_loading();
                        let control = busy_batch_of(&node.script_busy, loading, c, reqs, out);
                        if matches!(control, Control::Close) {
                            c.kill();
                        }
                    }),
                    Watched::Adopted(i) => answer(node, *fd, false, |reqs, out| {
                        let tx = &mut adopted[*i].1;
                        let loading = node.loading.is_loading();
                        if matches!(
                            busy_batch(&node.script_busy, loading, tx, reqs, out),
                            Control::Close
                        ) {
                            closed.push(*i);
                        }
                    }),
                };
            }
        }
        // Adopted connections that sent QUIT are closed (in reverse order: indexes stay valid).
        closed.sort_unstable();
        for i in closed.into_iter().rev() {
            adopted.remove(i);
        }
        if !progress && n != 0 {
            // Readable but nothing complete (a partial request, a closed peer): wait for more.
            std::thread::sleep(Duration::from_millis(POLL_MS as u64));
        }
    }
    // The runtime serves them from here on.
    if let Some(swap) = node.listener_swap.lock().as_ref() {
        for (s, _) in adopted {
            let _ = swap.send(picket::server::ListenerMsg::Adopt(s));
        }
    }
}

/// Accepts one connection on the listening socket `fd`.
fn accept(fd: i32, adopted: &mut Vec<(std::net::TcpStream, BusyTransaction)>) -> bool {
    // SAFETY: null address arguments are allowed; the flags make the new socket non-blocking.
    let c = unsafe {
        libc::accept4(
            fd,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if c < 0 {
        return false;
    }
    // SAFETY: `c` is a socket just accepted, owned by nothing else.
    let stream = unsafe { std::net::TcpStream::from_raw_fd(c) };
    adopted.push((stream, BusyTransaction::default()));
    true
}

/// Takes the complete requests waiting on socket `fd` and writes the replies `run` gives
/// them. True when it took any.
fn answer(
    node: &Node,
    fd: i32,
    resp3: bool,
    run: impl FnOnce(&mut Vec<Request>, &mut Reply),
) -> bool {
    let mut peek = vec![0u8; PEEK_BYTES];
    // SAFETY: `peek` is writable for its length; MSG_PEEK leaves the bytes in the socket.
    let n = unsafe {
        libc::recv(
            fd,
            peek.as_mut_ptr().cast(),
            peek.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n <= 0 {
        return false;
    }
    let n = n as usize;
    let mut buf = BytesMut::from(&peek[..n]);
    let mut parser = RequestParser::new();
    let mut reqs = Vec::new();
    let mut consumed = 0;
    while let Ok(Some(r)) = parser.parse(&mut buf, Limits::default()) {
        consumed = n - buf.len();
        if !r.empty_line {
            reqs.push(r);
        }
    }
    if consumed == 0 {
        return false;
    }
    // SAFETY: `peek` holds at least `consumed` bytes of room; these bytes were just peeked.
    let taken = unsafe { libc::recv(fd, peek.as_mut_ptr().cast(), consumed, libc::MSG_DONTWAIT) };
    if taken != consumed as isize {
        return false;
    }
    node.net
        .input_bytes
        .fetch_add(consumed as u64, Ordering::Relaxed);
    let mut out = Reply::new(resp3);
    run(&mut reqs, &mut out);
    write_all(fd, &out.buf);
    node.net
        .output_bytes
        .fetch_add(out.buf.len() as u64, Ordering::Relaxed);
    true
}

/// Writes `data` to the non-blocking socket `fd`, waiting for room up to a second.
fn write_all(fd: i32, mut data: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while !data.is_empty() && Instant::now() < deadline {
        // SAFETY: `data` is readable for its length.
        let n = unsafe {
            libc::send(
                fd,
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n > 0 {
            data = &data[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock
        {
            std::thread::sleep(Duration::from_millis(1));
        } else {
            return;
        }
    }
}
