//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS, GETKEYSANDFLAGS, HELP),
//! answered from a program's [`Table`] as Redis 7.0 answers them. A container's subcommands
//! come in the table's order (Redis's is random per process).
//!
//! The handlers are generic over the program ([`Program`]), so both programs' tables name the
//! same functions (`introspect::count::<Node>`).

use super::keys::find_keys;
use super::table::{Command, Table};
use crate::args::{eq_ic, lower, ERR_SYNTAX};
use crate::glob::glob_match;
use crate::resp::Reply;
use bytes::Bytes;

/// What the COMMAND handlers need from a program: its table, and the reply in its command
/// context.
pub trait Program: 'static {
    /// The context a handler gets.
    type Ctx<'a>;
    type Handler: 'static;
    fn table() -> &'static Table<Self::Handler>;
    fn reply<'b>(ctx: &'b mut Self::Ctx<'_>) -> &'b mut Reply;
}

/// One COMMAND INFO entry.
pub fn write_info<H>(out: &mut Reply, c: &Command<H>) {
    let m = c.meta;
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.int(c.arity as i64);
    out.set(m.flag_names.len());
    for f in &m.flag_names {
        out.simple(f);
    }
    out.int(m.first_key as i64);
    out.int(m.last_key as i64);
    out.int(m.step as i64);
    out.set(m.acl.len());
    for a in &m.acl {
        out.simple(a);
    }
    out.set(m.tips.len());
    for t in &m.tips {
        out.bulk(t.as_bytes());
    }
    out.set(m.key_specs.len());
    for k in &m.key_specs {
        k.tree.write(out, None);
    }
    // An array of subcommands, or an empty set when there are none, as Redis sends them.
    if c.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(c.subcommands.len());
        for s in &c.subcommands {
            write_info(out, s);
        }
    }
}

/// One COMMAND DOCS entry: the name, then its documentation map.
pub fn write_docs<H>(out: &mut Reply, c: &Command<H>) {
    out.bulk(c.name.as_bytes());
    let super::meta::Tree::Map(doc) = &c.meta.doc else {
        return out.map(0);
    };
    let subs = !c.subcommands.is_empty();
    out.map(doc.len() + subs as usize);
    for (k, v) in doc {
        out.bulk(k.as_bytes());
        v.write(out, Some(k));
    }
    if subs {
        out.bulk(b"subcommands");
        out.map(c.subcommands.len());
        for s in &c.subcommands {
            write_docs(out, s);
        }
    }
}

fn all_info<H>(table: &Table<H>, out: &mut Reply) {
    out.array(table.commands.len());
    for c in &table.commands {
        write_info(out, c);
    }
}

/// COMMAND: every command's COMMAND INFO entry.
pub fn all<P: Program>(ctx: &mut P::Ctx<'_>, _a: &[Bytes]) {
    all_info(P::table(), P::reply(ctx));
}

/// COMMAND COUNT
pub fn count<P: Program>(ctx: &mut P::Ctx<'_>, _a: &[Bytes]) {
    let n = P::table().commands.len();
    P::reply(ctx).int(n as i64);
}

/// COMMAND HELP
pub fn help<P: Program>(ctx: &mut P::Ctx<'_>, _a: &[Bytes]) {
    P::reply(ctx).help(crate::help::COMMAND);
}

/// COMMAND INFO [command-name ...]
pub fn info<P: Program>(ctx: &mut P::Ctx<'_>, a: &[Bytes]) {
    let (table, out) = (P::table(), P::reply(ctx));
    if a.len() == 2 {
        return all_info(table, out);
    }
    out.array(a.len() - 2);
    for n in &a[2..] {
        match table.find(n) {
            Some(c) => write_info(out, c),
            None => out.null(),
        }
    }
}

/// COMMAND DOCS [command-name ...]: unknown names are left out.
pub fn docs<P: Program>(ctx: &mut P::Ctx<'_>, a: &[Bytes]) {
    let (table, out) = (P::table(), P::reply(ctx));
    if a.len() == 2 {
        out.map(table.commands.len());
        for c in &table.commands {
            write_docs(out, c);
        }
        return;
    }
    let found: Vec<&Command<P::Handler>> = a[2..].iter().filter_map(|n| table.find(n)).collect();
    out.map(found.len());
    for c in found {
        write_docs(out, c);
    }
}

/// COMMAND LIST [FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]: every command
/// and subcommand name.
pub fn list<P: Program>(ctx: &mut P::Ctx<'_>, a: &[Bytes]) {
    type Keep<H> = Box<dyn Fn(&Command<H>) -> bool>;
    let (table, out) = (P::table(), P::reply(ctx));
    let keep: Keep<P::Handler> = match a.len() {
        2 => Box::new(|_| true),
        5 if eq_ic(&a[2], "filterby") => {
            let v = a[4].clone();
            match lower(&a[3]).as_str() {
                // Picket has no modules.
                "module" => Box::new(|_| false),
                "aclcat" => {
                    let cat = format!("@{}", lower(&v));
                    Box::new(move |c| c.meta.acl.iter().any(|x| x.eq_ignore_ascii_case(&cat)))
                }
                "pattern" => Box::new(move |c| glob_match(&v, c.name.as_bytes(), true)),
                _ => return out.error(ERR_SYNTAX),
            }
        }
        _ => return out.error(ERR_SYNTAX),
    };
    let names: Vec<&str> = table.all().filter(|c| keep(c)).map(|c| c.name).collect();
    out.array(names.len());
    for n in names {
        out.bulk(n.as_bytes());
    }
}

/// COMMAND GETKEYS command [arg ...]
pub fn getkeys<P: Program>(ctx: &mut P::Ctx<'_>, a: &[Bytes]) {
    keys_of(P::table(), a, P::reply(ctx), false)
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]
pub fn getkeysandflags<P: Program>(ctx: &mut P::Ctx<'_>, a: &[Bytes]) {
    keys_of(P::table(), a, P::reply(ctx), true)
}

fn keys_of<H>(table: &Table<H>, a: &[Bytes], out: &mut Reply, with_flags: bool) {
    let args = &a[2..];
    let cmd = match table.get(&args[0]) {
        None => return out.error("ERR Invalid command specified"),
        Some(c) if !c.subcommands.is_empty() && args.len() >= 2 => match c.sub(&lower(&args[1])) {
            Some(s) => s,
            None => return out.error("ERR Invalid command specified"),
        },
        Some(c) => c,
    };
    if !cmd.arity_ok(args.len()) {
        return out.error("ERR Invalid number of arguments specified for command");
    }
    if cmd.meta.key_specs.is_empty() {
        return out.error("ERR The command has no key arguments");
    }
    let Ok(keys) = find_keys(cmd.meta, args) else {
        return out.error("ERR Invalid arguments specified for command");
    };
    out.array(keys.len());
    for k in keys {
        if with_flags {
            out.array(2);
            out.bulk(&args[k.index]);
            out.set(k.flags.len());
            for f in &k.flags {
                out.simple(f);
            }
        } else {
            out.bulk(&args[k.index]);
        }
    }
}
