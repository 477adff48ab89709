//! A Lua VM with Redis 7.0's environment (`prelude.lua` builds it from the Rust pieces here):
//! the allowed globals, read-only library tables, `math.random` from [`Rand48`], and the
//! `redis` table, whose `call`/`pcall` reach the running script's [`Host`] through the
//! registry (set for the length of one run).

use super::rand48::Rand48;
use super::{bit, cjson, cmsgpack, lstruct};
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

/// The registry slot of the running script's `call` (a scoped function).
pub const CALL_SLOT: &str = "picket.call";

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
        if function { "FUNCTION KILL" } else { "SCRIPT KILL" }
    )
}

/// Marks an error raised from Rust whose text is a reply's own (no `ERR ` added).
const RAW: char = '\u{1}';

/// An error carrying a Redis error reply's text (`redis.call` of a failing command).
pub fn raise_reply(msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{RAW}{msg}"))
}

fn failure_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) if m.starts_with(RAW) => m[RAW.len_utf8()..].to_string(),
        mlua::Error::RuntimeError(m) if m.starts_with("ERR ") => m.clone(),
        mlua::Error::CallbackError { cause, .. } => failure_text(cause),
        e => format!("ERR {}", error_text(e)),
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
            Value::Function(f) => Value::Function(lua.create_function(move |lua, args: mlua::MultiValue| {
                let mut r: mlua::MultiValue = f.call(args)?;
                match r.pop_front() {
                    Some(Value::Boolean(false)) => {
                        let msg = r.pop_front().and_then(|m| m.to_string().ok()).unwrap_or_default();
                        Err(mlua::Error::RuntimeError(format!("{}{msg}", caller_position(lua))))
                    }
                    _ => Ok(r),
                }
            })?),
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
    for (name, raise) in [("call", true), ("pcall", false)] {
        r.set(
            name,
            lua.create_function(move |lua, args: mlua::MultiValue| {
                let f: Function = lua.named_registry_value(CALL_SLOT)?;
                let mut all = mlua::MultiValue::from_iter([Value::Boolean(raise)]);
                all.extend(args);
                let (v, failed): (Value, bool) = f.call(all)?;
                if failed {
                    let msg = match &v {
                        Value::Table(t) => t.raw_get::<String>("err").unwrap_or_default(),
                        _ => String::new(),
                    };
                    return Err(raise_reply(&msg));
                }
                Ok(v)
            })?,
        )?;
    }
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
            sh.log.lock().push((level as i64, String::from_utf8_lossy(&msg).into_owned()));
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
    r.set("acl_check_cmd", lua.create_function(|_, _: mlua::MultiValue| Ok(true))?)?;
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
    let (env, run, fcall, _set_env): (Table, Function, Function, Function) = lua
        .load(PRELUDE)
        .set_name("@picket")
        .call((globals.clone(), r))?;
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(100_000),
        move |_, _| {
            if busy.check() {
                return Err(mlua::Error::RuntimeError(kill_message(busy.is_function())));
            }
            Ok(VmState::Continue)
        },
    )?;
    Ok(Vm {
        lua,
        globals,
        env,
        run,
        fcall,
        shared,
    })
}

/// `7.0.15` → 0x07000f, as REDIS_VERSION_NUM.
fn version_num(v: &str) -> i64 {
    v.split('.')
        .take(3)
        .map(|p| p.parse::<i64>().unwrap_or(0))
        .fold(0, |a, p| a << 8 | p)
}
