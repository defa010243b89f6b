//! Fuzz target: the PSBT parser (v0 and v2) and everything reachable from a parsed PSBT without a
//! key: byte-identical re-serialisation, input resolution and sighash computation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signer::psbt::Psbt;
use signer::psbt::sign::{resolve, sighash};
use signer::sighash::segwit_v0::Cache;

fuzz_target!(|data: &[u8]| {
    let _ = signer::tx::Tx::parse(data, true);
    let Ok(psbt) = Psbt::parse(data) else { return };
    let mut out = vec![0u8; data.len()];
    let n = psbt.write(&[], &mut out).expect("a parsed PSBT fits in its own length");
    assert_eq!(&out[..n], data, "re-serialisation must be byte-identical");
    let cache = Cache::new(&psbt);
    for i in 0..psbt.inputs().len() {
        if let Ok(spend) = resolve(&psbt, i) {
            let _ = sighash(&psbt, &cache, i, &spend);
        }
        for o in psbt.inputs()[i].bip32_derivations() {
            let _ = o.path.len();
        }
    }
});
