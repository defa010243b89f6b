//! The node-side API end to end: header length, verification against an anchor and against a
//! persisted root, chunk checks by index and the streaming image verifier.
mod common;

use common::*;
use upgrade::builder::assemble;
use upgrade::{ImageError, Rule, Trust, VerifyError, Version, header_len, verify};

#[test]
fn a_bundle_verifies_against_its_anchor_and_exposes_the_manifest() {
    let f = fixture();
    let len = header_len(&f.bundle[..upgrade::PREFIX_LEN]).unwrap();
    assert_eq!(&f.bundle[len..], &f.image[..]);
    let v = verify(&f.bundle, &policy(Trust::Anchor(&f.anchor))).unwrap();
    assert_eq!(v.header_len, len);
    let m = v.manifest;
    assert_eq!(
        (m.version, m.security_counter, m.image_len),
        (Version::new(1, 1, 0), 6, 10_000)
    );
    assert_eq!((m.chunk_size(), m.chunk_count()), (4096, 3));
    assert_eq!(m.chunk_len(2), Some(10_000 - 8192));
    assert_eq!(v.root.version, 1);
    assert_eq!(v.root.body, &f.root1.body[..]);
}

#[test]
fn header_len_needs_only_the_prefix_and_refuses_an_oversize_header() {
    let f = fixture();
    assert!(header_len(&f.bundle[..11]).is_err());
    let mut big = f.bundle[..12].to_vec();
    big[8..12].copy_from_slice(&(70_000u32).to_le_bytes());
    assert!(matches!(
        header_len(&big),
        Err(upgrade::FormatError::HeaderTooLong { len: 70_000, .. })
    ));
}

#[test]
fn a_persisted_root_is_a_trust_too() {
    let f = fixture();
    let v = verify(&f.bundle, &policy(Trust::Root(&f.root1.body))).unwrap();
    assert_eq!(v.manifest.security_counter, 6);
}

#[test]
fn every_chunk_verifies_by_index_and_a_wrong_one_is_refused() {
    let f = fixture();
    let v = verify(&f.bundle, &policy(Trust::Anchor(&f.anchor))).unwrap();
    let m = v.manifest;
    for (i, c) in f.image.chunks(4096).enumerate() {
        m.verify_chunk(i as u32, c).unwrap();
    }
    let c1 = &f.image[4096..8192];
    assert_eq!(
        m.verify_chunk(0, c1),
        Err(ImageError::ChunkHash { index: 0 })
    );
    assert_eq!(
        m.verify_chunk(1, &c1[..4095]),
        Err(ImageError::ChunkLength {
            index: 1,
            expected: 4096,
            found: 4095
        })
    );
    assert_eq!(
        m.verify_chunk(3, c1),
        Err(ImageError::ChunkIndex { index: 3, count: 3 })
    );
}

#[test]
fn the_streaming_verifier_accepts_any_split_and_refuses_damage_at_once() {
    let f = fixture();
    let v = verify(&f.bundle, &policy(Trust::Anchor(&f.anchor))).unwrap();
    for step in [1, 7, 4096, 5000, 10_000] {
        let mut s = v.manifest.image_verifier();
        for piece in f.image.chunks(step) {
            s.update(piece).unwrap();
        }
        s.finish().unwrap();
    }
    let mut s = v.manifest.image_verifier();
    s.update(&f.image).unwrap();
    assert_eq!(s.update(&[0]), Err(ImageError::TooLong { len: 10_000 }));
    let mut s = v.manifest.image_verifier();
    s.update(&f.image[..9_999]).unwrap();
    assert_eq!(
        s.finish(),
        Err(ImageError::TooShort {
            got: 9_999,
            len: 10_000
        })
    );
    let mut bad = f.image.clone();
    bad[5000] ^= 1;
    let mut s = v.manifest.image_verifier();
    assert_eq!(s.update(&bad), Err(ImageError::ChunkHash { index: 1 }));
    assert_eq!(s.update(&[]), Err(ImageError::Poisoned));
}

#[test]
fn the_boot_stage_accepts_the_confirmed_counter_and_the_agent_does_not_take_the_same_version() {
    let f = fixture();
    let mut p = policy(Trust::Anchor(&f.anchor));
    p.version.current = Version::new(1, 1, 0);
    assert!(matches!(
        verify(&f.bundle, &p),
        Err(VerifyError::Version {
            rule: Rule::Greater,
            ..
        })
    ));
    p.version.rule = Rule::AtLeast;
    p.security_counter.current = 6;
    p.now = None;
    verify(&f.bundle, &p).unwrap();
    p.security_counter.rule = Rule::Greater;
    assert!(matches!(
        verify(&f.bundle, &p),
        Err(VerifyError::Counter {
            found: 6,
            current: 6,
            ..
        })
    ));
}

#[test]
fn assemble_refuses_an_image_the_manifest_does_not_describe() {
    let f = fixture();
    assert!(assemble(std::slice::from_ref(&f.root1), &f.manifest, &image(1)).is_err());
}

#[test]
fn a_rotated_root_chain_verifies_from_the_anchor_and_from_the_persisted_root() {
    let f = fixture();
    // Root v2: root key ed 1 replaces ed 0; release key ec 11 alone, so ed 10 is revoked.
    let root2 = root(2, &[&ed(1)], 1, &[&ec(11)], 1, &[&ed(0), &ed(1)]);
    let m = manifest(&spec(Version::new(1, 2, 0), 6), &f.image, &[&ec(11)]);
    let chain = [f.root1.clone(), root2.clone()];
    let b = assemble(&chain, &m, &f.image).unwrap();
    let v = verify(&b, &policy(Trust::Anchor(&f.anchor))).unwrap();
    assert_eq!(v.root.version, 2);
    let persisted = v.root.body.to_vec();
    verify(&b, &policy(Trust::Root(&persisted))).unwrap();
    verify(&b, &policy(Trust::Root(&f.root1.body))).unwrap();
    // The revoked release key alone no longer suffices, and the error says why.
    let old = manifest(&spec(Version::new(1, 2, 0), 6), &f.image, &[&ed(10)]);
    let b = assemble(&chain, &old, &f.image).unwrap();
    let e = verify(&b, &policy(Trust::Anchor(&f.anchor))).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("signed by 0 of the 1 required keys"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "key {} is revoked by root version 2",
            ed(10).public().id()
        )),
        "{text}"
    );
}

#[test]
fn the_step_bounds_are_an_install_rule_the_boot_stage_checks_floors_only() {
    let f = fixture();
    let far = spec(Version::new(20, 0, 0), 5 + upgrade::MAX_COUNTER_STEP + 1);
    let b = f.bundle_for(&far);
    let mut p = policy(Trust::Anchor(&f.anchor));
    assert!(matches!(
        verify(&b, &p),
        Err(VerifyError::VersionJump { .. })
    ));
    p.version = upgrade::Floor {
        current: Version::new(0, 0, 0),
        rule: Rule::AtLeast,
    };
    p.now = None;
    verify(&b, &p).unwrap();
}
