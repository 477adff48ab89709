//! A compact sequence of byte strings in one allocation, the role Redis's listpack plays for
//! small hashes and sorted sets: each entry is a LEB128 length followed by its bytes. Small
//! collections are scanned linearly, as Redis scans a listpack.

/// The packed entries. The buffer is exactly as long as its contents (no spare capacity).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pack(Box<[u8]>);

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Appends one encoded entry to `out`.
pub fn encode_entry(out: &mut Vec<u8>, e: &[u8]) {
    put_len(out, e.len());
    out.extend_from_slice(e);
}

/// Iterator over the entries of a pack, with each entry's byte offset.
pub struct Entries<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Entries<'a> {
    /// (offset of the entry's header, the entry).
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let mut n = 0usize;
        let mut shift = 0;
        loop {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            n |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let e = self.buf.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some((start, e))
    }
}

impl Pack {
    pub fn new() -> Pack {
        Pack::default()
    }

    /// Builds a pack from entries.
    #[cfg(test)]
    pub fn from_entries<'a>(it: impl IntoIterator<Item = &'a [u8]>) -> Pack {
        let mut v = Vec::new();
        for e in it {
            encode_entry(&mut v, e);
        }
        Pack(v.into_boxed_slice())
    }

    /// A pack from already encoded entries (see [`encode_entry`]).
    pub fn from_encoded(v: Vec<u8>) -> Pack {
        Pack(v.into_boxed_slice())
    }

    pub fn bytes(&self) -> usize {
        self.0.len()
    }

    pub fn entries(&self) -> Entries<'_> {
        Entries {
            buf: &self.0,
            pos: 0,
        }
    }

    /// Entries two at a time (field/value, member/score), with the offset of the first.
    pub fn pairs(&self) -> impl Iterator<Item = (usize, &[u8], &[u8])> + '_ {
        let mut it = self.entries();
        std::iter::from_fn(move || {
            let (off, a) = it.next()?;
            let (_, b) = it.next()?;
            Some((off, a, b))
        })
    }

    pub fn count(&self) -> usize {
        self.entries().count()
    }

    /// The pair whose first entry is `key`: (offset, end offset, second entry).
    pub fn find_pair(&self, key: &[u8]) -> Option<(usize, usize, &[u8])> {
        let mut it = self.entries();
        while let Some((off, a)) = it.next() {
            let (_, b) = it.next()?;
            if a == key {
                return Some((off, it.pos, b));
            }
        }
        None
    }

    /// Replaces bytes `range` of the encoded form with the encoding of `with`.
    pub fn splice(&mut self, range: std::ops::Range<usize>, with: &[&[u8]]) {
        let mut enc = Vec::new();
        for e in with {
            encode_entry(&mut enc, e);
        }
        if enc.len() == range.len() {
            // Same size (a value replaced by one as long): overwrite, no reallocation.
            self.0[range].copy_from_slice(&enc);
            return;
        }
        let mut v = std::mem::take(&mut self.0).into_vec();
        v.splice(range, enc);
        self.0 = v.into_boxed_slice();
    }

    /// Appends entries at the end.
    pub fn push(&mut self, with: &[&[u8]]) {
        let end = self.0.len();
        self.splice(end..end, with);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_find_and_splice() {
        let big = vec![b'x'; 300];
        let mut p = Pack::from_entries([&b"a"[..], b"1", b"b", &big[..]]);
        assert_eq!(p.count(), 4);
        let (off, end, v) = p.find_pair(b"b").unwrap();
        assert_eq!(v, &big[..]);
        p.splice(off..end, &[b"b", b"2"]);
        let all: Vec<_> = p
            .pairs()
            .map(|(_, a, b)| (a.to_vec(), b.to_vec()))
            .collect();
        assert_eq!(
            all,
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        let (off, end, _) = p.find_pair(b"a").unwrap();
        p.splice(off..end, &[]);
        p.push(&[b"c", b""]);
        assert_eq!(p.count(), 4);
        assert!(p.find_pair(b"a").is_none());
        assert_eq!(p.find_pair(b"c").unwrap().2, b"");
    }
}
