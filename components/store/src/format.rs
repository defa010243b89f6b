//! The on-flash byte format of one record copy. Pure functions: encoding, parsing, CRC.
//!
//! Each copy starts at its sector boundary (see [`crate::layout`]) and holds, all integers
//! little-endian:
//!
//! | offset | length | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `"SNR1"` (`53 4E 52 31`) |
//! | 4 | 4 | tag: the layout's 4-byte tag (e.g. `"BOOT"`) |
//! | 8 | 8 | sequence number, `u64`, 1 for the first record, +1 per update |
//! | 16 | 4 | payload length `n`, `u32` |
//! | 20 | n | payload |
//! | 20 + n | 4 | CRC-32C (Castagnoli, reflected, init and xorout `0xFFFFFFFF`, check value `0xE3069283`) of bytes `0 .. 20 + n` |
//! | 24 + n | .. | the erased value up to the next multiple of the flash write size, then erased to the copy's end |
//!
//! A copy is classified as:
//! - **blank**: the 20 header bytes are all the flash's erased value (`0xFF` on NOR, `0x00` on
//!   parts that erase to zero: `hal::flash::ErasedValue`), never written, or erased;
//! - **foreign**: a record that verifies (magic, length, CRC) but carries another layout's tag
//!   (never read, may be overwritten);
//! - **corrupt**: anything else that does not verify (bad magic, zero sequence number, length
//!   beyond the copy, CRC mismatch: a torn write, a torn erase, a bit flip, even one in the tag);
//! - **valid**: magic, tag, length and CRC all check.
//!
//! The CRC is last in the byte stream and the writer writes in address order, so a write that a
//! power cut stops early leaves a valid copy only if every byte it did not land already holds
//! its intended value: trailing bytes that are the erased value (padding, or CRC bytes that happen
//! to be it, as erased flash reads). The copy is then the complete new record, not a torn one.
//! Otherwise only a 2^-32 CRC coincidence on undefined torn bytes could verify. The CRC guards against power cuts and radiation, not against an
//! attacker with write access to flash.

use crc::{CRC_32_ISCSI, Crc};

/// The magic at offset 0 of every copy.
pub const MAGIC: [u8; 4] = *b"SNR1";
/// Header length: magic, tag, sequence, length.
pub const HEADER_LEN: usize = 20;
/// Trailer length: the CRC.
pub const TRAILER_LEN: usize = 4;
/// Size of the stack buffer used for every flash read and write; flash read and write sizes must
/// divide it.
pub const IO_CHUNK: usize = 256;

/// The CRC-32C algorithm used for records.
pub const CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// A parsed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The layout tag.
    pub tag: [u8; 4],
    /// Sequence number.
    pub seq: u64,
    /// Payload length.
    pub len: u32,
}

/// What the first 20 bytes of a copy say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderCheck {
    /// All the erased value.
    Blank,
    /// Not a record header (bad magic, zero sequence number, or length beyond `max_payload`).
    Corrupt,
    /// Plausible header; the CRC (and then the tag) is still to be checked.
    Plausible(Header),
}

/// Encode a header.
pub fn encode_header(h: &Header) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    let (magic, rest) = out.split_at_mut(4);
    magic.copy_from_slice(&MAGIC);
    let (tag, rest) = rest.split_at_mut(4);
    tag.copy_from_slice(&h.tag);
    let (seq, len) = rest.split_at_mut(8);
    seq.copy_from_slice(&h.seq.to_le_bytes());
    len.copy_from_slice(&h.len.to_le_bytes());
    out
}

/// Classify the first 20 bytes of a copy whose layout holds at most `max_payload` bytes, on a
/// flash whose erased value is `erased`.
pub fn check_header(bytes: &[u8; HEADER_LEN], max_payload: usize, erased: u8) -> HeaderCheck {
    if bytes.iter().all(|&b| b == erased) {
        return HeaderCheck::Blank;
    }
    let (magic, rest) = bytes.split_at(4);
    let (htag, rest) = rest.split_at(4);
    let (seq, len) = rest.split_at(8);
    if magic != MAGIC {
        return HeaderCheck::Corrupt;
    }
    let mut t = [0u8; 4];
    t.copy_from_slice(htag);
    let mut s = [0u8; 8];
    s.copy_from_slice(seq);
    let mut l = [0u8; 4];
    l.copy_from_slice(len);
    let (seq, len) = (u64::from_le_bytes(s), u32::from_le_bytes(l));
    if seq == 0 || len as usize > max_payload {
        return HeaderCheck::Corrupt;
    }
    HeaderCheck::Plausible(Header { tag: t, seq, len })
}

/// Total bytes a record with an `n`-byte payload occupies, before padding.
pub const fn record_len(n: usize) -> usize {
    HEADER_LEN + n + TRAILER_LEN
}

/// CRC-32C of a header followed by a payload.
pub fn record_crc(header: &[u8; HEADER_LEN], payload: &[u8]) -> u32 {
    let mut d = CRC32C.digest();
    d.update(header);
    d.update(payload);
    d.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(CRC32C.checksum(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn header_round_trip_and_exact_bytes() {
        let h = Header {
            tag: *b"BOOT",
            seq: 0x0102_0304_0506_0708,
            len: 12,
        };
        let bytes = encode_header(&h);
        assert_eq!(
            bytes,
            [
                0x53, 0x4E, 0x52, 0x31, b'B', b'O', b'O', b'T', 0x08, 0x07, 0x06, 0x05, 0x04, 0x03,
                0x02, 0x01, 12, 0, 0, 0
            ]
        );
        assert_eq!(check_header(&bytes, 100, 0xFF), HeaderCheck::Plausible(h));
        assert_eq!(check_header(&bytes, 11, 0xFF), HeaderCheck::Corrupt);
    }

    #[test]
    fn blank_corrupt_and_zero_sequence() {
        assert_eq!(
            check_header(&[0xFF; HEADER_LEN], 100, 0xFF),
            HeaderCheck::Blank
        );
        assert_eq!(
            check_header(&[0x00; HEADER_LEN], 100, 0x00),
            HeaderCheck::Blank
        );
        assert_eq!(
            check_header(&[0x00; HEADER_LEN], 100, 0xFF),
            HeaderCheck::Corrupt,
            "zeros are no blank on a flash that erases to 0xFF"
        );
        let mut b = encode_header(&Header {
            tag: *b"BOOT",
            seq: 1,
            len: 0,
        });
        b[0] = 0x13;
        assert_eq!(check_header(&b, 100, 0xFF), HeaderCheck::Corrupt);
        let z = encode_header(&Header {
            tag: *b"BOOT",
            seq: 0,
            len: 0,
        });
        assert_eq!(check_header(&z, 100, 0xFF), HeaderCheck::Corrupt);
    }

    #[test]
    fn every_header_byte_pattern_is_classified_without_panic() {
        // A deterministic walk over many header byte patterns (xorshift), including torn
        // prefixes of a real header followed by 0xFF.
        let real = encode_header(&Header {
            tag: *b"KEYS",
            seq: 7,
            len: 40,
        });
        for cut in 0..=HEADER_LEN {
            let mut b = [0xFF; HEADER_LEN];
            b[..cut].copy_from_slice(&real[..cut]);
            let c = check_header(&b, 100, 0xFF);
            match cut {
                0 => assert_eq!(c, HeaderCheck::Blank),
                HEADER_LEN => assert!(matches!(c, HeaderCheck::Plausible(_))),
                _ => assert!(!matches!(c, HeaderCheck::Plausible(_)), "cut {cut}: {c:?}"),
            }
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            let mut b = [0u8; HEADER_LEN];
            for byte in b.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *byte = x as u8;
            }
            if let HeaderCheck::Plausible(h) = check_header(&b, 100, 0xFF) {
                assert!(h.len <= 100 && h.seq != 0);
            }
        }
    }
}
