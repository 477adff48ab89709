//! HyperLogLog values in Redis's exact representation, so a string written here is the string
//! redis-server writes for the same additions (and reads the other way round).
//!
//! Layout: a 16-byte header (`HYLL`, the encoding byte, 3 unused bytes, the cached
//! cardinality as 8 little-endian bytes whose top bit marks it stale) and the registers:
//! 16384 6-bit registers packed least significant bit first (dense, 12288 bytes), or the
//! sparse run-length opcodes ZERO `00xxxxxx` (1..64 zero registers), XZERO `01xxxxxx
//! yyyyyyyy` (1..16384) and VAL `1vvvvvxx` (1..4 registers of value 1..32). Elements hash
//! with MurmurHash64A (seed 0xadc83b19); the cardinality is Ertl's improved estimator.

pub const HDR: usize = 16;
pub const P: u32 = 14;
pub const Q: u32 = 64 - P;
pub const REGISTERS: usize = 1 << P;
pub const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// A value that claims to be a HyperLogLog but whose registers do not add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// An empty HyperLogLog as PFADD creates it: sparse, one XZERO run over every register.
pub fn new_sparse() -> Vec<u8> {
    let mut v = vec![0u8; HDR + 2];
    v[..4].copy_from_slice(b"HYLL");
    v[4] = SPARSE;
    xzero_set(&mut v[HDR..], REGISTERS);
    v
}

/// Whether a string is a HyperLogLog as Redis checks it: its magic, a known encoding, and the
/// exact size when dense.
pub fn is_valid(s: &[u8]) -> bool {
    s.len() >= HDR
        && &s[..4] == b"HYLL"
        && s[4] <= SPARSE
        && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

pub fn is_sparse(s: &[u8]) -> bool {
    s[4] == SPARSE
}

/// The cached cardinality, if it is current.
pub fn cached(s: &[u8]) -> Option<u64> {
    if s[15] & 0x80 != 0 {
        return None;
    }
    Some(u64::from_le_bytes(s[8..16].try_into().unwrap()))
}

pub fn set_cached(s: &mut [u8], card: u64) {
    s[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// MurmurHash64A as Redis uses it (little-endian words).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in chunks.by_ref() {
        let mut k = u64::from_le_bytes(c.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate() {
            h ^= (*b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the run of zeros its hash starts with, plus one.
pub fn position(elem: &[u8]) -> (usize, u8) {
    let hash = murmur64a(elem, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Register `i` of dense registers.
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let bit = i * 6;
    let (b, fb) = (bit / 8, bit % 8);
    let lo = regs[b] as u16 >> fb;
    let hi = regs.get(b + 1).copied().unwrap_or(0) as u16;
    ((lo | (hi << (8 - fb))) & 63) as u8
}

pub fn dense_set(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * 6;
    let (b, fb) = (bit / 8, bit % 8);
    let v = v as u16;
    regs[b] &= !((63u16 << fb) as u8);
    regs[b] |= (v << fb) as u8;
    if b + 1 < regs.len() {
        regs[b + 1] &= !((63u16 >> (8 - fb)) as u8);
        regs[b + 1] |= (v >> (8 - fb)) as u8;
    }
}

/// Calls `f(i, value)` for every register of dense registers, four registers (three bytes)
/// at a time.
fn dense_each(regs: &[u8], mut f: impl FnMut(usize, u8)) {
    for (c, b) in regs.chunks_exact(3).enumerate() {
        let w = b[0] as u32 | (b[1] as u32) << 8 | (b[2] as u32) << 16;
        let i = c * 4;
        f(i, (w & 63) as u8);
        f(i + 1, ((w >> 6) & 63) as u8);
        f(i + 2, ((w >> 12) & 63) as u8);
        f(i + 3, ((w >> 18) & 63) as u8);
    }
}

fn is_zero(op: u8) -> bool {
    op & 0xc0 == 0
}

fn is_xzero(op: u8) -> bool {
    op & 0xc0 == 0x40
}

fn zero_len(op: u8) -> usize {
    (op & 0x3f) as usize + 1
}

fn xzero_len(p: &[u8]) -> usize {
    ((((p[0] & 0x3f) as usize) << 8) | p[1] as usize) + 1
}

fn val_value(op: u8) -> u8 {
    ((op >> 2) & 0x1f) + 1
}

fn val_len(op: u8) -> usize {
    (op & 0x3) as usize + 1
}

fn val_op(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len as u8 - 1)
}

fn xzero_set(p: &mut [u8], len: usize) {
    let l = len - 1;
    p[0] = (l >> 8) as u8 | 0x40;
    p[1] = (l & 0xff) as u8;
}

/// One sparse opcode: (registers covered, bytes, value).
fn opcode(p: &[u8]) -> Option<(usize, usize, u8)> {
    let op = *p.first()?;
    Some(if is_zero(op) {
        (zero_len(op), 1, 0)
    } else if is_xzero(op) {
        (xzero_len(p.get(..2)?), 2, 0)
    } else {
        (val_len(op), 1, val_value(op))
    })
}

/// Visits the runs of a sparse representation: (first register, run length, value). Err when
/// the runs do not cover exactly the registers.
fn sparse_runs(ops: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let (mut p, mut idx) = (0, 0usize);
    while p < ops.len() {
        let (span, len, value) = opcode(&ops[p..]).ok_or(Corrupt)?;
        if value != 0 && idx + span > REGISTERS {
            return Err(Corrupt);
        }
        if value != 0 || idx + span <= REGISTERS {
            f(idx, span, value);
        }
        idx += span;
        p += len;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// Converts a sparse value to dense in place (the header, with its cache, is kept). False
/// when it was dense already.
pub fn to_dense(s: &mut Vec<u8>) -> Result<bool, Corrupt> {
    if s[4] == DENSE {
        return Ok(false);
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&s[..HDR]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    sparse_runs(&s[HDR..], |first, span, value| {
        if value != 0 {
            for i in first..first + span {
                dense_set(regs, i, value);
            }
        }
    })?;
    *s = dense;
    Ok(true)
}

/// Adds an element. True when a register changed.
pub fn add(s: &mut Vec<u8>, elem: &[u8], sparse_max: usize) -> Result<bool, Corrupt> {
    let (index, count) = position(elem);
    set_register(s, index, count, sparse_max)
}

/// Raises register `index` to `count`: true when it was lower. A sparse value goes dense
/// when the count does not fit a VAL opcode or the value would pass `sparse_max` bytes.
pub fn set_register(
    s: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, Corrupt> {
    if s[4] == DENSE {
        let regs = &mut s[HDR..];
        if dense_get(regs, index) < count {
            dense_set(regs, index, count);
            return Ok(true);
        }
        return Ok(false);
    }
    if count > VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    match sparse_set(s, index, count, sparse_max)? {
        SparseSet::Unchanged => Ok(false),
        SparseSet::Updated => Ok(true),
        SparseSet::TooBig => promote(s, index, count),
    }
}

fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(s)?;
    let regs = &mut s[HDR..];
    if dense_get(regs, index) < count {
        dense_set(regs, index, count);
    }
    Ok(true)
}

enum SparseSet {
    Unchanged,
    Updated,
    TooBig,
}

/// The sparse update, opcode for opcode as Redis edits it (so the bytes come out the same).
fn sparse_set(
    s: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<SparseSet, Corrupt> {
    // Find the opcode covering the register, and the one before it.
    let (mut p, mut first, mut prev) = (HDR, 0usize, None);
    let (span, oplen, value) = loop {
        let (span, len, value) = opcode(&s[p..]).ok_or(Corrupt)?;
        if index < first + span {
            break (span, len, value);
        }
        prev = Some(p);
        p += len;
        first += span;
    };
    let (zero, runlen) = (value == 0, span);
    if !zero {
        if value >= count {
            return Ok(SparseSet::Unchanged);
        }
        if runlen == 1 {
            s[p] = val_op(count, 1);
            merge_adjacent(s, prev);
            return Ok(SparseSet::Updated);
        }
    }
    if zero && oplen == 1 && runlen == 1 {
        s[p] = val_op(count, 1);
        merge_adjacent(s, prev);
        return Ok(SparseSet::Updated);
    }
    // Split the run: what comes before the register, the register, what comes after.
    let mut seq = Vec::with_capacity(5);
    let last = first + span - 1;
    let push_run = |seq: &mut Vec<u8>, len: usize| {
        if zero {
            if len > ZERO_MAX_LEN {
                let mut x = [0u8; 2];
                xzero_set(&mut x, len);
                seq.extend_from_slice(&x);
            } else {
                seq.push((len - 1) as u8);
            }
        } else {
            seq.push(val_op(value, len));
        }
    };
    if index != first {
        push_run(&mut seq, index - first);
    }
    seq.push(val_op(count, 1));
    if index != last {
        push_run(&mut seq, last - index);
    }
    if seq.len() > oplen && s.len() + seq.len() - oplen > sparse_max {
        return Ok(SparseSet::TooBig);
    }
    s.splice(p..p + oplen, seq);
    merge_adjacent(s, prev);
    Ok(SparseSet::Updated)
}

/// Merges adjacent VAL opcodes of one value, looking at up to 5 opcodes from `from`.
fn merge_adjacent(s: &mut Vec<u8>, from: Option<usize>) {
    let mut p = from.unwrap_or(HDR);
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        let op = s[p];
        if is_xzero(op) {
            p += 2;
            continue;
        }
        if is_zero(op) {
            p += 1;
            continue;
        }
        if p + 1 < s.len() && s[p + 1] & 0x80 != 0 {
            let next = s[p + 1];
            let len = val_len(op) + val_len(next);
            if val_value(op) == val_value(next) && len <= VAL_MAX_LEN {
                s[p + 1] = val_op(val_value(op), len);
                s.remove(p);
                // Try the merged opcode with the one on its right.
                continue;
            }
        }
        p += 1;
    }
}

/// Raises `max[i]` to the value's register `i`, for every register.
pub fn merge_into(max: &mut [u8], s: &[u8]) -> Result<(), Corrupt> {
    if s[4] == DENSE {
        dense_each(&s[HDR..], |i, v| {
            if v > max[i] {
                max[i] = v;
            }
        });
        return Ok(());
    }
    sparse_runs(&s[HDR..], |first, span, value| {
        if value != 0 {
            for m in &mut max[first..first + span] {
                *m = (*m).max(value);
            }
        }
    })
}

/// The value's cardinality estimate.
pub fn count(s: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u32; 64];
    if s[4] == DENSE {
        dense_each(&s[HDR..], |_, v| histo[v as usize] += 1);
    } else {
        sparse_runs(&s[HDR..], |_, span, value| {
            histo[value as usize & 63] += span as u32;
        })?;
    }
    Ok(estimate(&histo))
}

/// The estimate for raw registers (one byte each: PFCOUNT of several keys).
pub fn count_registers(regs: &[u8]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in regs {
        histo[r as usize & 63] += 1;
    }
    estimate(&histo)
}

fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// PFDEBUG DECODE's text of a sparse value: `z:N`, `Z:N`, `v:V,N` opcodes.
pub fn decode_sparse(s: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = HDR;
    while let Some((span, len, value)) = opcode(&s[p..]) {
        out.push(match (value, len) {
            (0, 1) => format!("z:{span}"),
            (0, _) => format!("Z:{span}"),
            _ => format!("v:{value},{span}"),
        });
        p += len;
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
        let mut seen = 0;
        dense_each(&regs, |i, v| {
            assert_eq!(v, (i % 64) as u8);
            seen += 1;
        });
        assert_eq!(seen, REGISTERS);
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = new_sparse();
        for i in 0..2000u32 {
            add(&mut sparse, format!("e{i}").as_bytes(), usize::MAX).unwrap();
        }
        assert!(is_sparse(&sparse));
        let mut dense = sparse.clone();
        to_dense(&mut dense).unwrap();
        assert_eq!(count(&sparse), count(&dense));
        let est = count(&dense).unwrap() as f64;
        assert!((est - 2000.0).abs() < 100.0, "{est}");
        let mut max = vec![0u8; REGISTERS];
        merge_into(&mut max, &sparse).unwrap();
        assert_eq!(count_registers(&max), count(&dense).unwrap());
    }

    #[test]
    fn empty_counts_zero_and_tails_hash() {
        // (The strings' bytes are compared with redis-server's by tests/diff/hyperloglog.txt.)
        assert_eq!(count(&new_sparse()), Ok(0));
        let hashes: Vec<u64> = (0..9).map(|n| murmur64a(&b"abcdefghi"[..n], 1)).collect();
        for (i, h) in hashes.iter().enumerate() {
            assert!(!hashes[i + 1..].contains(h));
        }
    }

    #[test]
    fn corrupt_runs_are_refused() {
        let mut s = new_sparse();
        s.push(0x00);
        assert_eq!(count(&s), Err(Corrupt));
        assert_eq!(to_dense(&mut s.clone()), Err(Corrupt));
    }
}
