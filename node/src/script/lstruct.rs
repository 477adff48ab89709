//! The `struct` library as Redis bundles it (Roberto Ierusalimschy's struct 0.2):
//! `pack(fmt, ...)`, `unpack(fmt, s[, pos])`, `size(fmt)`. Formats: `<` `>` `=` `!`
//! (endianness; alignment is not applied), `b B h H l L T i[n] I[n] f d s c[n] x`, spaces.

use mlua::{Lua, MultiValue, Table, Value};

#[derive(Clone, Copy)]
enum Item {
    Int {
        size: usize,
        signed: bool,
    },
    Float,
    Double,
    /// Zero-terminated string.
    Zstr,
    /// Fixed-length string (0: the length is the previous number).
    Chars(usize),
    Pad,
}

fn parse(fmt: &[u8]) -> Result<(bool, Vec<Item>), String> {
    let mut little = cfg!(target_endian = "little");
    let mut items = Vec::new();
    let mut i = 0;
    let num = |i: &mut usize, default: usize| {
        let start = *i;
        while *i < fmt.len() && fmt[*i].is_ascii_digit() {
            *i += 1;
        }
        std::str::from_utf8(&fmt[start..*i])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        let item = match c {
            b' ' => continue,
            b'<' => {
                little = true;
                continue;
            }
            b'>' => {
                little = false;
                continue;
            }
            b'=' => {
                little = cfg!(target_endian = "little");
                continue;
            }
            b'!' => {
                num(&mut i, 8);
                continue;
            }
            b'b' | b'B' => Item::Int {
                size: 1,
                signed: c == b'b',
            },
            b'h' | b'H' => Item::Int {
                size: 2,
                signed: c == b'h',
            },
            b'l' | b'L' | b'T' => Item::Int {
                size: 8,
                signed: c == b'l',
            },
            b'i' | b'I' => {
                let size = num(&mut i, 4);
                if !(1..=8).contains(&size) {
                    return Err(format!("integral size {size} is larger than limit of 8"));
                }
                Item::Int {
                    size,
                    signed: c == b'i',
                }
            }
            b'f' => Item::Float,
            b'd' => Item::Double,
            b's' => Item::Zstr,
            b'c' => Item::Chars(num(&mut i, 1)),
            b'x' => Item::Pad,
            c => return Err(format!("invalid format option '{}'", c as char)),
        };
        items.push(item);
    }
    Ok((little, items))
}

fn put_int(out: &mut Vec<u8>, v: i64, size: usize, little: bool) {
    let b = v.to_le_bytes();
    let mut bytes: Vec<u8> = b[..size].to_vec();
    if !little {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn pack(fmt: &[u8], args: &[Value]) -> Result<Vec<u8>, String> {
    let (little, items) = parse(fmt)?;
    let mut out = Vec::new();
    let mut args = args.iter();
    let bad = |n: usize| format!("bad argument #{n} to 'pack' (number expected, got no value)");
    let mut argn = 1;
    for item in items {
        match item {
            Item::Pad => {
                out.push(0);
                continue;
            }
            _ => argn += 1,
        }
        let v = args.next().cloned().unwrap_or(Value::Nil);
        match item {
            Item::Int { size, .. } => put_int(
                &mut out,
                number(&v).ok_or_else(|| bad(argn))? as i64,
                size,
                little,
            ),
            Item::Float => {
                let b = (number(&v).ok_or_else(|| bad(argn))? as f32).to_bits() as i64;
                put_int(&mut out, b, 4, little)
            }
            Item::Double => put_int(
                &mut out,
                number(&v).ok_or_else(|| bad(argn))?.to_bits() as i64,
                8,
                little,
            ),
            Item::Zstr | Item::Chars(_) => {
                let Value::String(s) = &v else {
                    return Err(format!(
                        "bad argument #{argn} to 'pack' (string expected, got {})",
                        v.type_name()
                    ));
                };
                let b = s.as_bytes();
                match item {
                    Item::Zstr => {
                        out.extend_from_slice(&b);
                        out.push(0);
                    }
                    Item::Chars(0) => out.extend_from_slice(&b),
                    Item::Chars(n) => {
                        if b.len() < n {
                            return Err(format!(
                                "bad argument #{argn} to 'pack' (string too short)"
                            ));
                        }
                        out.extend_from_slice(&b[..n]);
                    }
                    _ => {}
                }
            }
            Item::Pad => {}
        }
    }
    Ok(out)
}

fn unpack(lua: &Lua, fmt: &[u8], s: &[u8], pos: usize) -> Result<MultiValue, String> {
    let (little, items) = parse(fmt)?;
    let mut vals = Vec::new();
    let mut p = pos;
    let short = || "data string too short".to_string();
    let mut last_num: Option<usize> = None;
    let s_err = |e: mlua::Error| e.to_string();
    for item in items {
        match item {
            Item::Int { size, signed } => {
                let mut b = s.get(p..p + size).ok_or_else(short)?.to_vec();
                if !little {
                    b.reverse();
                }
                let mut v = b.iter().rev().fold(0u64, |a, &c| a << 8 | c as u64);
                if signed && size < 8 && v & (1 << (size * 8 - 1)) != 0 {
                    v |= !0u64 << (size * 8);
                }
                let n = if signed { v as i64 as f64 } else { v as f64 };
                last_num = Some(n as usize);
                vals.push(Value::Number(n));
                p += size;
            }
            Item::Float | Item::Double => {
                let size = if matches!(item, Item::Float) { 4 } else { 8 };
                let mut b = s.get(p..p + size).ok_or_else(short)?.to_vec();
                if !little {
                    b.reverse();
                }
                let bits = b.iter().rev().fold(0u64, |a, &c| a << 8 | c as u64);
                let n = if size == 4 {
                    f32::from_bits(bits as u32) as f64
                } else {
                    f64::from_bits(bits)
                };
                vals.push(Value::Number(n));
                p += size;
            }
            Item::Zstr => {
                let rest = s.get(p..).ok_or_else(short)?;
                let n = rest
                    .iter()
                    .position(|&c| c == 0)
                    .ok_or_else(|| "unfinished string in data".to_string())?;
                vals.push(Value::String(lua.create_string(&rest[..n]).map_err(s_err)?));
                p += n + 1;
            }
            Item::Chars(n) => {
                let n = if n == 0 {
                    last_num.take().unwrap_or(0)
                } else {
                    n
                };
                let b = s.get(p..p + n).ok_or_else(short)?;
                vals.push(Value::String(lua.create_string(b).map_err(s_err)?));
                p += n;
            }
            Item::Pad => p += 1,
        }
    }
    vals.push(Value::Integer(p as i64 + 1));
    Ok(MultiValue::from_iter(vals))
}

fn size(fmt: &[u8]) -> Result<usize, String> {
    let (_, items) = parse(fmt)?;
    items.iter().try_fold(0, |a, i| match i {
        Item::Int { size, .. } => Ok(a + size),
        Item::Float => Ok(a + 4),
        Item::Double => Ok(a + 8),
        Item::Chars(n) if *n > 0 => Ok(a + n),
        Item::Pad => Ok(a + 1),
        _ => Err("options 'c0' - 's' have undefined sizes".to_string()),
    })
}

fn answer(lua: &Lua, r: Result<MultiValue, String>) -> mlua::Result<MultiValue> {
    Ok(match r {
        Ok(mut v) => {
            v.push_front(Value::Boolean(true));
            v
        }
        Err(m) => {
            MultiValue::from_iter([Value::Boolean(false), Value::String(lua.create_string(m)?)])
        }
    })
}

/// Builds the `struct` table (functions answer `(true, ...)` or `(false, message)`).
pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, (fmt, rest): (mlua::LuaString, MultiValue)| {
            let v: Vec<Value> = rest.into_iter().collect();
            let r = pack(&fmt.as_bytes(), &v).and_then(|b| {
                lua.create_string(&b)
                    .map(|s| MultiValue::from_iter([Value::String(s)]))
                    .map_err(|e| e.to_string())
            });
            answer(lua, r)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(
            |lua, (fmt, s, pos): (mlua::LuaString, mlua::LuaString, Option<i64>)| {
                let pos = (pos.unwrap_or(1).max(1) - 1) as usize;
                answer(lua, unpack(lua, &fmt.as_bytes(), &s.as_bytes(), pos))
            },
        )?,
    )?;
    t.set(
        "size",
        lua.create_function(|lua, fmt: mlua::LuaString| {
            answer(
                lua,
                size(&fmt.as_bytes()).map(|n| MultiValue::from_iter([Value::Integer(n as i64)])),
            )
        })?,
    )?;
    Ok(t)
}
