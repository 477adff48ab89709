//! CRC-64/Jones as Redis computes it over an RDB file: reflected polynomial
//! 0x95ac9329ac4bc9b5, initial value 0, no final xor.

const POLY: u64 = 0x95ac_9329_ac4b_c9b5;

const fn table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut k = 0;
        while k < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            k += 1;
        }
        t[i] = crc;
        i += 1;
    }
    t
}

static TABLE: [u64; 256] = table();

/// Tables for slicing-by-8: `T8[k][b]` is the CRC of byte b followed by k zero bytes.
const fn tables8() -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    t[0] = table();
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = t[0][(prev & 0xff) as usize] ^ (prev >> 8);
            i += 1;
        }
        k += 1;
    }
    t
}

static T8: [[u64; 256]; 8] = tables8();

/// Continues a CRC over `data` (eight bytes per step, then byte by byte).
pub fn update(mut crc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = crc ^ u64::from_le_bytes(w);
        crc = T8[7][(x & 0xff) as usize]
            ^ T8[6][((x >> 8) & 0xff) as usize]
            ^ T8[5][((x >> 16) & 0xff) as usize]
            ^ T8[4][((x >> 24) & 0xff) as usize]
            ^ T8[3][((x >> 32) & 0xff) as usize]
            ^ T8[2][((x >> 40) & 0xff) as usize]
            ^ T8[1][((x >> 48) & 0xff) as usize]
            ^ T8[0][(x >> 56) as usize];
    }
    for &b in chunks.remainder() {
        crc = TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn redis_test_vector() {
        assert_eq!(super::update(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn sliced_equals_bytewise() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut byte = 0u64;
        for b in &data {
            byte = super::update(byte, std::slice::from_ref(b));
        }
        assert_eq!(super::update(0, &data), byte);
        let (a, b) = data.split_at(333);
        assert_eq!(super::update(super::update(0, a), b), byte);
    }
}
