//! Sorted-set values. Small ones are a [`Pack`] of member/score pairs kept in order (Redis's
//! listpack encoding); big ones (`zset-max-listpack-entries` / `-value` exceeded) are a member →
//! score [`Dict`] plus an ordered index (Redis's skiplist encoding). The index is a list of
//! sorted chunks: O(log n) to find a position, O(chunk) to insert, and rank = the lengths of the
//! chunks before plus the offset inside one.
//!
//! Order is Redis's: by score, then by member bytes (memcmp, shorter first on a tie).

use super::pack::Pack;
use super::{Dict, EncodingLimits, SBytes};
use std::cmp::Ordering;

const CHUNK: usize = 128;

pub fn cmp_entry(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    a.0.partial_cmp(&b.0)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.1.cmp(b.1))
}

/// The ordered index of a big sorted set.
#[derive(Debug, Clone, Default)]
pub struct Chunked {
    chunks: Vec<Vec<(f64, SBytes)>>,
    len: usize,
}

impl Chunked {
    fn last_of(c: &[(f64, SBytes)]) -> (f64, &[u8]) {
        let (s, m) = c.last().expect("chunks are never empty");
        (*s, &m[..])
    }

    /// The chunk where (s, m) is or would go.
    fn chunk_for(&self, s: f64, m: &[u8]) -> usize {
        let i = self
            .chunks
            .partition_point(|c| cmp_entry(Self::last_of(c), (s, m)) == Ordering::Less);
        i.min(self.chunks.len().saturating_sub(1))
    }

    fn prefix(&self, ci: usize) -> usize {
        self.chunks[..ci].iter().map(|c| c.len()).sum()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn insert(&mut self, s: f64, m: SBytes) {
        if self.chunks.is_empty() {
            self.chunks.push(vec![(s, m)]);
            self.len += 1;
            return;
        }
        let ci = self.chunk_for(s, &m);
        let c = &mut self.chunks[ci];
        let pos = c.partition_point(|(es, em)| cmp_entry((*es, em), (s, &m)) == Ordering::Less);
        c.insert(pos, (s, m));
        self.len += 1;
        if c.len() > 2 * CHUNK {
            let tail = c.split_off(CHUNK);
            self.chunks.insert(ci + 1, tail);
        }
    }

    pub fn remove(&mut self, s: f64, m: &[u8]) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let ci = self.chunk_for(s, m);
        let c = &mut self.chunks[ci];
        let pos = c.partition_point(|(es, em)| cmp_entry((*es, em), (s, m)) == Ordering::Less);
        if pos < c.len() && c[pos].0 == s && &c[pos].1[..] == m {
            c.remove(pos);
            self.len -= 1;
            if c.is_empty() {
                self.chunks.remove(ci);
            } else if c.len() < CHUNK / 4 && ci + 1 < self.chunks.len() {
                // Merge small neighbours so the chunk count stays about len / CHUNK.
                if self.chunks[ci].len() + self.chunks[ci + 1].len() <= 2 * CHUNK {
                    let next = self.chunks.remove(ci + 1);
                    self.chunks[ci].extend(next);
                }
            }
            return true;
        }
        false
    }

    pub fn rank(&self, s: f64, m: &[u8]) -> Option<usize> {
        if self.chunks.is_empty() {
            return None;
        }
        let ci = self.chunk_for(s, m);
        let c = &self.chunks[ci];
        let pos = c.partition_point(|(es, em)| cmp_entry((*es, em), (s, m)) == Ordering::Less);
        (pos < c.len() && c[pos].0 == s && &c[pos].1[..] == m).then(|| self.prefix(ci) + pos)
    }

    /// The first rank whose entry does not satisfy `pred` (which must be true then false).
    pub fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let ci = self.chunks.partition_point(|c| {
            let (s, m) = Self::last_of(c);
            pred(s, m)
        });
        if ci == self.chunks.len() {
            return self.len;
        }
        self.prefix(ci) + self.chunks[ci].partition_point(|(s, m)| pred(*s, m))
    }

    /// Entries from `rank` on.
    pub fn iter_from(&self, mut rank: usize) -> impl Iterator<Item = (f64, &[u8])> + '_ {
        let mut ci = 0;
        while ci < self.chunks.len() && rank >= self.chunks[ci].len() {
            rank -= self.chunks[ci].len();
            ci += 1;
        }
        self.chunks
            .get(ci..)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .flat_map(move |(i, c)| c[if i == 0 { rank } else { 0 }..].iter())
            .map(|(s, m)| (*s, &m[..]))
    }
}

/// A big sorted set.
#[derive(Debug, Clone, Default)]
pub struct SkipSet {
    pub dict: Dict<f64>,
    pub index: Chunked,
}

#[derive(Debug, Clone)]
pub enum ZSetVal {
    Pack(Pack),
    Skip(Box<SkipSet>),
}

/// A score as stored in a pack: integers that fit in 1, 2 or 4 bytes take that many (as a
/// listpack stores small integers compactly), anything else the 8 bytes of the double. The
/// entry's length says which.
fn encode_score(s: f64, buf: &mut [u8; 8]) -> &[u8] {
    let i = s as i32;
    if i as f64 == s {
        if let Ok(b) = i8::try_from(i) {
            buf[0] = b as u8;
            return &buf[..1];
        }
        if let Ok(h) = i16::try_from(i) {
            buf[..2].copy_from_slice(&h.to_le_bytes());
            return &buf[..2];
        }
        buf[..4].copy_from_slice(&i.to_le_bytes());
        return &buf[..4];
    }
    *buf = s.to_le_bytes();
    &buf[..]
}

fn score_of(b: &[u8]) -> f64 {
    match b.len() {
        1 => b[0] as i8 as f64,
        2 => i16::from_le_bytes([b[0], b[1]]) as f64,
        4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        _ => {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[..8]);
            f64::from_le_bytes(a)
        }
    }
}

/// A read-only ordered view of a sorted set, whatever its encoding.
pub enum ZView<'a> {
    Pack(Vec<(f64, &'a [u8])>),
    Skip(&'a Chunked),
}

impl<'a> ZView<'a> {
    pub fn len(&self) -> usize {
        match self {
            ZView::Pack(v) => v.len(),
            ZView::Skip(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZView::Pack(v) => v.partition_point(|(s, m)| pred(*s, m)),
            ZView::Skip(c) => c.partition_point(pred),
        }
    }

    /// The entries from `rank` on, in order.
    pub fn iter_from(&self, rank: usize) -> Box<dyn Iterator<Item = (f64, &'a [u8])> + '_> {
        match self {
            ZView::Pack(v) => Box::new(v.iter().skip(rank).copied()),
            ZView::Skip(c) => {
                let c: &'a Chunked = c;
                Box::new(c.iter_from(rank))
            }
        }
    }

    /// `n` entries from `rank` on, in order.
    pub fn take(&self, rank: usize, n: usize) -> Vec<(f64, &'a [u8])> {
        match self {
            ZView::Pack(v) => v.iter().skip(rank).take(n).copied().collect(),
            ZView::Skip(c) => {
                let c: &'a Chunked = c;
                c.iter_from(rank).take(n).collect()
            }
        }
    }
}

impl ZSetVal {
    pub fn new() -> ZSetVal {
        ZSetVal::Pack(Pack::new())
    }

    /// An empty set of the encoding Redis picks for `n` members of which the longest is
    /// `max_len` bytes.
    pub fn with_hint(n: usize, max_len: usize, lim: &EncodingLimits) -> ZSetVal {
        if n > lim.zset_entries || max_len > lim.zset_value {
            ZSetVal::Skip(Box::default())
        } else {
            ZSetVal::new()
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetVal::Pack(_) => "listpack",
            ZSetVal::Skip(_) => "skiplist",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSetVal::Pack(p) => p.count() / 2,
            ZSetVal::Skip(s) => s.dict.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            ZSetVal::Pack(p) => p.find_pair(m).map(|(_, _, s)| score_of(s)),
            ZSetVal::Skip(s) => s.dict.get(m).copied(),
        }
    }

    pub fn view(&self) -> ZView<'_> {
        match self {
            ZSetVal::Pack(p) => ZView::Pack(p.pairs().map(|(_, m, s)| (score_of(s), m)).collect()),
            ZSetVal::Skip(s) => ZView::Skip(&s.index),
        }
    }

    /// The 0-based rank of a member in ascending order.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        match self {
            ZSetVal::Pack(p) => p.pairs().position(|(_, pm, _)| pm == m),
            ZSetVal::Skip(s) => {
                let sc = *s.dict.get(m)?;
                s.index.rank(sc, m)
            }
        }
    }

    fn convert(&mut self) {
        if let ZSetVal::Pack(p) = self {
            let mut s = SkipSet::default();
            for (_, m, sc) in p.pairs() {
                let sc = score_of(sc);
                s.dict.insert_new(SBytes::new(m), sc);
                s.index.insert(sc, SBytes::new(m));
            }
            *self = ZSetVal::Skip(Box::new(s));
        }
    }

    /// Sets a member's score; returns its old score (None if it is new).
    pub fn insert(&mut self, m: &[u8], score: f64, lim: &EncodingLimits) -> Option<f64> {
        if let ZSetVal::Pack(p) = self {
            let n = p.count() / 2;
            let exists = p.find_pair(m).is_some();
            if m.len() > lim.zset_value || (!exists && n + 1 > lim.zset_entries) {
                self.convert();
            }
        }
        match self {
            ZSetVal::Pack(p) => {
                let old = p.find_pair(m).map(|(off, end, s)| (off, end, score_of(s)));
                if let Some((off, end, s)) = old {
                    if s == score {
                        return Some(s);
                    }
                    p.splice(off..end, &[]);
                }
                // Insert before the first entry that sorts after (score, m).
                let at = p
                    .pairs()
                    .find(|(_, pm, ps)| {
                        cmp_entry((score_of(ps), pm), (score, m)) == Ordering::Greater
                    })
                    .map(|(off, _, _)| off)
                    .unwrap_or(p.bytes());
                // A listpack keeps scores as text, where -0 is written "0" (so is it here: -0
                // is stored as the integer 0).
                let mut buf = [0u8; 8];
                p.splice(at..at, &[m, encode_score(score, &mut buf)]);
                old.map(|o| o.2)
            }
            ZSetVal::Skip(s) => match s.dict.get_mut(m) {
                Some(cur) => {
                    let old = *cur;
                    if old != score {
                        *cur = score;
                        s.index.remove(old, m);
                        s.index.insert(score, SBytes::new(m));
                    }
                    Some(old)
                }
                None => {
                    s.dict.insert_new(SBytes::new(m), score);
                    s.index.insert(score, SBytes::new(m));
                    None
                }
            },
        }
    }

    /// Sets the scores of several members (plain ZADD); returns (added, updated). A small set
    /// that stays small is rebuilt with one allocation instead of one per member.
    pub fn set_many(&mut self, pairs: &[(f64, &[u8])], lim: &EncodingLimits) -> (usize, usize) {
        let (mut added, mut updated) = (0, 0);
        if let ZSetVal::Pack(p) = self {
            // Nothing changes (members already there with these scores): no rebuild.
            if pairs
                .iter()
                .all(|(s, m)| p.find_pair(m).map(|(_, _, x)| score_of(x)) == Some(*s))
            {
                return (0, 0);
            }
            let mut v: Vec<(f64, Vec<u8>)> = p
                .pairs()
                .map(|(_, m, s)| (score_of(s), m.to_vec()))
                .collect();
            for (s, m) in pairs {
                let s = if *s == 0.0 { 0.0 } else { *s };
                if let Some(i) = v.iter().position(|(_, x)| &x[..] == *m) {
                    if v[i].0 == s {
                        continue;
                    }
                    v.remove(i);
                    updated += 1;
                } else {
                    added += 1;
                }
                let at =
                    v.partition_point(|(xs, xm)| cmp_entry((*xs, xm), (s, m)) != Ordering::Greater);
                v.insert(at, (s, m.to_vec()));
            }
            if v.len() <= lim.zset_entries && v.iter().all(|(_, m)| m.len() <= lim.zset_value) {
                let mut buf = [0u8; 8];
                let mut enc = Vec::new();
                for (s, m) in &v {
                    super::pack::encode_entry(&mut enc, m);
                    super::pack::encode_entry(&mut enc, encode_score(*s, &mut buf));
                }
                *p = Pack::from_encoded(enc);
            } else {
                let mut sk = SkipSet::default();
                for (s, m) in v {
                    sk.dict.insert_new(SBytes::new(&m), s);
                    sk.index.insert(s, SBytes::from_vec(m));
                }
                *self = ZSetVal::Skip(Box::new(sk));
            }
            return (added, updated);
        }
        for (s, m) in pairs {
            match self.insert(m, *s, lim) {
                None => added += 1,
                Some(old) if old != *s => updated += 1,
                Some(_) => {}
            }
        }
        (added, updated)
    }

    /// Removes a member; returns its score.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        match self {
            ZSetVal::Pack(p) => {
                let (off, end, s) = p.find_pair(m)?;
                let s = score_of(s);
                p.splice(off..end, &[]);
                Some(s)
            }
            ZSetVal::Skip(s) => {
                let (_, sc) = s.dict.remove(m)?;
                s.index.remove(sc, m);
                Some(sc)
            }
        }
    }

    pub fn approx_size(&self) -> usize {
        match self {
            ZSetVal::Pack(p) => p.bytes(),
            ZSetVal::Skip(s) => s.dict.len() * 96 + s.dict.buckets() * 8,
        }
    }
}

impl Default for ZSetVal {
    fn default() -> Self {
        ZSetVal::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(n: usize) -> EncodingLimits {
        EncodingLimits {
            zset_entries: n,
            ..EncodingLimits::default()
        }
    }

    #[test]
    fn scores_round_trip_through_the_pack_encoding() {
        for s in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            127.0,
            -128.0,
            128.0,
            -129.0,
            32767.0,
            -32768.0,
            32768.0,
            2147483647.0,
            -2147483648.0,
            2147483648.0,
            1.5,
            -0.25,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            3.0000000000000004,
        ] {
            let mut buf = [0u8; 8];
            let enc = encode_score(s, &mut buf).to_vec();
            assert_eq!(score_of(&enc), if s == 0.0 { 0.0 } else { s }, "{s}");
            assert!(score_of(&enc).is_sign_positive() || s != 0.0);
        }
    }

    /// The same operations on both encodings give the same order, ranks and scores.
    #[test]
    fn encodings_agree() {
        let mut rng = 12345u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut small = ZSetVal::new();
        let mut big = ZSetVal::with_hint(1000, 0, &lim(0));
        for _ in 0..3000 {
            let m = format!("m{}", next() % 700);
            let s = (next() % 50) as f64 / 4.0;
            if next() % 4 == 0 {
                assert_eq!(small.remove(m.as_bytes()), big.remove(m.as_bytes()));
            } else {
                assert_eq!(
                    small.insert(m.as_bytes(), s, &lim(100_000)),
                    big.insert(m.as_bytes(), s, &lim(0))
                );
            }
        }
        assert_eq!(small.encoding(), "listpack");
        assert_eq!(big.encoding(), "skiplist");
        let (a, b) = (small.view(), big.view());
        assert_eq!(a.len(), b.len());
        assert_eq!(a.take(0, usize::MAX), b.take(0, usize::MAX));
        assert_eq!(a.take(37, 20), b.take(37, 20));
        for (s, m) in a.take(0, usize::MAX) {
            assert_eq!(small.rank(m), big.rank(m));
            assert_eq!(big.score(m), Some(s));
        }
        let p = |s: f64, _: &[u8]| s < 5.0;
        assert_eq!(a.partition_point(p), b.partition_point(p));
    }
}
