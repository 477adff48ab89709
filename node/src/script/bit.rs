//! The `bit` library (LuaBitOp, as Redis bundles it): 32-bit operations on Lua numbers.

use mlua::{Lua, Table, Variadic};

/// A Lua number as LuaBitOp normalises it: rounded to an integer, taken modulo 2^32, signed.
pub fn tobit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    n.round_ties_even().rem_euclid(4294967296.0) as u64 as u32 as i32
}

fn fold(args: Variadic<f64>, init: i32, f: fn(i32, i32) -> i32) -> f64 {
    args.iter().fold(init, |a, &b| f(a, tobit(b))) as f64
}

/// Hex digits of `x`: `n` of them (8 by default), upper case when `n` is negative.
pub fn tohex(x: f64, n: Option<f64>) -> String {
    let n = n.map(tobit).unwrap_or(8);
    let (upper, n) = (n < 0, n.unsigned_abs().min(8) as usize);
    let v = tobit(x) as u32 as u64;
    let s = format!("{:08x}", v);
    let s = s[8 - n..].to_string();
    if upper {
        s.to_uppercase()
    } else {
        s
    }
}

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "tobit",
        lua.create_function(|_, x: f64| Ok(tobit(x) as f64))?,
    )?;
    t.set(
        "tohex",
        lua.create_function(|_, (x, n): (f64, Option<f64>)| Ok(tohex(x, n)))?,
    )?;
    t.set(
        "bnot",
        lua.create_function(|_, x: f64| Ok(!tobit(x) as f64))?,
    )?;
    t.set(
        "band",
        lua.create_function(|_, a: Variadic<f64>| Ok(fold(a, -1, |x, y| x & y)))?,
    )?;
    t.set(
        "bor",
        lua.create_function(|_, a: Variadic<f64>| Ok(fold(a, 0, |x, y| x | y)))?,
    )?;
    t.set(
        "bxor",
        lua.create_function(|_, a: Variadic<f64>| Ok(fold(a, 0, |x, y| x ^ y)))?,
    )?;
    let shift = |f: fn(u32, u32) -> u32| {
        move |_: &Lua, (x, n): (f64, f64)| Ok(f(tobit(x) as u32, tobit(n) as u32 & 31) as i32 as f64)
    };
    t.set("lshift", lua.create_function(shift(|x, n| x << n))?)?;
    t.set("rshift", lua.create_function(shift(|x, n| x >> n))?)?;
    t.set(
        "arshift",
        lua.create_function(shift(|x, n| ((x as i32) >> n) as u32))?,
    )?;
    t.set("rol", lua.create_function(shift(|x, n| x.rotate_left(n)))?)?;
    t.set("ror", lua.create_function(shift(|x, n| x.rotate_right(n)))?)?;
    t.set(
        "bswap",
        lua.create_function(|_, x: f64| Ok((tobit(x) as u32).swap_bytes() as i32 as f64))?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luabitop_normalisation() {
        assert_eq!(tobit(2f64.powi(32) + 5.0), 5);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2147483648.0), i32::MIN);
        assert_eq!(tohex(255.0, None), "000000ff");
        assert_eq!(tohex(255.0, Some(-2.0)), "FF");
    }
}
