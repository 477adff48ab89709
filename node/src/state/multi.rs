//! A transaction being queued (MULTI ... EXEC). The behaviour is in [`crate::cmd::multi`].

use bytes::Bytes;

#[derive(Debug, Default)]
pub struct MultiState {
    pub queued: Vec<Vec<Bytes>>,
    /// A queued command was rejected: EXEC answers EXECABORT.
    pub error: bool,
}
