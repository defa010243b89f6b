//! Fuzz target: the node-side parser and verifier on arbitrary bytes. The trust anchor is taken
//! from the input's own first root, so the fuzzer gets past the anchor check into the root chain,
//! the thresholds, the manifest checks and the image verifiers. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use upgrade::{Floor, Header, Manifest, Policy, Root, Rule, Trust, Version, header_len, verify};

fuzz_target!(|data: &[u8]| {
    let _ = header_len(data);
    let Ok(h) = Header::parse(data) else { return };
    let _ = Manifest::parse(h.manifest.body);
    for r in h.roots() {
        let _ = Root::parse(r.body);
    }
    let anchor: [u8; 32] = Sha256::digest(h.roots()[0].body).into();
    for trust in [Trust::Anchor(&anchor), Trust::Root(h.roots()[0].body)] {
        let policy = Policy {
            trust,
            board: b"sim",
            hardware: b"x86_64-linux",
            version: Floor { current: Version::new(1, 0, 0), rule: Rule::Greater },
            security_counter: Floor { current: 5, rule: Rule::AtLeast },
            max_image_len: 1 << 20,
            now: Some(100),
        };
        let Ok(v) = verify(data, &policy) else { continue };
        let image = &data[v.header_len..];
        let mut s = v.manifest.image_verifier();
        let _ = s.update(image).and_then(|()| s.finish());
        for (i, c) in image.chunks(v.manifest.chunk_size()).enumerate() {
            let _ = v.manifest.verify_chunk(i as u32, c);
        }
    }
});
