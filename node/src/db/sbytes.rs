//! A compact byte string for keys and small values: up to 22 bytes live inline (no heap
//! allocation, 24 bytes in all), longer ones in an exact-size boxed slice. Keys and short
//! values are what most datasets hold, so this is where memory per key is won.

use std::fmt;
use std::ops::Deref;

const INLINE: usize = 22;

#[derive(Clone, PartialEq, Eq)]
pub enum SBytes {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl SBytes {
    pub fn new(b: &[u8]) -> SBytes {
        if b.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..b.len()].copy_from_slice(b);
            SBytes::Inline {
                len: b.len() as u8,
                data,
            }
        } else {
            SBytes::Heap(b.into())
        }
    }

    /// Takes ownership of a vector (no copy when it goes to the heap).
    pub fn from_vec(v: Vec<u8>) -> SBytes {
        if v.len() <= INLINE {
            SBytes::new(&v)
        } else {
            SBytes::Heap(v.into_boxed_slice())
        }
    }

    /// Heap bytes used beyond the value itself.
    pub fn heap_size(&self) -> usize {
        match self {
            SBytes::Inline { .. } => 0,
            SBytes::Heap(b) => b.len(),
        }
    }

    /// The bytes as a vector (no copy when they are on the heap).
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            SBytes::Inline { len, data } => data[..len as usize].to_vec(),
            SBytes::Heap(b) => b.into_vec(),
        }
    }

    /// The bytes, for changing them in place (the length stays).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            SBytes::Inline { len, data } => &mut data[..*len as usize],
            SBytes::Heap(b) => b,
        }
    }

    pub fn to_bytes(&self) -> bytes::Bytes {
        bytes::Bytes::copy_from_slice(self)
    }
}

impl Deref for SBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            SBytes::Inline { len, data } => &data[..*len as usize],
            SBytes::Heap(b) => b,
        }
    }
}

impl std::hash::Hash for SBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self[..].hash(state)
    }
}

impl fmt::Debug for SBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

impl From<&[u8]> for SBytes {
    fn from(b: &[u8]) -> SBytes {
        SBytes::new(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap() {
        assert_eq!(std::mem::size_of::<SBytes>(), 24);
        let a = SBytes::new(b"key:123");
        assert!(matches!(a, SBytes::Inline { .. }));
        assert_eq!(&a[..], b"key:123");
        let long = vec![7u8; 100];
        let b = SBytes::from_vec(long.clone());
        assert!(matches!(b, SBytes::Heap(_)));
        assert_eq!(&b[..], &long[..]);
        assert_eq!(SBytes::new(b""), SBytes::from_vec(Vec::new()));
    }
}
