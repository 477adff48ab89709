//! The client-facing side of picket-sentinel: the command set Redis Sentinel 7.0 accepts
//! (PING, AUTH, HELLO, CLIENT, COMMAND, INFO, ROLE, SUBSCRIBE family, PUBLISH of hellos,
//! SHUTDOWN, ACL WHOAMI, SENTINEL ...); everything else is an unknown command, as in Redis.

use crate::state::{SentinelNode, Session};
use bytes::Bytes;
use picket::args::{eq_ic, lower, unknown_command, wrong_args};
use picket::info::{InfoBuilder, InfoSelection, ServerFields, StatsFields};
use picket::resp::{Limits, Reply, Request};
use picket::server::{ClientHandle, ClientRegistry, Control, NetStats, Service};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Service for SentinelNode {
    type Session = Session;

    fn registry(&self) -> &ClientRegistry {
        &self.registry
    }

    fn net_stats(&self) -> &NetStats {
        &self.net
    }

    fn admit(&self, _peer: Option<&SocketAddr>) -> Result<(), String> {
        if self.registry.count() >= 10_000 {
            return Err("ERR max number of clients reached".into());
        }
        Ok(())
    }

    fn starts_authenticated(&self) -> bool {
        self.requirepass.is_none()
    }

    fn open(&self, client: Arc<ClientHandle>) -> Session {
        Session::new(client)
    }

    fn execute(&self, sess: &mut Session, reqs: &mut Vec<Request>, out: &mut Reply) -> Control {
        let mut done = 0;
        let mut control = Control::Continue;
        for req in reqs.iter() {
            if req.args.is_empty() {
                done += 1;
                continue;
            }
            // CLIENT PAUSE holds every command (ALL) or PUBLISH (WRITE) until it ends.
            let writes = eq_ic(&req.args[0], "publish");
            if let Some(until) = self.state.lock().pause.holds(writes) {
                control = Control::Suspend {
                    wake: self.pause_notify.clone(),
                    deadline: Some(until),
                };
                break;
            }
            done += 1;
            out.resp3 = sess.client.resp3();
            let mark = out.buf.len();
            let skip_this = std::mem::take(&mut sess.reply_skip_next);
            execute_one(self, sess, &req.args, out);
            if sess.reply_off || skip_this {
                out.buf.truncate(mark);
            }
            if sess.close {
                control = Control::Close;
                break;
            }
        }
        reqs.drain(..done);
        control
    }

    fn close(&self, sess: &mut Session) {
        let mut st = self.state.lock();
        st.pubsub.drop_client(sess.client.id, &mut sess.subs);
    }

    fn limits(&self, sess: &Session) -> Limits {
        Limits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: !sess.authenticated,
        }
    }

    fn query_buffer_limit(&self) -> usize {
        1 << 30
    }

    fn idle_timeout(&self, _sess: &Session) -> Option<Duration> {
        None
    }

    fn client<'a>(&self, sess: &'a Session) -> &'a Arc<ClientHandle> {
        &sess.client
    }
}

fn execute_one(node: &SentinelNode, sess: &mut Session, a: &[Bytes], out: &mut Reply) {
    let name = lower(&a[0]);
    let Some(cmd) = crate::commands::lookup(&name) else {
        return out.error(&unknown_command(a));
    };
    if let Err(e) = crate::commands::check_arity(cmd, a) {
        return out.error(&e);
    }
    {
        let mut m = sess.client.meta.lock();
        m.last_interaction = Instant::now();
    }
    if !sess.authenticated && !matches!(name.as_str(), "auth" | "hello") {
        return out.error("NOAUTH Authentication required.");
    }
    if !sess.client.resp3()
        && sess.subs.count() > 0
        && !picket::pubsub::allowed_when_subscribed(&name)
    {
        return out.error(&picket::pubsub::subscribed_context_error(&name));
    }
    match name.as_str() {
        "ping" => {
            if a.len() > 2 {
                return out.error(&wrong_args("ping"));
            }
            if !sess.client.resp3() && sess.subs.count() > 0 {
                out.array(2);
                out.bulk(b"pong");
                out.bulk(a.get(1).map(|b| &b[..]).unwrap_or(b""));
            } else if let Some(m) = a.get(1) {
                out.bulk(m);
            } else {
                out.simple("PONG");
            }
        }
        "auth" => auth(node, sess, a, out),
        "hello" => hello(node, sess, a, out),
        "acl" => {
            if !eq_ic(&a[1], "whoami") {
                out.error(&picket::args::unknown_subcommand("acl", &a[1]));
            } else if a.len() != 2 {
                out.error(&wrong_args("acl|whoami"));
            } else {
                out.bulk(b"default");
            }
        }
        "client" => client(node, sess, a, out),
        "command" => crate::commands::command(a, out),
        "info" => {
            let args: Vec<&[u8]> = a[1..].iter().map(|b| &b[..]).collect();
            let text = info_text(node, &InfoSelection::from_args(&args));
            // Sentinel answers INFO with a plain bulk string, even in RESP3.
            out.bulk(text.as_bytes());
        }
        "role" => {
            let st = node.state.lock();
            out.array(2);
            out.bulk(b"sentinel");
            out.array(st.core.masters.len());
            for n in st.core.masters.keys() {
                out.bulk(n.as_bytes());
            }
        }
        "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe" => {
            let mut st = node.state.lock();
            let pattern = name.starts_with('p');
            if name.contains("unsub") {
                st.pubsub
                    .unsubscribe(&sess.client, &mut sess.subs, &a[1..], pattern, out);
            } else {
                st.pubsub
                    .subscribe(&sess.client, &mut sess.subs, &a[1..], pattern, out);
            }
        }
        "publish" => {
            if &a[1][..] != crate::core::HELLO_CHANNEL.as_bytes() {
                return out.error("ERR Only HELLO messages are accepted by Sentinel instances.");
            }
            let mut st = node.state.lock();
            let now = crate::clock::clock_ms();
            st.core.process_hello(&String::from_utf8_lossy(&a[2]), now);
            let actions = st.core.take_actions();
            crate::runtime::dispatch(node, &mut st, actions);
            out.int(1);
        }
        "shutdown" => {
            if let Err(e) = shutdown_args(&a[1..]) {
                return out.error(e);
            }
            tracing::warn!("User requested shutdown...");
            sess.close = true;
            node.shutdown.notify_one();
        }
        "sentinel" => crate::sentinel_cmd::sentinel(node, sess, a, out),
        _ => out.error(&unknown_command(a)),
    }
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT], checked as Redis checks them; a sentinel
/// has no shutdown to abort and nothing to save, so valid options all shut down at once.
fn shutdown_args(a: &[Bytes]) -> Result<(), &'static str> {
    let (mut save, mut nosave, mut other, mut abort) = (false, false, false, false);
    for x in a {
        match lower(x).as_str() {
            "save" => save = true,
            "nosave" => nosave = true,
            "now" | "force" => other = true,
            "abort" => abort = true,
            _ => return Err(picket::args::ERR_SYNTAX),
        }
    }
    if (abort && (save || nosave || other)) || (save && nosave) {
        return Err(picket::args::ERR_SYNTAX);
    }
    if abort {
        return Err("ERR No shutdown in progress.");
    }
    Ok(())
}

fn auth(node: &SentinelNode, sess: &mut Session, a: &[Bytes], out: &mut Reply) {
    if a.len() > 3 {
        return out.error(picket::args::ERR_SYNTAX);
    }
    let Some(pass) = &node.requirepass else {
        return out.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    };
    let (user, given) = if a.len() == 2 {
        (&b"default"[..], &a[1][..])
    } else {
        (&a[1][..], &a[2][..])
    };
    if user == b"default" && given == pass.as_bytes() {
        sess.authenticated = true;
        sess.client.meta.lock().authenticated = true;
        out.ok();
    } else {
        out.error("WRONGPASS invalid username-password pair or user is disabled.");
    }
}

fn hello(node: &SentinelNode, sess: &mut Session, a: &[Bytes], out: &mut Reply) {
    let mut ver = None;
    if a.len() >= 2 {
        match picket::args::int_arg(&a[1]) {
            Ok(v) if (2..=3).contains(&v) => ver = Some(v),
            Ok(_) => return out.error("NOPROTO unsupported protocol version"),
            Err(_) => return out.error("ERR Protocol version is not an integer or out of range"),
        }
    }
    let mut i = 2;
    while i < a.len() {
        if eq_ic(&a[i], "auth") && i + 2 < a.len() {
            let ok = a[i + 1][..] == *b"default"
                && node
                    .requirepass
                    .as_deref()
                    .map(|p| p.as_bytes() == &a[i + 2][..])
                    .unwrap_or(true);
            if !ok {
                return out.error("WRONGPASS invalid username-password pair or user is disabled.");
            }
            sess.authenticated = true;
            i += 3;
        } else if eq_ic(&a[i], "setname") && i + 1 < a.len() {
            sess.client.meta.lock().name = a[i + 1].clone();
            i += 2;
        } else {
            return out.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&a[i])
            ));
        }
    }
    if !sess.authenticated {
        return out.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(v) = ver {
        sess.client.set_resp3(v == 3);
        out.resp3 = v == 3;
    }
    out.map(6);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(picket::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if sess.client.resp3() { 3 } else { 2 });
    out.bulk(b"id");
    out.int(sess.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"sentinel");
    out.bulk(b"modules");
    out.array(0);
}

/// CLIENT: the shared implementation (PAUSE and REPLY are node features and are refused here).
fn client(node: &SentinelNode, sess: &mut Session, a: &[Bytes], out: &mut Reply) {
    use picket::server::client_cmd::{client_command, ClientAction, ReplyMode};
    match client_command(&node.registry, &sess.client, a, out) {
        ClientAction::None => {}
        ClientAction::CloseSelf => sess.close = true,
        ClientAction::Pause { ms, write_only } => {
            node.state.lock().pause.pause(ms, write_only);
            out.ok()
        }
        ClientAction::Unpause => {
            node.state.lock().pause.until = None;
            node.pause_notify.notify_waiters();
            out.ok()
        }
        ClientAction::Reply(ReplyMode::On) => {
            sess.reply_off = false;
            out.ok()
        }
        ClientAction::Reply(ReplyMode::Off) => sess.reply_off = true,
        ClientAction::Reply(ReplyMode::Skip) => sess.reply_skip_next = !sess.reply_off,
        // A sentinel never blocks a client.
        ClientAction::Unblock { .. } => out.int(0),
        ClientAction::Unhandled => out.error(&picket::args::unknown_subcommand("client", &a[1])),
    }
}

/// INFO for a sentinel: server, clients, cpu, stats and sentinel sections only.
pub fn info_text(node: &SentinelNode, sel: &InfoSelection) -> String {
    let st = node.state.lock();
    let mut b = InfoBuilder::default();
    let up = node.started.elapsed().as_secs();
    if sel.wants("server", true) {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        b.server_section(&ServerFields {
            mode: "sentinel",
            run_id: &st.run_id,
            tcp_port: node.port,
            uptime_secs: up,
            hz: "10",
            lru_clock: 0,
            executable: &exe,
            config_file: &st.config_path.display().to_string(),
        });
    }
    if sel.wants("clients", true) {
        b.clients_section(node.registry.count(), "10000", 0);
    }
    if sel.wants("stats", true) {
        let net = &node.net;
        b.stats_section(&StatsFields {
            total_connections_received: node
                .registry
                .total_connections
                .load(std::sync::atomic::Ordering::Relaxed),
            total_net_input_bytes: net.input_bytes.load(std::sync::atomic::Ordering::Relaxed),
            total_net_output_bytes: net.output_bytes.load(std::sync::atomic::Ordering::Relaxed),
            rejected_connections: node
                .registry
                .rejected_connections
                .load(std::sync::atomic::Ordering::Relaxed),
            pubsub_channels: st.pubsub.num_channels() as u64,
            pubsub_patterns: st.pubsub.numpat() as u64,
            total_reads_processed: net.reads.load(std::sync::atomic::Ordering::Relaxed),
            total_writes_processed: net.writes.load(std::sync::atomic::Ordering::Relaxed),
            ..Default::default()
        });
    }
    if sel.wants("cpu", true) {
        b.cpu_section();
    }
    if sel.wants("sentinel", true) {
        let c = &st.core;
        let mut lines = vec![
            format!("sentinel_masters:{}", c.masters.len()),
            format!("sentinel_tilt:{}", c.tilt as u8),
            format!(
                "sentinel_tilt_since_seconds:{}",
                if c.tilt {
                    (crate::clock::clock_ms().saturating_sub(c.tilt_start) / 1000) as i64
                } else {
                    -1
                }
            ),
            format!("sentinel_running_scripts:{}", st.scripts.running()),
            format!(
                "sentinel_scripts_queue_length:{}",
                st.scripts.jobs.len() - st.scripts.running()
            ),
            format!("sentinel_simulate_failure_flags:{}", c.simfailure),
        ];
        for (i, (name, m)) in c.masters.iter().enumerate() {
            let status = if m.o_down {
                "odown"
            } else if m.inst.s_down {
                "sdown"
            } else {
                "ok"
            };
            let (h, p) = c.announced_addr(name).unwrap_or_default();
            lines.push(format!(
                "master{i}:name={name},status={status},address={},slaves={},sentinels={}",
                picket_addr(&h, p),
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
        b.section_lines("Sentinel", &lines);
    }
    b.text
}

fn picket_addr(h: &str, p: u16) -> String {
    crate::core::addr_name(h, p)
}
