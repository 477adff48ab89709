//! A dataset with every type and the encodings Redis 7.0 writes for each, and a full logical
//! dump of a server's keyspace (type, encoding, elements, TTL) for comparing two servers.

use crate::Client;
use std::collections::BTreeMap;

pub fn text(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

/// The elements of an array reply (one level, bulk strings and integers).
pub fn items(reply: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = reply.split("\r\n").skip(1);
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            out.push(lines.next().unwrap_or("").to_string());
        } else if let Some(i) = l.strip_prefix(':') {
            out.push(i.to_string());
        }
    }
    out
}

/// Every key of every database: type, encoding, elements (sorted for unordered types) and
/// whether it has a TTL.
pub fn dump_all(c: &mut Client) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for db in 0..16 {
        c.cmd(&["SELECT", &db.to_string()]);
        let keys = items(&c.cmd_str(&["KEYS", "*"]));
        for k in keys {
            let t = c.cmd_str(&["TYPE", &k]);
            let enc = c.cmd_str(&["OBJECT", "ENCODING", &k]);
            let mut v = match t.as_str() {
                "+string\r\n" => vec![text(c.cmd(&["GET", &k]))],
                "+list\r\n" => items(&c.cmd_str(&["LRANGE", &k, "0", "-1"])),
                "+hash\r\n" => items(&c.cmd_str(&["HGETALL", &k]))
                    .chunks(2)
                    .map(|p| p.join("="))
                    .collect(),
                "+set\r\n" => items(&c.cmd_str(&["SMEMBERS", &k])),
                _ => items(&c.cmd_str(&["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
            };
            if matches!(t.as_str(), "+hash\r\n" | "+set\r\n") {
                v.sort();
            }
            let ttl = c.cmd_str(&["PTTL", &k]) != ":-1\r\n";
            m.insert(
                format!("{db}/{k}"),
                format!("{} {} ttl={ttl} {:?}", t.trim(), enc.trim(), v),
            );
        }
    }
    c.cmd(&["SELECT", "0"]);
    m
}

/// Compares two dumps, reporting only the keys that differ (shortened).
pub fn assert_same(want: &BTreeMap<String, String>, got: &BTreeMap<String, String>) {
    let short = |s: Option<&String>| s.map(|s| s.chars().take(300).collect::<String>());
    let diff: Vec<String> = want
        .keys()
        .chain(got.keys())
        .filter(|k| want.get(*k) != got.get(*k))
        .take(5)
        .map(|k| {
            format!(
                "{k}:\n  want {:?}\n  got  {:?}",
                short(want.get(k)),
                short(got.get(k))
            )
        })
        .collect();
    assert!(
        diff.is_empty(),
        "{} of {} keys differ:\n{}",
        diff.len(),
        want.len(),
        diff.join("\n")
    );
}

/// A dataset with every type and the encodings Redis 7.0 writes for each.
pub fn fill(c: &mut Client) {
    let long = "x".repeat(5000);
    let compressible = "abc".repeat(100);
    let mut cmds: Vec<Vec<String>> = vec![
        vec!["SET".into(), "int".into(), "12345".into()],
        vec!["SET".into(), "bigint".into(), "-9223372036854775808".into()],
        vec!["SET".into(), "str".into(), "hello world".into()],
        vec!["SET".into(), "long".into(), long.clone()],
        vec!["SET".into(), "lzf".into(), compressible.clone()],
        vec![
            "SET".into(),
            "ttl".into(),
            "v".into(),
            "PX".into(),
            "3600000".into(),
        ],
        vec![
            "RPUSH".into(),
            "lsmall".into(),
            "a".into(),
            "1".into(),
            "-70000".into(),
            "".into(),
        ],
        vec![
            "HSET".into(),
            "hsmall".into(),
            "f".into(),
            "1".into(),
            "g".into(),
            compressible.clone(),
        ],
        vec![
            "SADD".into(),
            "sints".into(),
            "1".into(),
            "-5".into(),
            "70000".into(),
            "9223372036854775807".into(),
        ],
        vec![
            "SADD".into(),
            "swords".into(),
            "a".into(),
            "b".into(),
            "c".into(),
        ],
        vec![
            "ZADD".into(),
            "zsmall".into(),
            "1.5".into(),
            "a".into(),
            "2".into(),
            "b".into(),
            "-inf".into(),
            "c".into(),
            "0.1".into(),
            "d".into(),
        ],
        vec!["SELECT".into(), "3".into()],
        vec!["SET".into(), "in-db-3".into(), "yes".into()],
        vec!["EXPIRE".into(), "in-db-3".into(), "100000".into()],
        vec!["SELECT".into(), "0".into()],
    ];
    let mut big_list = vec!["RPUSH".into(), "lbig".into()];
    let mut big_hash = vec!["HSET".into(), "hbig".into()];
    let mut big_set = vec!["SADD".into(), "sbig".into()];
    let mut big_zset = vec!["ZADD".into(), "zbig".into()];
    for i in 0..2000 {
        big_list.push(format!("element-{i}-{}", "y".repeat(i % 50)));
        big_hash.extend([format!("field{i}"), format!("value{i}")]);
        big_set.push(format!("member{i}"));
        big_zset.extend([format!("{}", (i % 97) as f64 / 7.0), format!("m{i}")]);
    }
    cmds.extend([big_list, big_hash, big_set, big_zset]);
    cmds.push(vec!["HSET".into(), "hlongval".into(), "f".into(), long]);
    for c_ in cmds {
        let a: Vec<&str> = c_.iter().map(|s| s.as_str()).collect();
        let r = c.cmd_str(&a);
        assert!(!r.starts_with('-'), "{a:?}: {r}");
    }
}

/// A dump without the encodings of strings: a replica stores what its master propagated (an
/// INCRBYFLOAT result arrives as `SET k 25 KEEPTTL` and becomes `int`, on real Redis too).
pub fn logical(m: BTreeMap<String, String>) -> BTreeMap<String, String> {
    m.into_iter()
        .map(|(k, v)| {
            let v = match v.strip_prefix("+string ") {
                Some(rest) => {
                    let after = rest.split_once(" ttl=").map(|x| x.1).unwrap_or(rest);
                    format!("+string ttl={after}")
                }
                None => v,
            };
            (k, v)
        })
        .collect()
}
