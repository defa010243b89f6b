//! The key-rotation scenarios of python-tuf's `tests/test_updater_key_rotations.py`
//! (<https://github.com/theupdateframework/python-tuf>, file at commit
//! 9a61be1bf4706fa02e9f8522c516bf01921d54f8), re-expressed for spacenode's roles: TUF's root
//! rotations are our root chain (15 cases); TUF's non-root rotations (its timestamp, snapshot and
//! targets roles, whose keys the root lists) are our release role, whose keys the root lists and
//! which signs the manifest (10 cases upstream today; the issue counted 8 from an older copy).
//! Keys are numbered as upstream; `res: Fail` stands for upstream's `UnsignedMetadataError`.
mod common;

use common::*;
use upgrade::builder::{SecretKey, SignedDoc, assemble};
use upgrade::{Signers, Trust, VerifyError, Version, verify};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Res {
    Ok,
    Fail,
}

/// TUF's `MdVersion(keys, threshold, sigs, res)`.
struct Md {
    keys: &'static [u8],
    threshold: u8,
    sigs: &'static [u8],
    res: Res,
}

const fn md(keys: &'static [u8], threshold: u8, sigs: &'static [u8]) -> Md {
    Md {
        keys,
        threshold,
        sigs,
        res: Res::Ok,
    }
}

const fn fail(keys: &'static [u8], threshold: u8, sigs: &'static [u8]) -> Md {
    Md {
        keys,
        threshold,
        sigs,
        res: Res::Fail,
    }
}

const ROOT_ROTATION_CASES: &[(&str, &[Md])] = &[
    (
        "1-of-1 key rotation",
        &[md(&[1], 1, &[1]), md(&[2], 1, &[2, 1]), md(&[2], 1, &[2])],
    ),
    (
        "1-of-1 key rotation, unused signatures",
        &[
            md(&[1], 1, &[3, 1, 4]),
            md(&[2], 1, &[3, 2, 1, 4]),
            md(&[2], 1, &[3, 2, 4]),
        ],
    ),
    (
        "1-of-1 key rotation fail: not signed with old key",
        &[md(&[1], 1, &[1]), fail(&[2], 1, &[2, 3, 4])],
    ),
    (
        "1-of-1 key rotation fail: not signed with new key",
        &[md(&[1], 1, &[1]), fail(&[2], 1, &[1, 3, 4])],
    ),
    (
        "3-of-5, sign with different keycombos",
        &[
            md(&[0, 1, 2, 3, 4], 3, &[0, 2, 4]),
            md(&[0, 1, 2, 3, 4], 3, &[0, 4, 1]),
            md(&[0, 1, 2, 3, 4], 3, &[0, 1, 3]),
            md(&[0, 1, 2, 3, 4], 3, &[0, 1, 3]),
        ],
    ),
    (
        "3-of-5, one key rotated",
        &[
            md(&[0, 1, 2, 3, 4], 3, &[0, 2, 4]),
            md(&[0, 1, 3, 4, 5], 3, &[0, 4, 1]),
        ],
    ),
    (
        "3-of-5, one key rotate fails: not signed with 3 new keys",
        &[
            md(&[0, 1, 2, 3, 4], 3, &[0, 2, 4]),
            fail(&[0, 1, 3, 4, 5], 3, &[0, 2, 4]),
        ],
    ),
    (
        "3-of-5, one key rotate fails: not signed with 3 old keys",
        &[
            md(&[0, 1, 2, 3, 4], 3, &[0, 2, 4]),
            fail(&[0, 1, 3, 4, 5], 3, &[0, 4, 5]),
        ],
    ),
    (
        "3-of-5, one key rotated, with intermediate step",
        &[
            md(&[0, 1, 2, 3, 4], 3, &[0, 2, 4]),
            md(&[0, 1, 3, 4, 5], 3, &[0, 2, 4, 5]),
            md(&[0, 1, 3, 4, 5], 3, &[0, 4, 5]),
        ],
    ),
    (
        "3-of-5, all keys rotated, with intermediate step",
        &[
            md(&[0, 1, 2, 3, 4], 3, &[0, 2, 4]),
            md(&[5, 6, 7, 8, 9], 3, &[0, 2, 4, 5, 6, 7]),
            md(&[5, 6, 7, 8, 9], 3, &[5, 6, 7]),
        ],
    ),
    (
        "1-of-3 threshold increase to 2-of-3",
        &[md(&[1, 2, 3], 1, &[1]), md(&[1, 2, 3], 2, &[1, 2])],
    ),
    (
        "1-of-3 threshold bump to 2-of-3 fails: new threshold not reached",
        &[md(&[1, 2, 3], 1, &[1]), fail(&[1, 2, 3], 2, &[2])],
    ),
    (
        "2-of-3 threshold decrease to 1-of-3",
        &[
            md(&[1, 2, 3], 2, &[1, 2]),
            md(&[1, 2, 3], 1, &[1, 2]),
            md(&[1, 2, 3], 1, &[1]),
        ],
    ),
    (
        "2-of-3 threshold decr. to 1-of-3 fails: old threshold not reached",
        &[md(&[1, 2, 3], 2, &[1, 2]), fail(&[1, 2, 3], 1, &[1])],
    ),
    (
        "1-of-2 threshold increase to 2-of-2",
        &[md(&[1], 1, &[1]), md(&[1, 2], 2, &[1, 2])],
    ),
];

const NON_ROOT_ROTATION_CASES: &[(&str, Md)] = &[
    ("1-of-1 key rotation", md(&[2], 1, &[2])),
    (
        "1-of-1 key rotation, unused signatures",
        md(&[1], 1, &[3, 1, 4]),
    ),
    (
        "1-of-1 key rotation fail: not signed with new key",
        fail(&[2], 1, &[1, 3, 4]),
    ),
    (
        "3-of-5, one key signature wrong: not signed with 3 expected keys",
        fail(&[0, 1, 3, 4, 5], 3, &[0, 2, 4]),
    ),
    (
        "2-of-5, one key signature mising: threshold not reached",
        fail(&[0, 1, 3, 4, 5], 3, &[0, 4]),
    ),
    (
        "3-of-5, sign first combo",
        md(&[0, 1, 2, 3, 4], 3, &[0, 2, 4]),
    ),
    (
        "3-of-5, sign second combo",
        md(&[0, 1, 2, 3, 4], 3, &[0, 4, 1]),
    ),
    (
        "3-of-5, sign third combo",
        md(&[0, 1, 2, 3, 4], 3, &[0, 1, 3]),
    ),
    (
        "3-of-5, sign fourth combo",
        md(&[0, 1, 2, 3, 4], 3, &[1, 2, 3]),
    ),
    (
        "3-of-5, sign fifth combo",
        md(&[0, 1, 2, 3, 4], 3, &[2, 3, 4]),
    ),
];

fn keys(ids: &[u8]) -> Vec<SecretKey> {
    ids.iter().map(|&i| ed(i)).collect()
}

fn refs(k: &[SecretKey]) -> Vec<&SecretKey> {
    k.iter().collect()
}

/// The release key of the root-rotation cases (outside TUF's 0..9).
const RELEASE: u8 = 20;

fn release_manifest() -> (Vec<u8>, SignedDoc) {
    let img = image(3);
    let m = manifest(&spec(Version::new(1, 1, 0), 6), &img, &[&ed(RELEASE)]);
    (img, m)
}

#[test]
fn root_rotation_cases() {
    assert_eq!(ROOT_ROTATION_CASES.len(), 15);
    let (img, m) = release_manifest();
    for (name, versions) in ROOT_ROTATION_CASES {
        let chain: Vec<SignedDoc> = versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (k, s) = (keys(v.keys), keys(v.sigs));
                root(
                    i as u32 + 1,
                    &refs(&k),
                    v.threshold,
                    &[&ed(RELEASE)],
                    1,
                    &refs(&s),
                )
            })
            .collect();
        let anchor = anchor(&chain[0]);
        let bundle = assemble(&chain, &m, &img).unwrap();
        let got = verify(&bundle, &policy(Trust::Anchor(&anchor)));
        match versions.last().unwrap().res {
            Res::Ok => {
                let v = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(v.root.version as usize, versions.len(), "{name}");
            }
            Res::Fail => {
                let n = versions.len() as u32;
                assert!(
                    matches!(got, Err(VerifyError::Threshold { signers: Signers::PreviousRoot { version } | Signers::OwnRoot { version }, .. }) if version == n),
                    "{name}: {got:?}"
                );
                // As upstream asserts the local root stays the one before last: the chain
                // without the refused root still verifies and ends there.
                let before = assemble(&chain[..chain.len() - 1], &m, &img).unwrap();
                let v = verify(&before, &policy(Trust::Anchor(&anchor))).unwrap();
                assert_eq!(v.root.version, n - 1, "{name}");
            }
        }
    }
}

#[test]
fn non_root_rotation_cases() {
    assert_eq!(NON_ROOT_ROTATION_CASES.len(), 10);
    let img = image(4);
    for (name, v) in NON_ROOT_ROTATION_CASES {
        let k = keys(v.keys);
        let root1 = root(1, &[&ed(30)], 1, &refs(&k), v.threshold, &[&ed(30)]);
        let s = keys(v.sigs);
        let m = manifest(&spec(Version::new(1, 1, 0), 6), &img, &refs(&s));
        let bundle = assemble(std::slice::from_ref(&root1), &m, &img).unwrap();
        let anchor = anchor(&root1);
        let got = verify(&bundle, &policy(Trust::Anchor(&anchor)));
        match v.res {
            Res::Ok => {
                got.unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            Res::Fail => assert!(
                matches!(
                    got,
                    Err(VerifyError::Threshold {
                        signers: Signers::Release { root_version: 1 },
                        ..
                    })
                ),
                "{name}: {got:?}"
            ),
        }
    }
}
