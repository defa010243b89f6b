//! The RFC 1662 frame check sequence, FCS-16: CRC-16 with polynomial x^16+x^12+x^5+1, reflected,
//! initial value 0xFFFF, final complement, sent least significant octet first. This is the
//! catalogued CRC-16/IBM-SDLC (also called X-25), taken from the `crc` crate rather than a table of
//! our own; the tests check it against RFC 1662's own table algorithm, its "good FCS" residue and
//! the catalogue's check value.
//!
//! Avoids: a hand-written table.

use crc::{CRC_16_IBM_SDLC, Crc, Digest};

const ALG: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_SDLC);

/// What [`fcs16`] gives over an intact frame's contents *including* its received FCS octets:
/// RFC 1662 §C.2's "good FCS" register value 0xF0B8, complemented as the catalogued algorithm
/// does at the end (!0xF0B8 = 0x0F47).
pub const GOOD_RESIDUE: u16 = 0x0F47;

/// The FCS-16 of `bytes`, to be appended least significant octet first.
pub fn fcs16(bytes: &[u8]) -> u16 {
    ALG.checksum(bytes)
}

/// A running FCS over a frame, fed octet by octet as it is sent or received.
pub struct Running(Digest<'static, u16>);

impl Running {
    /// A fresh FCS (initial value 0xFFFF).
    pub fn new() -> Self {
        Self(ALG.digest())
    }

    /// Adds `bytes` to the FCS.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The FCS to append (complemented), least significant octet first.
    pub fn finish(self) -> u16 {
        self.0.finalize()
    }
}

impl Default for Running {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a received frame (its contents followed by the two FCS octets) is intact.
pub fn is_good(frame_with_fcs: &[u8]) -> bool {
    fcs16(frame_with_fcs) == GOOD_RESIDUE
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1662 §C.2's table generator, transcribed: `v = b; repeat 8 { v = v&1 ? (v>>1)^P : v>>1 }`
    /// with P = 0x8408, and its fcs16 loop with the table.
    fn rfc_fcs16(mut fcs: u16, bytes: &[u8]) -> u16 {
        let mut table = [0u16; 256];
        for (b, entry) in table.iter_mut().enumerate() {
            let mut v = b as u16;
            for _ in 0..8 {
                v = if v & 1 != 0 {
                    (v >> 1) ^ 0x8408
                } else {
                    v >> 1
                };
            }
            *entry = v;
        }
        // First entries as printed in RFC 1662 §C.2's fcstab.
        assert_eq!(
            &table[..8],
            &[
                0x0000, 0x1189, 0x2312, 0x329b, 0x4624, 0x57ad, 0x6536, 0x74bf
            ]
        );
        assert_eq!(table[255], 0x0f78);
        for &b in bytes {
            fcs = (fcs >> 8) ^ table[((fcs ^ b as u16) & 0xff) as usize];
        }
        fcs
    }

    #[test]
    fn catalogue_check_value() {
        // CRC-16/IBM-SDLC check value over "123456789" (Greg Cook's CRC catalogue): 0x906E.
        assert_eq!(fcs16(b"123456789"), 0x906E);
    }

    #[test]
    fn matches_rfc_1662_table_algorithm_and_good_fcs() {
        for msg in [&b""[..], b"\xff\x03\xc0\x21\x01\x01\x00\x04", b"123456789"] {
            // RFC 1662 §C.2 tryfcs16: trialfcs = pppfcs16(PPPINITFCS16, cp, len) ^ 0xffff.
            let rfc = rfc_fcs16(0xffff, msg) ^ 0xffff;
            assert_eq!(fcs16(msg), rfc);
            let mut framed = [0u8; 16];
            framed[..msg.len()].copy_from_slice(msg);
            framed[msg.len()..msg.len() + 2].copy_from_slice(&rfc.to_le_bytes());
            let whole = &framed[..msg.len() + 2];
            // RFC: pppfcs16(PPPINITFCS16, cp, len + 2) == PPPGOODFCS16 (0xf0b8).
            assert_eq!(rfc_fcs16(0xffff, whole), 0xf0b8);
            assert!(is_good(whole));
            let mut bad = framed;
            bad[0] ^= 1;
            assert!(!is_good(&bad[..msg.len() + 2]));
        }
    }
}
