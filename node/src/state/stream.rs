//! The write stream's recording half: every effect on the dataset, in one total order, as the
//! commands that replication and the AOF carry (rewritten forms: `SET k v PXAT t`, `PEXPIREAT`,
//! `DEL` of an expired key), with `SELECT` when the database changes and MULTI/EXEC around the
//! writes of a transaction. Its consumers (the AOF, the replication backlog and replicas) take
//! the bytes in [`crate::propagate::flush`]; without one nothing is encoded.

use bytes::Bytes;

/// Encodes a command as a RESP multibulk.
pub fn encode_command(buf: &mut Vec<u8>, argv: &[Bytes]) {
    buf.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for a in argv {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

#[derive(Debug)]
pub struct WriteStream {
    /// Commands of the command (or transaction) being executed: (db, argv).
    pending: Vec<(usize, Vec<Bytes>)>,
    /// The db the stream last SELECTed (-1: none yet).
    selected: i64,
    /// Whether a consumer is attached (replication backlog, AOF).
    pub enabled: bool,
    /// While a replica applies its master's stream: the master's bytes are proxied verbatim
    /// instead of re-propagating what the commands did.
    pub suppress: bool,
    /// Encoded stream not yet taken by consumers.
    pub buffer: Vec<u8>,
    /// Commands ever propagated (for tests and INFO).
    pub commands: u64,
    /// While EXEC runs its queue: the commands' own commits (and the DELs of keys that expire
    /// meanwhile) keep their effects pending, so the transaction's commit wraps them all.
    in_transaction: bool,
    /// On a replica: its own clients' writes (a writable replica, a forced expiry) go to the
    /// AOF only, never into the replication stream it proxies from its master (its offset is
    /// the master's), as Redis keeps them.
    pub replica: bool,
    /// Those local writes, encoded, each with its SELECT, waiting for the AOF.
    pub local: Vec<u8>,
}

impl Default for WriteStream {
    fn default() -> Self {
        WriteStream {
            pending: Vec::new(),
            selected: -1,
            enabled: false,
            suppress: false,
            buffer: Vec::new(),
            commands: 0,
            in_transaction: false,
            replica: false,
            local: Vec::new(),
        }
    }
}

impl WriteStream {
    /// Records one write effect of the current command.
    pub fn push(&mut self, db: usize, argv: Vec<Bytes>) {
        if !self.enabled || self.suppress {
            self.commands += 1;
            return;
        }
        self.pending.push((db, argv));
    }

    /// Ends a command or transaction: emits what it wrote, wrapped in MULTI/EXEC when
    /// `transaction` and it wrote more than one command.
    pub fn commit(&mut self, transaction: bool) {
        if self.pending.is_empty() || !self.enabled || (self.in_transaction && !transaction) {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        self.commands += pending.len() as u64;
        if self.replica {
            // Into `local`, selecting its db explicitly (the master's bytes around it in the
            // AOF select their own).
            let stream = std::mem::replace(&mut self.buffer, std::mem::take(&mut self.local));
            self.selected = -1;
            self.emit_all(pending, transaction);
            self.selected = -1;
            self.local = std::mem::replace(&mut self.buffer, stream);
            return;
        }
        self.emit_all(pending, transaction);
    }

    fn emit_all(&mut self, pending: Vec<(usize, Vec<Bytes>)>, transaction: bool) {
        let wrap = transaction && pending.len() > 1;
        if wrap {
            let db = pending[0].0;
            self.select(db);
            self.emit(&[Bytes::from_static(b"MULTI")]);
        }
        for (db, argv) in &pending {
            self.select(*db);
            self.emit(argv);
        }
        if wrap {
            self.emit(&[Bytes::from_static(b"EXEC")]);
        }
    }

    /// Starts a transaction (EXEC): commits are held until `commit(true)`, which ends it.
    pub fn begin_transaction(&mut self) {
        self.in_transaction = true;
    }

    /// Whether a transaction (EXEC, or a script) is open.
    pub fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    /// Ends a transaction: what its commands wrote is emitted, wrapped in MULTI/EXEC when
    /// more than one command.
    pub fn commit_transaction(&mut self) {
        self.in_transaction = false;
        self.commit(true);
    }

    /// The db the stream last selected, if any.
    pub fn selected_db(&self) -> Option<usize> {
        (self.selected >= 0).then_some(self.selected as usize)
    }

    /// Makes the next command emit a SELECT (a new AOF file or a new replica starts with no
    /// selected database).
    pub fn reset_select(&mut self) {
        self.selected = -1;
    }

    fn select(&mut self, db: usize) {
        if self.selected != db as i64 {
            self.selected = db as i64;
            self.emit(&[Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())]);
        }
    }

    fn emit(&mut self, argv: &[Bytes]) {
        encode_command(&mut self.buffer, argv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_and_multi_wrapping() {
        let mut w = WriteStream {
            enabled: true,
            ..Default::default()
        };
        w.push(
            0,
            vec![Bytes::from_static(b"DEL"), Bytes::from_static(b"a")],
        );
        w.commit(false);
        w.push(
            1,
            vec![
                Bytes::from_static(b"SET"),
                Bytes::from_static(b"b"),
                Bytes::from_static(b"1"),
            ],
        );
        w.push(
            1,
            vec![Bytes::from_static(b"DEL"), Bytes::from_static(b"c")],
        );
        w.commit(true);
        let s = String::from_utf8(w.buffer.clone()).unwrap();
        assert_eq!(s, "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*2\r\n$3\r\nDEL\r\n$1\r\na\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n1\r\n*2\r\n$3\r\nDEL\r\n$1\r\nc\r\n*1\r\n$4\r\nEXEC\r\n");
    }
}
