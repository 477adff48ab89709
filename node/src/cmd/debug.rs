//! DEBUG (gated by `enable-debug-command` as in Redis 7).

use super::Ctx;
use crate::db::{RStr, Value};
use bytes::Bytes;
use picket::args::{eq_ic, float_arg, Args};
use sha1_smol::Sha1;

const NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

fn allowed(ctx: &Ctx) -> bool {
    match ctx.node.hot.read().debug_command.as_str() {
        "yes" => true,
        "local" => {
            let a = &ctx.sess.client.addr;
            a.starts_with("127.") || a.starts_with("[::1]") || a.starts_with('/')
        }
        _ => false,
    }
}

/// XORs SHA1(data) into `digest` (order-independent accumulation).
fn xor_digest(digest: &mut [u8; 20], data: &[u8]) {
    let h = Sha1::from(data).digest().bytes();
    for (d, x) in digest.iter_mut().zip(h.iter()) {
        *d ^= x;
    }
}

/// Mixes `data` into `digest` order-dependently: xor, then hash the result.
fn mix_digest(digest: &mut [u8; 20], data: &[u8]) {
    xor_digest(digest, data);
    *digest = Sha1::from(&digest[..]).digest().bytes();
}

fn value_digest(v: &Value) -> [u8; 20] {
    let mut d = [0u8; 20];
    match v {
        Value::Str(s) => mix_digest(&mut d, &s.as_bytes()),
        Value::List(l) => {
            for e in l.iter() {
                mix_digest(&mut d, e);
            }
        }
        // Unordered types: an order-independent XOR of each element's own digest.
        Value::Set(s) => {
            for m in s.members() {
                let mut e = [0u8; 20];
                mix_digest(&mut e, &m);
                xor_digest(&mut d, &e);
            }
        }
        Value::Hash(h) => {
            for (f, v) in h.pairs() {
                let mut e = [0u8; 20];
                mix_digest(&mut e, f);
                mix_digest(&mut e, v);
                xor_digest(&mut d, &e);
            }
        }
        Value::ZSet(z) => {
            for (s, m) in z.view().take(0, usize::MAX) {
                let mut e = [0u8; 20];
                mix_digest(&mut e, m);
                mix_digest(&mut e, picket::numfmt::fmt_g17(s).as_bytes());
                xor_digest(&mut d, &e);
            }
        }
    }
    d
}

fn hex(d: &[u8; 20]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The dataset digest: zeros for an empty dataset, else an order-independent hash of every
/// key, value and expiry.
fn dataset_digest(ctx: &Ctx) -> [u8; 20] {
    let mut fin = [0u8; 20];
    for (i, db) in ctx.st.ks.dbs.iter().enumerate() {
        if db.main.is_empty() {
            continue;
        }
        mix_digest(&mut fin, &(i as u32).to_be_bytes());
        for (k, e) in db.main.iter() {
            let mut kd = [0u8; 20];
            mix_digest(&mut kd, k);
            let vd = value_digest(&e.val);
            mix_digest(&mut kd, &vd);
            if let Some(t) = db.expires.get(k) {
                mix_digest(&mut kd, format!("!!expire!!{t}").as_bytes());
            }
            xor_digest(&mut fin, &kd);
        }
    }
    fin
}

/// DEBUG subcommand ...
pub fn debug(ctx: &mut Ctx, a: &[Bytes]) {
    if !allowed(ctx) {
        return ctx.out.error(NOT_ALLOWED);
    }
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match (sub.as_str(), a.len()) {
        ("sleep", 3) => {
            let secs = float_arg(&a[2]).unwrap_or(0.0).max(0.0);
            std::thread::sleep(std::time::Duration::from_secs_f64(secs));
            ctx.out.ok();
        }
        ("pause-cron", 3) => {
            ctx.st.cron_paused = !eq_ic(&a[2], "0");
            ctx.out.ok();
        }
        ("set-disable-deny-scripts", 3) => {
            ctx.st.scripts_deny_disabled = !eq_ic(&a[2], "0");
            ctx.out.ok();
        }
        ("set-active-expire", 3) => {
            ctx.st.active_expire = !eq_ic(&a[2], "0");
            ctx.out.ok();
        }
        ("object", 3) => object_info(ctx, &a[2]),
        ("populate", 3..=5) => populate(ctx, a),
        ("digest", 2) => {
            let d = dataset_digest(ctx);
            ctx.out.simple(&hex(&d));
        }
        ("digest-value", _) => digest_values(ctx, &a[2..]),
        ("reload", _) => reload(ctx, &a[2..]),
        ("quicklist-packed-threshold", 3) => {
            let size = picket::config::parse_memory(&String::from_utf8_lossy(&a[2]));
            match size.map(crate::rdb::write::set_packed_threshold) {
                Some(true) => ctx.out.ok(),
                _ => ctx.out.error(
                    "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                ),
            }
        }
        ("loadaof", 2) => {
            match crate::persistence::aof::reload_in_command(ctx.node, &super::Executor, ctx.st) {
                Ok(()) => ctx.out.ok(),
                Err(e) => {
                    tracing::warn!("{e}");
                    ctx.out.error("ERR Error loading the AOF, check the log")
                }
            }
        }
        ("protocol", 3) => protocol(ctx, &a[2]),
        ("replicate", 3..) => {
            let argv: Vec<&[u8]> = a[2..].iter().map(|x| &x[..]).collect();
            crate::propagate::feed_replicas_only(ctx.st, &argv);
            ctx.out.ok();
        }
        ("aof-flush-sleep", 3) => match picket::args::int_arg(&a[2]) {
            Ok(us) => {
                ctx.st.aof_flush_sleep_us = us.max(0) as u64;
                ctx.out.ok();
            }
            Err(_) => ctx.out.error(picket::args::ERR_NOT_INT),
        },
        ("segfault", 2) => {
            // SAFETY: the crash DEBUG SEGFAULT asks for; the handler reports it and dies.
            unsafe { libc::raise(libc::SIGSEGV) };
        }
        ("log", 3) => {
            tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(&a[2]));
            ctx.out.ok();
        }
        ("change-repl-id", 2) => {
            ctx.st.replid2 = std::mem::replace(&mut ctx.st.replid, picket::random_hex_id());
            ctx.out.ok();
        }
        ("help", _) => ctx.out.help(HELP),
        _ => ctx.out.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&a[1])
        )),
    }
}

const HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <command> [<arg> ...]",
    "    Send a command to the replicas only, as if it were a write (to test how they react).",
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about the ziplist encoding of <key>.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "HELP",
    "    Prints this help.",
];

/// DEBUG OBJECT key
fn object_info(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.db();
    let Some(e) = ctx.st.ks.dbs[db].main.get(key) else {
        return ctx.out.error("ERR no such key");
    };
    let ser = match &e.val {
        Value::Str(RStr::Int(_)) => 2,
        Value::Str(s) => s.len() + 1,
        v => v.approx_size() + 1,
    };
    let line = format!(
        "Value at:0x{:x} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        e as *const _ as usize,
        e.val.encoding(),
        ser,
        e.lru,
        crate::db::lru::AccessPolicy::idle_secs(e.lru)
    );
    ctx.out.simple(&line);
}

/// DEBUG DIGEST-VALUE key ...
fn digest_values(ctx: &mut Ctx, keys: &[Bytes]) {
    let db = ctx.db();
    ctx.out.array(keys.len());
    for k in keys {
        let d = ctx.st.ks.dbs[db]
            .main
            .get(k)
            .map(|e| value_digest(&e.val))
            .unwrap_or([0u8; 20]);
        ctx.out.simple(&hex(&d));
    }
}

/// DEBUG RELOAD: save, empty, load back: what a restart would see.
/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves (unless NOSAVE), then loads the file over
/// the dataset, or into it with NOFLUSH (MERGE: what the file has wins; without it a key or
/// library already there fails the load).
fn reload(ctx: &mut Ctx, opts: &[Bytes]) {
    let (mut merge, mut noflush, mut nosave) = (false, false, false);
    for o in opts {
        match String::from_utf8_lossy(o).to_ascii_lowercase().as_str() {
            "merge" => merge = true,
            "noflush" => noflush = true,
            "nosave" => nosave = true,
            _ => {
                return ctx
                    .out
                    .error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
            }
        }
    }
    if !nosave && crate::persistence::save(ctx.st).is_err() {
        return ctx.out.error("ERR Error trying to save the DB");
    }
    let path = crate::persistence::rdb_file::rdb_path(ctx.st);
    let lim = ctx.st.ks.enc;
    // A master drops the keys the file held already expired, a replica keeps them.
    let drop_expired = !ctx.st.ks.is_replica;
    let loaded = if noflush {
        let (dbs, lru) = (ctx.st.ks.dbs.len(), ctx.st.ks.lru.initial());
        crate::persistence::rdb_file::read_rdb_file(&path, dbs, &lim, lru, drop_expired, None, 0)
            .map_err(|e| e.to_string())
            .and_then(|l| match l {
                Some(l) => crate::persistence::rdb_file::merge(ctx.st, l, merge),
                None => Ok(()),
            })
    } else {
        crate::persistence::rdb_file::load_rdb(ctx.st, &path, &lim, drop_expired)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    match loaded {
        Ok(_) => {
            tracing::info!("DB reloaded by DEBUG RELOAD");
            ctx.out.ok()
        }
        Err(e) => ctx
            .out
            .error(&format!("ERR Error trying to load the RDB dump: {e}")),
    }
}

/// DEBUG PROTOCOL type: a sample reply of each RESP type, in the client's protocol (RESP2
/// gets each type's RESP2 form; a push is refused there), as Redis's protocol tests read them.
fn protocol(ctx: &mut Ctx, kind: &[u8]) {
    let out = &mut *ctx.out;
    match String::from_utf8_lossy(kind).to_ascii_lowercase().as_str() {
        "string" => out.bulk(b"Hello World"),
        "integer" => out.int(12345),
        // Redis's sample double, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" => {
            let n = "1234567999999999999999999999999999999";
            if out.resp3 {
                out.raw(format!("({n}\r\n").as_bytes());
            } else {
                out.bulk(n.as_bytes());
            }
        }
        "null" => out.null(),
        "array" | "set" | "map" => {
            let kind = kind.to_ascii_lowercase();
            match kind.as_slice() {
                b"array" => out.array(3),
                b"set" => out.set(3),
                _ => out.map(3),
            }
            for i in 0..3 {
                out.int(i);
                if kind == b"map" {
                    out.boolean(i == 1);
                }
            }
        }
        "attrib" => {
            if out.resp3 {
                out.raw(b"|1\r\n");
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !out.resp3 {
                return out.error("ERR RESP2 is not supported by this command");
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        "verbatim" => out.verbatim(b"This is a verbatim\nstring"),
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        _ => out.error(
            "ERR Wrong protocol type name. Please use one of the following: \
             string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        ),
    }
}

/// DEBUG POPULATE count [prefix] [size]: creates `prefix:N` keys (default `key`) holding
/// `value:N`, padded with zero bytes or cut to `size` when given; existing keys are skipped.
fn populate(ctx: &mut Ctx, a: &[Bytes]) {
    let mut args = Args::at(a, 2);
    let count = match ctx.parsed(args.int()) {
        Some(c) if c >= 0 => c,
        Some(_) => return ctx.out.error("ERR value is out of range, must be positive"),
        None => return,
    };
    let prefix = args
        .try_arg()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_else(|| "key".into());
    let size = if args.is_done() {
        None
    } else {
        match ctx.parsed(args.int_in(0, i64::MAX, "ERR value is out of range")) {
            Some(s) => Some(s as usize),
            None => return,
        }
    };
    let db = ctx.db();
    for j in 0..count {
        let key = format!("{prefix}:{j}");
        if ctx.st.ks.dbs[db].main.contains_key(key.as_bytes()) {
            continue;
        }
        let mut val = format!("value:{j}").into_bytes();
        if let Some(n) = size {
            val.resize(n, 0);
        }
        ctx.st
            .ks
            .set(db, key.as_bytes(), Value::Str(RStr::from_arg(&val)), false);
    }
    ctx.out.ok();
}
