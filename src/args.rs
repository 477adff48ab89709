//! Argument helpers and the error texts Redis 7.0 uses for bad arguments.

use crate::numfmt::{parse_double, parse_i64};
use bytes::Bytes;

pub const ERR_SYNTAX: &str = "ERR syntax error";
pub const ERR_NOT_INT: &str = "ERR value is not an integer or out of range";
pub const ERR_NOT_FLOAT: &str = "ERR value is not a valid float";
pub const ERR_WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const ERR_NO_KEY: &str = "ERR no such key";
pub const ERR_OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const ERR_DB_INDEX: &str = "ERR DB index is out of range";

/// `ERR wrong number of arguments for 'x' command`.
pub fn wrong_args(cmd: &str) -> String {
    format!("ERR wrong number of arguments for '{cmd}' command")
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' `, truncated as Redis does.
pub fn unknown_command(args: &[Bytes]) -> String {
    let name = String::from_utf8_lossy(&args[0]);
    let name: String = name.chars().take(128).collect();
    let mut rest = String::new();
    for a in &args[1..] {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        let s = String::from_utf8_lossy(a);
        let s: String = s.chars().take(room).collect();
        rest.push_str(&format!("'{s}' "));
    }
    format!("ERR unknown command '{name}', with args beginning with: {rest}")
}

/// `ERR unknown subcommand 'x'. Try CMD HELP.`
pub fn unknown_subcommand(cmd: &str, sub: &[u8]) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub)
            .chars()
            .take(128)
            .collect::<String>(),
        cmd.to_ascii_uppercase()
    )
}

/// Case-insensitive comparison of an argument with a keyword.
/// Redis's reply for a subcommand with arguments it cannot take.
pub fn subcommand_syntax_error(cmd: &str, sub: &[u8]) -> String {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        cmd.to_ascii_uppercase()
    )
}

pub fn eq_ic(a: &[u8], kw: &str) -> bool {
    a.eq_ignore_ascii_case(kw.as_bytes())
}

/// Parses an integer argument, or gives Redis's error.
pub fn int_arg(a: &[u8]) -> Result<i64, &'static str> {
    parse_i64(a).ok_or(ERR_NOT_INT)
}

/// Parses a float argument, or gives Redis's error.
pub fn float_arg(a: &[u8]) -> Result<f64, &'static str> {
    parse_double(a).ok_or(ERR_NOT_FLOAT)
}

/// Lowercase command name.
pub fn lower(a: &[u8]) -> String {
    String::from_utf8_lossy(a).to_ascii_lowercase()
}
