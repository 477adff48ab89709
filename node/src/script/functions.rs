//! FUNCTION libraries: a VM of their own, where a library's code runs once at FUNCTION LOAD
//! with only `redis.register_function` (and `redis.log`) in sight, and its functions later run
//! in the same sandbox as EVAL's scripts (FCALL). Libraries are kept by name, functions by
//! name across all libraries, as Redis 7.0 keeps them; the error texts are Redis's.

use super::engine::{error_reply, run_scoped, syntax_text};
use super::sandbox::{new_vm, Shared, Vm};
use super::{convert, Busy, Host, ScriptFlags};
use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Table, Value};
use picket::resp::Reply;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// One registered function.
pub struct FunctionInfo {
    pub name: String,
    pub description: Option<String>,
    pub flags: ScriptFlags,
    func: Function,
}

/// One library.
pub struct Library {
    pub name: String,
    pub code: Bytes,
    /// In registration order.
    pub functions: Vec<FunctionInfo>,
}

pub struct Functions {
    vm: Vm,
    /// The table whose `__index` points at the load-time or the run-time environment.
    env_meta: Table,
    load_env: Table,
    pub libraries: BTreeMap<String, Library>,
    /// Function name → library name.
    index: BTreeMap<String, String>,
    pub busy: Arc<Busy>,
    /// While a library loads: the functions it registered so far.
    pending: Arc<parking_lot::Mutex<Vec<Registered>>>,
    /// A library is loading (`redis.register_function` works only then).
    loading: Arc<std::sync::atomic::AtomicBool>,
}

const LOADER: &str = r#"
local env, register, log = ...
local error, type, setmt = error, type, setmetatable
local function deny() error('Attempt to modify a readonly table', 2) end
local api = {
  register_function = register,
  log = log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = env.redis.REDIS_VERSION, REDIS_VERSION_NUM = env.redis.REDIS_VERSION_NUM,
}
local redis = setmt({}, {__index = function(_, k)
  local v = api[k]
  if v == nil then
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end
  return v
end, __newindex = deny, __metatable = false})
local load_env = setmt({redis = redis}, {__index = function(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end, __newindex = deny, __metatable = false})
local meta = {__index = env, __newindex = deny, __metatable = false}
local lib_env = setmt({}, meta)
return lib_env, meta, load_env
"#;

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

const NAME_ERR: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

impl Functions {
    pub fn new(busy: Arc<Busy>) -> Functions {
        Self::build(busy, Arc::new(Shared::default())).expect("the function VM builds")
    }

    fn build(busy: Arc<Busy>, shared: Arc<Shared>) -> mlua::Result<Functions> {
        let vm = new_vm(shared, busy.clone())?;
        let pending: Arc<parking_lot::Mutex<Vec<Registered>>> = Default::default();
        let loading = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let p = pending.clone();
        let during_load = loading.clone();
        let register = vm.lua.create_function(move |lua, args: MultiValue| {
            if !during_load.load(std::sync::atomic::Ordering::Relaxed) {
                return err_table(
                    lua,
                    "ERR redis.register_function can only be called on FUNCTION LOAD command",
                );
            }
            Ok(match parse_register(lua, args) {
                Ok(f) => {
                    let mut p = p.lock();
                    if p.iter().any(|x| x.0 == f.0) {
                        err_table(lua, "ERR Function already exists in the library")?
                    } else {
                        p.push(f);
                        Value::Nil
                    }
                }
                Err(m) => err_table(lua, &m)?,
            })
        })?;
        let raise = vm
            .lua
            .load("local f = ... return function(...) local e = f(...) if e then error(e) end end")
            .set_name("@picket")
            .call::<Function>(register)?;
        let log = vm.lua.create_function(|_, (level, msg): (i64, String)| {
            tracing::info!(target: "script", "{level} {msg}");
            Ok(())
        })?;
        let (lib_env, env_meta, load_env): (Table, Table, Table) = vm
            .lua
            .load(LOADER)
            .set_name("@picket")
            .call((vm.env.clone(), raise, log))?;
        vm.lua.set_named_registry_value("picket.lib_env", lib_env)?;
        Ok(Functions {
            vm,
            env_meta,
            load_env,
            libraries: BTreeMap::new(),
            index: BTreeMap::new(),
            busy,
            pending,
            loading,
        })
    }

    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    pub fn vm_memory(&self) -> usize {
        self.vm.lua.used_memory()
    }

    /// Every library's code, by library name (what a snapshot and FUNCTION DUMP hold).
    pub fn codes(&self) -> Vec<Bytes> {
        self.libraries.values().map(|l| l.code.clone()).collect()
    }

    pub fn has_library(&self, name: &str) -> bool {
        self.libraries.contains_key(&name.to_ascii_lowercase())
    }

    pub fn library_count(&self) -> usize {
        self.libraries.len()
    }

    /// Memory of the libraries' code and function entries (used_memory_functions).
    pub fn code_memory(&self) -> usize {
        let libs: usize = self
            .libraries
            .values()
            .map(|l| l.code.len() + l.name.len() + 64)
            .sum();
        libs + self.index.len() * 96
    }

    pub fn flush(&mut self) {
        if let Ok(f) = Self::build(self.busy.clone(), self.vm.shared.clone()) {
            *self = f;
        }
    }

    /// Libraries and functions are found by name in any case, as Redis finds them.
    pub fn delete(&mut self, name: &str) -> bool {
        match self.libraries.remove(&name.to_ascii_lowercase()) {
            Some(lib) => {
                for f in &lib.functions {
                    self.index.remove(&f.name.to_ascii_lowercase());
                }
                true
            }
            None => false,
        }
    }

    /// FUNCTION LOAD: the library's name, or the error reply.
    pub fn load(&mut self, code: &[u8], replace: bool) -> Result<String, String> {
        let name = library_name(code)?;
        if self.has_library(&name) && !replace {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let lib_env: Table = self
            .vm
            .lua
            .named_registry_value("picket.lib_env")
            .map_err(|e| e.to_string())?;
        let src = super::shebang::lua_source(code);
        let chunk = self
            .vm
            .lua
            .load(&*src)
            .set_name("@user_function")
            .set_environment(lib_env)
            .into_function()
            .map_err(|e| format!("ERR Error compiling function: {}", syntax_text(&e)))?;
        self.pending.lock().clear();
        let _ = self.env_meta.raw_set("__index", self.load_env.clone());
        self.loading
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // Loading runs the library's top level: Redis gives it 500 ms.
        *self.vm.shared.load_deadline.lock() = Some(std::time::Instant::now() + LOAD_TIMEOUT);
        let r: mlua::Result<MultiValue> = self.vm.run.call(chunk);
        *self.vm.shared.load_deadline.lock() = None;
        self.loading
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let _ = self.env_meta.raw_set("__index", self.vm.env.clone());
        let registered = std::mem::take(&mut *self.pending.lock());
        let vals: Vec<Value> = r
            .map_err(|e| format!("ERR Error registering functions: {e}"))?
            .into_iter()
            .collect();
        if !matches!(vals.first(), Some(Value::Boolean(true))) {
            let msg = match vals.get(1) {
                Some(Value::Table(t)) => t.raw_get::<String>("err").unwrap_or_default(),
                _ => "ERR unknown error".into(),
            };
            return Err(format!("ERR Error registering functions: {msg}"));
        }
        if registered.is_empty() {
            return Err("ERR No functions registered".into());
        }
        let key = name.to_ascii_lowercase();
        for (f, ..) in &registered {
            if let Some(owner) = self.index.get(&f.to_ascii_lowercase()) {
                if owner != &key {
                    return Err(format!("ERR Function {f} already exists"));
                }
            }
        }
        self.delete(&name);
        let functions = registered
            .into_iter()
            .map(|(fname, description, flags, func)| {
                self.index.insert(fname.to_ascii_lowercase(), key.clone());
                FunctionInfo {
                    name: fname,
                    description,
                    flags,
                    func,
                }
            })
            .collect();
        self.libraries.insert(
            key,
            Library {
                name: name.clone(),
                code: Bytes::copy_from_slice(code),
                functions,
            },
        );
        Ok(name)
    }

    pub fn find(&self, fname: &str) -> Option<&FunctionInfo> {
        let lib = self.index.get(&fname.to_ascii_lowercase())?;
        self.libraries
            .get(lib)?
            .functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(fname))
    }

    /// FCALL: runs `fname` (it must exist) for `host`.
    pub fn call(
        &mut self,
        host: &mut dyn Host,
        fname: &str,
        keys: &[Bytes],
        args: &[Bytes],
        out: &mut Reply,
    ) {
        let Some(func) = self.find(fname).map(|f| f.func.clone()) else {
            return out.error("ERR Function not found");
        };
        let lua = &self.vm.lua;
        let table = |items: &[Bytes]| -> mlua::Result<Table> {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, a) in items.iter().enumerate() {
                t.raw_set(i + 1, lua.create_string(a)?)?;
            }
            Ok(t)
        };
        let (k, a) = match (table(keys), table(args)) {
            (Ok(k), Ok(a)) => (k, a),
            (Err(e), _) | (_, Err(e)) => return out.error(&format!("ERR {e}")),
        };
        let fcall = self.vm.fcall.clone();
        let r = run_scoped(&self.vm, host, true, |_| {
            fcall.call::<MultiValue>((func, k, a))
        });
        let resp3 = self.vm.shared.resp3.load(Ordering::Relaxed);
        match r {
            Ok(v) => {
                let mut it = v.into_iter();
                let ok = matches!(it.next(), Some(Value::Boolean(true)));
                let v = it.next().unwrap_or(Value::Nil);
                if ok {
                    convert::lua_to_reply(&v, out, resp3)
                } else {
                    out.error(&error_reply(&v, fname))
                }
            }
            Err(e) => out.error(&format!("ERR {}", super::sandbox::error_text(&e))),
        }
    }
}

fn err_table(lua: &Lua, msg: &str) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    Ok(Value::Table(t))
}

type Registered = (String, Option<String>, ScriptFlags, Function);

/// How long a library's top level may run at FUNCTION LOAD.
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// `redis.register_function(name, f)` or `redis.register_function{function_name=...,
/// callback=..., flags={...}, description=...}`.
fn parse_register(_lua: &Lua, args: MultiValue) -> Result<Registered, String> {
    let args: Vec<Value> = args.into_iter().collect();
    let (name, func, flags, description) = match args.as_slice() {
        [Value::Table(t)] => {
            let (mut name, mut func, mut flags, mut desc) = (None, None, ScriptFlags::default(), None);
            for pair in t.pairs::<String, Value>() {
                let (k, v) = pair.map_err(|_| "ERR named argument key given to redis.register_function is not a string".to_string())?;
                match (k.as_str(), v) {
                    ("function_name", Value::String(s)) => name = Some(s.to_string_lossy()),
                    ("function_name", _) => return Err("ERR function_name argument given to redis.register_function must be a string".into()),
                    ("callback", Value::Function(f)) => func = Some(f),
                    ("callback", _) => return Err("ERR callback argument given to redis.register_function must be a function".into()),
                    ("description", Value::String(s)) => desc = Some(s.to_string_lossy()),
                    ("description", _) => return Err("ERR description argument given to redis.register_function must be a string".into()),
                    ("flags", Value::Table(ft)) => {
                        for f in ft.sequence_values::<Value>() {
                            let ok = matches!(&f, Ok(Value::String(s)) if flags.set(&s.to_string_lossy()));
                            if !ok {
                                return Err("ERR unknown flag given".into());
                            }
                        }
                    }
                    ("flags", _) => return Err("ERR flags argument to redis.register_function must be a table representing function flags".into()),
                    _ => return Err("ERR unknown argument given to redis.register_function".into()),
                }
            }
            let name = name.ok_or("ERR redis.register_function must get a function name argument")?;
            let func = func.ok_or("ERR redis.register_function must get a callback argument")?;
            (name, func, flags, desc)
        }
        [name, func] => {
            let Value::String(name) = name else {
                return Err("ERR first argument to redis.register_function must be a string".into());
            };
            let Value::Function(func) = func else {
                return Err("ERR second argument to redis.register_function must be a function".into());
            };
            (name.to_string_lossy(), func.clone(), ScriptFlags::default(), None)
        }
        [_] => return Err("ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".into()),
        _ => return Err("ERR wrong number of arguments to redis.register_function".into()),
    };
    if !valid_name(&name) {
        return Err(NAME_ERR.into());
    }
    Ok((
        name,
        description,
        ScriptFlags {
            shebang: true,
            ..flags
        },
        func,
    ))
}

/// The library name from `#!lua name=<name>`.
pub fn library_name(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let line = String::from_utf8_lossy(&code[2..end]).into_owned();
    let (engine, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    let mut name = None;
    for p in rest.split(' ').filter(|p| !p.is_empty()) {
        match p.strip_prefix("name=") {
            Some(_) if name.is_some() => {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                )
            }
            // A quoted name is the name without its quotes.
            Some(n) => {
                name = Some(
                    n.strip_prefix('"')
                        .and_then(|n| n.strip_suffix('"'))
                        .unwrap_or(n)
                        .to_string(),
                )
            }
            None => return Err(format!("ERR Invalid metadata value given: {p}")),
        }
    }
    let name = name.ok_or("ERR Library name was not given")?;
    if !valid_name(&name) {
        return Err(NAME_ERR.into());
    }
    Ok(name)
}
