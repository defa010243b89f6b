//! The hash functions Bitcoin and the batch certificate use, over RustCrypto's `no_std` engines:
//! SHA-256, double SHA-256, HASH160 (RIPEMD-160 of SHA-256), BIP-340 tagged hashes, HMAC-SHA512
//! (BIP-32) and SHA3-256 (certificates).
//!
//! [`Sha256Sink`] lets serialisation code stream straight into a hash without an intermediate
//! buffer. Nothing here allocates.

use crate::encode::{Sink, WriteError};
use hmac::{Hmac, Mac};
use ripemd::Ripemd160;
use sha2::{Digest, Sha256, Sha512};
use sha3::Sha3_256;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256 applied twice (Bitcoin's "hash256": txids, sighashes, checksums).
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    sha256(&sha256(data))
}

/// RIPEMD-160 of SHA-256 (Bitcoin's "hash160": P2SH, key fingerprints).
pub fn hash160(data: &[u8]) -> [u8; 20] {
    Ripemd160::digest(sha256(data)).into()
}

/// SHA3-256 of `data`.
pub fn sha3_256(data: &[u8]) -> [u8; 32] {
    Sha3_256::digest(data).into()
}

/// HMAC-SHA512 of `data` under `key`.
pub fn hmac_sha512(key: &[u8], parts: &[&[u8]]) -> [u8; 64] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here; the fallback keeps
    // the function total without a panic path.
    let mut mac = match <Hmac<Sha512> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0u8; 64],
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// A streaming SHA-256 that implements [`Sink`], so encoders can hash without buffering.
#[derive(Clone, Default)]
pub struct Sha256Sink(Sha256);

impl Sha256Sink {
    /// A fresh SHA-256 state.
    pub fn new() -> Self {
        Self(Sha256::new())
    }

    /// A SHA-256 state primed with the BIP-340 tag prefix `sha256(tag) || sha256(tag)`.
    pub fn tagged(tag: &[u8]) -> Self {
        let t = sha256(tag);
        let mut h = Sha256::new();
        h.update(t);
        h.update(t);
        Self(h)
    }

    /// Appends bytes (infallible form of [`Sink::put`]).
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// Single SHA-256 of everything written.
    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }

    /// Double SHA-256 of everything written.
    pub fn finish_double(self) -> [u8; 32] {
        sha256(&self.finish())
    }
}

impl Sink for Sha256Sink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        self.0.update(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        // FIPS 180-2 / FIPS 202 "abc" examples.
        assert_eq!(sha256(b"abc")[..4], [0xba, 0x78, 0x16, 0xbf],);
        assert_eq!(sha3_256(b"abc")[..4], [0x3a, 0x98, 0x5d, 0xa7]);
        // HASH160 of the empty string.
        assert_eq!(hash160(b"")[..4], [0xb4, 0x72, 0xa2, 0x66]);
    }

    #[test]
    fn streaming_matches_one_shot() {
        let mut s = Sha256Sink::new();
        s.update(b"ab");
        s.update(b"c");
        assert_eq!(s.finish(), sha256(b"abc"));
        let mut t = Sha256Sink::tagged(b"TapSighash");
        t.update(b"x");
        let tag = sha256(b"TapSighash");
        let mut whole = [0u8; 65];
        whole[..32].copy_from_slice(&tag);
        whole[32..64].copy_from_slice(&tag);
        whole[64] = b'x';
        assert_eq!(t.finish(), sha256(&whole));
    }
}
