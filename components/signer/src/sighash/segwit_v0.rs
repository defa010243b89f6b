//! BIP-143 signature hash for segwit v0 inputs (P2WPKH, P2WSH, and both nested in P2SH), for every
//! sighash type: ALL, NONE, SINGLE, each with or without ANYONECANPAY.
//!
//! [`Cache`] holds hashPrevouts, hashSequence and hashOutputs for the whole transaction, computed
//! once, so signing n inputs costs O(n) hashing. The caller supplies the scriptCode (for P2WSH,
//! the witness script from the last executed OP_CODESEPARATOR on) and the spent amount, which is
//! exactly what makes BIP-143 signatures commit to input values.

use super::{
    SIGHASH_ANYONECANPAY, SIGHASH_NONE, SIGHASH_SINGLE, SighashError, TxData, put_outpoint,
    put_txout,
};
use crate::encode::Sink;
use crate::hash::Sha256Sink;

/// Whole-transaction hashes shared by every input's BIP-143 digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cache {
    /// dSHA256 of all outpoints.
    pub hash_prevouts: [u8; 32],
    /// dSHA256 of all nSequence values.
    pub hash_sequence: [u8; 32],
    /// dSHA256 of all outputs.
    pub hash_outputs: [u8; 32],
}

impl Cache {
    /// Computes the three whole-transaction hashes.
    pub fn new<T: TxData>(tx: &T) -> Self {
        let mut prevouts = Sha256Sink::new();
        let mut sequences = Sha256Sink::new();
        for (o, seq) in tx.inputs() {
            put_outpoint(&mut prevouts, &o);
            sequences.update(&seq.to_le_bytes());
        }
        let mut outputs = Sha256Sink::new();
        for o in tx.outputs() {
            put_txout(&mut outputs, &o);
        }
        Self {
            hash_prevouts: prevouts.finish_double(),
            hash_sequence: sequences.finish_double(),
            hash_outputs: outputs.finish_double(),
        }
    }
}

/// Writes the BIP-143 preimage of input `index` into `sink`.
pub fn write_preimage<T: TxData, S: Sink>(
    sink: &mut S,
    tx: &T,
    cache: &Cache,
    index: usize,
    script_code: &[u8],
    amount: u64,
    sighash_type: u32,
) -> Result<(), SighashError> {
    let (outpoint, sequence) = tx.input(index).ok_or(SighashError::InputIndexOutOfRange)?;
    let base = sighash_type & 0x1f;
    let anyone_can_pay = sighash_type & SIGHASH_ANYONECANPAY != 0;
    let single_or_none = base == SIGHASH_SINGLE || base == SIGHASH_NONE;
    let zero = [0u8; 32];
    let hash_prevouts = if anyone_can_pay {
        zero
    } else {
        cache.hash_prevouts
    };
    let hash_sequence = if anyone_can_pay || single_or_none {
        zero
    } else {
        cache.hash_sequence
    };
    let hash_outputs = if !single_or_none {
        cache.hash_outputs
    } else if base == SIGHASH_SINGLE {
        match tx.output(index) {
            Some(out) => {
                let mut h = Sha256Sink::new();
                put_txout(&mut h, &out);
                h.finish_double()
            }
            None => zero,
        }
    } else {
        zero
    };
    let mut put = |b: &[u8]| sink.put(b).map_err(|_| SighashError::InputIndexOutOfRange);
    put(&tx.version().to_le_bytes())?;
    put(&hash_prevouts)?;
    put(&hash_sequence)?;
    put(&outpoint.txid)?;
    put(&outpoint.vout.to_le_bytes())?;
    sink.put_var_bytes(script_code)
        .map_err(|_| SighashError::InputIndexOutOfRange)?;
    let mut put = |b: &[u8]| sink.put(b).map_err(|_| SighashError::InputIndexOutOfRange);
    put(&amount.to_le_bytes())?;
    put(&sequence.to_le_bytes())?;
    put(&hash_outputs)?;
    put(&tx.lock_time().to_le_bytes())?;
    put(&sighash_type.to_le_bytes())?;
    Ok(())
}

/// The BIP-143 signature hash of input `index`.
pub fn sighash<T: TxData>(
    tx: &T,
    cache: &Cache,
    index: usize,
    script_code: &[u8],
    amount: u64,
    sighash_type: u32,
) -> Result<[u8; 32], SighashError> {
    let mut h = Sha256Sink::new();
    write_preimage(&mut h, tx, cache, index, script_code, amount, sighash_type)?;
    Ok(h.finish_double())
}
