//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, and the [`ScriptHost`] through which a
//! script's `redis.call` runs commands: Redis's checks for commands called from scripts
//! (unknown, arity, `noscript`, writes from read-only scripts, READONLY replicas), the
//! caller's database kept apart from the script's SELECT, blocking commands not blocking,
//! and the script's writes propagated as its effects, wrapped in MULTI/EXEC when more than
//! one. What other clients see of a long script (`-BUSY`) is [`busy_batch`].

use super::{flags, Ctx};
use crate::script::{Host, ScriptFlags};
use crate::state::{NodeState, Session};
use bytes::Bytes;
use picket::args::eq_ic;
use picket::resp::{Reply, Request};
use picket::server::{BusyTransaction, ClientHandle, Control};

/// The caller's side of a running script.
pub struct ScriptHost<'c, 'a> {
    pub ctx: &'c mut Ctx<'a>,
    /// Writes are refused (EVAL_RO, `no-writes`).
    pub read_only: bool,
    /// The server was over `maxmemory` when the script started and the script may not use
    /// memory: its deny-oom commands are refused.
    pub oom: bool,
    pub wrote: bool,
}

impl Host for ScriptHost<'_, '_> {
    fn call(&mut self, argv: Vec<Bytes>, resp3: bool) -> Vec<u8> {
        let mut out = Reply::new(resp3);
        let cmd = match self.check(&argv) {
            Ok(c) => c,
            Err(e) => {
                // Refused before it ran: a rejected call of the command, its error counted.
                out.error(&e);
                let st = &mut *self.ctx.st;
                st.stats.record_errors(out.take_errors());
                if let Some(c) = super::command_table().named(&argv) {
                    st.stats.command(c.id, c.name).rejected += 1;
                }
                return out.buf;
            }
        };
        let ctx = &mut *self.ctx;
        if !ctx.st.monitors.is_empty() {
            super::feed_monitors_as(ctx.st, ctx.sess.db, "lua", &argv);
        }
        let dirty = ctx.st.dirty;
        super::call(
            ctx.node, ctx.st, ctx.sess, cmd, cmd.name, &argv, &mut out, ctx.now,
        );
        // A read from a script remembers the script's own keys for a tracking caller.
        if super::tracking::remembers(cmd) && !ctx.st.tracking.clients.is_empty() {
            super::tracking::remember(ctx.st, ctx.sess, ctx.cmd, ctx.args);
        }
        if cmd.has(flags::WRITE) && ctx.st.dirty != dirty {
            self.wrote = true;
            ctx.node.script_busy.set_wrote();
        }
        ctx.sess.blocked = None;
        out.buf
    }

    fn log(&mut self, level: i64, msg: &str) {
        match level {
            0 => tracing::debug!("{msg}"),
            1 | 2 => tracing::info!("{msg}"),
            _ => tracing::warn!("{msg}"),
        }
    }

    fn set_repl(&mut self, _flags: i64) {}
}

impl ScriptHost<'_, '_> {
    fn check(&self, argv: &[Bytes]) -> Result<&'static super::Command, String> {
        let Some(cmd) = super::command_table().named(argv) else {
            return Err("ERR Unknown Redis command called from script".into());
        };
        if !cmd.arity_ok(argv.len()) {
            return Err("ERR Wrong number of args calling Redis command from script".into());
        }
        if cmd.has(flags::NOSCRIPT) && !self.ctx.st.scripts_deny_disabled {
            return Err("ERR This Redis command is not allowed from script".into());
        }
        let st = &*self.ctx.st;
        if self.oom && cmd.has(flags::DENYOOM) {
            return Err(OOM_ERR.into());
        }
        // Commands that may replicate (PUBLISH, PFCOUNT) count as writes for a read-only script.
        if self.read_only && cmd.flags & (flags::WRITE | flags::MAY_REPLICATE) != 0 {
            return Err("ERR Write commands are not allowed from read-only scripts.".into());
        }
        if cmd.has(flags::WRITE) {
            if !self.ctx.sess.repl.is_master
                && st.repl.is_replica()
                && st.settings.replica_read_only
            {
                return Err("READONLY You can't write against a read only replica.".into());
            }
            if !self.ctx.sess.repl.is_master && too_few_replicas(st) {
                return Err(NOREPLICAS_ERR.into());
            }
        }
        Ok(cmd)
    }
}

/// Whether `name` runs a script (EVAL and FCALL and their forms).
pub fn runs_script(name: &str) -> bool {
    matches!(
        name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// EVAL-family arguments: (keys, args) after `numkeys`, or the error reply.
pub fn split_keys(a: &[Bytes], fcall: bool) -> Result<(&[Bytes], &[Bytes]), String> {
    let n: i64 = match std::str::from_utf8(&a[2]).ok().and_then(|s| s.parse().ok()) {
        Some(n) => n,
        None if fcall => return Err("ERR Bad number of keys provided".into()),
        None => return Err("ERR value is not an integer or out of range".into()),
    };
    if n < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    let rest = &a[3..];
    if n as usize > rest.len() {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    Ok(rest.split_at(n as usize))
}

const NOREPLICAS_ERR: &str = "NOREPLICAS Not enough good replicas to write.";

/// `min-replicas-to-write` is not met (a master only).
fn too_few_replicas(st: &crate::state::NodeState) -> bool {
    let (min, lag) = (
        st.settings.min_replicas_to_write,
        st.settings.min_replicas_max_lag,
    );
    min > 0 && lag > 0 && !st.repl.is_replica() && (st.repl.good_replicas(lag as u64) as i64) < min
}

const OOM_ERR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Whether the server is over `maxmemory` as a script starts (after evicting what it can), as
/// Redis decides it once before the script: never on a replica or for the master's stream.
fn over_maxmemory(ctx: &mut Ctx) -> bool {
    // The common case (no maxmemory) reads one field; the config is cloned only to evict.
    if ctx.node.hot.read().maxmemory == 0 {
        return false;
    }
    let hot = ctx.node.hot.read().clone();
    !ctx.sess.repl.is_master
        && !ctx.st.repl.is_replica()
        && !crate::evict::perform_evictions(ctx.st, &hot)
}

/// Checks a script's flags before it runs, as Redis does for scripts with a shebang (and
/// for every function).
pub fn check_flags(ctx: &mut Ctx, flags: &ScriptFlags, ro_command: bool) -> Result<(), String> {
    if !flags.shebang {
        return Ok(());
    }
    if !flags.no_writes && !flags.allow_oom && over_maxmemory(ctx) {
        return Err(OOM_ERR.into());
    }
    if !flags.no_writes && !ctx.sess.repl.is_master && too_few_replicas(ctx.st) {
        return Err(NOREPLICAS_ERR.into());
    }
    if ro_command && !flags.no_writes {
        return Err("ERR Can not execute a script with write flag using *_ro command.".into());
    }
    let st = &*ctx.st;
    if !flags.no_writes
        && !ctx.sess.repl.is_master
        && st.repl.is_replica()
        && st.settings.replica_read_only
    {
        return Err("READONLY You can't write against a read only replica.".into());
    }
    if !flags.allow_stale && st.repl.link_down() && !st.settings.replica_serve_stale_data {
        return Err(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
                .into(),
        );
    }
    Ok(())
}

/// Runs `f` with the script transaction around it: the script's writes are committed as one
/// (MULTI/EXEC when more than one), blocking commands do not block, the caller's db is kept.
///
/// Without `allow-oom` (or `no-writes`), a server over `maxmemory` as the script starts
/// refuses the script's deny-oom commands.
pub fn with_script_context(
    ctx: &mut Ctx,
    flags: &ScriptFlags,
    read_only: bool,
    f: impl FnOnce(&mut ScriptHost, &mut Reply),
) {
    let oom = !flags.allow_oom && !flags.no_writes && over_maxmemory(ctx);
    ctx.node.script_busy.threshold_ms.store(
        ctx.st.config.get_i64("busy-reply-threshold").max(0) as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    ctx.node.script_busy.set_client(ctx.sess.client.id);
    let outer = ctx.st.stream.in_transaction();
    if !outer {
        ctx.st.stream.begin_transaction();
    }
    let (db, in_exec, in_script) = (ctx.sess.db, ctx.sess.in_exec, ctx.sess.in_script);
    ctx.sess.in_exec = true;
    ctx.sess.in_script = true;
    let mut out = Reply::new(ctx.out.resp3);
    {
        let mut host = ScriptHost {
            ctx: &mut *ctx,
            read_only,
            oom,
            wrote: false,
        };
        f(&mut host, &mut out);
    }
    ctx.sess.db = db;
    ctx.sess.in_exec = in_exec;
    ctx.sess.in_script = in_script;
    if !outer {
        ctx.st.stream.commit_transaction();
    }
    ctx.out.raw(&out.buf);
    for e in out.take_errors() {
        ctx.out.errors.push(e);
    }
}

fn eval_generic(ctx: &mut Ctx, a: &[Bytes], by_sha: bool, ro: bool) {
    let (keys, args) = match split_keys(a, false) {
        Ok(v) => v,
        Err(e) => return ctx.out.error(&e),
    };
    let Some(mut engine) = ctx.st.scripts.take() else {
        return ctx
            .out
            .error("ERR This Redis command is not allowed from script");
    };
    let sha = if by_sha {
        let sha = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
        if !engine.exists(&sha) {
            ctx.st.scripts = Some(engine);
            return ctx
                .out
                .error("NOSCRIPT No matching script. Please use EVAL.");
        }
        sha
    } else {
        match engine.load(&a[1]) {
            Ok(sha) => sha,
            Err(e) => {
                ctx.st.scripts = Some(engine);
                return ctx.out.error(&e);
            }
        }
    };
    let flags = engine.get(&sha).and_then(|c| c.flags).unwrap_or_default();
    if let Err(e) = check_flags(ctx, &flags, false) {
        ctx.st.scripts = Some(engine);
        return ctx.out.error(&e);
    }
    with_script_context(ctx, &flags, ro || flags.no_writes, |host, out| {
        engine.run(host, &sha, keys, args, out);
    });
    ctx.st.scripts = Some(engine);
}

pub fn eval(ctx: &mut Ctx, a: &[Bytes]) {
    eval_generic(ctx, a, false, false)
}

pub fn evalsha(ctx: &mut Ctx, a: &[Bytes]) {
    eval_generic(ctx, a, true, false)
}

pub fn eval_ro(ctx: &mut Ctx, a: &[Bytes]) {
    eval_generic(ctx, a, false, true)
}

pub fn evalsha_ro(ctx: &mut Ctx, a: &[Bytes]) {
    eval_generic(ctx, a, true, true)
}

/// SCRIPT LOAD body
pub fn script_load(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(engine) = ctx.st.scripts.as_mut() else {
        return ctx
            .out
            .error("ERR This Redis command is not allowed from script");
    };
    match engine.load(&a[2]) {
        Ok(sha) => ctx.out.bulk(sha.as_bytes()),
        Err(e) => ctx.out.error(&e),
    }
}

/// SCRIPT EXISTS sha...
pub fn script_exists(ctx: &mut Ctx, a: &[Bytes]) {
    let found: Vec<bool> = a[2..]
        .iter()
        .map(|s| {
            ctx.st
                .scripts
                .as_ref()
                .is_some_and(|e| e.exists(&String::from_utf8_lossy(s)))
        })
        .collect();
    ctx.out.array(found.len());
    for f in found {
        ctx.out.int(f as i64);
    }
}

/// SCRIPT FLUSH [ASYNC|SYNC]
pub fn script_flush(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() > 3 || (a.len() == 3 && !eq_ic(&a[2], "async") && !eq_ic(&a[2], "sync")) {
        return ctx
            .out
            .error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    if let Some(e) = ctx.st.scripts.as_mut() {
        e.flush();
    }
    ctx.out.ok();
}

/// SCRIPT KILL (reached here only when no script runs: a running one is killed from
/// [`busy_batch`]).
pub fn script_kill(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.error("NOTBUSY No scripts in execution right now.");
}

/// SCRIPT DEBUG YES|SYNC|NO: Picket has no Lua debugger; NO is accepted.
pub fn script_debug(ctx: &mut Ctx, a: &[Bytes]) {
    if eq_ic(&a[2], "no") {
        ctx.out.ok()
    } else if eq_ic(&a[2], "yes") || eq_ic(&a[2], "sync") {
        ctx.out
            .error("ERR SCRIPT DEBUG YES/SYNC is not supported by this server (no Lua debugger)")
    } else {
        ctx.out.error("ERR Use SCRIPT DEBUG YES/SYNC/NO")
    }
}

/// SCRIPT HELP
pub fn script_help(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.help(&[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ]);
}

/// While a script has run past `busy-reply-threshold`: a batch of `client` is answered
/// without the state. SCRIPT KILL / FUNCTION KILL stop the script, SHUTDOWN NOSAVE exits,
/// FUNCTION STATS is answered by the running script's side; MULTI, DISCARD and EXEC work on
/// the client's transaction as Redis's do while busy (recorded in the client's
/// [`BusyTransaction`], which its session applies when it runs again); QUIT closes;
/// everything else gets -BUSY (and, inside MULTI, fails the transaction).
pub fn busy_batch(
    busy: &crate::script::Busy,
    loading: bool,
    tx: &mut BusyTransaction,
    reqs: &mut Vec<Request>,
    out: &mut Reply,
) -> Control {
    let function = busy.is_function();
    let busy_err = format!(
        "BUSY Redis is busy running a script. You can only call {} or SHUTDOWN NOSAVE.",
        if function {
            "FUNCTION KILL"
        } else {
            "SCRIPT KILL"
        }
    );
    let mut close = false;
    for req in reqs.drain(..) {
        let args = &req.args;
        if args.is_empty() || close {
            continue;
        }
        // A script of the AOF being loaded (DEBUG LOADAOF, start-up): Redis's loading check
        // comes before the busy one, so a command not allowed while loading gets -LOADING.
        if loading
            && !super::command_table()
                .resolve(args)
                .is_ok_and(|c| c.has(flags::LOADING))
        {
            out.error("LOADING Redis is loading the dataset in memory");
            continue;
        }
        let name = picket::args::lower(&args[0]);
        let sub = args
            .get(1)
            .map(|s| picket::args::lower(s))
            .unwrap_or_default();
        use crate::script::busy::KillResult;
        match (name.as_str(), sub.as_str()) {
            ("script", "kill") | ("function", "kill") => match busy.kill(name == "function") {
                KillResult::Killed => out.ok(),
                KillResult::NotBusy => out.error("NOTBUSY No scripts in execution right now."),
                KillResult::Unkillable => out.error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."),
                KillResult::WrongKind => out.error(&busy_err),
            },
            ("function", "stats") => match busy.function_call() {
                Some(f) => super::functions::write_stats(
                    out,
                    Some((&f.name, &f.argv, busy.elapsed_ms())),
                    f.libraries,
                    f.functions,
                ),
                None => out.error(&busy_err),
            },
            ("shutdown", "nosave") => {
                tracing::warn!("User requested shutdown...");
                tracing::warn!("Redis is now ready to exit, bye bye...");
                std::process::exit(0);
            }
            ("multi", _) if tx.in_multi => out.error("ERR MULTI calls can not be nested"),
            ("multi", _) => {
                tx.in_multi = true;
                tx.flagged = false;
                out.ok();
            }
            ("discard", _) if !tx.in_multi => out.error("ERR DISCARD without MULTI"),
            ("discard", _) => {
                *tx = BusyTransaction {
                    discarded: true,
                    ..Default::default()
                };
                out.ok();
            }
            // EXEC is refused while busy, and a refused EXEC discards the transaction.
            ("exec", _) if tx.in_multi => {
                *tx = BusyTransaction {
                    discarded: true,
                    ..Default::default()
                };
                out.error(&format!(
                    "EXECABORT Transaction discarded because of: {busy_err}"
                ));
            }
            ("quit", _) => {
                out.ok();
                close = true;
            }
            _ => {
                tx.flagged |= tx.in_multi;
                out.error(&busy_err);
            }
        }
    }
    if close {
        Control::Close
    } else {
        Control::Continue
    }
}

/// [`busy_batch`] for a registered client: its transaction's changes are kept in its
/// handle for its session.
pub fn busy_batch_of(
    busy: &crate::script::Busy,
    loading: bool,
    client: &ClientHandle,
    reqs: &mut Vec<Request>,
    out: &mut Reply,
) -> Control {
    let mut meta = client.meta.lock();
    let before = meta.busy_tx.unwrap_or(BusyTransaction {
        in_multi: meta.multi >= 0,
        ..Default::default()
    });
    let mut tx = before;
    let control = busy_batch(busy, loading, &mut tx, reqs, out);
    if tx != before || meta.busy_tx.is_some() {
        // CLIENT LIST's `multi=` follows the transaction.
        if !tx.in_multi {
            meta.multi = -1;
        } else if tx.discarded || !before.in_multi {
            meta.multi = 0;
        }
        meta.busy_tx = Some(tx);
    }
    control
}

/// Applies what the client did to its transaction while a script was busy (see
/// [`busy_batch`]).
pub fn apply_busy_transaction(st: &mut NodeState, sess: &mut Session, tx: BusyTransaction) {
    if tx.discarded && sess.multi.is_some() {
        super::multi::discard_state(st, sess);
    }
    if tx.in_multi && (tx.discarded || sess.multi.is_none()) {
        sess.multi = Some(Default::default());
        sess.client.meta.lock().multi = 0;
    }
    if tx.flagged {
        if let Some(m) = &mut sess.multi {
            m.error = true;
        }
    }
}

/// A script command's flags as Redis 7.0 computes them for the checks made before it runs
/// (CLIENT PAUSE WRITE): a script that declares flags (a shebang; every function) is a write
/// unless it says `no-writes`, is deny-oom unless `no-writes` or `allow-oom`, and no longer
/// "may replicate". None: not a script command, or a script without declared flags.
pub fn declared_flags(st: &NodeState, cmd_flags: u32, name: &str, args: &[Bytes]) -> Option<u32> {
    let declared = match (name, args.get(1)) {
        ("eval" | "eval_ro", Some(body)) => crate::script::shebang::parse(body).ok().flatten(),
        ("evalsha" | "evalsha_ro", Some(sha)) => st
            .scripts
            .as_ref()
            .and_then(|e| e.get(&String::from_utf8_lossy(sha)).and_then(|c| c.flags)),
        ("fcall" | "fcall_ro", Some(f)) => st
            .functions
            .as_ref()
            .and_then(|e| e.find(&String::from_utf8_lossy(f)).map(|f| f.flags)),
        _ => None,
    };
    let f = declared?;
    let mut out =
        cmd_flags & !(flags::STALE | flags::DENYOOM | flags::WRITE | flags::MAY_REPLICATE);
    if !f.no_writes && !f.allow_oom {
        out |= flags::DENYOOM;
    }
    if !f.no_writes {
        out |= flags::WRITE;
    }
    if f.allow_stale {
        out |= flags::STALE;
    }
    Some(out)
}
