//! Public keys, key ids and signature verification. The algorithm is part of the signed message
//! (see [`signed_message`]), and a signature entry must name its key's own algorithm, so a
//! signature is never read under another algorithm. Ed25519 is checked with `verify_strict`
//! (RFC 8032 with canonical encodings, no small-order keys); ECDSA P-256 over SHA-256 with
//! `p256`. No allocation.
//!
//! A new key type (a hash-based scheme such as LMS, or ML-DSA) slots in as a new [`Algorithm`]
//! value: its key and signature lengths go into [`Algorithm::key_len`] / [`Algorithm::sig_len`]
//! (lengths are 16-bit on the wire already), its verifier into [`verify`]. Older verifiers refuse
//! the unknown algorithm number instead of misreading it.

use crate::error::FormatError;
use crate::wire::Reader;
use core::fmt;
use hex_conservative::DisplayHex;
use sha2::{Digest, Sha256};

/// The domain separation string at the start of every signed message (format 1).
pub const DOMAIN: &[u8; 20] = b"spacenode/upgrade/v1";

/// A signature algorithm; the byte is the wire value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 (RFC 8032, pure), 32-byte keys, 64-byte signatures.
    Ed25519 = 1,
    /// ECDSA over P-256 with SHA-256, 33-byte compressed SEC1 keys, 64-byte `r || s` signatures.
    P256 = 2,
}

impl Algorithm {
    /// The algorithm of wire value `v`.
    pub fn from_wire(v: u8) -> Result<Self, FormatError> {
        match v {
            1 => Ok(Algorithm::Ed25519),
            2 => Ok(Algorithm::P256),
            other => Err(FormatError::UnknownAlgorithm(other)),
        }
    }

    /// Public key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Algorithm::Ed25519 => 32,
            Algorithm::P256 => 33,
        }
    }

    /// Signature length in bytes.
    pub fn sig_len(self) -> usize {
        64
    }

    /// The lower-case name used by the CLI and the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::P256 => "p256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::P256 => "ECDSA P-256",
        })
    }
}

/// A key id: SHA-256 of the key record (`alg || len (u16 LE) || key bytes`). Derived from the
/// key, never declared, so one key cannot count twice under two ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 32]);

impl fmt::Display for KeyId {
    /// The first 8 bytes in hex: enough for an operator to tell keys apart.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0[..8].as_hex())?;
        Ok(())
    }
}

/// A public key borrowed from a root's key list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey<'a> {
    /// Its algorithm.
    pub alg: Algorithm,
    /// Its bytes (length checked against the algorithm).
    pub bytes: &'a [u8],
    /// Its id.
    pub id: KeyId,
}

/// The id of a key with algorithm `alg` and bytes `key`.
pub fn key_id(alg: Algorithm, key: &[u8]) -> KeyId {
    let mut h = Sha256::new();
    h.update([alg as u8]);
    h.update((key.len() as u16).to_le_bytes());
    h.update(key);
    KeyId(h.finalize().into())
}

impl<'a> PublicKey<'a> {
    /// Reads one key record and checks that the key is a valid point of its curve.
    pub(crate) fn read(r: &mut Reader<'a>) -> Result<Self, FormatError> {
        let alg = Algorithm::from_wire(r.u8("key algorithm")?)?;
        let len = r.u16("key length")? as usize;
        if len != alg.key_len() {
            return Err(FormatError::KeyLength {
                alg,
                len,
                expected: alg.key_len(),
            });
        }
        let bytes = r.take(len, "public key")?;
        let key = PublicKey {
            alg,
            bytes,
            id: key_id(alg, bytes),
        };
        key.check_point()?;
        Ok(key)
    }

    fn check_point(&self) -> Result<(), FormatError> {
        let ok = match self.alg {
            // A small-order key would make `verify_strict` refuse every signature: refuse it here,
            // where the operator learns it at once.
            Algorithm::Ed25519 => ed25519_key(self.bytes).is_some_and(|k| !k.is_weak()),
            Algorithm::P256 => p256_key(self.bytes).is_some(),
        };
        if ok {
            Ok(())
        } else {
            Err(FormatError::BadKey { alg: self.alg })
        }
    }
}

fn ed25519_key(bytes: &[u8]) -> Option<ed25519_dalek::VerifyingKey> {
    let arr: &[u8; 32] = bytes.try_into().ok()?;
    ed25519_dalek::VerifyingKey::from_bytes(arr).ok()
}

fn p256_key(bytes: &[u8]) -> Option<p256::ecdsa::VerifyingKey> {
    // Compressed SEC1 only: one encoding per key, so one key id per key.
    if bytes.len() != 33 || !matches!(bytes[0], 2 | 3) {
        return None;
    }
    p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes).ok()
}

/// The message a signature of algorithm `alg` over a block with body `body` signs:
/// `DOMAIN || alg || SHA-256(body)` (53 bytes).
pub fn signed_message(alg: Algorithm, body: &[u8]) -> [u8; 53] {
    let mut m = [0u8; 53];
    m[..20].copy_from_slice(DOMAIN);
    m[20] = alg as u8;
    m[21..].copy_from_slice(&Sha256::digest(body));
    m
}

/// Whether `sig` is a valid signature by the key (`alg`, `key`) over `msg`. Never panics.
pub fn verify(alg: Algorithm, key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    match alg {
        Algorithm::Ed25519 => {
            let (Some(k), Ok(s)) = (ed25519_key(key), <&[u8; 64]>::try_from(sig)) else {
                return false;
            };
            k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(s))
                .is_ok()
        }
        Algorithm::P256 => {
            use p256::ecdsa::signature::Verifier;
            let (Some(k), Ok(s)) = (p256_key(key), p256::ecdsa::Signature::from_slice(sig)) else {
                return false;
            };
            sig.len() == 64 && k.verify(msg, &s).is_ok()
        }
    }
}
