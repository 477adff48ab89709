//! Round trips through the writer and the reader for every type and encoding, the golden
//! file from the reference, and corruption detection.

use super::read::{load, Sink};
use super::write::Writer;
use crate::db::{EncodingLimits, HashVal, RStr, SBytes, SetVal, Value, ZSetVal};
use std::collections::VecDeque;

/// A comparable form of a value: its type and its elements in a canonical order.
fn canon(v: &Value) -> (String, Vec<Vec<u8>>) {
    let mut e: Vec<Vec<u8>> = match v {
        Value::Str(s) => vec![s.as_bytes().to_vec()],
        Value::List(l) => return ("list".into(), l.iter().map(|x| x.to_vec()).collect()),
        Value::Hash(h) => h
            .pairs()
            .iter()
            .map(|(f, v)| [*f, b"=", *v].concat())
            .collect(),
        Value::Set(s) => s.members(),
        Value::ZSet(z) => {
            return (
                "zset".into(),
                z.view()
                    .take(0, usize::MAX)
                    .iter()
                    .map(|(s, m)| [m, &b"="[..], &s.to_le_bytes()].concat())
                    .collect(),
            )
        }
    };
    e.sort();
    (v.type_name().into(), e)
}

#[derive(Default)]
struct Collect(
    Vec<(usize, Vec<u8>, Value, Option<i64>)>,
    Vec<(Vec<u8>, Vec<u8>)>,
);

impl Sink for Collect {
    fn aux(&mut self, k: &[u8], v: &[u8]) {
        self.1.push((k.to_vec(), v.to_vec()));
    }
    fn key(&mut self, db: usize, key: Vec<u8>, val: Value, exp: Option<i64>) -> Result<(), String> {
        self.0.push((db, key, val, exp));
        Ok(())
    }
}

fn sample() -> Vec<(usize, Vec<u8>, Value, Option<i64>)> {
    let lim = EncodingLimits::default();
    let mut out = Vec::new();
    let mut add =
        |db: usize, k: &str, v: Value, e: Option<i64>| out.push((db, k.as_bytes().to_vec(), v, e));
    add(0, "int", Value::Str(RStr::from_arg(b"12345")), None);
    add(
        0,
        "neg",
        Value::Str(RStr::from_arg(b"-9223372036854775808")),
        Some(1_900_000_000_000),
    );
    add(0, "str", Value::Str(RStr::from_arg(b"hello")), None);
    add(
        0,
        "long",
        Value::Str(RStr::from_arg(&b"abc".repeat(1000))),
        None,
    );
    add(
        0,
        "bin",
        Value::Str(RStr::from_arg(&(0..=255u8).collect::<Vec<_>>())),
        None,
    );
    let mut l = VecDeque::new();
    for i in 0..3000 {
        l.push_back(SBytes::new(
            format!("e{i}-{}", "x".repeat(i % 40)).as_bytes(),
        ));
    }
    add(0, "list", Value::List(Box::new(l)), None);
    let mut small = HashVal::new();
    small.set(b"f", b"1", &lim);
    small.set(b"g", b"-7000", &lim);
    add(1, "hsmall", Value::Hash(small), None);
    let mut big = HashVal::new();
    for i in 0..1000 {
        big.set(format!("f{i}").as_bytes(), format!("v{i}").as_bytes(), &lim);
    }
    add(1, "hbig", Value::Hash(big), None);
    let mut ints = SetVal::Ints(Vec::new());
    for i in [-70000i64, -5, 0, 3, 1 << 40] {
        ints.add(i.to_string().as_bytes(), &lim);
    }
    add(2, "sints", Value::Set(Box::new(ints)), None);
    let mut words = SetVal::for_member(b"a");
    for w in ["a", "b", "c"] {
        words.add(w.as_bytes(), &lim);
    }
    add(2, "swords", Value::Set(Box::new(words)), None);
    let mut zs = ZSetVal::new();
    for (s, m) in [
        (1.5, "a"),
        (2.0, "b"),
        (-3.0, "c"),
        (f64::INFINITY, "d"),
        (0.1, "e"),
    ] {
        zs.insert(m.as_bytes(), s, &lim);
    }
    add(3, "zsmall", Value::ZSet(zs), None);
    let mut zb = ZSetVal::new();
    for i in 0..500 {
        zb.insert(format!("m{i}").as_bytes(), (i % 37) as f64 / 3.0, &lim);
    }
    add(3, "zbig", Value::ZSet(zb), Some(1_800_000_000_000));
    out
}

fn write_all(
    data: &[(usize, Vec<u8>, Value, Option<i64>)],
    compress: bool,
    checksum: bool,
) -> Vec<u8> {
    let aux = [
        ("redis-ver", "7.0.15".to_string()),
        ("redis-bits", "64".to_string()),
    ];
    let mut w = Writer::new(Vec::new(), &aux, compress, checksum).unwrap();
    let mut dbs: Vec<usize> = data.iter().map(|d| d.0).collect();
    dbs.dedup();
    for db in dbs {
        let keys: Vec<_> = data.iter().filter(|d| d.0 == db).collect();
        let exp = keys.iter().filter(|d| d.3.is_some()).count();
        w.select_db(db, keys.len(), exp).unwrap();
        for (_, k, v, e) in keys {
            w.key(k, v, *e).unwrap();
        }
    }
    w.finish().unwrap()
}

#[test]
fn round_trip_every_type_and_encoding() {
    let data = sample();
    for (compress, checksum) in [(false, true), (true, true), (true, false)] {
        let bytes = write_all(&data, compress, checksum);
        let mut c = Collect::default();
        let n = load(&bytes[..], &EncodingLimits::default(), &mut c).unwrap();
        assert_eq!(n as usize, data.len());
        assert_eq!(c.1[0], (b"redis-ver".to_vec(), b"7.0.15".to_vec()));
        for ((db, k, v, e), (db2, k2, v2, e2)) in data.iter().zip(&c.0) {
            assert_eq!((db, k, e), (db2, k2, e2));
            assert_eq!(canon(v), canon(v2), "{}", String::from_utf8_lossy(k));
            assert_eq!(
                v.encoding(),
                v2.encoding(),
                "{}",
                String::from_utf8_lossy(k)
            );
        }
    }
}

#[test]
fn golden_file_from_the_reference() {
    let golden = [
        0x52, 0x45, 0x44, 0x49, 0x53, 0x30, 0x30, 0x31, 0x30, 0xfe, 0x00, 0xfb, 0x01, 0x00, 0x00,
        0x03, 0x66, 0x6f, 0x6f, 0x03, 0x62, 0x61, 0x72, 0xff, 0xa1, 0x25, 0xe4, 0x1c, 0x1a, 0xd0,
        0x7c, 0x4c,
    ];
    let mut c = Collect::default();
    load(&golden[..], &EncodingLimits::default(), &mut c).unwrap();
    assert_eq!(c.0.len(), 1);
    assert_eq!(c.0[0].1, b"foo");
    // The writer produces the same bytes for the same dataset.
    let mut w = Writer::new(Vec::new(), &[], false, true).unwrap();
    w.select_db(0, 1, 0).unwrap();
    w.key(b"foo", &Value::Str(RStr::from_arg(b"bar")), None)
        .unwrap();
    assert_eq!(w.finish().unwrap(), golden);
}

#[test]
fn corruption_is_reported_with_an_offset_and_never_panics() {
    let bytes = write_all(&sample(), true, true);
    // A flipped byte in the middle: a checksum or decoding error, never a panic.
    for at in [20, bytes.len() / 3, bytes.len() / 2, bytes.len() - 12] {
        let mut b = bytes.clone();
        b[at] ^= 0x5a;
        let r = load(&b[..], &EncodingLimits::default(), &mut Collect::default());
        let e = r.expect_err("corruption detected");
        assert!(e.offset <= bytes.len() as u64, "{e}");
    }
    // Truncation anywhere.
    for cut in (0..bytes.len()).step_by(97) {
        let r = load(
            &bytes[..cut],
            &EncodingLimits::default(),
            &mut Collect::default(),
        );
        assert!(r.is_err());
    }
    let mut b = bytes.clone();
    b[5..9].copy_from_slice(b"0011");
    let e = load(&b[..], &EncodingLimits::default(), &mut Collect::default()).unwrap_err();
    assert!(
        e.reason.contains("Can't handle RDB format version 11"),
        "{e}"
    );
}

/// Inputs the fuzzer found (each once panicked): now errors with an offset.
#[test]
fn fuzz_regressions() {
    let cases: &[&[u8]] = &[
        // LZF lengths near u64::MAX overflowed the plausibility check.
        b"REDIS0010\xad\xc3\x81\x81\x81\x81\x81\x81\x81\x81\x81\x00",
    ];
    for c in cases {
        let r = load(*c, &EncodingLimits::default(), &mut Collect::default());
        assert!(r.is_err());
    }
}

/// An RDB of Redis 6.2 with one key of each encoding Redis 7.0 no longer writes: each loads
/// as the value it holds, in this version's encodings.
#[test]
fn the_ziplist_and_zipmap_types_of_redis_6_load() {
    fn string(b: &[u8]) -> Vec<u8> {
        [&[b.len() as u8][..], b].concat()
    }
    // A ziplist of one-byte-prevlen entries, each `0x0N` + N bytes of text.
    fn ziplist(items: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0u8;
        for i in items {
            body.push(prev);
            body.push(i.len() as u8);
            body.extend_from_slice(i);
            prev = i.len() as u8 + 2;
        }
        let total = (10 + body.len() + 1) as u32;
        let mut z = total.to_le_bytes().to_vec();
        z.extend_from_slice(&[0, 0, 0, 0]);
        z.extend_from_slice(&(items.len() as u16).to_le_bytes());
        z.extend_from_slice(&body);
        z.push(0xff);
        z
    }
    let mut f = b"REDIS0009\xfe\x00".to_vec();
    let mut add = |t: u8, key: &[u8], value: Vec<u8>| {
        f.push(t);
        f.extend(string(key));
        f.extend(value);
    };
    add(9, b"zipmap", string(b"\x01\x01f\x01\x00v\xff"));
    add(10, b"list", string(&ziplist(&[b"a", b"b"])));
    add(12, b"zset", string(&ziplist(&[b"m", b"1.5", b"n", b"2"])));
    add(13, b"hash", string(&ziplist(&[b"f", b"v", b"g", b"w"])));
    let quicklist = [
        &[2u8][..],
        &string(&ziplist(&[b"x"])),
        &string(&ziplist(&[b"y"])),
    ];
    add(14, b"quicklist", quicklist.concat());
    f.push(0xff);
    f.extend_from_slice(&[0; 8]);
    let mut c = Collect::default();
    assert_eq!(load(&f[..], &EncodingLimits::default(), &mut c).unwrap(), 5);
    let got: Vec<(String, Vec<Vec<u8>>)> = c.0.iter().map(|(_, _, v, _)| canon(v)).collect();
    let hash = |p: &[&[u8]]| ("hash".to_string(), p.iter().map(|x| x.to_vec()).collect());
    let list = |p: &[&[u8]]| ("list".to_string(), p.iter().map(|x| x.to_vec()).collect());
    assert_eq!(got[0], hash(&[b"f=v"]));
    assert_eq!(got[1], list(&[b"a", b"b"]));
    let mut z = ZSetVal::with_hint(2, 1, &EncodingLimits::default());
    z.set_many(
        &[(1.5, &b"m"[..]), (2.0, &b"n"[..])],
        &EncodingLimits::default(),
    );
    assert_eq!(got[2], canon(&Value::ZSet(z)));
    assert_eq!(got[3], hash(&[b"f=v", b"g=w"]));
    assert_eq!(got[4], list(&[b"x", b"y"]));
}
