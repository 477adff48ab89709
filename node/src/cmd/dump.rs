//! DUMP and RESTORE (and RESTORE-ASKING): a key's value in Redis's DUMP payload — the RDB
//! encoding of the value ([`crate::rdb`]), the RDB version in two bytes and a CRC-64 of
//! everything before — so payloads move between picket-node and redis-server both ways.

use super::coll::class;
use super::Ctx;
use crate::db::lru::{lru_clock, AccessPolicy, LRU_CLOCK_MAX};
use bytes::Bytes;
use picket::args::{eq_ic, ArgError, Args, ERR_NOT_INT, ERR_SYNTAX};
use picket::numfmt::parse_i64;

/// DUMP key
pub fn dump(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    let compress = ctx.st.config.get_bool("rdbcompression");
    match ctx.st.ks.lookup(db, &a[1], ctx.now) {
        None => ctx.out.null(),
        Some(e) => {
            let payload = crate::rdb::write::dump_payload(compress, |w| w.value(None, &e.val));
            ctx.out.bulk(&payload)
        }
    }
}

/// RESTORE's options.
#[derive(Default)]
struct RestoreOptions {
    replace: bool,
    absttl: bool,
    idle: Option<i64>,
    freq: Option<i64>,
}

impl RestoreOptions {
    fn parse(args: &mut Args) -> Result<RestoreOptions, ArgError> {
        let mut o = RestoreOptions::default();
        while let Some(w) = args.try_arg() {
            let more = args.remaining() >= 1;
            if eq_ic(w, "replace") {
                o.replace = true;
            } else if eq_ic(w, "absttl") {
                o.absttl = true;
            } else if eq_ic(w, "idletime") && more && o.freq.is_none() {
                let n = parse_i64(args.arg()?).ok_or(ERR_NOT_INT)?;
                if n < 0 {
                    return Err("ERR Invalid IDLETIME value, must be >= 0".into());
                }
                o.idle = Some(n);
            } else if eq_ic(w, "freq") && more && o.idle.is_none() {
                let n = parse_i64(args.arg()?).ok_or(ERR_NOT_INT)?;
                if !(0..=255).contains(&n) {
                    return Err("ERR Invalid FREQ value, must be >= 0 and <= 255".into());
                }
                o.freq = Some(n);
            } else {
                return Err(ERR_SYNTAX.into());
            }
        }
        Ok(o)
    }
}

/// The access field a restored key gets from IDLETIME or FREQ (None: a fresh key's).
fn access_field(policy: &AccessPolicy, o: &RestoreOptions) -> Option<u32> {
    if policy.lfu {
        let freq = o.freq? as u32;
        let minutes = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() / 60)
            .unwrap_or(0)
            & 0xFFFF) as u32;
        return Some((minutes << 8) | freq);
    }
    let idle = o.idle?;
    let clock = i64::from(lru_clock());
    let mut at = clock - idle;
    if at < 0 {
        at = (clock + i64::from(LRU_CLOCK_MAX / 2)) % i64::from(LRU_CLOCK_MAX);
    }
    Some(at as u32)
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
pub fn restore(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(o) = ctx.parsed(RestoreOptions::parse(&mut Args::at(a, 4))) else {
        return;
    };
    let db = ctx.db();
    let key = &a[1];
    if !o.replace && ctx.st.ks.lookup_write(db, key, ctx.now).is_some() {
        return ctx.out.error("BUSYKEY Target key name already exists.");
    }
    let mut ttl = match parse_i64(&a[2]) {
        None => return ctx.out.error(ERR_NOT_INT),
        Some(t) if t < 0 => return ctx.out.error("ERR Invalid TTL value, must be >= 0"),
        Some(t) => t,
    };
    let Some(body) = crate::rdb::read::verify_payload(&a[3]) else {
        return ctx
            .out
            .error("ERR DUMP payload version or checksum are wrong");
    };
    let val = match crate::rdb::read::dump_value(body, &ctx.st.ks.enc) {
        Ok(v) => v,
        Err(_) => return ctx.out.error("ERR Bad data format"),
    };
    let deleted = o.replace && ctx.st.ks.delete(db, key).is_some();
    if ttl != 0 && !o.absttl {
        ttl = ttl.saturating_add(ctx.now);
    }
    if ttl != 0 && ttl <= ctx.now && !ctx.st.repl.is_replica() {
        // Already expired: the key is gone (and the deletion is what replicates).
        if deleted {
            ctx.st.ks.modified(db, key);
            ctx.notify(class::GENERIC, "del", key);
            ctx.dirty(1);
            let del: &'static [u8] = if ctx.st.config.get_bool("lazyfree-lazy-server-del") {
                b"UNLINK"
            } else {
                b"DEL"
            };
            ctx.propagate(vec![Bytes::from_static(del), key.clone()]);
        }
        return ctx.out.ok();
    }
    ctx.st.ks.set(db, key, val, false);
    let mut argv = a.to_vec();
    if ttl != 0 {
        ctx.st.ks.set_expire(db, key, ttl);
        if !o.absttl {
            argv[2] = Bytes::from(ttl.to_string());
            argv.push(Bytes::from_static(b"ABSTTL"));
        }
    }
    if let Some(field) = access_field(&ctx.st.ks.lru, &o) {
        if let Some(e) = ctx.st.ks.entry_mut(db, key) {
            e.lru = field;
        }
    }
    ctx.notify(class::GENERIC, "restore", key);
    ctx.dirty(1);
    ctx.propagate(argv);
    ctx.out.ok()
}
