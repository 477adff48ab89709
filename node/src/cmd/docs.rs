//! Argument documentation for COMMAND DOCS (what redis-cli builds its hints from), written as
//! each command's usage line and parsed into Redis's argument tree: name, type, token, flags
//! (optional, multiple), and nested arguments for alternatives (`oneof`) and groups (`block`).

use picket::resp::Reply;

/// Usage lines of the commands that take arguments (subcommands as `parent|sub`).
pub const SYNTAX: &[(&str, &str)] = &[
    ("append", "key value"),
    ("auth", "[username] password"),
    ("bgsave", "[SCHEDULE]"),
    ("client|kill", "[ip:port] [ID client-id] [TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME YES|NO]"),
    ("client|list", "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id ...]"),
    ("client|no-evict", "ON|OFF"),
    ("client|pause", "timeout [WRITE|ALL]"),
    ("client|reply", "ON|OFF|SKIP"),
    ("client|setname", "connection-name"),
    ("client|unblock", "client-id [TIMEOUT|ERROR]"),
    ("command|docs", "[command-name ...]"),
    ("command|info", "[command-name ...]"),
    ("command|list", "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]"),
    ("config|get", "parameter ..."),
    ("config|set", "(parameter value) ..."),
    ("copy", "source destination [DB destination-db] [REPLACE]"),
    ("debug", "subcommand [argument ...]"),
    ("decr", "key"),
    ("decrby", "key decrement"),
    ("del", "key ..."),
    ("echo", "message"),
    ("exists", "key ..."),
    ("expire", "key seconds [NX|XX|GT|LT]"),
    ("expireat", "key unix-time-seconds [NX|XX|GT|LT]"),
    ("expiretime", "key"),
    ("flushall", "[ASYNC|SYNC]"),
    ("flushdb", "[ASYNC|SYNC]"),
    ("get", "key"),
    ("getdel", "key"),
    ("getex", "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]"),
    ("getrange", "key start end"),
    ("getset", "key value"),
    ("hello", "[protover [AUTH username password] [SETNAME clientname]]"),
    ("incr", "key"),
    ("incrby", "key increment"),
    ("incrbyfloat", "key increment"),
    ("info", "[section ...]"),
    ("keys", "pattern"),
    ("lcs", "key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]"),
    ("mget", "key ..."),
    ("move", "key db"),
    ("mset", "(key value) ..."),
    ("msetnx", "(key value) ..."),
    ("object|encoding", "key"),
    ("object|freq", "key"),
    ("object|idletime", "key"),
    ("object|refcount", "key"),
    ("persist", "key"),
    ("pexpire", "key milliseconds [NX|XX|GT|LT]"),
    ("pexpireat", "key unix-time-milliseconds [NX|XX|GT|LT]"),
    ("pexpiretime", "key"),
    ("ping", "[message]"),
    ("psetex", "key milliseconds value"),
    ("psubscribe", "pattern ..."),
    ("pttl", "key"),
    ("publish", "channel message"),
    ("pubsub|channels", "[pattern]"),
    ("pubsub|numsub", "[channel ...]"),
    ("pubsub|shardchannels", "[pattern]"),
    ("pubsub|shardnumsub", "[shardchannel ...]"),
    ("punsubscribe", "[pattern ...]"),
    ("rename", "key newkey"),
    ("renamenx", "key newkey"),
    ("scan", "cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    ("select", "index"),
    ("set", "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
    ("setex", "key seconds value"),
    ("setnx", "key value"),
    ("setrange", "key offset value"),
    ("shutdown", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"),
    ("strlen", "key"),
    ("subscribe", "channel ..."),
    ("substr", "key start end"),
    ("swapdb", "index1 index2"),
    ("touch", "key ..."),
    ("ttl", "key"),
    ("type", "key"),
    ("unlink", "key ..."),
    ("unsubscribe", "[channel ...]"),
    ("watch", "key ..."),
];

/// One node of the argument tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: String,
    pub kind: &'static str,
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    pub children: Vec<Arg>,
}

fn type_of(name: &str) -> &'static str {
    match name {
        "key" | "key1" | "key2" | "newkey" | "source" | "destination" => "key",
        "pattern" => "pattern",
        n if n.starts_with("unix-time") => "unix-time",
        "seconds" | "milliseconds" | "timeout" | "count" | "offset" | "start" | "end" | "db"
        | "index" | "index1" | "index2" | "increment" | "decrement" | "cursor"
        | "destination-db" | "client-id" | "len" | "protover" | "numkeys" | "rank"
        | "num-matches" | "stop" | "limit" => "integer",
        _ => "string",
    }
}

fn tokenize(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '[' | ']' | '(' | ')' | '|' | ' ' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                if c != ' ' {
                    out.push(c.to_string());
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn is_token(w: &str) -> bool {
    w.chars().any(|c| c.is_ascii_uppercase())
        && w.chars()
            .all(|c| c.is_ascii_uppercase() || c == '-' || c.is_ascii_digit())
}

fn is_name(w: &str) -> bool {
    !is_token(w) && !matches!(w, "[" | "]" | "(" | ")" | "|" | "...")
}

struct P {
    t: Vec<String>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&str> {
        self.t.get(self.i).map(|s| s.as_str())
    }

    /// seq := item* ; stops at `]`, `)`, `|` or the end.
    fn seq(&mut self) -> Vec<Arg> {
        let mut v = Vec::new();
        while let Some(w) = self.peek() {
            if matches!(w, "]" | ")" | "|") {
                break;
            }
            let mut a = self.item();
            if self.peek() == Some("...") {
                self.i += 1;
                a.multiple = true;
            }
            v.push(a);
        }
        v
    }

    /// alt := seq ('|' seq)* — one alternative stays as is, several become a oneof.
    fn alt(&mut self, name: &str) -> Arg {
        let mut alts = vec![self.seq()];
        while self.peek() == Some("|") {
            self.i += 1;
            alts.push(self.seq());
        }
        let mut group = |mut s: Vec<Arg>| {
            if s.len() == 1 {
                s.remove(0)
            } else {
                Arg {
                    name: s
                        .iter()
                        .map(|a| a.name.clone())
                        .collect::<Vec<_>>()
                        .join("-"),
                    kind: "block",
                    token: None,
                    optional: false,
                    multiple: false,
                    children: s,
                }
            }
        };
        if alts.len() == 1 {
            return group(alts.remove(0));
        }
        let children: Vec<Arg> = alts.into_iter().map(&mut group).collect();
        Arg {
            name: name.to_string(),
            kind: "oneof",
            token: None,
            optional: false,
            multiple: false,
            children,
        }
    }

    fn item(&mut self) -> Arg {
        let w = self.t[self.i].clone();
        self.i += 1;
        match w.as_str() {
            "[" | "(" => {
                let close = if w == "[" { "]" } else { ")" };
                let mut a = self.alt("option");
                if a.kind == "oneof" && a.children.iter().all(|c| c.kind == "pure-token") {
                    a.name = a
                        .children
                        .iter()
                        .map(|c| c.name.clone())
                        .collect::<Vec<_>>()
                        .join("-");
                }
                if self.peek() == Some(close) {
                    self.i += 1;
                }
                if w == "[" {
                    a.optional = true;
                }
                a
            }
            _ if is_token(&w) => {
                // A keyword followed by its value (`EX seconds`) or a pure token (`NX`).
                if let Some(n) = self.peek().filter(|n| is_name(n)).map(String::from) {
                    self.i += 1;
                    Arg {
                        name: n.clone(),
                        kind: type_of(&n),
                        token: Some(w),
                        optional: false,
                        multiple: false,
                        children: vec![],
                    }
                } else {
                    Arg {
                        name: w.to_ascii_lowercase(),
                        kind: "pure-token",
                        token: Some(w),
                        optional: false,
                        multiple: false,
                        children: vec![],
                    }
                }
            }
            _ => Arg {
                name: w.clone(),
                kind: type_of(&w),
                token: None,
                optional: false,
                multiple: false,
                children: vec![],
            },
        }
    }
}

/// Parses a usage line into the argument tree.
pub fn parse(syntax: &str) -> Vec<Arg> {
    let mut p = P {
        t: tokenize(syntax),
        i: 0,
    };
    p.seq()
}

fn write_arg(out: &mut Reply, a: &Arg) {
    let mut n = 2;
    n += a.token.is_some() as usize;
    let has_flags = a.optional || a.multiple;
    n += has_flags as usize;
    n += (!a.children.is_empty()) as usize;
    out.map(n);
    out.bulk(b"name");
    out.bulk(a.name.as_bytes());
    out.bulk(b"type");
    out.bulk(a.kind.as_bytes());
    if let Some(t) = &a.token {
        out.bulk(b"token");
        out.bulk(t.as_bytes());
    }
    if has_flags {
        out.bulk(b"flags");
        let flags: Vec<&str> = [(a.optional, "optional"), (a.multiple, "multiple")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| *f)
            .collect();
        out.set(flags.len());
        for f in flags {
            out.simple(f);
        }
    }
    if !a.children.is_empty() {
        out.bulk(b"arguments");
        out.array(a.children.len());
        for c in &a.children {
            write_arg(out, c);
        }
    }
}

/// The `arguments` array of COMMAND DOCS for `full_name`, or None when it takes none.
pub fn write_arguments(out: &mut Reply, full_name: &str) -> bool {
    let Some((_, syntax)) = all_syntax().find(|(n, _)| *n == full_name) else {
        return false;
    };
    let args = parse(syntax);
    out.array(args.len());
    for a in &args {
        write_arg(out, a);
    }
    true
}

pub fn has_arguments(full_name: &str) -> bool {
    all_syntax().any(|(n, _)| *n == full_name)
}

fn all_syntax() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    SYNTAX
        .iter()
        .chain(super::table_coll::COLLECTION_SYNTAX)
        .chain(super::replication::REPLICATION_SYNTAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_syntax() {
        let a = parse("key value [NX|XX] [GET] [EX seconds|PX milliseconds|KEEPTTL]");
        assert_eq!(a.len(), 5);
        assert_eq!(a[0].kind, "key");
        assert_eq!(a[2].kind, "oneof");
        assert!(a[2].optional);
        assert_eq!(a[2].children[0].token.as_deref(), Some("NX"));
        assert_eq!(a[3].kind, "pure-token");
        assert_eq!(a[4].children[0].token.as_deref(), Some("EX"));
        assert_eq!(a[4].children[0].kind, "integer");
        let m = parse("(key value) ...");
        assert_eq!(m[0].kind, "block");
        assert!(m[0].multiple);
        assert_eq!(m[0].children.len(), 2);
    }

    #[test]
    fn every_syntax_names_a_command() {
        for (name, _) in all_syntax() {
            let (top, sub) = name
                .split_once('|')
                .map(|(a, b)| (a, Some(b)))
                .unwrap_or((name, None));
            let cmd = super::super::COMMANDS
                .iter()
                .find(|c| c.name == top)
                .unwrap_or_else(|| panic!("{name}"));
            if let Some(s) = sub {
                assert!(cmd.subcommands.iter().any(|c| c.name == s), "{name}");
            }
        }
    }
}
