//! Signature hashes: what an ECDSA or Schnorr signature in a Bitcoin input commits to.
//!
//! - [`legacy`]: the original algorithm (pre-segwit inputs; needed to co-sign the BIP-174 vector's
//!   P2SH input, never used for the wallets the node registers);
//! - [`segwit_v0`]: BIP-143, used for P2WSH and P2SH-P2WSH multisig;
//! - [`taproot`]: BIP-341 key-path spending, so taproot wallets can follow.
//!
//! All three read the transaction through [`TxData`], implemented both by a raw [`Tx`] and by a
//! parsed PSBT (v0 or v2), so the same code signs whatever the PSBT describes. Nothing allocates;
//! each algorithm takes a precomputed cache so that a transaction with many inputs is hashed in
//! linear time.

pub mod legacy;
pub mod segwit_v0;
pub mod taproot;

use crate::tx::{OutPoint, Tx, TxOut};

/// `SIGHASH_DEFAULT` (taproot only): commits like ALL, 64-byte signature.
pub const SIGHASH_DEFAULT: u32 = 0x00;
/// `SIGHASH_ALL`.
pub const SIGHASH_ALL: u32 = 0x01;
/// `SIGHASH_NONE`.
pub const SIGHASH_NONE: u32 = 0x02;
/// `SIGHASH_SINGLE`.
pub const SIGHASH_SINGLE: u32 = 0x03;
/// `SIGHASH_ANYONECANPAY` flag.
pub const SIGHASH_ANYONECANPAY: u32 = 0x80;

/// Why a signature hash could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SighashError {
    /// The input index is not an input of the transaction.
    #[error("input index out of range")]
    InputIndexOutOfRange,
    /// The sighash type is not defined for this algorithm.
    #[error("invalid sighash type")]
    InvalidSighashType,
    /// Taproot `SIGHASH_SINGLE` for an input with no output at the same index.
    #[error("SIGHASH_SINGLE without a corresponding output")]
    SingleWithoutOutput,
    /// The spent outputs given do not match the transaction's inputs.
    #[error("spent outputs do not match the inputs")]
    PrevoutsMismatch,
}

/// Read access to the parts of an unsigned transaction that sighashes commit to.
pub trait TxData {
    /// nVersion.
    fn version(&self) -> u32;
    /// nLockTime.
    fn lock_time(&self) -> u32;
    /// Number of inputs.
    fn input_count(&self) -> usize;
    /// Number of outputs.
    fn output_count(&self) -> usize;
    /// The inputs' outpoints and sequences, in order.
    fn inputs(&self) -> impl Iterator<Item = (OutPoint, u32)> + '_;
    /// The outputs, in order.
    fn outputs(&self) -> impl Iterator<Item = TxOut<'_>> + '_;
    /// Input `index`'s outpoint and sequence.
    fn input(&self, index: usize) -> Option<(OutPoint, u32)> {
        self.inputs().nth(index)
    }
    /// Output `index`.
    fn output(&self, index: usize) -> Option<TxOut<'_>> {
        self.outputs().nth(index)
    }
}

impl TxData for Tx<'_> {
    fn version(&self) -> u32 {
        Tx::version(self)
    }
    fn lock_time(&self) -> u32 {
        Tx::lock_time(self)
    }
    fn input_count(&self) -> usize {
        Tx::input_count(self)
    }
    fn output_count(&self) -> usize {
        Tx::output_count(self)
    }
    fn inputs(&self) -> impl Iterator<Item = (OutPoint, u32)> + '_ {
        Tx::inputs(self).map(|i| (i.prevout, i.sequence))
    }
    fn outputs(&self) -> impl Iterator<Item = TxOut<'_>> + '_ {
        Tx::outputs(self)
    }
}

pub(crate) fn put_outpoint(h: &mut crate::hash::Sha256Sink, o: &OutPoint) {
    h.update(&o.txid);
    h.update(&o.vout.to_le_bytes());
}

pub(crate) fn put_txout(h: &mut crate::hash::Sha256Sink, o: &TxOut<'_>) {
    use crate::encode::Sink;
    h.update(&o.value.to_le_bytes());
    // Hashing cannot fail.
    let _ = h.put_var_bytes(o.script_pubkey);
}
