//! The co-signing step: the ground builds real payments from the 2-of-3 wallet with the `bitcoin`
//! crate and signs them with its own key, `spacenode ground sign`'s library function sends them
//! up as one certified batch by CFDP over the lossy radio and brings the node's result file down,
//! and the ground finalises each transaction and runs it through Bitcoin Core's script
//! interpreter (libbitcoinconsensus). Nothing here trusts the node: a co-signed PSBT counts only
//! if Core accepts the spend.
//!
//! Avoids: touching the node's state: everything goes over the link.

use crate::demo::story::Ground;
use crate::failure::Failure;
use crate::ground::session::Session;
use crate::ground::sign::{self, SignJob};
use crate::wallet::{GroundWallet, Utxo};
use bitcoin::psbt::Psbt;
use std::path::Path;
use std::time::{Duration, Instant};

/// One payment: (deposit, amount paid out), in satoshis.
pub type Payment = (u64, u64);

/// What a co-signed batch gave.
pub struct Cosigned {
    /// The verified transactions' ids.
    pub txids: Vec<String>,
    /// From the first byte up to the last PSBT written.
    pub elapsed: Duration,
    /// The ground tool's one-line account of the transfer.
    pub transfer: String,
}

/// The ground's PSBTs for `payments` (signed by its own key), the batch job carrying them,
/// and the outputs they spend.
fn job(
    ground: &Ground,
    payments: &[Payment],
    salt: u32,
    rate_bps: u64,
) -> Result<(SignJob, Vec<Utxo>), Failure> {
    let mut psbts = Vec::new();
    let mut utxos = Vec::new();
    for (i, (deposit, pay)) in payments.iter().enumerate() {
        let (p, u) = ground.payment(*deposit, *pay, salt + i as u32)?;
        psbts.push(p.serialize());
        utxos.push(u);
    }
    let job = SignJob {
        server: crate::demo::story::SERVER_ID,
        key: ground.cert_key.clone(),
        psbts,
        expiry: crate::ground::expiry::Expiry::from_now(crate::ground::expiry::DEFAULT_LIFETIME_S)?,
        uplink: sign::Uplink {
            names: Vec::new(),
            timeout: sign::DEFAULT_TIMEOUT,
            rate_bps: Some(rate_bps),
        },
    };
    Ok((job, utxos))
}

/// Sends `payments` as one batch and verifies every co-signed spend with Bitcoin Core's
/// interpreter. `log` gets the transfer's progress lines.
pub fn cosign(
    ground: &Ground,
    s: &mut Session,
    ground_state: &Path,
    payments: &[Payment],
    salt: u32,
    rate_bps: u64,
    log: &mut dyn FnMut(String),
) -> Result<Cosigned, Failure> {
    let start = Instant::now();
    let (job, utxos) = job(ground, payments, salt, rate_bps)?;
    let outcome = sign::sign(s, ground_state, &job, &mut |p| log(p.line()))
        .map_err(|e| Failure::Usage(format!("co-signing failed: {e}")))?;
    let mut txids = Vec::new();
    for (i, (bytes, utxo)) in outcome.signed.iter().zip(&utxos).enumerate() {
        txids.push(verify_cosigned(bytes, utxo, i)?);
    }
    if txids.len() != payments.len() {
        return Err(Failure::Usage(format!(
            "{} PSBTs sent, {} came back co-signed",
            payments.len(),
            txids.len()
        )));
    }
    Ok(Cosigned {
        txids,
        elapsed: start.elapsed(),
        transfer: outcome.to_string(),
    })
}

/// Finalises co-signed PSBT `i` (`bytes`, spending `utxo`) and runs it through Bitcoin Core's
/// script interpreter; returns its txid.
pub fn verify_cosigned(bytes: &[u8], utxo: &Utxo, i: usize) -> Result<String, Failure> {
    let psbt = Psbt::deserialize(bytes)
        .map_err(|e| Failure::Usage(format!("the node's PSBT {i} does not parse: {e}")))?;
    let sigs = psbt
        .inputs
        .iter()
        .map(|x| x.partial_sigs.len())
        .min()
        .unwrap_or(0);
    let tx = GroundWallet::finalize(&psbt)
        .map_err(|e| Failure::Usage(format!("PSBT {i}: {e} ({sigs} signature(s) on it)")))?;
    GroundWallet::verify(&tx, std::slice::from_ref(&utxo.txout)).map_err(|e| {
        Failure::Usage(format!(
            "Bitcoin Core's interpreter refused co-signed spend {i}: {e}"
        ))
    })?;
    Ok(tx.compute_txid().to_string())
}

/// Sends `payments`, which the node must refuse (policy, revoked server); returns the ground's account of the
/// refusal (the signer's reason).
pub fn refused(
    ground: &Ground,
    s: &mut Session,
    ground_state: &Path,
    payments: &[Payment],
    salt: u32,
    rate_bps: u64,
) -> Result<String, Failure> {
    let (job, _) = job(ground, payments, salt, rate_bps)?;
    match sign::sign(s, ground_state, &job, &mut |_| {}) {
        Ok(_) => Err(Failure::Usage(
            "the node co-signed a payment its policy forbids".into(),
        )),
        Err(e @ sign::SignError::Refused { .. }) => Ok(e.to_string()),
        Err(e) => Err(Failure::Usage(format!(
            "the over-limit batch failed without the node's answer: {e}"
        ))),
    }
}
