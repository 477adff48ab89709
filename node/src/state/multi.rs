//! A transaction being queued (MULTI ... EXEC). The behaviour is in [`crate::cmd::multi`].

use bytes::Bytes;

#[derive(Debug, Default)]
pub struct MultiState {
    pub queued: Vec<Vec<Bytes>>,
    /// A queued command was rejected: EXEC answers EXECABORT.
    pub error: bool,
    /// The union of the queued commands' flags: EXEC is checked as a write (min-replicas,
    /// MISCONF, READONLY) or a use-memory command (OOM) when one of them is.
    pub flags_any: u32,
    /// The union of the flags the queued commands lack: EXEC is refused on a stale replica
    /// or while loading when one of them would be.
    pub flags_missing: u32,
    /// A queued command that CLIENT PAUSE WRITE holds though not a write (PUBLISH).
    pub pauses: bool,
}
