//! COMMAND and its subcommands, answered from the node's table by the shared implementation
//! ([`picket::command::introspect`]).

use super::{command_table, Ctx};
use bytes::Bytes;
use picket::command::introspect;

/// COMMAND: every command's COMMAND INFO entry.
pub fn all(ctx: &mut Ctx, _a: &[Bytes]) {
    introspect::all_info(command_table(), ctx.out);
}

/// COMMAND COUNT
pub fn count(ctx: &mut Ctx, _a: &[Bytes]) {
    introspect::count(command_table(), ctx.out);
}

/// COMMAND INFO [command-name ...]
pub fn info(ctx: &mut Ctx, a: &[Bytes]) {
    introspect::info(command_table(), a, ctx.out);
}

/// COMMAND DOCS [command-name ...]
pub fn docs(ctx: &mut Ctx, a: &[Bytes]) {
    introspect::docs(command_table(), a, ctx.out);
}

/// COMMAND LIST [FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]
pub fn list(ctx: &mut Ctx, a: &[Bytes]) {
    introspect::list(command_table(), a, ctx.out);
}

/// COMMAND GETKEYS command [arg ...]
pub fn getkeys(ctx: &mut Ctx, a: &[Bytes]) {
    introspect::getkeys(command_table(), a, ctx.out, false);
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]
pub fn getkeysandflags(ctx: &mut Ctx, a: &[Bytes]) {
    introspect::getkeys(command_table(), a, ctx.out, true);
}

/// COMMAND HELP
pub fn help(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.help(picket::help::COMMAND);
}
