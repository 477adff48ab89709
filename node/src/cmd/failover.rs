//! FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]: Redis 6.2's coordinated
//! switch of a master with one of its replicas. The command checks and starts it; the
//! mechanics are in [`crate::repl::failover`].

use super::Ctx;
use crate::repl::failover;
use crate::state::repl::FailoverState;
use bytes::Bytes;
use picket::args::eq_ic;

/// What FAILOVER was asked.
#[derive(Default)]
struct Request {
    target: Option<(String, u16)>,
    timeout_ms: i64,
    force: bool,
    abort: bool,
}

/// The options, each at most once, in any order (Redis's parse).
fn parse(ctx: &mut Ctx, a: &[Bytes]) -> Option<Request> {
    let mut r = Request::default();
    let mut j = 1;
    while j < a.len() {
        let o = &a[j];
        if eq_ic(o, "to") && j + 2 < a.len() && r.target.is_none() {
            let Some(port) = picket::numfmt::parse_i64(&a[j + 2]) else {
                ctx.out.error("ERR value is not an integer or out of range");
                return None;
            };
            let host = String::from_utf8_lossy(&a[j + 1]).into_owned();
            r.target = Some((host, port.clamp(0, 65535) as u16));
            j += 2;
        } else if eq_ic(o, "timeout") && j + 1 < a.len() && r.timeout_ms <= 0 {
            let Some(ms) = picket::numfmt::parse_i64(&a[j + 1]) else {
                ctx.out.error("ERR value is not an integer or out of range");
                return None;
            };
            if ms <= 0 {
                ctx.out.error("ERR FAILOVER timeout must be greater than 0");
                return None;
            }
            r.timeout_ms = ms;
            j += 1;
        } else if eq_ic(o, "force") && !r.force {
            r.force = true;
        } else if eq_ic(o, "abort") && !r.abort {
            r.abort = true;
        } else {
            ctx.out.error(picket::args::ERR_SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(r)
}

/// FAILOVER
pub fn failover_cmd(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(req) = parse(ctx, a) else {
        return;
    };
    if req.abort {
        if ctx.st.repl.failover.state == FailoverState::None {
            return ctx.out.error("ERR No failover in progress.");
        }
        failover::abort(ctx.node, ctx.st, "Failover manually aborted");
        return ctx.out.ok();
    }
    if ctx.st.repl.is_replica() {
        return ctx
            .out
            .error("ERR FAILOVER is not valid when server is a replica.");
    }
    if ctx.st.repl.replicas.is_empty() {
        return ctx.out.error("ERR FAILOVER requires connected replicas.");
    }
    if req.force && (req.timeout_ms == 0 || req.target.is_none()) {
        return ctx.out.error(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        );
    }
    if ctx.st.repl.failover.state != FailoverState::None {
        return ctx.out.error("ERR FAILOVER already in progress.");
    }
    if let Some((host, port)) = &req.target {
        match failover::find_replica(ctx.st, host, *port) {
            None => {
                return ctx
                    .out
                    .error("ERR FAILOVER target HOST and PORT is not a replica.")
            }
            Some(r) if r.syncing => {
                return ctx.out.error("ERR FAILOVER target replica is not online.")
            }
            Some(_) => {}
        }
    }
    failover::start(ctx.st, req.target, req.timeout_ms, req.force);
    ctx.out.ok();
}
