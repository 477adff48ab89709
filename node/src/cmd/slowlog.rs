//! SLOWLOG GET, LEN, RESET and HELP over the node's [`crate::state::slowlog::SlowLog`].

use super::Ctx;
use bytes::Bytes;
use picket::args::subcommand_syntax_error;
use picket::numfmt::parse_i64;

const ERR_COUNT: &str = "ERR count should be greater than or equal to -1";

/// SLOWLOG GET [count]: the newest `count` entries (10 by default, -1 for all).
pub fn get(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() > 3 {
        return ctx.out.error(&subcommand_syntax_error("slowlog", &a[1]));
    }
    let count = match a.get(2) {
        None => 10,
        Some(c) => match parse_i64(c) {
            Some(n) if n >= -1 => n,
            _ => return ctx.out.error(ERR_COUNT),
        },
    };
    let log = &ctx.st.slowlog.entries;
    let n = if count == -1 {
        log.len()
    } else {
        log.len().min(count as usize)
    };
    ctx.out.array(n);
    for e in log.iter().take(n) {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time);
        ctx.out.int(e.duration_us as i64);
        ctx.out.array(e.args.len());
        for arg in &e.args {
            ctx.out.bulk(arg);
        }
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(&e.name);
    }
}

/// SLOWLOG LEN
pub fn len(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.int(ctx.st.slowlog.entries.len() as i64)
}

/// SLOWLOG RESET
pub fn reset(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.st.slowlog.reset();
    ctx.out.ok()
}

/// SLOWLOG HELP
pub fn help(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.help(&[
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    ])
}
