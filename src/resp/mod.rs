//! The RESP wire: the bounded request parser and the RESP2/RESP3 reply encoder.

mod parser;
mod reply;

pub use parser::{split_args, Limits, ProtocolError, Request, RequestParser, INLINE_MAX};
pub use reply::{fmt_i64, Reply};
