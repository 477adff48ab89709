//! Lua scripting as Redis 7.0 embeds it: Lua 5.1 (mlua's vendored build) in Redis's sandbox,
//! with its libraries (`cjson`, `bit`, `cmsgpack`, `struct`) and the `redis` table. A leaf:
//! the commands a script runs go through [`Host`], which the command layer implements (as the
//! AOF's replay gets its `Replay`), so nothing here names the command table.
//!
//! - [`engine`]: the EVAL VM, its sandbox, the script cache and running a script.
//! - [`functions`]: the FUNCTION VM, libraries and `redis.register_function`.
//! - [`convert`]: replies to Lua values (`redis.call`) and Lua values to replies.
//! - [`shebang`]: `#!lua flags=...` and the flags a script runs with.
//! - [`busy`]: what other clients see of a long script (`-BUSY`, SCRIPT KILL, FUNCTION KILL).
//! - [`bit`], [`cjson`], [`cmsgpack`], [`lstruct`]: Redis's Lua libraries.
//! - [`rand48`]: `math.random` as Redis seeds and draws it.

pub mod bit;
pub mod busy;
pub mod cjson;
pub mod cmsgpack;
pub mod convert;
pub mod engine;
pub mod functions;
pub mod lstruct;
pub mod rand48;
pub mod sandbox;
pub mod shebang;

use bytes::Bytes;

pub use busy::Busy;
pub use engine::Engine;
pub use shebang::ScriptFlags;

/// What a running script needs from the server.
pub trait Host {
    /// Runs one command for `redis.call`/`redis.pcall` and returns its reply, RESP-encoded
    /// (RESP3 when `resp3`); a refused command is an error reply (`-ERR ...`).
    fn call(&mut self, argv: Vec<Bytes>, resp3: bool) -> Vec<u8>;
    /// `redis.log(level, ...)`.
    fn log(&mut self, level: i64, msg: &str);
    /// `redis.set_repl(flags)` (REPL_* bits: 1 AOF, 2 replicas).
    fn set_repl(&mut self, flags: i64);
}

/// The SHA1 of a script body, as 40 lowercase hex digits.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}
