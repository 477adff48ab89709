//! The command table and the executor. Every command is described once ([`Command`]: name,
//! arity, flags, key positions, handler); dispatch, arity errors, COMMAND INFO/DOCS, MULTI
//! queueing, the subscribed-context rule, CLIENT PAUSE, OOM rejection, MONITOR feeding and
//! propagation all read that one table.

pub mod bitfield;
pub mod bitmaps;
pub mod blocking;
pub mod cluster;
pub mod coll;
pub mod config;
pub mod connection;
pub mod debug;
pub mod dump;
pub mod expire;
pub mod failover;
pub mod fencing;
pub mod functions;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod info;
pub mod keys;
pub mod latency;
pub mod lists;
pub mod memory;
pub mod migrate;
pub mod multi;
pub mod psync;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod slowlog;
pub mod sort;
pub mod strings;
pub mod table;
pub mod tracking;
pub mod zranges;
pub mod zsetops;
pub mod zsets;

use crate::clock::now_ms;
use crate::state::{Node, NodeState, Session};
use bytes::Bytes;
use picket::args::lower;
use picket::args::ArgError;
use picket::resp::{Reply, Request};
use picket::server::Control;
use std::sync::Arc;
use std::time::Instant;

pub use table::command_table;

pub type Handler = fn(&mut Ctx, &[Bytes]);

pub use picket::command::flags;

/// One command (or subcommand) of the node's table: Redis's metadata joined with its handler.
pub type Command = picket::command::Command<Handler>;

/// What a handler works with.
pub struct Ctx<'a> {
    pub node: &'a Node,
    pub st: &'a mut NodeState,
    pub sess: &'a mut Session,
    pub out: &'a mut Reply,
    /// The time of this command, ms since the epoch (one value for a whole command, as Redis
    /// caches the time for a command's duration).
    pub now: i64,
    pub cmd: &'static Command,
    /// The command's arguments (the handler's own `args`; a block keeps them for the slow log).
    pub args: &'a [Bytes],
}

impl Ctx<'_> {
    pub fn db(&self) -> usize {
        self.sess.db
    }

    /// Records a write for replication and the AOF.
    pub fn propagate(&mut self, argv: Vec<Bytes>) {
        let db = self.sess.db;
        self.st.stream.push(db, argv);
    }

    /// Propagates the command exactly as it was received.
    pub fn propagate_as_is(&mut self, args: &[Bytes]) {
        if !self.st.stream.enabled {
            self.st.stream.commands += 1;
            return;
        }
        self.propagate(args.to_vec());
    }

    /// Sends keyspace event `event` of `class` about `key` in this client's database.
    #[inline]
    pub fn notify(&mut self, class: u16, event: &str, key: &[u8]) {
        self.st.notify(class, event, self.sess.db, key);
    }

    pub fn dirty(&mut self, n: u64) {
        self.st.dirty += n;
    }

    /// What a parse of the arguments produced, or `None` after replying its error.
    pub fn parsed<T>(&mut self, r: Result<T, ArgError>) -> Option<T> {
        r.map_err(|e| self.out.error(&e)).ok()
    }
}

/// The resolved command for `args`, or the error to reply.
fn lookup(args: &[Bytes]) -> Result<&'static Command, String> {
    command_table().resolve(args)
}

/// Whether this command must wait for CLIENT PAUSE. EXEC waits in WRITE mode when one of its
/// queued commands would.
/// A script's declared flags stand for the command's own (see [`scripting::declared_flags`]).
fn paused_for(
    st: &NodeState,
    sess: &Session,
    cmd: &Command,
    name: &str,
    args: &[Bytes],
) -> Option<Instant> {
    let queued = match (&sess.multi, name) {
        (Some(m), "exec") => m.flags_any | if m.pauses { flags::WRITE } else { 0 },
        _ => 0,
    };
    let own = match scripting::declared_flags(st, cmd.flags, cmd.name, args) {
        Some(declared) => declared & flags::WRITE != 0,
        None => cmd.flags & (flags::WRITE | flags::MAY_REPLICATE) != 0 || pauses_as_write(name),
    };
    let writes = own || queued & (flags::WRITE | flags::MAY_REPLICATE) != 0;
    st.pause.holds(writes)
}

/// Commands that CLIENT PAUSE WRITE holds though they are not writes: they may replicate.
pub fn pauses_as_write(name: &str) -> bool {
    matches!(name, "publish" | "eval" | "evalsha" | "fcall")
}

/// Runs as many requests as possible from the front of `reqs`.
pub fn execute_batch(
    node: &Node,
    sess: &mut Session,
    reqs: &mut Vec<Request>,
    out: &mut Reply,
) -> Control {
    if sess.blocked.is_some() {
        if let Some(c) = blocking::resume(node, sess, reqs, out) {
            return c;
        }
    }
    out.limit = normal_output_limit(node, sess);
    if node.script_busy.is_busy() {
        let loading = node.loading.is_loading();
        return scripting::busy_batch_of(&node.script_busy, loading, &sess.client, reqs, out);
    }
    let mut st = node.state.lock();
    if sess.paused {
        sess.paused = false;
        st.paused_clients -= 1;
    }
    if st.pause.active() {
        st.refresh_expiry_pause();
    }
    let mut done = 0;
    let mut control = Control::Continue;
    // One clock read per batch: Redis also caches the time for the commands of an event.
    let now = now_ms();
    let busy_tx = {
        let mut meta = sess.client.meta.lock();
        meta.last_interaction = Instant::now();
        meta.busy_tx.take()
    };
    if let Some(tx) = busy_tx {
        scripting::apply_busy_transaction(&mut st, sess, tx);
    }
    for req in reqs.iter() {
        let args = &req.args;
        if args.is_empty() {
            done += 1;
            continue;
        }
        // CLIENT PAUSE: wait before running (the client is not in MULTI queueing).
        if st.pause.active() && (sess.multi.is_none() || lower(&args[0]) == "exec") {
            if let Ok(cmd) = lookup(args) {
                if let Some(until) = paused_for(&st, sess, cmd, &lower(&args[0]), args) {
                    sess.paused = true;
                    st.paused_clients += 1;
                    control = Control::Suspend {
                        wake: node.pause_notify.clone(),
                        deadline: Some(until),
                    };
                    break;
                }
            }
        }
        done += 1;
        run_one(node, &mut st, sess, args, out, now);
        if let Some(b) = &sess.blocked {
            // The blocking command stays at the front until it is served or times out.
            done -= 1;
            control = blocking::suspend(b);
            break;
        }
        if sess.close_after_reply {
            control = Control::Close;
            break;
        }
        if out.over_limit() {
            break;
        }
    }
    reqs.drain(..done);
    // The AOF gets the batch's writes before its replies leave (fsynced first with `always`).
    // Replicas get it at the same point.
    if !st.stream.buffer.is_empty() {
        crate::propagate::flush(&mut st);
    }
    if sess.fence.is_some() {
        fencing::after_batch(&mut st, sess);
    }
    // The AOF could not be written: nothing of this batch is acknowledged, and main exits.
    if st.fatal.is_some() {
        drop(st);
        out.buf.clear();
        node.shutdown_notify.notify_one();
        return Control::Close;
    }
    // Over the output limit: closed at once, nothing of the batch's replies sent, as Redis
    // closes the client ASAP.
    if out.over_limit() {
        drop(st);
        tracing::warn!(
            "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
            sess.client.id,
            sess.client.addr
        );
        out.buf.clear();
        reqs.clear();
        return Control::Close;
    }
    // Only the client that ran SHUTDOWN closes here; replicas stay connected while the
    // process waits for them to catch up.
    if st.shutdown.is_some() && sess.close_after_reply {
        drop(st);
        node.shutdown_notify.notify_one();
        return Control::Close;
    }
    control
}

/// The hard output limit of a normal client (`client-output-buffer-limit normal`); 0 for the
/// classes whose output goes elsewhere (replicas, the master link) or none.
fn normal_output_limit(node: &Node, sess: &Session) -> usize {
    if sess.repl.is_replica || sess.repl.is_master || sess.subs.count() > 0 {
        return 0;
    }
    node.hot.read().obuf_normal.hard
}

/// Runs one command through every check of the table.
pub fn run_one(
    node: &Node,
    st: &mut NodeState,
    sess: &mut Session,
    args: &[Bytes],
    out: &mut Reply,
    now: i64,
) {
    let mark = out.buf.len();
    let dirty = st.dirty;
    let was_replica = sess.repl.is_replica;
    sess.reply_skip = std::mem::take(&mut sess.reply_skip_next);
    run_checked(node, st, sess, args, out, now);
    // A reply on a replica's link would corrupt its stream: Redis drops the replica instead.
    if was_replica && out.buf.len() > mark {
        let name = lookup(args).map(|c| c.name).unwrap_or("<unknown>");
        if out.buf[mark] == b'-' {
            let text = String::from_utf8_lossy(&out.buf[mark + 1..]);
            let text = text.trim_end();
            tracing::warn!(
                "== CRITICAL == This master is sending an error to its replica: '{text}' after processing the command '{name}'"
            );
        }
        out.buf.truncate(mark);
        tracing::warn!(
            "Replica generated a reply to command '{name}', disconnecting it: {}",
            sess.client.info_line()
        );
        sess.client.kill();
        return;
    }
    if st.settings.fencing {
        fencing::after_command(st, sess, out, mark, dirty);
    }
    // Suppressed replies, except the (un)subscribe confirmations, which Redis 7 sends as pushes.
    // (CLIENT REPLY ON run as the skipped command clears the skip: its OK is sent.)
    if (sess.reply_off || std::mem::take(&mut sess.reply_skip))
        && !picket::pubsub::confirms_with_push(&args[0])
    {
        out.buf.truncate(mark);
    }
    if !st.tracking.clients.is_empty() || !sess.tracking_pending.is_empty() {
        tracking::after_command(node, st, sess, args, out);
    }
}

fn run_checked(
    node: &Node,
    st: &mut NodeState,
    sess: &mut Session,
    args: &[Bytes],
    out: &mut Reply,
    now: i64,
) {
    st.stats.commands_processed += 1;
    let cmd = match command_table().resolve_cached(&mut sess.last_command, args) {
        Ok(c) => c,
        Err(e) => {
            if let Some(m) = sess.multi.as_mut() {
                m.error = true;
            }
            // A command (or subcommand) that exists failed only its arity: that counts as its
            // rejected call.
            if let Some(c) = command_table().named(args) {
                st.stats.command(c.id, c.name).rejected += 1;
            }
            out.error(&e);
            let errs = out.take_errors();
            st.stats.record_errors(errs);
            return;
        }
    };
    let name = cmd.name;
    {
        sess.client.meta.lock().last_cmd = name;
    }
    let checked = check(node, st, sess, cmd, name, args);
    if !st.tracking.clients.is_empty() {
        tracking::before_command(node, st, sess, out);
    }
    if let Err(e) = checked {
        if cmd.name == "exec" && sess.multi.is_some() {
            // EXEC refused by the server's state: the transaction is discarded.
            multi::discard_state(st, sess);
            out.error(&format!("EXECABORT Transaction discarded because of: {e}"));
        } else {
            if let Some(m) = sess.multi.as_mut() {
                m.error = true;
            }
            out.error(&e);
        }
        let errs = out.take_errors();
        st.stats.record_errors(errs);
        st.stats.command(cmd.id, name).rejected += 1;
        return;
    }
    // Inside MULTI everything but the transaction-control commands is queued.
    if sess.multi.is_some()
        && !matches!(
            cmd.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
    {
        let declared = scripting::declared_flags(st, cmd.flags, cmd.name, args);
        multi::queue(sess, cmd, declared, args, out);
        return;
    }
    // Scripts skip the monitor's usual feed, but are shown before the commands they run.
    let monitored = !st.monitors.is_empty()
        && !cmd.has(flags::ADMIN)
        && (!cmd.has(flags::SKIP_MONITOR) || scripting::runs_script(cmd.name));
    // EXEC is shown after the commands it ran, as Redis 7 shows it.
    if monitored && cmd.name != "exec" {
        feed_monitors(st, sess, args);
    }
    let us = call(node, st, sess, cmd, name, args, out, now);
    log_if_slow(st, sess, cmd, args, us);
    if monitored && cmd.name == "exec" {
        feed_monitors(st, sess, args);
    }
    if !st.ks.ready.is_empty() {
        // The clock is read again: a key that expired while the command ran (a DEBUG SLEEP in
        // an EXEC) does not serve a blocked client, as in Redis.
        blocking::serve(st, now_ms());
    }
}

/// Records a command that ran for `duration_us` in the slow log when it is slow enough (and
/// not one Redis keeps out of it).
pub fn log_if_slow(st: &mut NodeState, sess: &Session, cmd: &Command, args: &[Bytes], us: u64) {
    if cmd.has(flags::SKIP_SLOWLOG) || sess.blocked.is_some() {
        return;
    }
    let limits = st.settings.slowlog;
    st.slowlog
        .record(limits, args, us, || client_of(&sess.client));
}

/// A client's address and name, as the slow log shows them.
pub fn client_of(c: &picket::server::ClientHandle) -> (String, Bytes) {
    let name = Bytes::copy_from_slice(&c.meta.lock().name);
    (c.addr.to_string(), name)
}

/// Executes a resolved command and does the bookkeeping: stats, errors, propagation. Returns
/// how long it ran, in microseconds.
#[allow(clippy::too_many_arguments)]
pub fn call(
    node: &Node,
    st: &mut NodeState,
    sess: &mut Session,
    cmd: &'static Command,
    name: &'static str,
    args: &[Bytes],
    out: &mut Reply,
    now: i64,
) -> u64 {
    // The TSC clock: a command's duration costs a few ns to take, where the system clock's
    // two reads were 7% of a GET's time.
    let started = quanta::Instant::now();
    let errors_before = out.errors.len();
    let stream_before = st.stream.buffer.len();
    {
        let mut ctx = Ctx {
            node,
            st: &mut *st,
            sess: &mut *sess,
            out: &mut *out,
            now,
            cmd,
            args,
        };
        (cmd.handler)(&mut ctx, args);
    }
    // Keys that expired while the command ran are propagated as DEL before its own effects.
    crate::propagate::expired_dels(st);
    if !st.ks.changes.is_empty() {
        tracking::after_call(node, st, sess);
    }
    if tracking::remembers(cmd) && !st.tracking.clients.is_empty() && !sess.in_script {
        tracking::remember(st, sess, cmd, args);
    }
    if cmd.name != "exec" {
        st.stream.commit(false);
    }
    if st.stream.buffer.len() > stream_before {
        // WAIT waits for the replicas to have this client's last write.
        sess.repl.woff = st.repl.offset + st.stream.buffer.len() as u64;
    }
    let failed = out.errors.len() > errors_before;
    if !out.errors.is_empty() {
        let errs = out.take_errors();
        st.stats.record_errors(errs);
    }
    let latency_tracking = st.settings.latency_tracking;
    let s = st.stats.command(cmd.id, name);
    let ns = started.elapsed().as_nanos() as u64;
    let us = ns / 1000;
    s.calls += 1;
    s.usec += us;
    if latency_tracking {
        s.record_ns(ns.max(1));
        s.record_percentile_ns(ns.max(1));
    }
    if failed {
        s.failed += 1;
    }
    let event = if cmd.has(flags::FAST) {
        "fast-command"
    } else {
        "command"
    };
    st.latency
        .record(st.settings.latency_threshold, event, us / 1000, now / 1000);
    us
}

/// The checks Redis makes before running a command, in Redis's order.
fn check(
    node: &Node,
    st: &mut NodeState,
    sess: &mut Session,
    cmd: &Command,
    name: &str,
    args: &[Bytes],
) -> Result<(), String> {
    if !sess.authenticated && !cmd.has(flags::NO_AUTH) {
        return Err("NOAUTH Authentication required.".into());
    }
    if sess.multi.is_some() && cmd.has(flags::NO_MULTI) && cmd.name != "multi" {
        return Err("ERR Command not allowed inside a transaction".to_string());
    }
    if !sess.client.resp3()
        && sess.subs.count() > 0
        && !picket::pubsub::allowed_when_subscribed(cmd.name)
    {
        return Err(picket::pubsub::subscribed_context_error(name));
    }
    if sess.repl.is_replica
        && cmd.flags & (flags::WRITE | flags::READONLY | flags::MAY_REPLICATE) != 0
    {
        return Err("ERR Replica can't interact with the keyspace".into());
    }
    let _ = args;
    // The master's stream is applied whatever the replica's own settings say.
    if sess.repl.is_master {
        return Ok(());
    }
    // EXEC is checked with its queued commands' flags, as Redis does: as a write when one of
    // them writes, refused on a stale replica when one of them would be.
    let (any, missing) = match (&sess.multi, cmd.name) {
        (Some(m), "exec") => (cmd.flags | m.flags_any, m.flags_missing),
        _ => (cmd.flags, 0),
    };
    let has = |f: u32| any & f != 0;
    let denied = |f: u32| !cmd.has(f) || missing & f != 0;
    if st.repl.link_down() && denied(flags::STALE) && !st.settings.replica_serve_stale_data {
        return Err(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
                .into(),
        );
    }
    if denied(flags::LOADING) && node.loading.is_loading() {
        return Err("LOADING Redis is loading the dataset in memory".into());
    }
    if (has(flags::WRITE) || cmd.name == "ping")
        && crate::persistence::savepoints::refuses_writes(st)
    {
        return Err(crate::persistence::savepoints::MISCONF.into());
    }
    if has(flags::WRITE) {
        if st.repl.is_replica() && st.settings.replica_read_only {
            return Err("READONLY You can't write against a read only replica.".into());
        }
        let min = st.settings.min_replicas_to_write;
        let lag = st.settings.min_replicas_max_lag;
        if min > 0
            && lag > 0
            && !st.repl.is_replica()
            && (st.repl.good_replicas(lag as u64) as i64) < min
        {
            return Err("NOREPLICAS Not enough good replicas to write.".into());
        }
        if st.settings.fencing && fencing::refuses_writes(st) {
            return Err(fencing::NO_LEASE.into());
        }
    }
    // Over maxmemory, every command evicts first (its evictions' invalidations precede its
    // reply); only deny-oom ones, and anything queued in MULTI, are refused when that fails.
    let maxmemory = st.settings.maxmemory;
    if maxmemory > 0 && crate::alloc::used_memory() as u64 > maxmemory {
        let hot = node.hot.read().clone();
        let queueing =
            sess.multi.is_some() && !matches!(cmd.name, "exec" | "discard" | "quit" | "reset");
        if !crate::evict::perform_evictions(st, &hot) && (has(flags::DENYOOM) || queueing) {
            return Err("OOM command not allowed when used memory > 'maxmemory'.".into());
        }
    }
    Ok(())
}

fn feed_monitors(st: &mut NodeState, sess: &Session, args: &[Bytes]) {
    feed_monitors_as(st, sess.db, &sess.client.addr, args)
}

/// A MONITOR line for a command run by `who` (a client's address, or `lua` for a script's).
fn feed_monitors_as(st: &mut NodeState, db: usize, who: &str, args: &[Bytes]) {
    let now = crate::clock::now_us();
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        now / 1_000_000,
        now % 1_000_000,
        db,
        who
    );
    for a in crate::state::slowlog::redact(args).iter() {
        line.push(' ');
        line.push_str(&picket::resp::repr(a));
    }
    line.push_str("\r\n");
    let msg = Bytes::from(line);
    let limit = picket::server::OutputLimit::default();
    st.monitors.retain(|m| !m.is_killed());
    for m in &st.monitors {
        m.send(msg.clone(), limit);
    }
}

/// Shared handle type for connection-level helpers.
pub type ClientRef = Arc<picket::server::ClientHandle>;

/// A session ends (its connection closed, or the replica link's master session dropped): its
/// subscriptions, WATCHes, block, MONITOR and replica registration go with it.
pub fn close_session(node: &Node, sess: &mut Session) {
    let mut st = node.state.lock();
    let id = sess.client.id;
    if sess.paused {
        sess.paused = false;
        st.paused_clients -= 1;
    }
    st.pubsub.drop_client(id, &mut sess.subs);
    tracking::disable(&mut st, id);
    multi::unwatch_all(&mut st, sess);
    blocking::on_close(&mut st, sess);
    if sess.monitor {
        st.monitors.retain(|m| m.id != id);
    }
    if sess.repl.is_replica {
        crate::repl::master::detach(&mut st, id);
    }
}

/// The command executor as the lower layers see it ([`crate::state::replay::Replay`]): the AOF's
/// replay and the replica's stream run their commands through [`run_one`].
pub struct Executor;

impl crate::state::replay::Replay for Executor {
    fn run(
        &self,
        node: &Node,
        st: &mut NodeState,
        sess: &mut Session,
        argv: &[Bytes],
        out: &mut Reply,
        now_ms: i64,
    ) {
        run_one(node, st, sess, argv, out, now_ms);
    }

    fn end_session(&self, node: &Node, sess: &mut Session) {
        close_session(node, sess);
    }

    fn knows(&self, name: &[u8]) -> bool {
        command_table().get(name).is_some()
    }
}

picket::command_program!(
    /// The node as the shared COMMAND handlers see it.
    NodeProgram,
    Ctx,
    Handler,
    command_table
);
