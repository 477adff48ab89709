//! A chained hash table with power-of-two buckets, like Redis's dict, so that:
//! - SCAN can use the reverse-binary cursor, which returns every key present for the whole
//!   scan even when the table grows or shrinks between calls;
//! - random sampling (RANDOMKEY, eviction, active expiry) picks a random bucket in O(1).
//!
//! Resizing is done at once (not incrementally); it moves node pointers, not keys or values.

use super::sbytes::SBytes;
use std::hash::{BuildHasher, Hasher};

struct Node<V> {
    key: SBytes,
    val: V,
    next: Option<Box<Node<V>>>,
}

pub struct Dict<V> {
    buckets: Vec<Option<Box<Node<V>>>>,
    len: usize,
    hasher: foldhash::fast::RandomState,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone> Clone for Dict<V> {
    fn clone(&self) -> Self {
        let mut d = Dict::new();
        for (k, v) in self.iter() {
            d.insert_new(k.clone(), v.clone());
        }
        d
    }
}

impl<V> std::fmt::Debug for Dict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dict(len={})", self.len)
    }
}

const MIN_BUCKETS: usize = 4;

fn rev(v: u64) -> u64 {
    v.reverse_bits()
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Dict {
            buckets: Vec::new(),
            len: 0,
            hasher: Default::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of buckets (for DEBUG/INFO-style reporting).
    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(key);
        h.finish()
    }

    fn index(&self, key: &[u8]) -> usize {
        (self.hash(key) as usize) & (self.buckets.len() - 1)
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut cur = self.buckets[self.index(key)].as_deref();
        while let Some(n) = cur {
            if n.key[..] == *key {
                return Some(&n.val);
            }
            cur = n.next.as_deref();
        }
        None
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.buckets.is_empty() {
            return None;
        }
        let i = self.index(key);
        let mut cur = self.buckets[i].as_deref_mut();
        while let Some(n) = cur {
            if n.key[..] == *key {
                return Some(&mut n.val);
            }
            cur = n.next.as_deref_mut();
        }
        None
    }

    /// The stored key equal to `key` (to share its allocation).
    pub fn get_key_value(&self, key: &[u8]) -> Option<(&SBytes, &V)> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut cur = self.buckets[self.index(key)].as_deref();
        while let Some(n) = cur {
            if n.key[..] == *key {
                return Some((&n.key, &n.val));
            }
            cur = n.next.as_deref();
        }
        None
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: SBytes, val: V) -> Option<V> {
        if let Some(v) = self.get_mut(&key) {
            return Some(std::mem::replace(v, val));
        }
        self.insert_new(key, val);
        None
    }

    /// Makes room for `n` entries in all (loading a file whose RESIZEDB says how many).
    pub fn reserve(&mut self, n: usize) {
        let want = n.next_power_of_two().max(MIN_BUCKETS);
        if want > self.buckets.len() {
            self.resize(want);
        }
    }

    /// Inserts a key the caller knows is absent (saves the lookup).
    pub fn insert_new(&mut self, key: SBytes, val: V) {
        if self.len >= self.buckets.len() {
            self.resize((self.len + 1).next_power_of_two().max(MIN_BUCKETS));
        }
        let i = self.index(&key);
        let next = self.buckets[i].take();
        self.buckets[i] = Some(Box::new(Node { key, val, next }));
        self.len += 1;
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<(SBytes, V)> {
        if self.buckets.is_empty() {
            return None;
        }
        let i = self.index(key);
        let mut link = &mut self.buckets[i];
        loop {
            match link {
                None => return None,
                Some(n) if n.key[..] == *key => {
                    let mut boxed = link.take()?;
                    *link = boxed.next.take();
                    self.len -= 1;
                    self.maybe_shrink();
                    return Some((boxed.key, boxed.val));
                }
                Some(n) => link = &mut n.next,
            }
        }
    }

    fn maybe_shrink(&mut self) {
        let b = self.buckets.len();
        if b > MIN_BUCKETS && self.len * 10 < b {
            self.resize(self.len.next_power_of_two().max(MIN_BUCKETS));
        }
    }

    fn resize(&mut self, size: usize) {
        let mut old = std::mem::take(&mut self.buckets);
        self.buckets.resize_with(size, || None);
        for slot in old.iter_mut() {
            let mut cur = slot.take();
            while let Some(mut n) = cur {
                cur = n.next.take();
                let i = self.index(&n.key);
                n.next = self.buckets[i].take();
                self.buckets[i] = Some(n);
            }
        }
    }

    pub fn clear(&mut self) {
        // Unlink chains iteratively so a long chain cannot overflow the stack on drop.
        for slot in self.buckets.iter_mut() {
            let mut cur = slot.take();
            while let Some(mut n) = cur {
                cur = n.next.take();
            }
        }
        self.buckets = Vec::new();
        self.len = 0;
    }

    /// Visits the entries of the bucket(s) at `cursor` and returns the next cursor (0 = done).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&SBytes, &V)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut cur = self.buckets[(cursor & mask) as usize].as_deref();
        while let Some(n) = cur {
            f(&n.key, &n.val);
            cur = n.next.as_deref();
        }
        let mut v = cursor | !mask;
        v = rev(v);
        v = v.wrapping_add(1);
        rev(v)
    }

    /// [`scan`](Self::scan) with mutable access to the values (the snapshot marks what it
    /// wrote).
    pub fn scan_mut(&mut self, cursor: u64, mut f: impl FnMut(&SBytes, &mut V)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut cur = self.buckets[(cursor & mask) as usize].as_deref_mut();
        while let Some(n) = cur {
            f(&n.key, &mut n.val);
            cur = n.next.as_deref_mut();
        }
        let mut v = cursor | !mask;
        v = rev(v);
        v = v.wrapping_add(1);
        rev(v)
    }

    /// A random entry: a random non-empty bucket, then a random element of its chain.
    pub fn random(&self, rng: &mut impl FnMut(usize) -> usize) -> Option<(&SBytes, &V)> {
        if self.len == 0 {
            return None;
        }
        let b = self.buckets.len();
        let mut i = rng(b);
        let mut tries = 0;
        while self.buckets[i].is_none() {
            tries += 1;
            i = if tries < 64 {
                rng(b)
            } else {
                (i + 1) & (b - 1)
            };
        }
        let mut chain = Vec::new();
        let mut cur = self.buckets[i].as_deref();
        while let Some(n) = cur {
            chain.push(n);
            cur = n.next.as_deref();
        }
        let n = chain[rng(chain.len())];
        Some((&n.key, &n.val))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SBytes, &V)> {
        self.buckets.iter().flat_map(|b| {
            let mut cur = b.as_deref();
            std::iter::from_fn(move || {
                let n = cur?;
                cur = n.next.as_deref();
                Some((&n.key, &n.val))
            })
        })
    }
}

impl<V> Drop for Dict<V> {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn k(i: usize) -> SBytes {
        SBytes::new(format!("key:{i}").as_bytes())
    }

    #[test]
    fn insert_get_remove() {
        let mut d = Dict::new();
        for i in 0..1000 {
            assert!(d.insert(k(i), i).is_none());
        }
        assert_eq!(d.insert(k(5), 50), Some(5));
        assert_eq!(d.get(b"key:5"), Some(&50));
        for i in 0..990 {
            assert!(d.remove(&k(i)).is_some());
        }
        assert_eq!(d.len(), 10);
        assert!(d.buckets() <= 128);
        assert_eq!(d.iter().count(), 10);
    }

    #[test]
    fn scan_returns_stable_keys_across_resizes() {
        let mut d = Dict::new();
        for i in 0..500 {
            d.insert(k(i), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = d.scan(cursor, |key, _| {
                seen.insert(key.clone());
            });
            step += 1;
            // Grow, then shrink, in the middle of the scan; keys 0..100 stay throughout.
            if step == 50 {
                for i in 500..5000 {
                    d.insert(k(i), ());
                }
            }
            if step == 300 {
                for i in 100..5000 {
                    d.remove(&k(i));
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..100 {
            assert!(seen.contains(&k(i)), "missing {i}");
        }
    }
}
