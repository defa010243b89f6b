//! BIP-341 keyPathSpending vectors, parsed from the copied bip-0341-wallet-test-vectors.json:
//! the whole-transaction intermediate hashes, and every input's SigMsg and sighash.
mod common;

use serde_json::Value;
use signer::encode::Writer;
use signer::sighash::taproot::{Cache, sighash, write_sig_msg};
use signer::tx::{Tx, TxOut};

#[test]
fn key_path_sighashes_match() {
    let json: Value =
        serde_json::from_str(&common::read_vector("bip-0341-wallet-test-vectors.json"))
            .expect("json");
    let mut checked = 0;
    for case in json["keyPathSpending"].as_array().expect("array") {
        let raw = common::hex(case["given"]["rawUnsignedTx"].as_str().expect("tx"));
        let tx = Tx::parse(&raw, true).expect("tx");
        let utxo_scripts: Vec<Vec<u8>> = case["given"]["utxosSpent"]
            .as_array()
            .expect("utxos")
            .iter()
            .map(|u| common::hex(u["scriptPubKey"].as_str().expect("spk")))
            .collect();
        let spent: Vec<TxOut<'_>> = case["given"]["utxosSpent"]
            .as_array()
            .expect("utxos")
            .iter()
            .zip(&utxo_scripts)
            .map(|(u, s)| TxOut {
                value: u["amountSats"].as_u64().expect("amount"),
                script_pubkey: s,
            })
            .collect();
        let cache = Cache::new(&tx, &spent).expect("cache");
        let inter = &case["intermediary"];
        for (field, ours) in [
            ("hashAmounts", cache.sha_amounts),
            ("hashOutputs", cache.sha_outputs),
            ("hashPrevouts", cache.sha_prevouts),
            ("hashScriptPubkeys", cache.sha_scriptpubkeys),
            ("hashSequences", cache.sha_sequences),
        ] {
            assert_eq!(
                common::to_hex(&ours),
                inter[field].as_str().expect(field),
                "{field}"
            );
        }
        for input in case["inputSpending"].as_array().expect("inputs") {
            let index = input["given"]["txinIndex"].as_u64().expect("index") as usize;
            let hash_type = input["given"]["hashType"].as_u64().expect("type") as u32;
            let mut buf = [0u8; 512];
            let mut w = Writer::new(&mut buf);
            write_sig_msg(&mut w, &tx, &cache, &spent, index, hash_type, None).expect("sigmsg");
            assert_eq!(
                common::to_hex(w.written()),
                input["intermediary"]["sigMsg"].as_str().expect("sigMsg")
            );
            let h = sighash(&tx, &cache, &spent, index, hash_type, None).expect("sighash");
            assert_eq!(
                common::to_hex(&h),
                input["intermediary"]["sigHash"].as_str().expect("sigHash")
            );
            checked += 1;
        }
    }
    assert!(checked >= 7, "only {checked} inputs checked");
}

#[test]
fn invalid_hash_types_and_single_without_output_are_refused() {
    let json: Value =
        serde_json::from_str(&common::read_vector("bip-0341-wallet-test-vectors.json"))
            .expect("json");
    let case = &json["keyPathSpending"][0];
    let raw = common::hex(case["given"]["rawUnsignedTx"].as_str().expect("tx"));
    let tx = Tx::parse(&raw, true).expect("tx");
    let scripts: Vec<Vec<u8>> = case["given"]["utxosSpent"]
        .as_array()
        .expect("utxos")
        .iter()
        .map(|u| common::hex(u["scriptPubKey"].as_str().expect("spk")))
        .collect();
    let spent: Vec<TxOut<'_>> = scripts
        .iter()
        .map(|s| TxOut {
            value: 1,
            script_pubkey: s,
        })
        .collect();
    let cache = Cache::new(&tx, &spent).expect("cache");
    use signer::sighash::SighashError;
    assert_eq!(
        sighash(&tx, &cache, &spent, 0, 0x04, None),
        Err(SighashError::InvalidSighashType)
    );
    assert_eq!(
        sighash(&tx, &cache, &spent, 0, 0x80, None),
        Err(SighashError::InvalidSighashType)
    );
    let last = tx.input_count() - 1;
    assert!(tx.output_count() <= last);
    assert_eq!(
        sighash(&tx, &cache, &spent, last, 0x03, None),
        Err(SighashError::SingleWithoutOutput)
    );
    assert_eq!(
        sighash(&tx, &cache, &spent, tx.input_count(), 0x01, None),
        Err(SighashError::InputIndexOutOfRange)
    );
    assert_eq!(
        Cache::new(&tx, &spent[1..]).err(),
        Some(SighashError::PrevoutsMismatch)
    );
}
