//! Helpers shared by the collection commands: typed key lookup with Redis's WRONGTYPE rule,
//! removal of emptied keys, and argument parsing common to several families.

use crate::db::{HashVal, Keyspace, SBytes, SetVal, Value, ZSetVal};
use crate::state::NodeState;
use picket::args::{eq_ic, ArgError, Args, ERR_NOT_INT, ERR_SYNTAX, ERR_WRONGTYPE};
pub use picket::keyspace_events as class;
use picket::numfmt::parse_i64;
use std::collections::VecDeque;

pub type List = VecDeque<SBytes>;

macro_rules! typed_lookup {
    ($name:ident, $get:ident, $variant:ident, $t:ty) => {
        typed_lookup!($name, $get, $variant, $t, |v| &mut **v, |r| &**r);
    };
    ($name:ident, $get:ident, $variant:ident, $t:ty, inline) => {
        typed_lookup!($name, $get, $variant, $t, |v| v, |r| r);
    };
    ($name:ident, $get:ident, $variant:ident, $t:ty, |$v:ident| $inner:expr, |$r:ident| $rinner:expr) => {
        /// The value at `key` if it has this type, for writing: Ok(None) when missing,
        /// Err(WRONGTYPE) when it holds another type.
        pub fn $name<'a>(
            ks: &'a mut Keyspace,
            db: usize,
            key: &[u8],
            now: i64,
        ) -> Result<Option<&'a mut $t>, &'static str> {
            match ks.lookup_write(db, key, now) {
                None => Ok(None),
                Some(e) => match &mut e.val {
                    Value::$variant($v) => Ok(Some($inner)),
                    _ => Err(ERR_WRONGTYPE),
                },
            }
        }

        /// The value at `key` if it has this type, for reading (counts a hit or a miss).
        pub fn $get<'a>(
            ks: &'a mut Keyspace,
            db: usize,
            key: &[u8],
            now: i64,
        ) -> Result<Option<&'a $t>, &'static str> {
            match ks.lookup(db, key, now) {
                None => Ok(None),
                Some(e) => match &e.val {
                    Value::$variant($r) => Ok(Some($rinner)),
                    _ => Err(ERR_WRONGTYPE),
                },
            }
        }
    };
}

typed_lookup!(list_at, list_get, List, List);
typed_lookup!(hash_at, hash_get, Hash, HashVal, inline);
typed_lookup!(set_at, set_get, Set, SetVal);
typed_lookup!(zset_at, zset_get, ZSet, ZSetVal, inline);

/// Deletes `key` when its collection became empty (Redis never keeps empty collections),
/// with its `del` event; true if it did.
pub fn drop_if_empty(st: &mut NodeState, db: usize, key: &[u8]) -> bool {
    let empty = match st.ks.dbs[db].main.get(key).map(|e| &e.val) {
        Some(Value::List(l)) => l.is_empty(),
        Some(Value::Hash(h)) => h.is_empty(),
        Some(Value::Set(s)) => s.is_empty(),
        Some(Value::ZSet(z)) => z.is_empty(),
        _ => false,
    };
    if empty {
        st.ks.delete(db, key);
        st.notify(class::GENERIC, "del", db, key);
    }
    empty
}

/// A collection changed in place: breaks WATCHes, wakes blocked clients, sends `event`,
/// and deletes the key (with `del`) if it is now empty.
pub fn changed(st: &mut NodeState, class: u16, event: &str, db: usize, key: &[u8]) -> bool {
    st.ks.modified(db, key);
    st.notify(class, event, db, key);
    drop_if_empty(st, db, key)
}

/// `numkeys` of LMPOP/ZMPOP/SINTERCARD-style commands: Ok(n) when 1 <= n and the keys fit.
/// More keys than arguments is a syntax error for the pops and its own error for the
/// cardinality commands (`intercard`).
pub fn numkeys(a: &[u8], available: usize, intercard: bool) -> Result<usize, &'static str> {
    let n = match picket::numfmt::parse_i64(a) {
        Some(n) if n > 0 => n as usize,
        _ => return Err("ERR numkeys should be greater than 0"),
    };
    if n > available {
        return Err(if intercard {
            "ERR Number of keys can't be greater than number of args"
        } else {
            picket::args::ERR_SYNTAX
        });
    }
    Ok(n)
}

pub const ERR_RANGE_LONG: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// The `[count [WITH...]]` of HRANDFIELD (`with` WITHVALUES), ZRANDMEMBER (WITHSCORES) and
/// SRANDMEMBER (none): the count, and whether the keyword followed it. As in Redis, HRANDFIELD
/// and ZRANDMEMBER read the count before they look at what follows it, SRANDMEMBER refuses
/// extra arguments first; a negative count with the keyword must double without overflow.
pub fn random_count(args: &mut Args, with: Option<&str>) -> Result<(Option<i64>, bool), ArgError> {
    if with.is_none() && args.remaining() > 1 {
        return Err(ERR_SYNTAX.into());
    }
    let Some(c) = args.try_arg() else {
        return Ok((None, false));
    };
    let count = match parse_i64(c) {
        Some(n) if n > i64::MIN => n,
        Some(_) => return Err(ERR_RANGE_LONG.into()),
        None => return Err(ERR_NOT_INT.into()),
    };
    let flag = with.is_some_and(|kw| args.keyword(kw));
    args.end()?;
    if flag && count < 0 && count.checked_mul(2).is_none() {
        return Err("ERR value is out of range".into());
    }
    Ok((Some(count), flag))
}

/// Converts Redis's (start, end) range with negative indexes to a half-open range of `len`.
pub fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize + 1))
}

/// The element index for LINDEX/LSET (negative from the end).
pub fn index_of(i: i64, len: usize) -> Option<usize> {
    let j = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&j).then_some(j as usize)
}

/// The options of SCAN (with `TYPE` when `with_type`) and of HSCAN, SSCAN, ZSCAN after the
/// cursor: MATCH pattern, COUNT count (at least 1); each a keyword with its value, the last
/// one winning.
pub struct ScanOptions<'a> {
    pub pat: Option<&'a [u8]>,
    pub count: usize,
    pub typ: Option<String>,
}

impl<'a> ScanOptions<'a> {
    pub fn parse(args: &mut Args<'a>, with_type: bool) -> Result<ScanOptions<'a>, ArgError> {
        let mut o = ScanOptions {
            pat: None,
            count: 10,
            typ: None,
        };
        while let Some(w) = args.try_arg() {
            if args.is_done() {
                return Err(ERR_SYNTAX.into());
            }
            if eq_ic(w, "count") {
                o.count = match args.int()? {
                    c if c >= 1 => c as usize,
                    _ => return Err(ERR_SYNTAX.into()),
                };
            } else if eq_ic(w, "match") {
                o.pat = Some(&args.arg()?[..]);
            } else if eq_ic(w, "type") && with_type {
                o.typ = Some(String::from_utf8_lossy(args.arg()?).to_ascii_lowercase());
            } else {
                return Err(ERR_SYNTAX.into());
            }
        }
        Ok(o)
    }
}

/// A random index below `n` from the thread's generator.
pub fn rand_below(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    rand::random_range(0..n)
}

/// One SCAN-family step over a dict: visits buckets from `cursor` until `count` elements were
/// seen (or 10 × count buckets), calling `emit` for each; returns the next cursor.
pub fn scan_dict<V>(
    d: &crate::db::Dict<V>,
    mut cursor: u64,
    count: usize,
    mut emit: impl FnMut(&SBytes, &V),
) -> u64 {
    let mut seen = 0usize;
    let mut budget = count.saturating_mul(10);
    loop {
        cursor = d.scan(cursor, |k, v| {
            seen += 1;
            emit(k, v)
        });
        budget = budget.saturating_sub(1);
        if cursor == 0 || budget == 0 || seen >= count {
            return cursor;
        }
    }
}

/// Writes a SCAN-family reply: the cursor, then the elements.
pub fn scan_reply(out: &mut picket::resp::Reply, cursor: u64, items: &[Vec<u8>]) {
    out.array(2);
    out.bulk(cursor.to_string().as_bytes());
    out.array(items.len());
    for i in items {
        out.bulk(i);
    }
}

/// The pattern filter of a SCAN-family command.
pub fn matches(pat: Option<&[u8]>, s: &[u8]) -> bool {
    pat.map(|p| picket::glob::glob_match(p, s, false))
        .unwrap_or(true)
}

/// The optional count of LPOP/RPOP/SPOP/ZPOPMIN/ZPOPMAX (`a[2]`): Redis's error for anything
/// but a non-negative integer.
pub fn pop_count(a: &[bytes::Bytes]) -> Result<Option<usize>, &'static str> {
    match a.get(2) {
        None => Ok(None),
        Some(c) => match picket::numfmt::parse_i64(c) {
            Some(n) if n >= 0 => Ok(Some(n as usize)),
            _ => Err("ERR value is out of range, must be positive"),
        },
    }
}

/// `[LIMIT limit]` after the keys of SINTERCARD/ZINTERCARD (0 = no limit).
pub fn intercard_limit(args: &mut Args) -> Result<usize, ArgError> {
    let mut limit = 0usize;
    while let Some(w) = args.try_arg() {
        if !eq_ic(w, "limit") || args.is_done() {
            return Err(ERR_SYNTAX.into());
        }
        // Redis gives the same error for a LIMIT that is not an integer.
        limit = args.int_in(0, i64::MAX, "ERR LIMIT can't be negative")? as usize;
    }
    Ok(limit)
}

/// `numkeys key... WHERE [COUNT n]` of LMPOP/ZMPOP and their blocking forms, from the cursor:
/// (keys, true for the first of `sides`, count). `sides` is ("left", "right") or ("min", "max").
pub fn mpop_args(
    args: &mut Args,
    sides: (&'static str, &'static str),
) -> Result<(Vec<bytes::Bytes>, bool, usize), ArgError> {
    let n = numkeys(args.arg()?, args.remaining(), false)?;
    let keys: Vec<bytes::Bytes> = (0..n).filter_map(|_| args.try_arg().cloned()).collect();
    let first = match args.one_of(&[sides.0, sides.1]) {
        Some(w) => w == sides.0,
        None => return Err(ERR_SYNTAX.into()),
    };
    let mut count = None;
    while let Some(w) = args.try_arg() {
        if !eq_ic(w, "count") || args.is_done() || count.is_some() {
            return Err(ERR_SYNTAX.into());
        }
        match args.int() {
            Ok(c) if c > 0 => count = Some(c as usize),
            _ => return Err("ERR count should be greater than 0".into()),
        }
    }
    Ok((keys, first, count.unwrap_or(1)))
}
