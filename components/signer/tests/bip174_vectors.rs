//! BIP-174 test vectors, parsed from the copied bip-0174.mediawiki: invalid PSBTs are refused,
//! valid ones parse and re-serialise byte for byte, the signer-check cases are refused with the
//! matching error, and both Signer steps are reproduced byte for byte.
mod common;

use signer::ecdsa::PrivateKey;
use signer::psbt::Psbt;
use signer::psbt::sign::{AllowedSighash, SignError, resolve, sign_with_key};

fn text() -> String {
    common::read_vector("bip-0174.mediawiki")
}

fn section(text: &str, from: &str, to: &str) -> Vec<common::Blob> {
    let a = common::line_of(text, from, 0);
    let b = common::line_of(text, to, a);
    common::hex_blobs(text)
        .into_iter()
        .filter(|x| x.line > a && x.line < b)
        .collect()
}

fn roundtrip(bytes: &[u8]) {
    let psbt = Psbt::parse(bytes).expect("parse");
    let mut out = vec![0u8; bytes.len()];
    let n = psbt.write(&[], &mut out).expect("write");
    assert_eq!(&out[..n], bytes);
    // One byte short of room is an error, not a panic.
    let mut short = vec![0u8; bytes.len() - 1];
    assert!(psbt.write(&[], &mut short).is_err());
}

#[test]
fn invalid_psbts_are_refused() {
    let t = text();
    let blobs = section(
        &t,
        "The following are invalid PSBTs",
        "The following are valid PSBTs",
    );
    assert_eq!(blobs.len(), 20);
    for b in &blobs {
        let title = common::case_title(&t, b.line);
        assert!(
            Psbt::parse(&b.bytes).is_err(),
            "accepted invalid PSBT: {title}"
        );
    }
}

#[test]
fn valid_psbts_parse_and_roundtrip() {
    let t = text();
    let blobs = section(&t, "The following are valid PSBTs", "Fails Signer checks");
    assert_eq!(blobs.len(), 10);
    for b in &blobs {
        roundtrip(&b.bytes);
    }
}

#[test]
fn signer_checks_refuse_with_the_matching_error() {
    let t = text();
    let blobs = section(
        &t,
        "Fails Signer checks",
        "The private keys in the tests below",
    );
    assert_eq!(blobs.len(), 4);
    for b in &blobs {
        let title = common::case_title(&t, b.line);
        let psbt = Psbt::parse(&b.bytes).expect("parses; fails only at signing");
        let err = (0..psbt.inputs().len())
            .find_map(|i| resolve(&psbt, i).err())
            .expect("some input refused");
        let ok = match err {
            SignError::WitnessUtxoForNonWitnessInput(_) => {
                title.contains("Witness UTXO is provided for a non-witness")
            }
            SignError::RedeemScriptMismatch(_) => {
                title.contains("redeemScript") && title.contains("scriptPubKey")
            }
            SignError::WitnessScriptMismatch(_) => title.contains("witnessScript"),
            _ => false,
        };
        assert!(ok, "{title}: got {err:?}");
    }
}

#[test]
fn every_role_output_in_the_chain_roundtrips() {
    let t = text();
    let blobs = section(&t, "The private keys in the tests below", "==Rationale==");
    assert!(blobs.len() >= 10);
    for b in &blobs {
        if b.bytes.starts_with(b"psbt\xff") {
            roundtrip(&b.bytes);
        }
    }
}

fn signer_step(t: &str, marker: &str) {
    let blobs = common::hex_blobs(t);
    let at = common::line_of(t, marker, 0);
    // Both signers start from the updater's output that added SIGHASH_ALL.
    let updated = common::line_of(t, "An updater which adds SIGHASH_ALL", 0);
    let input = &blobs
        .iter()
        .find(|b| b.line > updated)
        .expect("input")
        .bytes;
    let expected = &blobs.iter().find(|b| b.line > at).expect("expected").bytes;
    let keys: Vec<PrivateKey> = t
        .lines()
        .skip(at + 1)
        .take_while(|l| !l.starts_with("must create"))
        .filter_map(|l| l.strip_prefix("* <tt>"))
        .map(|l| PrivateKey::from_wif(&l[..l.find("</tt>").expect("tt")]).expect("wif"))
        .collect();
    assert_eq!(keys.len(), 2);
    let psbt = Psbt::parse(input).expect("input parses");
    let mut sigs = Vec::new();
    for k in &keys {
        sigs.extend(sign_with_key(&psbt, k, AllowedSighash::ALL_ONLY).expect("sign"));
    }
    assert_eq!(sigs.len(), 2, "each key signs one input");
    let mut out = vec![0u8; input.len() + 400];
    let n = psbt.write(&sigs, &mut out).expect("write");
    assert_eq!(
        common::to_hex(&out[..n]),
        common::to_hex(expected),
        "{marker}"
    );
    // Signing again adds nothing twice: the signatures already present are kept, not duplicated.
    let signed = Psbt::parse(&out[..n]).expect("output parses");
    let mut again = vec![0u8; n];
    let m = signed.write(&sigs, &mut again).expect("write");
    assert_eq!(&again[..m], &out[..n]);
}

#[test]
fn signer_step_one_is_reproduced_byte_for_byte() {
    signer_step(&text(), "a signer that supports SIGHASH_ALL");
}

#[test]
fn signer_step_two_is_reproduced_byte_for_byte() {
    signer_step(&text(), "a signer with the following keys");
}

#[test]
fn sighash_outside_the_allowed_set_is_refused() {
    let t = text();
    let updated = common::line_of(&t, "An updater which adds SIGHASH_ALL", 0);
    let blobs = common::hex_blobs(&t);
    let mut bytes = blobs
        .iter()
        .find(|b| b.line > updated)
        .expect("input")
        .bytes
        .clone();
    // Turn input 0's PSBT_IN_SIGHASH_TYPE (key 0x03, value 01000000) into SIGHASH_NONE.
    let pat = [0x01, 0x03, 0x04, 0x01, 0x00, 0x00, 0x00];
    let at = bytes
        .windows(pat.len())
        .position(|w| w == pat)
        .expect("sighash pair");
    bytes[at + 3] = 0x02;
    let psbt = Psbt::parse(&bytes).expect("parse");
    let key =
        PrivateKey::from_wif("cP53pDbR5WtAD8dYAW9hhTjuvvTVaEiQBdrz9XPrgLBeRFiyCbQr").expect("wif");
    assert_eq!(
        sign_with_key(&psbt, &key, AllowedSighash::ALL_ONLY).err(),
        Some(SignError::SighashNotAllowed {
            index: 0,
            sighash_type: 2
        })
    );
    let sigs = sign_with_key(&psbt, &key, AllowedSighash::ALL_ONLY.with(2)).expect("allowed");
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0].sig.last(), Some(&0x02));
}
