//! The provisioning input: which security associations a node has, with their master keys.
//!
//! Keys are never written in code nor compiled into an image. The operator generates a
//! provisioning file (`spacenode provision-link --generate`; the ground keeps its own copy and
//! uses it with `spacenode ground --provisioning FILE`) and writes it into comms' provisioning
//! inbox before the first boot; comms seals it on its own flash ([`super::sealed`],
//! `comms_partition::keys`).
//!
//! # Byte format (version 1), all integers big-endian
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SNSA` |
//! | 4 | 1 | version, `1` |
//! | 5 | 1 | n, number of associations, `1..=MAX_ASSOCIATIONS` |
//! | 6 | 40·n | n association entries, below |
//! | 6+40·n | 4 | CRC-32C (Castagnoli) of bytes `0 .. 6+40·n` |
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
use super::permissions::Permissions;

/// Most associations one node holds.
pub const MAX_ASSOCIATIONS: usize = 8;
/// Magic bytes.
pub const MAGIC: [u8; 4] = *b"SNSA";
/// Format version.
pub const VERSION: u8 = 1;
/// Bytes per association entry.
pub const ENTRY_LEN: usize = 40;
const HEADER_LEN: usize = 6;
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
    #[error("provisioning version {0} is not supported (expected 1)")]
    BadVersion(u8),
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
    /// Master key all zero.
    #[error("association {index}: master key is all zero (unset)")]
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
        if head[4] != VERSION {
            return Err(ProvisionError::BadVersion(head[4]));
        }
        let n = head[5];
        if n == 0 || n as usize > MAX_ASSOCIATIONS {
            return Err(ProvisionError::BadCount(n));
        }
        let body_len = HEADER_LEN + ENTRY_LEN * n as usize;
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
        let mut sas: [Option<ProvisionedSa>; MAX_ASSOCIATIONS] = Default::default();
        let mut telemetry = 0;
        for (index, entry) in body[HEADER_LEN..].chunks_exact(ENTRY_LEN).enumerate() {
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
            if master.is_zero() {
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
        Ok(Provisioning { sas })
    }

    /// The associations, in file order.
    pub fn associations(&self) -> impl Iterator<Item = &ProvisionedSa> {
        self.sas.iter().flatten()
    }

    /// Encode `sas` in the file format into `out`, returning the length. Used by provisioning
    /// tools and tests; the result always parses (or this returns the error `parse` would).
    pub fn encode(sas: &[ProvisionedSa], out: &mut [u8]) -> Result<usize, ProvisionError> {
        let n = sas.len();
        if n == 0 || n > MAX_ASSOCIATIONS {
            return Err(ProvisionError::BadCount(n.min(255) as u8));
        }
        let body_len = HEADER_LEN + ENTRY_LEN * n;
        let total = body_len + CRC_LEN;
        if out.len() < total {
            return Err(ProvisionError::BadLength {
                len: out.len(),
                expected: total,
            });
        }
        out[..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5] = n as u8;
        for (sa, entry) in sas
            .iter()
            .zip(out[HEADER_LEN..body_len].chunks_exact_mut(ENTRY_LEN))
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

    /// Bytes a file with `n` associations takes.
    pub const fn encoded_len(n: usize) -> usize {
        HEADER_LEN + ENTRY_LEN * n + CRC_LEN
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
        assert_eq!(case(&|b| b[4] = 2, false), ProvisionError::BadVersion(2));
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
        // Key state 3 is undefined; bit 3 of the flags too.
        assert_eq!(
            case(&|b| b[52] = 6, true),
            ProvisionError::UndefinedBits { index: 1 }
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
