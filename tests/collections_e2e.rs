//! Blocking operations end to end: each scenario runs against a real redis-server 7.0 and
//! against picket-node, and the transcripts of replies must be equal (FIFO among blocked
//! clients, pushes from pipelines and transactions, timeouts, killed clients, chained BLMOVE,
//! wrong types at the key and at the destination). Plus a load of many clients blocked on several keys, and UNLINK of a big list
//! not stalling other clients.

use common::{info_field, wait_until, Client, Server};
use picket_testkit as common;
use std::time::{Duration, Instant};

fn text(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

/// Waits until `n` clients are blocked.
fn blocked(s: &Server, n: usize) {
    let mut c = s.client();
    let ok = wait_until(Duration::from_secs(10), || {
        let info = c.cmd_str(&["INFO", "clients"]);
        info_field(&info, "blocked_clients").as_deref() == Some(&n.to_string())
    });
    assert!(ok, "expected {n} blocked clients");
}

/// Sends a command without reading the reply (the client blocks).
fn send(c: &mut Client, args: &[&str]) {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    c.send(&a);
}

fn read(c: &mut Client) -> String {
    text(c.read_reply().expect("reply"))
}

fn scenarios(s: &Server) -> Vec<String> {
    let mut t = Vec::new();
    let mut d = s.client();
    // FIFO: three clients block on one key; one push of three elements serves them in order.
    let mut waiters: Vec<Client> = (0..3).map(|_| s.client()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        send(w, &["BLPOP", "k", "0"]);
        blocked(s, i + 1);
    }
    t.push(d.cmd_str(&["RPUSH", "k", "1", "2", "3"]));
    for w in waiters.iter_mut() {
        t.push(read(w));
    }
    // A pipeline: the blocked client is served right after the push, before the LPOP.
    let mut a = s.client();
    send(&mut a, &["BLPOP", "k", "0"]);
    blocked(s, 1);
    d.send_raw(b"RPUSH k x\r\nLPOP k\r\n");
    t.push(read(&mut d));
    t.push(read(&mut d));
    t.push(read(&mut a));
    // A transaction: served after EXEC, with what the transaction left.
    send(&mut a, &["BLPOP", "k", "0"]);
    blocked(s, 1);
    for c in [
        &["MULTI"][..],
        &["RPUSH", "k", "1"],
        &["RPUSH", "k", "2"],
        &["LPOP", "k"],
        &["EXEC"],
    ] {
        t.push(d.cmd_str(c));
    }
    t.push(read(&mut a));
    // Wrong type: a string at the key leaves the client blocked; a list later serves it.
    send(&mut a, &["BLPOP", "k", "0"]);
    blocked(s, 1);
    t.push(d.cmd_str(&["SET", "k", "str"]));
    t.push(d.cmd_str(&["DEL", "k"]));
    t.push(d.cmd_str(&["RPUSH", "k", "v"]));
    t.push(read(&mut a));
    // Chained: BLMOVE a -> b serves a BLPOP on b in the same step.
    let mut b = s.client();
    send(&mut a, &["BLMOVE", "la", "lb", "LEFT", "LEFT", "0"]);
    blocked(s, 1);
    send(&mut b, &["BLPOP", "lb", "0"]);
    blocked(s, 2);
    t.push(d.cmd_str(&["RPUSH", "la", "v"]));
    t.push(read(&mut a));
    t.push(read(&mut b));
    t.push(d.cmd_str(&["LLEN", "lb"]));
    // Sorted sets and multi-pops.
    send(&mut a, &["BZPOPMIN", "z", "0"]);
    send(
        &mut b,
        &["BLMPOP", "0", "2", "l1", "l2", "RIGHT", "COUNT", "2"],
    );
    blocked(s, 2);
    t.push(d.cmd_str(&["ZADD", "z", "2", "x", "1", "y"]));
    t.push(d.cmd_str(&["RPUSH", "l2", "a", "b", "c"]));
    t.push(read(&mut a));
    t.push(read(&mut b));
    send(&mut a, &["BZMPOP", "0", "1", "z", "MAX", "COUNT", "5"]);
    t.push(read(&mut a));
    // Timeout (sub-second) and a timeout reply for BRPOPLPUSH (a null bulk).
    let started = Instant::now();
    t.push(a.cmd_str(&["BLPOP", "nothing", "0.3"]));
    let took = started.elapsed();
    t.push(format!(
        "timed out in time: {}",
        took >= Duration::from_millis(250) && took < Duration::from_secs(3)
    ));
    t.push(a.cmd_str(&["BRPOPLPUSH", "nothing", "x", "0.1"]));
    // CLIENT UNBLOCK: the timeout reply, or an UNBLOCKED error; 0 for a client not blocked.
    let aid = a.cmd_str(&["CLIENT", "ID"]);
    let aid = aid.trim_start_matches(':').trim().to_string();
    send(&mut a, &["BLPOP", "nothing", "0"]);
    blocked(s, 1);
    t.push(d.cmd_str(&["CLIENT", "UNBLOCK", &aid]));
    t.push(read(&mut a));
    send(&mut a, &["BZPOPMIN", "nothing", "0"]);
    blocked(s, 1);
    t.push(d.cmd_str(&["CLIENT", "UNBLOCK", &aid, "ERROR"]));
    t.push(read(&mut a));
    t.push(d.cmd_str(&["CLIENT", "UNBLOCK", &aid]));
    t.push(d.cmd_str(&["CLIENT", "UNBLOCK", &aid, "FOO"]));
    t.push(d.cmd_str(&["CLIENT", "UNBLOCK", "abc"]));
    // A client killed while blocked is forgotten: the next push stays in the list.
    let mut k = s.client();
    let id = k.cmd_str(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim().to_string();
    send(&mut k, &["BLPOP", "kk", "0"]);
    blocked(s, 1);
    t.push(d.cmd_str(&["CLIENT", "KILL", "ID", &id]));
    blocked(s, 0);
    t.push(d.cmd_str(&["RPUSH", "kk", "v"]));
    t.push(d.cmd_str(&["LLEN", "kk"]));
    // BRPOPLPUSH and BLMOVE whose destination holds a string: WRONGTYPE at once when the
    // source gets an element, which stays in the source (it blocked forever before).
    t.push(d.cmd_str(&["SET", "dst", "str"]));
    send(&mut a, &["BRPOPLPUSH", "src", "dst", "0"]);
    send(&mut b, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    blocked(s, 2);
    t.push(d.cmd_str(&["RPUSH", "src", "e"]));
    t.push(read(&mut a));
    t.push(read(&mut b));
    t.push(d.cmd_str(&["LRANGE", "src", "0", "-1"]));
    t.push(d.cmd_str(&["GET", "dst"]));
    // A key pushed and expired inside one EXEC (DEBUG SLEEP past its TTL) serves nobody: the
    // blocked client stays blocked (Redis's unit/type/list).
    t.push(d.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]));
    send(&mut a, &["BRPOP", "ek", "0"]);
    blocked(s, 1);
    for c in [
        &["MULTI"][..],
        &["RPUSH", "ek", "hello"],
        &["PEXPIRE", "ek", "100"],
        &["DEBUG", "SLEEP", "0.2"],
        &["EXEC"],
    ] {
        t.push(d.cmd_str(c));
    }
    blocked(s, 1);
    t.push(d.cmd_str(&["EXISTS", "ek"]));
    t.push(d.cmd_str(&["CLIENT", "UNBLOCK", &aid]));
    t.push(read(&mut a));
    t.push(d.cmd_str(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]));
    t
}

#[test]
fn blocking_scenarios_match_real_redis() {
    let redis = Server::redis(&["--enable-debug-command", "yes"]);
    let picket = Server::picket(&["--enable-debug-command", "yes"]);
    let want = scenarios(&redis);
    let got = scenarios(&picket);
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(w, g, "step {i}: redis {w:?} picket {g:?}");
    }
    assert_eq!(want.len(), got.len());
}

/// 40 clients blocked on three keys (in different orders) and 40 pushes from pipelines and
/// transactions: every element is delivered exactly once, nothing is left over.
#[test]
fn many_clients_blocked_on_several_keys() {
    let s = Server::picket(&[]);
    let keys = ["q1", "q2", "q3"];
    let mut clients: Vec<Client> = (0..40)
        .map(|i| {
            let mut c = s.client();
            let (a, b, x) = (keys[i % 3], keys[(i + 1) % 3], keys[(i + 2) % 3]);
            send(&mut c, &["BRPOP", a, b, x, "10"]);
            c
        })
        .collect();
    blocked(&s, 40);
    let mut d = s.client();
    let mut pipe = Vec::new();
    for i in 0..20 {
        pipe.extend_from_slice(format!("LPUSH {} e{i}\r\n", keys[i % 3]).as_bytes());
    }
    d.send_raw(&pipe);
    for _ in 0..20 {
        d.read_reply().unwrap();
    }
    for chunk in (20..40).collect::<Vec<_>>().chunks(5) {
        d.cmd(&["MULTI"]);
        for i in chunk {
            d.cmd(&["RPUSH", keys[i % 3], &format!("e{i}")]);
        }
        d.cmd(&["EXEC"]);
    }
    let mut got: Vec<String> = clients
        .iter_mut()
        .map(|c| {
            let r = read(c);
            r.rsplit("\r\n").nth(1).unwrap().to_string()
        })
        .collect();
    got.sort();
    let mut want: Vec<String> = (0..40).map(|i| format!("e{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    for k in keys {
        assert_eq!(d.cmd_str(&["EXISTS", k]), ":0\r\n");
    }
    blocked(&s, 0);
}

/// UNLINK of a million-element list returns at once and other clients keep being served.
#[test]
fn unlink_of_a_big_collection_does_not_stall() {
    let s = Server::picket(&["--enable-debug-command", "yes"]);
    let mut c = s.client();
    for i in 0..100 {
        let elems: Vec<String> = (0..10_000).map(|j| format!("{i}-{j}")).collect();
        let mut args: Vec<&[u8]> = vec![b"RPUSH", b"big"];
        args.extend(elems.iter().map(|e| e.as_bytes()));
        c.send_raw(&common::encode(&args));
        c.read_reply().unwrap();
    }
    assert_eq!(c.cmd_str(&["LLEN", "big"]), ":1000000\r\n");
    let started = Instant::now();
    assert_eq!(c.cmd_str(&["UNLINK", "big"]), ":1\r\n");
    let took = started.elapsed();
    let mut other = s.client();
    assert_eq!(other.cmd_str(&["PING"]), "+PONG\r\n");
    // Generous bound (a debug build on a loaded machine); freeing 1M elements inline takes
    // far longer in a debug build.
    assert!(took < Duration::from_millis(500), "UNLINK took {took:?}");
    let info = c.cmd_str(&["INFO", "memory"]);
    assert!(
        info_field(&info, "lazyfreed_objects").is_some_and(|v| v != "0"),
        "{info}"
    );
}

/// HSCAN, SSCAN and ZSCAN keep SCAN's guarantee: every element present for the whole scan is
/// returned, even while the collection grows (and its table resizes) between calls.
#[test]
fn collection_scans_return_every_element_while_growing() {
    let s = Server::picket(&[]);
    let mut c = s.client();
    for (add, scan) in [("HSET", "HSCAN"), ("SADD", "SSCAN"), ("ZADD", "ZSCAN")] {
        let key = format!("k-{scan}");
        let arg = |i: usize| -> Vec<String> {
            match add {
                "HSET" => vec![format!("f{i}"), "v".into()],
                "SADD" => vec![format!("m{i}")],
                _ => vec![i.to_string(), format!("m{i}")],
            }
        };
        let add_range = |c: &mut Client, from: usize, to: usize| {
            let mut args: Vec<String> = vec![add.into(), key.clone()];
            for i in from..to {
                args.extend(arg(i));
            }
            let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            c.cmd(&a);
        };
        add_range(&mut c, 0, 1000);
        let enc = c.cmd_str(&["OBJECT", "ENCODING", &key]);
        assert!(
            enc.contains("hashtable") || enc.contains("skiplist"),
            "{enc}"
        );
        let mut seen = std::collections::HashSet::new();
        let mut cursor = "0".to_string();
        let mut next = 1000;
        loop {
            let r = c.cmd_str(&[scan, &key, &cursor, "COUNT", "20"]);
            let parts: Vec<&str> = r.split("\r\n").collect();
            cursor = parts[2].to_string();
            let items: Vec<&str> = parts[5..].iter().step_by(2).copied().collect();
            let step = if scan == "SSCAN" { 1 } else { 2 };
            for it in items.iter().step_by(step) {
                seen.insert(it.to_string());
            }
            // Grow between calls so the table resizes during the scan.
            add_range(&mut c, next, next + 100);
            next += 100;
            if cursor == "0" {
                break;
            }
        }
        for i in 0..1000 {
            let want = match add {
                "HSET" => format!("f{i}"),
                _ => format!("m{i}"),
            };
            assert!(seen.contains(&want), "{scan} missed {want}");
        }
    }
}
