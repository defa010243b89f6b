//! The provisioning input: which security associations a node has, with their master keys.
//!
//! Keys are never written in code nor compiled into an image. The operator generates a
//! provisioning file (`spacenode provision-link --generate`; the ground keeps its own copy and
//! uses it with `spacenode ground --provisioning FILE`) and writes it into comms' provisioning
//! inbox before the first boot; comms seals it on its own flash ([`super::sealed`],
//! `comms_partition::keys`).
//!
//! # Byte format (version 1 or 2), all integers big-endian
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SNSA` |
//! | 4 | 1 | version, `1` or `2` |
//! | 5 | 1 | n, number of associations, `1..=MAX_ASSOCIATIONS` |
//! | 6 | h | version 2 only (h = 36, 0 in version 1): the key-encryption key, below |
//! | 6+h | 40·n | n association entries, below |
//! | 6+h+40·n | 4 | CRC-32C (Castagnoli) of every byte before it |
//!
//! Key-encryption key (version 2, 36 bytes; [`super::otar`]): it only unwraps keys sent over
//! the air (TC 130,6), it never protects traffic.
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 2 | MKID, the KEK's key id, `1..=127` (CCSDS 355.1 / CryptoLib: ids below 128 are master keys) |
//! | 2 | 2 | last KID: the highest key id an OTAR installed, `0` before the first; an OTAR's key ids must be above it |
//! | 4 | 32 | the KEK, not all zero |
//!
//! Association entry (40 bytes):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 2 | SPI, `1..=0xFFFE` (0 and 0xFFFF are reserved), unique |
//! | 2 | 2 | permissions bit set ([`Permissions`]); undefined bits must be 0 |
//! | 4 | 2 | uplink anti-replay window width W, `1..=65535` |
//! | 6 | 1 | flags: bit 0 = the association unsolicited telemetry (events, housekeeping) is sent under; exactly one entry has it; bits 1..=2 = the key's state ([`KeyState`]: 0 active, 1 pre-activation, 2 deactivated; 3 is refused); other bits 0. The telemetry association's key must be active |
//! | 7 | 1 | reserved, 0 |
//! | 8 | 32 | master key, not all zero |
//!
//! Avoids: heap (parsing borrows nothing and copies keys into a fixed array).

use super::key_state::KeyState;
use super::mac::{KEY_LEN, Key};
use super::otar::Kek;
use super::permissions::Permissions;

/// Most associations one node holds.
pub const MAX_ASSOCIATIONS: usize = 8;
/// Magic bytes.
pub const MAGIC: [u8; 4] = *b"SNSA";
/// Format version without a key-encryption key (still read and written).
pub const VERSION: u8 = 1;
/// Format version with a key-encryption key ([`Kek`]).
pub const VERSION_KEK: u8 = 2;
/// Bytes per association entry.
pub const ENTRY_LEN: usize = 40;
const HEADER_LEN: usize = 6;
/// Bytes of the version 2 key-encryption key block.
pub const KEK_BLOCK_LEN: usize = 4 + KEY_LEN;
const CRC_LEN: usize = 4;
const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// Why a provisioning file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProvisionError {
    /// Length is not `6 + 40·n + 4`.
    #[error("provisioning is {len} bytes, expected {expected}")]
    BadLength {
        /// Bytes given.
        len: usize,
        /// Bytes the header announces.
        expected: usize,
    },
    /// Not `SNSA`.
    #[error("provisioning magic is not SNSA")]
    BadMagic,
    /// Unknown version.
    #[error("provisioning version {0} is not supported (expected 1 or 2)")]
    BadVersion(u8),
    /// The key-encryption key block is wrong (MKID not `1..=127` or key all zero).
    #[error("the key-encryption key needs an MKID in 1..=127 and a key that is not all zero")]
    BadKek,
    /// n is 0 or above [`MAX_ASSOCIATIONS`].
    #[error("provisioning names {0} associations, expected 1..=8")]
    BadCount(u8),
    /// CRC-32C mismatch.
    #[error("provisioning CRC does not match (truncated or damaged file)")]
    BadCrc,
    /// SPI 0 or 0xFFFF.
    #[error("association {index}: SPI {spi:#06x} is reserved")]
    ReservedSpi {
        /// Entry index.
        index: usize,
        /// The SPI.
        spi: u16,
    },
    /// Same SPI twice.
    #[error("association {index}: SPI {spi:#06x} appears twice")]
    DuplicateSpi {
        /// Entry index.
        index: usize,
        /// The SPI.
        spi: u16,
    },
    /// Window width 0.
    #[error("association {index}: anti-replay window width must be at least 1")]
    ZeroWindow {
        /// Entry index.
        index: usize,
    },
    /// Undefined permission, flag or reserved bits set.
    #[error("association {index}: undefined bits set")]
    UndefinedBits {
        /// Entry index.
        index: usize,
    },
    /// Master key all zero though not destroyed, or a destroyed key not erased.
    #[error(
        "association {index}: master key is all zero (unset) though not destroyed, or destroyed but not erased"
    )]
    ZeroKey {
        /// Entry index.
        index: usize,
    },
    /// The telemetry association's key is not active (the node could send no report).
    #[error("association {index}: the telemetry association's key must be active")]
    TelemetryKeyInactive {
        /// Entry index.
        index: usize,
    },
    /// Not exactly one telemetry association.
    #[error("exactly one association must carry the telemetry flag, found {0}")]
    TelemetryFlag(usize),
}

/// One provisioned association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedSa {
    /// Security parameter index.
    pub spi: u16,
    /// What it may command.
    pub permissions: Permissions,
    /// Uplink anti-replay window width.
    pub window: u16,
    /// Unsolicited telemetry goes out under this association.
    pub telemetry: bool,
    /// Master key.
    pub master: Key,
    /// The master key's state.
    pub state: KeyState,
}

/// A parsed provisioning file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioning {
    sas: [Option<ProvisionedSa>; MAX_ASSOCIATIONS],
    kek: Option<Kek>,
}

impl Provisioning {
    /// Parse and check a provisioning file.
    pub fn parse(bytes: &[u8]) -> Result<Provisioning, ProvisionError> {
        let head = bytes.get(..HEADER_LEN).ok_or(ProvisionError::BadLength {
            len: bytes.len(),
            expected: HEADER_LEN + ENTRY_LEN + CRC_LEN,
        })?;
        if head[..4] != MAGIC {
            return Err(ProvisionError::BadMagic);
        }
        let kek_len = match head[4] {
            VERSION => 0,
            VERSION_KEK => KEK_BLOCK_LEN,
            v => return Err(ProvisionError::BadVersion(v)),
        };
        let n = head[5];
        if n == 0 || n as usize > MAX_ASSOCIATIONS {
            return Err(ProvisionError::BadCount(n));
        }
        let entries_at = HEADER_LEN + kek_len;
        let body_len = entries_at + ENTRY_LEN * n as usize;
        let expected = body_len + CRC_LEN;
        if bytes.len() != expected {
            return Err(ProvisionError::BadLength {
                len: bytes.len(),
                expected,
            });
        }
        let (body, crc) = bytes.split_at(body_len);
        let stored = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if CRC32C.checksum(body) != stored {
            return Err(ProvisionError::BadCrc);
        }
        let kek = match body.get(HEADER_LEN..entries_at) {
            Some(block) if !block.is_empty() => Some(Kek::parse(block)?),
            _ => None,
        };
        let mut sas: [Option<ProvisionedSa>; MAX_ASSOCIATIONS] = Default::default();
        let mut telemetry = 0;
        for (index, entry) in body[entries_at..].chunks_exact(ENTRY_LEN).enumerate() {
            let spi = u16::from_be_bytes([entry[0], entry[1]]);
            let perms = u16::from_be_bytes([entry[2], entry[3]]);
            let window = u16::from_be_bytes([entry[4], entry[5]]);
            let flags = entry[6];
            if spi == 0 || spi == 0xFFFF {
                return Err(ProvisionError::ReservedSpi { index, spi });
            }
            if sas.iter().flatten().any(|s| s.spi == spi) {
                return Err(ProvisionError::DuplicateSpi { index, spi });
            }
            if window == 0 {
                return Err(ProvisionError::ZeroWindow { index });
            }
            let state = KeyState::from_code((flags >> 1) & 3);
            let Some(state) = state.filter(|_| {
                Permissions::from_bits(perms).bits() == perms && flags & !7 == 0 && entry[7] == 0
            }) else {
                return Err(ProvisionError::UndefinedBits { index });
            };
            if flags & 1 == 1 && state != KeyState::Active {
                return Err(ProvisionError::TelemetryKeyInactive { index });
            }
            let mut key = [0u8; KEY_LEN];
            key.copy_from_slice(&entry[8..8 + KEY_LEN]);
            let master = Key::from_bytes(key);
            zeroize::Zeroize::zeroize(&mut key);
            // A destroyed key is erased (all zero); every other key is set.
            if master.is_zero() != (state == KeyState::Destroyed) {
                return Err(ProvisionError::ZeroKey { index });
            }
            telemetry += usize::from(flags & 1);
            if let Some(slot) = sas.get_mut(index) {
                *slot = Some(ProvisionedSa {
                    spi,
                    permissions: Permissions::from_bits(perms),
                    window,
                    telemetry: flags & 1 == 1,
                    master,
                    state,
                });
            }
        }
        if telemetry != 1 {
            return Err(ProvisionError::TelemetryFlag(telemetry));
        }
        Ok(Provisioning { sas, kek })
    }

    /// The associations, in file order.
    pub fn associations(&self) -> impl Iterator<Item = &ProvisionedSa> {
        self.sas.iter().flatten()
    }

    /// The key-encryption key (version 2 files), if any.
    pub fn kek(&self) -> Option<&Kek> {
        self.kek.as_ref()
    }

    /// Encode `sas` in the version 1 format (no key-encryption key) into `out`, returning the
    /// length. Used by provisioning tools and tests; the result always parses (or this returns
    /// the error `parse` would).
    pub fn encode(sas: &[ProvisionedSa], out: &mut [u8]) -> Result<usize, ProvisionError> {
        Self::encode_file(sas, None, out)
    }

    /// Encode `sas` and, if given, the key-encryption key `kek` (then in version 2) into
    /// `out`, returning the length; the result always parses.
    pub fn encode_file(
        sas: &[ProvisionedSa],
        kek: Option<&Kek>,
        out: &mut [u8],
    ) -> Result<usize, ProvisionError> {
        let n = sas.len();
        if n == 0 || n > MAX_ASSOCIATIONS {
            return Err(ProvisionError::BadCount(n.min(255) as u8));
        }
        let entries_at = HEADER_LEN + kek.map_or(0, |_| KEK_BLOCK_LEN);
        let body_len = entries_at + ENTRY_LEN * n;
        let total = body_len + CRC_LEN;
        if out.len() < total {
            return Err(ProvisionError::BadLength {
                len: out.len(),
                expected: total,
            });
        }
        out[..4].copy_from_slice(&MAGIC);
        out[4] = if kek.is_some() { VERSION_KEK } else { VERSION };
        out[5] = n as u8;
        if let Some(k) = kek {
            k.encode(&mut out[HEADER_LEN..entries_at]);
        }
        for (sa, entry) in sas
            .iter()
            .zip(out[entries_at..body_len].chunks_exact_mut(ENTRY_LEN))
        {
            entry[0..2].copy_from_slice(&sa.spi.to_be_bytes());
            entry[2..4].copy_from_slice(&sa.permissions.bits().to_be_bytes());
            entry[4..6].copy_from_slice(&sa.window.to_be_bytes());
            entry[6] = u8::from(sa.telemetry) | sa.state.code() << 1;
            entry[7] = 0;
            entry[8..8 + KEY_LEN].copy_from_slice(sa.master.as_bytes());
        }
        let crc = CRC32C.checksum(&out[..body_len]);
        out[body_len..total].copy_from_slice(&crc.to_be_bytes());
        Provisioning::parse(&out[..total])?;
        Ok(total)
    }

    /// Bytes a version 1 file with `n` associations takes.
    pub const fn encoded_len(n: usize) -> usize {
        HEADER_LEN + ENTRY_LEN * n + CRC_LEN
    }

    /// Bytes a version 2 file (with a key-encryption key) with `n` associations takes.
    pub const fn encoded_len_kek(n: usize) -> usize {
        Self::encoded_len(n) + KEK_BLOCK_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(spi: u16, telemetry: bool) -> ProvisionedSa {
        ProvisionedSa {
            spi,
            permissions: Permissions::ALL,
            window: 64,
            telemetry,
            master: Key::from_bytes([spi as u8 | 1; KEY_LEN]),
            state: KeyState::Active,
        }
    }

    fn encoded(sas: &[ProvisionedSa]) -> Vec<u8> {
        let mut buf = vec![0u8; 512];
        let n = Provisioning::encode(sas, &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn round_trip() {
        let mut pre = sa(3, false);
        pre.state = KeyState::PreActive;
        let mut off = sa(4, false);
        off.state = KeyState::Deactivated;
        let sas = [sa(1, true), sa(2, false), pre, off];
        let bytes = encoded(&sas);
        assert_eq!(bytes.len(), Provisioning::encoded_len(4));
        let p = Provisioning::parse(&bytes).unwrap();
        assert_eq!(p.associations().cloned().collect::<Vec<_>>(), sas.to_vec());
    }

    #[test]
    fn version_2_carries_the_kek_and_version_1_still_reads() {
        let sas = [sa(1, true), sa(2, false)];
        let kek = Kek {
            mkid: 5,
            last_kid: 130,
            key: Key::from_bytes([0x4B; KEY_LEN]),
        };
        let mut buf = vec![0u8; 512];
        let n = Provisioning::encode_file(&sas, Some(&kek), &mut buf).unwrap();
        assert_eq!(n, Provisioning::encoded_len_kek(2));
        assert_eq!(buf[4], VERSION_KEK);
        let p = Provisioning::parse(&buf[..n]).unwrap();
        assert_eq!(p.kek(), Some(&kek));
        assert_eq!(p.associations().cloned().collect::<Vec<_>>(), sas.to_vec());
        let v1 = encoded(&sas);
        assert_eq!(v1[4], VERSION);
        assert_eq!(Provisioning::parse(&v1).unwrap().kek(), None);
        // MKID 0, MKID 128 and an all-zero KEK are refused.
        for (at, bytes) in [(6, [0u8, 0]), (6, [0, 128])] {
            let mut b = buf[..n].to_vec();
            b[at..at + 2].copy_from_slice(&bytes);
            refix_crc(&mut b);
            assert_eq!(Provisioning::parse(&b), Err(ProvisionError::BadKek));
        }
        let mut b = buf[..n].to_vec();
        b[10..42].fill(0);
        refix_crc(&mut b);
        assert_eq!(Provisioning::parse(&b), Err(ProvisionError::BadKek));
    }

    fn refix_crc(bytes: &mut [u8]) {
        let body = bytes.len() - 4;
        let crc = CRC32C.checksum(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_be_bytes());
    }

    #[test]
    fn every_refusal_has_its_error() {
        let good = encoded(&[sa(1, true), sa(2, false)]);
        let case = |f: &dyn Fn(&mut Vec<u8>), crc: bool| {
            let mut b = good.clone();
            f(&mut b);
            if crc {
                refix_crc(&mut b);
            }
            Provisioning::parse(&b).unwrap_err()
        };
        assert!(matches!(
            case(&|b| b.truncate(3), false),
            ProvisionError::BadLength { .. }
        ));
        assert_eq!(case(&|b| b[0] = b'X', false), ProvisionError::BadMagic);
        assert_eq!(case(&|b| b[4] = 3, false), ProvisionError::BadVersion(3));
        assert_eq!(case(&|b| b[5] = 0, false), ProvisionError::BadCount(0));
        assert_eq!(case(&|b| b[5] = 9, false), ProvisionError::BadCount(9));
        assert!(matches!(
            case(&|b| b.push(0), false),
            ProvisionError::BadLength { .. }
        ));
        assert_eq!(case(&|b| b[20] ^= 1, false), ProvisionError::BadCrc);
        assert_eq!(
            case(&|b| b[6..8].copy_from_slice(&[0, 0]), true),
            ProvisionError::ReservedSpi { index: 0, spi: 0 }
        );
        assert_eq!(
            case(&|b| b[46..48].copy_from_slice(&[0, 1]), true),
            ProvisionError::DuplicateSpi { index: 1, spi: 1 }
        );
        assert_eq!(
            case(&|b| b[10..12].copy_from_slice(&[0, 0]), true),
            ProvisionError::ZeroWindow { index: 0 }
        );
        assert_eq!(
            case(&|b| b[8] = 0x80, true),
            ProvisionError::UndefinedBits { index: 0 }
        );
        assert_eq!(
            case(&|b| b[13] = 1, true),
            ProvisionError::UndefinedBits { index: 0 }
        );
        // Key state 3 (destroyed) with a key that was not erased; bit 3 of the flags is undefined.
        assert_eq!(
            case(&|b| b[52] = 6, true),
            ProvisionError::ZeroKey { index: 1 }
        );
        assert_eq!(
            case(&|b| b[52] = 8, true),
            ProvisionError::UndefinedBits { index: 1 }
        );
        // The telemetry association's key must be active.
        assert_eq!(
            case(&|b| b[12] = 1 | 2, true),
            ProvisionError::TelemetryKeyInactive { index: 0 }
        );
        assert_eq!(
            case(&|b| b[14..46].fill(0), true),
            ProvisionError::ZeroKey { index: 0 }
        );
        assert_eq!(case(&|b| b[12] = 0, true), ProvisionError::TelemetryFlag(0));
        assert_eq!(case(&|b| b[52] = 1, true), ProvisionError::TelemetryFlag(2));
    }
}
