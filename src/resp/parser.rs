//! Incremental, bounded request parser for the RESP2 request forms a Redis server accepts:
//! multibulk (`*N\r\n$len\r\narg\r\n...`) and inline commands (`PING\r\n`, as nc, telnet and
//! HAProxy send them). A bare `\n` or an empty inline line is skipped.
//!
//! The parser keeps its position inside a partial multibulk request, so a large request arriving
//! in many reads is scanned once (no quadratic re-parse). Limits and error texts match Redis 7.0:
//! a violation returns [`ProtocolError`] whose text is sent as `-ERR Protocol error: ...` before
//! the connection is closed.

use bytes::{Bytes, BytesMut};

/// Inline requests and multibulk/bulk headers may not exceed this without a newline (Redis's
/// PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Redis rejects a multibulk count above this (INT_MAX).
pub const MULTIBULK_MAX: i64 = i32::MAX as i64;
/// Bulk payloads at least this large get their whole length reserved up front.
const BIG_ARG: usize = 32 * 1024;

/// The text after `-ERR Protocol error: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

/// Limits that depend on configuration and on whether the client has authenticated.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub proto_max_bulk_len: i64,
    /// Redis 7.0 limits clients that still must AUTH: at most 10 arguments of at most 16 KiB.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// One parsed request: its arguments (views into the request's own bytes) and how many bytes of
/// input it consumed (for replication offsets and stats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub args: Vec<Bytes>,
    pub wire_len: usize,
    /// True for an empty inline line (a replica's keepalive newline); `args` is empty.
    pub empty_line: bool,
}

/// Parser state carried between reads.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Remaining bulk arguments of the multibulk being read (0 = between requests).
    remaining: i64,
    /// Byte offset (from the buffer start) of the next unread byte of the current request.
    pos: usize,
    /// Length of the bulk being waited for, when its header has been read.
    bulk_len: Option<usize>,
    /// (start, end) of each argument already read, relative to the buffer start.
    spans: Vec<(usize, usize)>,
    in_multibulk: bool,
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..]
        .iter()
        .position(|&b| b == b'\r')
        .map(|i| i + from)
}

/// Parses a Redis length/count: an optional minus sign and digits, nothing else.
fn parse_len(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as i64)?;
    }
    Some(if neg { -v } else { v })
}

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The length of the bulk argument being read, or 0 between arguments.
    pub fn bulk_pending(&self) -> usize {
        self.bulk_len.unwrap_or(0)
    }

    /// True when a request has been started but not finished.
    pub fn in_progress(&self) -> bool {
        self.in_multibulk
    }

    /// Tries to take one complete request from the front of `buf`. `Ok(None)` means more input
    /// is needed; the partial progress is remembered.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: Limits,
    ) -> Result<Option<Request>, ProtocolError> {
        if !self.in_multibulk {
            match buf.first() {
                None => return Ok(None),
                Some(b'*') => {
                    self.in_multibulk = true;
                    self.pos = 0;
                }
                Some(_) => return parse_inline(buf),
            }
        }
        self.parse_multibulk(buf, limits)
    }

    fn parse_multibulk(
        &mut self,
        buf: &mut BytesMut,
        limits: Limits,
    ) -> Result<Option<Request>, ProtocolError> {
        if self.pos == 0 {
            // Header `*N\r\n`.
            let Some(cr) = find_crlf(buf, 1) else {
                if buf.len() > INLINE_MAX {
                    return Err(ProtocolError("too big mbulk count string".into()));
                }
                return Ok(None);
            };
            if cr > INLINE_MAX {
                return Err(ProtocolError("too big mbulk count string".into()));
            }
            if cr + 1 >= buf.len() {
                return Ok(None);
            }
            let n = match parse_len(&buf[1..cr]) {
                Some(n) if n <= MULTIBULK_MAX => n,
                _ => return Err(ProtocolError("invalid multibulk length".into())),
            };
            if limits.unauthenticated && n > 10 {
                return Err(ProtocolError("unauthenticated multibulk length".into()));
            }
            self.pos = cr + 2;
            if n <= 0 {
                // `*0` and `*-1` are consumed silently, as Redis does.
                return Ok(Some(self.finish(buf, true)));
            }
            self.remaining = n;
            self.spans.clear();
            self.spans.reserve(n.min(1024) as usize);
        }
        while self.remaining > 0 {
            let len = match self.bulk_len {
                Some(l) => l,
                None => {
                    if self.pos >= buf.len() {
                        return Ok(None);
                    }
                    if buf[self.pos] != b'$' {
                        return Err(ProtocolError(format!(
                            "expected '$', got '{}'",
                            buf[self.pos] as char
                        )));
                    }
                    let Some(cr) = find_crlf(buf, self.pos + 1) else {
                        if buf.len() - self.pos > INLINE_MAX {
                            return Err(ProtocolError("too big bulk count string".into()));
                        }
                        return Ok(None);
                    };
                    if cr - self.pos > INLINE_MAX {
                        return Err(ProtocolError("too big bulk count string".into()));
                    }
                    if cr + 1 >= buf.len() {
                        return Ok(None);
                    }
                    let l = match parse_len(&buf[self.pos + 1..cr]) {
                        Some(l) if (0..=limits.proto_max_bulk_len).contains(&l) => l as usize,
                        _ => return Err(ProtocolError("invalid bulk length".into())),
                    };
                    if limits.unauthenticated && l > 16384 {
                        return Err(ProtocolError("unauthenticated bulk length".into()));
                    }
                    self.pos = cr + 2;
                    self.bulk_len = Some(l);
                    if l >= BIG_ARG {
                        let need = self.pos + l + 2;
                        if buf.capacity() < need {
                            buf.reserve(need - buf.len());
                        }
                    }
                    l
                }
            };
            if buf.len() < self.pos + len + 2 {
                return Ok(None);
            }
            // Redis does not check the two bytes after the payload; it skips them.
            self.spans.push((self.pos, self.pos + len));
            self.pos += len + 2;
            self.bulk_len = None;
            self.remaining -= 1;
        }
        Ok(Some(self.finish(buf, false)))
    }

    fn finish(&mut self, buf: &mut BytesMut, empty: bool) -> Request {
        let wire_len = self.pos;
        let chunk = buf.split_to(wire_len).freeze();
        let args = self
            .spans
            .drain(..)
            .map(|(s, e)| chunk.slice(s..e))
            .collect();
        // A request of many arguments (SADD of 100,000 members) does not keep its span list.
        if self.spans.capacity() > 4096 {
            self.spans = Vec::new();
        }
        self.in_multibulk = false;
        self.pos = 0;
        self.remaining = 0;
        self.bulk_len = None;
        Request {
            args,
            wire_len,
            empty_line: empty,
        }
    }
}

fn parse_inline(buf: &mut BytesMut) -> Result<Option<Request>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError("too big inline request".into()));
        }
        return Ok(None);
    };
    if nl > INLINE_MAX {
        return Err(ProtocolError("too big inline request".into()));
    }
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let line = buf.split_to(nl + 1);
    let args = split_args(&line[..line_end])
        .ok_or_else(|| ProtocolError("unbalanced quotes in request".into()))?;
    let empty = args.is_empty();
    Ok(Some(Request {
        args: args.into_iter().map(Bytes::from).collect(),
        wire_len: nl + 1,
        empty_line: empty,
    }))
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits a line into arguments as Redis does for inline commands and config files: spaces
/// separate; "double quotes" allow `\n \r \t \b \a \\ \" \xHH` escapes; 'single quotes' allow `\'`.
/// A closing quote must be followed by a space or the end. `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && (line[i] as char).is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut inq = false;
        let mut insq = false;
        loop {
            if inq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 3 < n && line[i + 1] == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(line[i + 2]), hex_val(line[i + 3])) {
                        cur.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !(line[i + 1] as char).is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
                i += 1;
            } else if insq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                } else if c == b'\'' {
                    if i + 1 < n && !(line[i + 1] as char).is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        out.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(p: &mut RequestParser, buf: &mut BytesMut, data: &[u8]) -> Vec<Vec<Vec<u8>>> {
        buf.extend_from_slice(data);
        let mut out = vec![];
        while let Some(r) = p.parse(buf, Limits::default()).unwrap() {
            out.push(r.args.iter().map(|b| b.to_vec()).collect());
        }
        out
    }

    #[test]
    fn multibulk_and_inline() {
        let mut p = RequestParser::new();
        let mut b = BytesMut::new();
        let r = feed(&mut p, &mut b, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\n");
        assert_eq!(
            r,
            vec![
                vec![b"GET".to_vec(), b"k".to_vec()],
                vec![b"PING".to_vec()],
                vec![]
            ]
        );
        assert!(b.is_empty());
    }

    #[test]
    fn a_request_of_many_arguments_leaves_no_large_span_list() {
        let mut p = RequestParser::new();
        let mut b = BytesMut::new();
        let mut req = b"*100001\r\n$4\r\nSADD\r\n".to_vec();
        for i in 0..100_000 {
            let m = i.to_string();
            req.extend_from_slice(format!("${}\r\n{m}\r\n", m.len()).as_bytes());
        }
        let r = feed(&mut p, &mut b, &req);
        assert_eq!(r[0].len(), 100_001);
        assert!(p.spans.capacity() <= 4096, "{}", p.spans.capacity());
    }

    #[test]
    fn byte_by_byte_equals_one_shot() {
        let data = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\nset a \"b c\"\r\n";
        let mut p = RequestParser::new();
        let mut b = BytesMut::new();
        let mut all = vec![];
        for c in data.iter() {
            all.extend(feed(&mut p, &mut b, &[*c]));
        }
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[1],
            vec![b"set".to_vec(), b"a".to_vec(), b"b c".to_vec()]
        );
    }

    #[test]
    fn errors_match_redis() {
        let cases: &[(&[u8], &str)] = &[
            (b"*abc\r\n", "invalid multibulk length"),
            (b"*2147483648\r\n", "invalid multibulk length"),
            (b"*1\r\n$-5\r\n", "invalid bulk length"),
            (b"*1\r\n$536870913\r\n", "invalid bulk length"),
            (b"*1\r\n*1\r\n", "expected '$', got '*'"),
            (b"set \"a\r\n", "unbalanced quotes in request"),
        ];
        for (input, msg) in cases {
            let mut p = RequestParser::new();
            let mut b = BytesMut::from(*input);
            assert_eq!(
                p.parse(&mut b, Limits::default()),
                Err(ProtocolError(msg.to_string())),
                "{:?}",
                input
            );
        }
        let mut p = RequestParser::new();
        let mut b = BytesMut::from(&vec![b'a'; INLINE_MAX + 1][..]);
        assert_eq!(
            p.parse(&mut b, Limits::default()).unwrap_err().0,
            "too big inline request"
        );
    }

    #[test]
    fn unauthenticated_limits() {
        let l = Limits {
            unauthenticated: true,
            ..Limits::default()
        };
        let mut p = RequestParser::new();
        let mut b = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            p.parse(&mut b, l).unwrap_err().0,
            "unauthenticated multibulk length"
        );
        let mut p = RequestParser::new();
        let mut b = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(
            p.parse(&mut b, l).unwrap_err().0,
            "unauthenticated bulk length"
        );
    }

    #[test]
    fn split_args_escapes() {
        assert_eq!(
            split_args(br#"a "\x41\n" 'it\'s'"#).unwrap(),
            vec![b"a".to_vec(), b"A\n".to_vec(), b"it's".to_vec()]
        );
        assert!(split_args(br#""a"b"#).is_none());
        assert_eq!(split_args(b"   ").unwrap(), Vec::<Vec<u8>>::new());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_random_input(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512), cut in 1usize..64) {
            let mut p = RequestParser::new();
            let mut b = BytesMut::new();
            for chunk in data.chunks(cut) {
                b.extend_from_slice(chunk);
                while let Ok(Some(_)) = p.parse(&mut b, Limits::default()) {}
            }
        }
    }
}
