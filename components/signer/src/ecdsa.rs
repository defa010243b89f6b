//! secp256k1 ECDSA as Bitcoin uses it: deterministic RFC 6979 nonces (k256, HMAC-SHA256, no extra
//! entropy, no low-R grinding), low-S signatures, strict DER (BIP-66) encoding, and a verifier that
//! enforces the same strictness (used on untrusted signatures and in the Wycheproof suite).
//!
//! [`PrivateKey`] wraps `k256::SecretKey`, which zeroizes itself on drop; WIF import exists for
//! the BIP-174 vectors. Nothing allocates.

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{Signature, VerifyingKey};
use k256::elliptic_curve::sec1::ToEncodedPoint;
use zeroize::Zeroize;

/// Why a key or signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EcdsaError {
    /// Not a valid secp256k1 private key (zero or not below the group order).
    #[error("invalid private key")]
    InvalidPrivateKey,
    /// Not a valid SEC1 public key.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// Not a strict DER signature (BIP-66), or r/s out of range.
    #[error("invalid signature encoding")]
    InvalidEncoding,
    /// S is in the upper half of the order (malleable form; refused by Bitcoin policy).
    #[error("high-S signature")]
    HighS,
    /// The signature does not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// A WIF string was malformed.
    #[error("invalid WIF private key")]
    InvalidWif,
    /// Signing failed inside the curve library.
    #[error("signing failed")]
    SigningFailed,
}

/// A secp256k1 private key; the scalar is zeroized on drop.
#[derive(Clone)]
pub struct PrivateKey(k256::SecretKey);

impl core::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

impl PrivateKey {
    /// A key from its 32-byte big-endian scalar.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, EcdsaError> {
        k256::SecretKey::from_slice(bytes)
            .map(Self)
            .map_err(|_| EcdsaError::InvalidPrivateKey)
    }

    /// Wraps a k256 secret key.
    pub fn from_secret(secret: k256::SecretKey) -> Self {
        Self(secret)
    }

    /// The k256 secret key.
    pub fn secret(&self) -> &k256::SecretKey {
        &self.0
    }

    /// Decodes a WIF string (compressed-key form: version byte, 32 bytes, 0x01).
    pub fn from_wif(wif: &str) -> Result<Self, EcdsaError> {
        let decoded = crate::base58::decode_check(wif).map_err(|_| EcdsaError::InvalidWif)?;
        let b = decoded.as_bytes();
        if b.len() != 34 || (b[0] != 0x80 && b[0] != 0xef) || b[33] != 0x01 {
            return Err(EcdsaError::InvalidWif);
        }
        let mut scalar = [0u8; 32];
        scalar.copy_from_slice(&b[1..33]);
        let key = Self::from_bytes(&scalar);
        scalar.zeroize();
        key
    }

    /// The compressed SEC1 public key.
    pub fn public_key(&self) -> [u8; 33] {
        compress(&self.0.public_key())
    }

    /// Signs a 32-byte digest (a sighash) with an RFC 6979 nonce; the result is low-S.
    ///
    /// Signs with the scalar directly (the ECDSA signing primitive with an RFC 6979 nonce, no
    /// extra data) rather than through `SigningKey`, whose construction computes the public key:
    /// a whole scalar multiplication per signature that signing does not need. The signatures are
    /// the same (checked against `SigningKey` in the tests and against libsecp256k1 in the
    /// benchmark).
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Result<DerSignature, EcdsaError> {
        use k256::ecdsa::hazmat::SignPrimitive;
        let mut scalar: k256::Scalar = *self.0.to_nonzero_scalar();
        let signed = scalar.try_sign_prehashed_rfc6979::<sha2::Sha256>(&(*digest).into(), &[]);
        scalar.zeroize();
        let (sig, _) = signed.map_err(|_| EcdsaError::SigningFailed)?;
        let sig = sig.normalize_s().unwrap_or(sig);
        Ok(DerSignature::from_signature(&sig))
    }
}

/// The compressed SEC1 encoding of a k256 public key.
pub fn compress(pk: &k256::PublicKey) -> [u8; 33] {
    let point = pk.to_encoded_point(true);
    let mut out = [0u8; 33];
    out.copy_from_slice(point.as_bytes());
    out
}

/// A DER-encoded ECDSA signature (at most 72 bytes), without a sighash byte.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DerSignature {
    buf: [u8; 72],
    len: u8,
}

impl core::fmt::Debug for DerSignature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DerSignature(")?;
        crate::hexfmt::write(f, self.as_bytes())?;
        write!(f, ")")
    }
}

impl DerSignature {
    fn from_signature(sig: &Signature) -> Self {
        let der = sig.to_der();
        let bytes = der.as_bytes();
        let mut buf = [0u8; 72];
        let len = bytes.len().min(72);
        buf[..len].copy_from_slice(&bytes[..len]);
        Self {
            buf,
            len: len as u8,
        }
    }

    /// The DER bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len).min(72)]
    }
}

/// BIP-66 strict DER check (signature without the sighash byte).
fn is_strict_der(sig: &[u8]) -> bool {
    let len = sig.len();
    if !(8..=72).contains(&len)
        || sig[0] != 0x30
        || usize::from(sig[1]) != len - 2
        || sig[2] != 0x02
    {
        return false;
    }
    let len_r = usize::from(sig[3]);
    if len_r == 0 || 5 + len_r >= len {
        return false;
    }
    let Some(&len_s) = sig.get(5 + len_r) else {
        return false;
    };
    let len_s = usize::from(len_s);
    if len_r + len_s + 6 != len || sig[4 + len_r] != 0x02 || len_s == 0 {
        return false;
    }
    if sig[4] & 0x80 != 0 || (len_r > 1 && sig[4] == 0 && sig[5] & 0x80 == 0) {
        return false;
    }
    let s0 = 6 + len_r;
    if sig[s0] & 0x80 != 0 || (len_s > 1 && sig[s0] == 0 && sig[s0 + 1] & 0x80 == 0) {
        return false;
    }
    true
}

fn int_to_32(bytes: &[u8]) -> Option<[u8; 32]> {
    let trimmed = match bytes.split_first() {
        Some((0, rest)) => rest,
        _ => bytes,
    };
    if trimmed.len() > 32 {
        return None;
    }
    let mut out = [0u8; 32];
    out[32 - trimmed.len()..].copy_from_slice(trimmed);
    Some(out)
}

/// Parses a strict-DER signature into (r, s) scalars; r and s must be in `[1, n-1]`.
pub fn parse_der(sig: &[u8]) -> Result<Signature, EcdsaError> {
    if !is_strict_der(sig) {
        return Err(EcdsaError::InvalidEncoding);
    }
    let len_r = usize::from(sig[3]);
    let r = int_to_32(&sig[4..4 + len_r]).ok_or(EcdsaError::InvalidEncoding)?;
    let s = int_to_32(&sig[6 + len_r..]).ok_or(EcdsaError::InvalidEncoding)?;
    Signature::from_scalars(r, s).map_err(|_| EcdsaError::InvalidEncoding)
}

/// Verifies a DER signature over a 32-byte digest as Bitcoin consensus+policy does: strict DER,
/// low S, any valid SEC1 public key.
pub fn verify_digest(pubkey: &[u8], digest: &[u8; 32], der: &[u8]) -> Result<(), EcdsaError> {
    let vk = VerifyingKey::from_sec1_bytes(pubkey).map_err(|_| EcdsaError::InvalidPublicKey)?;
    let sig = parse_der(der)?;
    if sig.normalize_s().is_some() {
        return Err(EcdsaError::HighS);
    }
    vk.verify_prehash(digest, &sig)
        .map_err(|_| EcdsaError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::ecdsa::SigningKey;
    use k256::ecdsa::signature::hazmat::PrehashSigner;

    #[test]
    fn sign_verify_and_tamper() {
        let key = PrivateKey::from_bytes(&[7u8; 32]).expect("key");
        let digest = crate::hash::sha256(b"spacenode");
        let sig = key.sign_digest(&digest).expect("sign");
        assert_eq!(
            sig,
            key.sign_digest(&digest).expect("sign"),
            "RFC 6979 is deterministic"
        );
        assert_eq!(
            verify_digest(&key.public_key(), &digest, sig.as_bytes()),
            Ok(())
        );
        let other = crate::hash::sha256(b"other");
        assert_eq!(
            verify_digest(&key.public_key(), &other, sig.as_bytes()),
            Err(EcdsaError::BadSignature)
        );
        let mut bad = [0u8; 72];
        let n = sig.as_bytes().len();
        bad[..n].copy_from_slice(sig.as_bytes());
        bad[1] ^= 1;
        assert_eq!(
            verify_digest(&key.public_key(), &digest, &bad[..n]),
            Err(EcdsaError::InvalidEncoding)
        );
    }

    #[test]
    fn direct_signing_equals_signing_key() {
        for b in 1u8..40 {
            let key = PrivateKey::from_bytes(&[b; 32]).expect("key");
            let digest = crate::hash::sha256(&[b]);
            let sk = SigningKey::from(key.secret());
            let sig: Signature = sk.sign_prehash(&digest).expect("sign");
            let sig = sig.normalize_s().unwrap_or(sig);
            assert_eq!(
                key.sign_digest(&digest).expect("sign"),
                DerSignature::from_signature(&sig)
            );
        }
    }

    #[test]
    fn invalid_keys() {
        assert!(PrivateKey::from_bytes(&[0u8; 32]).is_err());
        assert!(PrivateKey::from_bytes(&[0xff; 32]).is_err());
        assert_eq!(
            PrivateKey::from_wif("notwif").err(),
            Some(EcdsaError::InvalidWif)
        );
    }
}
