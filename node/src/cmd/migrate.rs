//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
//! [AUTH2 username password] [KEYS key ...], as Redis 7.0 does it: synchronously (the server
//! waits, as redis-server does), over a cached connection ([`crate::state::migrate`]), one
//! pipeline of AUTH, SELECT (when the connection's database differs) and a RESTORE per key
//! with its remaining TTL and DUMP payload; a stale cached connection is retried once. Keys
//! the target acknowledged are deleted here unless COPY, and propagated as one DEL.

use super::coll::class;
use super::Ctx;
use crate::state::migrate::Cached;
use crate::state::stream::encode_command;
use bytes::Bytes;
use picket::args::eq_ic;
use std::io::{BufRead, ErrorKind, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const ERR_SYNTAX: &str = "ERR syntax error";

/// What MIGRATE was asked.
struct Request {
    copy: bool,
    replace: bool,
    user: Option<Bytes>,
    password: Option<Bytes>,
    keys: Vec<Bytes>,
    db: i64,
    timeout: Duration,
}

/// Parses the options and numbers in Redis's order (the options first).
fn parse(ctx: &mut Ctx, a: &[Bytes]) -> Option<Request> {
    let mut r = Request {
        copy: false,
        replace: false,
        user: None,
        password: None,
        keys: vec![a[3].clone()],
        db: 0,
        timeout: Duration::ZERO,
    };
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        let o = &a[j];
        if eq_ic(o, "copy") {
            r.copy = true;
        } else if eq_ic(o, "replace") {
            r.replace = true;
        } else if eq_ic(o, "auth") && more >= 1 {
            r.password = Some(a[j + 1].clone());
            j += 1;
        } else if eq_ic(o, "auth2") && more >= 2 {
            r.user = Some(a[j + 1].clone());
            r.password = Some(a[j + 2].clone());
            j += 2;
        } else if eq_ic(o, "keys") {
            if !a[3].is_empty() {
                ctx.out.error("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
                return None;
            }
            r.keys = a[j + 1..].to_vec();
            break;
        } else {
            ctx.out.error(ERR_SYNTAX);
            return None;
        }
        j += 1;
    }
    let number = |b: &Bytes| picket::numfmt::parse_i64(b);
    let (Some(timeout), Some(db)) = (number(&a[5]), number(&a[4])) else {
        ctx.out.error("ERR value is not an integer or out of range");
        return None;
    };
    r.db = db;
    r.timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    Some(r)
}

/// MIGRATE
pub fn migrate(ctx: &mut Ctx, a: &[Bytes]) {
    let Some(req) = parse(ctx, a) else {
        return;
    };
    let db = ctx.db();
    let keys: Vec<Bytes> = req
        .keys
        .iter()
        .filter(|k| ctx.st.ks.lookup(db, k, ctx.now).is_some())
        .cloned()
        .collect();
    if keys.is_empty() {
        return ctx.out.simple("NOKEY");
    }
    let name = format!(
        "{}:{}",
        String::from_utf8_lossy(&a[1]),
        String::from_utf8_lossy(&a[2])
    );
    let mut may_retry = true;
    loop {
        match attempt(ctx, &req, &keys, &name) {
            Ok(()) => return,
            Err(Failure::Connect) => {
                return ctx
                    .out
                    .error("IOERR error or timeout connecting to the client")
            }
            Err(Failure::Io { writing, retryable }) => {
                ctx.st.migrate.close(&name);
                if retryable && may_retry {
                    may_retry = false;
                    continue;
                }
                let what = if writing { "writing" } else { "reading" };
                return ctx
                    .out
                    .error(&format!("IOERR error or timeout {what} to target instance"));
            }
        }
    }
}

/// Why an attempt failed.
enum Failure {
    /// The connection could not be made in time (no retry).
    Connect,
    /// Writing or reading failed; retried once when it was not a timeout and nothing was
    /// acknowledged yet.
    Io { writing: bool, retryable: bool },
}

fn io_failure(e: &std::io::Error, writing: bool) -> Failure {
    let timed_out = matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
    Failure::Io {
        writing,
        retryable: !timed_out,
    }
}

/// The cached connection to `name`, connecting when there is none.
fn socket<'s>(
    ctx: &'s mut Ctx,
    host: &[u8],
    port: &[u8],
    name: &str,
    timeout: Duration,
) -> Result<&'s mut Cached, Failure> {
    if ctx.st.migrate.get(name).is_some() {
        return Ok(ctx.st.migrate.get(name).expect("checked"));
    }
    let port = picket::numfmt::parse_i64(port).unwrap_or(0).clamp(0, 65535) as u16;
    let host = String::from_utf8_lossy(host).to_string();
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or(Failure::Connect)?;
    let stream = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(s) => s,
        // Redis's non-blocking connect only fails when it first writes.
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            return Err(Failure::Io {
                writing: true,
                retryable: true,
            })
        }
        Err(_) => return Err(Failure::Connect),
    };
    let _ = stream.set_nodelay(true);
    Ok(ctx.st.migrate.insert(name.to_string(), stream))
}

/// The pipeline: AUTH, SELECT when needed, a RESTORE per key still alive (those keys are
/// returned in order).
fn pipeline(ctx: &mut Ctx, req: &Request, keys: &[Bytes], select: bool) -> (Vec<u8>, Vec<Bytes>) {
    let mut buf = Vec::new();
    let b = |s: &'static [u8]| Bytes::from_static(s);
    if let Some(pw) = &req.password {
        let mut auth = vec![b(b"AUTH")];
        auth.extend(req.user.clone());
        auth.push(pw.clone());
        encode_command(&mut buf, &auth);
    }
    if select {
        encode_command(&mut buf, &[b(b"SELECT"), Bytes::from(req.db.to_string())]);
    }
    let db = ctx.db();
    let compress = ctx.st.config.get_bool("rdbcompression");
    let mut sent = Vec::new();
    for k in keys {
        let ttl = match ctx.st.ks.expire_of(db, k) {
            Some(at) if at - ctx.now < 0 => continue,
            Some(at) => (at - ctx.now).max(1),
            None => 0,
        };
        let Some(e) = ctx.st.ks.dbs[db].main.get(&k[..]) else {
            continue;
        };
        let payload = crate::rdb::write::dump_payload(compress, |w| w.value(None, &e.val));
        let mut args = vec![
            b(b"RESTORE"),
            k.clone(),
            Bytes::from(ttl.to_string()),
            Bytes::from(payload),
        ];
        if req.replace {
            args.push(b(b"REPLACE"));
        }
        encode_command(&mut buf, &args);
        sent.push(k.clone());
    }
    (buf, sent)
}

fn read_line(c: &mut Cached) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    if c.conn.read_until(b'\n', &mut line)? == 0 {
        return Err(ErrorKind::UnexpectedEof.into());
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(line)
}

/// One try: send the pipeline, read the replies, delete what was acknowledged.
fn attempt(ctx: &mut Ctx, req: &Request, keys: &[Bytes], name: &str) -> Result<(), Failure> {
    let (host, port) = (ctx.args[1].clone(), ctx.args[2].clone());
    let last_db = socket(ctx, &host, &port, name, req.timeout)?.last_db;
    let select = last_db != req.db;
    let (buf, sent) = pipeline(ctx, req, keys, select);
    let c = ctx.st.migrate.get(name).expect("connected");
    let stream = c.conn.get_mut();
    let _ = stream.set_write_timeout(Some(req.timeout));
    let _ = stream.set_read_timeout(Some(req.timeout));
    stream.write_all(&buf).map_err(|e| io_failure(&e, true))?;
    let mut first_error: Option<Vec<u8>> = None;
    for wanted in [req.password.is_some(), select] {
        if wanted {
            let line = read_line(c).map_err(|e| io_failure(&e, false))?;
            if line.first() == Some(&b'-') && first_error.is_none() {
                first_error = Some(line);
            }
        }
    }
    let mut acked = Vec::new();
    let mut socket_error = None;
    let mut target_error = false;
    for (j, k) in sent.iter().enumerate() {
        let c = ctx.st.migrate.get(name).expect("connected");
        let line = match read_line(c) {
            Ok(l) => l,
            Err(e) => {
                socket_error = Some((j, e));
                break;
            }
        };
        let err = first_error
            .clone()
            .or((line.first() == Some(&b'-')).then_some(line));
        match err {
            Some(e) if !target_error => {
                target_error = true;
                c.last_db = -1;
                ctx.out.error(&format!(
                    "ERR Target instance replied with error: {}",
                    String::from_utf8_lossy(&e[1..])
                ));
            }
            Some(_) => {}
            None if !req.copy => {
                let db = ctx.db();
                ctx.st.ks.delete(db, k);
                ctx.notify(class::GENERIC, "del", k);
                ctx.dirty(1);
                acked.push(k.clone());
            }
            None => {}
        }
    }
    if let Some((0, e)) = &socket_error {
        if !target_error {
            return Err(io_failure(e, false));
        }
    }
    if !acked.is_empty() {
        let mut del = vec![Bytes::from_static(b"DEL")];
        del.extend(acked);
        ctx.propagate(del);
    }
    if socket_error.is_some() {
        ctx.st.migrate.close(name);
        if !target_error {
            return Err(Failure::Io {
                writing: false,
                retryable: false,
            });
        }
    }
    if !target_error {
        if let Some(c) = ctx.st.migrate.get(name) {
            c.last_db = req.db;
        }
        ctx.out.ok();
    }
    Ok(())
}
