//! Hash values: a listpack-like [`Pack`] of field/value pairs while small, a [`Dict`] once
//! `hash-max-listpack-entries` or `hash-max-listpack-value` is exceeded (never converted back).

use super::pack::Pack;
use super::{Dict, EncodingLimits, SBytes};

#[derive(Debug, Clone)]
pub enum HashVal {
    Pack(Pack),
    Table(Box<Dict<SBytes>>),
}

impl HashVal {
    pub fn new() -> HashVal {
        HashVal::Pack(Pack::new())
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            HashVal::Pack(_) => "listpack",
            HashVal::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            HashVal::Pack(p) => p.count() / 2,
            HashVal::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            HashVal::Pack(p) => p.bytes() == 0,
            HashVal::Table(d) => d.is_empty(),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashVal::Pack(p) => p.find_pair(field).map(|(_, _, v)| v),
            HashVal::Table(d) => d.get(field).map(|v| &v[..]),
        }
    }

    /// Converts to a table if adding this field/value would exceed the listpack limits.
    fn grow_check(&mut self, field: &[u8], val: &[u8], lim: &EncodingLimits) {
        if let HashVal::Pack(p) = self {
            let too_long = field.len() > lim.hash_value || val.len() > lim.hash_value;
            if too_long || p.count() / 2 >= lim.hash_entries {
                self.convert();
            }
        }
    }

    /// Converts a pack to a table.
    pub fn convert(&mut self) {
        if let HashVal::Pack(p) = self {
            let mut d = Dict::new();
            for (_, f, v) in p.pairs() {
                d.insert(SBytes::new(f), SBytes::new(v));
            }
            *self = HashVal::Table(Box::new(d));
        }
    }

    /// Sets a field; true if it is new.
    pub fn set(&mut self, field: &[u8], val: &[u8], lim: &EncodingLimits) -> bool {
        if let HashVal::Pack(p) = self {
            if let Some((off, end, _)) = p.find_pair(field) {
                if field.len() > lim.hash_value || val.len() > lim.hash_value {
                    self.convert();
                } else {
                    p.splice(off..end, &[field, val]);
                    return false;
                }
            }
        }
        self.grow_check(field, val, lim);
        match self {
            HashVal::Pack(p) => {
                p.push(&[field, val]);
                true
            }
            HashVal::Table(d) => match d.get_mut(field) {
                Some(v) => {
                    *v = SBytes::new(val);
                    false
                }
                None => {
                    d.insert_new(SBytes::new(field), SBytes::new(val));
                    true
                }
            },
        }
    }

    /// Sets several fields; returns how many are new. When they are all new to a small hash
    /// that stays small, the pack grows by one allocation instead of one per field.
    pub fn set_many(&mut self, pairs: &[(&[u8], &[u8])], lim: &EncodingLimits) -> usize {
        if let HashVal::Pack(p) = self {
            let n = p.count() / 2;
            let fits = n + pairs.len() <= lim.hash_entries
                && pairs
                    .iter()
                    .all(|(f, v)| f.len() <= lim.hash_value && v.len() <= lim.hash_value);
            let all_new = fits
                && pairs.iter().enumerate().all(|(i, (f, _))| {
                    p.find_pair(f).is_none() && !pairs[..i].iter().any(|(g, _)| g == f)
                });
            if all_new {
                let entries: Vec<&[u8]> = pairs.iter().flat_map(|(f, v)| [*f, *v]).collect();
                p.push(&entries);
                return pairs.len();
            }
        }
        pairs.iter().filter(|(f, v)| self.set(f, v, lim)).count()
    }

    /// Removes a field; true if it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashVal::Pack(p) => match p.find_pair(field) {
                Some((off, end, _)) => {
                    p.splice(off..end, &[]);
                    true
                }
                None => false,
            },
            HashVal::Table(d) => d.remove(field).is_some(),
        }
    }

    /// Every field/value pair, in the encoding's order.
    pub fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        match self {
            HashVal::Pack(p) => p.pairs().map(|(_, f, v)| (f, v)).collect(),
            HashVal::Table(d) => d.iter().map(|(f, v)| (&f[..], &v[..])).collect(),
        }
    }

    pub fn approx_size(&self) -> usize {
        match self {
            HashVal::Pack(p) => p.bytes(),
            HashVal::Table(d) => d.len() * 64 + d.buckets() * 8,
        }
    }
}

impl Default for HashVal {
    fn default() -> Self {
        HashVal::new()
    }
}
