//! picket-node's COMMAND against redis-server 7.0.15: COMMAND INFO and COMMAND DOCS of every
//! command and subcommand Picket has, byte for byte in RESP2 and RESP3, and COMMAND LIST,
//! COUNT, GETKEYS and GETKEYSANDFLAGS for a set of argument lists.

use common::{assert_command_entries_match, Client, Server};
use picket_testkit as common;

/// Where Picket differs from Redis 7.0 on purpose: ZRANK/ZREVRANK take WITHSCORE (arity -3).
const KNOWN_DIFFERENCES: &[&str] = &["zrank", "zrevrank"];

fn list(c: &mut Client, args: &[&str]) -> Vec<String> {
    let text = c.cmd_str(args);
    let mut v: Vec<String> = text
        .split("\r\n")
        .filter(|l| !l.starts_with('$') && !l.starts_with('*') && !l.is_empty())
        .map(String::from)
        .collect();
    v.sort();
    v
}

#[test]
fn command_info_and_docs_match_redis_entry_by_entry() {
    let ours = Server::picket(&[]);
    let real = Server::redis(&[]);
    let names = list(&mut ours.client(), &["COMMAND", "LIST"]);
    assert!(names.len() > 200, "{}", names.len());
    let redis_names = list(&mut real.client(), &["COMMAND", "LIST"]);
    let missing: Vec<&String> = names.iter().filter(|n| !redis_names.contains(n)).collect();
    assert!(missing.is_empty(), "not Redis commands: {missing:?}");
    let containers: Vec<String> = names
        .iter()
        .filter_map(|n| n.split_once('|').map(|(p, _)| p.to_string()))
        .collect();
    // A container's subcommands come in a random order in Redis: compared one by one.
    let entries: Vec<&str> = names
        .iter()
        .map(|n| n.as_str())
        .filter(|n| !KNOWN_DIFFERENCES.contains(n) && !containers.iter().any(|c| c == n))
        .collect();
    let compared = assert_command_entries_match(real.port, ours.port, &entries);
    assert!(compared > 400, "{compared}");
}

#[test]
fn command_list_count_and_getkeys_match_redis() {
    let ours = Server::picket(&[]);
    let real = Server::redis(&[]);
    for filter in [
        ["ACLCAT", "hash"],
        ["ACLCAT", "nosuch"],
        ["PATTERN", "client|*"],
        ["PATTERN", "z*"],
        ["MODULE", "x"],
    ] {
        let args = ["COMMAND", "LIST", "FILTERBY", filter[0], filter[1]];
        let want = list(&mut real.client(), &args);
        let got = list(&mut ours.client(), &args);
        // Picket's list is Redis's minus the commands it does not have yet.
        assert!(got.iter().all(|n| want.contains(n)), "{filter:?}: {got:?}");
        if filter[0] == "ACLCAT" && filter[1] == "hash" {
            assert_eq!(got, want, "{filter:?}");
        }
    }
    let cases: &[&[&str]] = &[
        &["COMMAND", "GETKEYS", "nosuch", "a"],
        &["COMMAND", "GETKEYS", "get"],
        &["COMMAND", "GETKEYS", "get", "a", "b"],
        &["COMMAND", "GETKEYS", "ping", "a"],
        &["COMMAND", "GETKEYS", "set", "a", "b"],
        &["COMMAND", "GETKEYSANDFLAGS", "set", "a", "b"],
        &["COMMAND", "GETKEYSANDFLAGS", "set", "a", "b", "GET"],
        &["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"],
        &["COMMAND", "GETKEYS", "mset", "a", "1", "b"],
        &["COMMAND", "GETKEYS", "zunionstore", "d", "2", "a", "b"],
        &["COMMAND", "GETKEYS", "zunionstore", "d", "x", "a", "b"],
        &["COMMAND", "GETKEYS", "zunionstore", "d", "5", "a", "b"],
        &[
            "COMMAND",
            "GETKEYS",
            "zunionstore",
            "d",
            "9223372036854775807",
            "a",
        ],
        &["COMMAND", "GETKEYS", "zunionstore", "d", "-1", "a"],
        &[
            "COMMAND",
            "GETKEYS",
            "lmpop",
            "4611686018427387904",
            "a",
            "left",
        ],
        &["COMMAND", "GETKEYS", "lmpop", "2", "a", "b", "left"],
        &["COMMAND", "GETKEYS", "blmpop", "0", "2", "a", "b", "left"],
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "lmove",
            "a",
            "b",
            "left",
            "right",
        ],
        &["COMMAND", "GETKEYS", "client", "list"],
        &["COMMAND", "GETKEYS", "client"],
        &["COMMAND", "GETKEYS", "object", "encoding", "k"],
        &[
            "COMMAND",
            "GETKEYS",
            "sintercard",
            "2",
            "a",
            "b",
            "LIMIT",
            "1",
        ],
        &["COMMAND", "GETKEYS", "zrangestore", "d", "s", "0", "1"],
        &["COMMAND", "GETKEYS", "del", "a", "b", "c"],
        &["COMMAND", "GETKEYS", "brpoplpush", "a", "b", "0"],
        &["COMMAND", "GETKEYS", "watch", "a", "b"],
        &["COMMAND", "GETKEYS", "rename", "a", "b"],
        &["COMMAND", "COUNT", "x"],
        &["COMMAND", "INFO", "nosuch", "CLIENT|LIST", "get"],
        &["COMMAND", "DOCS", "nosuch", "get"],
        &["COMMAND", "LIST", "FILTERBY", "MODULE", "x", "y"],
        &["COMMAND", "LIST", "FILTERBY", "NOSUCH", "x"],
        &["COMMAND", "HELP"],
        &["COMMAND", "nosuch"],
        &["CLIENT"],
        &["CLIENT", "nosuch"],
        &["CLIENT", "GETNAME", "x"],
        &["OBJECT"],
        &["CONFIG", "GET"],
    ];
    for proto in ["2", "3"] {
        let (mut a, mut b) = (real.client(), ours.client());
        a.cmd_str(&["HELLO", proto]);
        b.cmd_str(&["HELLO", proto]);
        for args in cases {
            assert_eq!(b.cmd_str(args), a.cmd_str(args), "{args:?} RESP{proto}");
        }
    }
}
