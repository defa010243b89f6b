//! BIP-32 test vectors 1-5, parsed from the copied bip-0032.mediawiki.
mod common;

use signer::bip32::{Bip32Error, HARDENED, KeyNetwork, Xpriv, Xpub};

fn parse_chain(chain: &str) -> Vec<u32> {
    let chain = chain.replace("<sub>H</sub>", "'");
    let chain = chain.trim();
    assert!(chain.starts_with('m'), "{chain}");
    chain
        .split('/')
        .skip(1)
        .map(|s| match s.strip_suffix('\'') {
            Some(n) => n.parse::<u32>().expect("index") | HARDENED,
            None => s.parse::<u32>().expect("index"),
        })
        .collect()
}

#[test]
fn vectors_1_to_4_derive_and_roundtrip() {
    let text = common::read_vector("bip-0032.mediawiki");
    let mut seed: Option<Vec<u8>> = None;
    let mut path: Vec<u32> = Vec::new();
    let mut checked = 0;
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("Seed (hex): ") {
            seed = Some(common::hex(s));
        } else if let Some(c) = line.strip_prefix("* Chain ") {
            path = parse_chain(c);
        } else if let Some(x) = line.strip_prefix("** ext pub: ") {
            let master =
                Xpriv::new_master(seed.as_ref().expect("seed"), KeyNetwork::Main).expect("master");
            let derived = master.derive_path(&path).expect("derive");
            assert_eq!(
                derived.to_xpub().encode().expect("enc").as_str(),
                x.trim(),
                "xpub at {path:?}"
            );
            let parsed = Xpub::decode(x.trim()).expect("decode xpub");
            assert_eq!(parsed, derived.to_xpub());
            // Public derivation of the non-hardened tail from the nearest hardened ancestor.
            let split = path
                .iter()
                .rposition(|c| c & HARDENED != 0)
                .map_or(0, |i| i + 1);
            let anchor = master
                .derive_path(&path[..split])
                .expect("anchor")
                .to_xpub();
            assert_eq!(anchor.derive_path(&path[split..]).expect("ckdpub"), parsed);
            checked += 1;
        } else if let Some(x) = line.strip_prefix("** ext prv: ") {
            let master =
                Xpriv::new_master(seed.as_ref().expect("seed"), KeyNetwork::Main).expect("master");
            let derived = master.derive_path(&path).expect("derive");
            assert_eq!(
                derived.encode().expect("enc").as_str(),
                x.trim(),
                "xprv at {path:?}"
            );
            let parsed = Xpriv::decode(x.trim()).expect("decode xprv");
            assert_eq!(parsed.to_xpub(), derived.to_xpub());
            assert_eq!(parsed.encode().expect("enc").as_str(), x.trim());
            checked += 1;
        }
    }
    // Vectors 1-4 hold 6 + 6 + 2 + 3 chains, each with an xpub and an xprv.
    assert_eq!(checked, 2 * (6 + 6 + 2 + 3));
}

#[test]
fn vector_5_invalid_keys_are_refused_with_the_right_error() {
    let text = common::read_vector("bip-0032.mediawiki");
    let section = &text[text.find("===Test vector 5===").expect("vector 5")..];
    let section = &section[..section.find("==Acknowledgements==").expect("end")];
    let mut n = 0;
    for line in section.lines().filter_map(|l| l.strip_prefix("* ")) {
        let (key, reason) = line.split_once(" (").expect("key (reason)");
        let reason = reason.trim_end_matches(')');
        let expected = if reason.contains("pubkey version / prvkey mismatch")
            || reason.starts_with("invalid pubkey")
        {
            Bip32Error::InvalidPublicKey
        } else if reason.contains("prvkey version / pubkey mismatch")
            || reason.starts_with("invalid prvkey")
            || reason.starts_with("private key")
        {
            Bip32Error::InvalidPrivateKey
        } else if reason.contains("non-zero parent fingerprint") {
            Bip32Error::ZeroDepthWithParent
        } else if reason.contains("non-zero index") {
            Bip32Error::ZeroDepthWithIndex
        } else if reason.contains("unknown extended key version") {
            Bip32Error::UnknownVersion
        } else if reason.contains("invalid checksum") {
            Bip32Error::Base58(signer::base58::Base58Error::BadChecksum)
        } else {
            panic!("unclassified vector-5 reason: {reason}")
        };
        let got = if key.starts_with("xpub") {
            Xpub::decode(key).err()
        } else if key.starts_with("xprv") {
            Xpriv::decode(key).err()
        } else {
            // Unknown versions: neither parser may accept them.
            assert_eq!(Xpub::decode(key).err(), Xpriv::decode(key).err());
            Xpub::decode(key).err()
        };
        assert_eq!(got, Some(expected), "{key} ({reason})");
        n += 1;
    }
    assert_eq!(n, 16);
}
