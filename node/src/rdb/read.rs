//! Reads an RDB stream (versions 1–10): every opcode and string encoding, the types Redis 7.0
//! writes (and the older plain list/zset forms, zipmaps, ziplists and ziplist quicklists), building values in Picket's own encodings
//! with the local thresholds. Module aux data is skipped generically and function libraries
//! are skipped with a log line; streams and module values are refused with a clear error.
//! Every error carries the byte offset where it was found.

use super::*;
use crate::db::{EncodingLimits, HashVal, RStr, SBytes, SetVal, Value, ZSetVal};
use std::collections::VecDeque;
use std::io::Read;

#[derive(Debug)]
pub struct RdbError {
    pub offset: u64,
    pub reason: String,
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte offset {})", self.reason, self.offset)
    }
}

/// Where loaded data goes.
pub trait Sink {
    fn aux(&mut self, _key: &[u8], _val: &[u8]) {}
    fn resize_db(&mut self, _db: usize, _size: u64, _expires: u64) {}
    /// A function library's code (a FUNCTION2 record).
    fn function(&mut self, _code: Vec<u8>) {}
    /// A key of database `db`; Err stops loading (a duplicate key, say).
    fn key(
        &mut self,
        db: usize,
        key: Vec<u8>,
        val: Value,
        expire: Option<i64>,
    ) -> Result<(), String>;
}

struct Src<R: Read> {
    r: R,
    crc: u64,
    off: u64,
}

type Res<T> = Result<T, RdbError>;

impl<R: Read> Src<R> {
    fn err<T>(&self, reason: impl Into<String>) -> Res<T> {
        Err(RdbError {
            offset: self.off,
            reason: reason.into(),
        })
    }

    fn bytes(&mut self, n: usize) -> Res<Vec<u8>> {
        let mut v;
        if n <= 1 << 20 {
            v = vec![0u8; n];
            if self.r.read_exact(&mut v).is_err() {
                return self.err("Unexpected EOF reading RDB file");
            }
        } else {
            // A length from the file is not trusted with an allocation: grow as data comes.
            v = Vec::new();
            let got = (&mut self.r).take(n as u64).read_to_end(&mut v);
            if got.is_err() || v.len() != n {
                return self.err("Unexpected EOF reading RDB file");
            }
        }
        self.crc = crc64::update(self.crc, &v);
        self.off += n as u64;
        Ok(v)
    }

    /// A fixed-size field, read without allocating.
    fn fixed<const N: usize>(&mut self) -> Res<[u8; N]> {
        let mut a = [0u8; N];
        if self.r.read_exact(&mut a).is_err() {
            return self.err("Unexpected EOF reading RDB file");
        }
        self.crc = crc64::update(self.crc, &a);
        self.off += N as u64;
        Ok(a)
    }

    fn u8(&mut self) -> Res<u8> {
        Ok(self.fixed::<1>()?[0])
    }

    /// A length, or Err(special encoding) for the `11xxxxxx` forms.
    fn len_or_enc(&mut self) -> Res<Result<u64, u8>> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Ok((b & 0x3f) as u64),
            1 => Ok((((b & 0x3f) as u64) << 8) | self.u8()? as u64),
            2 if b == 0x80 => Ok(u32::from_be_bytes(self.fixed::<4>()?) as u64),
            2 if b == 0x81 => Ok(u64::from_be_bytes(self.fixed::<8>()?)),
            2 => return self.err(format!("Unknown length encoding {b} in rdbLoadLen()")),
            _ => Err(b & 0x3f),
        })
    }

    fn len(&mut self) -> Res<u64> {
        match self.len_or_enc()? {
            Ok(n) => Ok(n),
            Err(e) => self.err(format!(
                "Unexpected string encoding {e} where a length was expected"
            )),
        }
    }

    /// A length used to size a collection: refuses absurd values before allocating.
    fn count(&mut self) -> Res<usize> {
        let n = self.len()?;
        if n > (1 << 40) {
            return self.err(format!("Collection length {n} is not plausible"));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Res<Vec<u8>> {
        match self.len_or_enc()? {
            Ok(n) => {
                if n > 1 << 40 {
                    return self.err(format!("String length {n} is not plausible"));
                }
                self.bytes(n as usize)
            }
            Err(0) => Ok((self.u8()? as i8).to_string().into_bytes()),
            Err(1) => {
                let b = self.bytes(2)?;
                Ok(i16::from_le_bytes([b[0], b[1]]).to_string().into_bytes())
            }
            Err(2) => {
                let b = self.bytes(4)?;
                Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]])
                    .to_string()
                    .into_bytes())
            }
            Err(3) => {
                let clen = self.len()? as usize;
                let ulen = self.len()? as usize;
                // LZF expands at most ~132 times (a 2-byte reference copies up to 264 bytes).
                if ulen > clen.saturating_mul(264).saturating_add(32) {
                    return self.err("LZF uncompressed length is not plausible");
                }
                let c = self.bytes(clen)?;
                match lzf::decompress(&c, ulen) {
                    Some(v) => Ok(v),
                    None => self.err("Invalid LZF compressed string"),
                }
            }
            Err(e) => self.err(format!("Unknown RDB string encoding type {e}")),
        }
    }

    fn binary_double(&mut self) -> Res<f64> {
        Ok(f64::from_le_bytes(self.fixed::<8>()?))
    }

    /// The legacy text double of type 3 (ZSET).
    fn text_double(&mut self) -> Res<f64> {
        let n = self.u8()?;
        Ok(match n {
            253 => f64::NAN,
            254 => f64::INFINITY,
            255 => f64::NEG_INFINITY,
            _ => {
                let b = self.bytes(n as usize)?;
                match picket::numfmt::parse_double(&b) {
                    Some(d) => d,
                    None => return self.err("Bad double value"),
                }
            }
        })
    }

    /// Skips a module value (the opcode-tagged values up to EOF).
    fn skip_module_value(&mut self) -> Res<()> {
        loop {
            match self.len()? {
                0 => return Ok(()),
                1 | 2 => {
                    self.len()?;
                }
                3 => {
                    self.bytes(4)?;
                }
                4 => {
                    self.bytes(8)?;
                }
                5 => {
                    self.string()?;
                }
                o => return self.err(format!("Unknown module opcode {o}")),
            }
        }
    }
}

fn pairs_of(v: &[Vec<u8>]) -> impl Iterator<Item = (&[u8], &[u8])> {
    v.chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (&c[0][..], &c[1][..]))
}

/// Loads an RDB stream into `sink`; returns the number of keys loaded.
pub fn load<R: Read>(r: R, lim: &EncodingLimits, sink: &mut impl Sink) -> Res<u64> {
    let mut s = Src { r, crc: 0, off: 0 };
    let magic = s.bytes(9)?;
    if &magic[..5] != b"REDIS" {
        return s.err("Wrong signature trying to load DB from file");
    }
    let ver: u32 = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if !(1..=RDB_VERSION).contains(&ver) {
        return s.err(format!("Can't handle RDB format version {ver}"));
    }
    let mut db = 0usize;
    let mut expire: Option<i64> = None;
    let mut keys = 0u64;
    loop {
        let t = s.u8()?;
        match t {
            OP_EXPIRETIME_MS => {
                // Version < 9 stored it in host order (little-endian on every machine we run).
                expire = Some(i64::from_le_bytes(s.fixed::<8>()?));
                continue;
            }
            OP_EXPIRETIME => {
                let b = s.bytes(4)?;
                expire = Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64 * 1000);
                continue;
            }
            OP_IDLE => {
                s.len()?;
                continue;
            }
            OP_FREQ => {
                s.u8()?;
                continue;
            }
            OP_SELECTDB => {
                db = s.len()? as usize;
                continue;
            }
            OP_RESIZEDB => {
                let (a, b) = (s.len()?, s.len()?);
                sink.resize_db(db, a, b);
                continue;
            }
            OP_AUX => {
                let (k, v) = (s.string()?, s.string()?);
                if k.first() == Some(&b'%') {
                    tracing::info!(
                        "RDB '{}': {}",
                        String::from_utf8_lossy(&k),
                        String::from_utf8_lossy(&v)
                    );
                }
                sink.aux(&k, &v);
                continue;
            }
            OP_MODULE_AUX => {
                let id = s.len()?;
                let when_op = s.len()?;
                let when = s.len()?;
                if when_op != 2 {
                    return s.err("bad when opcode in module aux data");
                }
                s.skip_module_value()?;
                tracing::warn!("Skipping module aux data (module id {id:#x}, when {when}): no modules are loaded");
                continue;
            }
            OP_FUNCTION2 => {
                sink.function(s.string()?);
                continue;
            }
            OP_FUNCTION_PRE_GA => return s.err("Pre-GA function format not supported"),
            OP_EOF => {
                let computed = s.crc;
                if ver >= 5 {
                    let b = s.bytes(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&b);
                    let stored = u64::from_le_bytes(a);
                    if stored == 0 {
                        tracing::warn!(
                            "RDB file was saved with checksum disabled: no check performed."
                        );
                    } else if stored != computed {
                        // Redis's two lines: the sums (what it computed is "expected"), then
                        // the error that names the CRC.
                        tracing::warn!(
                            "Wrong RDB checksum expected: ({computed:x}) but got ({stored:x}). Aborting now."
                        );
                        return Err(RdbError {
                            offset: s.off - 8,
                            reason: "RDB CRC error".into(),
                        });
                    }
                }
                return Ok(keys);
            }
            _ => {}
        }
        let key_off = s.off;
        let key = s.string()?;
        let val = read_value(&mut s, t, lim, &key)?;
        let exp = expire.take();
        if let Some(v) = val {
            if let Err(e) = sink.key(db, key, v, exp) {
                return Err(RdbError {
                    offset: key_off,
                    reason: e,
                });
            }
            keys += 1;
        }
    }
}

/// One value of type `t`; None for an empty collection (skipped, as Redis does).
fn read_value<R: Read>(
    s: &mut Src<R>,
    t: u8,
    lim: &EncodingLimits,
    key: &[u8],
) -> Res<Option<Value>> {
    let v = match t {
        T_STRING => read_string(s)?,
        T_LIST => read_list(s)?,
        T_LIST_QUICKLIST_2 => read_quicklist(s)?,
        T_SET | T_SET_INTSET | T_SET_LISTPACK => match read_set(s, t, lim)? {
            Some(v) => v,
            None => return Ok(None),
        },
        T_HASH_LISTPACK => read_hash_listpack(s, lim)?,
        T_HASH => read_hash(s, lim)?,
        T_ZSET | T_ZSET_2 | T_ZSET_LISTPACK => read_zset(s, t, lim)?,
        T_HASH_ZIPMAP | T_LIST_ZIPLIST | T_ZSET_ZIPLIST | T_HASH_ZIPLIST | T_LIST_QUICKLIST => {
            read_legacy(s, t, lim)?
        }
        _ => return unsupported(s, t, key),
    };
    Ok((v.elements() > 0).then_some(v))
}

/// A string: an integer when it reads as one, else the buffer read, kept without a copy.
fn read_string<R: Read>(s: &mut Src<R>) -> Res<Value> {
    let v = s.string()?;
    let r = match picket::numfmt::parse_i64(&v).filter(|_| v.len() <= 20) {
        Some(i) => RStr::Int(i),
        None if v.len() <= crate::db::value::EMBSTR_MAX => RStr::Emb(SBytes::from_vec(v)),
        None => RStr::Raw(SBytes::from_vec(v)),
    };
    Ok(Value::Str(r))
}

/// A list of plain strings (RDB_TYPE_LIST).
fn read_list<R: Read>(s: &mut Src<R>) -> Res<Value> {
    let n = s.count()?;
    let mut l = VecDeque::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        l.push_back(SBytes::from_vec(s.string()?));
    }
    Ok(Value::List(Box::new(l)))
}

/// A quicklist 2: plain nodes and listpack nodes.
fn read_quicklist<R: Read>(s: &mut Src<R>) -> Res<Value> {
    let nodes = s.count()?;
    let mut l = VecDeque::new();
    for _ in 0..nodes {
        let container = s.len()?;
        let blob = s.string()?;
        match container {
            1 => l.push_back(SBytes::from_vec(blob)),
            2 => match listpack::decode_flat(&blob) {
                Ok(d) => l.extend(d.iter().map(SBytes::new)),
                Err(e) => return s.err(e),
            },
            c => return s.err(format!("Unknown quicklist container {c}")),
        }
    }
    Ok(Value::List(Box::new(l)))
}

/// A set: of strings, an intset or a listpack; None when it has no member.
fn read_set<R: Read>(s: &mut Src<R>, t: u8, lim: &EncodingLimits) -> Res<Option<Value>> {
    let members: Vec<Vec<u8>> = match t {
        T_SET => {
            let n = s.count()?;
            let mut v = Vec::with_capacity(n.min(1 << 20));
            for _ in 0..n {
                v.push(s.string()?);
            }
            v
        }
        T_SET_INTSET => match listpack::decode_intset(&s.string()?) {
            Ok(v) => v.into_iter().map(crate::db::set::int_bytes).collect(),
            Err(e) => return s.err(e),
        },
        _ => match listpack::decode(&s.string()?) {
            Ok(v) => v,
            Err(e) => return s.err(e),
        },
    };
    let Some(first) = members.first() else {
        return Ok(None);
    };
    let mut set = SetVal::for_member(first);
    for m in &members {
        set.add(m, lim);
    }
    Ok(Some(Value::Set(Box::new(set))))
}

/// A hash as a listpack of fields and values.
fn read_hash_listpack<R: Read>(s: &mut Src<R>, lim: &EncodingLimits) -> Res<Value> {
    let d = match listpack::decode_flat(&s.string()?) {
        Ok(d) => d,
        Err(e) => return s.err(e),
    };
    let pairs: Vec<(&[u8], &[u8])> = (0..d.spans.len() / 2)
        .map(|i| (d.get(2 * i), d.get(2 * i + 1)))
        .collect();
    let mut h = HashVal::new();
    h.set_many(&pairs, lim);
    Ok(Value::Hash(h))
}

/// A hash of string pairs (RDB_TYPE_HASH).
fn read_hash<R: Read>(s: &mut Src<R>, lim: &EncodingLimits) -> Res<Value> {
    let n = s.count()?;
    let mut flat = Vec::with_capacity((2 * n).min(1 << 20));
    for _ in 0..2 * n {
        flat.push(s.string()?);
    }
    let pairs: Vec<(&[u8], &[u8])> = pairs_of(&flat).collect();
    let mut h = HashVal::new();
    h.set_many(&pairs, lim);
    Ok(Value::Hash(h))
}

/// A sorted set: a listpack, or members with text (ZSET) or binary (ZSET_2) scores.
fn read_zset<R: Read>(s: &mut Src<R>, t: u8, lim: &EncodingLimits) -> Res<Value> {
    let mut items: Vec<(f64, Vec<u8>)> = Vec::new();
    if t == T_ZSET_LISTPACK {
        let d = match listpack::decode_flat(&s.string()?) {
            Ok(d) => d,
            Err(e) => return s.err(e),
        };
        for i in 0..d.spans.len() / 2 {
            match packed_member(d.get(2 * i), d.get(2 * i + 1)) {
                Some(item) => items.push(item),
                None => return s.err("Bad score in a sorted-set listpack"),
            }
        }
    } else {
        let n = s.count()?;
        for _ in 0..n {
            let m = s.string()?;
            let sc = if t == T_ZSET_2 {
                s.binary_double()?
            } else {
                s.text_double()?
            };
            if sc.is_nan() {
                return s.err("Zset with NAN score detected");
            }
            items.push((sc, m));
        }
    }
    Ok(zset_of(&items, lim))
}

/// A member and its score as text, as a listpack or ziplist holds them.
fn packed_member(m: &[u8], score: &[u8]) -> Option<(f64, Vec<u8>)> {
    let score = match picket::numfmt::parse_i64(score) {
        Some(n) => n as f64,
        None => picket::numfmt::parse_double(score)?,
    };
    Some((score, m.to_vec()))
}

fn zset_of(items: &[(f64, Vec<u8>)], lim: &EncodingLimits) -> Value {
    let max_len = items.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
    let mut z = ZSetVal::with_hint(items.len(), max_len, lim);
    let pairs: Vec<(f64, &[u8])> = items.iter().map(|(s, m)| (*s, &m[..])).collect();
    z.set_many(&pairs, lim);
    Value::ZSet(z)
}

/// The encodings of Redis 6.2 and older (zipmap, ziplists, quicklists of ziplists), converted
/// to this version's as Redis 7.0 converts them on load.
fn read_legacy<R: Read>(s: &mut Src<R>, t: u8, lim: &EncodingLimits) -> Res<Value> {
    let decoded = match t {
        T_LIST_QUICKLIST => {
            let nodes = s.count()?;
            let mut all = Vec::new();
            for _ in 0..nodes {
                match ziplist::decode_ziplist(&s.string()?) {
                    Ok(v) => all.extend(v),
                    Err(e) => return s.err(e),
                }
            }
            Ok(all)
        }
        T_HASH_ZIPMAP => ziplist::decode_zipmap(&s.string()?),
        _ => ziplist::decode_ziplist(&s.string()?),
    };
    let flat = match decoded {
        Ok(v) => v,
        Err(e) => return s.err(e),
    };
    if matches!(t, T_LIST_ZIPLIST | T_LIST_QUICKLIST) {
        return Ok(Value::List(Box::new(
            flat.into_iter().map(SBytes::from_vec).collect(),
        )));
    }
    if flat.len() % 2 != 0 {
        return s.err("Odd number of entries in a ziplist of pairs");
    }
    if t == T_ZSET_ZIPLIST {
        let mut items = Vec::with_capacity(flat.len() / 2);
        for p in flat.chunks(2) {
            match packed_member(&p[0], &p[1]) {
                Some(item) => items.push(item),
                None => return s.err("Bad score in a sorted-set ziplist"),
            }
        }
        return Ok(zset_of(&items, lim));
    }
    let pairs: Vec<(&[u8], &[u8])> = pairs_of(&flat).collect();
    let mut h = HashVal::new();
    h.set_many(&pairs, lim);
    Ok(Value::Hash(h))
}

/// The types Picket does not read: streams and modules.
fn unsupported<R: Read>(s: &mut Src<R>, t: u8, key: &[u8]) -> Res<Option<Value>> {
    let key = String::from_utf8_lossy(key);
    match t {
        15 | 19 | 21 => s.err(format!(
            "Key '{key}' is a stream (RDB type {t}): streams are not supported by this version of Picket"
        )),
        T_MODULE_2 | 6 => s.err(format!(
            "Key '{key}' holds a module value (RDB type {t}): no modules are loaded"
        )),
        _ => s.err(format!("Unknown RDB value type {t}")),
    }
}

/// The records of a DUMP-style payload (FUNCTION RESTORE): its body when the version and the
/// CRC64 footer are right.
pub fn verify_payload(p: &[u8]) -> Option<&[u8]> {
    if p.len() < 10 {
        return None;
    }
    let (body, footer) = p.split_at(p.len() - 10);
    let ver = u16::from_le_bytes([footer[0], footer[1]]) as u32;
    if ver > RDB_VERSION {
        return None;
    }
    let crc = crate::rdb::crc64::update(0, &p[..p.len() - 8]);
    (crc.to_le_bytes() == footer[2..]).then_some(body)
}

/// The value in a DUMP body (after [`verify_payload`]): its type byte and the value, which
/// must use the whole body; Err for anything else (RESTORE's "Bad data format").
pub fn dump_value(body: &[u8], lim: &EncodingLimits) -> Result<Value, String> {
    let mut s = Src {
        r: body,
        crc: 0,
        off: 0,
    };
    let t = s.u8().map_err(|e| e.reason)?;
    let v = read_value(&mut s, t, lim, b"").map_err(|e| e.reason)?;
    if (s.off as usize) != body.len() {
        return Err("trailing bytes after the value".into());
    }
    v.ok_or_else(|| "empty collection".into())
}

/// The libraries' code in a FUNCTION DUMP body, or Redis's error.
pub fn function_records(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut s = Src {
        r: body,
        crc: 0,
        off: 0,
    };
    let mut codes = Vec::new();
    while (s.off as usize) < body.len() {
        match s.u8().map_err(|e| e.reason)? {
            OP_FUNCTION2 => codes.push(s.string().map_err(|e| e.reason)?),
            OP_FUNCTION_PRE_GA => return Err("Pre-GA function format not supported".into()),
            _ => return Err("given type is not a function".into()),
        }
    }
    Ok(codes)
}
