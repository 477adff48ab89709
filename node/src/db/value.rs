//! Stored values and their encodings as OBJECT ENCODING reports them.

use super::hash::HashVal;
use super::sbytes::SBytes;
use super::set::SetVal;
use super::zset::ZSetVal;
use picket::numfmt::parse_i64;
use picket::resp::fmt_i64;
use std::borrow::Cow;
use std::collections::VecDeque;

/// Strings up to this length are `embstr` when created by SET, as in Redis.
pub const EMBSTR_MAX: usize = 44;

/// A string value: an integer (`int`), a short immutable string (`embstr`), or a string that was
/// modified in place or is long (`raw`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RStr {
    Int(i64),
    Emb(SBytes),
    Raw(SBytes),
}

impl RStr {
    /// The encoding Redis picks for a value written by SET and friends.
    pub fn from_arg(b: &[u8]) -> RStr {
        if b.len() <= 20 {
            if let Some(i) = parse_i64(b) {
                return RStr::Int(i);
            }
        }
        if b.len() <= EMBSTR_MAX {
            RStr::Emb(SBytes::new(b))
        } else {
            RStr::Raw(SBytes::new(b))
        }
    }

    pub fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            RStr::Int(i) => {
                let mut b = [0u8; 20];
                Cow::Owned(fmt_i64(&mut b, *i).to_vec())
            }
            RStr::Emb(b) | RStr::Raw(b) => Cow::Borrowed(&b[..]),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            RStr::Int(i) => {
                let mut b = [0u8; 20];
                fmt_i64(&mut b, *i).len()
            }
            RStr::Emb(b) | RStr::Raw(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            RStr::Int(_) => "int",
            RStr::Emb(_) => "embstr",
            RStr::Raw(_) => "raw",
        }
    }

    /// The integer value, if the string is a valid integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            RStr::Int(i) => Some(*i),
            RStr::Emb(b) | RStr::Raw(b) => parse_i64(b),
        }
    }
}

/// A value in the keyspace. Collections are boxed so that every entry stays small.
#[derive(Debug, Clone)]
pub enum Value {
    Str(RStr),
    List(Box<VecDeque<SBytes>>),
    /// Unboxed: small hashes are the most numerous collections, and an extra allocation each
    /// would cost about 32 bytes per key.
    Hash(HashVal),
    Set(Box<SetVal>),
    /// Unboxed, as hashes (small sorted sets are numerous).
    ZSet(ZSetVal),
}

impl Value {
    /// TYPE's answer.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            // Redis 7.0 keeps every list as a quicklist.
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// Number of elements for collections (1 for strings): what lazy freeing and DEBUG look at.
    pub fn elements(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::List(l) => l.len(),
            Value::Hash(h) => h.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
        }
    }

    /// Rough heap size, for eviction accounting and INFO.
    pub fn approx_size(&self) -> usize {
        match self {
            Value::Str(RStr::Int(_)) => 0,
            Value::Str(RStr::Emb(b)) | Value::Str(RStr::Raw(b)) => b.heap_size(),
            Value::List(l) => l.len() * 24 + l.iter().map(|e| e.heap_size()).sum::<usize>(),
            Value::Hash(h) => h.approx_size(),
            Value::Set(s) => s.approx_size(),
            Value::ZSet(z) => z.approx_size(),
        }
    }
}

/// A keyspace entry: the value plus its LRU clock or LFU counter (as Redis's 24-bit field).
#[derive(Debug, Clone)]
pub struct Entry {
    pub val: Value,
    pub lru: u32,
    /// The snapshot generation this entry was last written out by or created in (see
    /// [`super::capture`]); it fits in the padding after `lru`.
    pub snap: u32,
}

#[cfg(test)]
mod tests {
    #[test]
    fn entries_stay_small() {
        assert_eq!(std::mem::size_of::<super::Value>(), 32);
        assert_eq!(std::mem::size_of::<super::Entry>(), 40);
    }
}
