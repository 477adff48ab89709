//! COMMAND, COMMAND COUNT|INFO|DOCS|LIST|HELP, built from the command table.

use super::{command_table, flags, Command, Ctx, COMMANDS};
use bytes::Bytes;
use picket::args::unknown_subcommand;
use picket::glob::glob_match;
use picket::resp::Reply;

fn acl_categories(c: &Command) -> Vec<String> {
    let mut v = Vec::new();
    if c.has(flags::WRITE) {
        v.push("@write".to_string());
    }
    if c.has(flags::READONLY) {
        v.push("@read".into());
    }
    if c.group != "server"
        && c.group != "connection"
        && c.group != "transactions"
        && c.group != "pubsub"
    {
        v.push(format!(
            "@{}",
            if c.group == "generic" {
                "keyspace"
            } else {
                c.group
            }
        ));
    }
    if c.has(flags::ADMIN) {
        v.push("@admin".into());
        v.push("@dangerous".into());
    }
    if c.group == "pubsub" {
        v.push("@pubsub".into());
    }
    if c.group == "connection" {
        v.push("@connection".into());
    }
    if c.group == "transactions" {
        v.push("@transaction".into());
    }
    v.push(if c.has(flags::FAST) {
        "@fast".into()
    } else {
        "@slow".into()
    });
    v
}

fn write_info(out: &mut Reply, c: &Command, parent: Option<&str>) {
    out.array(10);
    match parent {
        Some(p) => out.bulk(format!("{}|{}", p, c.name).as_bytes()),
        None => out.bulk(c.name.as_bytes()),
    }
    out.int(c.arity as i64);
    let fl: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(f, _)| c.has(*f))
        .map(|(_, n)| *n)
        .collect();
    out.set(fl.len());
    for f in fl {
        out.simple(f);
    }
    out.int(c.first_key as i64);
    out.int(c.last_key as i64);
    out.int(c.step as i64);
    let cats = acl_categories(c);
    out.set(cats.len());
    for a in cats {
        out.simple(&a);
    }
    out.set(0);
    out.array(0);
    out.array(c.subcommands.len());
    for s in c.subcommands {
        write_info(out, s, Some(c.name));
    }
}

fn write_docs(out: &mut Reply, c: &Command, parent: Option<&str>) {
    let full = match parent {
        Some(p) => format!("{}|{}", p, c.name),
        None => c.name.to_string(),
    };
    out.bulk(full.as_bytes());
    let has_subs = !c.subcommands.is_empty();
    let has_args = super::docs::has_arguments(&full);
    out.map(3 + has_subs as usize + has_args as usize);
    out.bulk(b"summary");
    out.bulk(c.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(c.since.as_bytes());
    out.bulk(b"group");
    out.bulk(c.group.as_bytes());
    if has_args {
        out.bulk(b"arguments");
        super::docs::write_arguments(out, &full);
    }
    if has_subs {
        out.bulk(b"subcommands");
        out.map(c.subcommands.len());
        for s in c.subcommands {
            write_docs(out, s, Some(c.name));
        }
    }
}

/// COMMAND and its subcommands.
pub fn command(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() == 1 {
        ctx.out.array(COMMANDS.len());
        for c in COMMANDS.iter() {
            write_info(ctx.out, c, None);
        }
        return;
    }
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    let table = command_table();
    match sub.as_str() {
        "count" if a.len() == 2 => ctx.out.int(COMMANDS.len() as i64),
        "info" => {
            if a.len() == 2 {
                ctx.out.array(COMMANDS.len());
                for c in COMMANDS.iter() {
                    write_info(ctx.out, c, None);
                }
                return;
            }
            ctx.out.array(a.len() - 2);
            for n in &a[2..] {
                match lookup_name(table, n) {
                    Some((c, p)) => write_info(ctx.out, c, p),
                    None => ctx.out.null(),
                }
            }
        }
        "docs" => {
            if a.len() == 2 {
                ctx.out.map(COMMANDS.len());
                for c in COMMANDS.iter() {
                    write_docs(ctx.out, c, None);
                }
                return;
            }
            let found: Vec<_> = a[2..]
                .iter()
                .filter_map(|n| lookup_name(table, n))
                .collect();
            ctx.out.map(found.len());
            for (c, p) in found {
                write_docs(ctx.out, c, p);
            }
        }
        "list" => {
            let pat = if a.len() == 5
                && a[2].eq_ignore_ascii_case(b"filterby")
                && a[3].eq_ignore_ascii_case(b"pattern")
            {
                Some(a[4].clone())
            } else {
                None
            };
            if a.len() != 2 && pat.is_none() {
                return ctx.out.error(picket::args::ERR_SYNTAX);
            }
            let names: Vec<&str> = COMMANDS
                .iter()
                .map(|c| c.name)
                .filter(|n| {
                    pat.as_ref()
                        .map(|p| glob_match(p, n.as_bytes(), true))
                        .unwrap_or(true)
                })
                .collect();
            ctx.out.array(names.len());
            for n in names {
                ctx.out.bulk(n.as_bytes());
            }
        }
        "help" => ctx.out.help(picket::help::COMMAND),
        _ => ctx.out.error(&unknown_subcommand("command", &a[1])),
    }
}

fn lookup_name(
    table: &super::CommandIndex,
    n: &[u8],
) -> Option<(&'static Command, Option<&'static str>)> {
    let name = String::from_utf8_lossy(n).to_ascii_lowercase();
    if let Some((p, s)) = name.split_once('|') {
        let parent = table.get(p)?;
        return parent
            .subcommands
            .iter()
            .find(|c| c.name == s)
            .map(|c| (c, Some(parent.name)));
    }
    table.get(name.as_str()).map(|c| (*c, None))
}
