//! Replies from monitored instances, as the core sees them (RESP2 and RESP3 folded together).

use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Bytes>),
    Array(Option<Vec<Frame>>),
}

impl Frame {
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// The text of a simple, error or bulk reply.
    pub fn text(&self) -> Option<String> {
        match self {
            Frame::Simple(s) | Frame::Error(s) => Some(s.clone()),
            Frame::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}
