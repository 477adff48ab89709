//! The RESP wire: the bounded request parser and the RESP2/RESP3 reply encoder.

mod parser;
mod reply;

pub use parser::{split_args, Limits, ProtocolError, Request, RequestParser, INLINE_MAX};
pub use reply::{fmt_i64, Reply};

/// Quotes bytes as Redis's sdscatrepr: `"..."` with `\\ \" \n \r \t \a \b` escapes and
/// `\xHH` for other non-printable bytes (MONITOR lines, config rewrites).
pub fn repr(a: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in a {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}
