//! DUMP and RESTORE between picket-node and a real redis-server 7.0, both ways: every key of
//! a dataset with every type and encoding (and HyperLogLog and geo keys) dumped by one server
//! and restored into the other arrives with the same type, encoding, elements and TTL; the
//! HyperLogLog strings stay byte for byte the same.

use common::dataset::{assert_same, dump_all, fill, items};
use common::{Client, Server};
use picket_testkit as common;

/// Adds the keys `fill` has no family for: a sparse and a dense HyperLogLog, a geo set.
fn fill_more(c: &mut Client) {
    c.cmd(&["PFADD", "hll-sparse", "a", "b", "c"]);
    let many: Vec<String> = (0..3000).map(|i| format!("e{i}")).collect();
    let mut pf = vec!["PFADD", "hll-dense"];
    pf.extend(many.iter().map(|s| s.as_str()));
    c.cmd(&pf);
    c.cmd(&[
        "GEOADD",
        "geo",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ]);
}

/// Copies every key of database 0 from `src` to `dst` with DUMP / RESTORE (keeping TTLs).
fn copy_all(src: &mut Client, dst: &mut Client) -> usize {
    let keys = items(&src.cmd_str(&["KEYS", "*"]));
    for k in &keys {
        let payload = src.cmd(&["DUMP", k]);
        assert!(payload.starts_with(b"$"), "DUMP {k}: {payload:?}");
        let body = strip_bulk(&payload);
        let pttl = src.cmd_str(&["PTTL", k]);
        let ttl: i64 = pttl.trim_start_matches(':').trim().parse().unwrap();
        let ttl = ttl.max(0).to_string();
        dst.send(&[b"RESTORE", k.as_bytes(), ttl.as_bytes(), body, b"REPLACE"]);
        let r = dst.read_reply().unwrap();
        assert_eq!(
            r,
            b"+OK\r\n",
            "RESTORE {k}: {}",
            String::from_utf8_lossy(&r)
        );
    }
    keys.len()
}

/// The payload of a bulk reply.
fn strip_bulk(reply: &[u8]) -> &[u8] {
    let nl = reply.iter().position(|&b| b == b'\n').unwrap();
    &reply[nl + 1..reply.len() - 2]
}

fn roundtrip(from_redis: bool) {
    let r = Server::redis(&[]);
    let p = Server::picket(&[]);
    let (src, dst) = if from_redis { (&r, &p) } else { (&p, &r) };
    let (mut s, mut d) = (src.client(), dst.client());
    fill(&mut s);
    fill_more(&mut s);
    s.cmd(&["SELECT", "0"]);
    let n = copy_all(&mut s, &mut d);
    assert!(n > 10, "only {n} keys");
    let mut want = dump_all(&mut s);
    want.retain(|k, _| k.starts_with("0/"));
    // PFADD leaves a raw string; RESTORE makes a short one embstr (redis-server does so too:
    // the picket-to-redis direction checks it).
    let sparse = want.get_mut("0/hll-sparse").unwrap();
    *sparse = sparse.replacen("$3\r\nraw", "$6\r\nembstr", 1);
    assert_same(&want, &dump_all(&mut d));
    for k in ["hll-sparse", "hll-dense"] {
        assert_eq!(s.cmd(&["GET", k]), d.cmd(&["GET", k]), "{k}");
    }
}

#[test]
fn redis_dumps_restore_into_picket() {
    roundtrip(true);
}

#[test]
fn picket_dumps_restore_into_redis() {
    roundtrip(false);
}

/// Values DUMP writes without compression are the same bytes on both servers.
#[test]
fn uncompressed_payloads_are_identical() {
    let r = Server::redis(&[]);
    let p = Server::picket(&[]);
    for s in [&r, &p] {
        let mut c = s.client();
        c.cmd(&["SET", "s", "hello"]);
        c.cmd(&["SET", "i", "-12345"]);
        c.cmd(&["RPUSH", "l", "a", "b", "1", "2"]);
        c.cmd(&["HSET", "h", "f", "v"]);
        c.cmd(&["SADD", "si", "1", "2", "3"]);
        c.cmd(&["ZADD", "z", "1", "a", "2.5", "b"]);
        c.cmd(&["PFADD", "hll", "a", "b", "c"]);
    }
    let (mut rc, mut pc) = (r.client(), p.client());
    rc.cmd(&["CONFIG", "SET", "rdbcompression", "no"]);
    pc.cmd(&["CONFIG", "SET", "rdbcompression", "no"]);
    for k in ["s", "i", "l", "h", "si", "z", "hll"] {
        assert_eq!(rc.cmd(&["DUMP", k]), pc.cmd(&["DUMP", k]), "DUMP {k}");
    }
}

/// What SET, GETEX, RESTORE and GEOADD write to the AOF (the replication stream) is what
/// redis-server writes: every SET expiry as `PXAT` (in capitals, even when it came as `pxat`), a relative TTL made absolute with ABSTTL, an already expired REPLACE as DEL, GEOADD
/// as ZADD, GEORADIUS STORE as itself.
#[test]
fn restore_and_geo_propagate_as_redis() {
    let script: &[&[&[u8]]] = &[
        &[b"SET", b"s", b"hello"],
        &[b"SET", b"t", b"v", b"pxat", b"4102444800000"],
        &[b"SET", b"t", b"v", b"NX", b"px", b"100000"],
        &[b"SET", b"t", b"v", b"XX", b"GET", b"exat", b"4102444800"],
        &[b"GETEX", b"t", b"pxat", b"4102444800000"],
        &[b"RESTORE", b"a", b"100000", PAYLOAD],
        &[b"RESTORE", b"b", b"0", PAYLOAD],
        &[b"RESTORE", b"b", b"1", PAYLOAD, b"ABSTTL", b"REPLACE"],
        &[b"RESTORE", b"c", b"1", PAYLOAD, b"ABSTTL"],
        &[
            b"GEOADD",
            b"g",
            b"xx",
            b"ch",
            b"13.361389",
            b"38.115556",
            b"P",
        ],
        &[
            b"GEOADD",
            b"g",
            b"ch",
            b"13.361389",
            b"38.115556",
            b"P",
            b"15",
            b"37",
            b"C",
        ],
        &[
            b"GEORADIUS",
            b"g",
            b"15",
            b"37",
            b"200",
            b"km",
            b"STORE",
            b"d",
        ],
        &[
            b"GEOSEARCHSTORE",
            b"d",
            b"g",
            b"FROMLONLAT",
            b"0",
            b"0",
            b"BYRADIUS",
            b"1",
            b"m",
        ],
    ];
    let aof = |s: &Server| {
        let mut c = s.client();
        c.cmd(&["CONFIG", "SET", "appendonly", "yes"]);
        assert!(common::wait_until(
            std::time::Duration::from_secs(10),
            || {
                common::info_field(&c.info("persistence"), "aof_rewrite_in_progress").as_deref()
                    == Some("0")
                    && common::info_field(&c.info("persistence"), "aof_enabled").as_deref()
                        == Some("1")
            }
        ));
        for cmd in script {
            c.send(cmd);
            c.read_reply().unwrap();
        }
        let path = s.dir.path().join("appendonlydir/appendonly.aof.1.incr.aof");
        assert!(common::wait_until(
            std::time::Duration::from_secs(5),
            || {
                std::fs::read(&path)
                    .map(|b| b.ends_with(b"m\r\n"))
                    .unwrap_or(false)
            }
        ));
        // Absolute times differ between the two runs: 13-digit numbers become T.
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let re: Vec<String> = text
            .split("\r\n")
            .map(|l| {
                if l.len() == 13 && l.bytes().all(|b| b.is_ascii_digit()) {
                    "T".into()
                } else {
                    l.to_string()
                }
            })
            .collect();
        re.join("\r\n")
    };
    let want = aof(&Server::redis(&[]));
    let got = aof(&Server::picket(&[]));
    assert!(
        want.contains("ABSTTL") && want.contains("zadd") && want.contains("DEL"),
        "{want}"
    );
    assert_eq!(want, got);
}

/// `DUMP` of "hello" as Redis 7.0 writes it.
const PAYLOAD: &[u8] = b"\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a";
