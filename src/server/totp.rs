//! TOTP confirmation codes (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of
//! clock skew either way) on the `totp-rs` crate, and the `otpauth://` URI an authenticator
//! app reads. Tested against the RFC's appendix B vectors.
//!
//! Avoids: accepting a code twice (the caller stores the step [`check`] returns and refuses a
//! step at or before the last one used, RFC 6238 section 5.2).

use totp_rs::{Algorithm, Builder, Secret};

/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Seconds of a step.
pub const STEP: u64 = 30;

fn totp(algorithm: Algorithm, digits: u8, secret: &[u8]) -> Option<totp_rs::Totp> {
    Builder::new()
        .with_algorithm(algorithm)
        .with_digits(digits)
        .with_skew(1)
        .with_step_duration(STEP)
        .with_secret(Secret::from(secret.to_vec()))
        .build()
        .ok()
}

/// The time step `code` is valid for at Unix time `now` (`None`: not a valid code).
pub fn check(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    totp(Algorithm::SHA1, DIGITS, secret)?.check(code.trim(), now)
}

/// The code of Unix time `now` (the demo's and the tests' authenticator).
pub fn code(secret: &[u8], now: u64) -> String {
    totp(Algorithm::SHA1, DIGITS, secret).map_or_else(String::new, |t| t.generate(now).to_string())
}

/// The `otpauth://totp/...` URI for `user`'s authenticator app.
pub fn uri(user: &str, secret: &[u8]) -> String {
    let label: String = user
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect();
    format!(
        "otpauth://totp/spacenode:{label}?secret={}&issuer=spacenode&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        Secret::from(secret.to_vec()).to_base32()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: the seeds are ASCII "1234567890" repeated to the hash's length.
    fn seed(len: usize) -> Vec<u8> {
        b"1234567890".iter().copied().cycle().take(len).collect()
    }

    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (t, sha1, sha256, sha512) in table {
            for (alg, len, want) in [
                (Algorithm::SHA1, 20, sha1),
                (Algorithm::SHA256, 32, sha256),
                (Algorithm::SHA512, 64, sha512),
            ] {
                let got = totp(alg, 8, &seed(len)).unwrap().generate(t).to_string();
                assert_eq!(got, want, "{alg:?} at {t}");
            }
        }
    }

    #[test]
    fn a_code_is_good_one_step_either_side_and_names_its_step() {
        let s = seed(20);
        let c = code(&s, 1111111111);
        assert_eq!(c.len(), 6);
        // The 6-digit code is the last six of the 8-digit vector.
        assert_eq!(c, "050471");
        assert_eq!(check(&s, &c, 1111111111), Some(1111111111 / STEP));
        assert_eq!(check(&s, &c, 1111111111 + STEP), Some(1111111111 / STEP));
        assert_eq!(check(&s, &c, 1111111111 + 3 * STEP), None);
        assert_eq!(check(&s, "12345", 1111111111), None);
        assert_eq!(check(&s, "abcdef", 1111111111), None);
    }

    #[test]
    fn the_uri_carries_the_base32_secret() {
        let u = uri("ann smith", &seed(20));
        assert_eq!(
            u,
            "otpauth://totp/spacenode:ann%20smith?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=spacenode&algorithm=SHA1&digits=6&period=30"
        );
    }
}
