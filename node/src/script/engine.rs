//! The EVAL engine: one VM, the script cache (SHA1 → compiled body, kept until SCRIPT FLUSH,
//! never persisted, as Redis), and a script's run: KEYS and ARGV set, `redis.call` bound to
//! the caller's [`Host`] for the length of the run, the result converted to the caller's
//! protocol, errors formatted as Redis 7.0 formats them
//! (`ERR user_script:1: ... script: <sha>, on @user_script:1.`).

use super::sandbox::{new_vm, Shared, Vm};
use super::{convert, shebang, Busy, Host, ScriptFlags};
use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Table, Value};
use picket::resp::Reply;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// One cached script.
pub struct Cached {
    pub body: Bytes,
    func: Function,
    /// The shebang's flags (None: no shebang, Redis's compatibility mode).
    pub flags: Option<ScriptFlags>,
}

pub struct Engine {
    vm: Vm,
    scripts: HashMap<String, Cached, foldhash::fast::RandomState>,
    pub busy: Arc<Busy>,
    /// Bytes of script bodies held (used_memory_scripts_eval).
    body_bytes: usize,
}

impl Engine {
    pub fn new(busy: Arc<Busy>) -> Engine {
        let vm = new_vm(Arc::new(Shared::default()), busy.clone()).expect("the Lua sandbox builds");
        Engine {
            vm,
            scripts: HashMap::default(),
            busy,
            body_bytes: 0,
        }
    }

    /// SCRIPT FLUSH: a new VM and an empty cache (the random generator goes on).
    pub fn flush(&mut self) {
        let shared = self.vm.shared.clone();
        if let Ok(vm) = new_vm(shared, self.busy.clone()) {
            self.vm = vm;
        }
        self.scripts.clear();
        self.body_bytes = 0;
    }

    pub fn exists(&self, sha: &str) -> bool {
        self.scripts.contains_key(&sha.to_ascii_lowercase())
    }

    pub fn get(&self, sha: &str) -> Option<&Cached> {
        match self.scripts.get(sha) {
            Some(c) => Some(c),
            None => self.scripts.get(&sha.to_ascii_lowercase()),
        }
    }

    pub fn count(&self) -> usize {
        self.scripts.len()
    }

    /// The VM's memory (used_memory_lua / used_memory_vm_eval).
    pub fn vm_memory(&self) -> usize {
        self.vm.lua.used_memory()
    }

    /// Memory of the cache (used_memory_scripts_eval).
    pub fn cache_memory(&self) -> usize {
        self.body_bytes + self.scripts.len() * 64
    }

    /// Compiles and caches a body (SCRIPT LOAD, EVAL); its SHA1, or the error text.
    pub fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = super::sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let flags = shebang::parse(body).map_err(|e| format!("ERR {e}"))?;
        let src = shebang::lua_source(body);
        let func = self
            .vm
            .lua
            .load(&*src)
            .set_name("@user_script")
            .set_environment(self.vm.env.clone())
            .into_function()
            .map_err(|e| {
                format!(
                    "ERR Error compiling script (new function): {}",
                    syntax_text(&e)
                )
            })?;
        self.body_bytes += body.len();
        self.scripts.insert(
            sha.clone(),
            Cached {
                body: Bytes::copy_from_slice(body),
                func,
                flags,
            },
        );
        Ok(sha)
    }

    /// Runs the cached script `sha` (it must be cached) for `host`, writing its reply to `out`.
    pub fn run(
        &mut self,
        host: &mut dyn Host,
        sha: &str,
        keys: &[Bytes],
        args: &[Bytes],
        out: &mut Reply,
    ) {
        let Some(func) = self.scripts.get(sha).map(|c| c.func.clone()) else {
            return out.error("NOSCRIPT No matching script. Please use EVAL.");
        };
        let lua = &self.vm.lua;
        let set = |name: &str, items: &[Bytes]| -> mlua::Result<()> {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, a) in items.iter().enumerate() {
                t.raw_set(i + 1, lua.create_string(a)?)?;
            }
            self.vm.globals.raw_set(name, t)
        };
        if let Err(e) = set("KEYS", keys).and_then(|_| set("ARGV", args)) {
            return out.error(&format!("ERR {e}"));
        }
        let run = self.vm.run.clone();
        let r = run_scoped(&self.vm, host, false, |_| run.call::<MultiValue>(func));
        finish(r, sha, out, self.vm.shared.resp3.load(Ordering::Relaxed));
    }
}

thread_local! {
    /// The host of the script running on this thread (none outside a run).
    static HOST: std::cell::Cell<Option<*mut (dyn Host + 'static)>> = const { std::cell::Cell::new(None) };
}

/// Binds a host to `redis.call` for the duration of a run; unbinds (restoring what was
/// bound before) when dropped, however the run ends.
struct BoundHost(Option<*mut (dyn Host + 'static)>);

impl BoundHost {
    fn bind(host: &mut dyn Host) -> BoundHost {
        let ptr: *mut (dyn Host + '_) = host;
        // SAFETY: only the lifetime is erased; the pointer is used only while this guard
        // lives, and the guard does not outlive the borrow it was made from.
        let ptr: *mut (dyn Host + 'static) = unsafe { std::mem::transmute(ptr) };
        BoundHost(HOST.with(|h| h.replace(Some(ptr))))
    }
}

impl Drop for BoundHost {
    fn drop(&mut self) {
        HOST.with(|h| h.set(self.0));
    }
}

/// `redis.call`'s Rust side: the running script's host runs the command.
pub fn dispatch(lua: &Lua, shared: &Shared, raise: bool) -> mlua::Result<(Value, bool)> {
    let Some(ptr) = HOST.with(|h| h.get()) else {
        return Err(mlua::Error::RuntimeError(
            "ERR redis.call is only available inside a script".into(),
        ));
    };
    // SAFETY: the pointer is bound by a live `BoundHost` for the running script, on this
    // thread; scripts do not nest, so no other reference to the host is in use meanwhile.
    let host = unsafe { &mut *ptr };
    for (level, msg) in shared.log.lock().drain(..) {
        host.log(level, &msg);
    }
    host_call(lua, host, raise, shared.resp3.load(Ordering::Relaxed))
}

/// Calls `f` with `redis.call` bound to `host`, the busy state kept, and the script's
/// per-run settings reset; `redis.log` lines go to the host after.
pub fn run_scoped<R>(
    vm: &Vm,
    host: &mut dyn Host,
    function: bool,
    f: impl FnOnce(&Lua) -> mlua::Result<R>,
) -> mlua::Result<R> {
    let shared = vm.shared.clone();
    shared.resp3.store(false, Ordering::Relaxed);
    shared.repl.store(3, Ordering::Relaxed);
    vm.busy_start(function);
    let r = {
        let _bound = BoundHost::bind(&mut *host);
        f(&vm.lua)
    };
    vm.busy_finish();
    // Redis steps the collector every 50 scripts, so garbage of short scripts stays small.
    if shared.runs.fetch_add(1, Ordering::Relaxed) % 50 == 49 {
        let _ = vm.lua.gc_step();
    }
    for (level, msg) in shared.log.lock().drain(..) {
        host.log(level, &msg);
    }
    let repl = shared.repl.load(Ordering::Relaxed);
    if repl != 3 {
        host.set_repl(repl);
    }
    r
}

impl Vm {
    fn busy_start(&self, function: bool) {
        if let Some(b) = self.lua.app_data_ref::<Arc<Busy>>() {
            b.start(function);
        }
    }
    fn busy_finish(&self) {
        if let Some(b) = self.lua.app_data_ref::<Arc<Busy>>() {
            b.finish();
            if self.shared.killed.swap(false, Ordering::Relaxed) {
                let _ =
                    super::sandbox::set_busy_hook(&self.lua, b.clone(), self.shared.clone(), false);
            }
        }
    }
}

/// The text of a compile error, as Lua gives it (`user_script:1: '=' expected near '1'`).
pub fn syntax_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        e => e.to_string(),
    }
}

/// `redis.call` / `redis.pcall`: (raise, command args...) → (reply, raise it).
fn host_call(
    lua: &Lua,
    host: &mut dyn Host,
    raise: bool,
    resp3: bool,
) -> mlua::Result<(Value, bool)> {
    let err = |msg: &str| -> mlua::Result<(Value, bool)> {
        let t = lua.create_table()?;
        t.raw_set("err", msg)?;
        Ok((Value::Table(t), raise))
    };
    let Some(argv) = super::sandbox::take_call_args() else {
        return err("ERR Lua redis lib command arguments must be strings or integers");
    };
    if argv.is_empty() {
        return err("ERR Please specify at least one argument for this redis lib call");
    }
    let reply = host.call(argv, resp3);
    let v = convert::reply_to_lua(lua, &reply)?;
    let failed = reply.first() == Some(&b'-');
    if let (true, Value::Table(t)) = (failed, &v) {
        t.raw_set(COUNTED, true)?;
    }
    Ok((v, failed && raise))
}

/// Writes a run's result: the value in the caller's protocol, or the error as Redis formats
/// it.
pub fn finish(r: mlua::Result<MultiValue>, sha: &str, out: &mut Reply, resp3: bool) {
    let mut vals = match r {
        Ok(v) => v.into_iter(),
        Err(e) => return out.error(&format!("ERR {}", super::sandbox::error_text(&e))),
    };
    let ok = matches!(vals.next(), Some(Value::Boolean(true)));
    let v = vals.next().unwrap_or(Value::Nil);
    if ok {
        return convert::lua_to_reply(&v, out, resp3);
    }
    let msg = error_reply(&v, sha);
    if counted_error(&v) {
        out.error_counted(&msg)
    } else {
        out.error(&msg)
    }
}

/// Marks the error table of a command a script ran, counted in the error stats when the
/// command failed; the script's reply carrying it is not counted again.
pub const COUNTED: &str = "ignore_error_stats_update";

/// Whether `v` is an error table already counted ([`COUNTED`]).
pub fn counted_error(v: &Value) -> bool {
    matches!(v, Value::Table(t) if matches!(t.raw_get::<Value>(COUNTED), Ok(Value::Boolean(true))))
}

/// The error reply of a failed run (the handler's `{err, source, line}` table).
pub fn error_reply(v: &Value, sha: &str) -> String {
    let Value::Table(t) = v else {
        return "ERR unknown error".into();
    };
    let field = |t: &Table, k: &str| -> Option<String> {
        match t.raw_get::<Value>(k).ok()? {
            Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
            Value::Integer(n) => Some(n.to_string()),
            Value::Number(n) => Some((n as i64).to_string()),
            _ => None,
        }
    };
    let msg = field(t, "err").unwrap_or_else(|| "ERR unknown error".into());
    match (field(t, "source"), field(t, "line")) {
        (Some(src), Some(line)) => format!("{msg} script: {sha}, on {src}:{line}."),
        _ => msg,
    }
}
