//! Glob-style matching exactly as Redis's KEYS, SCAN MATCH, PSUBSCRIBE and CONFIG GET use it:
//! `*`, `?`, `[abc]`, `[^abc]`, `[a-z]` (reversed ranges work too), and `\` escapes inside and
//! outside classes. An unterminated class ends at the pattern's end. Matching is iterative with
//! single-star backtracking, so no pattern can make it exponential.

/// One pattern token: what a single input byte must satisfy, or a star.
fn class_matches(pat: &[u8], mut p: usize, c: u8, nocase: bool) -> (bool, usize) {
    // `p` points just after '['. Returns (matched, index after the class).
    let lower = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let c = lower(c);
    let mut negate = false;
    if p < pat.len() && pat[p] == b'^' {
        negate = true;
        p += 1;
    }
    let mut matched = false;
    loop {
        if p >= pat.len() {
            break;
        }
        if pat[p] == b'\\' && p + 1 < pat.len() {
            p += 1;
            if lower(pat[p]) == c {
                matched = true;
            }
            p += 1;
        } else if pat[p] == b']' {
            p += 1;
            break;
        } else if p + 2 < pat.len() && pat[p + 1] == b'-' {
            let (mut a, mut b) = (lower(pat[p]), lower(pat[p + 2]));
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            if c >= a && c <= b {
                matched = true;
            }
            p += 3;
        } else {
            if lower(pat[p]) == c {
                matched = true;
            }
            p += 1;
        }
    }
    (matched != negate, p)
}

/// Matches one non-star token at `p` against byte `c`: (matched, next pattern index).
fn token_matches(pat: &[u8], p: usize, c: u8, nocase: bool) -> (bool, usize) {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    match pat[p] {
        b'?' => (true, p + 1),
        b'[' => class_matches(pat, p + 1, c, nocase),
        b'\\' if p + 1 < pat.len() => (eq(pat[p + 1], c), p + 2),
        other => (eq(other, c), p + 1),
    }
}

/// True when `s` matches the glob `pat`.
pub fn glob_match(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() && pat[p] == b'*' {
            while p < pat.len() && pat[p] == b'*' {
                p += 1;
            }
            if p == pat.len() {
                return true;
            }
            star = Some((p, i));
            continue;
        }
        if p < pat.len() {
            let (ok, next) = token_matches(pat, p, s[i], nocase);
            if ok {
                p = next;
                i += 1;
                continue;
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn cases() {
        let t = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes(), false);
        assert!(t("*", ""));
        assert!(t("h?llo", "hello"));
        assert!(t("h*llo", "heeeello"));
        assert!(t("h[ae]llo", "hallo"));
        assert!(!t("h[^e]llo", "hello"));
        assert!(t("h[a-b]llo", "hbllo"));
        assert!(t("h[b-a]llo", "hbllo"));
        assert!(t("h\\*llo", "h*llo"));
        assert!(!t("h\\*llo", "hallo"));
        assert!(t("a*b*c", "axxbyyc"));
        assert!(!t("a*b*c", "axxbyy"));
        assert!(t("[abc", "c"));
        assert!(t("__sentinel__:*", "__sentinel__:hello"));
        assert!(glob_match(b"MAX*", b"maxmemory", true));
        let long = "a".repeat(5000);
        assert!(!t(&"*a".repeat(50).replace("a", "a*b"), &long));
    }
}
