//! Set values: a sorted array of integers (Redis's intset) while every member is an integer and
//! there are at most `set-max-intset-entries`, otherwise a [`Dict`] (never converted back).

use super::{Dict, EncodingLimits, SBytes};
use picket::numfmt::parse_i64;
use picket::resp::fmt_i64;

#[derive(Debug, Clone)]
pub enum SetVal {
    Ints(Vec<i64>),
    Table(Box<Dict<()>>),
}

/// An owned member, whatever the encoding.
pub fn int_bytes(i: i64) -> Vec<u8> {
    let mut b = [0u8; 20];
    fmt_i64(&mut b, i).to_vec()
}

impl SetVal {
    /// An empty set suited to a first member `m` (intset if it is an integer).
    pub fn for_member(m: &[u8]) -> SetVal {
        if parse_i64(m).is_some() {
            SetVal::Ints(Vec::new())
        } else {
            SetVal::Table(Box::default())
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            SetVal::Ints(_) => "intset",
            SetVal::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SetVal::Ints(v) => v.len(),
            SetVal::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetVal::Ints(v) => parse_i64(m)
                .map(|i| v.binary_search(&i).is_ok())
                .unwrap_or(false),
            SetVal::Table(d) => d.contains_key(m),
        }
    }

    fn convert(&mut self) {
        if let SetVal::Ints(v) = self {
            let mut d = Dict::new();
            for i in v.iter() {
                d.insert_new(SBytes::new(&int_bytes(*i)), ());
            }
            *self = SetVal::Table(Box::new(d));
        }
    }

    /// Adds a member; true if it is new.
    pub fn add(&mut self, m: &[u8], lim: &EncodingLimits) -> bool {
        if let SetVal::Ints(v) = self {
            match parse_i64(m) {
                Some(i) => match v.binary_search(&i) {
                    Ok(_) => return false,
                    Err(pos) => {
                        if v.len() < lim.set_intset_entries {
                            v.insert(pos, i);
                            return true;
                        }
                        self.convert();
                    }
                },
                None => self.convert(),
            }
        }
        match self {
            SetVal::Table(d) => {
                if d.contains_key(m) {
                    return false;
                }
                d.insert_new(SBytes::new(m), ());
                true
            }
            SetVal::Ints(_) => unreachable!("converted above"),
        }
    }

    /// Removes a member; true if it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetVal::Ints(v) => match parse_i64(m).map(|i| v.binary_search(&i)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    true
                }
                _ => false,
            },
            SetVal::Table(d) => d.remove(m).is_some(),
        }
    }

    /// Every member (owned), in the encoding's order.
    pub fn members(&self) -> Vec<Vec<u8>> {
        match self {
            SetVal::Ints(v) => v.iter().map(|i| int_bytes(*i)).collect(),
            SetVal::Table(d) => d.iter().map(|(k, _)| k.to_vec()).collect(),
        }
    }

    /// A random member.
    pub fn random(&self, rng: &mut impl FnMut(usize) -> usize) -> Option<Vec<u8>> {
        match self {
            SetVal::Ints(v) if v.is_empty() => None,
            SetVal::Ints(v) => Some(int_bytes(v[rng(v.len())])),
            SetVal::Table(d) => d.random(rng).map(|(k, _)| k.to_vec()),
        }
    }

    pub fn approx_size(&self) -> usize {
        match self {
            SetVal::Ints(v) => v.len() * 8,
            SetVal::Table(d) => d.len() * 48 + d.buckets() * 8,
        }
    }
}
