//! Writes a dataset as an RDB version 10 stream, choosing the types Redis 7.0 writes for each
//! encoding (quicklist 2 of listpacks, intset, listpack hashes and sorted sets, plain tables).

use super::*;
use crate::db::{HashVal, RStr, SetVal, Value, ZSetVal};
use std::io::Write;

/// Lists are cut into listpack nodes of about this many bytes (list-max-listpack-size -2).
const LIST_NODE_BYTES: usize = 8 * 1024;

/// Elements of at least this many bytes are written as plain quicklist nodes, as Redis keeps
/// them (1 GiB unless `DEBUG QUICKLIST-PACKED-THRESHOLD` changed it).
static PACKED_THRESHOLD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1 << 30);

/// DEBUG QUICKLIST-PACKED-THRESHOLD: 0 restores the default; false (nothing changed) over
/// 4 GiB - 1 MiB.
pub fn set_packed_threshold(bytes: u64) -> bool {
    if bytes > (1 << 32) - (1 << 20) {
        return false;
    }
    let v = if bytes == 0 { 1 << 30 } else { bytes };
    PACKED_THRESHOLD.store(v, std::sync::atomic::Ordering::Relaxed);
    true
}

/// A list's quicklist nodes: (container, payload), listpacks of about [`LIST_NODE_BYTES`] and
/// a plain node for each element over the packed threshold.
fn list_nodes<'a>(l: impl Iterator<Item = &'a [u8]>) -> Vec<(u64, Vec<u8>)> {
    let threshold = PACKED_THRESHOLD.load(std::sync::atomic::Ordering::Relaxed) as usize;
    let mut nodes = Vec::new();
    let mut cur: Vec<&[u8]> = Vec::new();
    let mut bytes = 0;
    for e in l {
        let plain = e.len() >= threshold;
        if !cur.is_empty() && (plain || bytes + e.len() + 2 > LIST_NODE_BYTES) {
            nodes.push((2, listpack::encode(cur.drain(..))));
            bytes = 0;
        }
        if plain {
            nodes.push((1, e.to_vec()));
            continue;
        }
        bytes += e.len() + 2;
        cur.push(e);
    }
    if !cur.is_empty() {
        nodes.push((2, listpack::encode(cur.drain(..))));
    }
    nodes
}

pub struct Writer<W: Write> {
    w: W,
    crc: u64,
    checksum: bool,
    compress: bool,
    written: u64,
}

impl<W: Write> Writer<W> {
    /// Starts a file: the `REDIS0010` header and the aux fields.
    pub fn new(
        w: W,
        aux: &[(&str, String)],
        compress: bool,
        checksum: bool,
    ) -> std::io::Result<Self> {
        let mut me = Writer {
            w,
            crc: 0,
            checksum,
            compress,
            written: 0,
        };
        me.raw(format!("REDIS{RDB_VERSION:04}").as_bytes())?;
        for (k, v) in aux {
            me.raw(&[OP_AUX])?;
            me.string(k.as_bytes())?;
            me.string(v.as_bytes())?;
        }
        Ok(me)
    }

    /// A function library record (Redis 7.0's FUNCTION2 opcode and the library's code).
    pub fn function(&mut self, code: &[u8]) -> std::io::Result<()> {
        self.raw(&[OP_FUNCTION2])?;
        self.string(code)
    }

    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    fn raw(&mut self, b: &[u8]) -> std::io::Result<()> {
        if self.checksum {
            self.crc = crc64::update(self.crc, b);
        }
        self.written += b.len() as u64;
        self.w.write_all(b)
    }

    fn len(&mut self, n: u64) -> std::io::Result<()> {
        if n < 1 << 6 {
            self.raw(&[n as u8])
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u32::MAX as u64 {
            self.raw(&[0x80])?;
            self.raw(&(n as u32).to_be_bytes())
        } else {
            self.raw(&[0x81])?;
            self.raw(&n.to_be_bytes())
        }
    }

    /// A string, int-encoded when it is a small canonical integer, LZF-compressed when that
    /// saves at least 4 bytes and compression is on, plain otherwise.
    pub fn string(&mut self, s: &[u8]) -> std::io::Result<()> {
        if s.len() <= 11 {
            if let Some(v) = picket::numfmt::parse_i64(s) {
                if let Ok(b) = i8::try_from(v) {
                    return self.raw(&[0xc0, b as u8]);
                }
                if let Ok(h) = i16::try_from(v) {
                    self.raw(&[0xc1])?;
                    return self.raw(&h.to_le_bytes());
                }
                if let Ok(i) = i32::try_from(v) {
                    self.raw(&[0xc2])?;
                    return self.raw(&i.to_le_bytes());
                }
            }
        }
        if self.compress && s.len() > 20 {
            if let Some(c) = lzf::compress(s) {
                if c.len() + 4 <= s.len() {
                    self.raw(&[0xc3])?;
                    self.len(c.len() as u64)?;
                    self.len(s.len() as u64)?;
                    return self.raw(&c);
                }
            }
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    /// SELECTDB and RESIZEDB for a database that has keys.
    pub fn select_db(&mut self, db: usize, size: usize, expires: usize) -> std::io::Result<()> {
        self.raw(&[OP_SELECTDB])?;
        self.len(db as u64)?;
        self.raw(&[OP_RESIZEDB])?;
        self.len(size as u64)?;
        self.len(expires as u64)
    }

    /// One key with its value and optional absolute expiry (ms).
    pub fn key(&mut self, key: &[u8], v: &Value, expire: Option<i64>) -> std::io::Result<()> {
        if let Some(t) = expire {
            self.raw(&[OP_EXPIRETIME_MS])?;
            self.raw(&t.to_le_bytes())?;
        }
        self.value(Some(key), v)
    }

    /// A value: its type byte, the key when given (a file's record; DUMP has none), the body.
    pub fn value(&mut self, key: Option<&[u8]>, v: &Value) -> std::io::Result<()> {
        match v {
            Value::Str(s) => {
                self.raw(&[T_STRING])?;
                self.opt_key(key)?;
                match s {
                    RStr::Int(i) => self.string(i.to_string().as_bytes()),
                    RStr::Emb(b) | RStr::Raw(b) => self.string(b),
                }
            }
            Value::List(l) => {
                self.raw(&[T_LIST_QUICKLIST_2])?;
                self.opt_key(key)?;
                let nodes = list_nodes(l.iter().map(|e| &e[..]));
                self.len(nodes.len() as u64)?;
                for (container, payload) in nodes {
                    self.len(container)?; // 1 PLAIN, 2 PACKED
                    self.string(&payload)?;
                }
                Ok(())
            }
            Value::Hash(h) => {
                let pairs = h.pairs();
                if matches!(h, HashVal::Pack(_)) {
                    self.raw(&[T_HASH_LISTPACK])?;
                    self.opt_key(key)?;
                    let lp = listpack::encode(pairs.iter().flat_map(|(f, v)| [*f, *v]));
                    self.string(&lp)
                } else {
                    self.raw(&[T_HASH])?;
                    self.opt_key(key)?;
                    self.len(pairs.len() as u64)?;
                    for (f, v) in pairs {
                        self.string(f)?;
                        self.string(v)?;
                    }
                    Ok(())
                }
            }
            Value::Set(s) => match &**s {
                SetVal::Ints(v) => {
                    self.raw(&[T_SET_INTSET])?;
                    self.opt_key(key)?;
                    self.string(&listpack::encode_intset(v))
                }
                SetVal::Table(d) => {
                    self.raw(&[T_SET])?;
                    self.opt_key(key)?;
                    self.len(d.len() as u64)?;
                    for (m, _) in d.iter() {
                        self.string(m)?;
                    }
                    Ok(())
                }
            },
            Value::ZSet(z) => {
                let view = z.view();
                let items = view.take(0, usize::MAX);
                if matches!(z, ZSetVal::Pack(_)) {
                    self.raw(&[T_ZSET_LISTPACK])?;
                    self.opt_key(key)?;
                    let texts: Vec<Vec<u8>> = items.iter().map(|(s, _)| score_text(*s)).collect();
                    let lp = listpack::encode(
                        items
                            .iter()
                            .zip(&texts)
                            .flat_map(|((_, m), t)| [*m, &t[..]]),
                    );
                    self.string(&lp)
                } else {
                    self.raw(&[T_ZSET_2])?;
                    self.opt_key(key)?;
                    self.len(items.len() as u64)?;
                    for (s, m) in items.iter().rev() {
                        self.string(m)?;
                        self.raw(&s.to_le_bytes())?;
                    }
                    Ok(())
                }
            }
        }
    }

    fn opt_key(&mut self, key: Option<&[u8]>) -> std::io::Result<()> {
        match key {
            Some(k) => self.string(k),
            None => Ok(()),
        }
    }

    /// EOF and the checksum (zeros when `rdbchecksum no`); returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.raw(&[OP_EOF])?;
        let crc = if self.checksum { self.crc } else { 0 };
        self.w.write_all(&crc.to_le_bytes())?;
        self.written += 8;
        self.w.flush()?;
        Ok(self.w)
    }
}

impl Writer<Vec<u8>> {
    /// The bytes produced since the last call (the CRC keeps running over all of them).
    pub fn take_bytes(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.w)
    }

    /// How many bytes are waiting in the buffer.
    pub fn pending(&self) -> usize {
        self.w.len()
    }
}

/// A DUMP-style payload (FUNCTION DUMP): the records `body` writes, the RDB version (two bytes,
/// little-endian) and a CRC64 of everything before it.
pub fn dump_payload(
    compress: bool,
    body: impl FnOnce(&mut Writer<Vec<u8>>) -> std::io::Result<()>,
) -> Vec<u8> {
    let mut w = Writer {
        w: Vec::new(),
        crc: 0,
        checksum: false,
        compress,
        written: 0,
    };
    let _ = body(&mut w);
    let mut out = w.w;
    out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let crc = crc64::update(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}
