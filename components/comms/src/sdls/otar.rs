//! Over-the-air rekeying (OTAR, CCSDS 355.1-B-1 key management, TC 130,6): new master keys sent
//! to the node wrapped under the key-encryption key (KEK), which never protects traffic.
//!
//! # The KEK
//!
//! Provisioned with the associations (provisioning format version 2, [`super::provision`]),
//! sealed with them on comms' flash, identified by its MKID (`1..=127`: CCSDS 355.1 and NASA
//! CryptoLib keep ids below 128 for master keys). Beside it the record keeps the **last KID**,
//! the highest key id any OTAR installed.
//!
//! # TC 130,6 application data, integers big-endian
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 2 | MKID of the KEK the keys are wrapped under |
//! | 2 | 12 | IV, chosen by the ground (it has an RNG; comms has none and never encrypts with the KEK) |
//! | 14 | 36·n | AES-256-GCM ciphertext, under the KEK, of n entries (below), `n = 1..=8` |
//! | 14+36·n | 16 | the GCM tag; the associated data is bytes `0..2` (the MKID) |
//!
//! Entry (36 bytes of plaintext): target SPI (2) ‖ KID (2) ‖ new master key (32).
//!
//! This is CryptoLib's `Crypto_Key_OTAR` layout (MKID ‖ IV ‖ {KID ‖ key}×n ‖ MAC) with one
//! field added: the target SPI. In CryptoLib a key lands in a key ring and associations name
//! keys by KID through separate SA management; here every association has exactly one master
//! key, so the entry names the association whose key it replaces, inside the ciphertext where
//! it is authenticated with the key.
//!
//! # Replay
//!
//! The unit that carries 130,6 has the anti-replay of every telecommand (its ARSN). On top,
//! **every KID must be new**: above the record's last KID and rising within one command. So an
//! old OTAR, even sent again under a valid unit by someone who holds a traffic key, can never
//! put back a key that was replaced (its KIDs are no longer new). The engine then installs the
//! keys only into associations whose key is not active, in pre-activation
//! ([`super::SecurityEngine::install_keys`]).
//!
//! Avoids: heap; keeping plaintext (the decrypted buffer is zeroized on every path).

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use zeroize::Zeroize;

use super::mac::{KEY_LEN, Key};
use super::provision::{MAX_ASSOCIATIONS, ProvisionError};

/// Bytes of the IV.
pub const IV_LEN: usize = 12;
/// Bytes of the GCM tag.
pub const TAG_LEN: usize = 16;
/// Bytes of one wrapped entry's plaintext: SPI, KID, key.
pub const ENTRY_LEN: usize = 4 + KEY_LEN;
const HEAD_LEN: usize = 2 + IV_LEN;
/// Longest TC 130,6 application data.
pub const MAX_PDU_LEN: usize = pdu_len(MAX_ASSOCIATIONS);

/// Bytes of a TC 130,6 carrying `n` keys.
pub const fn pdu_len(n: usize) -> usize {
    HEAD_LEN + ENTRY_LEN * n + TAG_LEN
}

/// Whether `len` is the length of a TC 130,6 (`14 + 36·n + 16`, `n = 1..=8`).
pub const fn valid_len(len: usize) -> bool {
    match len.checked_sub(HEAD_LEN + TAG_LEN) {
        Some(body) => body > 0 && body % ENTRY_LEN == 0 && body / ENTRY_LEN <= MAX_ASSOCIATIONS,
        None => false,
    }
}

/// The key-encryption key and the last key id installed under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kek {
    /// Its key id, `1..=127`.
    pub mkid: u16,
    /// The highest KID an OTAR installed (0: none yet).
    pub last_kid: u16,
    /// The key.
    pub key: Key,
}

impl Kek {
    /// Parse the 36-byte block of a version 2 provisioning file.
    pub(super) fn parse(block: &[u8]) -> Result<Kek, ProvisionError> {
        let (ids, key) = block.split_at_checked(4).ok_or(ProvisionError::BadKek)?;
        let mut bytes: [u8; KEY_LEN] = key.try_into().map_err(|_| ProvisionError::BadKek)?;
        let kek = Kek {
            mkid: u16::from_be_bytes([ids[0], ids[1]]),
            last_kid: u16::from_be_bytes([ids[2], ids[3]]),
            key: Key::from_bytes(bytes),
        };
        bytes.zeroize();
        if !(1..=127).contains(&kek.mkid) || kek.key.is_zero() {
            return Err(ProvisionError::BadKek);
        }
        Ok(kek)
    }

    /// Write the 36-byte block (`out` is exactly that long).
    pub(super) fn encode(&self, out: &mut [u8]) {
        if let Some((ids, key)) = out.split_at_mut_checked(4) {
            ids[..2].copy_from_slice(&self.mkid.to_be_bytes());
            ids[2..].copy_from_slice(&self.last_kid.to_be_bytes());
            key.copy_from_slice(self.key.as_bytes());
        }
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.key.as_bytes().into())
    }
}

/// One key carried by an OTAR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtarKey {
    /// The association whose master key it becomes.
    pub spi: u16,
    /// Its key id (above the KEK's last KID).
    pub kid: u16,
    /// The new master key.
    pub key: Key,
}

/// Why an OTAR was refused (before anything changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OtarError {
    /// The node was provisioned without a KEK (a version 1 file).
    #[error("this node has no key-encryption key (provisioned with a version 1 file)")]
    NoKek,
    /// Length is not `14 + 36·n + 16` with `n = 1..=8`.
    #[error("OTAR of {0} bytes: expected 14 + 36·n + 16 bytes, n = 1..=8")]
    BadLength(usize),
    /// The MKID is not the node's KEK.
    #[error("OTAR names master key {got}, the node's key-encryption key is {ours}")]
    WrongMkid {
        /// MKID in the command.
        got: u16,
        /// The node's.
        ours: u16,
    },
    /// The GCM tag does not verify: wrapped under another key, or damaged.
    #[error("the wrapped keys do not verify under the key-encryption key")]
    BadTag,
    /// A KID is not above the last one installed (or not rising within the command).
    #[error("key id {kid} is not new (the last key id installed is {last})")]
    KidNotNew {
        /// The KID refused.
        kid: u16,
        /// The last KID installed before it.
        last: u16,
    },
    /// A key is all zero, or an SPI is reserved or named twice.
    #[error("entry {0}: SPI reserved or named twice, or key all zero")]
    BadEntry(usize),
}

/// The keys of one OTAR, at most [`MAX_ASSOCIATIONS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwrapped {
    keys: [Option<OtarKey>; MAX_ASSOCIATIONS],
}

impl Unwrapped {
    /// The keys, in command order.
    pub fn keys(&self) -> impl Iterator<Item = &OtarKey> {
        self.keys.iter().flatten()
    }

    /// The highest KID carried.
    pub fn last_kid(&self) -> u16 {
        self.keys().map(|k| k.kid).max().unwrap_or(0)
    }
}

/// Ground side: wrap `keys` under `kek` with the ground's fresh random `iv` into `out`,
/// returning the length of the TC 130,6 application data.
pub fn wrap(
    kek: &Kek,
    iv: &[u8; IV_LEN],
    keys: &[OtarKey],
    out: &mut [u8],
) -> Result<usize, OtarError> {
    let n = keys.len();
    let total = pdu_len(n);
    if n == 0 || n > MAX_ASSOCIATIONS || out.len() < total {
        return Err(OtarError::BadLength(total));
    }
    let (head, rest) = out.split_at_mut(HEAD_LEN);
    head[..2].copy_from_slice(&kek.mkid.to_be_bytes());
    head[2..].copy_from_slice(iv);
    let (body, tail) = rest.split_at_mut(ENTRY_LEN * n);
    for (k, e) in keys.iter().zip(body.chunks_exact_mut(ENTRY_LEN)) {
        e[..2].copy_from_slice(&k.spi.to_be_bytes());
        e[2..4].copy_from_slice(&k.kid.to_be_bytes());
        e[4..].copy_from_slice(k.key.as_bytes());
    }
    let tag = kek
        .cipher()
        .encrypt_inout_detached(&Nonce::from(*iv), &head[..2], body.into())
        .map_err(|_| OtarError::BadLength(total))?;
    tail[..TAG_LEN].copy_from_slice(&tag);
    Ok(total)
}

/// Node side: check and open a TC 130,6 under `kek` (MKID, tag, then every KID new, no zero
/// key, no SPI twice). Which associations may take the keys is the engine's check.
pub fn unwrap(kek: Option<&Kek>, pdu: &[u8]) -> Result<Unwrapped, OtarError> {
    let kek = kek.ok_or(OtarError::NoKek)?;
    if !valid_len(pdu.len()) {
        return Err(OtarError::BadLength(pdu.len()));
    }
    let body_len = pdu.len() - HEAD_LEN - TAG_LEN;
    let mkid = u16::from_be_bytes([pdu[0], pdu[1]]);
    if mkid != kek.mkid {
        return Err(OtarError::WrongMkid {
            got: mkid,
            ours: kek.mkid,
        });
    }
    let mut iv = [0u8; IV_LEN];
    iv.copy_from_slice(&pdu[2..HEAD_LEN]);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&pdu[HEAD_LEN + body_len..]);
    let mut body = [0u8; ENTRY_LEN * MAX_ASSOCIATIONS];
    let plain = &mut body[..body_len];
    plain.copy_from_slice(&pdu[HEAD_LEN..HEAD_LEN + body_len]);
    let opened = kek.cipher().decrypt_inout_detached(
        &Nonce::from(iv),
        &pdu[..2],
        (&mut *plain).into(),
        &Tag::from(tag),
    );
    let result = match opened {
        Err(_) => Err(OtarError::BadTag),
        Ok(()) => entries(plain, kek.last_kid),
    };
    body.zeroize();
    result
}

fn entries(plain: &[u8], mut last: u16) -> Result<Unwrapped, OtarError> {
    let mut keys: [Option<OtarKey>; MAX_ASSOCIATIONS] = Default::default();
    for (index, e) in plain.chunks_exact(ENTRY_LEN).enumerate() {
        let spi = u16::from_be_bytes([e[0], e[1]]);
        let kid = u16::from_be_bytes([e[2], e[3]]);
        if kid <= last {
            return Err(OtarError::KidNotNew { kid, last });
        }
        last = kid;
        let mut bytes = [0u8; KEY_LEN];
        bytes.copy_from_slice(&e[4..]);
        let key = Key::from_bytes(bytes);
        bytes.zeroize();
        let twice = keys.iter().flatten().any(|k| k.spi == spi);
        if spi == 0 || spi == 0xFFFF || key.is_zero() || twice {
            return Err(OtarError::BadEntry(index));
        }
        if let Some(slot) = keys.get_mut(index) {
            *slot = Some(OtarKey { spi, kid, key });
        }
    }
    Ok(Unwrapped { keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(last_kid: u16) -> Kek {
        Kek {
            mkid: 1,
            last_kid,
            key: Key::from_bytes([0x4B; KEY_LEN]),
        }
    }

    fn key(spi: u16, kid: u16, b: u8) -> OtarKey {
        OtarKey {
            spi,
            kid,
            key: Key::from_bytes([b; KEY_LEN]),
        }
    }

    fn wrapped(k: &Kek, keys: &[OtarKey]) -> Vec<u8> {
        let mut out = vec![0u8; MAX_PDU_LEN];
        let n = wrap(k, &[7; IV_LEN], keys, &mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn wraps_and_unwraps() {
        let keys = [key(3, 200, 0x33), key(4, 201, 0x44)];
        let pdu = wrapped(&kek(0), &keys);
        assert_eq!(pdu.len(), pdu_len(2));
        let got = unwrap(Some(&kek(199)), &pdu).unwrap();
        assert_eq!(got.keys().cloned().collect::<Vec<_>>(), keys.to_vec());
        assert_eq!(got.last_kid(), 201);
    }

    proptest::proptest! {
        /// Any bytes are refused in words or opened, never a panic; a valid OTAR with any one
        /// bit changed is refused.
        #[test]
        fn any_input_is_refused_or_opened(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            bit in 0usize..(pdu_len(1) * 8),
        ) {
            let _ = unwrap(Some(&kek(0)), &data);
            let mut pdu = wrapped(&kek(0), &[key(3, 200, 0x33)]);
            pdu[bit / 8] ^= 1 << (bit % 8);
            proptest::prop_assert!(unwrap(Some(&kek(0)), &pdu).is_err());
        }
    }

    #[test]
    fn every_refusal() {
        let pdu = wrapped(&kek(0), &[key(3, 200, 0x33)]);
        assert_eq!(unwrap(None, &pdu), Err(OtarError::NoKek));
        assert_eq!(
            unwrap(Some(&kek(0)), &pdu[..pdu.len() - 1]),
            Err(OtarError::BadLength(pdu.len() - 1))
        );
        assert_eq!(
            unwrap(Some(&kek(0)), &pdu[..30]),
            Err(OtarError::BadLength(30))
        );
        let mut other = kek(0);
        other.key = Key::from_bytes([0x4C; KEY_LEN]);
        assert_eq!(unwrap(Some(&other), &pdu), Err(OtarError::BadTag));
        other.mkid = 2;
        assert_eq!(
            unwrap(Some(&other), &pdu),
            Err(OtarError::WrongMkid { got: 1, ours: 2 })
        );
        for at in [3, 20, pdu.len() - 1] {
            let mut bad = pdu.clone();
            bad[at] ^= 1;
            assert_eq!(unwrap(Some(&kek(0)), &bad), Err(OtarError::BadTag));
        }
        assert_eq!(
            unwrap(Some(&kek(200)), &pdu),
            Err(OtarError::KidNotNew {
                kid: 200,
                last: 200
            })
        );
        let falling = wrapped(&kek(0), &[key(3, 200, 1), key(4, 150, 2)]);
        assert_eq!(
            unwrap(Some(&kek(0)), &falling),
            Err(OtarError::KidNotNew {
                kid: 150,
                last: 200
            })
        );
        let twice = wrapped(&kek(0), &[key(3, 200, 1), key(3, 201, 2)]);
        assert_eq!(unwrap(Some(&kek(0)), &twice), Err(OtarError::BadEntry(1)));
        let zero = wrapped(&kek(0), &[key(3, 200, 0)]);
        assert_eq!(unwrap(Some(&kek(0)), &zero), Err(OtarError::BadEntry(0)));
        let reserved = wrapped(&kek(0), &[key(0xFFFF, 200, 1)]);
        assert_eq!(
            unwrap(Some(&kek(0)), &reserved),
            Err(OtarError::BadEntry(0))
        );
    }
}
