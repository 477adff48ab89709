//! The replication backlog: the last `size` bytes of the replication stream, with the offset of
//! the first byte held, so a replica that reconnects can continue from where it was
//! (`PSYNC <replid> <offset>` → `+CONTINUE`).

use std::collections::VecDeque;

#[derive(Debug)]
pub struct Backlog {
    buf: VecDeque<u8>,
    size: usize,
    /// Replication offset of `buf[0]` (Redis's `repl_backlog->offset`).
    first_offset: u64,
}

impl Backlog {
    /// An empty backlog whose next byte will have offset `next_offset`.
    pub fn new(size: usize, next_offset: u64) -> Self {
        Backlog {
            buf: VecDeque::new(),
            size: size.max(16 * 1024),
            first_offset: next_offset,
        }
    }

    /// Appends stream bytes, dropping the oldest beyond the size.
    pub fn append(&mut self, data: &[u8]) {
        if data.len() >= self.size {
            self.first_offset += (self.buf.len() + data.len() - self.size) as u64;
            self.buf.clear();
            self.buf.extend(&data[data.len() - self.size..]);
            return;
        }
        let over = (self.buf.len() + data.len()).saturating_sub(self.size);
        if over > 0 {
            self.buf.drain(..over);
            self.first_offset += over as u64;
        }
        self.buf.extend(data);
    }

    /// `repl_backlog_first_byte_offset`.
    pub fn first_offset(&self) -> u64 {
        self.first_offset
    }

    /// `repl_backlog_histlen`.
    pub fn histlen(&self) -> u64 {
        self.buf.len() as u64
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// CONFIG SET repl-backlog-size: keeps the newest bytes that still fit.
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(16 * 1024);
        let over = self.buf.len().saturating_sub(self.size);
        if over > 0 {
            self.buf.drain(..over);
            self.first_offset += over as u64;
        }
    }

    /// The bytes from offset `off` (the next byte a replica wants) to the end, if the backlog
    /// still holds them: `first <= off <= first + histlen`.
    pub fn from_offset(&self, off: u64) -> Option<Vec<u8>> {
        if off < self.first_offset || off > self.first_offset + self.histlen() {
            return None;
        }
        let skip = (off - self.first_offset) as usize;
        let (a, b) = self.buf.as_slices();
        let mut v = Vec::with_capacity(self.buf.len() - skip);
        if skip < a.len() {
            v.extend_from_slice(&a[skip..]);
            v.extend_from_slice(b);
        } else {
            v.extend_from_slice(&b[skip - a.len()..]);
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_and_their_offsets() {
        let mut b = Backlog::new(16 * 1024, 1);
        assert_eq!(b.from_offset(1), Some(vec![]));
        assert_eq!(b.from_offset(2), None);
        let chunk: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        b.append(&chunk);
        b.append(&chunk);
        // 20,000 bytes written, 16,384 kept: offsets 3617..=20000.
        assert_eq!(b.histlen(), 16 * 1024);
        assert_eq!(b.first_offset(), 1 + 20_000 - 16 * 1024);
        assert_eq!(b.from_offset(b.first_offset() - 1), None);
        let tail = b.from_offset(20_001 - 5).unwrap();
        assert_eq!(tail, chunk[chunk.len() - 5..].to_vec());
        assert_eq!(b.from_offset(20_001), Some(vec![]));
        assert_eq!(b.from_offset(20_002), None);
    }

    #[test]
    fn a_write_larger_than_the_backlog() {
        let mut b = Backlog::new(16 * 1024, 101);
        b.append(b"abc");
        let big = vec![7u8; 40_000];
        b.append(&big);
        assert_eq!(b.histlen(), 16 * 1024);
        assert_eq!(b.first_offset() + b.histlen(), 101 + 3 + 40_000);
        assert!(b
            .from_offset(b.first_offset())
            .unwrap()
            .iter()
            .all(|x| *x == 7));
    }

    #[test]
    fn resize_drops_the_oldest() {
        let mut b = Backlog::new(32 * 1024, 1);
        b.append(&vec![1u8; 30_000]);
        b.resize(16 * 1024);
        assert_eq!(b.histlen(), 16 * 1024);
        assert_eq!(b.first_offset(), 1 + 30_000 - 16 * 1024);
    }
}
