//! Keys and the message authentication code of the security trailer: HMAC-SHA3-256 (RFC 2104
//! with FIPS 202 SHA3-256, block size 136 bytes) truncated to its leftmost 16 bytes (128 bits,
//! NIST SP 800-107r1 §5.3.3; SDLS carries the MAC length as a managed parameter of the
//! association, CCSDS 355.0-B-2 §4.1.2).
//!
//! Session keys are never provisioned or transmitted: each association has a 256-bit master key
//! (provisioned sealed on comms' flash, [`super::sealed`]) and derives one key per direction and key epoch with the NIST
//! SP 800-108r1 counter-mode KDF, PRF = HMAC-SHA3-256, one iteration:
//!
//! `K = PRF(master, 0x01 ‖ "spacenode-sdls" ‖ 0x00 ‖ direction ‖ SPI (2, BE) ‖ epoch (4, BE) ‖ 0x0100)`
//!
//! with direction `0x55` ('U', ground to node) or `0x44` ('D', node to ground). Rotating a key is
//! moving to a higher epoch (an authenticated command carries only the epoch number). The same
//! KDF with `0x56` ('V') gives the key-verification key ([`derive_verify_key`], key verification
//! 130,4 in `engine.rs`), used for nothing else.
//!
//! Verification compares in constant time (`digest::Mac::verify_truncated_left`, built on
//! `subtle`). Keys are zeroized on drop and have no `Debug` output.
//!
//! Avoids: any branch on secret data, key material in error values, heap.

use hmac::{Hmac, Mac};
use sha3::Sha3_256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of every key (master and session), bytes.
pub const KEY_LEN: usize = 32;
/// Length of the MAC carried in the security trailer, bytes.
pub const MAC_LEN: usize = 16;

type HmacSha3 = Hmac<Sha3_256>;

/// Which way a unit travels. Each direction of an association has its own session key, so a
/// unit can never be reflected back as one of the other direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Ground to node (telecommands).
    Uplink,
    /// Node to ground (telemetry).
    Downlink,
}

impl Direction {
    const fn label(self) -> u8 {
        match self {
            Direction::Uplink => b'U',
            Direction::Downlink => b'D',
        }
    }
}

/// A 256-bit secret key. Zeroized on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key([u8; KEY_LEN]);

/// Constant-time comparison (keys are compared only by provisioning checks and tests).
impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }
}

impl Eq for Key {}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Key(<secret>)")
    }
}

impl Key {
    /// A key from its bytes.
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Key(bytes)
    }

    /// The key bytes (for provisioning tools; node code never needs them).
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Whether every byte is zero (refused by provisioning: an unset key).
    pub fn is_zero(&self) -> bool {
        self.0.iter().fold(0u8, |acc, b| acc | b) == 0
    }
}

/// The HMAC could not be keyed. HMAC accepts keys of any length, so this does not happen with
/// the `hmac` crate; it is typed rather than unwrapped so that no path can panic or fall back to
/// an unkeyed MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("HMAC-SHA3-256 refused the key")]
pub struct MacKeyError;

fn keyed(key: &Key) -> Result<HmacSha3, MacKeyError> {
    <HmacSha3 as Mac>::new_from_slice(&key.0).map_err(|_| MacKeyError)
}

/// The full 32-byte HMAC-SHA3-256 of the concatenation of `parts`.
pub fn hmac_sha3_256(key: &Key, parts: &[&[u8]]) -> Result<[u8; 32], MacKeyError> {
    let mut m = keyed(key)?;
    for p in parts {
        m.update(p);
    }
    Ok(m.finalize().into_bytes().into())
}

/// The truncated MAC (leftmost [`MAC_LEN`] bytes) of the concatenation of `parts`.
pub fn mac(key: &Key, parts: &[&[u8]]) -> Result<[u8; MAC_LEN], MacKeyError> {
    let full = hmac_sha3_256(key, parts)?;
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(&full[..MAC_LEN]);
    Ok(out)
}

/// Whether `tag` is the truncated MAC of `parts`, compared in constant time. Always does the
/// whole computation, whatever `tag` holds. A `tag` of the wrong length is refused.
pub fn verify(key: &Key, parts: &[&[u8]], tag: &[u8]) -> bool {
    let Ok(mut m) = keyed(key) else {
        return false;
    };
    for p in parts {
        m.update(p);
    }
    tag.len() == MAC_LEN && m.verify_truncated_left(tag).is_ok()
}

/// The session key of one direction of association `spi` at key epoch `epoch` (see the module
/// documentation for the exact KDF input).
pub fn derive_session_key(
    master: &Key,
    direction: Direction,
    spi: u16,
    epoch: u32,
) -> Result<Key, MacKeyError> {
    derive(master, direction.label(), spi, epoch)
}

/// The key-verification key of association `spi` at epoch `epoch`: the same KDF with label
/// `0x56` ('V'), so a verification answer is never a MAC any traffic key would give.
pub fn derive_verify_key(master: &Key, spi: u16, epoch: u32) -> Result<Key, MacKeyError> {
    derive(master, b'V', spi, epoch)
}

fn derive(master: &Key, label: u8, spi: u16, epoch: u32) -> Result<Key, MacKeyError> {
    let spi = spi.to_be_bytes();
    let epoch = epoch.to_be_bytes();
    let out = hmac_sha3_256(
        master,
        &[
            &[0x01],
            b"spacenode-sdls",
            &[0x00, label],
            &spi,
            &epoch,
            &[0x01, 0x00],
        ],
    )?;
    Ok(Key(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex_conservative::FromHex::from_hex(s).expect("hex in the vector")
    }

    // Vectors computed with CPython's independent `hmac` + `hashlib.sha3_256`:
    //   hmac.new(bytes(range(32)), b"spacenode", hashlib.sha3_256).hexdigest()
    #[test]
    fn hmac_sha3_256_matches_python_hashlib() {
        let key = Key::from_bytes(core::array::from_fn(|i| i as u8));
        let got = hmac_sha3_256(&key, &[b"space", b"node"]).unwrap();
        assert_eq!(
            got.to_vec(),
            hex("e341831f49d0a385d1125b1ef65624d67927ba6192c6aa6f416c147ab3e31f2e")
        );
    }

    // The SP 800-108 derivation for SPI 0x0102, epoch 7, uplink, with the same key, again from
    // CPython: hmac.new(key, b"\x01spacenode-sdls\x00U\x01\x02\x00\x00\x00\x07\x01\x00", sha3_256)
    #[test]
    fn derivation_matches_python_hashlib() {
        let key = Key::from_bytes(core::array::from_fn(|i| i as u8));
        let k = derive_session_key(&key, Direction::Uplink, 0x0102, 7).unwrap();
        assert_eq!(
            k.as_bytes().to_vec(),
            hex("ad15a7015e33a85ba5dc0e5cec9f8f61c0bfcc49db22b21a30130b76a515bdcb")
        );
        let d = derive_session_key(&key, Direction::Downlink, 0x0102, 7).unwrap();
        assert_ne!(k, d);
        let e = derive_session_key(&key, Direction::Uplink, 0x0102, 8).unwrap();
        assert_ne!(k, e);
    }

    #[test]
    fn verify_accepts_the_tag_and_rejects_every_single_bit_flip() {
        let key = Key::from_bytes([7; KEY_LEN]);
        let tag = mac(&key, &[b"abc", b"def"]).unwrap();
        assert!(verify(&key, &[b"abcdef"], &tag));
        for i in 0..MAC_LEN * 8 {
            let mut bad = tag;
            bad[i / 8] ^= 1 << (i % 8);
            assert!(!verify(&key, &[b"abcdef"], &bad));
        }
        assert!(!verify(&key, &[b"abcdef"], &tag[..15]));
        assert!(!verify(&key, &[b"abcdeg"], &tag));
        assert!(!verify(&Key::from_bytes([8; KEY_LEN]), &[b"abcdef"], &tag));
    }

    #[test]
    fn keys_do_not_print() {
        let k = Key::from_bytes([0xAB; KEY_LEN]);
        assert_eq!(format!("{k:?}"), "Key(<secret>)");
        assert!(!k.is_zero());
        assert!(Key::from_bytes([0; KEY_LEN]).is_zero());
    }
}
