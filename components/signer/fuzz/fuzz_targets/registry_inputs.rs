//! Fuzz target: everything that reaches the signer's registry and ledger from outside the
//! partition or from flash. The first byte picks the decoder:
//! - 0: the ledger record (`Ledger::decode`); whatever decodes re-encodes to the same bytes'
//!   meaning (decode of the re-encoding is equal);
//! - 1: provisioning text (`Registry::load_text`) against fixed node keys;
//! - 2: an admin command envelope (`admin::process`) against a registry with 2-of-3 admins.
//!
//! The registries are boxed: the fuzzer's threads have small stacks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signer::admin;
use signer::keys::NodeKeys;
use signer::ledger::{Ledger, MAX_LEN};
use signer::registry::Registry;
use std::cell::RefCell;
use std::sync::OnceLock;

fn keys() -> &'static NodeKeys {
    static KEYS: OnceLock<NodeKeys> = OnceLock::new();
    KEYS.get_or_init(|| NodeKeys::from_seed(&[7; 32]).expect("keys"))
}

fn registry() -> &'static Registry {
    static REG: OnceLock<Box<Registry>> = OnceLock::new();
    REG.get_or_init(|| {
        let mut text = String::from("spacenode-signer-registry 1\nadmin-threshold 2\n");
        for b in 1u8..=3 {
            let k = p256::SecretKey::from_slice(&[b; 32]).expect("key");
            let pk = signer::p256sig::compress(&k.public_key());
            let hex = hex_conservative::DisplayHex::to_lower_hex_string(&pk[..]);
            text += &format!("admin {hex}\n");
        }
        let mut reg = Box::new(Registry::new());
        reg.load_text(&text, keys()).expect("registry");
        reg
    })
}

thread_local! {
    static SCRATCH: RefCell<Box<Registry>> = RefCell::new(Box::new(Registry::new()));
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(l) = Ledger::decode(rest) {
                let mut out = [0u8; MAX_LEN];
                let n = l.encode(&mut out);
                let again = Ledger::decode(&out[..n]).expect("a re-encoded ledger decodes");
                assert_eq!(again, l);
            }
        }
        1 => {
            if let Ok(text) = core::str::from_utf8(rest) {
                SCRATCH.with_borrow_mut(|r| {
                    let _ = r.load_text(text, keys());
                });
            }
        }
        _ => {
            SCRATCH.with_borrow_mut(|next| {
                let _ = admin::process(rest, registry(), next, keys());
            });
        }
    }
});
