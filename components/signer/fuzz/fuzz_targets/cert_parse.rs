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
    let view = ServerView { public_key: key, revoked: false, last_sequence: Some(1) };
    let psbts: [&[u8]; 1] = [data];
    let _ = verify(data, |_| Some(view), 0, &psbts);
});
