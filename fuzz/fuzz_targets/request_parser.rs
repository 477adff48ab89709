//! Fuzzes the request parser: arbitrary bytes, fed in arbitrary chunk sizes, must never panic,
//! and must parse the same requests as when fed in one piece.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use picket::resp::{Limits, RequestParser};

fn parse_all(data: &[u8], chunk: usize) -> (Vec<Vec<Vec<u8>>>, bool) {
    let mut p = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match p.parse(&mut buf, Limits::default()) {
                Ok(Some(r)) => out.push(r.args.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

fuzz_target!(|input: &[u8]| {
    if input.is_empty() {
        return;
    }
    let chunk = input[0] as usize % 17 + 1;
    let data = &input[1..];
    let (whole, err_whole) = parse_all(data, data.len().max(1));
    let (pieces, err_pieces) = parse_all(data, chunk);
    if !err_whole && !err_pieces {
        assert_eq!(whole, pieces);
    }
});
