//! The ziplist and zipmap blobs of RDB files written by Redis 6.2 and older (RDB types 9, 10,
//! 12, 13 and 14): decoded only, as Redis 7.0 does when it loads them (it converts them to
//! listpacks or hash tables and never writes them again). Every length is checked against
//! the blob, so a corrupt file is an error, never a panic.

/// The entries of a ziplist (integers as decimal strings).
pub fn decode_ziplist(b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    const HEADER: usize = 10;
    if b.len() < HEADER + 1 {
        return Err("ziplist too short".into());
    }
    let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if total != b.len() {
        return Err(format!("ziplist size {total} != blob size {}", b.len()));
    }
    let count = u16::from_le_bytes([b[8], b[9]]) as usize;
    let mut out = Vec::with_capacity(count.min(1 << 16));
    let mut at = HEADER;
    loop {
        match b.get(at) {
            None => return Err("ziplist without its end byte".into()),
            Some(0xff) if at + 1 == b.len() => break,
            Some(0xff) => return Err("bytes after a ziplist's end".into()),
            Some(_) => {}
        }
        at += if b[at] == 0xfe { 5 } else { 1 };
        let (entry, next) = entry(b, at)?;
        out.push(entry);
        at = next;
    }
    // A count of 65535 means "too many to count in the header".
    if count != u16::MAX as usize && count != out.len() {
        return Err(format!("ziplist says {count} entries, holds {}", out.len()));
    }
    Ok(out)
}

/// One entry's value starting at its encoding byte `at`, and where the next entry starts.
fn entry(b: &[u8], at: usize) -> Result<(Vec<u8>, usize), String> {
    let enc = *b.get(at).ok_or("ziplist entry past the end")?;
    let take = |from: usize, n: usize| take(b, from, n);
    let (len, start) = match enc >> 6 {
        0 => ((enc & 0x3f) as usize, at + 1),
        1 => {
            let lo = *take(at + 1, 1)?.first().unwrap_or(&0);
            ((((enc & 0x3f) as usize) << 8) | lo as usize, at + 2)
        }
        2 => {
            let l = take(at + 1, 4)?;
            (
                u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize,
                at + 5,
            )
        }
        _ => return integer(b, enc, at),
    };
    Ok((take(start, len)?.to_vec(), start + len))
}

/// `n` bytes of `b` from `from`, or an error when they are not all there.
fn take(b: &[u8], from: usize, n: usize) -> Result<&[u8], String> {
    b.get(from..from.checked_add(n).ok_or("ziplist length overflow")?)
        .ok_or_else(|| "ziplist entry past the end".to_string())
}

/// An integer entry (encoding byte `enc` at `at`), as its decimal text.
fn integer(b: &[u8], enc: u8, at: usize) -> Result<(Vec<u8>, usize), String> {
    let le = |n: usize| -> Result<i64, String> {
        // Little-endian bytes placed high, then shifted down: sign-extended.
        let mut w = [0u8; 8];
        w[8 - n..].copy_from_slice(take(b, at + 1, n)?);
        Ok(i64::from_le_bytes(w) >> (8 * (8 - n)))
    };
    let (v, size) = match enc {
        0xc0 => (le(2)?, 2),
        0xd0 => (le(4)?, 4),
        0xe0 => (le(8)?, 8),
        0xf0 => (le(3)?, 3),
        0xfe => (le(1)?, 1),
        0xf1..=0xfd => ((enc & 0x0f) as i64 - 1, 0),
        _ => return Err(format!("ziplist entry with unknown encoding {enc:#x}")),
    };
    Ok((v.to_string().into_bytes(), at + 1 + size))
}

/// The fields and values of a zipmap, flat (field, value, field, value ...).
pub fn decode_zipmap(b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut at = 1; // the first byte is a count that saturates at 254
    loop {
        let (len, next) = match zipmap_len(b, at)? {
            None if at + 1 == b.len() => break,
            None => return Err("bytes after a zipmap's end".into()),
            Some(l) => l,
        };
        let field = b.get(next..next + len).ok_or("zipmap field past the end")?;
        out.push(field.to_vec());
        let (len, next) = zipmap_len(b, next + len)?.ok_or("zipmap field without value")?;
        let free = *b.get(next).ok_or("zipmap value past the end")? as usize;
        let value = b
            .get(next + 1..next + 1 + len)
            .ok_or("zipmap value past the end")?;
        out.push(value.to_vec());
        at = next + 1 + len + free;
    }
    Ok(out)
}

/// A zipmap length at `at` and where what it measures starts; None at the end marker.
fn zipmap_len(b: &[u8], at: usize) -> Result<Option<(usize, usize)>, String> {
    match *b.get(at).ok_or("zipmap without its end byte")? {
        0xff => Ok(None),
        0xfe => {
            let l = b.get(at + 1..at + 5).ok_or("zipmap length past the end")?;
            let len = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
            Ok(Some((len, at + 5)))
        }
        n => Ok(Some((n as usize, at + 1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist of `entries`, each given as its encoded bytes (prevlen written as 1 byte).
    fn ziplist(entries: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        for e in entries {
            body.push(prev as u8);
            body.extend_from_slice(e);
            prev = e.len() + 1;
        }
        let total = 10 + body.len() + 1;
        let mut b = (total as u32).to_le_bytes().to_vec();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        b.extend_from_slice(&body);
        b.push(0xff);
        b
    }

    #[test]
    fn every_encoding_of_a_ziplist_entry_decodes() {
        let b = ziplist(&[
            b"\x03abc",
            b"\x40\x02hi",
            b"\xc0\x39\x30",
            b"\xc0\xc7\xcf",
            b"\xd0\x00\x00\x00\x80",
            b"\xe0\xff\xff\xff\xff\xff\xff\xff\x7f",
            b"\xf0\xff\xff\xff",
            b"\xfe\x80",
            b"\xf1",
            b"\xfd",
        ]);
        let want: Vec<&[u8]> = vec![
            b"abc",
            b"hi",
            b"12345",
            b"-12345",
            b"-2147483648",
            b"9223372036854775807",
            b"-1",
            b"-128",
            b"0",
            b"12",
        ];
        assert_eq!(decode_ziplist(&b).unwrap(), want);
    }

    #[test]
    fn a_truncated_or_lying_ziplist_is_an_error() {
        let b = ziplist(&[b"\x03abc", b"\xe0\x01"]);
        assert!(decode_ziplist(&b).is_err());
        let mut b = ziplist(&[b"\x03abc"]);
        b[8] = 2;
        assert!(decode_ziplist(&b).is_err());
        for cut in 0..b.len() {
            assert!(decode_ziplist(&b[..cut]).is_err());
        }
        assert!(decode_ziplist(&ziplist(&[b"\x80\xff\xff\xff\xffx"])).is_err());
    }

    #[test]
    fn a_zipmap_decodes_with_its_free_bytes_skipped() {
        let b = b"\x02\x01a\x02\x01xy!\x03key\x00\x00\xff";
        let got = decode_zipmap(b).unwrap();
        let want: Vec<&[u8]> = vec![b"a", b"xy", b"key", b""];
        assert_eq!(got, want);
        for cut in 0..b.len() {
            assert!(decode_zipmap(&b[..cut]).is_err());
        }
    }
}
