//! Applies the SDLS cases of a `scripts/interop-sdls.py gen` file the crate's way and prints
//! one frame (hex) per case, `-` for a case the crate refuses to send (sequence number 0), for
//! `scripts/interop-sdls.py check` to process with the independent peer.
//!
//!     cargo run -p spacelink --example sdls_apply -- CASES_FILE

// The example applies; the module's expectations are the test's.
#[allow(dead_code)]
#[path = "../tests/common/sdls_cases.rs"]
mod sdls_cases;

use std::collections::HashMap;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: sdls_apply CASES_FILE (written by scripts/interop-sdls.py gen)");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("sdls_apply: cannot read {path}: {e}");
            std::process::exit(1);
        }
    };
    let cases = sdls_cases::read(&text);
    let mut framers = HashMap::new();
    for case in &cases.cases {
        match sdls_cases::apply(case, &mut framers) {
            Some(frame) => println!("{}", sdls_cases::to_hex(&frame)),
            None => println!("-"),
        }
    }
}
