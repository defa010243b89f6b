//! BIP-370 (PSBT v2) test vectors, parsed from the copied bip-0370.mediawiki: each invalid PSBT is
//! refused for its stated reason, valid ones parse and re-serialise byte for byte, and the
//! locktime determination cases give the published locktime (or a conflict).
mod common;

use signer::psbt::{Psbt, PsbtError, Version};

fn text() -> String {
    common::read_vector("bip-0370.mediawiki")
}

fn blobs_between(t: &str, from: &str, to: &str) -> Vec<common::Blob> {
    let a = common::line_of(t, from, 0);
    let b = common::line_of(t, to, a);
    common::hex_blobs(t)
        .into_iter()
        .filter(|x| x.line > a && x.line < b)
        .collect()
}

#[test]
fn invalid_v2_psbts_are_refused_for_their_reason() {
    let t = text();
    let blobs = blobs_between(
        &t,
        "The following are invalid PSBTs",
        "The following are valid PSBTs",
    );
    assert!(blobs.len() >= 20, "{}", blobs.len());
    for b in &blobs {
        let title = common::case_title(&t, b.line);
        let err = Psbt::parse(&b.bytes).expect_err(&title);
        let ok = if title.starts_with("PSBTv0 but with PSBT_GLOBAL_VERSION set to 2") {
            matches!(
                err,
                PsbtError::FieldNotAllowed { .. } | PsbtError::MissingField { .. }
            )
        } else if title.starts_with("PSBTv0 but with") || title.starts_with("PSBTv2 but with") {
            matches!(err, PsbtError::FieldNotAllowed { .. })
        } else if title.contains(" missing ") {
            matches!(err, PsbtError::MissingField { .. })
        } else if title.contains("LOCKTIME") {
            matches!(err, PsbtError::InvalidValue { .. })
        } else {
            false
        };
        assert!(ok, "{title}: {err:?}");
    }
}

#[test]
fn valid_v2_psbts_roundtrip() {
    let t = text();
    let blobs = blobs_between(
        &t,
        "The following are valid PSBTs",
        "The following tests are the timelock",
    );
    assert!(blobs.len() >= 10, "{}", blobs.len());
    for b in &blobs {
        let psbt = Psbt::parse(&b.bytes)
            .unwrap_or_else(|e| panic!("{}: {e:?}", common::case_title(&t, b.line)));
        assert_eq!(psbt.version(), Version::V2);
        let mut out = vec![0u8; b.bytes.len()];
        let n = psbt.write(&[], &mut out).expect("write");
        assert_eq!(&out[..n], &b.bytes[..]);
    }
}

#[test]
fn locktime_determination() {
    let t = text();
    let start = common::line_of(&t, "The following tests are the timelock", 0);
    let end = common::line_of(&t, "==Rationale==", start);
    let mut expected: Option<Option<u32>> = None;
    let mut n = 0;
    for (i, line) in t.lines().enumerate().take(end).skip(start) {
        if let Some(rest) = line.split("should be computed to be ").nth(1) {
            expected = Some(Some(
                rest.trim_end_matches(':').trim().parse().expect("number"),
            ));
        } else if line.contains("cannot be computed") {
            expected = Some(None);
        }
        if let Some(b) = common::hex_blobs(line).first() {
            let want = expected.expect("expectation before vector");
            match want {
                Some(lt) => assert_eq!(
                    Psbt::parse(&b.bytes).expect("parse").lock_time(),
                    lt,
                    "line {i}"
                ),
                None => assert_eq!(
                    Psbt::parse(&b.bytes).err(),
                    Some(PsbtError::LocktimeConflict),
                    "line {i}"
                ),
            }
            n += 1;
        }
    }
    assert!(n >= 9, "{n}");
}
