//! Reply conversion as Redis 7.0 does it, both ways.
//!
//! A command's reply becomes a Lua value for `redis.call` (RESP2: integer → number, bulk →
//! string, nil → false, status → `{ok=...}`, error → `{err=...}`, array → table; RESP3 adds
//! `{map=...}`, `{set=...}`, `{double=...}`, booleans, `{big_number=...}`,
//! `{verbatim_string=...}`, null → nil). A script's result becomes a reply in the calling
//! client's protocol (numbers truncated to integers, tables up to the first nil, `{err=...}`,
//! `{ok=...}` and the RESP3 forms, RESP2 clients getting their RESP2 shapes).

use mlua::{Lua, Table, Value};
use picket::resp::Reply;

/// Tables nested deeper than this are not followed (Redis's Lua stack would run out first).
const MAX_DEPTH: usize = 1000;

/// A reply read back from its RESP bytes.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn line(&mut self) -> Option<&'a [u8]> {
        let rest = self.b.get(self.pos..)?;
        let n = rest.windows(2).position(|w| w == b"\r\n")?;
        self.pos += n + 2;
        Some(&rest[..n])
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n + 2;
        Some(s)
    }
}

fn num(s: &[u8]) -> Option<i64> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// One RESP reply as the Lua value `redis.call` returns.
pub fn reply_to_lua(lua: &Lua, resp: &[u8]) -> mlua::Result<Value> {
    let mut c = Cursor { b: resp, pos: 0 };
    read_value(lua, &mut c, 0)
}

fn bad() -> mlua::Error {
    mlua::Error::RuntimeError("malformed reply".into())
}

fn read_value(lua: &Lua, c: &mut Cursor, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(bad());
    }
    let line = c.line().ok_or_else(bad)?;
    let (&kind, rest) = line.split_first().ok_or_else(bad)?;
    Ok(match kind {
        b':' => Value::Integer(num(rest).ok_or_else(bad)?),
        b'$' | b'=' => match num(rest).ok_or_else(bad)? {
            n if n < 0 => Value::Boolean(false),
            n => {
                let s = c.take(n as usize).ok_or_else(bad)?;
                if kind == b'=' {
                    let t = lua.create_table()?;
                    let (fmt, text) = if s.len() >= 4 {
                        s.split_at(4)
                    } else {
                        (s, &b""[..])
                    };
                    t.raw_set("format", lua.create_string(&fmt[..fmt.len().min(3)])?)?;
                    t.raw_set("string", lua.create_string(text)?)?;
                    tagged(lua, "verbatim_string", Value::Table(t))?
                } else {
                    Value::String(lua.create_string(s)?)
                }
            }
        },
        b'+' => tagged(lua, "ok", Value::String(lua.create_string(rest)?))?,
        b'-' => tagged(lua, "err", Value::String(lua.create_string(rest)?))?,
        b'*' | b'~' | b'>' => match num(rest).ok_or_else(bad)? {
            n if n < 0 => Value::Boolean(false),
            n => {
                let t = lua.create_table()?;
                for i in 1..=n {
                    let v = read_value(lua, c, depth + 1)?;
                    if kind == b'~' {
                        t.raw_set(v, true)?;
                    } else {
                        t.raw_set(i, v)?;
                    }
                }
                if kind == b'~' {
                    tagged(lua, "set", Value::Table(t))?
                } else {
                    Value::Table(t)
                }
            }
        },
        b'%' => {
            let n = num(rest).ok_or_else(bad)?;
            let t = lua.create_table()?;
            for _ in 0..n.max(0) {
                let k = read_value(lua, c, depth + 1)?;
                let v = read_value(lua, c, depth + 1)?;
                t.raw_set(k, v)?;
            }
            tagged(lua, "map", Value::Table(t))?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(rest == b"t"),
        b',' => {
            let d: f64 = match rest {
                b"inf" => f64::INFINITY,
                b"-inf" => f64::NEG_INFINITY,
                s => std::str::from_utf8(s)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(f64::NAN),
            };
            tagged(lua, "double", Value::Number(d))?
        }
        b'(' => tagged(lua, "big_number", Value::String(lua.create_string(rest)?))?,
        b'|' => {
            // An attribute: skipped, the value after it is the reply.
            let n = num(rest).ok_or_else(bad)?;
            for _ in 0..n.max(0) * 2 {
                read_value(lua, c, depth + 1)?;
            }
            read_value(lua, c, depth)?
        }
        _ => return Err(bad()),
    })
}

fn tagged(lua: &Lua, key: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(key, v)?;
    Ok(Value::Table(t))
}

/// Writes a script's result to `out` (in `out`'s protocol). Booleans follow the script's own
/// protocol (`redis.setresp(3)`: RESP3 booleans; otherwise true is 1 and false is null).
pub fn lua_to_reply(v: &Value, out: &mut Reply, script_resp3: bool) {
    let mut w = Writer { out, script_resp3 };
    w.value(v, 0)
}

struct Writer<'a> {
    out: &'a mut Reply,
    script_resp3: bool,
}

fn write_value(v: &Value, w: &mut Writer, depth: usize) {
    w.value(v, depth)
}

impl Writer<'_> {
    fn value(&mut self, v: &Value, depth: usize) {
        let out = &mut *self.out;
        match v {
            Value::String(s) => out.bulk(&s.as_bytes()),
            Value::Integer(n) => out.int(*n),
            Value::Number(n) => out.int(truncate(*n)),
            Value::Boolean(b) if self.script_resp3 => out.boolean(*b),
            Value::Boolean(true) => out.int(1),
            Value::Table(t) if depth < MAX_DEPTH => write_table(t, self, depth),
            Value::Table(_) => out.error("ERR reached lua stack limit"),
            _ => out.null(),
        }
    }
}

/// Lua number → integer as Redis converts it (a C cast: truncated, saturated here).
fn truncate(n: f64) -> i64 {
    if n.is_nan() {
        i64::MIN
    } else {
        n as i64
    }
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get(name).unwrap_or(Value::Nil)
}

/// A status or big number as one protocol line: CR and LF become spaces, as Redis does.
fn one_line(s: &[u8]) -> String {
    String::from_utf8_lossy(s).replace(['\r', '\n'], " ")
}

fn write_table(t: &Table, w: &mut Writer, depth: usize) {
    let out = &mut *w.out;
    if let Value::String(e) = field(t, "err") {
        let msg = String::from_utf8_lossy(&e.as_bytes()).into_owned();
        return if super::engine::counted_error(&Value::Table(t.clone())) {
            out.error_counted(&msg)
        } else {
            out.error(&msg)
        };
    }
    if let Value::String(s) = field(t, "ok") {
        return out.simple(&one_line(&s.as_bytes()));
    }
    if let Some(d) = number(&field(t, "double")) {
        return out.double(d);
    }
    if let Value::String(s) = field(t, "big_number") {
        let s = one_line(&s.as_bytes());
        if out.resp3 {
            out.raw(b"(");
            out.raw(s.as_bytes());
            return out.raw(b"\r\n");
        }
        return out.bulk(s.as_bytes());
    }
    if let Value::Table(m) = field(t, "map") {
        let pairs: Vec<(Value, Value)> = m.pairs().filter_map(|p| p.ok()).collect();
        if out.resp3 {
            out.map(pairs.len());
        } else {
            out.array(pairs.len() * 2);
        }
        for (k, v) in &pairs {
            write_value(k, w, depth + 1);
            write_value(v, w, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = field(t, "set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(|p| p.ok().map(|p| p.0))
            .collect();
        if out.resp3 {
            out.set(keys.len());
        } else {
            out.array(keys.len());
        }
        for k in &keys {
            write_value(k, w, depth + 1);
        }
        return;
    }
    if let Value::Table(vs) = field(t, "verbatim_string") {
        if let (Value::String(f), Value::String(s)) = (field(&vs, "format"), field(&vs, "string")) {
            if out.resp3 {
                let mut b = f.as_bytes().to_vec();
                b.push(b':');
                b.extend_from_slice(&s.as_bytes());
                out.raw(format!("={}\r\n", b.len()).as_bytes());
                out.raw(&b);
                return out.raw(b"\r\n");
            }
            return out.bulk(&s.as_bytes());
        }
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        write_value(v, w, depth + 1);
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Integer(n) => Some(*n as f64),
        _ => None,
    }
}
