//! BITFIELD and BITFIELD_RO: integers of 1 to 64 bits (unsigned up to 63) at any bit offset of
//! a string, read, set and incremented with Redis's overflow rules (WRAP, SAT, FAIL).

use super::bitmaps::{bit_offset, read_string, string_at, string_for_bits};
use super::coll::class;
use super::Ctx;
use bytes::Bytes;
use picket::args::{eq_ic, int_arg, ERR_NOT_INT, ERR_SYNTAX};

const ERR_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One GET / SET / INCRBY of the command, with the OVERFLOW in force where it stands.
#[derive(Clone, Copy)]
struct Op {
    kind: OpKind,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// A field type: `i1`..`i64` or `u1`..`u63`.
fn field_type(arg: &[u8]) -> Result<(bool, u32), &'static str> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(ERR_TYPE),
    };
    let max = if signed { 64 } else { 63 };
    match int_arg(&arg[1..]) {
        Ok(b) if (1..=max).contains(&b) => Ok((signed, b as u32)),
        _ => Err(ERR_TYPE),
    }
}

/// Reads the operations, each checked as it comes (the first bad one is the error).
fn parse_ops(ctx: &Ctx, a: &[Bytes]) -> Result<Vec<Op>, &'static str> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < a.len() {
        let remaining = a.len() - j - 1;
        let sub = &a[j];
        let kind = if eq_ic(sub, "get") && remaining >= 2 {
            OpKind::Get
        } else if eq_ic(sub, "set") && remaining >= 3 {
            OpKind::Set(0)
        } else if eq_ic(sub, "incrby") && remaining >= 3 {
            OpKind::IncrBy(0)
        } else if eq_ic(sub, "overflow") && remaining >= 1 {
            let w = &a[j + 1];
            overflow = if eq_ic(w, "wrap") {
                Overflow::Wrap
            } else if eq_ic(w, "sat") {
                Overflow::Sat
            } else if eq_ic(w, "fail") {
                Overflow::Fail
            } else {
                return Err("ERR Invalid OVERFLOW type specified");
            };
            j += 2;
            continue;
        } else {
            return Err(ERR_SYNTAX);
        };
        let (signed, bits) = field_type(&a[j + 1])?;
        let offset = bit_offset(ctx, &a[j + 2], Some(bits))?;
        let kind = match kind {
            OpKind::Get => OpKind::Get,
            OpKind::Set(_) => OpKind::Set(int_arg(&a[j + 3]).map_err(|_| ERR_NOT_INT)?),
            OpKind::IncrBy(_) => OpKind::IncrBy(int_arg(&a[j + 3]).map_err(|_| ERR_NOT_INT)?),
        };
        j += if kind == OpKind::Get { 3 } else { 4 };
        ops.push(Op {
            kind,
            signed,
            bits,
            offset,
            overflow,
        });
    }
    Ok(ops)
}

/// BITFIELD key [GET type offset | SET type offset value | INCRBY type offset increment |
/// OVERFLOW WRAP|SAT|FAIL] ...
pub fn bitfield(ctx: &mut Ctx, a: &[Bytes]) {
    run(ctx, a, false);
}

/// BITFIELD_RO key [GET type offset] ...
pub fn bitfield_ro(ctx: &mut Ctx, a: &[Bytes]) {
    run(ctx, a, true);
}

fn run(ctx: &mut Ctx, a: &[Bytes], read_only: bool) {
    let ops = match parse_ops(ctx, a) {
        Ok(ops) => ops,
        Err(e) => return ctx.out.error(e),
    };
    let writes = ops.iter().any(|o| o.kind != OpKind::Get);
    if !writes {
        let Ok(s) = string_at!(ctx, &a[1]) else {
            return;
        };
        let s = s.map(|s| s.into_owned()).unwrap_or_default();
        ctx.out.array(ops.len());
        for op in &ops {
            ctx.out.int(read_field(&s, op));
        }
        return;
    }
    if read_only {
        return ctx
            .out
            .error("ERR BITFIELD_RO only supports the GET subcommand");
    }
    // The string is created and grown to the furthest field written before any operation
    // runs (even when FAIL then leaves it unchanged).
    let end = ops
        .iter()
        .filter(|o| o.kind != OpKind::Get)
        .map(|o| o.offset + o.bits as u64 - 1)
        .max()
        .unwrap_or(0);
    let Ok((bytes, grown)) = string_for_bits(ctx, &a[1], (end >> 3) as usize + 1) else {
        return;
    };
    let mut replies = Vec::with_capacity(ops.len());
    // A write counts as a change when it changed the field or the string was created or
    // grown (Redis 7.0.15's count; a FAIL refusal never counts).
    let mut changes = 0u64;
    for op in &ops {
        let (reply, changed) = apply(bytes, op);
        if changed || (grown && reply.is_some() && op.kind != OpKind::Get) {
            changes += 1;
        }
        replies.push(reply);
    }
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(v) => ctx.out.int(v),
            None => ctx.out.null(),
        }
    }
    if changes > 0 {
        let db = ctx.db();
        ctx.st.ks.modified(db, &a[1]);
        ctx.notify(class::STRING, "setbit", &a[1]);
        ctx.dirty(changes);
        ctx.propagate_as_is(a);
    }
}

/// Runs one operation on the (grown) string: its reply (None when FAIL refused it) and
/// whether the field changed.
fn apply(s: &mut [u8], op: &Op) -> (Option<i64>, bool) {
    let old = read_field(s, op);
    let (new, overflowed) = match op.kind {
        OpKind::Get => return (Some(old), false),
        // A SET is checked as an increment of the value from zero.
        OpKind::Set(v) if op.signed => signed_limit(v, 0, op.bits, op.overflow),
        OpKind::Set(v) => unsigned_limit(v as u64, 0, op.bits, op.overflow),
        OpKind::IncrBy(by) if op.signed => signed_limit(old, by, op.bits, op.overflow),
        OpKind::IncrBy(by) => unsigned_limit(old as u64, by, op.bits, op.overflow),
    };
    if overflowed && op.overflow == Overflow::Fail {
        return (None, false);
    }
    write_bits(s, op.offset, op.bits, new as u64);
    let changed = read_field(s, op) != old;
    let reply = match op.kind {
        OpKind::Set(_) => old,
        _ => new,
    };
    (Some(reply), changed)
}

/// The field's value, sign-extended for a signed type; bits past the string read as zero.
fn read_field(s: &[u8], op: &Op) -> i64 {
    let mut v: u64 = 0;
    for i in 0..op.bits as u64 {
        v = (v << 1) | super::bitmaps::get_bit(s, op.offset + i) as u64;
    }
    if op.signed && op.bits < 64 && v & (1 << (op.bits - 1)) != 0 {
        v |= u64::MAX << op.bits;
    }
    v as i64
}

fn write_bits(s: &mut [u8], offset: u64, bits: u32, v: u64) {
    for i in 0..bits as u64 {
        let bit = (v >> (bits as u64 - 1 - i)) & 1;
        let pos = offset + i;
        let mask = 1u8 << (7 - (pos & 7));
        let byte = &mut s[(pos >> 3) as usize];
        *byte = if bit == 1 {
            *byte | mask
        } else {
            *byte & !mask
        };
    }
}

/// `value + incr` in a signed field of `bits`: (the result, whether it overflowed). On
/// overflow SAT gives the bound and WRAP the value modulo 2^bits. The arithmetic wraps as
/// Redis's two's-complement C does, so the edge cases (a SET of i64::MIN in a narrow field)
/// come out as Redis's.
fn signed_limit(value: i64, incr: i64, bits: u32, ow: Overflow) -> (i64, bool) {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = max.wrapping_sub(value);
    let min_incr = min.wrapping_sub(value);
    let wrap = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits == 64 {
            return c as i64;
        }
        let high = u64::MAX << bits;
        (if c & (1 << (bits - 1)) != 0 {
            c | high
        } else {
            c & !high
        }) as i64
    };
    let over = value > max
        || (bits != 64 && incr > max_incr)
        || (value >= 0 && incr > 0 && incr > max_incr);
    let under = value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr);
    match (over, under, ow) {
        (true, _, Overflow::Sat) => (max, true),
        (false, true, Overflow::Sat) => (min, true),
        (true, _, _) | (_, true, _) => (wrap(), true),
        _ => (value.wrapping_add(incr), false),
    }
}

/// `value + incr` in an unsigned field of `bits` (at most 63): as [`signed_limit`].
fn unsigned_limit(value: u64, incr: i64, bits: u32, ow: Overflow) -> (i64, bool) {
    let max: u64 = (1u64 << bits) - 1;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let wrapped = (value.wrapping_add(incr as u64) & max) as i64;
    if value > max || (incr > 0 && incr > max_incr) {
        return (
            if ow == Overflow::Sat {
                max as i64
            } else {
                wrapped
            },
            true,
        );
    }
    if incr < 0 && incr < min_incr {
        return (if ow == Overflow::Sat { 0 } else { wrapped }, true);
    }
    (wrapped, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_overflow_rules() {
        assert_eq!(signed_limit(100, 100, 8, Overflow::Wrap), (-56, true));
        assert_eq!(signed_limit(100, 100, 8, Overflow::Sat), (127, true));
        assert_eq!(signed_limit(-100, -100, 8, Overflow::Sat), (-128, true));
        assert_eq!(signed_limit(1, 2, 8, Overflow::Fail), (3, false));
        assert_eq!(
            signed_limit(i64::MAX, 1, 64, Overflow::Wrap),
            (i64::MIN, true)
        );
        assert_eq!(
            signed_limit(i64::MAX, 1, 64, Overflow::Sat),
            (i64::MAX, true)
        );
    }

    #[test]
    fn unsigned_overflow_rules() {
        assert_eq!(unsigned_limit(250, 10, 8, Overflow::Wrap), (4, true));
        assert_eq!(unsigned_limit(250, 10, 8, Overflow::Sat), (255, true));
        assert_eq!(unsigned_limit(5, -10, 8, Overflow::Sat), (0, true));
        assert_eq!(unsigned_limit(5, -10, 8, Overflow::Wrap), (251, true));
        // A SET of -1 is a huge value: an overflow, saturating at the maximum.
        assert_eq!(
            unsigned_limit(-1i64 as u64, 0, 8, Overflow::Sat),
            (255, true)
        );
    }

    #[test]
    fn fields_across_bytes() {
        let mut s = vec![0u8; 3];
        let op = Op {
            kind: OpKind::Set(0b1_0110_1011),
            signed: false,
            bits: 9,
            offset: 5,
            overflow: Overflow::Wrap,
        };
        assert_eq!(apply(&mut s, &op), (Some(0), true));
        assert_eq!(s, vec![0b0000_0101, 0b1010_1100, 0]);
        assert_eq!(read_field(&s, &op), 0b1_0110_1011);
    }
}
