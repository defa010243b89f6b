//! The provisioning input: which security associations a node has, with their master keys.
//!
//! Keys are never written in code nor compiled into an image. The operator generates a
//! provisioning file (`spacenode provision-link --generate`; the ground keeps its own copy and
//! uses it with `spacenode ground --provisioning FILE`) and writes it into comms' provisioning
//! inbox before the first boot; comms seals it on its own flash ([`super::sealed`],
//! `comms_partition::keys`).
//!
//! # Byte format (version 1, 2 or 3), all integers big-endian
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SNSA` |
//! | 4 | 1 | version, `1`, `2` or `3` |
//! | 5 | 1 | n, number of associations, `1..=MAX_ASSOCIATIONS` |
//! | 6 | f | version 3 only (f = 1, 0 before): `1` if the key-encryption key follows, `0` if not |
//! | 6+f | h | the key-encryption key, below (h = 36): always in version 2, never in version 1, in version 3 when the byte before says so |
//! | 6+f+h | e·n | n association entries, below (e = 40 in versions 1 and 2, 42 in version 3) |
//! | 6+f+h+e·n | 4 | CRC-32C (Castagnoli) of every byte before it |
//!
//! Key-encryption key (36 bytes; [`super::otar`]): it only unwraps keys sent over the air
//! (TC 130,6), it never protects traffic.
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 2 | MKID, the KEK's key id, `1..=127` (CCSDS 355.1 / CryptoLib: ids below 128 are master keys) |
//! | 2 | 2 | last KID: the highest key id an OTAR installed, `0` before the first; an OTAR's key ids must be above it |
//! | 4 | 32 | the KEK, not all zero |
//!
//! Association entry (40 bytes in versions 1 and 2, 42 in version 3):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 2 | SPI, `1..=0xFFFE` (0 and 0xFFFF are reserved), unique |
//! | 2 | 2 | permissions bit set ([`Permissions`]); undefined bits must be 0 |
//! | 4 | 2 | uplink anti-replay window width W, `1..=65535` |
//! | 6 | 1 | flags: bit 0 = the association unsolicited telemetry (events, housekeeping) is sent under; exactly one entry has it; bits 1..=2 = the key's state ([`KeyState`]: 0 active, 1 pre-activation, 2 deactivated, 3 destroyed); other bits 0. The telemetry association's key must be active |
//! | 7 | 1 | version 3: the SDLS suite of the association on the CCSDS radio ([`Suite`]): `1` AES-256-GCM, `2` HMAC-SHA-256; versions 1 and 2: reserved, 0 |
//! | 8 | 32 | master key, not all zero (all zero if and only if destroyed) |
//! | 40 | 2 | version 3 only: the master key's key id (KID) as the operator's key management knows it, `0` for none; non-zero ids are unique; housekeeping and `ground status` show it |
//!
//! **Versions 1 and 2** carry no suite and no key id: every association is read as
//! **AES-256-GCM** (the default for telecommand associations carrying batches, and
//! the suite every association had before the suite was chosen per association), key id 0.
//! [`Provisioning::encode_file`] always writes version 3, so a key set the node rewrites
//! (key states, OTAR) keeps its suites and key ids.
//!
//! Avoids: heap (parsing borrows nothing and copies keys into a fixed array).

use super::key_state::KeyState;
use super::mac::{KEY_LEN, Key};
use super::otar::Kek;
use super::permissions::Permissions;
pub use spacelink::sdls::Suite;

/// Most associations one node holds.
pub const MAX_ASSOCIATIONS: usize = 8;
/// Magic bytes.
pub const MAGIC: [u8; 4] = *b"SNSA";
/// Format version without a key-encryption key (still read and written).
pub const VERSION: u8 = 1;
/// Format version with a key-encryption key ([`Kek`]) (still read).
pub const VERSION_KEK: u8 = 2;
/// Format version with each association's suite and key id (what is written).
pub const VERSION_SUITES: u8 = 3;
/// Bytes per association entry in versions 1 and 2.
pub const ENTRY_LEN_V2: usize = 40;
/// Bytes per association entry in version 3.
pub const ENTRY_LEN: usize = 42;
const HEADER_LEN: usize = 6;
/// Version 3's byte saying whether the key-encryption key follows.
const KEK_FLAG_LEN: usize = 1;
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
    #[error("provisioning version {0} is not supported (expected 1, 2 or 3)")]
    BadVersion(u8),
    /// Version 3's key-encryption key byte is neither 0 nor 1.
    #[error("provisioning byte 6 (key-encryption key follows) is {0}, expected 0 or 1")]
    BadKekFlag(u8),
    /// Version 3: a suite code other than 1 (AES-256-GCM) or 2 (HMAC-SHA-256).
    #[error(
        "association {index}: suite code {code} is unknown: use 1 (AES-256-GCM) or 2 (HMAC-SHA-256)"
    )]
    BadSuite {
        /// Entry index.
        index: usize,
        /// The code.
        code: u8,
    },
    /// Version 3: the same non-zero key id twice.
    #[error("association {index}: key id {kid} appears twice (non-zero key ids are unique)")]
    DuplicateKeyId {
        /// Entry index.
        index: usize,
        /// The key id.
        kid: u16,
    },
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
    /// SDLS suite of this association's frames on the CCSDS radio (versions 1 and 2:
    /// AES-256-GCM).
    pub suite: Suite,
    /// The master key's key id, `0` for none (versions 1 and 2: 0).
    pub key_id: u16,
}

/// A suite's code in a version 3 entry.
pub const fn suite_code(suite: Suite) -> u8 {
    match suite {
        Suite::Aes256Gcm => 1,
        Suite::HmacSha256 => 2,
    }
}

/// The suite a version 3 code names.
pub const fn suite_from_code(code: u8) -> Option<Suite> {
    match code {
        1 => Some(Suite::Aes256Gcm),
        2 => Some(Suite::HmacSha256),
        _ => None,
    }
}

/// A parsed provisioning file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioning {
    sas: [Option<ProvisionedSa>; MAX_ASSOCIATIONS],
    kek: Option<Kek>,
}

impl Provisioning {
    /// Parse and check a provisioning file (version 1, 2 or 3).
    pub fn parse(bytes: &[u8]) -> Result<Provisioning, ProvisionError> {
        let head = bytes.get(..HEADER_LEN).ok_or(ProvisionError::BadLength {
            len: bytes.len(),
            expected: HEADER_LEN + ENTRY_LEN_V2 + CRC_LEN,
        })?;
        if head[..4] != MAGIC {
            return Err(ProvisionError::BadMagic);
        }
        let version = head[4];
        let (flag_len, kek_len, entry_len) = match version {
            VERSION => (0, 0, ENTRY_LEN_V2),
            VERSION_KEK => (0, KEK_BLOCK_LEN, ENTRY_LEN_V2),
            VERSION_SUITES => match bytes.get(HEADER_LEN) {
                Some(0) => (KEK_FLAG_LEN, 0, ENTRY_LEN),
                Some(1) => (KEK_FLAG_LEN, KEK_BLOCK_LEN, ENTRY_LEN),
                Some(&f) => return Err(ProvisionError::BadKekFlag(f)),
                None => {
                    return Err(ProvisionError::BadLength {
                        len: bytes.len(),
                        expected: HEADER_LEN + KEK_FLAG_LEN + ENTRY_LEN + CRC_LEN,
                    });
                }
            },
            v => return Err(ProvisionError::BadVersion(v)),
        };
        let n = head[5];
        if n == 0 || n as usize > MAX_ASSOCIATIONS {
            return Err(ProvisionError::BadCount(n));
        }
        let kek_at = HEADER_LEN + flag_len;
        let entries_at = kek_at + kek_len;
        let body_len = entries_at + entry_len * n as usize;
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
        let kek = match body.get(kek_at..entries_at) {
            Some(block) if !block.is_empty() => Some(Kek::parse(block)?),
            _ => None,
        };
        let mut sas: [Option<ProvisionedSa>; MAX_ASSOCIATIONS] = Default::default();
        for (index, entry) in body[entries_at..].chunks_exact(entry_len).enumerate() {
            let sa = parse_entry(index, entry, version == VERSION_SUITES, &sas)?;
            if let Some(slot) = sas.get_mut(index) {
                *slot = Some(sa);
            }
        }
        let telemetry = sas.iter().flatten().filter(|s| s.telemetry).count();
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

    /// Encode `sas` (version 3, no key-encryption key) into `out`, returning the length. Used
    /// by provisioning tools and tests; the result always parses (or this returns the error
    /// `parse` would).
    pub fn encode(sas: &[ProvisionedSa], out: &mut [u8]) -> Result<usize, ProvisionError> {
        Self::encode_file(sas, None, out)
    }

    /// Encode `sas` and, if given, the key-encryption key `kek` in version 3 into `out`,
    /// returning the length; the result always parses.
    pub fn encode_file(
        sas: &[ProvisionedSa],
        kek: Option<&Kek>,
        out: &mut [u8],
    ) -> Result<usize, ProvisionError> {
        let n = sas.len();
        if n == 0 || n > MAX_ASSOCIATIONS {
            return Err(ProvisionError::BadCount(n.min(255) as u8));
        }
        let kek_at = HEADER_LEN + KEK_FLAG_LEN;
        let entries_at = kek_at + kek.map_or(0, |_| KEK_BLOCK_LEN);
        let body_len = entries_at + ENTRY_LEN * n;
        let total = body_len + CRC_LEN;
        if out.len() < total {
            return Err(ProvisionError::BadLength {
                len: out.len(),
                expected: total,
            });
        }
        out[..4].copy_from_slice(&MAGIC);
        out[4] = VERSION_SUITES;
        out[5] = n as u8;
        out[HEADER_LEN] = u8::from(kek.is_some());
        if let Some(k) = kek {
            k.encode(&mut out[kek_at..entries_at]);
        }
        for (sa, entry) in sas
            .iter()
            .zip(out[entries_at..body_len].chunks_exact_mut(ENTRY_LEN))
        {
            entry[0..2].copy_from_slice(&sa.spi.to_be_bytes());
            entry[2..4].copy_from_slice(&sa.permissions.bits().to_be_bytes());
            entry[4..6].copy_from_slice(&sa.window.to_be_bytes());
            entry[6] = u8::from(sa.telemetry) | sa.state.code() << 1;
            entry[7] = suite_code(sa.suite);
            entry[8..8 + KEY_LEN].copy_from_slice(sa.master.as_bytes());
            entry[8 + KEY_LEN..ENTRY_LEN].copy_from_slice(&sa.key_id.to_be_bytes());
        }
        let crc = CRC32C.checksum(&out[..body_len]);
        out[body_len..total].copy_from_slice(&crc.to_be_bytes());
        Provisioning::parse(&out[..total])?;
        Ok(total)
    }

    /// Bytes a file (version 3, as written) with `n` associations and no key-encryption key
    /// takes.
    pub const fn encoded_len(n: usize) -> usize {
        HEADER_LEN + KEK_FLAG_LEN + ENTRY_LEN * n + CRC_LEN
    }

    /// Bytes a file (version 3, as written) with a key-encryption key and `n` associations
    /// takes: the largest file of `n` associations in any version.
    pub const fn encoded_len_kek(n: usize) -> usize {
        Self::encoded_len(n) + KEK_BLOCK_LEN
    }
}

/// One association entry (`v3`: with its suite and key id); `before` are the entries already
/// read (for the uniqueness checks).
fn parse_entry(
    index: usize,
    entry: &[u8],
    v3: bool,
    before: &[Option<ProvisionedSa>],
) -> Result<ProvisionedSa, ProvisionError> {
    let spi = u16::from_be_bytes([entry[0], entry[1]]);
    let perms = u16::from_be_bytes([entry[2], entry[3]]);
    let window = u16::from_be_bytes([entry[4], entry[5]]);
    let flags = entry[6];
    if spi == 0 || spi == 0xFFFF {
        return Err(ProvisionError::ReservedSpi { index, spi });
    }
    if before.iter().flatten().any(|s| s.spi == spi) {
        return Err(ProvisionError::DuplicateSpi { index, spi });
    }
    if window == 0 {
        return Err(ProvisionError::ZeroWindow { index });
    }
    let (suite, key_id) = if v3 {
        let suite = suite_from_code(entry[7]).ok_or(ProvisionError::BadSuite {
            index,
            code: entry[7],
        })?;
        let kid = u16::from_be_bytes([entry[8 + KEY_LEN], entry[9 + KEY_LEN]]);
        if kid != 0 && before.iter().flatten().any(|s| s.key_id == kid) {
            return Err(ProvisionError::DuplicateKeyId { index, kid });
        }
        (suite, kid)
    } else {
        if entry[7] != 0 {
            return Err(ProvisionError::UndefinedBits { index });
        }
        (Suite::Aes256Gcm, 0)
    };
    let state = KeyState::from_code((flags >> 1) & 3);
    let Some(state) =
        state.filter(|_| Permissions::from_bits(perms).bits() == perms && flags & !7 == 0)
    else {
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
    Ok(ProvisionedSa {
        spi,
        permissions: Permissions::from_bits(perms),
        window,
        telemetry: flags & 1 == 1,
        master,
        state,
        suite,
        key_id,
    })
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
            suite: Suite::Aes256Gcm,
            key_id: 0,
        }
    }

    fn encoded(sas: &[ProvisionedSa]) -> Vec<u8> {
        let mut buf = vec![0u8; 512];
        let n = Provisioning::encode(sas, &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    /// A version 1 or 2 file, written from the table of the older format by hand (not by the
    /// encoder, which writes version 3 only).
    fn legacy_file(sas: &[ProvisionedSa], kek: Option<&Kek>) -> Vec<u8> {
        let mut b = b"SNSA".to_vec();
        b.push(if kek.is_some() { 2 } else { 1 });
        b.push(sas.len() as u8);
        if let Some(k) = kek {
            b.extend_from_slice(&k.mkid.to_be_bytes());
            b.extend_from_slice(&k.last_kid.to_be_bytes());
            b.extend_from_slice(k.key.as_bytes());
        }
        for sa in sas {
            b.extend_from_slice(&sa.spi.to_be_bytes());
            b.extend_from_slice(&sa.permissions.bits().to_be_bytes());
            b.extend_from_slice(&sa.window.to_be_bytes());
            b.push(u8::from(sa.telemetry) | sa.state.code() << 1);
            b.push(0);
            b.extend_from_slice(sa.master.as_bytes());
        }
        let crc = CRC32C.checksum(&b);
        b.extend_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn round_trip_with_suites_and_key_ids() {
        let mut pre = sa(3, false);
        pre.state = KeyState::PreActive;
        pre.key_id = 7;
        let mut off = sa(4, false);
        off.state = KeyState::Deactivated;
        let mut hmac = sa(2, false);
        hmac.suite = Suite::HmacSha256;
        hmac.key_id = 0x1234;
        let sas = [sa(1, true), hmac, pre, off];
        let bytes = encoded(&sas);
        assert_eq!(bytes.len(), Provisioning::encoded_len(4));
        assert_eq!((bytes[4], bytes[6]), (VERSION_SUITES, 0));
        // Entry 1 (at 7 + 42): suite code 2, key id 0x1234 after the key.
        assert_eq!(bytes[49 + 7], 2);
        assert_eq!(bytes[49 + 40..49 + 42], [0x12, 0x34]);
        let p = Provisioning::parse(&bytes).unwrap();
        assert_eq!(p.associations().cloned().collect::<Vec<_>>(), sas.to_vec());
    }

    #[test]
    fn version_1_and_2_files_load_as_aes_gcm_without_key_ids() {
        let sas = [sa(1, true), sa(2, false)];
        let kek = Kek {
            mkid: 5,
            last_kid: 130,
            key: Key::from_bytes([0x4B; KEY_LEN]),
        };
        for kek in [None, Some(&kek)] {
            let file = legacy_file(&sas, kek);
            let p = Provisioning::parse(&file).unwrap();
            assert_eq!(p.kek(), kek);
            for got in p.associations() {
                assert_eq!((got.suite, got.key_id), (Suite::Aes256Gcm, 0));
            }
            assert_eq!(p.associations().cloned().collect::<Vec<_>>(), sas.to_vec());
            // Byte 7 of an entry is reserved before version 3.
            let mut b = file.clone();
            let at = b.len() - 4 - ENTRY_LEN_V2 + 7;
            b[at] = 2;
            refix_crc(&mut b);
            assert_eq!(
                Provisioning::parse(&b),
                Err(ProvisionError::UndefinedBits { index: 1 })
            );
        }
    }

    #[test]
    fn version_3_carries_the_kek_when_its_byte_says_so() {
        let sas = [sa(1, true), sa(2, false)];
        let kek = Kek {
            mkid: 5,
            last_kid: 130,
            key: Key::from_bytes([0x4B; KEY_LEN]),
        };
        let mut buf = vec![0u8; 512];
        let n = Provisioning::encode_file(&sas, Some(&kek), &mut buf).unwrap();
        assert_eq!(n, Provisioning::encoded_len_kek(2));
        assert_eq!((buf[4], buf[6]), (VERSION_SUITES, 1));
        let p = Provisioning::parse(&buf[..n]).unwrap();
        assert_eq!(p.kek(), Some(&kek));
        assert_eq!(p.associations().cloned().collect::<Vec<_>>(), sas.to_vec());
        assert_eq!(Provisioning::parse(&encoded(&sas)).unwrap().kek(), None);
        // MKID 0, MKID 128 and an all-zero KEK are refused.
        for bytes in [[0u8, 0], [0, 128]] {
            let mut b = buf[..n].to_vec();
            b[7..9].copy_from_slice(&bytes);
            refix_crc(&mut b);
            assert_eq!(Provisioning::parse(&b), Err(ProvisionError::BadKek));
        }
        let mut b = buf[..n].to_vec();
        b[11..43].fill(0);
        refix_crc(&mut b);
        assert_eq!(Provisioning::parse(&b), Err(ProvisionError::BadKek));
        // The KEK byte must be 0 or 1, and agree with the length.
        let mut b = buf[..n].to_vec();
        b[6] = 2;
        refix_crc(&mut b);
        assert_eq!(Provisioning::parse(&b), Err(ProvisionError::BadKekFlag(2)));
        let mut b = buf[..n].to_vec();
        b[6] = 0;
        refix_crc(&mut b);
        assert!(matches!(
            Provisioning::parse(&b),
            Err(ProvisionError::BadLength { .. })
        ));
    }

    fn refix_crc(bytes: &mut [u8]) {
        let body = bytes.len() - 4;
        let crc = CRC32C.checksum(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_be_bytes());
    }

    #[test]
    fn every_refusal_has_its_error() {
        let mut second = sa(2, false);
        second.key_id = 9;
        let good = encoded(&[sa(1, true), second]);
        // Entry 0 at 7, entry 1 at 49.
        let (e0, e1) = (7, 7 + ENTRY_LEN);
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
        assert_eq!(case(&|b| b[4] = 4, false), ProvisionError::BadVersion(4));
        assert_eq!(case(&|b| b[5] = 0, false), ProvisionError::BadCount(0));
        assert_eq!(case(&|b| b[5] = 9, false), ProvisionError::BadCount(9));
        assert!(matches!(
            case(&|b| b.push(0), false),
            ProvisionError::BadLength { .. }
        ));
        assert_eq!(case(&|b| b[20] ^= 1, false), ProvisionError::BadCrc);
        assert_eq!(
            case(&|b| b[e0..e0 + 2].copy_from_slice(&[0, 0]), true),
            ProvisionError::ReservedSpi { index: 0, spi: 0 }
        );
        assert_eq!(
            case(&|b| b[e1..e1 + 2].copy_from_slice(&[0, 1]), true),
            ProvisionError::DuplicateSpi { index: 1, spi: 1 }
        );
        assert_eq!(
            case(&|b| b[e0 + 4..e0 + 6].copy_from_slice(&[0, 0]), true),
            ProvisionError::ZeroWindow { index: 0 }
        );
        assert_eq!(
            case(&|b| b[e0 + 2] = 0x80, true),
            ProvisionError::UndefinedBits { index: 0 }
        );
        // Suite codes 0 and 3 are unknown.
        for code in [0, 3] {
            assert_eq!(
                case(&|b| b[e0 + 7] = code, true),
                ProvisionError::BadSuite { index: 0, code }
            );
        }
        // Key id 9 twice.
        assert_eq!(
            case(&|b| b[e0 + 41] = 9, true),
            ProvisionError::DuplicateKeyId { index: 1, kid: 9 }
        );
        // Key state 3 (destroyed) with a key that was not erased; bit 3 of the flags is undefined.
        assert_eq!(
            case(&|b| b[e1 + 6] = 6, true),
            ProvisionError::ZeroKey { index: 1 }
        );
        assert_eq!(
            case(&|b| b[e1 + 6] = 8, true),
            ProvisionError::UndefinedBits { index: 1 }
        );
        // The telemetry association's key must be active.
        assert_eq!(
            case(&|b| b[e0 + 6] = 1 | 2, true),
            ProvisionError::TelemetryKeyInactive { index: 0 }
        );
        assert_eq!(
            case(&|b| b[e0 + 8..e0 + 40].fill(0), true),
            ProvisionError::ZeroKey { index: 0 }
        );
        assert_eq!(
            case(&|b| b[e0 + 6] = 0, true),
            ProvisionError::TelemetryFlag(0)
        );
        assert_eq!(
            case(&|b| b[e1 + 6] = 1, true),
            ProvisionError::TelemetryFlag(2)
        );
    }
}
