//! Arguments: [`Args`], the cursor every handler reads its arguments through, with the error
//! texts Redis 7.0 gives for bad ones, and the small helpers it is built from.

use crate::numfmt::{parse_double, parse_i64};
use bytes::Bytes;
use std::borrow::Cow;

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

/// Redis's reply for a subcommand with arguments it cannot take.
pub fn subcommand_syntax_error(cmd: &str, sub: &[u8]) -> String {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        cmd.to_ascii_uppercase()
    )
}

/// Case-insensitive comparison of an argument with a keyword.
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

/// An argument error: the exact reply Redis gives.
pub type ArgError = Cow<'static, str>;

/// A cursor over a command's arguments. It reads them in order (integers, floats, keywords,
/// options) and turns what is missing or malformed into Redis's exact error, so a handler
/// parses with `?` and replies once:
///
/// ```
/// # use picket::args::Args;
/// # use bytes::Bytes;
/// let argv: Vec<Bytes> = ["SETEX", "k", "10", "v"].iter().map(|w| Bytes::from(*w)).collect();
/// let mut args = Args::new(&argv);
/// assert_eq!(&args.arg().unwrap()[..], b"k");
/// assert_eq!(args.int().unwrap(), 10);
/// assert_eq!(&args.arg().unwrap()[..], b"v");
/// assert!(args.end().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct Args<'a> {
    argv: &'a [Bytes],
    pos: usize,
}

impl<'a> Args<'a> {
    /// After the command's name.
    pub fn new(argv: &'a [Bytes]) -> Self {
        Args { argv, pos: 1 }
    }

    /// At argument `pos` (2 after a container's subcommand).
    pub fn at(argv: &'a [Bytes], pos: usize) -> Self {
        Args { argv, pos }
    }

    /// The index of the next argument.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// How many arguments are left.
    pub fn remaining(&self) -> usize {
        self.argv.len().saturating_sub(self.pos)
    }

    /// No argument is left.
    pub fn is_done(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument, if any, without consuming it.
    pub fn peek(&self) -> Option<&'a Bytes> {
        self.argv.get(self.pos)
    }

    /// The next argument, if any.
    pub fn try_arg(&mut self) -> Option<&'a Bytes> {
        let a = self.argv.get(self.pos)?;
        self.pos += 1;
        Some(a)
    }

    /// The next argument; `ERR syntax error` when there is none.
    pub fn arg(&mut self) -> Result<&'a Bytes, ArgError> {
        self.try_arg().ok_or(Cow::Borrowed(ERR_SYNTAX))
    }

    /// The next argument as an integer (`ERR value is not an integer or out of range`).
    pub fn int(&mut self) -> Result<i64, ArgError> {
        self.int_or(ERR_NOT_INT)
    }

    /// The next `N` arguments as integers.
    pub fn ints<const N: usize>(&mut self) -> Result<[i64; N], ArgError> {
        let mut v = [0; N];
        for x in v.iter_mut() {
            *x = self.int()?;
        }
        Ok(v)
    }

    /// The next argument as an integer, with `err` when it is not one.
    pub fn int_or(&mut self, err: &'static str) -> Result<i64, ArgError> {
        let a = self.arg()?;
        parse_i64(a).ok_or(Cow::Borrowed(err))
    }

    /// The next argument as an integer in `min..=max`, with `err` when it is not one or out of
    /// the range.
    pub fn int_in(&mut self, min: i64, max: i64, err: &'static str) -> Result<i64, ArgError> {
        let n = self.int_or(err)?;
        if n < min || n > max {
            return Err(Cow::Borrowed(err));
        }
        Ok(n)
    }

    /// The next argument as a float (`ERR value is not a valid float`).
    pub fn float(&mut self) -> Result<f64, ArgError> {
        let a = self.arg()?;
        float_arg(a).map_err(Cow::Borrowed)
    }

    /// Consumes the next argument if it is the keyword `kw` (any case).
    pub fn keyword(&mut self, kw: &str) -> bool {
        match self.peek() {
            Some(a) if eq_ic(a, kw) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// Consumes the next argument if it is one of `kws` (any case), and says which.
    pub fn one_of(&mut self, kws: &[&'static str]) -> Option<&'static str> {
        let a = self.peek()?;
        let kw = kws.iter().find(|k| eq_ic(a, k))?;
        self.pos += 1;
        Some(kw)
    }

    /// Every argument left.
    pub fn rest(&mut self) -> &'a [Bytes] {
        let r = self.argv.get(self.pos..).unwrap_or(&[]);
        self.pos = self.argv.len();
        r
    }

    /// `ERR syntax error` when arguments are left.
    pub fn end(&self) -> Result<(), ArgError> {
        if self.is_done() {
            Ok(())
        } else {
            Err(Cow::Borrowed(ERR_SYNTAX))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&'static str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::from_static(w.as_bytes()))
            .collect()
    }

    #[test]
    fn reads_in_order_with_redis_errors() {
        let v = argv(&["CMD", "12", "x", "1.5", "NX", "EX", "10"]);
        let mut a = Args::new(&v);
        assert_eq!(a.int().unwrap(), 12);
        assert_eq!(a.int().unwrap_err(), ERR_NOT_INT);
        let mut a = Args::at(&v, 3);
        assert_eq!(a.float().unwrap(), 1.5);
        assert!(!a.keyword("xx"));
        assert_eq!(a.one_of(&["xx", "nx"]), Some("nx"));
        assert!(a.keyword("ex"));
        assert_eq!(
            a.int_in(1, 5, "ERR out of range").unwrap_err(),
            "ERR out of range"
        );
        assert!(a.is_done());
        assert_eq!(a.arg().unwrap_err(), ERR_SYNTAX);
        let mut a = Args::at(&v, 2);
        assert_eq!(a.float().unwrap_err(), ERR_NOT_FLOAT);
        assert_eq!(a.rest().len(), 4);
        assert!(a.end().is_ok());
        assert_eq!(Args::new(&v).end().unwrap_err(), ERR_SYNTAX);
    }
}
