//! Bit commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP. Bits are numbered from
//! the most significant bit of the first byte, as Redis numbers them; a missing key is an
//! endless run of zero bits. BITFIELD is in [`super::bitfield`].

use super::coll::class;
use super::Ctx;
use crate::db::{Keyspace, RStr, SBytes, Value};
use bytes::Bytes;
use picket::args::{eq_ic, int_arg, ERR_NOT_INT, ERR_SYNTAX, ERR_WRONGTYPE};
use picket::resp::Reply;
use std::borrow::Cow;

/// The command's error reply was already sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent;

pub const ERR_BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// A bit offset argument. With `bits` set, `#N` means the N-th field of that width
/// (BITFIELD). Beyond `proto-max-bulk-len` bytes it is out of range, as Redis has it.
pub fn bit_offset(ctx: &Ctx, arg: &[u8], bits: Option<u32>) -> Result<u64, &'static str> {
    let (digits, width) = match (arg.first(), bits) {
        (Some(b'#'), Some(w)) => (&arg[1..], w as i64),
        _ => (arg, 1),
    };
    let off = int_arg(digits)
        .ok()
        .and_then(|n| n.checked_mul(width))
        .ok_or(ERR_BIT_OFFSET)?;
    let max = ctx.node.hot.read().proto_max_bulk_len;
    if off < 0 || (off >> 3) >= max {
        return Err(ERR_BIT_OFFSET);
    }
    Ok(off as u64)
}

/// The string at `key` for reading: Ok(None) when missing, Err when another type (WRONGTYPE
/// sent). A read: counts a hit or a miss. Takes the keyspace and the reply apart so that the
/// bytes are read where they lie.
pub fn read_string<'a>(
    ks: &'a mut Keyspace,
    out: &mut Reply,
    db: usize,
    key: &[u8],
    now: i64,
) -> Result<Option<Cow<'a, [u8]>>, Sent> {
    match ks.lookup(db, key, now).map(|e| &e.val) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.as_bytes())),
        #[allow(unreachable_patterns)]
        Some(_) => {
            out.error(ERR_WRONGTYPE);
            Err(Sent)
        }
    }
}

/// [`read_string`] for a handler.
macro_rules! string_at {
    ($ctx:expr, $key:expr) => {{
        let db = $ctx.sess.db;
        read_string(&mut $ctx.st.ks, $ctx.out, db, $key, $ctx.now)
    }};
}
pub(crate) use string_at;

/// The string at `key` for a bit command that writes, at least `min_len` bytes long: created
/// when missing and grown with zero bytes, as Redis does before the command changes any bit.
/// Returns its bytes and whether it was created or grown. Err: WRONGTYPE (sent).
pub fn string_for_bits<'a>(
    ctx: &'a mut Ctx,
    key: &[u8],
    min_len: usize,
) -> Result<(&'a mut [u8], bool), Sent> {
    let db = ctx.db();
    let grown = match ctx.st.ks.lookup_write(db, key, ctx.now).map(|e| &mut e.val) {
        None => {
            let data = vec![0u8; min_len];
            ctx.st.ks.set(db, key, raw_string(data), false);
            true
        }
        Some(Value::Str(s)) => match s {
            RStr::Raw(b) if b.len() >= min_len => false,
            _ => {
                let mut data = s.as_bytes().into_owned();
                let grown = data.len() < min_len;
                if grown {
                    data.resize(min_len, 0);
                }
                *s = RStr::Raw(SBytes::from_vec(data));
                grown
            }
        },
        #[allow(unreachable_patterns)]
        Some(_) => {
            ctx.out.error(ERR_WRONGTYPE);
            return Err(Sent);
        }
    };
    match ctx.st.ks.entry_mut(db, key).map(|e| &mut e.val) {
        Some(Value::Str(RStr::Raw(b))) => Ok((b.as_mut_slice(), grown)),
        _ => unreachable!("the string was just stored raw"),
    }
}

fn raw_string(data: Vec<u8>) -> Value {
    Value::Str(RStr::Raw(SBytes::from_vec(data)))
}

/// The bit at `off` of `s` (0 past its end).
pub fn get_bit(s: &[u8], off: u64) -> u8 {
    let byte = (off >> 3) as usize;
    s.get(byte).map_or(0, |b| (b >> (7 - (off & 7))) & 1)
}

/// SETBIT key offset value
pub fn setbit(ctx: &mut Ctx, a: &[Bytes]) {
    let off = match bit_offset(ctx, &a[2], None) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let on = match int_arg(&a[3]) {
        Ok(v @ (0 | 1)) => v as u8,
        _ => return ctx.out.error("ERR bit is not an integer or out of range"),
    };
    let Ok((bytes, grown)) = string_for_bits(ctx, &a[1], (off >> 3) as usize + 1) else {
        return;
    };
    let old = get_bit(bytes, off);
    let mask = 1u8 << (7 - (off & 7));
    let byte = &mut bytes[(off >> 3) as usize];
    *byte = if on == 1 { *byte | mask } else { *byte & !mask };
    // Nothing to record when the bit already had that value (Redis 7.0.15 neither counts nor
    // propagates such a SETBIT).
    if grown || old != on {
        let db = ctx.db();
        ctx.st.ks.modified(db, &a[1]);
        ctx.notify(class::STRING, "setbit", &a[1]);
        ctx.dirty(1);
        ctx.propagate_as_is(a);
    }
    ctx.out.int(old as i64);
}

/// GETBIT key offset
pub fn getbit(ctx: &mut Ctx, a: &[Bytes]) {
    let off = match bit_offset(ctx, &a[2], None) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    if let Ok(s) = string_at!(ctx, &a[1]) {
        let bit = s.map_or(0, |s| get_bit(&s, off));
        ctx.out.int(bit as i64);
    }
}

/// A `start end [BYTE|BIT]` range of BITCOUNT / BITPOS resolved against a string: the bytes
/// to scan and, in BIT mode, the masks of the bits outside the range in the first and last
/// byte.
struct BitRange {
    first: usize,
    last: usize,
    first_mask: u8,
    last_mask: u8,
}

/// Resolves `start`/`end` (negative from the end, clamped) in bytes or bits. None: empty.
fn resolve_range(start: i64, end: i64, strlen: usize, isbit: bool) -> Option<BitRange> {
    let total = if isbit {
        (strlen as i64) << 3
    } else {
        strlen as i64
    };
    let fix = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (start, end) = (fix(start), fix(end).min(total - 1));
    if start > end {
        return None;
    }
    if !isbit {
        return Some(BitRange {
            first: start as usize,
            last: end as usize,
            first_mask: 0,
            last_mask: 0,
        });
    }
    Some(BitRange {
        first: (start >> 3) as usize,
        last: (end >> 3) as usize,
        first_mask: !(0xffu16 >> (start & 7)) as u8,
        last_mask: ((1u16 << (7 - (end & 7))) - 1) as u8,
    })
}

/// The range arguments from `a[from]` on: `start end [BYTE|BIT]` (end optional when
/// `end_optional`). Returns (start, end if given, isbit).
fn range_args(a: &[Bytes], from: usize) -> Result<(i64, Option<i64>, bool), &'static str> {
    let start = int_arg(&a[from]).map_err(|_| ERR_NOT_INT)?;
    let end = match a.get(from + 1) {
        Some(e) => Some(int_arg(e).map_err(|_| ERR_NOT_INT)?),
        None => None,
    };
    let isbit = match a.get(from + 2) {
        None => false,
        Some(u) if eq_ic(u, "bit") => true,
        Some(u) if eq_ic(u, "byte") => false,
        Some(_) => return Err(ERR_SYNTAX),
    };
    Ok((start, end, isbit))
}

/// Set bits in `s`.
pub fn popcount(s: &[u8]) -> u64 {
    let mut chunks = s.chunks_exact(8);
    let mut n: u64 = chunks
        .by_ref()
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()).count_ones() as u64)
        .sum();
    n += chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>();
    n
}

/// BITCOUNT key [start end [BYTE|BIT]]
pub fn bitcount(ctx: &mut Ctx, a: &[Bytes]) {
    // The key is looked up before the range is read, as Redis 7.0 does.
    let s = match string_at!(ctx, &a[1]) {
        Ok(Some(s)) => s,
        Ok(None) => return ctx.out.int(0),
        Err(Sent) => return,
    };
    let range = match a.len() {
        2 => resolve_range(0, -1, s.len(), false),
        4 | 5 => match range_args(a, 2) {
            Ok((start, Some(end), _)) if start < 0 && end < 0 && start > end => None,
            Ok((start, end, isbit)) => resolve_range(start, end.unwrap_or(-1), s.len(), isbit),
            Err(e) => return ctx.out.error(e),
        },
        _ => return ctx.out.error(ERR_SYNTAX),
    };
    let Some(r) = range else {
        return ctx.out.int(0);
    };
    let mut n = popcount(&s[r.first..=r.last]);
    n -= (s[r.first] & r.first_mask).count_ones() as u64;
    n -= (s[r.last] & r.last_mask).count_ones() as u64;
    ctx.out.int(n as i64);
}

/// BITPOS key bit [start [end [BYTE|BIT]]]
pub fn bitpos(ctx: &mut Ctx, a: &[Bytes]) {
    let bit = match int_arg(&a[2]) {
        Ok(b @ (0 | 1)) => b as u8,
        Ok(_) => return ctx.out.error("ERR The bit argument must be 1 or 0."),
        Err(_) => return ctx.out.error(ERR_NOT_INT),
    };
    let s = match string_at!(ctx, &a[1]) {
        Ok(Some(s)) => s,
        Ok(None) => return ctx.out.int(if bit == 1 { -1 } else { 0 }),
        Err(Sent) => return,
    };
    let (range, end_given) = match a.len() {
        3 => (resolve_range(0, -1, s.len(), false), false),
        4..=6 => match range_args(a, 3) {
            Ok((start, end, isbit)) => (
                resolve_range(start, end.unwrap_or(-1), s.len(), isbit),
                end.is_some(),
            ),
            Err(e) => return ctx.out.error(e),
        },
        _ => return ctx.out.error(ERR_SYNTAX),
    };
    let Some(r) = range else {
        return ctx.out.int(-1);
    };
    let pos = first_bit(&s[r.first..=r.last], bit, r.first_mask, r.last_mask);
    let pos = match pos {
        // No clear bit in the string: the first one after it, unless the range was bounded.
        None if bit == 0 && !end_given => ((r.last - r.first + 1) as i64) << 3,
        None => return ctx.out.int(-1),
        Some(p) => p as i64,
    };
    ctx.out.int(pos + ((r.first as i64) << 3));
}

/// The position of the first `bit` in `s`, the bits under `first_mask` in its first byte and
/// under `last_mask` in its last byte left out.
fn first_bit(s: &[u8], bit: u8, first_mask: u8, last_mask: u8) -> Option<u64> {
    // Looking for a 0 is looking for a 1 in the complement.
    let flip = if bit == 1 { 0x00 } else { 0xff };
    let last = s.len() - 1;
    let at = |i: usize| {
        let mut b = s[i] ^ flip;
        if i == 0 {
            b &= !first_mask;
        }
        if i == last {
            b &= !last_mask;
        }
        b
    };
    let found = |i: usize| Some(((i as u64) << 3) + at(i).leading_zeros() as u64);
    if at(0) != 0 {
        return found(0);
    }
    if last == 0 {
        return None;
    }
    if let Some(i) = s[1..last].iter().position(|&b| b != flip) {
        return found(i + 1);
    }
    if at(last) != 0 {
        return found(last);
    }
    None
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]
pub fn bitop(ctx: &mut Ctx, a: &[Bytes]) {
    let op = &a[1];
    let op = ["and", "or", "xor", "not"]
        .into_iter()
        .find(|kw| eq_ic(op, kw));
    let Some(op) = op else {
        return ctx.out.error(ERR_SYNTAX);
    };
    if op == "not" && a.len() != 4 {
        return ctx
            .out
            .error("ERR BITOP NOT must be called with a single source key.");
    }
    let mut sources = Vec::with_capacity(a.len() - 3);
    for key in &a[3..] {
        match string_at!(ctx, key) {
            Ok(s) => sources.push(s.map(Cow::into_owned).unwrap_or_default()),
            Err(Sent) => return,
        }
    }
    let result = combine(op, &sources);
    let db = ctx.db();
    let dest = &a[2];
    let n = result.len();
    if n > 0 {
        ctx.st.ks.set(db, dest, raw_string(result), false);
        ctx.notify(class::STRING, "set", dest);
    } else if ctx.st.ks.delete(db, dest).is_some() {
        ctx.notify(class::GENERIC, "del", dest);
    }
    ctx.dirty(1);
    ctx.propagate_as_is(a);
    ctx.out.int(n as i64);
}

/// The bitwise operation over `sources`, the shorter ones read as zero-padded.
fn combine(op: &str, sources: &[Vec<u8>]) -> Vec<u8> {
    let len = sources.iter().map(Vec::len).max().unwrap_or(0);
    if op == "not" {
        return sources[0].iter().map(|b| !b).collect();
    }
    let mut out = vec![0u8; len];
    for (i, o) in out.iter_mut().enumerate() {
        let mut bytes = sources.iter().map(|s| s.get(i).copied().unwrap_or(0));
        let first = bytes.next().unwrap_or(0);
        *o = match op {
            "and" => bytes.fold(first, |x, y| x & y),
            "or" => bytes.fold(first, |x, y| x | y),
            _ => bytes.fold(first, |x, y| x ^ y),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bit_and_masks() {
        assert_eq!(first_bit(&[0x00, 0x10], 1, 0, 0), Some(11));
        assert_eq!(first_bit(&[0xff, 0xf7], 0, 0, 0), Some(12));
        assert_eq!(first_bit(&[0xff], 0, 0, 0), None);
        assert_eq!(first_bit(&[0x80, 0x00, 0x01], 1, 0x80, 0x01), None);
        assert_eq!(first_bit(&[0x80, 0x00, 0x03], 1, 0x80, 0x01), Some(22));
        assert_eq!(first_bit(&[0x7f], 0, 0x80, 0), None);
        let r = resolve_range(3, 12, 4, true).unwrap();
        assert_eq!(
            (r.first, r.last, r.first_mask, r.last_mask),
            (0, 1, 0xe0, 0x07)
        );
        assert!(resolve_range(0, -1, 0, false).is_none());
        assert_eq!(popcount(&[0xff; 17]), 136);
    }

    #[test]
    fn combine_pads_with_zeros() {
        let s = vec![vec![0xff, 0x0f], vec![0xf0]];
        assert_eq!(combine("and", &s), vec![0xf0, 0x00]);
        assert_eq!(combine("or", &s), vec![0xff, 0x0f]);
        assert_eq!(combine("xor", &s), vec![0x0f, 0x0f]);
        assert_eq!(combine("not", &s[1..]), vec![0x0f]);
    }
}
