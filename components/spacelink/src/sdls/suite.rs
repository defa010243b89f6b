//! The two baseline cryptographic suites of CCSDS 355.0 / 352.0 an association can use, and
//! their seal and open operations over one frame's authenticated bytes and data field:
//!
//! - [`Suite::Aes256Gcm`]: authenticated encryption, AES-256 in GCM (NIST SP 800-38D) with a
//!   96-bit IV carried in the security header and a 128-bit tag as the MAC. The data field is
//!   encrypted; the masked primary header and the security header are the additional
//!   authenticated data. RustCrypto `aes-gcm`, which checks the tag before it decrypts.
//! - [`Suite::HmacSha256`]: authentication only, HMAC-SHA-256 (RFC 2104, FIPS 180-4) over the
//!   masked primary header, the security header and the data field, the MAC being its leftmost
//!   128 bits (RFC 2104 §5 truncation); compared in constant time by `hmac`.
//!
//! Avoids: heap, panics, a comparison of MACs that leaks where they differ, and any choice of
//! IV here (the caller passes it; [`super::frame`] builds it from the association's counter so
//! that it never repeats under one key).

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of every MAC (security trailer) this crate writes: GCM's full tag, HMAC truncated.
pub const MAC_LEN: usize = 16;
/// Bytes of a key of either suite.
pub const KEY_LEN: usize = 32;
/// Bytes of the GCM IV.
pub const IV_LEN: usize = 12;

/// The cryptographic suite of a security association.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// AES-256-GCM authenticated encryption (data field encrypted, header authenticated).
    Aes256Gcm,
    /// HMAC-SHA-256 authentication only (data field in clear), MAC truncated to 128 bits.
    HmacSha256,
}

impl core::fmt::Display for Suite {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The MAC did not verify: wrong key, damaged or forged frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unauthentic;

impl Suite {
    /// The suite's name as 355.0 and NIST write it.
    pub const fn name(self) -> &'static str {
        match self {
            Suite::Aes256Gcm => "AES-256-GCM",
            Suite::HmacSha256 => "HMAC-SHA-256",
        }
    }

    /// Encrypts `data` in place (GCM) or leaves it (HMAC) and returns the MAC over `aad` and
    /// `data`.
    pub(crate) fn seal(
        self,
        key: &[u8; KEY_LEN],
        iv: &[u8; IV_LEN],
        aad: &[u8],
        data: &mut [u8],
    ) -> [u8; MAC_LEN] {
        let mut mac = [0u8; MAC_LEN];
        match self {
            Suite::Aes256Gcm => {
                let cipher = Aes256Gcm::new(key.into());
                // GCM refuses only plaintexts or AAD longer than 2^36 bytes; a frame is at
                // most 2048. Should it ever fail, the data is zeroed (never sent in clear) and
                // the all-zero MAC makes the frame unacceptable to every receiver.
                if let Ok(tag) = cipher.encrypt_inout_detached(iv.into(), aad, data.into()) {
                    mac.copy_from_slice(&tag);
                } else {
                    data.fill(0);
                }
            }
            Suite::HmacSha256 => {
                if let Ok(hmac) = hmac_sha256(key, &[aad, data]) {
                    mac.copy_from_slice(&hmac.finalize().into_bytes()[..MAC_LEN]);
                }
            }
        }
        mac
    }

    /// Checks `mac` over `aad` and `data` and decrypts `data` in place (GCM). On failure
    /// `data` is left as received.
    pub(crate) fn open(
        self,
        key: &[u8; KEY_LEN],
        iv: &[u8; IV_LEN],
        aad: &[u8],
        data: &mut [u8],
        mac: &[u8; MAC_LEN],
    ) -> Result<(), Unauthentic> {
        match self {
            Suite::Aes256Gcm => Aes256Gcm::new(key.into())
                .decrypt_inout_detached(iv.into(), aad, data.into(), mac.into())
                .map_err(|_| Unauthentic),
            Suite::HmacSha256 => hmac_sha256(key, &[aad, data])?
                .verify_truncated_left(mac)
                .map_err(|_| Unauthentic),
        }
    }
}

/// HMAC-SHA-256 keyed and fed. HMAC takes keys of any length, so the error (which `hmac`'s
/// signature still carries) does not occur; were it to, sealing writes an all-zero MAC and
/// opening refuses.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Result<Hmac<Sha256>, Unauthentic> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| Unauthentic)?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    //! The suites against NIST's GCM vectors (CAVP, AES-256, 96-bit IV, 128-bit tag) and RFC
    //! 4231's HMAC-SHA-256 cases, copied into `tests/vectors/`.
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The `Key = …` records of a CAVP-style file, each a list of (name, value) fields.
    fn records(text: &str) -> Vec<Vec<(&str, &str)>> {
        let mut out = Vec::new();
        let mut cur: Vec<(&str, &str)> = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with('#') {
                continue;
            }
            if line.is_empty() || line.starts_with('[') {
                if !cur.is_empty() {
                    out.push(core::mem::take(&mut cur));
                }
                continue;
            }
            match line.split_once('=') {
                Some((k, v)) => cur.push((k.trim(), v.trim())),
                None => cur.push((line, "")),
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }

    fn field<'a>(r: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
        r.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn aes256_gcm_matches_nist_cavp_vectors() {
        let text = include_str!("../../tests/vectors/gcm256.rsp");
        let (mut sealed, mut opened, mut refused) = (0, 0, 0);
        for r in records(text) {
            let key: [u8; KEY_LEN] = hex(field(&r, "Key").unwrap()).try_into().unwrap();
            let iv: [u8; IV_LEN] = hex(field(&r, "IV").unwrap()).try_into().unwrap();
            let aad = hex(field(&r, "AAD").unwrap());
            let ct = hex(field(&r, "CT").unwrap());
            let tag: [u8; MAC_LEN] = hex(field(&r, "Tag").unwrap()).try_into().unwrap();
            let mut data = ct.clone();
            let verdict = Suite::Aes256Gcm.open(&key, &iv, &aad, &mut data, &tag);
            if r.iter().any(|(k, _)| *k == "FAIL") {
                assert_eq!(verdict, Err(Unauthentic), "{r:?}");
                assert_eq!(data, ct, "a refused frame is left as received");
                refused += 1;
                continue;
            }
            let pt = hex(field(&r, "PT").unwrap());
            assert_eq!(verdict, Ok(()), "{r:?}");
            assert_eq!(data, pt, "{r:?}");
            opened += 1;
            let mut data = pt.clone();
            assert_eq!(Suite::Aes256Gcm.seal(&key, &iv, &aad, &mut data), tag);
            assert_eq!(data, ct);
            sealed += 1;
        }
        assert_eq!((sealed, opened, refused), (37, 37, 11));
    }

    #[test]
    fn hmac_sha256_matches_rfc4231() {
        let text = include_str!("../../tests/vectors/rfc4231-sha256.txt");
        let mut checked = 0;
        for r in records(text) {
            let key = hex(field(&r, "Key").unwrap());
            let msg = hex(field(&r, "Msg").unwrap());
            let md = hex(field(&r, "MD").unwrap());
            let full = hmac_sha256(&key, &[&msg]).unwrap().finalize().into_bytes();
            assert_eq!(full[..], md[..], "{r:?}");
            // Split anywhere, the MAC is the same (the suite feeds header and data apart).
            let (a, b) = msg.split_at(msg.len() / 3);
            let split = hmac_sha256(&key, &[a, b]).unwrap().finalize().into_bytes();
            assert_eq!(split, full);
            checked += 1;
        }
        assert_eq!(checked, 6);
        // RFC 4231 §4.6, test case 5: the leftmost 128 bits, as this suite's MAC.
        let key = [0x0c; 20];
        let mac = hmac_sha256(&key, &[b"Test With Truncation"]).unwrap();
        assert_eq!(
            mac.finalize().into_bytes()[..MAC_LEN],
            hex("a3b6167473100ee06e0c796c2955552b")
        );
    }

    #[test]
    fn hmac_open_checks_the_truncated_mac_and_refuses_one_flipped_bit() {
        let key = [7u8; KEY_LEN];
        let iv = [0u8; IV_LEN];
        let mut data = *b"telecommand";
        let mac = Suite::HmacSha256.seal(&key, &iv, b"hdr", &mut data);
        assert_eq!(&data, b"telecommand", "authentication only: data in clear");
        assert_eq!(
            Suite::HmacSha256.open(&key, &iv, b"hdr", &mut data, &mac),
            Ok(())
        );
        for bit in 0..MAC_LEN * 8 {
            let mut bad = mac;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                Suite::HmacSha256.open(&key, &iv, b"hdr", &mut data, &bad),
                Err(Unauthentic)
            );
        }
        assert_eq!(
            Suite::HmacSha256.open(&key, &iv, b"hdR", &mut data, &mac),
            Err(Unauthentic)
        );
    }
}
