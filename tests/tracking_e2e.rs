//! Client-side caching against a real redis-server 7.0, byte for byte: CLIENT TRACKING in
//! default mode (RESP3 pushes on the client's own connection, after the reply of the
//! command that caused them; a transaction's after EXEC's), BCAST with prefixes (one message
//! per prefix, keys in order), NOLOOP, OPTIN with CLIENT CACHING, RESP2 redirection to a
//! subscribed connection, flushes (a null), a broken redirect, CLIENT TRACKINGINFO /
//! GETREDIR / LIST, INFO's tracking fields and the option errors.

use common::{Client, Server};
use picket_testkit as common;

/// The exchange's log: every reply read, client ids masked.
struct Log {
    lines: Vec<String>,
    ids: Vec<String>,
}

impl Log {
    fn note(&mut self, c: &mut Client, args: &[&str], replies: usize) {
        c.send(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
        let label: Vec<String> = args
            .iter()
            .map(|a| match self.ids.iter().position(|id| id == a) {
                Some(i) => format!("<id{i}>"),
                None => a.to_string(),
            })
            .collect();
        self.read(c, &format!("{label:?}"), replies);
    }

    fn read(&mut self, c: &mut Client, what: &str, replies: usize) {
        for _ in 0..replies {
            let r = String::from_utf8_lossy(&c.read_reply().unwrap()).to_string();
            self.lines.push(format!("{what} => {}", self.masked(r)));
        }
    }

    fn masked(&self, mut s: String) -> String {
        for (i, id) in self.ids.iter().enumerate() {
            s = s.replace(&format!(":{id}\r\n"), &format!(":<id{i}>\r\n"));
            s = s.replace(&format!("redir={id} "), &format!("redir=<id{i}> "));
        }
        s
    }
}

fn client_id(c: &mut Client) -> String {
    let r = c.cmd_str(&["CLIENT", "ID"]);
    r.trim_start_matches(':').trim().to_string()
}

/// CLIENT LIST's tracking fields for client `id`.
fn list_fields(w: &mut Client, id: &str, log: &Log) -> String {
    let line = w.cmd_str(&["CLIENT", "LIST", "ID", id]);
    let keep: Vec<&str> = line
        .split_whitespace()
        .filter(|f| f.starts_with("flags=") || f.starts_with("redir="))
        .collect();
    log.masked(keep.join(" ") + " ")
}

fn default_mode(s: &Server, log: &mut Log) {
    let mut t = s.client();
    let mut w = s.client();
    t.cmd(&["HELLO", "3"]);
    log.note(&mut t, &["CLIENT", "TRACKING", "ON"], 1);
    log.note(&mut t, &["GET", "k1"], 1);
    log.note(&mut t, &["MGET", "k2", "k3"], 1);
    log.note(&mut w, &["SET", "k1", "a"], 1);
    log.note(&mut t, &["PING"], 2);
    log.note(&mut t, &["SET", "k2", "x"], 2);
    log.note(&mut t, &["GET", "k2"], 1);
    log.note(&mut t, &["DEL", "k2"], 2);
    log.note(&mut t, &["GET", "k4"], 1);
    log.note(&mut t, &["MULTI"], 1);
    log.note(&mut t, &["INCR", "k4"], 1);
    log.note(&mut t, &["GET", "k4"], 1);
    log.note(&mut t, &["EXEC"], 2);
    log.note(&mut t, &["INCR", "k4"], 2);
    log.note(&mut t, &["CLIENT", "GETREDIR"], 1);
    log.note(&mut t, &["CLIENT", "TRACKINGINFO"], 1);
    log.note(
        &mut t,
        &["EVAL", "return redis.call('get', 'k9')", "1", "k8"],
        1,
    );
    log.note(&mut w, &["MSET", "k9", "1", "k8", "1"], 1);
    log.note(&mut t, &["PING"], 2);
    log.note(&mut t, &["GET", "k1"], 1);
    log.note(&mut t, &["FLUSHDB"], 2);
    log.note(&mut t, &["CLIENT", "TRACKING", "ON", "BCAST"], 1);
    log.note(&mut t, &["CLIENT", "TRACKING", "OFF"], 1);
    log.note(
        &mut t,
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a:", "PREFIX", "b:",
        ],
        1,
    );
    log.note(
        &mut t,
        &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"],
        1,
    );
    log.note(
        &mut w,
        &["MSET", "b:1", "1", "a:2", "1", "c:1", "1", "a:1", "1"],
        1,
    );
    log.note(&mut t, &["PING"], 3);
    log.note(&mut t, &["CLIENT", "TRACKINGINFO"], 1);
    let tid = client_id(&mut t);
    log.ids.push(tid.clone());
    log.lines.push(list_fields(&mut w, &tid, log));
    let info = w.cmd_str(&["INFO"]);
    for f in [
        "tracking_clients",
        "tracking_total_keys",
        "tracking_total_items",
        "tracking_total_prefixes",
    ] {
        log.lines
            .push(format!("{f}={:?}", common::info_field(&info, f)));
    }
    log.note(&mut t, &["CLIENT", "TRACKING", "OFF"], 1);
    log.note(&mut t, &["CLIENT", "TRACKINGINFO"], 1);
    log.ids.clear();
}

fn redirected(s: &Server, log: &mut Log) {
    let mut t = s.client();
    let mut r = s.client();
    let mut w = s.client();
    let rid = client_id(&mut r);
    log.ids.push(rid.clone());
    let tid = client_id(&mut t);
    log.ids.push(tid.clone());
    log.note(&mut r, &["SUBSCRIBE", "__redis__:invalidate"], 1);
    log.note(
        &mut t,
        &["CLIENT", "TRACKING", "ON", "REDIRECT", &rid, "NOLOOP"],
        1,
    );
    log.note(&mut t, &["MGET", "x", "y"], 1);
    log.note(&mut t, &["SET", "x", "1"], 1);
    log.note(&mut w, &["SET", "y", "1"], 1);
    log.read(&mut r, "redirect target", 1);
    log.note(
        &mut t,
        &["CLIENT", "TRACKING", "ON", "OPTIN", "REDIRECT", &rid],
        1,
    );
    log.note(&mut t, &["CLIENT", "TRACKING", "OFF"], 1);
    log.note(
        &mut t,
        &["CLIENT", "TRACKING", "ON", "OPTIN", "REDIRECT", &rid],
        1,
    );
    log.note(&mut t, &["GET", "q"], 1);
    log.note(&mut t, &["CLIENT", "CACHING", "yes"], 1);
    log.note(&mut t, &["GET", "q2"], 1);
    log.note(&mut w, &["MSET", "q", "1", "q2", "1"], 1);
    log.read(&mut r, "redirect target", 1);
    log.note(&mut t, &["CLIENT", "CACHING", "yes"], 1);
    log.note(&mut t, &["GET", "q2"], 1);
    log.note(&mut w, &["FLUSHALL"], 1);
    log.read(&mut r, "redirect target", 1);
    log.lines.push(list_fields(&mut w, &tid, log));
    log.note(&mut t, &["CLIENT", "CACHING", "yes"], 1);
    log.note(&mut t, &["GET", "q2"], 1);
    log.note(&mut w, &["CLIENT", "KILL", "ID", &rid], 1);
    log.note(&mut w, &["SET", "q2", "2"], 1);
    log.note(&mut t, &["CLIENT", "TRACKINGINFO"], 1);
    log.lines.push(list_fields(&mut w, &tid, log));
    log.ids.clear();
}

fn option_errors(s: &Server, log: &mut Log) {
    let mut t = s.client();
    for args in [
        &["CLIENT", "TRACKING", "ON", "PREFIX", "x"][..],
        &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
        &["CLIENT", "TRACKING", "ON", "BCAST", "OPTOUT"],
        &["CLIENT", "TRACKING", "ON", "REDIRECT", "abc"],
        &["CLIENT", "TRACKING", "ON", "REDIRECT", "99999"],
        &["CLIENT", "TRACKING", "ON", "REDIRECT"],
        &["CLIENT", "TRACKING", "ON", "FOO"],
        &["CLIENT", "TRACKING", "MAYBE"],
        &["CLIENT", "TRACKING"],
        &["CLIENT", "CACHING", "yes"],
        &["CLIENT", "TRACKING", "ON", "OPTOUT"],
        &["CLIENT", "CACHING", "yes"],
        &["CLIENT", "CACHING", "maybe"],
        &["CLIENT", "TRACKING", "ON", "OPTIN"],
        &["CLIENT", "TRACKING", "OFF"],
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FOOBAR", "PREFIX", "FOO",
        ],
    ] {
        log.note(&mut t, args, 1);
    }
    // Redis 7.0 replies an overlap past the first given prefix with the error, then OK.
    log.note(
        &mut t,
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "b", "PREFIX", "bc",
        ],
        2,
    );
    log.note(&mut t, &["CLIENT", "TRACKINGINFO"], 1);
}

fn exchange(s: &Server) -> Vec<String> {
    let mut log = Log {
        lines: Vec::new(),
        ids: Vec::new(),
    };
    default_mode(s, &mut log);
    redirected(s, &mut log);
    option_errors(s, &mut log);
    log.lines
}

#[test]
fn client_side_caching_matches_redis() {
    let r = Server::redis(&[]);
    let p = Server::picket(&[]);
    let want = exchange(&r);
    assert!(want.iter().any(|l| l.contains("invalidate")), "{want:?}");
    let got = exchange(&p);
    if std::env::var("TRACKING_LOG").is_ok() {
        eprintln!("WANT\n{}\nGOT\n{}", want.join("\n"), got.join("\n"));
    }
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g);
    }
    assert_eq!(want.len(), got.len());
}
