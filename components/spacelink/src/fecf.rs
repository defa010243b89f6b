//! The frame error control field of TC (232.0 §4.1.4) and TM (132.0 §4.1.6) transfer frames:
//! CRC-16 with generator x^16 + x^12 + x^5 + 1, register preset to all ones, no reflection and
//! no final XOR (the `crc` crate's CRC-16/IBM-3740, a.k.a. CCITT-FALSE; check value 0x29B1).
//!
//! Avoids: a hand-written CRC (the `crc` crate's table-driven one, as the ppp crate uses).

use crc::{CRC_16_IBM_3740, Crc};

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

/// The CRC-16 of `bytes`.
pub fn compute(bytes: &[u8]) -> u16 {
    CRC16.checksum(bytes)
}

/// Whether `frame` ends with the correct CRC-16 of everything before it (false if shorter than
/// the field).
pub fn check(frame: &[u8]) -> bool {
    match frame.len().checked_sub(2) {
        Some(body) => compute(&frame[..body]).to_be_bytes() == frame[body..],
        None => false,
    }
}
