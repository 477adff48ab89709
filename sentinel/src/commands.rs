//! The sentinel's command table, as Redis Sentinel 7.0 reports it in COMMAND (arity, flags, ACL
//! categories, tips, subcommands; no key specs), and COMMAND itself. The table is also what the
//! arity of every command and subcommand is checked against.

use bytes::Bytes;
use picket::args::{eq_ic, lower, unknown_subcommand, wrong_args, ERR_SYNTAX};
use picket::glob::glob_match;
use picket::resp::Reply;

pub struct Cmd {
    pub name: &'static str,
    pub arity: i32,
    flags: &'static str,
    acl: &'static str,
    tips: &'static str,
    pub subs: &'static [Cmd],
}

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: &'static str,
    acl: &'static str,
    tips: &'static str,
    subs: &'static [Cmd],
) -> Cmd {
    Cmd {
        name,
        arity,
        flags,
        acl,
        tips,
        subs,
    }
}

#[rustfmt::skip]
pub static TABLE: &[Cmd] = &[
    cmd("acl", -2, "", "@slow", "", &[
        cmd("cat", -2, "noscript loading stale", "@slow", "", &[]),
        cmd("deluser", -3, "admin noscript loading stale", "@admin @slow @dangerous", "", &[]),
        cmd("dryrun", -4, "admin noscript loading stale", "@admin @slow @dangerous", "", &[]),
        cmd("genpass", -2, "noscript loading stale", "@slow", "", &[]),
        cmd("getuser", 3, "admin noscript loading stale", "@admin @slow @dangerous", "", &[]),
        cmd("help", 2, "loading stale", "@slow", "", &[]),
        cmd("list", 2, "admin noscript loading stale", "@admin @slow @dangerous", "", &[]),
        cmd("load", 2, "admin noscript loading stale", "@admin @slow @dangerous", "", &[]),
        cmd("log", -2, "admin noscript loading stale", "@admin @slow @dangerous", "", &[]),
        cmd("save", 2, "admin noscript loading stale", "@admin @slow @dangerous", "", &[]),
        cmd("setuser", -3, "admin noscript loading stale", "@admin @slow @dangerous", "", &[]),
        cmd("users", 2, "admin noscript loading stale", "@admin @slow @dangerous", "", &[]),
        cmd("whoami", 2, "noscript loading stale", "@slow", "", &[]),
    ]),
    cmd("auth", -2, "noscript loading stale fast no_auth allow_busy", "@fast @connection", "", &[]),
    cmd("client", -2, "", "@slow", "", &[
        cmd("caching", 3, "noscript loading stale", "@slow @connection", "", &[]),
        cmd("getname", 2, "noscript loading stale", "@slow @connection", "", &[]),
        cmd("getredir", 2, "noscript loading stale", "@slow @connection", "", &[]),
        cmd("help", 2, "loading stale", "@slow @connection", "", &[]),
        cmd("id", 2, "noscript loading stale", "@slow @connection", "", &[]),
        cmd("info", 2, "noscript loading stale", "@slow @connection", "nondeterministic_output", &[]),
        cmd("kill", -3, "admin noscript loading stale", "@admin @slow @dangerous @connection", "", &[]),
        cmd("list", -2, "admin noscript loading stale", "@admin @slow @dangerous @connection", "nondeterministic_output", &[]),
        cmd("no-evict", 3, "admin noscript loading stale", "@admin @slow @dangerous @connection", "", &[]),
        cmd("pause", -3, "admin noscript loading stale", "@admin @slow @dangerous @connection", "", &[]),
        cmd("reply", 3, "noscript loading stale", "@slow @connection", "", &[]),
        cmd("setname", 3, "noscript loading stale", "@slow @connection", "", &[]),
        cmd("tracking", -3, "noscript loading stale", "@slow @connection", "", &[]),
        cmd("trackinginfo", 2, "noscript loading stale", "@slow @connection", "", &[]),
        cmd("unblock", -3, "admin noscript loading stale", "@admin @slow @dangerous @connection", "", &[]),
        cmd("unpause", 2, "admin noscript loading stale", "@admin @slow @dangerous @connection", "", &[]),
    ]),
    cmd("command", -1, "loading stale", "@slow @connection", "nondeterministic_output_order", &[
        cmd("count", 2, "loading stale", "@slow @connection", "", &[]),
        cmd("docs", -2, "loading stale", "@slow @connection", "nondeterministic_output_order", &[]),
        cmd("getkeys", -4, "loading stale", "@slow @connection", "", &[]),
        cmd("getkeysandflags", -4, "loading stale", "@slow @connection", "", &[]),
        cmd("help", 2, "loading stale", "@slow @connection", "", &[]),
        cmd("info", -2, "loading stale", "@slow @connection", "nondeterministic_output_order", &[]),
        cmd("list", -2, "loading stale", "@slow @connection", "nondeterministic_output_order", &[]),
    ]),
    cmd("hello", -1, "noscript loading stale fast no_auth allow_busy", "@fast @connection", "", &[]),
    cmd("info", -1, "loading stale", "@slow @dangerous", "nondeterministic_output request_policy:all_shards response_policy:special", &[]),
    cmd("ping", -1, "fast", "@fast @connection", "request_policy:all_shards response_policy:all_succeeded", &[]),
    cmd("psubscribe", -2, "pubsub noscript loading stale", "@pubsub @slow", "", &[]),
    cmd("publish", 3, "pubsub loading stale fast", "@pubsub @fast", "", &[]),
    cmd("punsubscribe", -1, "pubsub noscript loading stale", "@pubsub @slow", "", &[]),
    cmd("role", 1, "noscript loading stale fast", "@admin @fast @dangerous", "", &[]),
    cmd("sentinel", -2, "admin", "@admin @slow @dangerous", "", &[
        cmd("ckquorum", 3, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("config", -3, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("debug", -2, "admin", "@admin @slow @dangerous", "", &[]),
        // Redis's arity is 3; Picket also takes FAILOVER <name> COORDINATED.
        cmd("failover", -3, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("flushconfig", 2, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("get-master-addr-by-name", 3, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("help", 2, "loading stale", "@slow", "", &[]),
        cmd("info-cache", -3, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("is-master-down-by-addr", 6, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("master", 3, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("masters", 2, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("monitor", 6, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("myid", 2, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("pending-scripts", 2, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("remove", 3, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("replicas", 3, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("reset", 3, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("sentinels", 3, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("set", -5, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("simulate-failure", -3, "admin", "@admin @slow @dangerous", "", &[]),
        cmd("slaves", 3, "admin", "@admin @slow @dangerous", "", &[]),
    ]),
    cmd("shutdown", -1, "admin noscript loading stale no_multi allow_busy", "@admin @slow @dangerous", "", &[]),
    cmd("subscribe", -2, "pubsub noscript loading stale", "@pubsub @slow", "", &[]),
    cmd("unsubscribe", -1, "pubsub noscript loading stale", "@pubsub @slow", "", &[]),
];

impl Cmd {
    pub fn arity_ok(&self, n: usize) -> bool {
        let n = n as i32;
        if self.arity > 0 {
            n == self.arity
        } else {
            n >= -self.arity
        }
    }

    pub fn sub(&self, name: &[u8]) -> Option<&'static Cmd> {
        self.subs
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    }
}

/// The command named `name` (lowercase), if the sentinel has it.
pub fn lookup(name: &str) -> Option<&'static Cmd> {
    TABLE.iter().find(|c| c.name == name)
}

/// The arity check Redis makes before running `a`: the command's, then its subcommand's.
/// `Err` is the reply.
pub fn check_arity(c: &Cmd, a: &[Bytes]) -> Result<(), String> {
    if !c.arity_ok(a.len()) {
        return Err(wrong_args(c.name));
    }
    if let Some(s) = a.get(1).and_then(|s| c.sub(s)) {
        if !s.arity_ok(a.len()) {
            return Err(wrong_args(&format!("{}|{}", c.name, s.name)));
        }
    }
    Ok(())
}

fn write_info(out: &mut Reply, c: &Cmd, parent: Option<&str>) {
    let words = |s: &'static str| s.split_whitespace().collect::<Vec<_>>();
    out.array(10);
    match parent {
        Some(p) => out.bulk(format!("{p}|{}", c.name).as_bytes()),
        None => out.bulk(c.name.as_bytes()),
    }
    out.int(c.arity as i64);
    let flags = words(c.flags);
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.int(0);
    out.int(0);
    out.int(0);
    let acl = words(c.acl);
    out.set(acl.len());
    for f in acl {
        out.simple(f);
    }
    let tips = words(c.tips);
    out.set(tips.len());
    for t in tips {
        out.bulk(t.as_bytes());
    }
    // No key specs; in RESP3 both empty lists are sets, as Redis sends them.
    out.set(0);
    if c.subs.is_empty() {
        out.set(0);
    } else {
        out.array(c.subs.len());
    }
    for s in c.subs {
        write_info(out, s, Some(c.name));
    }
}

/// Which names COMMAND LIST keeps (full name, entry).
type Filter = dyn Fn(&str, &Cmd) -> bool;

/// `name` or `container|sub`.
fn find(name: &[u8]) -> Option<(&'static Cmd, Option<&'static str>)> {
    let name = lower(name);
    match name.split_once('|') {
        Some((p, s)) => {
            let parent = lookup(p)?;
            parent.sub(s.as_bytes()).map(|c| (c, Some(parent.name)))
        }
        None => lookup(&name).map(|c| (c, None)),
    }
}

/// Every command and subcommand name, with the command itself.
fn all_names() -> Vec<(String, &'static Cmd)> {
    let mut v = Vec::new();
    for c in TABLE {
        v.push((c.name.to_string(), c));
        for s in c.subs {
            v.push((format!("{}|{}", c.name, s.name), s));
        }
    }
    v
}

/// COMMAND [COUNT | INFO [name ...] | LIST [FILTERBY MODULE|ACLCAT|PATTERN x] | DOCS | GETKEYS |
/// GETKEYSANDFLAGS | HELP]. The order is the table's (Redis's is random per process). DOCS
/// answers an empty map: the documentation texts are not carried.
pub fn command(a: &[Bytes], out: &mut Reply) {
    let Some(sub) = a.get(1).map(|s| lower(s)) else {
        out.array(TABLE.len());
        for c in TABLE {
            write_info(out, c, None);
        }
        return;
    };
    match sub.as_str() {
        "count" => out.int(TABLE.len() as i64),
        "info" if a.len() == 2 => {
            out.array(TABLE.len());
            for c in TABLE {
                write_info(out, c, None);
            }
        }
        "info" => {
            out.array(a.len() - 2);
            for n in &a[2..] {
                match find(n) {
                    Some((c, p)) => write_info(out, c, p),
                    None => out.null(),
                }
            }
        }
        "docs" => out.map(0),
        "list" => {
            let keep: Box<Filter> = match a.len() {
                2 => Box::new(|_, _| true),
                5 if eq_ic(&a[2], "filterby") => {
                    let v = a[4].clone();
                    match lower(&a[3]).as_str() {
                        "module" => Box::new(|_, _| false),
                        "aclcat" => {
                            let cat = format!("@{}", lower(&v));
                            Box::new(move |_, c| c.acl.split_whitespace().any(|x| x == cat))
                        }
                        "pattern" => Box::new(move |n, _| glob_match(&v, n.as_bytes(), true)),
                        _ => return out.error(ERR_SYNTAX),
                    }
                }
                _ => return out.error(ERR_SYNTAX),
            };
            let names: Vec<String> = all_names()
                .into_iter()
                .filter(|(n, c)| keep(n, c))
                .map(|(n, _)| n)
                .collect();
            out.array(names.len());
            for n in names {
                out.bulk(n.as_bytes());
            }
        }
        "getkeys" | "getkeysandflags" => match lookup(&lower(&a[2])) {
            None => out.error("ERR Invalid command specified"),
            Some(_) => out.error("ERR The command has no key arguments"),
        },
        "help" => out.help(picket::help::COMMAND),
        _ => out.error(&unknown_subcommand("command", &a[1])),
    }
}
