//! A Lua VM with Redis 7.0's environment (`prelude.lua` builds it from the Rust pieces here):
//! the allowed globals, read-only library tables, `math.random` from [`Rand48`], and the
//! `redis` table, whose `call`/`pcall` reach the running script's [`Host`] through the
//! registry (set for the length of one run).

use super::rand48::Rand48;
use super::{bit, cjson, cmsgpack, lstruct};
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

/// What the Rust side of a script's `redis` table shares with the engine.
#[derive(Debug, Default)]
pub struct Shared {
    /// `redis.setresp(3)` was called in the running script.
    pub resp3: AtomicBool,
    /// `redis.set_repl` flags of the running script (3: all).
    pub repl: AtomicI64,
    pub rand: Rand48,
    /// `redis.log` lines of the running script, handed to the host after the call.
    pub log: parking_lot::Mutex<Vec<(i64, String)>>,
    /// The running script was killed (its hook then runs on every line until it ends).
    pub killed: AtomicBool,
    /// While FUNCTION LOAD runs a library's top level: when it must have finished.
    pub load_deadline: parking_lot::Mutex<Option<std::time::Instant>>,
    /// Scripts run, for the garbage collector's extra step every 50 (as Redis steps it).
    pub runs: std::sync::atomic::AtomicU64,
}

/// A VM ready to run scripts.
pub struct Vm {
    pub lua: Lua,
    /// The real globals table (KEYS and ARGV are set in it).
    pub globals: Table,
    /// The scripts' environment (a read-only view of `globals`).
    pub env: Table,
    /// `run(f)`: xpcall with the error handler.
    pub run: Function,
    /// `fcall(f, keys, args)`.
    pub fcall: Function,
    pub shared: Arc<Shared>,
}

const PRELUDE: &str = include_str!("prelude.lua");

/// The message of a killed script.
pub fn kill_message(function: bool) -> String {
    format!(
        "ERR Script killed by user with {}...",
        if function {
            "FUNCTION KILL"
        } else {
            "SCRIPT KILL"
        }
    )
}

/// Marks an error raised from Rust whose text is a reply's own (no `ERR ` added).
const RAW: char = '\u{1}';

/// An `ERR` error of the `redis` library (`redis.log` without arguments), replied as it is.
pub fn raise_reply(msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{RAW}ERR {msg}"))
}

fn failure_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) if m.starts_with(RAW) => m[RAW.len_utf8()..].to_string(),
        mlua::Error::RuntimeError(m) if m.starts_with("ERR ") => m.clone(),
        mlua::Error::CallbackError { cause, .. } => failure_text(cause),
        e => format!("ERR {}", error_text(e)),
    }
}

/// What `pcall` hands a script for a Rust error: a library's error reply as it is, anything
/// else as Lua's message.
fn caught_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) if m.starts_with(RAW) => m[RAW.len_utf8()..].to_string(),
        mlua::Error::CallbackError { cause, .. } => caught_text(cause),
        e => error_text(e),
    }
}

/// `file:line: ` of the Lua function that called the running Rust function (luaL_where).
fn caller_position(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let line = d.current_line();
        let src = d.source().short_src.map(|s| s.into_owned());
        match (src, line) {
            (Some(s), Some(l)) => format!("{s}:{l}: "),
            _ => String::new(),
        }
    })
    .unwrap_or_default()
}

/// A library table whose Rust functions answer `(true, results...)` or `(false, message)`
/// wrapped so that they raise the message from the calling script's line.
fn checked_lib(lua: &Lua, t: Table) -> mlua::Result<Table> {
    let out = lua.create_table()?;
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let v = match v {
            Value::Function(f) => {
                Value::Function(lua.create_function(move |lua, args: mlua::MultiValue| {
                    let mut r: mlua::MultiValue = f.call(args)?;
                    match r.pop_front() {
                        Some(Value::Boolean(false)) => {
                            let msg = r
                                .pop_front()
                                .and_then(|m| m.to_string().ok())
                                .unwrap_or_default();
                            Err(mlua::Error::RuntimeError(format!(
                                "{}{msg}",
                                caller_position(lua)
                            )))
                        }
                        _ => Ok(r),
                    }
                })?)
            }
            v => v,
        };
        out.raw_set(k, v)?;
    }
    Ok(out)
}

/// The text of an mlua error without mlua's own prefixes and tracebacks.
pub fn error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) => m.strip_prefix("ERR ").unwrap_or(m).to_string(),
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        e => e.to_string(),
    }
}

/// Builds a VM; `busy` is checked by its hook every 100,000 instructions.
pub fn new_vm(shared: Arc<Shared>, busy: Arc<super::Busy>) -> mlua::Result<Vm> {
    // SAFETY: the debug library is loaded for the prelude only (it keeps `debug.getinfo` for
    // the error handler and removes `debug` from the globals).
    let lua = unsafe {
        Lua::unsafe_new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
            LuaOptions::default(),
        )
    };
    let r = lua.create_table()?;
    r.set("cjson", checked_lib(&lua, cjson::install(&lua)?)?)?;
    r.set("cmsgpack", checked_lib(&lua, cmsgpack::install(&lua)?)?)?;
    r.set("struct", checked_lib(&lua, lstruct::install(&lua)?)?)?;
    r.set("bit", bit::install(&lua)?)?;
    r.set("version", picket::REDIS_VERSION)?;
    r.set("version_num", version_num(picket::REDIS_VERSION))?;
    install_call(&lua, &r, shared.clone())?;
    r.set(
        "failure",
        lua.create_function(|lua, e: Value| {
            let msg = match e {
                Value::Error(e) => failure_text(&e),
                other => format!("ERR {}", other.to_string().unwrap_or_default()),
            };
            let t = lua.create_table()?;
            t.set("err", msg)?;
            Ok(t)
        })?,
    )?;
    r.set(
        "caught",
        lua.create_function(|_, e: Value| {
            Ok(match e {
                Value::Error(e) => caught_text(&e),
                other => other.to_string().unwrap_or_default(),
            })
        })?,
    )?;
    r.set(
        "sha1hex",
        lua.create_function(|lua, args: mlua::MultiValue| {
            if args.len() != 1 {
                return Err(raise_reply("wrong number of arguments"));
            }
            let s = lua.coerce_string(args[0].clone())?;
            let b = s.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
            Ok(super::sha1_hex(&b))
        })?,
    )?;
    let sh = shared.clone();
    r.set(
        "log",
        lua.create_function(move |lua, args: mlua::MultiValue| {
            if args.len() < 2 {
                return Err(raise_reply("redis.log() requires two arguments or more."));
            }
            let level = match &args[0] {
                Value::Integer(n) => *n as f64,
                Value::Number(n) => *n,
                _ => return Err(raise_reply("First argument must be a number (log level).")),
            };
            if !(0.0..=3.0).contains(&level) {
                return Err(raise_reply("Invalid debug level."));
            }
            let mut msg = Vec::new();
            for (i, v) in args.iter().skip(1).enumerate() {
                if i > 0 {
                    msg.push(b' ');
                }
                if let Some(s) = lua.coerce_string(v.clone())? {
                    msg.extend_from_slice(&s.as_bytes());
                }
            }
            sh.log
                .lock()
                .push((level as i64, String::from_utf8_lossy(&msg).into_owned()));
            Ok(())
        })?,
    )?;
    let sh = shared.clone();
    r.set(
        "setresp",
        lua.create_function(move |_, args: mlua::MultiValue| {
            let v = match args.iter().next() {
                Some(Value::Integer(n)) if args.len() == 1 => *n as f64,
                Some(Value::Number(n)) if args.len() == 1 => *n,
                _ => 0.0,
            };
            if v != 2.0 && v != 3.0 {
                return Err(raise_reply("RESP version must be 2 or 3."));
            }
            sh.resp3.store(v == 3.0, Ordering::Relaxed);
            Ok(())
        })?,
    )?;
    let sh = shared.clone();
    r.set(
        "set_repl",
        lua.create_function(move |_, args: mlua::MultiValue| {
            let v = match args.iter().next() {
                Some(Value::Integer(n)) if args.len() == 1 => *n as f64,
                Some(Value::Number(n)) if args.len() == 1 => *n,
                _ => -1.0,
            };
            if !(0.0..=3.0).contains(&v) || v.fract() != 0.0 {
                return Err(raise_reply(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            sh.repl.store(v as i64, Ordering::Relaxed);
            Ok(())
        })?,
    )?;
    r.set(
        "acl_check_cmd",
        lua.create_function(|_, _: mlua::MultiValue| Ok(true))?,
    )?;
    let sh = shared.clone();
    r.set(
        "random",
        lua.create_function(move |_, (m, n): (Option<f64>, Option<f64>)| {
            let r = sh.rand.unit();
            Ok(match (m, n) {
                (None, _) => r,
                (Some(m), None) => (r * m.floor()).floor() + 1.0,
                (Some(m), Some(n)) => (r * (n.floor() - m.floor() + 1.0)).floor() + m.floor(),
            })
        })?,
    )?;
    let sh = shared.clone();
    r.set(
        "randomseed",
        lua.create_function(move |_, seed: f64| {
            sh.rand.seed(seed as i64);
            Ok(())
        })?,
    )?;
    lua.set_app_data(busy.clone());
    let globals = lua.globals();
    let (env, run, fcall, _set_env, error_mt): (Table, Function, Function, Function, Table) = lua
        .load(PRELUDE)
        .set_name("@picket")
        .call((globals.clone(), r))?;
    lua.set_named_registry_value(ERROR_MT_SLOT.to_str().unwrap_or_default(), error_mt)?;
    set_busy_hook(&lua, busy, shared.clone(), false)?;
    Ok(Vm {
        lua,
        globals,
        env,
        run,
        fcall,
        shared,
    })
}

/// The hook that checks `busy`: every 100,000 instructions, and once the script is killed on
/// every line, so that the kill's error, which `pcall` may catch, is raised again at once
/// and the script ends (as Redis does).
pub fn set_busy_hook(
    lua: &Lua,
    busy: Arc<super::Busy>,
    shared: Arc<Shared>,
    killed: bool,
) -> mlua::Result<()> {
    let triggers = if killed {
        HookTriggers::new().every_line()
    } else {
        HookTriggers::new().every_nth_instruction(100_000)
    };
    lua.set_hook(triggers, move |lua, _| {
        if shared
            .load_deadline
            .lock()
            .is_some_and(|d| std::time::Instant::now() > d)
        {
            return Err(mlua::Error::RuntimeError("FUNCTION LOAD timeout".into()));
        }
        if busy.check() {
            if !killed {
                shared.killed.store(true, Ordering::Relaxed);
                set_busy_hook(lua, busy.clone(), shared.clone(), true)?;
            }
            return Err(mlua::Error::RuntimeError(kill_message(busy.is_function())));
        }
        Ok(VmState::Continue)
    })
}

/// Where `redis.call` finds the function that runs a command for it.
const DISPATCH_SLOT: &std::ffi::CStr = c"picket.dispatch";

thread_local! {
    /// The arguments of the `redis.call` being made (`None`: one was not a string or
    /// number), read by [`take_call_args`].
    static CALL_ARGS: std::cell::RefCell<Option<Vec<bytes::Bytes>>> =
        const { std::cell::RefCell::new(None) };
}

/// The arguments of the running `redis.call`, or `None` when one was of a type Redis refuses.
pub fn take_call_args() -> Option<Vec<bytes::Bytes>> {
    CALL_ARGS.with(|c| c.borrow_mut().take())
}

/// `redis.call` and `redis.pcall` are C functions: they read their arguments straight off the
/// Lua stack (a script may pass thousands, more than Rust callbacks can take), then call the
/// dispatcher in the registry with only whether to raise.
fn install_call(lua: &Lua, r: &Table, shared: Arc<Shared>) -> mlua::Result<()> {
    let dispatch =
        lua.create_function(move |lua, raise: bool| super::engine::dispatch(lua, &shared, raise))?;
    lua.set_named_registry_value(DISPATCH_SLOT.to_str().unwrap_or_default(), dispatch)?;
    // SAFETY: the functions below only use the Lua stack of the state that calls them.
    unsafe {
        r.set("call", lua.create_c_function(redis_call)?)?;
        r.set("pcall", lua.create_c_function(redis_pcall)?)?;
    }
    Ok(())
}

unsafe extern "C-unwind" fn redis_call(l: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    forward_call(l, true)
}

unsafe extern "C-unwind" fn redis_pcall(l: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    forward_call(l, false)
}

/// Stashes the arguments and calls the dispatcher; nothing of Rust is alive across the
/// `lua_call` or the `lua_error` (a Lua error unwinds through this frame).
///
/// `redis.call`'s failure is raised as the error reply's `{err=...}` table marked with the
/// prelude's metatable: uncaught it is the script's reply as it is; the sandbox's `pcall`
/// turns it into the message string, as Redis 7.0's scripts see it.
unsafe fn forward_call(l: *mut mlua::ffi::lua_State, raise: bool) -> std::ffi::c_int {
    use mlua::ffi;
    stash_call_args(l);
    ffi::lua_settop(l, 0);
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, DISPATCH_SLOT.as_ptr());
    ffi::lua_pushboolean(l, raise as std::ffi::c_int);
    ffi::lua_call(l, 1, 2);
    let failed = ffi::lua_toboolean(l, -1) != 0;
    ffi::lua_settop(l, -2);
    if failed {
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, ERROR_MT_SLOT.as_ptr());
        ffi::lua_setmetatable(l, -2);
        ffi::lua_error(l);
    }
    1
}

/// Where the prelude's metatable of `redis.call` errors is kept.
pub const ERROR_MT_SLOT: &std::ffi::CStr = c"picket.redis_error_mt";

/// Copies the call's arguments off the stack: strings as they are, numbers as `%.17g`.
unsafe fn stash_call_args(l: *mut mlua::ffi::lua_State) {
    use mlua::ffi;
    let n = ffi::lua_gettop(l);
    let mut argv = Vec::with_capacity(n.max(0) as usize);
    for i in 1..=n {
        match ffi::lua_type(l, i) {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(l, i, &mut len);
                argv.push(bytes::Bytes::copy_from_slice(std::slice::from_raw_parts(
                    p.cast(),
                    len,
                )));
            }
            ffi::LUA_TNUMBER => argv.push(bytes::Bytes::from(super::cjson::fmt_g(
                ffi::lua_tonumber(l, i),
                17,
            ))),
            _ => {
                CALL_ARGS.with(|c| *c.borrow_mut() = None);
                return;
            }
        }
    }
    CALL_ARGS.with(|c| *c.borrow_mut() = Some(argv));
}

/// `7.0.15` → 0x07000f, as REDIS_VERSION_NUM.
fn version_num(v: &str) -> i64 {
    v.split('.')
        .take(3)
        .map(|p| p.parse::<i64>().unwrap_or(0))
        .fold(0, |a, p| a << 8 | p)
}
