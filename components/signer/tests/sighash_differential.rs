//! Differential test: our legacy, BIP-143 and BIP-341 sighashes (and txids) against the `bitcoin`
//! crate on random transactions, all sighash types. 256 cases.
use bitcoin::hashes::Hash;
use bitcoin::sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType};
use bitcoin::{
    Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness, absolute,
    transaction,
};
use proptest::prelude::*;
use signer::sighash::{legacy, segwit_v0, taproot};

#[derive(Debug, Clone)]
struct Case {
    version: i32,
    lock_time: u32,
    inputs: Vec<([u8; 32], u32, u32)>,
    outputs: Vec<(u64, Vec<u8>)>,
    spent: Vec<(u64, Vec<u8>)>,
    index: usize,
    script_code: Vec<u8>,
    ecdsa_type: u32,
    tap_type: u8,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..5, 0usize..5).prop_flat_map(|(n_in, n_out)| {
        (
            any::<i32>(),
            any::<u32>(),
            prop::collection::vec((any::<[u8; 32]>(), any::<u32>(), any::<u32>()), n_in),
            prop::collection::vec(
                (
                    0u64..=21_000_000 * 100_000_000,
                    prop::collection::vec(any::<u8>(), 0..40),
                ),
                n_out,
            ),
            prop::collection::vec(
                (
                    0u64..=21_000_000 * 100_000_000,
                    prop::collection::vec(any::<u8>(), 0..40),
                ),
                n_in,
            ),
            0..n_in,
            prop::collection::vec(any::<u8>(), 0..80),
            prop::sample::select(vec![1u32, 2, 3, 0x81, 0x82, 0x83]),
            prop::sample::select(vec![0u8, 1, 2, 3, 0x81, 0x82, 0x83]),
        )
            .prop_map(
                |(
                    version,
                    lock_time,
                    inputs,
                    outputs,
                    spent,
                    index,
                    script_code,
                    ecdsa_type,
                    tap_type,
                )| Case {
                    version,
                    lock_time,
                    inputs,
                    outputs,
                    spent,
                    index,
                    script_code,
                    ecdsa_type,
                    tap_type,
                },
            )
    })
}

fn build(c: &Case) -> Transaction {
    Transaction {
        version: transaction::Version(c.version),
        lock_time: absolute::LockTime::from_consensus(c.lock_time),
        input: c
            .inputs
            .iter()
            .map(|(txid, vout, seq)| TxIn {
                previous_output: OutPoint {
                    txid: Txid::from_byte_array(*txid),
                    vout: *vout,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence(*seq),
                witness: Witness::new(),
            })
            .collect(),
        output: c
            .outputs
            .iter()
            .map(|(v, s)| TxOut {
                value: Amount::from_sat(*v),
                script_pubkey: ScriptBuf::from_bytes(s.clone()),
            })
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn sighashes_match_rust_bitcoin(c in case()) {
        let btx = build(&c);
        let raw = bitcoin::consensus::serialize(&btx);
        let tx = signer::tx::Tx::parse(&raw, true).expect("our parser accepts rust-bitcoin's bytes");
        prop_assert_eq!(tx.txid(), btx.compute_txid().to_byte_array());
        let mut cache = SighashCache::new(&btx);

        // BIP-143
        let theirs = cache
            .p2wsh_signature_hash(c.index, bitcoin::Script::from_bytes(&c.script_code), Amount::from_sat(c.spent[c.index].0), EcdsaSighashType::from_consensus(c.ecdsa_type))
            .expect("bip143");
        let ours = segwit_v0::sighash(&tx, &segwit_v0::Cache::new(&tx), c.index, &c.script_code, c.spent[c.index].0, c.ecdsa_type).expect("ours");
        prop_assert_eq!(ours, theirs.to_byte_array());

        // Legacy. rust-bitcoin leaves OP_CODESEPARATOR in the scriptCode while Bitcoin Core (and
        // we) drop it, so compare on script codes without any 0xab byte.
        let code: Vec<u8> = c.script_code.iter().copied().filter(|&b| b != 0xab).collect();
        let theirs = cache.legacy_signature_hash(c.index, bitcoin::Script::from_bytes(&code), c.ecdsa_type).expect("legacy");
        let ours = legacy::sighash(&tx, c.index, &code, c.ecdsa_type).expect("ours");
        prop_assert_eq!(ours, theirs.to_byte_array());

        // BIP-341 key path
        let spent_b: Vec<TxOut> = c.spent.iter().map(|(v, s)| TxOut { value: Amount::from_sat(*v), script_pubkey: ScriptBuf::from_bytes(s.clone()) }).collect();
        let spent_o: Vec<signer::tx::TxOut<'_>> = c.spent.iter().map(|(v, s)| signer::tx::TxOut { value: *v, script_pubkey: s }).collect();
        let theirs = cache.taproot_key_spend_signature_hash(
            c.index,
            &Prevouts::All(&spent_b),
            TapSighashType::from_consensus_u8(c.tap_type).expect("valid type"),
        );
        let tcache = taproot::Cache::new(&tx, &spent_o).expect("cache");
        let ours = taproot::sighash(&tx, &tcache, &spent_o, c.index, u32::from(c.tap_type), None);
        match (ours, theirs) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b.to_byte_array()),
            (Err(signer::sighash::SighashError::SingleWithoutOutput), Err(_)) => {}
            (a, b) => prop_assert!(false, "ours {:?} theirs {:?}", a, b),
        }
    }
}
