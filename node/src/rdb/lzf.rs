//! LZF, the compression of RDB strings (`0xC3`): a decompressor for everything Redis writes,
//! and a small compressor (hash of 3-byte sequences, as liblzf) for `rdbcompression yes`.

/// Decompresses `input` into exactly `out_len` bytes; None if the data is malformed.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len.min(input.len().saturating_mul(8)));
    let mut i = 0;
    while i < input.len() {
        let c = input[i] as usize;
        i += 1;
        if c < 32 {
            let n = c + 1;
            let lit = input.get(i..i + n)?;
            if out.len() + n > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            i += n;
        } else {
            let mut len = c >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            let back = ((c & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            if back > out.len() || out.len() + len + 2 > out_len {
                return None;
            }
            let start = out.len() - back;
            for k in 0..len + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

/// Compresses `input`; None when the result would not be smaller.
pub fn compress(input: &[u8]) -> Option<Vec<u8>> {
    const MAX_OFF: usize = 1 << 13;
    const MAX_REF: usize = (1 << 8) + (1 << 3);
    let n = input.len();
    if n < 4 {
        return None;
    }
    // A table sized to the input (at most 2^14 slots): short strings, the common case, must
    // not pay for clearing a big table on every call.
    let hlog = (usize::BITS - n.leading_zeros()).clamp(4, 14) as usize;
    let mut htab = vec![0u32; 1 << hlog];
    let mut out = Vec::with_capacity(n);
    let mut lit: Vec<u8> = Vec::new();
    let flush_lit = |out: &mut Vec<u8>, lit: &mut Vec<u8>| {
        for chunk in lit.chunks(32) {
            out.push((chunk.len() - 1) as u8);
            out.extend_from_slice(chunk);
        }
        lit.clear();
    };
    let mut i = 0;
    while i + 2 < n {
        let h = ((input[i] as usize) << 16 | (input[i + 1] as usize) << 8 | input[i + 2] as usize)
            .wrapping_mul(2654435761)
            >> 7
            & ((1 << hlog) - 1);
        let cand = htab[h] as usize;
        htab[h] = (i + 1) as u32;
        if cand > 0 {
            let r = cand - 1;
            let off = i - r - 1;
            if off < MAX_OFF && input[r..r + 3] == input[i..i + 3] {
                let mut len = 3;
                let max = (n - i).min(MAX_REF);
                while len < max && input[r + len] == input[i + len] {
                    len += 1;
                }
                flush_lit(&mut out, &mut lit);
                let l = len - 2;
                if l < 7 {
                    out.push(((l << 5) | (off >> 8)) as u8);
                } else {
                    out.push(((7 << 5) | (off >> 8)) as u8);
                    out.push((l - 7) as u8);
                }
                out.push((off & 0xff) as u8);
                i += len;
                if out.len() >= n {
                    return None;
                }
                continue;
            }
        }
        lit.push(input[i]);
        i += 1;
    }
    lit.extend_from_slice(&input[i..]);
    flush_lit(&mut out, &mut lit);
    (out.len() < n).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let inputs: Vec<Vec<u8>> = vec![
            vec![b'a'; 100],
            b"hello hello hello hello world world world".to_vec(),
            (0..5000u32).map(|i| (i % 251) as u8).collect(),
            (0..3000u32)
                .flat_map(|i| i.to_string().into_bytes())
                .collect(),
        ];
        for inp in inputs {
            let c = compress(&inp).expect("compressible");
            assert!(c.len() < inp.len());
            assert_eq!(decompress(&c, inp.len()).unwrap(), inp);
        }
        assert!(decompress(&[0xe0, 0xff, 0x00], 10).is_none());
    }
}
