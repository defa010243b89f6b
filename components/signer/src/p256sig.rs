//! P-256 ECDSA for the satellite's identity key and the ground servers' certificate keys:
//! ECDSA over SHA3-256 (the batch certificate's algorithm) or SHA-256, RFC 6979 nonces, fixed
//! 64-byte `r || s` signatures, and a DER verifier for interoperability and the Wycheproof suite.
//!
//! Secret keys are `p256::SecretKey`, zeroized on drop. Nothing allocates.

use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

/// The message digest the signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// SHA-256.
    Sha256,
    /// SHA3-256.
    Sha3_256,
}

impl Digest {
    fn hash(self, msg: &[u8]) -> [u8; 32] {
        match self {
            Digest::Sha256 => crate::hash::sha256(msg),
            Digest::Sha3_256 => crate::hash::sha3_256(msg),
        }
    }
}

/// Why a P-256 operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum P256Error {
    /// Not a valid SEC1 public key on P-256.
    #[error("invalid P-256 public key")]
    InvalidPublicKey,
    /// Not a valid signature encoding, or r/s out of range.
    #[error("invalid signature encoding")]
    InvalidEncoding,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// Signing failed.
    #[error("signing failed")]
    SigningFailed,
}

/// Verifies a 64-byte `r || s` signature of `msg`.
pub fn verify(
    pubkey_sec1: &[u8],
    msg: &[u8],
    sig: &[u8; 64],
    digest: Digest,
) -> Result<(), P256Error> {
    let vk = VerifyingKey::from_sec1_bytes(pubkey_sec1).map_err(|_| P256Error::InvalidPublicKey)?;
    let sig = Signature::from_slice(sig).map_err(|_| P256Error::InvalidEncoding)?;
    vk.verify_prehash(&digest.hash(msg), &sig)
        .map_err(|_| P256Error::BadSignature)
}

/// Verifies a DER signature of `msg`.
pub fn verify_der(
    pubkey_sec1: &[u8],
    msg: &[u8],
    der: &[u8],
    digest: Digest,
) -> Result<(), P256Error> {
    let sig = Signature::from_der(der).map_err(|_| P256Error::InvalidEncoding)?;
    let bytes: [u8; 64] = sig.to_bytes().into();
    verify(pubkey_sec1, msg, &bytes, digest)
}

/// Signs `msg` (RFC 6979), returning `r || s`.
pub fn sign(secret: &p256::SecretKey, msg: &[u8], digest: Digest) -> Result<[u8; 64], P256Error> {
    let sk = SigningKey::from(secret);
    let sig: Signature = sk
        .sign_prehash(&digest.hash(msg))
        .map_err(|_| P256Error::SigningFailed)?;
    Ok(sig.to_bytes().into())
}

/// The compressed SEC1 encoding of a P-256 public key.
pub fn compress(pk: &p256::PublicKey) -> [u8; 33] {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let mut out = [0u8; 33];
    out.copy_from_slice(pk.to_encoded_point(true).as_bytes());
    out
}
