//! Test fixtures: deterministic keys, root chains and bundles built with the crate's own builder,
//! and the policy of a node that runs 1.0.0 with security counter 5 on board `sim`.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use upgrade::builder::{ManifestSpec, OwnedKey, RootSpec, SecretKey, SignedDoc, assemble};
use upgrade::{Algorithm, Floor, Policy, Rule, Trust, Version};

/// Ed25519 key number `i` (deterministic).
pub fn ed(i: u8) -> SecretKey {
    SecretKey::from_seed(Algorithm::Ed25519, &[i + 1; 32]).unwrap()
}

/// P-256 key number `i` (deterministic).
pub fn ec(i: u8) -> SecretKey {
    SecretKey::from_seed(Algorithm::P256, &[i + 1; 32]).unwrap()
}

pub fn pubs(keys: &[&SecretKey]) -> Vec<OwnedKey> {
    keys.iter().map(|k| k.public()).collect()
}

/// A signed root document.
pub fn root(
    version: u32,
    root_keys: &[&SecretKey],
    threshold: u8,
    release: &[&SecretKey],
    release_threshold: u8,
    signers: &[&SecretKey],
) -> SignedDoc {
    let spec = RootSpec {
        version,
        root_threshold: threshold,
        root_keys: pubs(root_keys),
        release_threshold,
        release_keys: pubs(release),
    };
    let mut doc = SignedDoc::new(spec.encode());
    for k in signers {
        doc.sign(k);
    }
    doc
}

pub fn spec(version: Version, counter: u32) -> ManifestSpec {
    ManifestSpec {
        board: b"sim".to_vec(),
        hardware: b"x86_64-linux".to_vec(),
        version,
        security_counter: counter,
        expires: 1_000_000,
        chunk_log2: 12,
    }
}

/// A manifest for `image` signed by `signers`.
pub fn manifest(spec: &ManifestSpec, image: &[u8], signers: &[&SecretKey]) -> SignedDoc {
    let mut doc = SignedDoc::new(spec.body(image).unwrap());
    for k in signers {
        doc.sign(k);
    }
    doc
}

/// A 10,000-byte image (three 4 KiB chunks, the last one short) whose bytes depend on `seed`.
pub fn image(seed: u8) -> Vec<u8> {
    (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
        .collect()
}

pub fn anchor(root_v1: &SignedDoc) -> [u8; 32] {
    Sha256::digest(&root_v1.body).into()
}

/// The policy of a node on board `sim`, hardware `x86_64-linux`, running 1.0.0 with counter 5,
/// a 1 MiB slot, its counter at 100.
pub fn policy(trust: Trust<'_>) -> Policy<'_> {
    Policy {
        trust,
        board: b"sim",
        hardware: b"x86_64-linux",
        version: Floor {
            current: Version::new(1, 0, 0),
            rule: Rule::Greater,
        },
        security_counter: Floor {
            current: 5,
            rule: Rule::AtLeast,
        },
        max_image_len: 1 << 20,
        now: Some(100),
    }
}

/// The standard bundle: root v1 (ed 0, 1 of 1; release ed 10 and ec 11, 1 of 2), version 1.1.0,
/// counter 6, signed by release key ed 10.
pub struct Fixture {
    pub root1: SignedDoc,
    pub image: Vec<u8>,
    pub manifest: SignedDoc,
    pub bundle: Vec<u8>,
    pub anchor: [u8; 32],
}

pub fn fixture() -> Fixture {
    let root1 = root(1, &[&ed(0)], 1, &[&ed(10), &ec(11)], 1, &[&ed(0)]);
    let image = image(0);
    let manifest = manifest(&spec(Version::new(1, 1, 0), 6), &image, &[&ed(10)]);
    let bundle = assemble(std::slice::from_ref(&root1), &manifest, &image).unwrap();
    let anchor = anchor(&root1);
    Fixture {
        root1,
        image,
        manifest,
        bundle,
        anchor,
    }
}

impl Fixture {
    /// A bundle on root 1 with the manifest of `spec` for the fixture's image, signed by ed 10.
    pub fn bundle_for(&self, spec: &ManifestSpec) -> Vec<u8> {
        let m = manifest(spec, &self.image, &[&ed(10)]);
        assemble(std::slice::from_ref(&self.root1), &m, &self.image).unwrap()
    }
}
