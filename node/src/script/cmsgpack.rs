//! The `cmsgpack` library as Redis bundles it (lua-cmsgpack 0.4): `pack(...)`,
//! `unpack(s)`, `unpack_one(s[, offset])`, `unpack_limit(s, limit[, offset])`, with its
//! choices: integral numbers as the smallest integer form, others as float when exact,
//! tables with keys 1..n as arrays, nesting past 16 packed as nil.

use mlua::{Lua, MultiValue, Table, Value};

const MAX_NESTING: usize = 16;

fn pack_len(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, b16: u8, b32: u8) {
    if n < fix_max {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn pack_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes())
            }
            0x10000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes())
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes())
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_number(out: &mut Vec<u8>, n: f64) {
    if n.fract() == 0.0 && n >= i64::MIN as f64 && n < i64::MAX as f64 {
        pack_int(out, n as i64);
    } else if (n as f32) as f64 == n || n.is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// The array length of `t` when its keys are exactly 1..n.
fn array_len(t: &Table) -> Option<usize> {
    let (mut count, mut max) = (0usize, 0usize);
    for (k, _) in t.pairs::<Value, Value>().flatten() {
        let i = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(f) if f >= 1.0 && f.fract() == 0.0 => f as usize,
            _ => return None,
        };
        count += 1;
        max = max.max(i);
    }
    (max == count).then_some(count)
}

fn pack_value(out: &mut Vec<u8>, v: &Value, depth: usize) {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => pack_int(out, *n),
        Value::Number(n) => pack_number(out, *n),
        Value::String(s) => {
            let b = s.as_bytes();
            if b.len() < 32 {
                out.push(0xa0 | b.len() as u8);
            } else if b.len() <= 0xff {
                out.extend_from_slice(&[0xd9, b.len() as u8]);
            } else {
                pack_len(out, b.len(), 0xa0, 0, 0xda, 0xdb);
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < MAX_NESTING => match array_len(t) {
            Some(n) => {
                pack_len(out, n, 0x90, 16, 0xdc, 0xdd);
                for i in 1..=n {
                    pack_value(out, &t.raw_get(i).unwrap_or(Value::Nil), depth + 1);
                }
            }
            None => {
                let pairs: Vec<(Value, Value)> = t.pairs().flatten().collect();
                pack_len(out, pairs.len(), 0x80, 16, 0xde, 0xdf);
                for (k, v) in &pairs {
                    pack_value(out, k, depth + 1);
                    pack_value(out, v, depth + 1);
                }
            }
        },
        _ => out.push(0xc0),
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn be(&mut self, n: usize) -> Option<u64> {
        Some(self.take(n)?.iter().fold(0u64, |a, &c| a << 8 | c as u64))
    }
}

fn unpack_value(lua: &Lua, r: &mut Reader, depth: usize) -> Result<Value, &'static str> {
    const BAD: &str = "Missing bytes in input.";
    if depth > 1000 {
        return Err("Bad data format in input.");
    }
    let c = *r.take(1).ok_or(BAD)?.first().ok_or(BAD)?;
    let s = |lua: &Lua, r: &mut Reader, n: usize| -> Result<Value, &'static str> {
        let b = r.take(n).ok_or(BAD)?;
        lua.create_string(b).map(Value::String).map_err(|_| BAD)
    };
    let arr = |lua: &Lua, r: &mut Reader, n: usize| -> Result<Value, &'static str> {
        let t = lua.create_table().map_err(|_| BAD)?;
        for i in 1..=n {
            t.raw_set(i, unpack_value(lua, r, depth + 1)?)
                .map_err(|_| BAD)?;
        }
        Ok(Value::Table(t))
    };
    let map = |lua: &Lua, r: &mut Reader, n: usize| -> Result<Value, &'static str> {
        let t = lua.create_table().map_err(|_| BAD)?;
        for _ in 0..n {
            let k = unpack_value(lua, r, depth + 1)?;
            let v = unpack_value(lua, r, depth + 1)?;
            if !k.is_nil() {
                t.raw_set(k, v).map_err(|_| BAD)?;
            }
        }
        Ok(Value::Table(t))
    };
    Ok(match c {
        0x00..=0x7f => Value::Integer(c as i64),
        0x80..=0x8f => map(lua, r, (c & 0xf) as usize)?,
        0x90..=0x9f => arr(lua, r, (c & 0xf) as usize)?,
        0xa0..=0xbf => s(lua, r, (c & 0x1f) as usize)?,
        0xc0 => Value::Nil,
        0xc2 => Value::Boolean(false),
        0xc3 => Value::Boolean(true),
        0xca => Value::Number(f32::from_bits(r.be(4).ok_or(BAD)? as u32) as f64),
        0xcb => Value::Number(f64::from_bits(r.be(8).ok_or(BAD)?)),
        0xcc => Value::Integer(r.be(1).ok_or(BAD)? as i64),
        0xcd => Value::Integer(r.be(2).ok_or(BAD)? as i64),
        0xce => Value::Integer(r.be(4).ok_or(BAD)? as i64),
        0xcf => Value::Number(r.be(8).ok_or(BAD)? as f64),
        0xd0 => Value::Integer(r.be(1).ok_or(BAD)? as u8 as i8 as i64),
        0xd1 => Value::Integer(r.be(2).ok_or(BAD)? as u16 as i16 as i64),
        0xd2 => Value::Integer(r.be(4).ok_or(BAD)? as u32 as i32 as i64),
        0xd3 => Value::Number(r.be(8).ok_or(BAD)? as i64 as f64),
        0xd9 | 0xc4 => {
            let n = r.be(1).ok_or(BAD)? as usize;
            s(lua, r, n)?
        }
        0xda | 0xc5 => {
            let n = r.be(2).ok_or(BAD)? as usize;
            s(lua, r, n)?
        }
        0xdb | 0xc6 => {
            let n = r.be(4).ok_or(BAD)? as usize;
            s(lua, r, n)?
        }
        0xdc => {
            let n = r.be(2).ok_or(BAD)? as usize;
            arr(lua, r, n)?
        }
        0xdd => {
            let n = r.be(4).ok_or(BAD)? as usize;
            arr(lua, r, n)?
        }
        0xde => {
            let n = r.be(2).ok_or(BAD)? as usize;
            map(lua, r, n)?
        }
        0xdf => {
            let n = r.be(4).ok_or(BAD)? as usize;
            map(lua, r, n)?
        }
        0xe0..=0xff => Value::Integer(c as i8 as i64),
        _ => return Err("Bad data format in input."),
    })
}

/// Decodes up to `limit` values (0: all) from `offset`; `(true, next_offset, values...)`
/// where next_offset is -1 at the end, or `(false, message)`.
fn unpack(
    lua: &Lua,
    s: &[u8],
    limit: usize,
    offset: usize,
    with_offset: bool,
) -> mlua::Result<MultiValue> {
    let mut r = Reader {
        b: s,
        pos: offset.min(s.len()),
    };
    let mut vals = Vec::new();
    while r.pos < s.len() && (limit == 0 || vals.len() < limit) {
        match unpack_value(lua, &mut r, 0) {
            Ok(v) => vals.push(v),
            Err(m) => {
                return Ok(MultiValue::from_iter([
                    Value::Boolean(false),
                    Value::String(lua.create_string(m)?),
                ]))
            }
        }
    }
    let mut out = vec![Value::Boolean(true)];
    if with_offset {
        out.push(Value::Integer(if r.pos >= s.len() {
            -1
        } else {
            r.pos as i64
        }));
    }
    out.extend(vals);
    Ok(MultiValue::from_iter(out))
}

/// Builds the `cmsgpack` table (functions answer `(true, ...)` or `(false, message)`, the
/// sandbox raises the message).
pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Ok((false, lua.create_string("MessagePack pack needs input.")?));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack_value(&mut out, v, 0);
            }
            Ok((true, lua.create_string(&out)?))
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, s: mlua::LuaString| unpack(lua, &s.as_bytes(), 0, 0, false))?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, (s, off): (mlua::LuaString, Option<i64>)| {
            unpack(
                lua,
                &s.as_bytes(),
                1,
                off.unwrap_or(0).max(0) as usize,
                true,
            )
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(
            |lua, (s, limit, off): (mlua::LuaString, i64, Option<i64>)| {
                unpack(
                    lua,
                    &s.as_bytes(),
                    limit.max(0) as usize,
                    off.unwrap_or(0).max(0) as usize,
                    true,
                )
            },
        )?,
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(t)
}
