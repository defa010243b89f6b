//! The ground operator's part of the demo story: provision a ground server and a 2-of-3 wallet
//! on a fresh node, and build real PSBTs for it to co-sign.
//!
//! Every key here is fresh (drawn from the host's `getrandom`): the ground server's batch
//! certificate key (P-256), three admin keys (2-of-3 for registry commands), the wallet's
//! ground and backup keys. Nothing is reused across runs.
//!
//! Avoids: reaching into the node: the node's key comes from its own export
//! ([`crate::provision::node_account_key`]), and the provisioning text goes into its inbox.

use crate::failure::Failure;
use crate::wallet::{GroundWallet, Utxo};
use bitcoin::psbt::Psbt;
use bitcoin::{Amount, ScriptBuf};
use hal::rng::TryRng;
use std::path::Path;

/// The ground server's id in the node's registry.
pub const SERVER_ID: u32 = 1;
/// The policy the node enforces for the demo server.
pub const RULES: &str = "rule allow max-amount=5000000 max-fee=50000";

/// The ground side after provisioning.
pub struct Ground {
    /// The 2-of-3 wallet.
    pub wallet: GroundWallet,
    /// The server's batch certificate key.
    pub cert_key: p256::SecretKey,
    /// The three registry admin keys (2 needed).
    pub admins: [p256::SecretKey; 3],
    /// The node's identity key (exports and receipts verify with it).
    pub identity: [u8; 33],
}

fn random_bytes() -> Result<[u8; 32], Failure> {
    let mut b = [0u8; 32];
    board_sim::rng::OsRng
        .try_fill_bytes(&mut b)
        .map_err(|e| Failure::Usage(format!("getrandom failed: {e}")))?;
    Ok(b)
}

fn p256_key() -> Result<p256::SecretKey, Failure> {
    // A uniformly random 32-byte string is a valid scalar except with probability ~2^-32.
    loop {
        if let Ok(k) = p256::SecretKey::from_slice(&random_bytes()?) {
            return Ok(k);
        }
    }
}

fn hex(b: &[u8]) -> String {
    hex_conservative::DisplayHex::to_lower_hex_string(b)
}

/// Reads the node's account key from its key flash in `state`, builds the wallet and the
/// provisioning text, and writes the text into the node's provisioning inbox.
pub fn provision(state: &Path) -> Result<Ground, Failure> {
    let node = crate::provision::node_account_key(state, signer::wallet::Network::Regtest, 0)?;
    let wallet = GroundWallet::regtest(&node.text, 0, &random_bytes()?, &random_bytes()?)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let cert_key = p256_key()?;
    let admins = [p256_key()?, p256_key()?, p256_key()?];
    let mut text = String::from("# spacenode demo: one ground server, 2-of-3 admins\n");
    text += "spacenode-signer-registry 1\nadmin-threshold 2\n";
    for a in &admins {
        text += &format!(
            "admin {}\n",
            hex(&signer::p256sig::compress(&a.public_key()))
        );
    }
    let cert_pub = hex(&signer::p256sig::compress(&cert_key.public_key()));
    text += &wallet.server_line(SERVER_ID, &cert_pub);
    text += "\n";
    text += RULES;
    text += "\n";
    let path = state.join("key-flash.flash");
    let mut flash: board_sim::flash::SimFlash = board_sim::flash::SimFlash::open(&path)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    signer_partition::inbox::write(&mut flash, &text)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    Ok(Ground {
        wallet,
        cert_key,
        admins,
        identity: node.identity,
    })
}

impl Ground {
    /// A deposit of `amount` and a PSBT paying `pay` out of it (to an outside address), signed
    /// by the ground's key: ready for the node's co-signature.
    pub fn payment(&self, amount: u64, pay: u64, salt: u32) -> Result<(Psbt, Utxo), Failure> {
        let w = |e: crate::wallet::WalletError| Failure::Usage(e.to_string());
        let utxo = self
            .wallet
            .fund(Amount::from_sat(amount), salt, salt)
            .map_err(w)?;
        // An outside payee: a P2WPKH output of a key that is not the wallet's.
        let payee = bitcoin::secp256k1::SecretKey::from_slice(&random_bytes()?)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        let secp = bitcoin::secp256k1::Secp256k1::signing_only();
        let pk = bitcoin::CompressedPublicKey(payee.public_key(&secp));
        let to = ScriptBuf::new_p2wpkh(&pk.wpubkey_hash());
        let mut psbt = self
            .wallet
            .spend(
                &utxo,
                to,
                Amount::from_sat(pay),
                Amount::from_sat(1_000),
                salt,
            )
            .map_err(w)?;
        self.wallet.sign(&mut psbt).map_err(w)?;
        Ok((psbt, utxo))
    }
}

/// Prints what provisioning set up.
pub fn show(g: &Ground) {
    println!("   node identity key (P-256)  {}", hex(&g.identity));
    println!("   2-of-3 wallet              {}", g.wallet.descriptor());
    println!(
        "   ground server {SERVER_ID}            certificate key {}, policy `{RULES}`",
        hex(&signer::p256sig::compress(&g.cert_key.public_key()))
    );
    println!("   registry admins            2 of 3 keys must sign any later change");
    println!("   (written into the node's provisioning inbox; the signer reads it at first boot)");
}
