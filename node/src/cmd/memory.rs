//! MEMORY (USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP) and MODULE (LIST, HELP; loading
//! is refused as a redis-server with `enable-module-command no` refuses it). Sizes come from
//! Picket's counting allocator and its per-value estimates, laid out as Redis reports them.

use super::Ctx;
use crate::db::{RStr, Value};
use bytes::Bytes;
use picket::args::{eq_ic, ERR_NOT_INT, ERR_SYNTAX};
use picket::numfmt::parse_i64;

fn round8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// The bytes a key and its value take: the table entry, the key, the value (its elements
/// estimated as a whole; `samples` is accepted as Redis takes it).
fn usage(key: &[u8], v: &Value) -> usize {
    let value = match v {
        Value::Str(RStr::Int(_)) => 16,
        Value::Str(RStr::Emb(b)) => (b.len() + 20).div_ceil(8) * 8,
        other => 16 + other.approx_size(),
    };
    24 + round8(key.len() + 9) + value
}

/// MEMORY USAGE key [SAMPLES count]
pub fn memory_usage(ctx: &mut Ctx, a: &[Bytes]) {
    let mut i = 3;
    while i < a.len() {
        if eq_ic(&a[i], "samples") && i + 1 < a.len() {
            match parse_i64(&a[i + 1]) {
                Some(n) if n >= 0 => {}
                Some(_) => return ctx.out.error(ERR_SYNTAX),
                None => return ctx.out.error(ERR_NOT_INT),
            }
            i += 2;
        } else {
            return ctx.out.error(ERR_SYNTAX);
        }
    }
    let db = ctx.db();
    // No access recorded and no `keymiss` event, as Redis looks the key up for MEMORY USAGE.
    let d = &ctx.st.ks.dbs[db];
    match d
        .main
        .get(&a[2][..])
        .filter(|_| !d.is_expired_at(&a[2], ctx.now))
    {
        None => ctx.out.null(),
        Some(e) => {
            let n = usage(&a[2], &e.val);
            ctx.out.int(n as i64)
        }
    }
}

/// MEMORY STATS: Redis's fields, in its order.
pub fn memory_stats(ctx: &mut Ctx, _a: &[Bytes]) {
    let used = crate::alloc::used_memory() as i64;
    let peak = crate::alloc::peak_memory() as i64;
    let rss = super::info::rss_bytes() as i64;
    let dbs: Vec<(usize, usize, usize)> = ctx
        .st
        .ks
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.main.is_empty())
        .map(|(i, d)| (i, d.main.len(), d.expires.len()))
        .collect();
    let keys: usize = dbs.iter().map(|d| d.1).sum();
    let overhead: i64 = dbs.iter().map(|d| (d.1 + d.2) as i64 * 24).sum();
    let dataset = (used - overhead).max(0);
    let ratio = |a: i64, b: i64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    let out = &mut *ctx.out;
    out.map(25 + dbs.len());
    let ints: [(&str, i64); 10] = [
        ("peak.allocated", peak),
        ("total.allocated", used),
        ("startup.allocated", 0),
        ("replication.backlog", 0),
        ("clients.slaves", 0),
        ("clients.normal", 0),
        ("cluster.links", 0),
        ("aof.buffer", 0),
        ("lua.caches", 0),
        ("functions.caches", 0),
    ];
    for (k, v) in ints {
        out.bulk(k.as_bytes());
        out.int(v);
    }
    for (i, main, expires) in &dbs {
        out.bulk(format!("db.{i}").as_bytes());
        out.map(3);
        out.bulk(b"overhead.hashtable.main");
        out.int(*main as i64 * 24);
        out.bulk(b"overhead.hashtable.expires");
        out.int(*expires as i64 * 24);
        out.bulk(b"overhead.hashtable.slot-to-keys");
        out.int(0);
    }
    let per_key = if keys > 0 { dataset / keys as i64 } else { 0 };
    out.bulk(b"overhead.total");
    out.int(overhead);
    out.bulk(b"keys.count");
    out.int(keys as i64);
    out.bulk(b"keys.bytes-per-key");
    out.int(per_key);
    out.bulk(b"dataset.bytes");
    out.int(dataset);
    out.bulk(b"dataset.percentage");
    out.double(ratio(dataset * 100, used));
    out.bulk(b"peak.percentage");
    out.double(ratio(used * 100, peak));
    for (k, v) in [
        ("allocator.allocated", used),
        ("allocator.active", used),
        ("allocator.resident", rss),
    ] {
        out.bulk(k.as_bytes());
        out.int(v);
    }
    let pairs: [(&str, f64, i64); 4] = [
        ("allocator-fragmentation", 1.0, 0),
        ("allocator-rss", ratio(rss, used), rss - used),
        ("rss-overhead", 1.0, 0),
        ("fragmentation", ratio(rss, used), rss - used),
    ];
    for (k, r, b) in pairs {
        out.bulk(format!("{k}.ratio").as_bytes());
        out.double(r);
        out.bulk(format!("{k}.bytes").as_bytes());
        out.int(b);
    }
}

/// MEMORY DOCTOR
pub fn memory_doctor(ctx: &mut Ctx, _a: &[Bytes]) {
    let used = crate::alloc::used_memory();
    let text = if used < 5 << 20 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
    } else {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
    };
    ctx.out.verbatim(text.as_bytes())
}

/// MEMORY MALLOC-STATS
pub fn memory_malloc_stats(ctx: &mut Ctx, _a: &[Bytes]) {
    let text = format!(
        "Stats not supported for the current allocator\nallocated: {}\npeak: {}\n",
        crate::alloc::used_memory(),
        crate::alloc::peak_memory()
    );
    ctx.out.verbatim(text.as_bytes())
}

/// MEMORY PURGE
pub fn memory_purge(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.ok()
}

/// MEMORY HELP
pub fn memory_help(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.help(&[
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ])
}

/// MODULE LIST: no modules.
pub fn module_list(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.array(0)
}

/// MODULE LOAD / LOADEX / UNLOAD: refused, as with `enable-module-command no`.
pub fn module_refused(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.error("ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
}

/// MODULE HELP
pub fn module_help(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.help(&[
        "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST",
        "    Return a list of loaded modules.",
        "LOAD <path> [<arg> ...]",
        "    Load a module library from <path>, passing to it any optional arguments.",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        "    Load a module library from <path>, while passing it module configurations and optional arguments.",
        "UNLOAD <name>",
        "    Unload a module.",
        "HELP",
        "    Prints this help.",
    ])
}

/// LOLWUT [VERSION v]: the version line (Redis 7.0's default drawing is empty).
pub fn lolwut(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.verbatim(b"Redis ver. 7.0.15\n")
}
