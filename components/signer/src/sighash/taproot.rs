//! BIP-341 signature hash for taproot key-path spending (`ext_flag = 0`), every defined hash type
//! (DEFAULT, ALL, NONE, SINGLE, each ALL/NONE/SINGLE with ANYONECANPAY), with or without annex.
//!
//! The caller gives the outputs every input spends (amount and scriptPubKey), as BIP-341 commits
//! to all of them. [`Cache`] holds the five single-SHA-256 whole-transaction hashes. Script-path
//! spending (tapleaf extension) is not implemented: no registered wallet here uses it yet.

use super::{
    SIGHASH_ANYONECANPAY, SIGHASH_DEFAULT, SIGHASH_NONE, SIGHASH_SINGLE, SighashError, TxData,
    put_outpoint, put_txout,
};
use crate::encode::Sink;
use crate::hash::Sha256Sink;
use crate::tx::TxOut;

/// Whole-transaction hashes shared by every input's BIP-341 digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cache {
    /// SHA-256 of all outpoints.
    pub sha_prevouts: [u8; 32],
    /// SHA-256 of all spent amounts.
    pub sha_amounts: [u8; 32],
    /// SHA-256 of all spent scriptPubKeys (each with its length).
    pub sha_scriptpubkeys: [u8; 32],
    /// SHA-256 of all nSequence values.
    pub sha_sequences: [u8; 32],
    /// SHA-256 of all outputs.
    pub sha_outputs: [u8; 32],
}

impl Cache {
    /// Computes the hashes; `spent` must hold one output per input, in input order.
    pub fn new<T: TxData>(tx: &T, spent: &[TxOut<'_>]) -> Result<Self, SighashError> {
        if spent.len() != tx.input_count() {
            return Err(SighashError::PrevoutsMismatch);
        }
        let mut prevouts = Sha256Sink::new();
        let mut sequences = Sha256Sink::new();
        for (o, seq) in tx.inputs() {
            put_outpoint(&mut prevouts, &o);
            sequences.update(&seq.to_le_bytes());
        }
        let mut amounts = Sha256Sink::new();
        let mut spks = Sha256Sink::new();
        for s in spent {
            amounts.update(&s.value.to_le_bytes());
            let _ = spks.put_var_bytes(s.script_pubkey);
        }
        let mut outputs = Sha256Sink::new();
        for o in tx.outputs() {
            put_txout(&mut outputs, &o);
        }
        Ok(Self {
            sha_prevouts: prevouts.finish(),
            sha_amounts: amounts.finish(),
            sha_scriptpubkeys: spks.finish(),
            sha_sequences: sequences.finish(),
            sha_outputs: outputs.finish(),
        })
    }
}

fn valid_type(t: u32) -> bool {
    matches!(t, 0x00..=0x03 | 0x81..=0x83)
}

/// Writes the epoch byte `0x00` and the BIP-341 `SigMsg(hash_type, 0)` of input `index` into `sink`.
pub fn write_sig_msg<T: TxData, S: Sink>(
    sink: &mut S,
    tx: &T,
    cache: &Cache,
    spent: &[TxOut<'_>],
    index: usize,
    hash_type: u32,
    annex: Option<&[u8]>,
) -> Result<(), SighashError> {
    if !valid_type(hash_type) {
        return Err(SighashError::InvalidSighashType);
    }
    if spent.len() != tx.input_count() {
        return Err(SighashError::PrevoutsMismatch);
    }
    let (outpoint, sequence) = tx.input(index).ok_or(SighashError::InputIndexOutOfRange)?;
    let base = hash_type & 0x03;
    let anyone_can_pay = hash_type & SIGHASH_ANYONECANPAY != 0;
    let single_output = if base == SIGHASH_SINGLE {
        let out = tx.output(index).ok_or(SighashError::SingleWithoutOutput)?;
        let mut h = Sha256Sink::new();
        put_txout(&mut h, &out);
        Some(h.finish())
    } else {
        None
    };
    let e = |_| SighashError::InputIndexOutOfRange;
    // hash_type is one byte here; valid_type guarantees it fits.
    sink.put(&[0x00, hash_type as u8]).map_err(e)?;
    sink.put(&tx.version().to_le_bytes()).map_err(e)?;
    sink.put(&tx.lock_time().to_le_bytes()).map_err(e)?;
    if !anyone_can_pay {
        sink.put(&cache.sha_prevouts).map_err(e)?;
        sink.put(&cache.sha_amounts).map_err(e)?;
        sink.put(&cache.sha_scriptpubkeys).map_err(e)?;
        sink.put(&cache.sha_sequences).map_err(e)?;
    }
    if base != SIGHASH_NONE && base != SIGHASH_SINGLE {
        sink.put(&cache.sha_outputs).map_err(e)?;
    }
    let spend_type = u8::from(annex.is_some());
    sink.put(&[spend_type]).map_err(e)?;
    if anyone_can_pay {
        let prev = spent.get(index).ok_or(SighashError::PrevoutsMismatch)?;
        sink.put(&outpoint.txid).map_err(e)?;
        sink.put(&outpoint.vout.to_le_bytes()).map_err(e)?;
        sink.put(&prev.value.to_le_bytes()).map_err(e)?;
        sink.put_var_bytes(prev.script_pubkey).map_err(e)?;
        sink.put(&sequence.to_le_bytes()).map_err(e)?;
    } else {
        sink.put(&(index as u32).to_le_bytes()).map_err(e)?;
    }
    if let Some(a) = annex {
        let mut h = Sha256Sink::new();
        let _ = h.put_var_bytes(a);
        sink.put(&h.finish()).map_err(e)?;
    }
    if let Some(s) = single_output {
        sink.put(&s).map_err(e)?;
    }
    Ok(())
}

/// The BIP-341 key-path signature hash: `hash_TapSighash(0x00 || SigMsg(hash_type, 0))`.
pub fn sighash<T: TxData>(
    tx: &T,
    cache: &Cache,
    spent: &[TxOut<'_>],
    index: usize,
    hash_type: u32,
    annex: Option<&[u8]>,
) -> Result<[u8; 32], SighashError> {
    let mut h = Sha256Sink::tagged(b"TapSighash");
    write_sig_msg(&mut h, tx, cache, spent, index, hash_type, annex)?;
    Ok(h.finish())
}

/// `SIGHASH_DEFAULT` re-exported for callers that only import this module.
pub const DEFAULT: u32 = SIGHASH_DEFAULT;
