//! The RDB reader on arbitrary bytes: it must return Ok or an error with an offset, never
//! panic, hang or allocate without bound. Inputs starting with a valid header reach the
//! opcode and value decoders (the header is prepended when missing, half of the time).
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket_node::db::{EncodingLimits, Value};
use picket_node::rdb::read::{load, Sink};

struct Count(u64);

impl Sink for Count {
    fn key(&mut self, _db: usize, _k: Vec<u8>, v: Value, _e: Option<i64>) -> Result<(), String> {
        self.0 += v.elements() as u64;
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let input: Vec<u8> = if data.first().map(|b| b & 1 == 1).unwrap_or(false) {
        let mut v = b"REDIS0010".to_vec();
        v.extend_from_slice(&data[1..]);
        v
    } else {
        data.to_vec()
    };
    let tiny = EncodingLimits {
        hash_entries: 4,
        hash_value: 8,
        set_intset_entries: 4,
        zset_entries: 4,
        zset_value: 8,
    };
    let _ = load(&input[..], &tiny, &mut Count(0));
});
