//! SORT and SORT_RO: the elements of a list, set or sorted set, ordered by themselves or by
//! keys and hash fields named by a pattern, with LIMIT, GET, ALPHA, DESC and STORE, as Redis
//! 7.0 sorts them (numeric ties ordered by the element's bytes, ALPHA by the C library's
//! collation, other ties kept in the collection's order).

use super::coll::class;
use super::Ctx;
use crate::db::{SBytes, Value};
use bytes::Bytes;
use picket::args::{eq_ic, int_arg, ERR_NOT_INT, ERR_SYNTAX, ERR_WRONGTYPE};
use picket::numfmt::{collate, parse_sort_score};
use std::cmp::Ordering;

/// SORT's options, as read from the command.
#[derive(Default)]
struct SortOptions {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<Bytes>,
    by: Option<Bytes>,
    /// BY a pattern without `*`: the elements stay in the collection's order.
    dontsort: bool,
    gets: Vec<Bytes>,
}

impl SortOptions {
    fn parse(a: &[Bytes], read_only: bool) -> Result<SortOptions, &'static str> {
        let mut o = SortOptions::default();
        let mut j = 2;
        while j < a.len() {
            let left = a.len() - j - 1;
            let w = &a[j];
            if eq_ic(w, "asc") {
                o.desc = false;
            } else if eq_ic(w, "desc") {
                o.desc = true;
            } else if eq_ic(w, "alpha") {
                o.alpha = true;
            } else if eq_ic(w, "limit") && left >= 2 {
                let start = int_arg(&a[j + 1]).map_err(|_| ERR_NOT_INT)?;
                let count = int_arg(&a[j + 2]).map_err(|_| ERR_NOT_INT)?;
                o.limit = Some((start, count));
                j += 2;
            } else if eq_ic(w, "store") && left >= 1 && !read_only {
                o.store = Some(a[j + 1].clone());
                j += 1;
            } else if eq_ic(w, "by") && left >= 1 {
                let pattern = &a[j + 1];
                // Once a BY without `*` is seen the sort is off, whatever BY follows.
                if star(pattern).is_none() {
                    o.dontsort = true;
                }
                o.by = Some(pattern.clone());
                j += 1;
            } else if eq_ic(w, "get") && left >= 1 {
                o.gets.push(a[j + 1].clone());
                j += 1;
            } else {
                return Err(ERR_SYNTAX);
            }
            j += 1;
        }
        Ok(o)
    }
}

/// The pattern as C sees it: up to its first NUL byte.
fn c_str(s: &[u8]) -> &[u8] {
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

/// Where the pattern's `*` is (only before any NUL byte counts).
fn star(pattern: &[u8]) -> Option<usize> {
    c_str(pattern).iter().position(|&c| c == b'*')
}

/// The key (and hash field) a pattern names for an element; None when it names nothing.
fn pattern_target(pattern: &[u8], elem: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let p = star(pattern)?;
    // `->` after the `*`, with something after it, names a hash field.
    let rest = &c_str(pattern)[p + 1..];
    let arrow = rest
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&f| f + 2 < rest.len());
    let (suffix_end, field) = match arrow {
        Some(f) => (p + 1 + f, Some(pattern[p + 1 + f + 2..].to_vec())),
        None => (pattern.len(), None),
    };
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..p]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[p + 1..suffix_end]);
    Some((key, field))
}

/// What a pattern gives for an element: `#` the element itself, else the string at the key
/// it names or the field of the hash there; None for anything else.
fn lookup_pattern(ctx: &mut Ctx, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if c_str(pattern) == b"#" && !pattern.is_empty() {
        return Some(elem.to_vec());
    }
    let (key, field) = pattern_target(pattern, elem)?;
    let db = ctx.db();
    match (ctx.st.ks.lookup(db, &key, ctx.now).map(|e| &e.val), field) {
        (Some(Value::Str(s)), None) => Some(s.as_bytes().into_owned()),
        (Some(Value::Hash(h)), Some(f)) => h.get(&f).map(<[u8]>::to_vec),
        _ => None,
    }
}

/// How an element sorts: by its score, or (ALPHA BY) by the value its pattern found.
struct Item {
    elem: Vec<u8>,
    score: f64,
    by: Option<Vec<u8>>,
}

/// The elements to sort, or (when the sort is off on a list or sorted set) just the LIMIT's
/// range of them in the collection's order. Err: WRONGTYPE (sent). Also the (start, end)
/// range of the result to output.
fn load(ctx: &mut Ctx, key: &[u8], o: &mut SortOptions) -> Result<(Vec<Vec<u8>>, i64, i64), ()> {
    let db = ctx.db();
    let in_script = ctx.node.script_busy.running();
    let val = ctx.st.ks.lookup(db, key, ctx.now).map(|e| &e.val);
    // A set's order is its table's: stored or run from a script, it is sorted (ALPHA) so
    // that replicas and the AOF get the same list.
    if o.dontsort && matches!(val, Some(Value::Set(_))) && (o.store.is_some() || in_script) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = match val {
        None => 0,
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        Some(_) => {
            ctx.out.error(ERR_WRONGTYPE);
            return Err(());
        }
    } as i64;
    let (lstart, lcount) = o.limit.unwrap_or((0, -1));
    let mut start = lstart.max(0);
    let mut end = if lcount < 0 {
        len - 1
    } else {
        start.saturating_add(lcount - 1)
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    let ranged = o.dontsort && matches!(val, Some(Value::List(_) | Value::ZSet(_)));
    if !ranged {
        let elems = match val {
            Some(Value::List(l)) => l.iter().map(|e| e.to_vec()).collect(),
            Some(Value::Set(s)) => s.members(),
            Some(Value::ZSet(z)) => members(z.view().take(0, len as usize)),
            _ => Vec::new(),
        };
        return Ok((elems, start, end));
    }
    let n = (end - start + 1).max(0) as usize;
    let first = if o.desc { len - start - 1 } else { start } as usize;
    let elems: Vec<Vec<u8>> = match val {
        Some(Value::List(l)) if o.desc => (0..n).map(|i| l[first - i].to_vec()).collect(),
        Some(Value::List(l)) => l.range(first..first + n).map(|e| e.to_vec()).collect(),
        Some(Value::ZSet(z)) if o.desc => {
            let mut v = members(z.view().take(first + 1 - n, n));
            v.reverse();
            v
        }
        Some(Value::ZSet(z)) => members(z.view().take(first, n)),
        _ => Vec::new(),
    };
    Ok((elems, 0, end - start))
}

fn members(entries: Vec<(f64, &[u8])>) -> Vec<Vec<u8>> {
    entries.into_iter().map(|(_, m)| m.to_vec()).collect()
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
/// [STORE destination]
pub fn sort(ctx: &mut Ctx, a: &[Bytes]) {
    sort_generic(ctx, a, false);
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
pub fn sort_ro(ctx: &mut Ctx, a: &[Bytes]) {
    sort_generic(ctx, a, true);
}

fn sort_generic(ctx: &mut Ctx, a: &[Bytes], read_only: bool) {
    let mut o = match SortOptions::parse(a, read_only) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let Ok((elems, start, end)) = load(ctx, &a[1], &mut o) else {
        return;
    };
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            by: None,
        })
        .collect();
    if !o.dontsort && !sort_items(ctx, &o, &mut items) {
        return ctx
            .out
            .error("ERR One or more scores can't be converted into double");
    }
    let range = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &items[..0]
    };
    match o.store.clone() {
        None => reply(ctx, &o, range),
        Some(dest) => store(ctx, a, &o, range, &dest),
    }
}

/// Scores the items and sorts them. False: a score is not a number.
fn sort_items(ctx: &mut Ctx, o: &SortOptions, items: &mut [Item]) -> bool {
    let mut bad = false;
    for it in items.iter_mut() {
        let by = match &o.by {
            Some(p) => match lookup_pattern(ctx, p, &it.elem) {
                Some(v) => Some(v),
                None => continue,
            },
            None => None,
        };
        if o.alpha {
            it.by = by;
        } else {
            let v = by.as_deref().unwrap_or(&it.elem);
            match parse_sort_score(v) {
                Some(s) => it.score = s,
                None => bad = true,
            }
        }
    }
    if bad {
        return false;
    }
    let (alpha, by, store) = (o.alpha, o.by.is_some(), o.store.is_some());
    let cmp = |x: &Item, y: &Item| -> Ordering {
        if !alpha {
            return x
                .score
                .partial_cmp(&y.score)
                .unwrap_or(Ordering::Equal)
                .then_with(|| x.elem.cmp(&y.elem));
        }
        let (u, v) = if by {
            match (&x.by, &y.by) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(u), Some(v)) => (u, v),
            }
        } else {
            (&x.elem, &y.elem)
        };
        // Stored results compare bytes (the same on every server); replies collate.
        if store {
            u.cmp(v)
        } else {
            collate(u, v)
        }
    };
    if o.desc {
        items.sort_by(|x, y| cmp(y, x));
    } else {
        items.sort_by(cmp);
    }
    true
}

fn reply(ctx: &mut Ctx, o: &SortOptions, range: &[Item]) {
    let per = o.gets.len().max(1);
    ctx.out.array(range.len() * per);
    for it in range {
        if o.gets.is_empty() {
            ctx.out.bulk(&it.elem);
        }
        for g in &o.gets {
            match lookup_pattern(ctx, g, &it.elem) {
                Some(v) => ctx.out.bulk(&v),
                None => ctx.out.null(),
            }
        }
    }
}

fn store(ctx: &mut Ctx, a: &[Bytes], o: &SortOptions, range: &[Item], dest: &[u8]) {
    let mut list = std::collections::VecDeque::with_capacity(range.len());
    for it in range {
        if o.gets.is_empty() {
            list.push_back(SBytes::new(&it.elem));
        }
        for g in &o.gets {
            let v = lookup_pattern(ctx, g, &it.elem).unwrap_or_default();
            list.push_back(SBytes::from_vec(v));
        }
    }
    let n = list.len();
    let db = ctx.db();
    if n > 0 {
        ctx.st.ks.set(db, dest, Value::List(Box::new(list)), false);
        ctx.notify(class::LIST, "sortstore", dest);
        ctx.dirty(n as u64);
        ctx.propagate_as_is(a);
    } else if ctx.st.ks.delete(db, dest).is_some() {
        ctx.notify(class::GENERIC, "del", dest);
        ctx.dirty(1);
        ctx.propagate_as_is(a);
    }
    ctx.out.int(n as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_name_keys_and_fields() {
        let t = |p: &[u8], e: &[u8]| pattern_target(p, e);
        assert_eq!(t(b"w_*", b"3"), Some((b"w_3".to_vec(), None)));
        assert_eq!(
            t(b"h_*->f", b"3"),
            Some((b"h_3".to_vec(), Some(b"f".to_vec())))
        );
        assert_eq!(t(b"h_*->", b"3"), Some((b"h_3->".to_vec(), None)));
        assert_eq!(t(b"x*y*", b"1"), Some((b"x1y*".to_vec(), None)));
        assert_eq!(t(b"nostar", b"1"), None);
        assert_eq!(t(b"a\0*", b"1"), None);
    }
}
