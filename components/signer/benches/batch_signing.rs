//! Signing a batch of 1,000 P2WSH inputs (BIP-143 sighash plus ECDSA signature): the signer's
//! own code (sighash in `signer::sighash::segwit_v0`, RFC 6979 signing on `k256` through
//! `signer::ecdsa`) against rust-bitcoin's sighash plus libsecp256k1 through the `secp256k1`
//! crate, on the same transaction, the same witness scripts, amounts and keys, in the same run.
//! The two paths' signatures are checked to be identical (both are RFC 6979 low-S) before
//! anything is timed. Also times the signature alone on both sides, to show where the gap is.
//!
//! Run: `cargo bench -p signer --bench batch_signing`.

use bitcoin::hashes::Hash;
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use signer::ecdsa::PrivateKey;
use signer::sighash::TxData;
use signer::sighash::segwit_v0::{self, Cache};
use signer::tx::{OutPoint as SnOutPoint, TxOut as SnTxOut};
use std::hint::black_box;

const N: usize = 1000;

/// The transaction as the signer's sighash code sees it (O(1) input access, like a parsed PSBT).
struct BenchTx {
    inputs: Vec<(SnOutPoint, u32)>,
    outputs: Vec<(u64, Vec<u8>)>,
}

impl TxData for BenchTx {
    fn version(&self) -> u32 {
        2
    }
    fn lock_time(&self) -> u32 {
        0
    }
    fn input_count(&self) -> usize {
        self.inputs.len()
    }
    fn output_count(&self) -> usize {
        self.outputs.len()
    }
    fn inputs(&self) -> impl Iterator<Item = (SnOutPoint, u32)> + '_ {
        self.inputs.iter().copied()
    }
    fn outputs(&self) -> impl Iterator<Item = SnTxOut<'_>> + '_ {
        self.outputs.iter().map(|(v, s)| SnTxOut {
            value: *v,
            script_pubkey: s,
        })
    }
    fn input(&self, index: usize) -> Option<(SnOutPoint, u32)> {
        self.inputs.get(index).copied()
    }
}

struct Fixture {
    btc_tx: Transaction,
    sn_tx: BenchTx,
    scripts: Vec<Vec<u8>>,
    amounts: Vec<u64>,
    sn_keys: Vec<PrivateKey>,
    secp_keys: Vec<secp256k1::SecretKey>,
}

fn fixture() -> Fixture {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut sn_keys = Vec::new();
    let mut secp_keys = Vec::new();
    let mut scripts = Vec::new();
    let mut amounts = Vec::new();
    let mut inputs = Vec::new();
    let mut btc_inputs = Vec::new();
    for i in 0..N {
        let mut k = [0u8; 32];
        for c in k.chunks_mut(8) {
            c.copy_from_slice(&next().to_le_bytes());
        }
        k[0] &= 0x7f; // below the group order
        let sn = PrivateKey::from_bytes(&k).expect("key");
        // A 2-of-3 witness script around the node's key (the other two keys fixed).
        let mut ws = vec![0x52, 33];
        ws.extend_from_slice(&sn.public_key());
        ws.push(33);
        ws.extend_from_slice(&[2u8; 33]);
        ws.push(33);
        ws.extend_from_slice(&[3u8; 33]);
        ws.extend_from_slice(&[0x53, 0xae]);
        scripts.push(ws);
        amounts.push(10_000 + i as u64);
        secp_keys.push(secp256k1::SecretKey::from_slice(&k).expect("secp key"));
        sn_keys.push(sn);
        let mut txid = [0u8; 32];
        for c in txid.chunks_mut(8) {
            c.copy_from_slice(&next().to_le_bytes());
        }
        inputs.push((
            SnOutPoint {
                txid,
                vout: i as u32 % 3,
            },
            0xffff_fffd,
        ));
        btc_inputs.push(TxIn {
            previous_output: OutPoint {
                txid: Txid::from_byte_array(txid),
                vout: i as u32 % 3,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence(0xffff_fffd),
            witness: Witness::new(),
        });
    }
    let outputs = vec![
        (5_000_000u64, [&[0x00, 0x14][..], &[0x42; 20]].concat()),
        (4_000_000u64, [&[0x00, 0x20][..], &[0x43; 32]].concat()),
    ];
    let btc_tx = Transaction {
        version: bitcoin::transaction::Version(2),
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: btc_inputs,
        output: outputs
            .iter()
            .map(|(v, s)| TxOut {
                value: Amount::from_sat(*v),
                script_pubkey: ScriptBuf::from_bytes(s.clone()),
            })
            .collect(),
    };
    Fixture {
        btc_tx,
        sn_tx: BenchTx { inputs, outputs },
        scripts,
        amounts,
        sn_keys,
        secp_keys,
    }
}

/// The signer's path: one cache per transaction, then sighash + sign per input.
fn sign_spacenode(f: &Fixture) -> Vec<signer::ecdsa::DerSignature> {
    let cache = Cache::new(&f.sn_tx);
    (0..N)
        .map(|i| {
            let h = segwit_v0::sighash(&f.sn_tx, &cache, i, &f.scripts[i], f.amounts[i], 1)
                .expect("sighash");
            f.sn_keys[i].sign_digest(&h).expect("sign")
        })
        .collect()
}

/// The baseline: rust-bitcoin's sighash cache + libsecp256k1.
fn sign_libsecp(
    f: &Fixture,
    secp: &secp256k1::Secp256k1<secp256k1::SignOnly>,
) -> Vec<secp256k1::ecdsa::Signature> {
    let mut cache = SighashCache::new(&f.btc_tx);
    (0..N)
        .map(|i| {
            let h = cache
                .p2wsh_signature_hash(
                    i,
                    bitcoin::Script::from_bytes(&f.scripts[i]),
                    Amount::from_sat(f.amounts[i]),
                    EcdsaSighashType::All,
                )
                .expect("sighash");
            let msg = secp256k1::Message::from_digest(h.to_byte_array());
            secp.sign_ecdsa(&msg, &f.secp_keys[i])
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let secp = secp256k1::Secp256k1::signing_only();
    // Same messages, same keys, same signatures (both RFC 6979, low-S, no extra entropy).
    let ours = sign_spacenode(&f);
    let theirs = sign_libsecp(&f, &secp);
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a.as_bytes(), &b.serialize_der()[..], "paths disagree");
    }

    let mut g = c.benchmark_group("p2wsh_batch_1000");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    g.bench_function("spacenode_sighash_and_sign", |b| {
        b.iter(|| black_box(sign_spacenode(black_box(&f))))
    });
    g.bench_function("libsecp256k1_sighash_and_sign", |b| {
        b.iter(|| black_box(sign_libsecp(black_box(&f), &secp)))
    });
    g.finish();

    // Where the time goes: 1,000 signatures over fixed digests, each side alone.
    let digests: Vec<[u8; 32]> = (0..N)
        .map(|i| signer::hash::sha256(&(i as u64).to_le_bytes()))
        .collect();
    let mut g = c.benchmark_group("ecdsa_sign_1000");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    g.bench_function("k256_rfc6979", |b| {
        b.iter(|| {
            for (k, d) in f.sn_keys.iter().zip(&digests) {
                black_box(k.sign_digest(black_box(d)).expect("sign"));
            }
        })
    });
    g.bench_function("libsecp256k1", |b| {
        b.iter(|| {
            for (k, d) in f.secp_keys.iter().zip(&digests) {
                let m = secp256k1::Message::from_digest(*d);
                black_box(secp.sign_ecdsa(black_box(&m), k));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
