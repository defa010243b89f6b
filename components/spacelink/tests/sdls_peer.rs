//! SDLS against the independent Python peer (`scripts/interop-sdls.py`, PyPI `cryptography`):
//! the crate processes every frame the peer applied (TC and TM, AES-256-GCM and HMAC-SHA-256,
//! CryptoLib-style replay and window cases, wrong key, SPI, channel and IV, header bits inside
//! and outside the mask) with the peer's verdict and plain data, and applying the same cases
//! itself gives the peer's frames byte for byte. The other direction (the peer processing the
//! crate's frames) runs in `scripts/interop` through the `sdls_apply` example.

#[path = "common/sdls_cases.rs"]
mod sdls_cases;

use std::collections::HashMap;

use sdls_cases::TC_LAYOUT;
use spacelink::sdls::{self, SecurityAssociation};

const VECTORS: &str = include_str!("vectors/sdls-peer.txt");

#[test]
fn the_crate_processes_the_peers_frames_with_the_peers_verdicts() {
    let cases = sdls_cases::read(VECTORS);
    let mut receivers: HashMap<String, SecurityAssociation> = cases
        .sas
        .iter()
        .map(|(n, c)| (n.clone(), SecurityAssociation::new(c.clone()).unwrap()))
        .collect();
    let mut verdicts: HashMap<String, usize> = HashMap::new();
    for case in &cases.cases {
        let rx = receivers.get_mut(&case.sa).unwrap();
        let mut bytes = case.frame.clone();
        let got = if case.tm {
            let layout = sdls_cases::tm_layout(rx.config().scid);
            sdls::process_tm(std::slice::from_mut(rx), &mut bytes, &layout)
                .map(|s| s.frame.data.to_vec())
        } else {
            sdls::process_tc(std::slice::from_mut(rx), &mut bytes, TC_LAYOUT)
                .map(|(s, _)| s.frame.data.to_vec())
        };
        let verdict = match &got {
            Ok(plain) => {
                assert_eq!(plain, &case.data, "{} seq {}", case.sa, case.seq);
                "ok"
            }
            Err(e) => sdls_cases::verdict_of(e),
        };
        assert_eq!(
            verdict, case.verdict,
            "{} seq {} ({}): {got:?}",
            case.sa, case.seq, case.change
        );
        *verdicts.entry(verdict.to_string()).or_default() += 1;
    }
    assert_eq!(cases.cases.len(), 70);
    for v in [
        "ok", "replay", "outside", "badmac", "unknown", "channel", "ivfield",
    ] {
        assert!(verdicts.contains_key(v), "no case gives {v}: {verdicts:?}");
    }
}

#[test]
fn the_crate_applies_the_same_cases_byte_for_byte() {
    let cases = sdls_cases::read(VECTORS);
    let mut framers = HashMap::new();
    let mut same = 0;
    for case in &cases.cases {
        match sdls_cases::apply(case, &mut framers) {
            Some(frame) => {
                assert_eq!(
                    sdls_cases::to_hex(&frame),
                    sdls_cases::to_hex(&case.frame),
                    "{} seq {} ({})",
                    case.sa,
                    case.seq,
                    case.change
                );
                same += 1;
            }
            None => assert_eq!(case.seq, 0, "only number 0 is never sent"),
        }
    }
    assert_eq!(same, 66);
}
