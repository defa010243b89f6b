//! The wallet signer end to end on PSBTs built here: a 2-of-3 `wsh(sortedmulti)` (and the
//! `sh(wsh(...))` form) registered with the node's BIP-48 key, spent with change. The happy path
//! is verified independently (rust-bitcoin's BIP-143 sighash and libsecp256k1's verifier), and
//! each refusal of issue 5 point 4 is provoked by one precise tampering.
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{
    Message, PublicKey as SecpPublicKey, Secp256k1, ecdsa::Signature as SecpSig,
};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{
    Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness, absolute, transaction,
};
use hex_conservative::DisplayHex;
use signer::bip32::{HARDENED, KeyNetwork, Xpriv};
use signer::descriptor::{ScriptType, checksum};
use signer::psbt::Psbt;
use signer::signer::{Refusal, SignerConfig, check, sign};
use signer::wallet::{AccountKey, Network, Wallet, account_path};

struct Party {
    master: Xpriv,
    account: AccountKey,
}

fn party(seed: u8, st: ScriptType) -> Party {
    let master = Xpriv::new_master(&[seed; 32], KeyNetwork::Test).expect("master");
    let account = AccountKey::derive(&master, Network::Regtest, st, 0).expect("account");
    Party { master, account }
}

fn descriptor(parties: &[&Party], st: ScriptType) -> String {
    let keys: Vec<String> = parties
        .iter()
        .map(|p| {
            let fp = p.master.fingerprint().to_lower_hex_string();
            let path: String = p
                .account
                .path()
                .as_slice()
                .iter()
                .map(|c| format!("/{}h", c & !HARDENED))
                .collect();
            format!(
                "[{fp}{path}]{}/<0;1>/*",
                p.account.xpub().encode().expect("enc").as_str()
            )
        })
        .collect();
    let body = match st {
        ScriptType::Wsh => format!("wsh(sortedmulti(2,{}))", keys.join(",")),
        ScriptType::ShWsh => format!("sh(wsh(sortedmulti(2,{})))", keys.join(",")),
    };
    let sum = checksum(&body).expect("sum");
    format!("{body}#{}", std::str::from_utf8(&sum).expect("ascii"))
}

/// Key-value map writer.
#[derive(Default)]
struct Map(Vec<u8>);
impl Map {
    fn pair(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        for part in [key, value] {
            let len = part.len();
            if len < 0xfd {
                self.0.push(len as u8);
            } else {
                self.0.push(0xfd);
                self.0.extend_from_slice(&(len as u16).to_le_bytes());
            }
            self.0.extend_from_slice(part);
        }
        self
    }
}

fn derivation_value(p: &Party, branch: u32, index: u32) -> Vec<u8> {
    let mut v = p.master.fingerprint().to_vec();
    for c in p
        .account
        .path()
        .as_slice()
        .iter()
        .chain([branch, index].iter())
    {
        v.extend_from_slice(&c.to_le_bytes());
    }
    v
}

struct Fixture {
    parties: Vec<Party>,
    wallet: Wallet,
    st: ScriptType,
    prev: Transaction,
    spend: Transaction,
    in_index: (u32, u32),
    change: (u32, u32),
}

fn fixture(st: ScriptType) -> Fixture {
    let parties = vec![party(1, st), party(2, st), party(3, st)];
    let desc = descriptor(&parties.iter().collect::<Vec<_>>(), st);
    let wallet = Wallet::register(&desc, Network::Regtest, &parties[0].account).expect("register");
    let in_index = (0, 5);
    let change = (1, 2);
    let spk = wallet.script_pubkey(in_index.0, in_index.1).expect("spk");
    let prev = Transaction {
        version: transaction::Version(2),
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(vec![0x51, 0x51]),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![
            TxOut {
                value: Amount::from_sat(7_000),
                script_pubkey: ScriptBuf::from_bytes(vec![0x6a]),
            },
            TxOut {
                value: Amount::from_sat(1_000_000),
                script_pubkey: ScriptBuf::from_bytes(spk.to_vec()),
            },
        ],
    };
    let change_spk = wallet.script_pubkey(change.0, change.1).expect("change");
    let spend = Transaction {
        version: transaction::Version(2),
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: prev.compute_txid(),
                vout: 1,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Witness::new(),
        }],
        output: vec![
            TxOut {
                value: Amount::from_sat(600_000),
                script_pubkey: ScriptBuf::from_bytes([&[0x00, 0x14][..], &[0x42; 20]].concat()),
            },
            TxOut {
                value: Amount::from_sat(399_000),
                script_pubkey: ScriptBuf::from_bytes(change_spk.to_vec()),
            },
        ],
    };
    Fixture {
        parties,
        wallet,
        st,
        prev,
        spend,
        in_index,
        change,
    }
}

/// How to build the PSBT (each field can be tampered with by a test).
struct Build<'a> {
    f: &'a Fixture,
    non_witness_utxo: Option<Vec<u8>>,
    witness_script: Vec<u8>,
    redeem_script: Option<Vec<u8>>,
    input_derivations: Vec<(Vec<u8>, Vec<u8>)>,
    sighash_type: Option<u32>,
    output_derivations: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
    proprietary: bool,
    /// How many times the input map is written (one per input of the transaction).
    input_maps: usize,
}

impl<'a> Build<'a> {
    fn new(f: &'a Fixture) -> Self {
        let ws = f
            .wallet
            .witness_script(f.in_index.0, f.in_index.1)
            .expect("ws")
            .to_vec();
        let redeem = (f.st == ScriptType::ShWsh).then(|| signer::script::p2wsh(&ws).to_vec());
        let derivs = |(b, i): (u32, u32)| -> Vec<(Vec<u8>, Vec<u8>)> {
            f.parties
                .iter()
                .map(|p| {
                    let pk = p.account.key_at(b, i).expect("key").public_key();
                    (pk.to_vec(), derivation_value(p, b, i))
                })
                .collect()
        };
        Build {
            f,
            non_witness_utxo: Some(bitcoin::consensus::serialize(&f.prev)),
            witness_script: ws,
            redeem_script: redeem,
            input_derivations: derivs(f.in_index),
            sighash_type: None,
            output_derivations: vec![Vec::new(), derivs(f.change)],
            proprietary: true,
            input_maps: 1,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = b"psbt\xff".to_vec();
        let mut g = Map::default();
        g.pair(&[0x00], &bitcoin::consensus::serialize(&self.f.spend));
        out.extend(g.0);
        out.push(0);
        let mut i = Map::default();
        if let Some(nw) = &self.non_witness_utxo {
            i.pair(&[0x00], nw);
        }
        i.pair(
            &[0x01],
            &bitcoin::consensus::serialize(&self.f.prev.output[1]),
        );
        if let Some(t) = self.sighash_type {
            i.pair(&[0x03], &t.to_le_bytes());
        }
        if let Some(rs) = &self.redeem_script {
            i.pair(&[0x04], rs);
        }
        i.pair(&[0x05], &self.witness_script);
        for (pk, v) in &self.input_derivations {
            i.pair(&[&[0x06][..], pk].concat(), v);
        }
        if self.proprietary {
            i.pair(&[0xfc, 0x03, b'g', b's', b'v', 0x01], b"ground-server-note");
        }
        for _ in 0..self.input_maps {
            out.extend(&i.0);
            out.push(0);
        }
        for derivs in &self.output_derivations {
            let mut o = Map::default();
            for (pk, v) in derivs {
                o.pair(&[&[0x02][..], pk].concat(), v);
            }
            out.extend(o.0);
            out.push(0);
        }
        out
    }
}

fn run(bytes: &[u8], f: &Fixture) -> Result<Vec<u8>, Refusal> {
    let psbt = Psbt::parse(bytes).expect("PSBT parses");
    let analysis = check(&psbt, &f.wallet, &SignerConfig::default())?;
    let sigs = sign(&psbt, &analysis, &f.parties[0].account)?;
    let mut out = vec![0u8; bytes.len() + 200 * psbt.inputs().len()];
    let n = psbt.write(&sigs, &mut out).expect("write");
    out.truncate(n);
    Ok(out)
}

fn happy(st: ScriptType) {
    let f = fixture(st);
    let bytes = Build::new(&f).bytes();
    let psbt = Psbt::parse(&bytes).expect("parse");
    let a = check(&psbt, &f.wallet, &SignerConfig::default()).expect("check");
    assert_eq!(
        (a.total_in, a.total_out, a.fee, a.spent),
        (1_000_000, 999_000, 1_000, 600_000)
    );
    assert_eq!(
        a.outputs.iter().map(|o| o.is_change).collect::<Vec<_>>(),
        vec![false, true]
    );
    assert_eq!((a.inputs[0].branch, a.inputs[0].index), f.in_index);
    assert!(a.vsize > 100 && a.vsize < 400, "{}", a.vsize);
    let signed = run(&bytes, &f).expect("signed");
    assert_eq!(
        signed,
        run(&bytes, &f).expect("again"),
        "RFC 6979: identical on resubmission"
    );
    // Exactly one pair was added; everything else (including the proprietary pair) is unchanged.
    let p2 = Psbt::parse(&signed).expect("output parses");
    let sigs: Vec<_> = p2.inputs()[0].partial_sigs().collect();
    assert_eq!(sigs.len(), 1);
    let (pk, sig) = sigs[0];
    let mut stripped = signed.clone();
    let pair_len = 1 + 34 + 1 + sig.len();
    let at = signed
        .windows(35)
        .position(|w| w[0] == 34 && w[1] == 0x02 && &w[2..] == pk)
        .expect("pair");
    stripped.drain(at..at + pair_len);
    assert_eq!(stripped, bytes);
    // Independent verification: rust-bitcoin's sighash, libsecp256k1's verifier.
    let ws = ScriptBuf::from_bytes(Build::new(&f).witness_script.clone());
    let h = SighashCache::new(&f.spend)
        .p2wsh_signature_hash(0, &ws, Amount::from_sat(1_000_000), EcdsaSighashType::All)
        .expect("sighash");
    let secp = Secp256k1::verification_only();
    let (der, ht) = sig.split_at(sig.len() - 1);
    assert_eq!(ht, &[1]);
    let s = SecpSig::from_der(der).expect("der");
    secp.verify_ecdsa(
        &Message::from_digest(h.to_byte_array()),
        &s,
        &SecpPublicKey::from_slice(pk).expect("pk"),
    )
    .expect("libsecp256k1 accepts the signature");
    assert_eq!(
        pk,
        f.parties[0].account.key_at(0, 5).expect("k").public_key()
    );
}

#[test]
fn signs_a_wsh_sortedmulti_spend_with_change() {
    happy(ScriptType::Wsh);
}

#[test]
fn signs_a_sh_wsh_sortedmulti_spend_with_change() {
    happy(ScriptType::ShWsh);
}

#[test]
fn refuses_missing_non_witness_utxo() {
    let f = fixture(ScriptType::Wsh);
    let mut b = Build::new(&f);
    b.non_witness_utxo = None;
    assert_eq!(run(&b.bytes(), &f), Err(Refusal::MissingNonWitnessUtxo(0)));
}

/// Two inputs spending one outpoint: the transaction can never confirm (Bitcoin Core's
/// `CheckTransaction`, "bad-txns-inputs-duplicate"), so it is refused rather than co-signed
/// (co-signing it would still use up the server's velocity budget).
#[test]
fn refuses_a_transaction_spending_one_outpoint_twice() {
    let mut f = fixture(ScriptType::Wsh);
    let again = f.spend.input[0].clone();
    f.spend.input.push(again);
    let mut b = Build::new(&f);
    b.input_maps = 2;
    assert_eq!(
        run(&b.bytes(), &f),
        Err(Refusal::DuplicateInput { index: 1, first: 0 })
    );
    let why = Refusal::reason(Refusal::DuplicateInput { index: 1, first: 0 }.code());
    assert!(
        why.is_some_and(|w| w.contains("bad-txns-inputs-duplicate")),
        "{why:?}"
    );
}

#[test]
fn refuses_non_witness_utxo_that_does_not_hash_to_the_prevout() {
    // The fee attack: a previous transaction whose amount was changed no longer has the txid.
    let f = fixture(ScriptType::Wsh);
    let mut b = Build::new(&f);
    let mut prev = f.prev.clone();
    prev.output[1].value = Amount::from_sat(2_000_000);
    b.non_witness_utxo = Some(bitcoin::consensus::serialize(&prev));
    assert_eq!(
        run(&b.bytes(), &f),
        Err(Refusal::NonWitnessUtxoTxidMismatch(0))
    );
}

#[test]
fn refuses_witness_script_not_matching_the_utxo_p2wsh() {
    let f = fixture(ScriptType::Wsh);
    let mut b = Build::new(&f);
    b.witness_script = f.wallet.witness_script(0, 6).expect("ws").to_vec();
    assert_eq!(run(&b.bytes(), &f), Err(Refusal::WitnessScriptMismatch(0)));
}

#[test]
fn refuses_witness_script_not_matching_the_utxo_p2sh_p2wsh() {
    let f = fixture(ScriptType::ShWsh);
    let mut b = Build::new(&f);
    b.witness_script = f.wallet.witness_script(0, 6).expect("ws").to_vec();
    assert_eq!(run(&b.bytes(), &f), Err(Refusal::WitnessScriptMismatch(0)));
    let mut b = Build::new(&f);
    b.redeem_script =
        Some(signer::script::p2wsh(&f.wallet.witness_script(0, 6).expect("ws")).to_vec());
    assert_eq!(run(&b.bytes(), &f), Err(Refusal::RedeemScriptMismatch(0)));
}

#[test]
fn refuses_derivation_that_does_not_derive_the_wallet_key() {
    let f = fixture(ScriptType::Wsh);
    let mut b = Build::new(&f);
    // Our key's path now says index 6, but the public key is still the one at index 5.
    b.input_derivations[0].1 = derivation_value(&f.parties[0], 0, 6);
    assert_eq!(run(&b.bytes(), &f), Err(Refusal::DerivationMismatch(0)));
    // Beyond the bounded index range.
    let mut b = Build::new(&f);
    b.input_derivations[0].1 =
        derivation_value(&f.parties[0], 0, SignerConfig::default().max_index);
    assert_eq!(run(&b.bytes(), &f), Err(Refusal::DerivationMismatch(0)));
    // No derivation for any wallet key at all.
    let mut b = Build::new(&f);
    b.input_derivations.clear();
    assert_eq!(run(&b.bytes(), &f), Err(Refusal::MissingDerivation(0)));
}

#[test]
fn refuses_sighash_other_than_all_unless_allowed() {
    let f = fixture(ScriptType::Wsh);
    let mut b = Build::new(&f);
    b.sighash_type = Some(0x83);
    let bytes = b.bytes();
    assert_eq!(
        run(&bytes, &f),
        Err(Refusal::SighashNotAllowed {
            index: 0,
            sighash_type: 0x83
        })
    );
    let psbt = Psbt::parse(&bytes).expect("parse");
    let config = SignerConfig {
        allowed_sighash: signer::psbt::sign::AllowedSighash::ALL_ONLY.with(0x83),
        ..SignerConfig::default()
    };
    assert!(check(&psbt, &f.wallet, &config).is_ok());
}

#[test]
fn refuses_change_that_does_not_derive_from_the_wallet() {
    let f = fixture(ScriptType::Wsh);
    // The external output claims to be change (derivations of the wallet at 1/2) but pays elsewhere.
    let mut b = Build::new(&f);
    b.output_derivations.swap(0, 1);
    assert_eq!(run(&b.bytes(), &f), Err(Refusal::ChangeNotDerived(0)));
    // Change beyond the bounded index range.
    let mut b = Build::new(&f);
    for (_, v) in b.output_derivations[1].iter_mut() {
        let n = v.len();
        v[n - 4..].copy_from_slice(&SignerConfig::default().max_index.to_le_bytes());
    }
    assert_eq!(run(&b.bytes(), &f), Err(Refusal::ChangeNotDerived(1)));
}

#[test]
fn refuses_a_foreign_wallet() {
    // A wallet with the node's key and two other cosigners: its scripts are not the registered
    // wallet's, even though the derivation of the node's key is genuine.
    let f = fixture(ScriptType::Wsh);
    let others = [party(8, ScriptType::Wsh), party(9, ScriptType::Wsh)];
    let foreign_desc = descriptor(&[&f.parties[0], &others[0], &others[1]], ScriptType::Wsh);
    let foreign =
        Wallet::register(&foreign_desc, Network::Regtest, &f.parties[0].account).expect("foreign");
    let mut g = fixture(ScriptType::Wsh);
    g.parties = vec![
        party(1, ScriptType::Wsh),
        party(8, ScriptType::Wsh),
        party(9, ScriptType::Wsh),
    ];
    g.wallet = foreign;
    let spk = g.wallet.script_pubkey(0, 5).expect("spk");
    g.prev.output[1].script_pubkey = ScriptBuf::from_bytes(spk.to_vec());
    g.spend.input[0].previous_output.txid = g.prev.compute_txid();
    let bytes = Build::new(&g).bytes();
    // Signed against the registered wallet (f), the foreign PSBT is refused.
    let psbt = Psbt::parse(&bytes).expect("parse");
    assert_eq!(
        check(&psbt, &f.wallet, &SignerConfig::default()).err(),
        Some(Refusal::ForeignInput(0))
    );
}

#[test]
fn registration_requires_the_nodes_own_key_on_its_bip48_path() {
    let st = ScriptType::Wsh;
    let a = party(1, st);
    let others = [party(2, st), party(3, st), party(4, st)];
    let without = descriptor(&[&others[0], &others[1], &others[2]], st);
    assert_eq!(
        Wallet::register(&without, Network::Regtest, &a.account).err(),
        Some(signer::wallet::WalletError::OwnKeyMissing)
    );
    // The node's key under the sh-wsh path does not register a wsh wallet.
    let nested = party(1, ScriptType::ShWsh);
    let mixed = descriptor(&[&nested, &others[0], &others[1]], st);
    assert_eq!(
        Wallet::register(&mixed, Network::Regtest, &a.account).err(),
        Some(signer::wallet::WalletError::OwnKeyMissing)
    );
    assert_eq!(
        account_path(Network::Mainnet, st, 3)
            .expect("path")
            .as_slice(),
        &[48 | HARDENED, HARDENED, 3 | HARDENED, 2 | HARDENED]
    );
    assert_eq!(
        account_path(Network::Testnet, ScriptType::ShWsh, 0)
            .expect("path")
            .as_slice()[1],
        1 | HARDENED
    );
    // A tpub wallet is not a mainnet wallet.
    let desc = descriptor(&[&a, &others[0], &others[1]], st);
    assert_eq!(
        Wallet::register(&desc, Network::Mainnet, &a.account).err(),
        Some(signer::wallet::WalletError::WrongNetwork)
    );
    // A wrong checksum is refused.
    let mut bad = desc.clone();
    let last = bad.pop().expect("char");
    bad.push(if last == 'q' { 'p' } else { 'q' });
    assert_eq!(
        Wallet::register(&bad, Network::Regtest, &a.account).err(),
        Some(signer::wallet::WalletError::Descriptor(
            signer::descriptor::DescriptorError::BadChecksum
        ))
    );
}
