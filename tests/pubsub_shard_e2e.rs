//! Sharded pub/sub against a real redis-server 7.0: SSUBSCRIBE / SUNSUBSCRIBE confirmations
//! (their counts are of shard channels alone), SPUBLISH deliveries as `smessage` in RESP2 and
//! RESP3, PUBSUB SHARDCHANNELS / SHARDNUMSUB, CLIENT LIST's `ssub`, INFO
//! `pubsubshard_channels`, and the subscribed-mode rule that shard subscriptions also set.

use common::{info_field, Client, Server};
use picket_testkit as common;

/// Runs the same exchange on one server: a subscriber (RESP2 or RESP3) and a publisher.
fn exchange(s: &Server, resp3: bool) -> Vec<String> {
    let mut sub = s.client();
    let mut publ = s.client();
    let mut log = Vec::new();
    let note = |log: &mut Vec<String>, c: &mut Client, args: &[&str], replies: usize| {
        c.send(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
        for _ in 0..replies {
            let r = c.read_reply().unwrap();
            log.push(format!("{args:?} => {}", String::from_utf8_lossy(&r)));
        }
    };
    if resp3 {
        sub.cmd(&["HELLO", "3"]);
    }
    note(&mut log, &mut sub, &["SSUBSCRIBE", "a", "b", "a"], 3);
    note(&mut log, &mut sub, &["SUBSCRIBE", "c"], 1);
    note(&mut log, &mut sub, &["PSUBSCRIBE", "p*"], 1);
    note(&mut log, &mut sub, &["GET", "x"], 1);
    note(&mut log, &mut publ, &["SPUBLISH", "a", "hello"], 1);
    note(&mut log, &mut sub, &["PING"], 2);
    note(&mut log, &mut publ, &["PUBLISH", "a", "not for shards"], 1);
    note(&mut log, &mut publ, &["SPUBLISH", "c", "nobody"], 1);
    // (All of them come in hash-table order: one at a time.)
    note(&mut log, &mut publ, &["PUBSUB", "SHARDCHANNELS", "a*"], 1);
    note(&mut log, &mut publ, &["PUBSUB", "SHARDCHANNELS", "b*"], 1);
    note(
        &mut log,
        &mut publ,
        &["PUBSUB", "SHARDNUMSUB", "a", "b", "z"],
        1,
    );
    note(&mut log, &mut publ, &["PUBSUB", "NUMSUB", "a", "c"], 1);
    let info = publ.info("stats");
    log.push(format!(
        "shard channels {:?}",
        info_field(&info, "pubsubshard_channels")
    ));
    let list = publ.cmd_str(&["CLIENT", "LIST"]);
    log.push(format!("ssub=2 listed: {}", list.contains(" ssub=2 ")));
    note(&mut log, &mut sub, &["SUNSUBSCRIBE", "a"], 1);
    note(&mut log, &mut sub, &["UNSUBSCRIBE"], 1);
    note(&mut log, &mut sub, &["PUNSUBSCRIBE"], 1);
    note(&mut log, &mut sub, &["SUNSUBSCRIBE"], 1);
    note(&mut log, &mut sub, &["SUNSUBSCRIBE"], 1);
    note(&mut log, &mut sub, &["GET", "x"], 1);
    log
}

#[test]
fn sharded_pubsub_matches_redis() {
    let r = Server::redis(&[]);
    let p = Server::picket(&[]);
    for resp3 in [false, true] {
        let want = exchange(&r, resp3);
        assert!(want.iter().any(|l| l.contains("smessage")), "{want:?}");
        let got = exchange(&p, resp3);
        assert_eq!(want, got, "resp3={resp3}");
    }
}
