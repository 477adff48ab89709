//! The `cjson` library as Redis bundles it (lua-cjson 2.1): `encode`, `decode`, `null`,
//! the settings functions (Redis 7.0's copy has no `array_mt`: an empty table, decoded from
//! `[]` or not, encodes as `{}`). Numbers are written with
//! `%.14g`, keys in Lua's own iteration order, `/` escaped, sparse arrays refused as lua-cjson
//! refuses them; decoding errors are lua-cjson's (`Expected value but found T_END at
//! character 2`).

use mlua::{LightUserData, Lua, Table, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const MAX_DEPTH: usize = 1000;

/// `%.*g` through the C library, as lua-cjson formats numbers.
pub fn fmt_g(d: f64, precision: i32) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the buffer and its length are valid; the format takes one int and one double.
    let n = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%.*g".as_ptr(),
            precision as libc::c_int,
            d,
        )
    };
    String::from_utf8_lossy(&buf[..(n.max(0) as usize).min(buf.len() - 1)]).into_owned()
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn escape(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            8 => out.extend_from_slice(b"\\b"),
            12 => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// lua-cjson's settings a script may change (the VM keeps them between scripts, as Redis).
struct Settings {
    encode_max_depth: AtomicUsize,
    decode_max_depth: AtomicUsize,
    /// 0: refused, 1: written as `nan`/`inf`, 2: written as `null`.
    encode_invalid_numbers: AtomicUsize,
}

struct Encoder<'a> {
    settings: &'a Settings,
    out: Vec<u8>,
}

impl Encoder<'_> {
    fn number(&mut self, n: f64) -> Result<(), String> {
        if !n.is_finite() {
            match self.settings.encode_invalid_numbers.load(Ordering::Relaxed) {
                0 => return Err("Cannot serialise number: must not be NaN or Inf".into()),
                2 => self.out.extend_from_slice(b"null"),
                _ if n.is_nan() => self.out.extend_from_slice(b"nan"),
                _ if n > 0.0 => self.out.extend_from_slice(b"inf"),
                _ => self.out.extend_from_slice(b"-inf"),
            }
            return Ok(());
        }
        self.out.extend_from_slice(fmt_g(n, 14).as_bytes());
        Ok(())
    }

    fn value(&mut self, v: &Value, depth: usize) -> Result<(), String> {
        match v {
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::Boolean(b) => self
                .out
                .extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Integer(n) => self.number(*n as f64)?,
            Value::Number(n) => self.number(*n)?,
            Value::String(s) => escape(&s.as_bytes(), &mut self.out),
            Value::LightUserData(u) if u.0.is_null() => self.out.extend_from_slice(b"null"),
            Value::Table(t) => self.table(t, depth + 1)?,
            other => {
                return Err(format!(
                    "Cannot serialise {}: type not supported",
                    other.type_name()
                ))
            }
        }
        Ok(())
    }

    /// The array length of `t` when it is an array (`None`: an object), as lua-cjson decides.
    fn array_len(&self, t: &Table) -> Result<Option<usize>, String> {
        let (mut max, mut items) = (0usize, 0usize);
        for pair in t.pairs::<Value, Value>() {
            let (k, _) = pair.map_err(|e| e.to_string())?;
            let idx = match k {
                Value::Integer(i) if i >= 1 => i as usize,
                Value::Number(f) if f >= 1.0 && f.fract() == 0.0 => f as usize,
                _ => return Ok(None),
            };
            max = max.max(idx);
            items += 1;
        }
        if max > 10 && max > items * 2 {
            return Err("Cannot serialise table: excessively sparse array".into());
        }
        Ok(if items > 0 { Some(max) } else { None })
    }

    fn table(&mut self, t: &Table, depth: usize) -> Result<(), String> {
        if depth > self.settings.encode_max_depth.load(Ordering::Relaxed) {
            return Err(format!("Cannot serialise, excessive nesting ({depth})"));
        }
        if let Some(len) = self.array_len(t)? {
            self.out.push(b'[');
            for i in 1..=len {
                if i > 1 {
                    self.out.push(b',');
                }
                let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                self.value(&v, depth)?;
            }
            self.out.push(b']');
            return Ok(());
        }
        self.out.push(b'{');
        let mut first = true;
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair.map_err(|e| e.to_string())?;
            if !first {
                self.out.push(b',');
            }
            first = false;
            match &k {
                Value::String(s) => escape(&s.as_bytes(), &mut self.out),
                Value::Integer(n) => escape(fmt_g(*n as f64, 14).as_bytes(), &mut self.out),
                Value::Number(n) => escape(fmt_g(*n, 14).as_bytes(), &mut self.out),
                _ => {
                    return Err(
                        "Cannot serialise table: table key must be a number or string".into(),
                    )
                }
            }
            self.out.push(b':');
            self.value(&v, depth)?;
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// lua-cjson's token names, for its error texts.
#[derive(Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num,
    Bool,
    Null,
    Colon,
    Comma,
    End,
}

fn tok_name(t: Tok) -> &'static str {
    match t {
        Tok::ObjBegin => "T_OBJ_BEGIN",
        Tok::ObjEnd => "T_OBJ_END",
        Tok::ArrBegin => "T_ARR_BEGIN",
        Tok::ArrEnd => "T_ARR_END",
        Tok::Str => "T_STRING",
        Tok::Num => "T_NUMBER",
        Tok::Bool => "T_BOOLEAN",
        Tok::Null => "T_NULL",
        Tok::Colon => "T_COLON",
        Tok::Comma => "T_COMMA",
        Tok::End => "T_END",
    }
}

struct Decoder<'a> {
    lua: &'a Lua,
    s: &'a [u8],
    pos: usize,
    max_depth: usize,
}

/// A token with its value and its start (1-based character index).
struct Token {
    kind: Tok,
    at: usize,
    value: Value,
}

impl Decoder<'_> {
    fn fail(&self, expected: &str, t: Result<&Token, (&str, usize)>) -> String {
        match t {
            Ok(t) => format!(
                "Expected {expected} but found {} at character {}",
                tok_name(t.kind),
                t.at
            ),
            Err((msg, at)) => format!("Expected {expected} but found {msg} at character {at}"),
        }
    }

    fn next(&mut self) -> Result<Token, (&'static str, usize)> {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let at = self.pos + 1;
        let Some(&c) = self.s.get(self.pos) else {
            return Ok(Token {
                kind: Tok::End,
                at,
                value: Value::Nil,
            });
        };
        let simple = |kind| Token {
            kind,
            at,
            value: Value::Nil,
        };
        let t = match c {
            b'{' => simple(Tok::ObjBegin),
            b'}' => simple(Tok::ObjEnd),
            b'[' => simple(Tok::ArrBegin),
            b']' => simple(Tok::ArrEnd),
            b':' => simple(Tok::Colon),
            b',' => simple(Tok::Comma),
            b'"' => return self.string(at),
            b'-' | b'0'..=b'9' | b'i' | b'I' | b'n' | b'N' if !self.rest().starts_with(b"null") => {
                return self.number(at)
            }
            _ => {
                for (word, kind, v) in [
                    (&b"true"[..], Tok::Bool, Value::Boolean(true)),
                    (b"false", Tok::Bool, Value::Boolean(false)),
                    (b"null", Tok::Null, null()),
                ] {
                    if self.rest().starts_with(word) {
                        self.pos += word.len();
                        return Ok(Token { kind, at, value: v });
                    }
                }
                return Err(("invalid token", at));
            }
        };
        self.pos += 1;
        Ok(t)
    }

    fn rest(&self) -> &[u8] {
        &self.s[self.pos..]
    }

    fn number(&mut self, at: usize) -> Result<Token, (&'static str, usize)> {
        let len = self
            .rest()
            .iter()
            .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(self.rest().len());
        let text = std::str::from_utf8(&self.rest()[..len]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(n) if !text.is_empty() => {
                self.pos += len;
                Ok(Token {
                    kind: Tok::Num,
                    at,
                    value: Value::Number(n),
                })
            }
            _ => Err(("invalid number", at)),
        }
    }

    fn string(&mut self, at: usize) -> Result<Token, (&'static str, usize)> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err(("unexpected end of string", at));
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err(("invalid escape code", at));
                    };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => self
                            .unicode(&mut out)
                            .ok_or(("invalid unicode escape code", at))?,
                        _ => return Err(("invalid escape code", at)),
                    }
                }
                c => out.push(c),
            }
        }
        let s = self
            .lua
            .create_string(&out)
            .map_err(|_| ("out of memory", at))?;
        Ok(Token {
            kind: Tok::Str,
            at,
            value: Value::String(s),
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = std::str::from_utf8(self.s.get(self.pos..self.pos + 4)?).ok()?;
        let v = u32::from_str_radix(h, 16).ok()?;
        self.pos += 4;
        Some(v)
    }

    fn unicode(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let mut cp = self.hex4()?;
        if (0xD800..0xDC00).contains(&cp) {
            if self.rest().starts_with(b"\\u") {
                self.pos += 2;
                let lo = self.hex4()?;
                if !(0xDC00..0xE000).contains(&lo) {
                    return None;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
                return None;
            }
        } else if (0xDC00..0xE000).contains(&cp) {
            return None;
        }
        let ch = char::from_u32(cp)?;
        let mut b = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
        Some(())
    }

    fn value(&mut self, t: Token, depth: usize) -> Result<Value, String> {
        match t.kind {
            Tok::ObjBegin | Tok::ArrBegin if depth >= self.max_depth => Err(format!(
                "Found too many nested data structures ({}) at character {}",
                depth + 1,
                t.at
            )),
            Tok::ObjBegin => self.object(depth + 1),
            Tok::ArrBegin => self.array(depth + 1),
            Tok::Str | Tok::Num | Tok::Bool | Tok::Null => Ok(t.value),
            _ => Err(self.fail("value", Ok(&t))),
        }
    }

    fn token(&mut self, expected: &str) -> Result<Token, String> {
        self.next().map_err(|e| self.fail(expected, Err(e)))
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        let t = self.lua.create_table().map_err(|e| e.to_string())?;
        let mut tok = self.token("object key string")?;
        if tok.kind == Tok::ObjEnd {
            return Ok(Value::Table(t));
        }
        loop {
            if tok.kind != Tok::Str {
                return Err(self.fail("object key string", Ok(&tok)));
            }
            let key = tok.value;
            let colon = self.token("colon")?;
            if colon.kind != Tok::Colon {
                return Err(self.fail("colon", Ok(&colon)));
            }
            let vt = self.token("value")?;
            let v = self.value(vt, depth)?;
            t.raw_set(key, v).map_err(|e| e.to_string())?;
            let sep = self.token("comma or object end")?;
            match sep.kind {
                Tok::ObjEnd => return Ok(Value::Table(t)),
                Tok::Comma => tok = self.token("object key string")?,
                _ => return Err(self.fail("comma or object end", Ok(&sep))),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        let t = self.lua.create_table().map_err(|e| e.to_string())?;
        let mut tok = self.token("value")?;
        if tok.kind == Tok::ArrEnd {
            return Ok(Value::Table(t));
        }
        for i in 1.. {
            let v = self.value(tok, depth)?;
            t.raw_set(i, v).map_err(|e| e.to_string())?;
            let sep = self.token("comma or array end")?;
            match sep.kind {
                Tok::ArrEnd => break,
                Tok::Comma => tok = self.token("value")?,
                _ => return Err(self.fail("comma or array end", Ok(&sep))),
            }
        }
        Ok(Value::Table(t))
    }
}

/// Builds the `cjson` table. Its functions return `(true, result)` or `(false, message)`;
/// the sandbox's wrapper raises the message from the script's line, as lua-cjson does.
pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let settings = Arc::new(Settings {
        encode_max_depth: AtomicUsize::new(MAX_DEPTH),
        decode_max_depth: AtomicUsize::new(MAX_DEPTH),
        encode_invalid_numbers: AtomicUsize::new(0),
    });
    let set = settings.clone();
    t.set(
        "encode",
        lua.create_function(move |lua, v: Value| {
            let mut e = Encoder {
                settings: &set,
                out: Vec::new(),
            };
            Ok(match e.value(&v, 0) {
                Ok(()) => (true, Value::String(lua.create_string(&e.out)?)),
                Err(m) => (false, Value::String(lua.create_string(m)?)),
            })
        })?,
    )?;
    let set = settings.clone();
    t.set(
        "decode",
        lua.create_function(move |lua, s: mlua::LuaString| {
            let bytes = s.as_bytes();
            let mut d = Decoder {
                lua,
                s: &bytes,
                pos: 0,
                max_depth: set.decode_max_depth.load(Ordering::Relaxed),
            };
            let r = d
                .token("value")
                .and_then(|tok| d.value(tok, 0))
                .and_then(|v| {
                    let end = d.token("the end")?;
                    if end.kind != Tok::End {
                        return Err(d.fail("the end", Ok(&end)));
                    }
                    Ok(v)
                });
            Ok(match r {
                Ok(v) => (true, v),
                Err(m) => (false, Value::String(lua.create_string(m)?)),
            })
        })?,
    )?;
    install_settings(lua, &t, &settings)?;
    // The settings that change nothing here (the buffer is not kept, numbers keep 14
    // digits, invalid numbers are read): answered with the value given or the default.
    for (name, default) in [
        ("encode_keep_buffer", Value::Boolean(true)),
        ("encode_number_precision", Value::Integer(14)),
        ("decode_invalid_numbers", Value::Boolean(true)),
    ] {
        t.set(
            name,
            lua.create_function(move |_, v: Option<Value>| {
                Ok((true, v.unwrap_or(default.clone())))
            })?,
        )?;
    }
    t.set(
        "encode_sparse_array",
        lua.create_function(|_, _: mlua::MultiValue| Ok((true, false, 2, 10)))?,
    )?;
    t.set("null", null())?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

/// `cjson.encode_max_depth`, `decode_max_depth` and `encode_invalid_numbers`: each sets
/// its value when given one and returns the value in force.
fn install_settings(lua: &Lua, t: &Table, settings: &Arc<Settings>) -> mlua::Result<()> {
    for (name, decode) in [("encode_max_depth", false), ("decode_max_depth", true)] {
        let set = settings.clone();
        t.set(
            name,
            lua.create_function(move |lua, v: Option<i64>| {
                let slot = if decode {
                    &set.decode_max_depth
                } else {
                    &set.encode_max_depth
                };
                match v {
                    Some(d) if !(1..=i32::MAX as i64).contains(&d) => {
                        let m =
                            "bad argument #1 to '?' (expected integer between 1 and 2147483647)";
                        return Ok((false, Value::String(lua.create_string(m)?)));
                    }
                    Some(d) => slot.store(d as usize, Ordering::Relaxed),
                    None => {}
                }
                Ok((true, Value::Integer(slot.load(Ordering::Relaxed) as i64)))
            })?,
        )?;
    }
    let set = settings.clone();
    t.set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, v: Option<Value>| {
            let slot = &set.encode_invalid_numbers;
            match v {
                Some(Value::Boolean(b)) => slot.store(b as usize, Ordering::Relaxed),
                Some(Value::String(s)) if s.as_bytes().as_ref() == b"null" => {
                    slot.store(2, Ordering::Relaxed)
                }
                Some(Value::Nil) | None => {}
                Some(_) => {
                    let m = "bad argument #1 to '?' (invalid option)";
                    return Ok((false, Value::String(lua.create_string(m)?)));
                }
            }
            Ok((
                true,
                match slot.load(Ordering::Relaxed) {
                    0 => Value::Boolean(false),
                    1 => Value::Boolean(true),
                    _ => Value::String(lua.create_string("null")?),
                },
            ))
        })?,
    )?;
    Ok(())
}
