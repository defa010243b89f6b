//! Fuzz target: batch certificate parsing and verification against a fixed server key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signer::cert::{Certificate, ServerView, verify};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Certificate::parse(data) {
        assert!(c.count() >= 1);
        let _ = c.digest();
    }
    let key = [2u8; 33];
    // The first byte picks the registry's `no-expiry` flag and whether the node has mission time,
    // so every expiry rule sees fuzzed certificates.
    let flags = data.first().copied().unwrap_or(0);
    let view = ServerView {
        public_key: key,
        revoked: false,
        last_sequence: Some(1),
        no_expiry: flags & 1 != 0,
    };
    let now = (flags & 2 != 0).then_some(0);
    let psbts: [&[u8]; 1] = [data];
    let _ = verify(data, |_| Some(view), now, &psbts);
});
