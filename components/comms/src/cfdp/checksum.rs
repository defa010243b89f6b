//! CFDP file checksums (CCSDS 727.0-B-5 annex F and SANA registry), computed over the file in
//! order, in pieces of any size.
//!
//! Supported: modular (type 0: the sum of the file's 4-byte big-endian words, aligned to file
//! offset 0, the last word padded with zeros), CRC-32C (type 2), IEEE CRC-32 (type 3) and null
//! (type 15). Proximity-1 CRC-32 (type 1) is refused with a typed error. Avoids: buffering the
//! file; each piece is folded in as it is read.

use super::error::CfdpError;
use crc::{CRC_32_ISCSI, CRC_32_ISO_HDLC, Crc, Digest};
use spacepackets::cfdp::ChecksumType;

static CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);
static CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// A running file checksum.
pub enum FileChecksum {
    /// Modular sum: running sum, the partial word and how many bytes it has.
    Modular {
        /// Sum of the complete words so far.
        sum: u32,
        /// Partial word (big-endian, filled from the top byte down).
        word: [u8; 4],
        /// Bytes in `word`.
        fill: usize,
    },
    /// A CRC-32 digest.
    Crc(Digest<'static, u32>),
    /// The null checksum.
    Null,
}

impl FileChecksum {
    /// Start a checksum of `kind`.
    pub fn new(kind: ChecksumType) -> Result<Self, CfdpError> {
        Ok(match kind {
            ChecksumType::Modular => FileChecksum::Modular {
                sum: 0,
                word: [0; 4],
                fill: 0,
            },
            ChecksumType::Crc32 => FileChecksum::Crc(CRC32.digest()),
            ChecksumType::Crc32C => FileChecksum::Crc(CRC32C.digest()),
            ChecksumType::NullChecksum => FileChecksum::Null,
            ChecksumType::Crc32Proximity1 => return Err(CfdpError::UnsupportedChecksum(1)),
        })
    }

    /// Fold in the next bytes of the file.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            FileChecksum::Modular { sum, word, fill } => {
                for &b in bytes {
                    if let Some(slot) = word.get_mut(*fill) {
                        *slot = b;
                    }
                    *fill += 1;
                    if *fill == 4 {
                        *sum = sum.wrapping_add(u32::from_be_bytes(*word));
                        *word = [0; 4];
                        *fill = 0;
                    }
                }
            }
            FileChecksum::Crc(d) => d.update(bytes),
            FileChecksum::Null => {}
        }
    }

    /// The checksum of everything folded in.
    pub fn finish(self) -> u32 {
        match self {
            FileChecksum::Modular { sum, word, fill } => {
                if fill > 0 {
                    sum.wrapping_add(u32::from_be_bytes(word))
                } else {
                    sum
                }
            }
            FileChecksum::Crc(d) => d.finalize(),
            FileChecksum::Null => 0,
        }
    }
}

/// The checksum of a whole file in memory.
pub fn checksum_of(kind: ChecksumType, data: &[u8]) -> Result<u32, CfdpError> {
    let mut c = FileChecksum::new(kind)?;
    c.update(data);
    Ok(c.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modular_matches_the_standard_definition_in_any_pieces() {
        let data: Vec<u8> = (0..1003u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut expect = 0u32;
        for chunk in data.chunks(4) {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            expect = expect.wrapping_add(u32::from_be_bytes(w));
        }
        for piece in [1, 3, 4, 5, 1000] {
            let mut c = FileChecksum::new(ChecksumType::Modular).unwrap();
            for p in data.chunks(piece) {
                c.update(p);
            }
            assert_eq!(c.finish(), expect, "piece size {piece}");
        }
    }

    #[test]
    fn crc32_check_values() {
        // The catalogue check values for "123456789".
        assert_eq!(
            checksum_of(ChecksumType::Crc32, b"123456789").unwrap(),
            0xCBF4_3926
        );
        assert_eq!(
            checksum_of(ChecksumType::Crc32C, b"123456789").unwrap(),
            0xE306_9283
        );
        assert_eq!(checksum_of(ChecksumType::NullChecksum, b"x").unwrap(), 0);
        assert!(FileChecksum::new(ChecksumType::Crc32Proximity1).is_err());
    }
}
