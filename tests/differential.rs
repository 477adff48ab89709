//! Differential tests: every script in tests/diff/ is sent, command by command, to a real
//! redis-server 7.0 and to picket-node; the replies must be equal byte for byte.
//!
//! Script lines are commands in redis-cli quoting. Prefixes change the comparison:
//! `~` compares only the reply's type byte (values that differ by nature: TIME, run ids),
//! `!sort` sorts the elements of an array reply (KEYS order is the hash table's),
//! `!pairs` sorts the key/value pairs of a map reply (CONFIG GET), `!len` compares the array
//! length only, `!noreply` sends a command that answers nothing (CLIENT REPLY OFF/SKIP) and
//! reads no reply. `@sleep MS` pauses both. Lines starting with `#` are
//! comments. Each script runs on fresh connections after FLUSHALL.
//!
//! Each script starts with every keyspace-event class on (`notify-keyspace-events KEAmn`),
//! and a subscriber to `*` on each records the events every command sends: they must be the
//! same events in the same order (`DIFF_EVENTS=1` prints every command's events).

use common::{encode, Server};
use picket_testkit as common;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Exact,
    TypeOnly,
    Sorted,
    Pairs,
    Len,
    NoReply,
}

/// Splits an array reply into its elements' raw bytes (one level).
fn elements(reply: &[u8]) -> Vec<Vec<u8>> {
    let hdr_end = reply.windows(2).position(|w| w == b"\r\n").unwrap_or(0) + 2;
    let mut rest = &reply[hdr_end..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        let n = common::frame_len(rest).expect("element");
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    out
}

fn normalize(reply: &[u8], mode: Mode) -> Vec<u8> {
    match mode {
        Mode::Exact => reply.to_vec(),
        Mode::TypeOnly => reply[..1].to_vec(),
        Mode::Sorted => {
            if reply[0] != b'*' && reply[0] != b'~' {
                return reply.to_vec();
            }
            let mut e: Vec<Vec<u8>> = elements(reply)
                .into_iter()
                .map(|x| normalize(&x, Mode::Sorted))
                .collect();
            e.sort();
            let mut v = reply[..reply.windows(2).position(|w| w == b"\r\n").unwrap() + 2].to_vec();
            for x in e {
                v.extend(x);
            }
            v
        }
        Mode::Pairs => {
            if reply[0] != b'*' && reply[0] != b'%' {
                return reply.to_vec();
            }
            let e = elements(reply);
            let mut pairs: Vec<Vec<u8>> = e.chunks(2).map(|c| c.concat()).collect();
            pairs.sort();
            let mut v = reply[..reply.windows(2).position(|w| w == b"\r\n").unwrap() + 2].to_vec();
            for x in pairs {
                v.extend(x);
            }
            v
        }
        Mode::NoReply => Vec::new(),
        Mode::Len => reply[..reply.windows(2).position(|w| w == b"\r\n").unwrap_or(1)].to_vec(),
    }
}

const MARKER: &str = "__differential_marker__";

/// A subscriber to every channel, and a connection that publishes a marker so the events of
/// one command can be read up to it.
struct EventWatch {
    ctl: common::Client,
    sub: common::Client,
}

impl EventWatch {
    fn new(server: &Server) -> EventWatch {
        let mut sub = server.client();
        sub.cmd(&["PSUBSCRIBE", "*"]);
        EventWatch {
            ctl: server.client(),
            sub,
        }
    }

    /// The keyspace events sent since the last call, as `channel payload`.
    fn events(&mut self) -> Vec<String> {
        self.ctl.cmd(&["PUBLISH", MARKER, "x"]);
        let mut out = Vec::new();
        while let Some(msg) = self.sub.read_reply() {
            let parts: Vec<String> = elements(&msg)
                .iter()
                .map(|e| {
                    String::from_utf8_lossy(
                        &e[e.windows(2).position(|w| w == b"\r\n").unwrap() + 2..],
                    )
                    .trim_end()
                    .to_string()
                })
                .collect();
            if parts.get(2).map(String::as_str) == Some(MARKER) {
                return out;
            }
            if parts.len() == 4 && parts[2].starts_with("__key") {
                out.push(format!("{} {}", parts[2], parts[3]));
            }
        }
        out.push("(subscriber connection lost)".into());
        out
    }
}

fn run_script(name: &str, text: &str, redis: &Server, picket: &Server) -> Vec<String> {
    let mut failures = Vec::new();
    let mut r = redis.client();
    let mut p = picket.client();
    for c in [&mut r, &mut p] {
        c.send(&[b"FLUSHALL"]);
        c.read_reply();
        c.send(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"KEAmn"]);
        c.read_reply();
    }
    let (mut rw, mut pw) = (EventWatch::new(redis), EventWatch::new(picket));
    for (lineno, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (mode, cmdline) = if let Some(rest) = line.strip_prefix('~') {
            (Mode::TypeOnly, rest)
        } else if let Some(rest) = line.strip_prefix("!sort ") {
            (Mode::Sorted, rest)
        } else if let Some(rest) = line.strip_prefix("!pairs ") {
            (Mode::Pairs, rest)
        } else if let Some(rest) = line.strip_prefix("!len ") {
            (Mode::Len, rest)
        } else if let Some(rest) = line.strip_prefix("!noreply ") {
            (Mode::NoReply, rest)
        } else if let Some(ms) = line.strip_prefix("@sleep ") {
            std::thread::sleep(std::time::Duration::from_millis(ms.trim().parse().unwrap()));
            continue;
        } else {
            (Mode::Exact, line)
        };
        let args = picket::resp::split_args(cmdline.as_bytes())
            .unwrap_or_else(|| panic!("{name}:{} bad quoting", lineno + 1));
        let argv: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        let wire = encode(&argv);
        r.send_raw(&wire);
        p.send_raw(&wire);
        if mode == Mode::NoReply {
            // A reply sent anyway would be read as the next command's and differ there.
            continue;
        }
        let rr = r.read_reply();
        let pr = p.read_reply();
        let (rr, pr) = match (rr, pr) {
            (Some(a), Some(b)) => (a, b),
            (None, None) => {
                failures.push(format!(
                    "{name}:{}: `{cmdline}`: no reply from either server (mark it !noreply)",
                    lineno + 1
                ));
                break;
            }
            (a, b) => {
                failures.push(format!(
                    "{name}:{}: `{}`: redis {:?} picket {:?}",
                    lineno + 1,
                    cmdline,
                    a.map(|x| String::from_utf8_lossy(&x).into_owned()),
                    b.map(|x| String::from_utf8_lossy(&x).into_owned())
                ));
                break;
            }
        };
        let (re, pe) = (rw.events(), pw.events());
        if std::env::var_os("DIFF_EVENTS").is_some() {
            eprintln!("{name}:{} {re:?} {pe:?}", lineno + 1);
        }
        if re != pe {
            failures.push(format!(
                "{name}:{}: `{}` events\n   redis:  {re:?}\n   picket: {pe:?}",
                lineno + 1,
                cmdline
            ));
        }
        if normalize(&rr, mode) != normalize(&pr, mode) {
            failures.push(format!(
                "{name}:{}: `{}`\n   redis:  {:?}\n   picket: {:?}",
                lineno + 1,
                cmdline,
                String::from_utf8_lossy(&rr),
                String::from_utf8_lossy(&pr)
            ));
        }
        // QUIT closed both connections: the script goes on with new ones.
        if args
            .first()
            .is_some_and(|a| a.eq_ignore_ascii_case(b"quit"))
        {
            assert!(
                r.is_closed() && p.is_closed(),
                "{name}:{}: QUIT left a connection open",
                lineno + 1
            );
            r = redis.client();
            p = picket.client();
        }
    }
    failures
}

#[test]
fn differential_corpus() {
    let redis = Server::redis(&["--enable-debug-command", "yes"]);
    let picket = Server::picket(&["--enable-debug-command", "yes"]);
    let dir = common::root().join("tests/diff");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/diff")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().map(|e| e == "txt").unwrap_or(false))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scripts in tests/diff");
    let mut failures = Vec::new();
    let mut count = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        count += text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
            .count();
        failures.extend(run_script(
            &f.file_name().unwrap().to_string_lossy(),
            &text,
            &redis,
            &picket,
        ));
    }
    eprintln!(
        "differential: {} commands in {} scripts, {} mismatches",
        count,
        files.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
