//! The RDB format (version 10, what Redis 7.0 writes): a writer and a reader with no I/O of
//! their own beyond the `Write`/`Read` they are given, the LZF and CRC-64 they need, and the
//! listpack/intset blobs inside (and, to read, the ziplists and zipmaps of Redis 6.2 and older). Used by SAVE, start-up loading and (later) full resyncs.

pub mod crc64;
pub mod listpack;
pub mod lzf;
pub mod read;
pub mod write;
pub mod ziplist;

pub const RDB_VERSION: u32 = 10;

pub const OP_FUNCTION2: u8 = 0xf5;
/// Redis 7.0's release candidates' function record, which 7.0 refuses.
pub const OP_FUNCTION_PRE_GA: u8 = 0xf6;
pub const OP_MODULE_AUX: u8 = 0xf7;
pub const OP_IDLE: u8 = 0xf8;
pub const OP_FREQ: u8 = 0xf9;
pub const OP_AUX: u8 = 0xfa;
pub const OP_RESIZEDB: u8 = 0xfb;
pub const OP_EXPIRETIME_MS: u8 = 0xfc;
pub const OP_EXPIRETIME: u8 = 0xfd;
pub const OP_SELECTDB: u8 = 0xfe;
pub const OP_EOF: u8 = 0xff;

pub const T_STRING: u8 = 0;
pub const T_LIST: u8 = 1;
pub const T_SET: u8 = 2;
pub const T_ZSET: u8 = 3;
pub const T_HASH: u8 = 4;
pub const T_ZSET_2: u8 = 5;
pub const T_MODULE_2: u8 = 7;
/// Redis 6.2 and older; read, never written.
pub const T_HASH_ZIPMAP: u8 = 9;
pub const T_LIST_ZIPLIST: u8 = 10;
pub const T_SET_INTSET: u8 = 11;
pub const T_ZSET_ZIPLIST: u8 = 12;
pub const T_HASH_ZIPLIST: u8 = 13;
pub const T_LIST_QUICKLIST: u8 = 14;
pub const T_HASH_LISTPACK: u8 = 16;
pub const T_ZSET_LISTPACK: u8 = 17;
pub const T_LIST_QUICKLIST_2: u8 = 18;
pub const T_SET_LISTPACK: u8 = 20;

/// A score as Redis writes it in a listpack (d2string): integers without a decimal point,
/// others as %.17g, infinities as inf/-inf.
pub fn score_text(s: f64) -> Vec<u8> {
    if s.is_finite() && s == s.trunc() && s.abs() < 9_007_199_254_740_992.0 {
        (s as i64).to_string().into_bytes()
    } else {
        picket::numfmt::fmt_double_reply(s).into_bytes()
    }
}

#[cfg(test)]
mod tests;
