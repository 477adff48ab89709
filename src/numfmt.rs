//! Number parsing and formatting with the exact rules of Redis 7.0, which leans on the C
//! library: `strtold`/`%.17Lf` (long double) for INCRBYFLOAT, `strtod` for float arguments,
//! `%.17g` for double replies. The C side is `csrc/numfmt.c`.

use std::os::raw::{c_char, c_int};

extern "C" {
    fn picket_ld_incr(
        cur: *const c_char,
        curlen: usize,
        incr: *const c_char,
        incrlen: usize,
        out: *mut c_char,
        outlen: usize,
    ) -> c_int;
    fn picket_ld_normalize(s: *const c_char, len: usize, out: *mut c_char, outlen: usize) -> c_int;
    fn picket_strtod(s: *const c_char, len: usize, out: *mut f64) -> c_int;
    fn picket_collate_init() -> c_int;
    fn picket_strcoll(a: *const c_char, alen: usize, b: *const c_char, blen: usize) -> c_int;
    fn picket_sort_strtod(s: *const c_char, len: usize, out: *mut f64) -> c_int;
    fn picket_fmt_g17(d: f64, out: *mut c_char, outlen: usize) -> c_int;
    fn picket_fmt_fixed(d: f64, places: c_int, out: *mut c_char, outlen: usize) -> c_int;
}

/// Why a long-double increment failed.
#[derive(Debug, PartialEq, Eq)]
pub enum IncrFloatError {
    CurrentNotFloat,
    IncrNotFloat,
    NanOrInfinity,
}

/// `cur + incr` computed in long double and printed as Redis prints INCRBYFLOAT results.
/// `cur = None` means the key did not exist (0).
pub fn incr_long_double(cur: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, IncrFloatError> {
    // A NUL inside a value ends C's parse early; Redis 7.0 checks the whole length was read.
    if cur.is_some_and(|c| c.contains(&0)) {
        return Err(IncrFloatError::CurrentNotFloat);
    }
    if incr.contains(&0) {
        return Err(IncrFloatError::IncrNotFloat);
    }
    let mut out = vec![0u8; 5200];
    let (cp, cl) = match cur {
        Some(c) => (c.as_ptr() as *const c_char, c.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: pointers and lengths come from live slices; the C side never writes past outlen.
    let n = unsafe {
        picket_ld_incr(
            cp,
            cl,
            incr.as_ptr() as *const c_char,
            incr.len(),
            out.as_mut_ptr() as *mut c_char,
            out.len(),
        )
    };
    match n {
        -1 => Err(IncrFloatError::CurrentNotFloat),
        -2 => Err(IncrFloatError::IncrNotFloat),
        n if n < 0 => Err(IncrFloatError::NanOrInfinity),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

/// Parses a long double and prints it in Redis's human form; `None` if it is not a valid float.
pub fn normalize_long_double(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; 5200];
    // SAFETY: as above.
    let n = unsafe {
        picket_ld_normalize(
            s.as_ptr() as *const c_char,
            s.len(),
            out.as_mut_ptr() as *mut c_char,
            out.len(),
        )
    };
    if n < 0 {
        return None;
    }
    out.truncate(n as usize);
    Some(out)
}

/// Parses a double argument as Redis does (whole string, no leading blanks, no NaN; `inf` allowed).
pub fn parse_double(s: &[u8]) -> Option<f64> {
    let mut v = 0f64;
    // SAFETY: as above.
    let ok = unsafe { picket_strtod(s.as_ptr() as *const c_char, s.len(), &mut v) };
    (ok == 1).then_some(v)
}

/// An element's score as SORT reads it (C's `strtod` over the string up to any NUL byte:
/// leading blanks allowed, the empty string is 0, out of range or NaN refused).
pub fn parse_sort_score(s: &[u8]) -> Option<f64> {
    // Plain integers of up to 15 digits (what SORT mostly meets) are exact as doubles: no
    // need for strtod.
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    if (1..=15).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) {
        let n = digits.iter().fold(0i64, |n, d| n * 10 + (d - b'0') as i64);
        return Some(if digits.len() < s.len() {
            -(n as f64)
        } else {
            n as f64
        });
    }
    strtod_score(s)
}

/// [`parse_sort_score`] through C's `strtod`.
fn strtod_score(s: &[u8]) -> Option<f64> {
    let mut v = 0f64;
    // SAFETY: the C side copies `len` bytes from `s` and writes one double to `v`.
    let ok = unsafe { picket_sort_strtod(s.as_ptr() as *const c_char, s.len(), &mut v) };
    (ok == 1).then_some(v)
}

/// Compares two strings as C's `strcoll` does in the locale's LC_COLLATE (taken from the
/// environment once, as redis-server does): each string ends at its first NUL byte. SORT
/// ALPHA's order.
pub fn collate(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    static BYTEWISE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    // SAFETY: setlocale at first use; no other thread reads the collation locale meanwhile.
    let bytewise = *BYTEWISE.get_or_init(|| unsafe { picket_collate_init() } == 1);
    let cstr = |s: &[u8]| -> usize { s.iter().position(|&c| c == 0).unwrap_or(s.len()) };
    let (a, b) = (&a[..cstr(a)], &b[..cstr(b)]);
    if bytewise {
        return a.cmp(b);
    }
    // SAFETY: the C side reads `alen`/`blen` bytes of each.
    let r = unsafe {
        picket_strcoll(
            a.as_ptr() as *const c_char,
            a.len(),
            b.as_ptr() as *const c_char,
            b.len(),
        )
    };
    r.cmp(&0)
}

/// `%.17g`, as Redis 7.0 prints doubles; infinities as `inf` / `-inf`.
pub fn fmt_g17(d: f64) -> String {
    let mut out = [0u8; 64];
    // SAFETY: as above.
    let n = unsafe { picket_fmt_g17(d, out.as_mut_ptr() as *mut c_char, out.len()) };
    String::from_utf8_lossy(&out[..n.max(0) as usize]).into_owned()
}

/// `%.<places>f` as C prints it (`places` at most 17). Infinities print as `inf` / `-inf`.
pub fn fmt_fixed(d: f64, places: u8) -> String {
    // %.17f of the largest double is 309 digits and 18 more.
    let mut out = [0u8; 400];
    let places = places.min(17) as c_int;
    // SAFETY: `out` is writable for its length and snprintf never writes past it.
    let n = unsafe { picket_fmt_fixed(d, places, out.as_mut_ptr() as *mut c_char, out.len()) };
    let n = (n.max(0) as usize).min(out.len() - 1);
    String::from_utf8_lossy(&out[..n]).into_owned()
}

/// A double as Redis's "human" long-double text: `%.17Lf` with the trailing zeros (and a
/// bare point) removed, `-0` as `0` (GEOPOS and the coordinates of GEOSEARCH).
pub fn fmt_human(d: f64) -> String {
    let mut s = fmt_fixed(d, 17);
    if s.contains('.') {
        let keep = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(keep);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// The text of a double reply (addReplyDouble in Redis 7.0).
pub fn fmt_double_reply(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    fmt_g17(d)
}

/// Parses a signed 64-bit integer exactly as Redis's string2ll: no spaces, no `+`, no leading
/// zeros (except "0" itself), within range.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, d) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if d.is_empty() || d[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sort_score_integer_shortcut_reads_what_strtod_reads() {
        for t in [
            "0",
            "-0",
            "7",
            "007",
            "-12",
            "123456789012345",
            "-999999999999999",
            "1234567890123456",
            "",
            "-",
            "1e3",
            " 5",
            "+5",
            "5 ",
            "0x10",
            "9.5",
        ] {
            let fast = parse_sort_score(t.as_bytes()).map(f64::to_bits);
            let slow = strtod_score(t.as_bytes()).map(f64::to_bits);
            assert_eq!(fast, slow, "{t:?}");
        }
    }

    #[test]
    fn incrbyfloat_like_redis() {
        assert_eq!(incr_long_double(Some(b"10.50"), b"0.1").unwrap(), b"10.6");
        assert_eq!(incr_long_double(Some(b"5.0e3"), b"2.0e2").unwrap(), b"5200");
        assert_eq!(
            incr_long_double(None, b"1e20").unwrap(),
            b"100000000000000000000"
        );
        assert_eq!(
            incr_long_double(Some(b"abc"), b"1"),
            Err(IncrFloatError::CurrentNotFloat)
        );
        assert_eq!(
            incr_long_double(Some(b"1"), b" 1"),
            Err(IncrFloatError::IncrNotFloat)
        );
        assert_eq!(
            incr_long_double(Some(b"1"), b"inf"),
            Err(IncrFloatError::NanOrInfinity)
        );
    }

    #[test]
    fn fixed_and_human() {
        assert_eq!(fmt_fixed(166274.15156960033, 4), "166274.1516");
        assert_eq!(fmt_fixed(0.03125, 4), "0.0312");
        assert_eq!(fmt_human(13.361389338970184), "13.36138933897018433");
        assert_eq!(fmt_human(180.0), "180");
        assert_eq!(fmt_human(-0.0), "0");
        assert_eq!(fmt_fixed(f64::MAX, 17).len(), 309 + 18);
    }

    #[test]
    fn doubles() {
        assert_eq!(fmt_double_reply(1.1), "1.1000000000000001");
        assert_eq!(fmt_double_reply(f64::NEG_INFINITY), "-inf");
        assert_eq!(parse_double(b"1e3"), Some(1000.0));
        assert_eq!(parse_double(b"nan"), None);
        assert_eq!(parse_double(b""), None);
    }

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b" 1"), None);
    }
}
