//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (NX|XX|GT|LT), TTL, PTTL, EXPIRETIME,
//! PEXPIRETIME, PERSIST. Every expiry is propagated as an absolute PEXPIREAT.

use super::coll::class;
use super::Ctx;
use bytes::Bytes;
use picket::args::{eq_ic, ArgError, Args};

/// EXPIRE's conditions: NX, XX, GT, LT, checked for the combinations Redis refuses.
#[derive(Default)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Conditions {
    fn parse(args: &mut Args) -> Result<Conditions, ArgError> {
        let mut c = Conditions::default();
        while let Some(o) = args.try_arg() {
            if eq_ic(o, "nx") {
                c.nx = true;
            } else if eq_ic(o, "xx") {
                c.xx = true;
            } else if eq_ic(o, "gt") {
                c.gt = true;
            } else if eq_ic(o, "lt") {
                c.lt = true;
            } else {
                return Err(
                    format!("ERR Unsupported option {}", String::from_utf8_lossy(o)).into(),
                );
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(
                "ERR NX and XX, GT or LT options at the same time are not compatible".into(),
            );
        }
        if c.gt && c.lt {
            return Err("ERR GT and LT options at the same time are not compatible".into());
        }
        Ok(c)
    }

    /// Whether the new expiry `when` may replace `cur` (no TTL counts as an infinite one for
    /// GT and LT).
    fn allow(&self, cur: Option<i64>, when: i64) -> bool {
        (!self.nx || cur.is_none())
            && (!self.xx || cur.is_some())
            && (!self.gt || cur.map(|c| when > c).unwrap_or(false))
            && (!self.lt || cur.map(|c| when < c).unwrap_or(true))
    }
}

fn expire_generic(ctx: &mut Ctx, a: &[Bytes], seconds: bool, relative: bool) {
    let name = ctx.cmd.name;
    let Some(cond) = ctx.parsed(Conditions::parse(&mut Args::at(a, 3))) else {
        return;
    };
    let Some(v) = ctx.parsed(Args::at(a, 2).int()) else {
        return;
    };
    let bad = format!("ERR invalid expire time in '{name}' command");
    if seconds && !(i64::MIN / 1000..=i64::MAX / 1000).contains(&v) {
        return ctx.out.error(&bad);
    }
    let mut when = if seconds { v * 1000 } else { v };
    if relative {
        match when.checked_add(ctx.now) {
            Some(w) => when = w,
            None => return ctx.out.error(&bad),
        }
    }
    let db = ctx.db();
    if ctx.st.ks.lookup_write(db, &a[1], ctx.now).is_none() {
        return ctx.out.int(0);
    }
    let cur = ctx.st.ks.expire_of(db, &a[1]);
    if !cond.allow(cur, when) {
        return ctx.out.int(0);
    }
    if when <= ctx.now && !ctx.st.ks.is_replica && !ctx.st.ks.loading_aof {
        ctx.st.ks.delete(db, &a[1]);
        ctx.notify(class::GENERIC, "del", &a[1]);
        let lazy = ctx.st.settings.lazyfree_lazy_expire;
        ctx.propagate(vec![
            Bytes::from_static(if lazy { b"UNLINK" } else { b"DEL" }),
            a[1].clone(),
        ]);
    } else {
        ctx.st.ks.set_expire(db, &a[1], when);
        ctx.notify(class::GENERIC, "expire", &a[1]);
        let mut argv = vec![
            Bytes::from_static(b"PEXPIREAT"),
            a[1].clone(),
            Bytes::from(when.to_string()),
        ];
        argv.extend(a[3..].iter().cloned());
        ctx.propagate(argv);
    }
    ctx.dirty(1);
    ctx.out.int(1);
}

/// EXPIRE key seconds [NX|XX|GT|LT]
pub fn expire(ctx: &mut Ctx, a: &[Bytes]) {
    expire_generic(ctx, a, true, true);
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT]
pub fn pexpire(ctx: &mut Ctx, a: &[Bytes]) {
    expire_generic(ctx, a, false, true);
}

/// EXPIREAT key unix-time-seconds [NX|XX|GT|LT]
pub fn expireat(ctx: &mut Ctx, a: &[Bytes]) {
    expire_generic(ctx, a, true, false);
}

/// PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]
pub fn pexpireat(ctx: &mut Ctx, a: &[Bytes]) {
    expire_generic(ctx, a, false, false);
}

fn ttl_generic(ctx: &mut Ctx, a: &[Bytes], ms: bool, absolute: bool) {
    let db = ctx.db();
    if ctx.st.ks.lookup_notouch(db, &a[1], ctx.now).is_none() {
        return ctx.out.int(-2);
    }
    let Some(when) = ctx.st.ks.expire_of(db, &a[1]) else {
        return ctx.out.int(-1);
    };
    if absolute {
        return ctx.out.int(if ms { when } else { (when + 500) / 1000 });
    }
    let ttl = (when - ctx.now).max(0);
    ctx.out.int(if ms { ttl } else { (ttl + 500) / 1000 });
}

/// TTL key
pub fn ttl(ctx: &mut Ctx, a: &[Bytes]) {
    ttl_generic(ctx, a, false, false);
}

/// PTTL key
pub fn pttl(ctx: &mut Ctx, a: &[Bytes]) {
    ttl_generic(ctx, a, true, false);
}

/// EXPIRETIME key
pub fn expiretime(ctx: &mut Ctx, a: &[Bytes]) {
    ttl_generic(ctx, a, false, true);
}

/// PEXPIRETIME key
pub fn pexpiretime(ctx: &mut Ctx, a: &[Bytes]) {
    ttl_generic(ctx, a, true, true);
}

/// PERSIST key
pub fn persist(ctx: &mut Ctx, a: &[Bytes]) {
    let db = ctx.db();
    if ctx.st.ks.lookup_write(db, &a[1], ctx.now).is_none() {
        return ctx.out.int(0);
    }
    if ctx.st.ks.persist(db, &a[1]) {
        ctx.notify(class::GENERIC, "persist", &a[1]);
        ctx.dirty(1);
        ctx.propagate_as_is(a);
        ctx.out.int(1);
    } else {
        ctx.out.int(0);
    }
}
