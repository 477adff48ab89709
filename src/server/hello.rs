//! HELLO, shared by the node and the sentinel: its arguments read through the cursor with
//! Redis's errors, and its reply map.

use crate::args::{eq_ic, ArgError, Args};
use crate::resp::Reply;
use bytes::Bytes;

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
#[derive(Debug, Default)]
pub struct HelloArgs {
    /// 2 or 3.
    pub proto: Option<i64>,
    pub auth: Option<(Bytes, Bytes)>,
    pub setname: Option<Bytes>,
}

impl HelloArgs {
    pub fn parse(argv: &[Bytes]) -> Result<HelloArgs, ArgError> {
        let mut args = Args::new(argv);
        let mut h = HelloArgs::default();
        if args.is_done() {
            return Ok(h);
        }
        match args.int_or("ERR Protocol version is not an integer or out of range")? {
            v @ 2..=3 => h.proto = Some(v),
            _ => return Err("NOPROTO unsupported protocol version".into()),
        }
        while let Some(w) = args.try_arg() {
            if eq_ic(w, "auth") && args.remaining() >= 2 {
                h.auth = Some((args.arg()?.clone(), args.arg()?.clone()));
            } else if eq_ic(w, "setname") && !args.is_done() {
                h.setname = Some(args.arg()?.clone());
            } else {
                return Err(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(w)
                )
                .into());
            }
        }
        Ok(h)
    }
}

/// The error for HELLO from a client not authenticated (and without AUTH).
pub const NOAUTH: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";

/// HELLO's reply: the server map, with `role` when the program has one (the sentinel has not).
pub fn write_reply(out: &mut Reply, proto: i64, id: u64, mode: &str, role: Option<&str>) {
    out.map(6 + role.is_some() as usize);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(id as i64);
    out.bulk(b"mode");
    out.bulk(mode.as_bytes());
    if let Some(r) = role {
        out.bulk(b"role");
        out.bulk(r.as_bytes());
    }
    out.bulk(b"modules");
    out.array(0);
}
