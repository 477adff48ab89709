//! CLIENT, shared by node and sentinel, one function per subcommand: ID, GETNAME, SETNAME, INFO,
//! LIST (TYPE, ID), KILL (the old `ip:port` form and the filter form: ID, TYPE, ADDR, LADDR,
//! USER, SKIPME), NO-EVICT, GETREDIR, HELP. PAUSE, UNPAUSE, REPLY and UNBLOCK change the
//! program's own state: they are parsed and checked here and come back to the caller as a
//! [`ClientAction`]. Arity is checked by the programs' command tables before.

use super::{ClientHandle, ClientKind, ClientRegistry};
use crate::args::{eq_ic, int_arg, subcommand_syntax_error, ERR_SYNTAX};
use crate::resp::Reply;
use bytes::Bytes;
use std::sync::Arc;

/// What the caller must do after CLIENT ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAction {
    None,
    /// CLIENT KILL matched the caller itself: close after the reply.
    CloseSelf,
    /// CLIENT PAUSE: pause clients for `ms` (only writes when `write_only`); reply +OK.
    Pause {
        ms: u64,
        write_only: bool,
    },
    /// CLIENT UNPAUSE; reply +OK.
    Unpause,
    /// CLIENT REPLY: ON replies +OK; OFF and SKIP reply nothing.
    Reply(ReplyMode),
    /// CLIENT UNBLOCK: reply 1 if that client was blocked and is released, else 0.
    Unblock {
        id: u64,
        error: bool,
    },
    /// Not handled here (TRACKING and friends): the caller answers.
    Unhandled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    Skip,
}

/// Which pause blocks a command, and until when (CLIENT PAUSE).
#[derive(Debug, Clone, Copy, Default)]
pub struct PauseState {
    pub until: Option<std::time::Instant>,
    pub write_only: bool,
    /// A FAILOVER waits for its replica: writes are held (whatever CLIENT PAUSE/UNPAUSE do)
    /// until it ends.
    pub failover: bool,
}

impl PauseState {
    /// A new pause never shortens an active one, and ALL wins over WRITE (as Redis).
    pub fn pause(&mut self, ms: u64, write_only: bool) {
        let now = std::time::Instant::now();
        let until = now + std::time::Duration::from_millis(ms);
        let active = self.until.map(|u| u > now).unwrap_or(false);
        if !active || self.until.map(|u| until > u).unwrap_or(true) {
            self.until = Some(until);
        }
        self.write_only = if active {
            self.write_only && write_only
        } else {
            write_only
        };
    }

    /// Until when a command must wait: `writes` says whether the pause in WRITE mode holds it.
    pub fn holds(&self, writes: bool) -> Option<std::time::Instant> {
        let client_pause = self.client_pause(writes);
        if self.failover && writes {
            let far = std::time::Instant::now() + std::time::Duration::from_secs(3600);
            return Some(client_pause.map_or(far, |u| u.max(far)));
        }
        client_pause
    }

    /// Whether some pause may hold commands (CLIENT PAUSE set, or a FAILOVER running).
    pub fn active(&self) -> bool {
        self.until.is_some() || self.failover
    }

    fn client_pause(&self, writes: bool) -> Option<std::time::Instant> {
        let until = self.until?;
        if std::time::Instant::now() >= until || (self.write_only && !writes) {
            return None;
        }
        Some(until)
    }
}

pub const BAD_NAME: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";

pub fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn kind_of(name: &[u8]) -> Option<Option<ClientKind>> {
    let l = String::from_utf8_lossy(name).to_ascii_lowercase();
    Some(match l.as_str() {
        "normal" => Some(ClientKind::Normal),
        "master" => Some(ClientKind::Master),
        "replica" | "slave" => Some(ClientKind::Replica),
        "pubsub" => Some(ClientKind::Pubsub),
        _ => return None,
    })
}

/// A CLIENT subcommand: runs for `me`, replies to `out`, and says what the caller must do.
pub type ClientFn = fn(&ClientRegistry, &Arc<ClientHandle>, &[Bytes], &mut Reply) -> ClientAction;

/// CLIENT ID
pub fn id(
    _: &ClientRegistry,
    me: &Arc<ClientHandle>,
    _: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    out.int(me.id as i64);
    ClientAction::None
}

/// CLIENT GETNAME
pub fn getname(
    _: &ClientRegistry,
    me: &Arc<ClientHandle>,
    _: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    let n = me.meta.lock().name.clone();
    if n.is_empty() {
        out.null()
    } else {
        out.bulk(&n)
    }
    ClientAction::None
}

/// CLIENT SETNAME connection-name
pub fn setname(
    _: &ClientRegistry,
    me: &Arc<ClientHandle>,
    a: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    if !valid_name(&a[2]) {
        out.error(BAD_NAME);
    } else {
        me.meta.lock().name = a[2].clone();
        out.ok();
    }
    ClientAction::None
}

/// CLIENT INFO
pub fn info(
    _: &ClientRegistry,
    me: &Arc<ClientHandle>,
    _: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    out.verbatim((me.info_line() + "\n").as_bytes());
    ClientAction::None
}

/// CLIENT LIST [TYPE type] [ID client-id ...]
pub fn list(
    registry: &ClientRegistry,
    _: &Arc<ClientHandle>,
    a: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    client_list(registry, a, out);
    ClientAction::None
}

/// CLIENT KILL ip:port | CLIENT KILL [ID id] [TYPE type] [USER u] [ADDR a] [LADDR a] [SKIPME y/n]
pub fn kill(
    registry: &ClientRegistry,
    me: &Arc<ClientHandle>,
    a: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    client_kill(registry, me, a, out)
}

/// CLIENT NO-EVICT ON|OFF
pub fn no_evict(
    _: &ClientRegistry,
    me: &Arc<ClientHandle>,
    a: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    match a.get(2) {
        Some(v) if eq_ic(v, "on") || eq_ic(v, "off") => {
            me.meta.lock().no_evict = eq_ic(v, "on");
            out.ok()
        }
        _ => out.error(ERR_SYNTAX),
    }
    ClientAction::None
}

/// CLIENT GETREDIR: no tracking, so -1.
pub fn getredir(
    _: &ClientRegistry,
    _: &Arc<ClientHandle>,
    _: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    out.int(-1);
    ClientAction::None
}

/// CLIENT PAUSE timeout [WRITE|ALL]
pub fn pause(
    _: &ClientRegistry,
    _: &Arc<ClientHandle>,
    a: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    parse_pause(a, out)
}

/// CLIENT UNPAUSE
pub fn unpause(
    _: &ClientRegistry,
    _: &Arc<ClientHandle>,
    _: &[Bytes],
    _: &mut Reply,
) -> ClientAction {
    ClientAction::Unpause
}

/// CLIENT REPLY ON|OFF|SKIP
pub fn reply(
    _: &ClientRegistry,
    _: &Arc<ClientHandle>,
    a: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    let mode = if eq_ic(&a[2], "on") {
        ReplyMode::On
    } else if eq_ic(&a[2], "off") {
        ReplyMode::Off
    } else if eq_ic(&a[2], "skip") {
        ReplyMode::Skip
    } else {
        out.error(ERR_SYNTAX);
        return ClientAction::None;
    };
    ClientAction::Reply(mode)
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
pub fn unblock(
    _: &ClientRegistry,
    _: &Arc<ClientHandle>,
    a: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    parse_unblock(a, out)
}

/// CLIENT TRACKING, TRACKINGINFO, CACHING: client-side caching is not there yet.
pub fn tracking(
    _: &ClientRegistry,
    _: &Arc<ClientHandle>,
    _: &[Bytes],
    _: &mut Reply,
) -> ClientAction {
    ClientAction::Unhandled
}
pub use tracking as trackinginfo;
pub use tracking as caching;

/// CLIENT HELP
pub fn help(
    _: &ClientRegistry,
    _: &Arc<ClientHandle>,
    _: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    out.help(&[
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Prints this help.",
    ]);
    ClientAction::None
}

/// The handlers of every CLIENT subcommand for a program's command context `$ctx` (which has
/// `node.registry`, `sess.client` and `out`), each calling the shared subcommand and handing
/// its [`ClientAction`] to `$apply(ctx, argv, action)`. Invoked inside a module of its own
/// (the program's `client`), whose functions [`crate::client_container`] names.
#[macro_export]
macro_rules! client_handlers {
    ($ctx:ty, $apply:path) => {
        $crate::client_handlers!(@each $ctx, $apply, caching getname getredir help id info kill
            list no_evict pause reply setname tracking trackinginfo unblock unpause);
    };
    (@each $ctx:ty, $apply:path, $($sub:ident)*) => {
        $(
            #[doc = concat!("CLIENT ", stringify!($sub), " (`picket::server::client_cmd`).")]
            pub fn $sub(ctx: &mut $ctx, a: &[::bytes::Bytes]) {
                let action = $crate::server::client_cmd::$sub(
                    &ctx.node.registry,
                    &ctx.sess.client,
                    a,
                    ctx.out,
                );
                $apply(ctx, a, action)
            }
        )*
    };
}

fn parse_pause(a: &[Bytes], out: &mut Reply) -> ClientAction {
    if a.len() > 4 {
        out.error(&subcommand_syntax_error("client", &a[1]));
        return ClientAction::None;
    }
    let ms = match int_arg(&a[2]) {
        Ok(ms) if ms >= 0 => ms as u64,
        Ok(_) => {
            out.error("ERR timeout is negative");
            return ClientAction::None;
        }
        Err(_) => {
            out.error("ERR timeout is not an integer or out of range");
            return ClientAction::None;
        }
    };
    let write_only = match a.get(3) {
        None => false,
        Some(m) if eq_ic(m, "write") => true,
        Some(m) if eq_ic(m, "all") => false,
        Some(_) => {
            out.error("ERR CLIENT PAUSE mode must be WRITE or ALL");
            return ClientAction::None;
        }
    };
    ClientAction::Pause { ms, write_only }
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
fn parse_unblock(a: &[Bytes], out: &mut Reply) -> ClientAction {
    if a.len() > 4 {
        out.error(&subcommand_syntax_error("client", &a[1]));
        return ClientAction::None;
    }
    let id = match int_arg(&a[2]) {
        Ok(id) => id,
        Err(e) => {
            out.error(e);
            return ClientAction::None;
        }
    };
    let error = match a.get(3) {
        None => false,
        Some(r) if eq_ic(r, "timeout") => false,
        Some(r) if eq_ic(r, "error") => true,
        Some(_) => {
            out.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return ClientAction::None;
        }
    };
    ClientAction::Unblock {
        id: id as u64,
        error,
    }
}

fn client_list(registry: &ClientRegistry, a: &[Bytes], out: &mut Reply) {
    let mut kind = None;
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < a.len() {
        if eq_ic(&a[i], "type") && i + 1 < a.len() {
            match kind_of(&a[i + 1]) {
                Some(k) => kind = k,
                None => {
                    return out.error(&format!(
                        "ERR Unknown client type '{}'",
                        String::from_utf8_lossy(&a[i + 1])
                    ))
                }
            }
            i += 2;
        } else if eq_ic(&a[i], "id") && i + 1 < a.len() {
            let mut v = Vec::new();
            for x in &a[i + 1..] {
                match int_arg(x) {
                    Ok(n) if n > 0 => v.push(n as u64),
                    _ => return out.error("ERR Invalid client ID"),
                }
            }
            ids = Some(v);
            i = a.len();
        } else {
            return out.error(ERR_SYNTAX);
        }
    }
    let mut text = String::new();
    for c in registry.all() {
        if kind.map(|k| c.kind() != k).unwrap_or(false) {
            continue;
        }
        if ids.as_ref().map(|v| !v.contains(&c.id)).unwrap_or(false) {
            continue;
        }
        text.push_str(&c.info_line());
        text.push('\n');
    }
    out.verbatim(text.as_bytes());
}

fn client_kill(
    registry: &ClientRegistry,
    me: &Arc<ClientHandle>,
    a: &[Bytes],
    out: &mut Reply,
) -> ClientAction {
    if a.len() == 3 {
        // Old form: CLIENT KILL addr:port
        let addr = String::from_utf8_lossy(&a[2]).into_owned();
        let Some(c) = registry.all().into_iter().find(|c| c.addr == addr) else {
            out.error("ERR No such client");
            return ClientAction::None;
        };
        out.ok();
        if c.id == me.id {
            return ClientAction::CloseSelf;
        }
        c.kill();
        return ClientAction::None;
    }
    if !a.len().is_multiple_of(2) {
        out.error(ERR_SYNTAX);
        return ClientAction::None;
    }
    let (mut id, mut kind, mut addr, mut laddr, mut user, mut skipme) =
        (None, None, None, None, None, true);
    for p in a[2..].chunks(2) {
        let v = &p[1];
        let err = if eq_ic(&p[0], "id") {
            match int_arg(v) {
                Ok(n) if n > 0 => {
                    id = Some(n as u64);
                    None
                }
                _ => Some("ERR client-id should be greater than 0".to_string()),
            }
        } else if eq_ic(&p[0], "type") {
            match kind_of(v) {
                Some(k) => {
                    kind = k;
                    None
                }
                None => Some(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(v)
                )),
            }
        } else if eq_ic(&p[0], "addr") {
            addr = Some(String::from_utf8_lossy(v).into_owned());
            None
        } else if eq_ic(&p[0], "laddr") {
            laddr = Some(String::from_utf8_lossy(v).into_owned());
            None
        } else if eq_ic(&p[0], "user") {
            let name = String::from_utf8_lossy(v).into_owned();
            let known = registry.user_exists(&name);
            let e = (!known).then(|| format!("ERR No such user '{name}'"));
            user = Some(name);
            e
        } else if eq_ic(&p[0], "skipme") {
            if eq_ic(v, "yes") {
                skipme = true;
                None
            } else if eq_ic(v, "no") {
                skipme = false;
                None
            } else {
                Some(ERR_SYNTAX.to_string())
            }
        } else {
            Some(ERR_SYNTAX.to_string())
        };
        if let Some(e) = err {
            out.error(&e);
            return ClientAction::None;
        }
    }
    let mut n = 0;
    let mut action = ClientAction::None;
    for c in registry.all() {
        if id.map(|i| c.id != i).unwrap_or(false)
            || kind.map(|k| c.kind() != k).unwrap_or(false)
            || addr.as_ref().map(|x| c.addr != *x).unwrap_or(false)
            || laddr.as_ref().map(|x| c.laddr != *x).unwrap_or(false)
            || user
                .as_ref()
                .map(|u| c.meta.lock().user != *u)
                .unwrap_or(false)
        {
            continue;
        }
        if c.id == me.id {
            if skipme {
                continue;
            }
            action = ClientAction::CloseSelf;
        } else {
            c.kill();
        }
        n += 1;
    }
    out.int(n);
    action
}
