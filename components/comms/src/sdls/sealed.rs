//! The SDLS keys at rest: the provisioning file (associations and master keys,
//! [`super::provision`]) sealed under the board's sealing secret, as comms keeps it on its own
//! flash.
//!
//! # Sealed record (payload of the `LKEY` store record), integers big-endian
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SNLK` |
//! | 4 | 1 | version `1` |
//! | 5 | 1 | origin: `1` provisioned by the operator, `2` the sim board's public default |
//! | 6 | 4 | generation: `1` for the first record, one more for each rewrite |
//! | 10 | 2 | n, length of the provisioning file |
//! | 12 | n | the provisioning file, encrypted with AES-256-GCM-SIV |
//! | 12+n | 16 | the GCM-SIV tag |
//!
//! Key: `HMAC-SHA3-256(seal, "spacenode/sdls-keys/seal/v1")`, where `seal` is the 32 bytes the
//! board's sealing hook (`runtime::Drivers::seal_secret`, the same hook the signer seals its seed
//! with) gives for comms' flash; the label keeps it apart from every other use of that secret.
//! Nonce: `SNLK ‖ 0000 ‖ generation`. Associated data: bytes `0..12`, so the origin and
//! generation cannot be changed without the tag failing.
//!
//! Why AES-GCM-SIV (RFC 8452): comms has no RNG device, so the nonce is a counter; a power cut
//! between writing a generation and committing it can make the same generation be written twice
//! with different contents. GCM-SIV is nonce-misuse resistant: a repeated nonce then reveals only
//! whether the two plaintexts were equal, nothing of the keys.
//!
//! What it protects, honestly: the same as the signer's seed record. On a flight board whose
//! sealing secret lives where only comms' partition can read it (OTP, PUF, secure element), the
//! keys are confidential and unforgeable at rest. On the sim board the secret is a public
//! constant: sealing then detects every corruption, and is obfuscation only.
//!
//! Avoids: heap; keeping a plaintext copy (every buffer that held key bytes is zeroized).

use aes_gcm_siv::aead::{AeadInOut, KeyInit};
use aes_gcm_siv::{Aes256GcmSiv, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha3::Sha3_256;
use zeroize::Zeroize;

use super::provision::{MAX_ASSOCIATIONS, ProvisionError, Provisioning};

/// Magic bytes of a sealed record.
pub const MAGIC: [u8; 4] = *b"SNLK";
/// Record format version.
pub const VERSION: u8 = 1;
/// The store tag of the sealed key record.
pub const TAG: [u8; 4] = *b"LKEY";
const HEADER_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Largest provisioning file.
pub const MAX_FILE_LEN: usize = Provisioning::encoded_len_kek(MAX_ASSOCIATIONS);
/// Largest sealed record.
pub const MAX_SEALED_LEN: usize = HEADER_LEN + MAX_FILE_LEN + TAG_LEN;

/// Where the sealed keys came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// The operator's provisioning file (through the inbox; key states may since have
    /// changed over the air).
    Provisioned,
    /// The sim board's public default ([`super::sim_default`]): worthless as security.
    SimDefault,
}

impl KeyOrigin {
    const fn code(self) -> u8 {
        match self {
            KeyOrigin::Provisioned => 1,
            KeyOrigin::SimDefault => 2,
        }
    }
}

/// Why a record could not be sealed or unsealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not a sealed key record (magic, version, origin or length wrong).
    #[error("the sealed SDLS key record is malformed")]
    Malformed,
    /// The tag does not verify: damaged, or sealed under another board's secret.
    #[error("the sealed SDLS key record does not verify (damaged, or sealed by another board)")]
    BadTag,
    /// It verifies, but the provisioning inside is refused (cannot happen for a record this
    /// code wrote).
    #[error("the sealed SDLS keys are invalid: {0}")]
    Invalid(ProvisionError),
    /// The generation counter is at its maximum.
    #[error("the sealed SDLS key record's generation is exhausted")]
    Exhausted,
}

/// A record that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsealed {
    /// The associations and master keys.
    pub provisioning: Provisioning,
    /// Where they came from.
    pub origin: KeyOrigin,
    /// The record's generation.
    pub generation: u32,
}

fn cipher(seal: &[u8; 32]) -> Aes256GcmSiv {
    let mut k = <Hmac<Sha3_256> as Mac>::new_from_slice(seal)
        .map(|m| {
            let mut m = m;
            m.update(b"spacenode/sdls-keys/seal/v1");
            <[u8; 32]>::from(m.finalize().into_bytes())
        })
        // HMAC takes a key of any length; never taken.
        .unwrap_or([0u8; 32]);
    let c = Aes256GcmSiv::new(&k.into());
    k.zeroize();
    c
}

fn nonce(generation: u32) -> Nonce {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&MAGIC);
    n[8..].copy_from_slice(&generation.to_be_bytes());
    n.into()
}

/// Seal the provisioning `file` (checked first: a file [`Provisioning::parse`] refuses is
/// refused here) into `out`, returning the record's length.
pub fn seal(
    seal: &[u8; 32],
    origin: KeyOrigin,
    generation: u32,
    file: &[u8],
    out: &mut [u8; MAX_SEALED_LEN],
) -> Result<usize, SealError> {
    Provisioning::parse(file).map_err(SealError::Invalid)?;
    let n = file.len();
    let total = HEADER_LEN + n + TAG_LEN;
    out[..4].copy_from_slice(&MAGIC);
    out[4] = VERSION;
    out[5] = origin.code();
    out[6..10].copy_from_slice(&generation.to_be_bytes());
    out[10..12].copy_from_slice(&(n as u16).to_be_bytes());
    let (head, rest) = out.split_at_mut(HEADER_LEN);
    let (body, tail) = rest.split_at_mut(n);
    body.copy_from_slice(file);
    let tag = cipher(seal)
        .encrypt_inout_detached(&nonce(generation), head, body.into())
        .map_err(|_| SealError::Malformed)?;
    tail[..TAG_LEN].copy_from_slice(&tag);
    Ok(total)
}

/// Verify and open a sealed record.
pub fn unseal(seal: &[u8; 32], record: &[u8]) -> Result<Unsealed, SealError> {
    let head = record.get(..HEADER_LEN).ok_or(SealError::Malformed)?;
    let origin = match head[5] {
        1 => KeyOrigin::Provisioned,
        2 => KeyOrigin::SimDefault,
        _ => return Err(SealError::Malformed),
    };
    let n = usize::from(u16::from_be_bytes([head[10], head[11]]));
    if head[..4] != MAGIC
        || head[4] != VERSION
        || n > MAX_FILE_LEN
        || record.len() != HEADER_LEN + n + TAG_LEN
    {
        return Err(SealError::Malformed);
    }
    let generation = u32::from_be_bytes([head[6], head[7], head[8], head[9]]);
    let mut body = [0u8; MAX_FILE_LEN];
    body[..n].copy_from_slice(&record[HEADER_LEN..HEADER_LEN + n]);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&record[HEADER_LEN + n..]);
    let opened = cipher(seal).decrypt_inout_detached(
        &nonce(generation),
        head,
        (&mut body[..n]).into(),
        &Tag::from(tag),
    );
    let result = match opened {
        Err(_) => Err(SealError::BadTag),
        Ok(()) => Provisioning::parse(&body[..n])
            .map(|provisioning| Unsealed {
                provisioning,
                origin,
                generation,
            })
            .map_err(SealError::Invalid),
    };
    body.zeroize();
    result
}

/// The next generation after `generation`.
pub fn next_generation(generation: u32) -> Result<u32, SealError> {
    generation.checked_add(1).ok_or(SealError::Exhausted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdls::sim_default::sim_default_bytes;

    const SEAL: [u8; 32] = [7; 32];

    fn sealed() -> Vec<u8> {
        let mut out = [0u8; MAX_SEALED_LEN];
        let file = sim_default_bytes().unwrap();
        let n = seal(&SEAL, KeyOrigin::SimDefault, 3, &file, &mut out).unwrap();
        out[..n].to_vec()
    }

    #[test]
    fn round_trip_keeps_keys_origin_and_generation() {
        let r = sealed();
        let u = unseal(&SEAL, &r).unwrap();
        assert_eq!(u.origin, KeyOrigin::SimDefault);
        assert_eq!(u.generation, 3);
        assert_eq!(
            u.provisioning,
            crate::sdls::sim_default::sim_default().unwrap()
        );
        // The keys are not in the record in clear.
        let key = crate::sdls::sim_default::sim_master_key(1);
        assert!(!r.windows(32).any(|w| w == key.as_bytes()));
    }

    #[test]
    fn every_flipped_bit_and_another_seal_are_refused() {
        let r = sealed();
        for i in 0..r.len() {
            for bit in 0..8 {
                let mut d = r.clone();
                d[i] ^= 1 << bit;
                let e = unseal(&SEAL, &d).unwrap_err();
                assert!(
                    matches!(e, SealError::BadTag | SealError::Malformed),
                    "byte {i} bit {bit}: {e:?}"
                );
            }
        }
        assert_eq!(unseal(&[8; 32], &r).unwrap_err(), SealError::BadTag);
        assert_eq!(
            unseal(&SEAL, &r[..r.len() - 1]).unwrap_err(),
            SealError::Malformed
        );
        assert_eq!(unseal(&SEAL, &[]).unwrap_err(), SealError::Malformed);
    }

    #[test]
    fn an_invalid_file_is_never_sealed() {
        let mut out = [0u8; MAX_SEALED_LEN];
        let mut file = sim_default_bytes().unwrap();
        file[0] = b'X';
        assert_eq!(
            seal(&SEAL, KeyOrigin::Provisioned, 1, &file, &mut out),
            Err(SealError::Invalid(ProvisionError::BadMagic))
        );
    }
}
