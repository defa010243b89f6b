//! The ground operator's side of a 2-of-3 multisig wallet co-signed by the node, built on the
//! `bitcoin` crate (an implementation independent of the node's own no_std Bitcoin code, so the
//! demo and the tests are a differential check of the node).
//!
//! The wallet is `wsh(sortedmulti(2, NODE, GROUND, BACKUP))` on BIP-48 account keys
//! (`m/48h/COINh/ACCOUNTh/2h`, then `/<0;1>/*`):
//! - NODE is the satellite's account key, as `spacenode node-key` prints it (or as the node
//!   exports it, signed, over the link);
//! - GROUND is this server's hot key: it signs every spend first;
//! - BACKUP is an offline key: it only ever appears as a public key here.
//!
//! What it does: the descriptor (with its BIP-380 checksum) and the signer's provisioning line
//! for it; a funding transaction paying the wallet (for a demo with no chain); a PSBT spending
//! it with full key origins on the input and the change output (the node refuses anything less);
//! the ground's signature; finalisation once the node has co-signed; and verification of the
//! final transaction with Bitcoin Core's script interpreter (`libbitcoinconsensus`, through the
//! `bitcoin` crate's `bitcoinconsensus` feature).
//!
//! Avoids: any network access, and any key of the node's: only its public account key.

use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpriv, Xpub};
use bitcoin::blockdata::opcodes::all::OP_CHECKMULTISIG;
use bitcoin::blockdata::script::Builder;
use bitcoin::psbt::Psbt;
use bitcoin::secp256k1::{All, Message, Secp256k1};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{
    Amount, NetworkKind, OutPoint, PublicKey, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
    Witness, absolute::LockTime, transaction::Version,
};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Why a wallet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// A key text is not `[fingerprint/path]xpub`.
    #[error("bad key `{text}`: {why}")]
    BadKey {
        /// The text given.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// Key derivation failed.
    #[error("key derivation: {0}")]
    Derivation(#[from] bitcoin::bip32::Error),
    /// A PSBT is not what this wallet builds or expects.
    #[error("PSBT: {0}")]
    Psbt(String),
    /// The script interpreter refused the transaction.
    #[error("Bitcoin Core's script interpreter refused the spend: {0}")]
    Consensus(String),
}

/// One cosigner: where its account key comes from and the key.
#[derive(Debug, Clone)]
pub struct Cosigner {
    /// Master key fingerprint.
    pub fingerprint: Fingerprint,
    /// Path from the master to the account key.
    pub path: DerivationPath,
    /// The account key.
    pub xpub: Xpub,
}

impl Cosigner {
    /// Parses `[fingerprint/48h/1h/0h/2h]xpub` (what `spacenode node-key` prints).
    pub fn parse(text: &str) -> Result<Cosigner, WalletError> {
        let bad = |why: &str| WalletError::BadKey {
            text: text.to_string(),
            why: why.to_string(),
        };
        let rest = text
            .trim()
            .strip_prefix('[')
            .ok_or_else(|| bad("it must start with `[`"))?;
        let (origin, key) = rest.split_once(']').ok_or_else(|| bad("no closing `]`"))?;
        let (fp, path) = origin.split_once('/').unwrap_or((origin, ""));
        let fingerprint = Fingerprint::from_str(fp).map_err(|e| bad(&e.to_string()))?;
        let path = DerivationPath::from_str(&format!("m/{path}").replace('h', "'"))
            .map_err(|e| bad(&e.to_string()))?;
        let key = key.split('/').next().unwrap_or(key);
        let xpub = Xpub::from_str(key).map_err(|e| bad(&e.to_string()))?;
        Ok(Cosigner {
            fingerprint,
            path,
            xpub,
        })
    }

    /// The descriptor key text, `[fp/path]xpub/<0;1>/*`.
    pub fn descriptor_key(&self) -> String {
        // `DerivationPath`'s Display has no `m/` (and older versions had one): take either.
        let path = self.path.to_string().replace('\'', "h");
        let path = path.trim_start_matches('m').trim_start_matches('/');
        format!("[{}/{path}]{}/<0;1>/*", self.fingerprint, self.xpub)
    }

    fn child(
        &self,
        secp: &Secp256k1<All>,
        branch: u32,
        index: u32,
    ) -> Result<PublicKey, WalletError> {
        let path = [
            ChildNumber::from_normal_idx(branch)?,
            ChildNumber::from_normal_idx(index)?,
        ];
        Ok(PublicKey::new(
            self.xpub.derive_pub(secp, &path)?.public_key,
        ))
    }

    fn origin(
        &self,
        branch: u32,
        index: u32,
    ) -> Result<(Fingerprint, DerivationPath), WalletError> {
        let path = self.path.extend([
            ChildNumber::from_normal_idx(branch)?,
            ChildNumber::from_normal_idx(index)?,
        ]);
        Ok((self.fingerprint, path))
    }
}

/// Where a key comes from: its master key's fingerprint and its derivation path.
type KeyOrigin = (Fingerprint, DerivationPath);

/// The ground's 2-of-3 wallet.
pub struct GroundWallet {
    secp: Secp256k1<All>,
    account: u32,
    /// Node, ground, backup.
    cosigners: [Cosigner; 3],
    ground_account: Xpriv,
}

/// An unspent output of the wallet (from [`GroundWallet::fund`]).
#[derive(Debug, Clone)]
pub struct Utxo {
    /// Where it is.
    pub outpoint: OutPoint,
    /// What it is.
    pub txout: TxOut,
    /// Its receive index (branch 0).
    pub index: u32,
    /// The transaction that created it: the node refuses a segwit v0 input without it (BIP-143
    /// signs amounts, but a wallet that trusted a claimed amount could be tricked into fees).
    pub tx: Transaction,
}

impl GroundWallet {
    /// A regtest wallet for account `account` from the node's key text and the seeds of the
    /// ground's hot key and the backup key.
    pub fn regtest(
        node_key: &str,
        account: u32,
        ground_seed: &[u8; 32],
        backup_seed: &[u8; 32],
    ) -> Result<GroundWallet, WalletError> {
        let secp = Secp256k1::new();
        let node = Cosigner::parse(node_key)?;
        let coin = 1;
        let acct_path = DerivationPath::from_str(&format!("m/48'/{coin}'/{account}'/2'"))
            .map_err(WalletError::Derivation)?;
        let party = |seed: &[u8; 32]| -> Result<(Cosigner, Xpriv), WalletError> {
            let master = Xpriv::new_master(NetworkKind::Test, seed)?;
            let acct = master.derive_priv(&secp, &acct_path)?;
            Ok((
                Cosigner {
                    fingerprint: master.fingerprint(&secp),
                    path: acct_path.clone(),
                    xpub: Xpub::from_priv(&secp, &acct),
                },
                acct,
            ))
        };
        let (ground, ground_account) = party(ground_seed)?;
        let (backup, _) = party(backup_seed)?;
        Ok(GroundWallet {
            secp,
            account,
            cosigners: [node, ground, backup],
            ground_account,
        })
    }

    /// The wallet descriptor with its checksum.
    pub fn descriptor(&self) -> String {
        let keys: Vec<String> = self
            .cosigners
            .iter()
            .map(Cosigner::descriptor_key)
            .collect();
        let body = format!("wsh(sortedmulti(2,{}))", keys.join(","));
        match signer::descriptor::checksum(&body) {
            Ok(sum) => format!("{body}#{}", String::from_utf8_lossy(&sum)),
            Err(_) => body,
        }
    }

    /// The signer's provisioning line registering this wallet for ground server `server_id`,
    /// whose batch certificates verify with the P-256 key `cert_key_hex` (compressed, hex).
    pub fn server_line(&self, server_id: u32, cert_key_hex: &str) -> String {
        format!(
            "server id={server_id} key={cert_key_hex} network=regtest account={} descriptor={}",
            self.account,
            self.descriptor()
        )
    }

    /// The sorted 2-of-3 witness script at `branch/index`, and the keys with their origins.
    fn witness_script(
        &self,
        branch: u32,
        index: u32,
    ) -> Result<(ScriptBuf, Vec<(PublicKey, KeyOrigin)>), WalletError> {
        let mut keys = Vec::with_capacity(3);
        for c in &self.cosigners {
            keys.push((
                c.child(&self.secp, branch, index)?,
                c.origin(branch, index)?,
            ));
        }
        keys.sort_by_key(|(k, _)| k.to_bytes());
        let mut b = Builder::new().push_int(2);
        for (k, _) in &keys {
            b = b.push_key(k);
        }
        Ok((
            b.push_int(3).push_opcode(OP_CHECKMULTISIG).into_script(),
            keys,
        ))
    }

    /// The wallet's output script at `branch/index` (0: receive, 1: change).
    pub fn script_pubkey(&self, branch: u32, index: u32) -> Result<ScriptBuf, WalletError> {
        let (ws, _) = self.witness_script(branch, index)?;
        Ok(ScriptBuf::new_p2wsh(&ws.wscript_hash()))
    }

    /// A transaction paying `amount` to receive index `index` (stands in for a confirmed
    /// deposit: the demo has no chain). `salt` makes each one distinct.
    pub fn fund(&self, amount: Amount, index: u32, salt: u32) -> Result<Utxo, WalletError> {
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint {
                    txid: bitcoin::Txid::from_raw_hash(bitcoin::hashes::Hash::hash(
                        &salt.to_le_bytes(),
                    )),
                    vout: 0,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: amount,
                script_pubkey: self.script_pubkey(0, index)?,
            }],
        };
        Ok(Utxo {
            outpoint: OutPoint {
                txid: tx.compute_txid(),
                vout: 0,
            },
            txout: tx.output[0].clone(),
            index,
            tx,
        })
    }

    /// A PSBT spending `utxo`: `pay` to `to`, the rest minus `fee` to change index
    /// `change_index`, with the funding transaction, witness UTXO, witness script and every key's origin on the input and
    /// the change output.
    pub fn spend(
        &self,
        utxo: &Utxo,
        to: ScriptBuf,
        pay: Amount,
        fee: Amount,
        change_index: u32,
    ) -> Result<Psbt, WalletError> {
        let change = utxo
            .txout
            .value
            .checked_sub(pay)
            .and_then(|v| v.checked_sub(fee))
            .ok_or_else(|| WalletError::Psbt("payment and fee exceed the input".into()))?;
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: utxo.outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            }],
            output: vec![
                TxOut {
                    value: pay,
                    script_pubkey: to,
                },
                TxOut {
                    value: change,
                    script_pubkey: self.script_pubkey(1, change_index)?,
                },
            ],
        };
        let mut psbt = Psbt::from_unsigned_tx(tx).map_err(|e| WalletError::Psbt(e.to_string()))?;
        let (ws, keys) = self.witness_script(0, utxo.index)?;
        let input = &mut psbt.inputs[0];
        input.witness_utxo = Some(utxo.txout.clone());
        input.non_witness_utxo = Some(utxo.tx.clone());
        input.witness_script = Some(ws);
        input.bip32_derivation = keys.into_iter().map(|(k, o)| (k.inner, o)).collect();
        let (cws, ckeys) = self.witness_script(1, change_index)?;
        let output = &mut psbt.outputs[1];
        output.witness_script = Some(cws);
        output.bip32_derivation = ckeys.into_iter().map(|(k, o)| (k.inner, o)).collect();
        Ok(psbt)
    }

    /// Adds the ground key's signature to every input of `psbt` this wallet can sign.
    pub fn sign(&self, psbt: &mut Psbt) -> Result<usize, WalletError> {
        let ground = &self.cosigners[1];
        let mut signed = 0;
        let tx = psbt.unsigned_tx.clone();
        let mut cache = SighashCache::new(&tx);
        for (i, input) in psbt.inputs.iter_mut().enumerate() {
            let (Some(ws), Some(utxo)) = (&input.witness_script, &input.witness_utxo) else {
                continue;
            };
            let Some((_, (_, path))) = input
                .bip32_derivation
                .iter()
                .find(|(_, (fp, _))| *fp == ground.fingerprint)
            else {
                continue;
            };
            let rel: Vec<ChildNumber> = path.into_iter().skip(ground.path.len()).copied().collect();
            let key = self.ground_account.derive_priv(&self.secp, &rel)?;
            let sighash = cache
                .p2wsh_signature_hash(i, ws, utxo.value, EcdsaSighashType::All)
                .map_err(|e| WalletError::Psbt(e.to_string()))?;
            let msg = Message::from_digest(bitcoin::hashes::Hash::to_byte_array(sighash));
            let sig = self.secp.sign_ecdsa(&msg, &key.private_key);
            let pk = PublicKey::new(key.private_key.public_key(&self.secp));
            input.partial_sigs.insert(
                pk,
                bitcoin::ecdsa::Signature {
                    signature: sig,
                    sighash_type: EcdsaSighashType::All,
                },
            );
            signed += 1;
        }
        Ok(signed)
    }

    /// Builds the final transaction from a PSBT carrying two signatures per input (of any
    /// 2-of-N `wsh(sortedmulti)` wallet: the keys are not this wallet's own).
    pub fn finalize(psbt: &Psbt) -> Result<Transaction, WalletError> {
        let mut tx = psbt.unsigned_tx.clone();
        for (i, input) in psbt.inputs.iter().enumerate() {
            let ws = input
                .witness_script
                .as_ref()
                .ok_or_else(|| WalletError::Psbt(format!("input {i} has no witness script")))?;
            // Signatures in the order of their keys in the (sorted) script.
            let order: BTreeMap<Vec<u8>, &bitcoin::ecdsa::Signature> = input
                .partial_sigs
                .iter()
                .map(|(k, s)| (k.to_bytes(), s))
                .collect();
            let sigs: Vec<Vec<u8>> = order.values().map(|s| s.to_vec()).take(2).collect();
            if sigs.len() < 2 {
                return Err(WalletError::Psbt(format!(
                    "input {i} has {} signature(s); 2 are needed",
                    sigs.len()
                )));
            }
            let mut w = Witness::new();
            w.push([]);
            for s in sigs {
                w.push(s);
            }
            w.push(ws.as_bytes());
            tx.input[i].witness = w;
        }
        Ok(tx)
    }

    /// Runs every input of `tx` through Bitcoin Core's script interpreter (all consensus and
    /// standardness flags libbitcoinconsensus offers).
    pub fn verify(tx: &Transaction, spent: &[TxOut]) -> Result<(), WalletError> {
        let bytes = bitcoin::consensus::encode::serialize(tx);
        if spent.len() != tx.input.len() {
            return Err(WalletError::Consensus(format!(
                "{} spent outputs for {} inputs",
                spent.len(),
                tx.input.len()
            )));
        }
        for (i, out) in spent.iter().enumerate() {
            bitcoin::consensus::validation::verify_script(&out.script_pubkey, i, out.value, &bytes)
                .map_err(|e| WalletError::Consensus(format!("input {i}: {e}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wallet_with_known_node() -> (GroundWallet, Xpriv) {
        // A stand-in for the node's key whose private half the test holds, so that the test
        // can produce the second signature itself.
        let secp = Secp256k1::new();
        let master = Xpriv::new_master(NetworkKind::Test, &[7; 32]).expect("master");
        let path = DerivationPath::from_str("m/48'/1'/0'/2'").expect("path");
        let acct = master.derive_priv(&secp, &path).expect("derive");
        let text = format!(
            "[{}/48h/1h/0h/2h]{}",
            master.fingerprint(&secp),
            Xpub::from_priv(&secp, &acct)
        );
        let w = GroundWallet::regtest(&text, 0, &[1; 32], &[2; 32]).expect("wallet");
        (w, acct)
    }

    fn node_sign(w: &GroundWallet, psbt: &mut Psbt, node: &Xpriv) {
        let tx = psbt.unsigned_tx.clone();
        let mut cache = SighashCache::new(&tx);
        let input = &mut psbt.inputs[0];
        let ws = input.witness_script.clone().expect("ws");
        let value = input.witness_utxo.as_ref().expect("utxo").value;
        let (_, (_, path)) = input
            .bip32_derivation
            .iter()
            .find(|(_, (fp, _))| *fp == w.cosigners[0].fingerprint)
            .expect("node origin");
        let rel: Vec<ChildNumber> = path.into_iter().skip(4).copied().collect();
        let key = node.derive_priv(&w.secp, &rel).expect("derive");
        let h = cache
            .p2wsh_signature_hash(0, &ws, value, EcdsaSighashType::All)
            .expect("sighash");
        let msg = Message::from_digest(bitcoin::hashes::Hash::to_byte_array(h));
        input.partial_sigs.insert(
            PublicKey::new(key.private_key.public_key(&w.secp)),
            bitcoin::ecdsa::Signature {
                signature: w.secp.sign_ecdsa(&msg, &key.private_key),
                sighash_type: EcdsaSighashType::All,
            },
        );
    }

    #[test]
    fn a_two_of_three_spend_verifies_with_bitcoin_core_and_one_signature_does_not() {
        let (w, node) = wallet_with_known_node();
        let d = w.descriptor();
        assert!(d.starts_with("wsh(sortedmulti(2,["), "{d}");
        assert_eq!(d.rsplit_once('#').map(|(_, c)| c.len()), Some(8));
        let utxo = w.fund(Amount::from_sat(1_000_000), 0, 1).expect("fund");
        let to = w.script_pubkey(0, 9).expect("spk");
        let mut psbt = w
            .spend(
                &utxo,
                to,
                Amount::from_sat(600_000),
                Amount::from_sat(1_000),
                0,
            )
            .expect("psbt");
        assert_eq!(w.sign(&mut psbt).expect("sign"), 1);
        // One signature: no final transaction.
        assert!(matches!(
            GroundWallet::finalize(&psbt),
            Err(WalletError::Psbt(_))
        ));
        node_sign(&w, &mut psbt, &node);
        let tx = GroundWallet::finalize(&psbt).expect("final");
        GroundWallet::verify(&tx, std::slice::from_ref(&utxo.txout)).expect("consensus");
        // Tampering with the amount after signing breaks a signature: Core refuses it.
        let mut bad = tx.clone();
        bad.output[0].value = Amount::from_sat(600_001);
        assert!(matches!(
            GroundWallet::verify(&bad, std::slice::from_ref(&utxo.txout)),
            Err(WalletError::Consensus(_))
        ));
    }

    #[test]
    fn the_node_parses_the_wallet_descriptor_and_server_line() {
        let (w, _) = wallet_with_known_node();
        let d = w.descriptor();
        signer::descriptor::Descriptor::parse(&d).unwrap_or_else(|e| panic!("{d}: {e:?}"));
        let line = w.server_line(1, &"02".repeat(33));
        match signer::provision::parse_line(&line) {
            Ok(Some(signer::provision::Line::Server(_))) => {}
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn key_texts_are_checked() {
        for bad in [
            "",
            "xpub",
            "[zz/48h]tpub",
            "[01020304/48h/1h/0h/2h]nonsense",
        ] {
            assert!(Cosigner::parse(bad).is_err(), "{bad}");
        }
    }
}
