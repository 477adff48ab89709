//! The keys of a command's arguments, found from its key specs as Redis 7 finds them (COMMAND
//! GETKEYS and GETKEYSANDFLAGS, and later cluster slots).

use super::meta::{BeginSearch, FindKeys, KeySpec, Meta};
use crate::numfmt::parse_i64;
use bytes::Bytes;

/// One key found: its argument index and its key spec's flags.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundKey {
    pub index: usize,
    pub flags: Vec<String>,
}

/// Why no keys could be found (COMMAND GETKEYS answers `ERR Invalid arguments specified for
/// command`).
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidArguments;

/// Every key of `args` (the command name first), spec by spec, in argument order per spec.
pub fn find_keys(meta: &Meta, args: &[Bytes]) -> Result<Vec<FoundKey>, InvalidArguments> {
    if meta.name == "sort" {
        return Ok(sort_keys(args));
    }
    let mut found = Vec::new();
    for spec in &meta.key_specs {
        let Some(first) = begin(spec, args) else {
            continue;
        };
        for i in key_positions(spec, first, args)? {
            found.push(FoundKey {
                index: i,
                flags: spec.flags.clone(),
            });
        }
    }
    refine_flags(meta, args, &mut found);
    Ok(found)
}

/// The argument where the spec's keys begin, if the search finds one.
fn begin(spec: &KeySpec, args: &[Bytes]) -> Option<usize> {
    let argc = args.len() as i64;
    match &spec.begin {
        BeginSearch::Index(i) => (*i < argc).then_some(*i as usize),
        BeginSearch::Keyword { keyword, startfrom } => {
            let from = if *startfrom >= 0 {
                *startfrom
            } else {
                argc + startfrom
            };
            let hit = |i: &i64| args[*i as usize].eq_ignore_ascii_case(keyword.as_bytes());
            let at = if *startfrom >= 0 {
                (from.max(1)..argc).find(hit)
            } else {
                (1..=from.min(argc - 1)).rev().find(hit)
            };
            at.map(|i| i as usize + 1).filter(|i| (*i as i64) < argc)
        }
        BeginSearch::Unknown => None,
    }
}

fn key_positions(
    spec: &KeySpec,
    first: usize,
    args: &[Bytes],
) -> Result<Vec<usize>, InvalidArguments> {
    let argc = args.len() as i64;
    let f = first as i64;
    let (start, last, step) = match &spec.find {
        FindKeys::Range {
            lastkey,
            keystep,
            limit,
        } => {
            let last = if *lastkey >= 0 {
                f + lastkey
            } else if *limit <= 1 {
                argc + lastkey
            } else {
                f + ((argc - f) / limit + lastkey)
            };
            (f, last, *keystep)
        }
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => {
            let at = f + keynumidx;
            if at >= argc {
                return Err(InvalidArguments);
            }
            let n = parse_i64(&args[at as usize]).ok_or(InvalidArguments)?;
            if n < 0 {
                return Err(InvalidArguments);
            }
            let start = f + firstkey;
            // A count past the arguments (however large) is refused below, without overflow.
            let last = (n - 1)
                .checked_mul(*keystep)
                .and_then(|span| span.checked_add(start))
                .ok_or(InvalidArguments)?;
            (start, last, *keystep)
        }
        FindKeys::Unknown => return Ok(Vec::new()),
    };
    if last >= argc {
        return Err(InvalidArguments);
    }
    let step = step.max(1);
    Ok((start..=last)
        .step_by(step as usize)
        .filter(|i| *i >= 1)
        .map(|i| i as usize)
        .collect())
}

/// SORT's keys, which its key specs leave incomplete: the key sorted and the last STORE's
/// destination, the arguments of LIMIT, GET and BY skipped (as Redis finds them).
fn sort_keys(args: &[Bytes]) -> Vec<FoundKey> {
    let key = |index: usize, flags: &[&str]| FoundKey {
        index,
        flags: flags.iter().map(|f| f.to_string()).collect(),
    };
    let mut found = vec![key(1, &["RO", "access"])];
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(s) = store {
        found.push(key(s, &["OW", "update"]));
    }
    found
}

/// Commands whose key flags depend on their arguments (Redis's `variable_flags`).
fn refine_flags(meta: &Meta, args: &[Bytes], found: &mut [FoundKey]) {
    if meta.name == "set" {
        let get = args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
        let flags: &[&str] = if get {
            &["RW", "access", "update"]
        } else {
            &["OW", "update"]
        };
        for k in found.iter_mut() {
            k.flags = flags.iter().map(|s| s.to_string()).collect();
        }
    }
}
