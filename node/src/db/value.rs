//! Stored values and their encodings as OBJECT ENCODING reports them.

use super::sbytes::SBytes;
use picket::numfmt::parse_i64;
use picket::resp::fmt_i64;
use std::borrow::Cow;

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

/// A value in the keyspace. Collections are added by the collections issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(RStr),
}

impl Value {
    /// TYPE's answer.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
        }
    }

    /// Rough heap size, for eviction accounting and INFO.
    pub fn approx_size(&self) -> usize {
        match self {
            Value::Str(RStr::Int(_)) => 0,
            Value::Str(RStr::Emb(b)) | Value::Str(RStr::Raw(b)) => b.heap_size(),
        }
    }
}

/// A keyspace entry: the value plus its LRU clock or LFU counter (as Redis's 24-bit field).
#[derive(Debug, Clone)]
pub struct Entry {
    pub val: Value,
    pub lru: u32,
}
