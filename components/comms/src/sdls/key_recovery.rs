//! Key recovery: new SDLS keys for a comms whose sealed key record is lost or damaged (issue 13,
//! issue 14 point 2), under the board's **link recovery key**.
//!
//! The link recovery key is burnt once, at provisioning, into write-once memory apart from
//! comms' flash (`runtime::drivers::Drivers::link_recovery_key`; on the sim board
//! `STATE/link-recovery.otp`), and kept by the ground in `FILE.recovery`. It survives whatever
//! happens to the flash, and it is used for exactly two things, only while the sealed keys are
//! lost:
//!
//! 1. **the recovery association** ([`recovery_provisioning`]): one association, SPI
//!    [`RECOVERY_SPI`], whose master key is the recovery key. Comms boots on it in recovery-only
//!    mode (`comms::node` recovery): MAC-checked units, and only the challenge read and a
//!    `recover-link` admin envelope are taken;
//! 2. **the wrapped keys** in that envelope's `keys=` field ([`wrap`], [`unwrap`]): a whole new
//!    provisioning file ([`super::provision`]) under AES-256-GCM with the recovery key, bound to
//!    the signer's current link-recovery challenge by the associated data.
//!
//! So a key recovery needs the recovery key **and** M-of-N admin signatures (the signer checks
//! the envelope and uses the challenge up), and a captured one never applies again (the
//! challenge changes at every signer boot and after every recovery it verified).
//!
//! # Wrapped keys
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 12 | IV, the ground's random |
//! | 12 | L | AES-256-GCM ciphertext of the provisioning file (L bytes) |
//! | 12+L | 16 | the GCM tag; associated data: `spacenode link key recovery` ‖ challenge (16) |
//!
//! Avoids: heap; any use of the recovery key while the sealed keys are readable; keeping the
//! plaintext file anywhere but the caller's buffer.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use zeroize::Zeroize;

use super::mac::{KEY_LEN, Key};
use super::provision::{MAX_ASSOCIATIONS, ProvisionError, ProvisionedSa, Provisioning};
use super::sim_default::SIM_WINDOW;
use super::{KeyState, Permissions};

/// The recovery association's SPI (the highest one a file may use: no provisioning the
/// project makes uses it).
pub const RECOVERY_SPI: u16 = 0xFFFE;
/// IV length.
pub const IV_LEN: usize = 12;
/// GCM tag length.
pub const TAG_LEN: usize = 16;
/// Longest provisioning file a key recovery carries.
pub const MAX_RECOVERED_FILE: usize = Provisioning::encoded_len_kek(MAX_ASSOCIATIONS);
/// Longest wrapped form.
pub const MAX_WRAPPED_LEN: usize = IV_LEN + MAX_RECOVERED_FILE + TAG_LEN;
const LABEL: &[u8] = b"spacenode link key recovery";
const CHALLENGE_LEN: usize = protocol::link_recovery::LINK_CHALLENGE_LEN;

/// Why wrapped keys were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyRecoveryError {
    /// Shorter than IV and tag, or longer than [`MAX_WRAPPED_LEN`].
    #[error("wrapped keys of {0} bytes: expected 12 + a provisioning file + 16")]
    BadLength(usize),
    /// The tag does not verify: another recovery key, another challenge, or damage.
    #[error(
        "the wrapped keys do not open under this node's link recovery key and the current challenge"
    )]
    BadTag,
    /// They open, but are not a provisioning file comms accepts.
    #[error("the recovered keys are not a valid provisioning file: {0}")]
    Invalid(ProvisionError),
    /// The new file uses the recovery association's SPI.
    #[error("the recovered keys use SPI {RECOVERY_SPI:#06x}, kept for the recovery association")]
    RecoverySpi,
}

/// The key set comms runs on while its sealed keys are lost: the recovery association alone
/// (every permission, telemetry, key active; the node's recovery mode admits only the two
/// recovery functions whatever the permissions say).
pub fn recovery_provisioning(key: &[u8; KEY_LEN]) -> Result<Provisioning, ProvisionError> {
    let mut file = [0u8; RECOVERY_FILE_LEN];
    let parsed = recovery_file(key, &mut file)
        .and_then(|n| Provisioning::parse(file.get(..n).unwrap_or(&[])));
    file.zeroize();
    parsed
}

/// Length of [`recovery_file`]'s output.
pub const RECOVERY_FILE_LEN: usize = Provisioning::encoded_len(1);

/// The recovery association as a provisioning file (the ground's scratch end reads it): its
/// length in `out`.
pub fn recovery_file(key: &[u8; KEY_LEN], out: &mut [u8]) -> Result<usize, ProvisionError> {
    let sa = ProvisionedSa {
        spi: RECOVERY_SPI,
        permissions: Permissions::ALL,
        window: SIM_WINDOW,
        telemetry: true,
        master: Key::from_bytes(*key),
        state: KeyState::Active,
        suite: super::provision::Suite::Aes256Gcm,
        key_id: 0,
    };
    Provisioning::encode(core::slice::from_ref(&sa), out)
}

fn aad(challenge: &[u8; CHALLENGE_LEN]) -> [u8; LABEL.len() + CHALLENGE_LEN] {
    let mut a = [0u8; LABEL.len() + CHALLENGE_LEN];
    a[..LABEL.len()].copy_from_slice(LABEL);
    a[LABEL.len()..].copy_from_slice(challenge);
    a
}

/// Ground side: wrap the provisioning `file` under `key` for `challenge`, with the ground's
/// fresh random `iv`, into `out`; the wrapped length.
pub fn wrap(
    key: &[u8; KEY_LEN],
    challenge: &[u8; CHALLENGE_LEN],
    iv: &[u8; IV_LEN],
    file: &[u8],
    out: &mut [u8],
) -> Result<usize, KeyRecoveryError> {
    let total = IV_LEN + file.len() + TAG_LEN;
    if file.len() > MAX_RECOVERED_FILE {
        return Err(KeyRecoveryError::BadLength(total));
    }
    let out = out
        .get_mut(..total)
        .ok_or(KeyRecoveryError::BadLength(total))?;
    let (head, rest) = out.split_at_mut(IV_LEN);
    head.copy_from_slice(iv);
    let (body, tag_out) = rest.split_at_mut(file.len());
    body.copy_from_slice(file);
    let tag = Aes256Gcm::new(key.into())
        .encrypt_inout_detached(&Nonce::from(*iv), &aad(challenge), body.into())
        .map_err(|_| KeyRecoveryError::BadLength(total))?;
    tag_out.copy_from_slice(&tag);
    Ok(total)
}

/// Node side: open `wrapped` under `key` for `challenge` into `out` and check it is a
/// provisioning file that does not use [`RECOVERY_SPI`]; the file's length and its parse.
/// `out` is zeroized on every refusal.
pub fn unwrap(
    key: &[u8; KEY_LEN],
    challenge: &[u8; CHALLENGE_LEN],
    wrapped: &[u8],
    out: &mut [u8; MAX_RECOVERED_FILE],
) -> Result<(usize, Provisioning), KeyRecoveryError> {
    let n = wrapped
        .len()
        .checked_sub(IV_LEN + TAG_LEN)
        .filter(|n| *n <= MAX_RECOVERED_FILE)
        .ok_or(KeyRecoveryError::BadLength(wrapped.len()))?;
    let mut iv = [0u8; IV_LEN];
    iv.copy_from_slice(&wrapped[..IV_LEN]);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&wrapped[IV_LEN + n..]);
    let plain = &mut out[..n];
    plain.copy_from_slice(&wrapped[IV_LEN..IV_LEN + n]);
    let opened = Aes256Gcm::new(key.into())
        .decrypt_inout_detached(
            &Nonce::from(iv),
            &aad(challenge),
            (&mut *plain).into(),
            &Tag::from(tag),
        )
        .map_err(|_| KeyRecoveryError::BadTag)
        .and_then(|()| Provisioning::parse(plain).map_err(KeyRecoveryError::Invalid))
        .and_then(|p| {
            if p.associations().any(|sa| sa.spi == RECOVERY_SPI) {
                Err(KeyRecoveryError::RecoverySpi)
            } else {
                Ok((n, p))
            }
        });
    if opened.is_err() {
        out.zeroize();
    }
    opened
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(spi: u16) -> ([u8; MAX_RECOVERED_FILE], usize) {
        let sa = ProvisionedSa {
            spi,
            permissions: Permissions::ALL,
            window: 64,
            telemetry: true,
            master: Key::from_bytes([9; 32]),
            state: KeyState::Active,
            suite: crate::sdls::Suite::Aes256Gcm,
            key_id: 0,
        };
        let mut out = [0u8; MAX_RECOVERED_FILE];
        let n = Provisioning::encode(&[sa], &mut out).unwrap();
        (out, n)
    }

    #[test]
    fn wrapped_keys_open_only_under_the_same_key_and_challenge() {
        let (f, n) = file(1);
        let (k, c, iv) = ([1u8; 32], [2u8; 16], [3u8; 12]);
        let mut w = [0u8; MAX_WRAPPED_LEN];
        let len = wrap(&k, &c, &iv, &f[..n], &mut w).unwrap();
        assert_eq!(len, 12 + n + 16);
        assert_ne!(&w[12..12 + n], &f[..n], "encrypted");
        let mut out = [0u8; MAX_RECOVERED_FILE];
        let (m, p) = unwrap(&k, &c, &w[..len], &mut out).unwrap();
        assert_eq!(&out[..m], &f[..n]);
        assert_eq!(p.associations().next().map(|s| s.spi), Some(1));
        let refused = |k: &[u8; 32], c: &[u8; 16], w: &[u8]| {
            let mut out = [0u8; MAX_RECOVERED_FILE];
            let e = unwrap(k, c, w, &mut out).unwrap_err();
            assert!(out.iter().all(|b| *b == 0), "zeroized");
            e
        };
        assert_eq!(refused(&[4; 32], &c, &w[..len]), KeyRecoveryError::BadTag);
        assert_eq!(refused(&k, &[5; 16], &w[..len]), KeyRecoveryError::BadTag);
        for i in 0..len {
            let mut d = w;
            d[i] ^= 0x20;
            assert_eq!(
                refused(&k, &c, &d[..len]),
                KeyRecoveryError::BadTag,
                "byte {i}"
            );
        }
        assert_eq!(refused(&k, &c, &w[..27]), KeyRecoveryError::BadLength(27));
    }

    /// The layout and associated data against PyPI `cryptography` 50.0.2 (`AESGCM`), made with:
    /// `AESGCM(bytes(range(32))).encrypt(bytes(0xA0 + i for i in range(12)), PT,
    /// b"spacenode link key recovery" + bytes(0x10 + i for i in range(16)))`, IV prepended.
    #[test]
    fn the_wrap_matches_an_independent_aes_gcm() {
        const PT: &[u8] = b"spacenode key recovery vector plaintext";
        const PYTHON: &str = "a0a1a2a3a4a5a6a7a8a9aaab95681d4e20a56ddb0745ecb67e5ab2bb13c32f75e0ce621af96d52e90d8b056db31f298bca5a27f0695e5b6a4e5afcb75eec747e07e145";
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let iv: [u8; 12] = core::array::from_fn(|i| 0xA0 + i as u8);
        let challenge: [u8; 16] = core::array::from_fn(|i| 0x10 + i as u8);
        let mut w = [0u8; MAX_WRAPPED_LEN];
        let n = wrap(&key, &challenge, &iv, PT, &mut w).unwrap();
        let hex: std::string::String = w[..n].iter().map(|b| std::format!("{b:02x}")).collect();
        assert_eq!(hex, PYTHON);
        // Python's tag verifies here (the plaintext is then refused as no provisioning file).
        let mut out = [0u8; MAX_RECOVERED_FILE];
        assert!(matches!(
            unwrap(&key, &challenge, &w[..n], &mut out),
            Err(KeyRecoveryError::Invalid(_))
        ));
    }

    #[test]
    fn garbage_inside_a_good_tag_and_the_recovery_spi_are_refused() {
        let (k, c, iv) = ([1u8; 32], [2u8; 16], [3u8; 12]);
        let mut w = [0u8; MAX_WRAPPED_LEN];
        let len = wrap(&k, &c, &iv, b"not a provisioning file", &mut w).unwrap();
        let mut out = [0u8; MAX_RECOVERED_FILE];
        assert!(matches!(
            unwrap(&k, &c, &w[..len], &mut out),
            Err(KeyRecoveryError::Invalid(_))
        ));
        let (f, n) = file(RECOVERY_SPI);
        let len = wrap(&k, &c, &iv, &f[..n], &mut w).unwrap();
        assert_eq!(
            unwrap(&k, &c, &w[..len], &mut out),
            Err(KeyRecoveryError::RecoverySpi)
        );
    }

    #[test]
    fn the_recovery_association_runs_on_the_recovery_key() {
        let p = recovery_provisioning(&[7; 32]).unwrap();
        let sa = p.associations().next().unwrap();
        assert_eq!(sa.spi, RECOVERY_SPI);
        assert_eq!(sa.master, Key::from_bytes([7; 32]));
        assert!(sa.telemetry);
        assert_eq!(p.associations().count(), 1);
    }
}
