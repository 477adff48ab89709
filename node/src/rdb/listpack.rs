//! Redis's listpack and intset binary formats, as they appear inside RDB strings: decoding
//! everything Redis writes, and encoding the way Redis does (integer-looking strings as
//! integers, so the files are the same size as Redis's).

use picket::numfmt::parse_i64;

/// The entries of a listpack in one buffer: `arena[spans[i].0..spans[i].1]` is entry i
/// (integers written as decimal strings). One allocation per listpack instead of one per entry.
pub struct Decoded {
    pub arena: Vec<u8>,
    pub spans: Vec<(usize, usize)>,
}

impl Decoded {
    pub fn get(&self, i: usize) -> &[u8] {
        let (a, b) = self.spans[i];
        &self.arena[a..b]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.spans.iter().map(|(a, b)| &self.arena[*a..*b])
    }
}

/// Decodes a listpack into its entries (integers as decimal strings).
pub fn decode(b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let d = decode_flat(b)?;
    Ok(d.iter().map(|e| e.to_vec()).collect())
}

/// Decodes a listpack into one arena (see [`Decoded`]).
pub fn decode_flat(b: &[u8]) -> Result<Decoded, String> {
    if b.len() < 7 {
        return Err("listpack too short".into());
    }
    let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if total != b.len() {
        return Err(format!("listpack size {total} != blob size {}", b.len()));
    }
    let mut out = Decoded {
        arena: Vec::with_capacity(b.len()),
        spans: Vec::new(),
    };
    let mut p = 6;
    loop {
        let c = *b.get(p).ok_or("listpack truncated")?;
        if c == 0xff {
            break;
        }
        let byte = |i: usize| b.get(i).copied().ok_or("listpack entry truncated");
        // (integer value or string bytes, encoded length)
        let (ent, enc_len): (Result<i64, &[u8]>, usize) = if c & 0x80 == 0 {
            (Ok(c as i64), 1)
        } else if c & 0xc0 == 0x80 {
            let n = (c & 0x3f) as usize;
            (Err(get(b, p + 1, n)?), 1 + n)
        } else if c & 0xe0 == 0xc0 {
            let v = (((c as u16 & 0x1f) << 8) | byte(p + 1)? as u16) as i64;
            (Ok(if v >= 1 << 12 { v - (1 << 13) } else { v }), 2)
        } else if c & 0xf0 == 0xe0 {
            let n = (((c as usize) & 0x0f) << 8) | byte(p + 1)? as usize;
            (Err(get(b, p + 2, n)?), 2 + n)
        } else {
            match c {
                0xf0 => {
                    let l = get(b, p + 1, 4)?;
                    let n = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
                    (Err(get(b, p + 5, n)?), 5 + n)
                }
                0xf1 => {
                    let d = get(b, p + 1, 2)?;
                    (Ok(i16::from_le_bytes([d[0], d[1]]) as i64), 3)
                }
                0xf2 => {
                    let d = get(b, p + 1, 3)?;
                    (
                        Ok((i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8) as i64),
                        4,
                    )
                }
                0xf3 => {
                    let d = get(b, p + 1, 4)?;
                    (Ok(i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64), 5)
                }
                0xf4 => {
                    let d = get(b, p + 1, 8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(d);
                    (Ok(i64::from_le_bytes(a)), 9)
                }
                _ => return Err(format!("bad listpack encoding byte {c:#x}")),
            }
        };
        p += enc_len + backlen_size(enc_len);
        let start = out.arena.len();
        match ent {
            Ok(i) => {
                let mut buf = [0u8; 20];
                out.arena
                    .extend_from_slice(picket::resp::fmt_i64(&mut buf, i));
            }
            Err(s) => out.arena.extend_from_slice(s),
        }
        out.spans.push((start, out.arena.len()));
    }
    Ok(out)
}

fn get(b: &[u8], at: usize, n: usize) -> Result<&[u8], String> {
    b.get(at..at + n)
        .ok_or_else(|| "listpack entry truncated".to_string())
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    }
}

fn put_backlen(out: &mut Vec<u8>, l: usize) {
    match backlen_size(l) {
        1 => out.push(l as u8),
        2 => out.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]),
        3 => out.extend_from_slice(&[
            (l >> 14) as u8,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]),
        4 => out.extend_from_slice(&[
            (l >> 21) as u8,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]),
        _ => out.extend_from_slice(&[
            (l >> 28) as u8,
            ((l >> 21) & 127) as u8 | 128,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]),
    }
}

fn put_entry(out: &mut Vec<u8>, e: &[u8]) {
    let start = out.len();
    if let Some(v) = parse_i64(e) {
        if (0..=127).contains(&v) {
            out.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as i16 as u16) & 0x1fff;
            out.extend_from_slice(&[0xc0 | (u >> 8) as u8, (u & 0xff) as u8]);
        } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
            out.push(0xf1);
            out.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            out.push(0xf2);
            out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            out.push(0xf3);
            out.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            out.push(0xf4);
            out.extend_from_slice(&v.to_le_bytes());
        }
    } else if e.len() < 64 {
        out.push(0x80 | e.len() as u8);
        out.extend_from_slice(e);
    } else if e.len() < 4096 {
        out.extend_from_slice(&[0xe0 | (e.len() >> 8) as u8, (e.len() & 0xff) as u8]);
        out.extend_from_slice(e);
    } else {
        out.push(0xf0);
        out.extend_from_slice(&(e.len() as u32).to_le_bytes());
        out.extend_from_slice(e);
    }
    let l = out.len() - start;
    put_backlen(out, l);
}

/// Encodes entries as a listpack.
pub fn encode<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = vec![0u8; 6];
    let mut n = 0usize;
    for e in entries {
        put_entry(&mut out, e);
        n += 1;
    }
    out.push(0xff);
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_le_bytes());
    let count = if n < 65535 { n as u16 } else { 65535 };
    out[4..6].copy_from_slice(&count.to_le_bytes());
    out
}

/// Decodes an intset into its integers.
pub fn decode_intset(b: &[u8]) -> Result<Vec<i64>, String> {
    if b.len() < 8 {
        return Err("intset too short".into());
    }
    let width = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) || b.len() != 8 + width * len {
        return Err("bad intset header".into());
    }
    Ok(b[8..]
        .chunks(width)
        .map(|c| match width {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
            _ => {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                i64::from_le_bytes(a)
            }
        })
        .collect())
}

/// Encodes sorted integers as an intset with the narrowest width that holds them all.
pub fn encode_intset(v: &[i64]) -> Vec<u8> {
    let width = if v.iter().all(|x| i16::try_from(*x).is_ok()) {
        2
    } else if v.iter().all(|x| i32::try_from(*x).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * v.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    for x in v {
        out.extend_from_slice(&x.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_bytes() {
        // From the reference: list a,b,1,2.
        let lp = encode([&b"a"[..], b"b", b"1", b"2"]);
        assert_eq!(
            lp,
            [0x11, 0, 0, 0, 4, 0, 0x81, b'a', 2, 0x81, b'b', 2, 1, 1, 2, 1, 0xff]
        );
        assert_eq!(
            decode(&lp).unwrap(),
            vec![b"a".to_vec(), b"b".to_vec(), b"1".to_vec(), b"2".to_vec()]
        );
        assert_eq!(
            encode_intset(&[1, 2, 3]),
            [2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0]
        );
    }

    #[test]
    fn round_trips_every_width() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let vals: Vec<Vec<u8>> = [
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "4096",
            "-32768",
            "32767",
            "40000",
            "-8388608",
            "8388607",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "007",
            "",
            "abc",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([long, mid])
        .collect();
        let lp = encode(vals.iter().map(|v| &v[..]));
        assert_eq!(decode(&lp).unwrap(), vals);
        let ints = [i64::MIN, -70000, -1, 0, 5, 70000, i64::MAX];
        assert_eq!(decode_intset(&encode_intset(&ints)).unwrap(), ints);
    }
}
