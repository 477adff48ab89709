//! The classes of keyspace notifications (`notify-keyspace-events`): the flag string's
//! parsing and its canonical form as Redis 7.0 prints it in CONFIG GET.

pub const KEYSPACE: u16 = 1 << 0;
pub const KEYEVENT: u16 = 1 << 1;
pub const GENERIC: u16 = 1 << 2;
pub const STRING: u16 = 1 << 3;
pub const LIST: u16 = 1 << 4;
pub const SET: u16 = 1 << 5;
pub const HASH: u16 = 1 << 6;
pub const ZSET: u16 = 1 << 7;
pub const EXPIRED: u16 = 1 << 8;
pub const EVICTED: u16 = 1 << 9;
pub const STREAM: u16 = 1 << 10;
pub const KEY_MISS: u16 = 1 << 11;
pub const MODULE: u16 = 1 << 12;
pub const NEW: u16 = 1 << 13;
/// `A`: every class but key-miss and new.
pub const ALL: u16 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The classes in the order Redis prints them when not all of `A` is set.
const CLASSES: [(char, u16); 11] = [
    ('g', GENERIC),
    ('$', STRING),
    ('l', LIST),
    ('s', SET),
    ('h', HASH),
    ('z', ZSET),
    ('x', EXPIRED),
    ('e', EVICTED),
    ('t', STREAM),
    ('d', MODULE),
    ('n', NEW),
];

/// The error for a character that names no class.
pub const INVALID: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// The flags a `notify-keyspace-events` string names, or `None` for an unknown character.
pub fn parse(s: &str) -> Option<u16> {
    let mut flags = 0;
    for c in s.chars() {
        flags |= match c {
            'A' => ALL,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            'm' => KEY_MISS,
            c => CLASSES.iter().find(|(ch, _)| *ch == c)?.1,
        };
    }
    Some(flags)
}

/// The flags as CONFIG GET shows them: `A` for all of it (which hides `n`, as Redis 7.0
/// does), or the classes one by one; then `K`, `E` and `m`.
pub fn format(flags: u16) -> String {
    let mut out = String::new();
    if flags & ALL == ALL {
        out.push('A');
    } else {
        out.extend(
            CLASSES
                .iter()
                .filter(|(_, f)| flags & f != 0)
                .map(|(c, _)| c),
        );
    }
    for (c, f) in [('K', KEYSPACE), ('E', KEYEVENT), ('m', KEY_MISS)] {
        if flags & f != 0 {
            out.push(c);
        }
    }
    out
}

/// The flags in a form that [`parse`] reads back whole (`A` does not hide `n` here): how
/// the configuration stores them.
pub fn format_lossless(flags: u16) -> String {
    let mut out = format(flags);
    if flags & (ALL | NEW) == ALL | NEW {
        out.insert(1, 'n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs CONFIG SET → CONFIG GET as redis-server 7.0.15 answers them.
    #[test]
    fn canonical_form_matches_redis() {
        for (set, get) in [
            ("A", "A"),
            ("KA", "AK"),
            ("gKE", "gKE"),
            ("$lshzxeKE", "$lshzxeKE"),
            ("An", "A"),
            ("AKEm", "AKEm"),
            ("AKEmn", "AKEm"),
            ("Kmn", "nKm"),
            ("AEd", "AE"),
            ("KEtmd", "tdKEm"),
            ("gn", "gn"),
            ("", ""),
        ] {
            assert_eq!(format(parse(set).unwrap()), get, "{set}");
        }
        assert_eq!(parse("xyz"), None);
        for s in ["AKEmn", "An", "gn", "Kmn", ""] {
            let flags = parse(s).unwrap();
            assert_eq!(parse(&format_lossless(flags)), Some(flags), "{s}");
        }
    }
}
