//! A program's command table: what it declares ([`Entry`]: a name, a handler, subcommands, and
//! where it differs from Redis), joined with Redis's metadata into [`Command`]s that dispatch,
//! arity errors, flag checks and COMMAND all read ([`Table`]).

use super::meta::Meta;
use crate::args::{lower, unknown_command, unknown_subcommand, wrong_args};
use bytes::Bytes;
use std::collections::HashMap;

/// A command as a program declares it.
pub struct Entry<H: 'static> {
    pub name: &'static str,
    pub handler: H,
    pub subcommands: &'static [Entry<H>],
    /// Where the program's arity differs from Redis's.
    pub arity: Option<i32>,
}

impl<H: Copy> Entry<H> {
    /// A command named as Redis names it, run by `handler`.
    pub const fn new(name: &'static str, handler: H) -> Self {
        Entry {
            name,
            handler,
            subcommands: &[],
            arity: None,
        }
    }

    /// A container: `handler` runs only for a container that can run alone (COMMAND).
    pub const fn container(name: &'static str, handler: H, subs: &'static [Entry<H>]) -> Self {
        Entry {
            name,
            handler,
            subcommands: subs,
            arity: None,
        }
    }

    /// Takes `arity` arguments where Redis takes another number.
    pub const fn arity(mut self, arity: i32) -> Self {
        self.arity = Some(arity);
        self
    }
}

/// A command (or subcommand) as the program runs it.
pub struct Command<H: 'static> {
    /// The full name: `get`, `client|list`.
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub meta: &'static Meta,
    pub handler: H,
    /// In the program's declaration order.
    pub subcommands: Vec<Command<H>>,
    /// A number of its own in the table (0..[`Table::ids`]), for per-command counters kept in
    /// a vector.
    pub id: usize,
}

impl<H> Command<H> {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let (a, n) = (self.arity, argc as i64);
        (a >= 0 && n == a as i64) || (a < 0 && n >= -(a as i64))
    }

    /// The subcommand named `name` (lowercase, the part after `|`).
    pub fn sub(&self, name: &str) -> Option<&Command<H>> {
        self.subcommands
            .iter()
            .find(|s| s.name.split_once('|').map(|(_, n)| n) == Some(name))
    }

    /// The name COMMAND DOCS and errors give a subcommand's parent (`client` of `client|list`).
    pub fn parent_name(&self) -> &'static str {
        self.name
            .split_once('|')
            .map(|(p, _)| p)
            .unwrap_or(self.name)
    }
}

/// A connection's last resolved command: the name as the client sent it and its place in the
/// table ([`Table::resolve_cached`]). Empty (`len` 0) matches nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NameCache {
    name: [u8; 19],
    len: u8,
    index: u32,
}

/// Every command of a program, in declaration order, with a lookup by name.
pub struct Table<H: 'static> {
    pub commands: Vec<Command<H>>,
    /// Dispatch names (`rename-command` changes them; COMMAND keeps Redis's names).
    index: HashMap<Box<[u8]>, usize, foldhash::fast::FixedState>,
    /// How many commands and subcommands there are (each has its [`Command::id`] below this).
    pub ids: usize,
}

impl<H: Copy> Table<H> {
    /// Joins the declared entries with Redis's metadata. Every entry must be a command (or
    /// subcommand) Redis has.
    pub fn build(
        entries: &'static [Entry<H>],
        meta: &'static HashMap<String, Meta>,
    ) -> Result<Table<H>, String> {
        let mut commands = Vec::with_capacity(entries.len());
        let mut ids = 0;
        for e in entries {
            let m = meta
                .get(e.name)
                .ok_or_else(|| format!("`{}` is not a Redis 7.0 command", e.name))?;
            commands.push(Self::command(e, m, &mut ids)?);
        }
        let index = commands
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_bytes().into(), i))
            .collect();
        Ok(Table {
            commands,
            index,
            ids,
        })
    }

    /// `rename-command from to`: the command answers to `to` (lowercase) from now on, or to
    /// nothing when `to` is empty.
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(i) = self.index.remove(from.to_ascii_lowercase().as_bytes()) {
            if !to.is_empty() {
                self.index
                    .insert(to.to_ascii_lowercase().as_bytes().into(), i);
            }
        }
    }

    fn command(
        e: &'static Entry<H>,
        m: &'static Meta,
        ids: &mut usize,
    ) -> Result<Command<H>, String> {
        let id = *ids;
        *ids += 1;
        let mut subcommands = Vec::with_capacity(e.subcommands.len());
        for s in e.subcommands {
            let sm = m
                .sub(s.name)
                .ok_or_else(|| format!("`{} {}` is not a Redis 7.0 command", e.name, s.name))?;
            subcommands.push(Self::command(s, sm, ids)?);
        }
        Ok(Command {
            name: m.name.as_str(),
            arity: e.arity.unwrap_or(m.arity),
            flags: m.flags | unlisted_flags(e.name),
            meta: m,
            handler: e.handler,
            subcommands,
            id,
        })
    }
}

/// Flags Redis 7.0 gives commands internally but COMMAND does not show (so the bundled
/// metadata lacks them): "may replicate" on the commands that can propagate something
/// without being writes. Read-only scripts refuse them, and CLIENT PAUSE WRITE holds them.
fn unlisted_flags(name: &str) -> u32 {
    match name {
        "eval" | "evalsha" | "fcall" | "pfcount" | "publish" | "spublish" => {
            super::flags::MAY_REPLICATE
        }
        _ => 0,
    }
}

impl<H> Table<H> {
    /// The top-level command named `name` (any case).
    pub fn get(&self, name: &[u8]) -> Option<&Command<H>> {
        let mut buf = [0u8; 32];
        let i = if name.len() <= buf.len() {
            for (d, s) in buf.iter_mut().zip(name) {
                *d = s.to_ascii_lowercase();
            }
            self.index.get(&buf[..name.len()])
        } else {
            self.index.get(lower(name).as_bytes())
        };
        i.map(|i| &self.commands[*i])
    }

    /// A command or `container|sub` by its full name (any case).
    pub fn find(&self, full: &[u8]) -> Option<&Command<H>> {
        let name = lower(full);
        match name.split_once('|') {
            Some((p, s)) => self.get(p.as_bytes())?.sub(s),
            None => self.get(name.as_bytes()),
        }
    }

    /// The command `args` runs, with Redis's errors: an unknown command or subcommand, and a
    /// wrong number of arguments for the command or the subcommand.
    pub fn resolve(&self, args: &[Bytes]) -> Result<&Command<H>, String> {
        let Some(cmd) = self.get(&args[0]) else {
            return Err(unknown_command(args));
        };
        if cmd.subcommands.is_empty() {
            return if cmd.arity_ok(args.len()) {
                Ok(cmd)
            } else {
                Err(wrong_args(cmd.name))
            };
        }
        // A container that runs alone (COMMAND) when given no subcommand.
        if args.len() == 1 && cmd.arity == -1 {
            return Ok(cmd);
        }
        if args.len() < 2 {
            return Err(wrong_args(cmd.name));
        }
        let Some(sub) = cmd.sub(&lower(&args[1])) else {
            return Err(unknown_subcommand(cmd.name, &args[1]));
        };
        if !sub.arity_ok(args.len()) {
            return Err(wrong_args(sub.name));
        }
        Ok(sub)
    }

    /// The command or subcommand `args` name, whatever their number (for the stats of a call
    /// rejected for its arity).
    pub fn named(&self, args: &[Bytes]) -> Option<&Command<H>> {
        let cmd = self.get(&args[0])?;
        match args.get(1) {
            Some(sub) if !cmd.subcommands.is_empty() => cmd.sub(&lower(sub)),
            _ => Some(cmd),
        }
    }

    /// [`Table::resolve`] for a connection that keeps `cache`: a command without subcommands
    /// named as its last one (byte for byte, as clients repeat it) is found without a lookup.
    #[inline]
    pub fn resolve_cached(
        &self,
        cache: &mut NameCache,
        args: &[Bytes],
    ) -> Result<&Command<H>, String> {
        let name = &args[0][..];
        if cache.len != 0 && cache.len as usize == name.len() && cache.name[..name.len()] == *name {
            let cmd = &self.commands[cache.index as usize];
            if cmd.arity_ok(args.len()) {
                return Ok(cmd);
            }
        }
        let cmd = self.resolve(args)?;
        if cmd.subcommands.is_empty() && !name.is_empty() && name.len() <= cache.name.len() {
            if let Some(&i) = self.index.get(cmd.name.as_bytes()) {
                if std::ptr::eq(&self.commands[i], cmd) {
                    cache.name[..name.len()].copy_from_slice(name);
                    cache.len = name.len() as u8;
                    cache.index = i as u32;
                }
            }
        }
        Ok(cmd)
    }

    /// Every command and subcommand, each container before its subcommands.
    pub fn all(&self) -> impl Iterator<Item = &Command<H>> {
        self.commands
            .iter()
            .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
    }
}
