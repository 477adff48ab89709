//! Reply encoding for RESP2 and RESP3. Handlers write straight into a connection's output
//! buffer through [`Reply`]; the protocol version picks the encoding of nulls, maps, sets,
//! doubles, booleans and pushes, exactly as Redis 7.0 writes them.

use crate::numfmt;

/// An output buffer with the protocol version of the connection it belongs to.
#[derive(Debug, Default)]
pub struct Reply {
    pub buf: Vec<u8>,
    pub resp3: bool,
    /// Error replies written since the last [`Reply::take_errors`] (for INFO errorstats).
    pub errors: Vec<String>,
    /// The client's hard output-buffer limit in bytes (0: none): a buffer over it closes the
    /// connection without a reply, and long replies stop being written ([`Reply::over_limit`]).
    pub limit: usize,
}

fn push_num(buf: &mut Vec<u8>, n: i64) {
    let mut b = itoa_buf();
    buf.extend_from_slice(fmt_i64(&mut b, n));
}

fn itoa_buf() -> [u8; 20] {
    [0u8; 20]
}

/// Formats an integer into `b` without allocating.
pub fn fmt_i64(b: &mut [u8; 20], n: i64) -> &[u8] {
    let mut i = b.len();
    let neg = n < 0;
    let mut u = n.unsigned_abs();
    if u == 0 {
        i -= 1;
        b[i] = b'0';
    }
    while u > 0 {
        i -= 1;
        b[i] = b'0' + (u % 10) as u8;
        u /= 10;
    }
    if neg {
        i -= 1;
        b[i] = b'-';
    }
    &b[i..]
}

impl Reply {
    pub fn new(resp3: bool) -> Self {
        Reply {
            buf: Vec::with_capacity(256),
            resp3,
            errors: Vec::new(),
            limit: 0,
        }
    }

    /// The buffer holds more than the client's output limit.
    #[inline]
    pub fn over_limit(&self) -> bool {
        self.limit != 0 && self.buf.len() > self.limit
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn header(&mut self, tag: u8, n: i64) {
        self.buf.push(tag);
        push_num(&mut self.buf, n);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply; `msg` starts with its code (`ERR ...`, `WRONGTYPE ...`).
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        // Redis replaces newlines in error messages with spaces so the reply stays one line.
        for &c in msg.as_bytes() {
            self.buf
                .push(if c == b'\r' || c == b'\n' { b' ' } else { c });
        }
        self.buf.extend_from_slice(b"\r\n");
        let code = msg.split(' ').next().unwrap_or("ERR");
        self.errors.push(code.to_string());
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, s: &[u8]) {
        self.header(b'$', s.len() as i64);
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }

    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa_buf();
        let s = fmt_i64(&mut b, n);
        self.header(b'$', s.len() as i64);
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// The null bulk string: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` pairs: `%n` in RESP3, a flat array of 2n in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// A set: `~n` in RESP3, an array in RESP2.
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// A push frame: `>n` in RESP3, an array in RESP2.
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// A double: `,<%.17g>` in RESP3, a bulk string in RESP2 (as Redis's addReplyDouble).
    pub fn double(&mut self, d: f64) {
        self.double_text(&numfmt::fmt_double_reply(d))
    }

    /// A double already in text: `,<text>` in RESP3, a bulk string in RESP2.
    fn double_text(&mut self, s: &str) {
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A double in Redis's "human" long-double text ([`numfmt::fmt_human`]): `,<text>` in
    /// RESP3, a bulk string in RESP2 (addReplyHumanLongDouble; GEOPOS coordinates).
    pub fn human_double(&mut self, d: f64) {
        self.double_text(&numfmt::fmt_human(d))
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// A verbatim string (`=len\r\ntxt:...`) in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, s: &[u8]) {
        if self.resp3 {
            self.header(b'=', s.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }

    /// A HELP reply: one status line per entry.
    pub fn help(&mut self, lines: &[&str]) {
        self.array(lines.len());
        for l in lines {
            self.simple(l);
        }
    }

    /// Appends raw, already encoded bytes.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Writes an error reply whose error was already counted where it happened (a script's
    /// reply carrying the error of a command it ran): the reply still fails its command, but
    /// its code is recorded as empty, which the error stats skip.
    pub fn error_counted(&mut self, msg: &str) {
        self.error(msg);
        if let Some(code) = self.errors.last_mut() {
            code.clear();
        }
    }

    /// Error codes of the error replies written so far, leaving the list empty.
    pub fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        let mut r = Reply::new(false);
        r.null();
        r.map(1);
        r.double(1.5);
        r.boolean(true);
        assert_eq!(r.buf, b"$-1\r\n*2\r\n$3\r\n1.5\r\n:1\r\n");
        let mut r = Reply::new(true);
        r.null();
        r.map(1);
        r.double(1.5);
        r.boolean(true);
        assert_eq!(r.buf, b"_\r\n%1\r\n,1.5\r\n#t\r\n");
        let mut b = [0u8; 20];
        assert_eq!(fmt_i64(&mut b, i64::MIN), b"-9223372036854775808");
    }
}
