//! FUNCTION (LOAD, LIST, DELETE, FLUSH, STATS, KILL, HELP) and FCALL / FCALL_RO, on the
//! function engine ([`crate::script::functions`]); FUNCTION LOAD and DELETE and FLUSH are
//! propagated as written, as Redis propagates them.

use super::scripting::{check_flags, split_keys, with_script_context};
use super::Ctx;
use bytes::Bytes;
use picket::args::eq_ic;
use picket::resp::Reply;

fn fcall_generic(ctx: &mut Ctx, a: &[Bytes], ro: bool) {
    let Some(mut engine) = ctx.st.functions.take() else {
        return ctx
            .out
            .error("ERR This Redis command is not allowed from script");
    };
    let name = String::from_utf8_lossy(&a[1]).into_owned();
    let (keys, args) = match split_keys(a, true) {
        Ok(v) => v,
        Err(e) => {
            ctx.st.functions = Some(engine);
            return ctx.out.error(&e);
        }
    };
    let Some(flags) = engine.find(&name).map(|f| f.flags) else {
        ctx.st.functions = Some(engine);
        return ctx.out.error("ERR Function not found");
    };
    if let Err(e) = check_flags(ctx, &flags, ro) {
        ctx.st.functions = Some(engine);
        return ctx.out.error(&e);
    }
    let counts = (engine.library_count(), engine.function_count());
    ctx.node.script_busy.set_function(&name, a, counts);
    with_script_context(ctx, &flags, ro || flags.no_writes, |host, out| {
        engine.call(host, &name, keys, args, out);
    });
    ctx.st.functions = Some(engine);
}

pub fn fcall(ctx: &mut Ctx, a: &[Bytes]) {
    fcall_generic(ctx, a, false)
}

pub fn fcall_ro(ctx: &mut Ctx, a: &[Bytes]) {
    fcall_generic(ctx, a, true)
}

fn engine<'a>(ctx: &'a mut Ctx) -> Option<&'a mut crate::script::functions::Functions> {
    ctx.st.functions.as_deref_mut()
}

/// FUNCTION LOAD [REPLACE] code
pub fn load(ctx: &mut Ctx, a: &[Bytes]) {
    let (replace, code) = match &a[2..] {
        [code] => (false, code),
        [opt, code] if eq_ic(opt, "replace") => (true, code),
        [opt, ..] => {
            return ctx.out.error(&format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(opt)
            ))
        }
        [] => {
            return ctx
                .out
                .error("ERR wrong number of arguments for 'function|load' command")
        }
    };
    let Some(f) = engine(ctx) else {
        return ctx
            .out
            .error("ERR This Redis command is not allowed from script");
    };
    match f.load(code, replace) {
        Ok(name) => {
            ctx.propagate(a.to_vec());
            ctx.st.dirty += 1;
            ctx.out.bulk(name.as_bytes())
        }
        Err(e) => ctx.out.error(&e),
    }
}

/// FUNCTION DELETE library
pub fn delete(ctx: &mut Ctx, a: &[Bytes]) {
    let name = String::from_utf8_lossy(&a[2]).into_owned();
    if engine(ctx).is_some_and(|f| f.delete(&name)) {
        ctx.propagate(a.to_vec());
        ctx.st.dirty += 1;
        return ctx.out.ok();
    }
    ctx.out.error("ERR Library not found")
}

/// FUNCTION FLUSH [ASYNC|SYNC]
pub fn flush(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() > 3 {
        let sub = String::from_utf8_lossy(&a[1]);
        return ctx.out.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."
        ));
    }
    if a.len() == 3 && !eq_ic(&a[2], "async") && !eq_ic(&a[2], "sync") {
        return ctx
            .out
            .error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    }
    if let Some(f) = engine(ctx) {
        f.flush();
    }
    ctx.propagate(a.to_vec());
    ctx.st.dirty += 1;
    ctx.out.ok();
}

/// FUNCTION DUMP: every library in Redis's payload format (FUNCTION2 records, the RDB
/// version, a CRC64).
pub fn dump(ctx: &mut Ctx, _a: &[Bytes]) {
    let codes = engine(ctx).map(|f| f.codes()).unwrap_or_default();
    let compress = ctx.st.config.get_bool("rdbcompression");
    let payload =
        crate::rdb::write::dump_payload(compress, |w| codes.iter().try_for_each(|c| w.function(c)));
    ctx.out.bulk(&payload);
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: all of the payload's libraries or none.
pub fn restore(ctx: &mut Ctx, a: &[Bytes]) {
    if a.len() > 4 {
        let sub = String::from_utf8_lossy(&a[1]);
        return ctx.out.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."
        ));
    }
    let policy =
        match a.get(3) {
            None => "append",
            Some(p) if eq_ic(p, "append") => "append",
            Some(p) if eq_ic(p, "replace") => "replace",
            Some(p) if eq_ic(p, "flush") => "flush",
            Some(_) => return ctx.out.error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        };
    let Some(body) = crate::rdb::read::verify_payload(&a[2]) else {
        return ctx
            .out
            .error("ERR DUMP payload version or checksum are wrong");
    };
    let codes = match crate::rdb::read::function_records(body) {
        Ok(c) => c,
        Err(e) => return ctx.out.error(&format!("ERR {e}")),
    };
    let Some(f) = engine(ctx) else {
        return ctx
            .out
            .error("ERR This Redis command is not allowed from script");
    };
    let old = f.codes();
    if policy == "flush" {
        f.flush();
    }
    let failed = codes.iter().find_map(|code| {
        if policy == "append" {
            if let Ok(name) = crate::script::functions::library_name(code) {
                if f.has_library(&name) {
                    return Some(format!("ERR Library {name} already exists"));
                }
            }
        }
        f.load(code, policy == "replace").err()
    });
    if let Some(e) = failed {
        // Nothing of the payload stays: the libraries are as they were.
        f.flush();
        for code in &old {
            let _ = f.load(code, true);
        }
        return ctx.out.error(&e);
    }
    ctx.propagate(a.to_vec());
    ctx.st.dirty += 1;
    ctx.out.ok();
}

/// FUNCTION KILL (reached only when nothing runs).
pub fn kill(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.error("NOTBUSY No scripts in execution right now.");
}

/// FUNCTION STATS
pub fn stats(ctx: &mut Ctx, _a: &[Bytes]) {
    let (libs, funcs) = ctx
        .st
        .functions
        .as_ref()
        .map(|f| (f.libraries.len(), f.function_count()))
        .unwrap_or_default();
    write_stats(ctx.out, None, libs, funcs);
}

/// The running function (name, command, ms so far) while one is busy.
pub type RunningFunction<'a> = (&'a str, &'a [Bytes], u64);

/// FUNCTION STATS's reply, also given while a function is busy.
pub fn write_stats(out: &mut Reply, running: Option<RunningFunction>, libs: usize, funcs: usize) {
    out.map(2);
    out.bulk(b"running_script");
    match running {
        Some((name, argv, ms)) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"command");
            out.array(argv.len());
            for a in argv {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(ms as i64);
        }
        None => out.null(),
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libs as i64);
    out.bulk(b"functions_count");
    out.int(funcs as i64);
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
pub fn list(ctx: &mut Ctx, a: &[Bytes]) {
    let (mut pattern, mut code) = (None, false);
    let mut i = 2;
    while i < a.len() {
        if eq_ic(&a[i], "withcode") && !code {
            code = true;
        } else if eq_ic(&a[i], "libraryname") && pattern.is_none() {
            let Some(p) = a.get(i + 1) else {
                return ctx.out.error("ERR library name argument was not given");
            };
            pattern = Some(p.clone());
            i += 1;
        } else {
            return ctx.out.error(&format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(&a[i])
            ));
        }
        i += 1;
    }
    let Some(f) = ctx.st.functions.as_ref() else {
        return ctx.out.array(0);
    };
    let libs: Vec<_> = f
        .libraries
        .values()
        .filter(|l| {
            pattern
                .as_ref()
                .is_none_or(|p| picket::glob::glob_match(p, l.name.as_bytes(), false))
        })
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for lib in libs {
        out.map(if code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for func in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(func.name.as_bytes());
            out.bulk(b"description");
            match &func.description {
                Some(d) => out.bulk(d.as_bytes()),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names = func.flags.names();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
}

/// FUNCTION HELP
pub fn help(ctx: &mut Ctx, _a: &[Bytes]) {
    ctx.out.help(HELP);
}

const HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];
