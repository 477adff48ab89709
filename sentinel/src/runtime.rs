//! The tokio side of the sentinel: the driver task that ticks the core at a randomised 10–19 Hz
//! and feeds it what the links report, the link tasks (one TCP connection each), and the
//! execution of the core's actions (connect, send, close, publish, persist, scripts).

use crate::core::{Action, Frame, Input, Level, LinkId, Tag};
use crate::state::{LinkCmd, SentinelNode};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

fn encode(argv: &[Bytes], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for a in argv {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn convert(f: redis_protocol::resp2::types::BytesFrame) -> Frame {
    use redis_protocol::resp2::types::BytesFrame as B;
    match f {
        B::SimpleString(s) => Frame::Simple(String::from_utf8_lossy(&s).into_owned()),
        B::Error(e) => Frame::Error(e.to_string()),
        B::Integer(i) => Frame::Int(i),
        B::BulkString(b) => Frame::Bulk(Some(b)),
        B::Null => Frame::Bulk(None),
        B::Array(v) => Frame::Array(Some(v.into_iter().map(convert).collect())),
    }
}

/// One outgoing connection: sends the handshake, reports Connected, then forwards commands and
/// reports replies (command link) or hello messages (pub/sub link) until either side closes.
async fn link_task(
    link: LinkId,
    host: String,
    port: u16,
    pubsub: bool,
    handshake: Vec<Vec<Bytes>>,
    events: mpsc::UnboundedSender<Input>,
    mut cmds: mpsc::UnboundedReceiver<LinkCmd>,
) {
    let conn = tokio::time::timeout(
        Duration::from_millis(1000),
        TcpStream::connect((host.as_str(), port)),
    )
    .await;
    let stream = match conn {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(
                "-{}-link-reconnection {}:{} #{}",
                if pubsub { "pubsub" } else { "cmd" },
                host,
                port,
                e
            );
            let _ = events.send(Input::Disconnected { link });
            return;
        }
        Err(_) => {
            let _ = events.send(Input::Disconnected { link });
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let local_ip = stream
        .local_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let (mut rd, mut wr) = stream.into_split();
    let mut tags: VecDeque<Tag> = VecDeque::new();
    let mut out = Vec::new();
    for h in &handshake {
        encode(h, &mut out);
        tags.push_back(Tag::Ignore);
    }
    if wr.write_all(&out).await.is_err() {
        let _ = events.send(Input::Disconnected { link });
        return;
    }
    let _ = events.send(Input::Connected { link, local_ip });
    // On the Pub/Sub link, the replies to the handshake before its SUBSCRIBE (AUTH, CLIENT
    // SETNAME) are ordinary replies; any other error closes the link.
    let mut regular_replies = handshake.len().saturating_sub(1);
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        tokio::select! {
            c = cmds.recv() => match c {
                None => return, // closed by the core
                Some((argv, tag)) => {
                    let mut out = Vec::new();
                    encode(&argv, &mut out);
                    // Pipeline whatever else is queued.
                    let mut pending = vec![tag];
                    while let Ok((a, t)) = cmds.try_recv() {
                        encode(&a, &mut out);
                        pending.push(t);
                    }
                    tags.extend(pending);
                    if wr.write_all(&out).await.is_err() {
                        break;
                    }
                }
            },
            r = rd.read_buf(&mut buf) => {
                match r {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                loop {
                    match redis_protocol::resp2::decode::decode_bytes_mut(&mut buf) {
                        Ok(Some((frame, _, _))) => {
                            let frame = convert(frame);
                            let kept = if pubsub {
                                pubsub_frame(link, frame, &mut regular_replies, &events)
                            } else {
                                let tag = tags.pop_front().unwrap_or(Tag::Ignore);
                                if tag != Tag::Ignore {
                                    let _ = events.send(Input::Reply { link, tag, frame });
                                }
                                true
                            };
                            if !kept {
                                let _ = events.send(Input::Disconnected { link });
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            let _ = events.send(Input::Disconnected { link });
                            return;
                        }
                    }
                }
            }
        }
    }
    let _ = events.send(Input::Disconnected { link });
}

/// One frame on a Pub/Sub link: hello messages go to the core. False when the link must
/// close: an error that answers no ordinary command (the SUBSCRIBE refused with -NOAUTH by
/// a master whose password this sentinel lacks), as hiredis drops such a connection, so the
/// instance shows `disconnected` until a reconnect succeeds.
fn pubsub_frame(
    link: LinkId,
    frame: Frame,
    regular_replies: &mut usize,
    events: &mpsc::UnboundedSender<Input>,
) -> bool {
    match frame {
        Frame::Array(Some(items)) => {
            if let [Frame::Bulk(Some(kind)), Frame::Bulk(Some(ch)), Frame::Bulk(Some(payload))] =
                &items[..]
            {
                if &kind[..] == b"message" {
                    let _ = events.send(Input::Message {
                        link,
                        channel: ch.clone(),
                        payload: payload.clone(),
                    });
                }
            }
            true
        }
        _ if *regular_replies > 0 => {
            *regular_replies -= 1;
            true
        }
        Frame::Error(_) => false,
        _ => true,
    }
}

/// Carries out the core's actions. Called with the state lock held. Returns the error of
/// writing the configuration, if it was to be written and could not be (`strerror` text).
pub fn dispatch(
    node: &SentinelNode,
    st: &mut crate::state::SentinelState,
    actions: Vec<Action>,
) -> Result<(), String> {
    // A simulated crash: nothing more is carried out, as if the process were gone already.
    if node.exit_code().is_some() {
        return Ok(());
    }
    let mut persist = false;
    for a in actions {
        match a {
            Action::Connect {
                link,
                host,
                port,
                pubsub,
                handshake,
            } => {
                let (tx, rx) = mpsc::unbounded_channel();
                st.links.insert(link, tx);
                tokio::spawn(link_task(
                    link,
                    host,
                    port,
                    pubsub,
                    handshake,
                    node.events.clone(),
                    rx,
                ));
            }
            Action::Send { link, argv, tag } => {
                if let Some(tx) = st.links.get(&link) {
                    let _ = tx.send((argv, tag));
                }
            }
            Action::Close { link } => {
                st.links.remove(&link);
            }
            Action::Event { level, kind, text } => {
                let wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                st.history
                    .record_at(&kind, &text, crate::clock::clock_ms(), wall);
                let line = format!("{kind} {text}");
                match level {
                    Level::Debug => tracing::trace!("{}", line),
                    Level::Verbose => tracing::debug!("{}", line),
                    Level::Notice => tracing::info!("{}", line),
                    Level::Warning => tracing::warn!("{}", line),
                }
                if level != Level::Debug {
                    st.pubsub
                        .publish(kind.as_bytes(), text.as_bytes(), node.obuf_pubsub);
                }
            }
            Action::Persist => persist = true,
            Action::Script { argv } => st.scripts.queue(argv),
            Action::Exit { code } => {
                tracing::warn!("Simulated failure: exiting with code {}", code);
                node.exit_with(code);
                return Ok(());
            }
        }
    }
    if persist {
        if let Err(e) = crate::config::flush(st) {
            tracing::warn!(
                "WARNING: Sentinel was not able to save the new configuration on disk!!!: {}",
                e
            );
            return Err(picket::fsutil::strerror(&e));
        }
    }
    Ok(())
}

/// The driver: ticks at a random 10–19 Hz and hands every link report to the core.
pub async fn drive(node: Arc<SentinelNode>, mut events: mpsc::UnboundedReceiver<Input>) {
    use rand::RngExt;
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {
                let mut st = node.state.lock();
                let now = crate::clock::clock_ms();
                st.core.tick(now);
                let actions = st.core.take_actions();
                let _ = dispatch(&node, &mut st, actions);
                let timing = st.core.timing.clone();
                for o in st.scripts.poll(&timing) {
                    let (kind, text) = match o {
                        crate::scripts::Outcome::Error { path, signal, code } => ("-script-error", format!("{path} {signal} {code}")),
                        crate::scripts::Outcome::Timeout { path, pid } => ("-script-timeout", format!("{path} {pid}")),
                    };
                    tracing::warn!("{} {}", kind, text);
                    st.pubsub.publish(kind.as_bytes(), text.as_bytes(), node.obuf_pubsub);
                }
                let hz = rand::rng().random_range(10..20u64);
                next = tokio::time::Instant::now() + Duration::from_millis(1000 / hz);
            }
            ev = events.recv() => {
                let Some(ev) = ev else { return };
                let mut st = node.state.lock();
                let now = crate::clock::clock_ms();
                st.core.handle(ev, now);
                // Drain what else has arrived, then act once.
                while let Ok(ev) = events.try_recv() {
                    st.core.handle(ev, now);
                }
                let actions = st.core.take_actions();
                let _ = dispatch(&node, &mut st, actions);
            }
        }
    }
}
