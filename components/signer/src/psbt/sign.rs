//! The generic BIP-174 Signer role: resolve what each input spends, make the checks every signer
//! must make (the UTXO matches the outpoint, redeem and witness scripts hash to what they claim,
//! no witness UTXO standing in for a legacy input's full previous transaction), compute the
//! sighash the input's script calls for, and produce the partial signature.
//!
//! It signs for any key that appears in an input's script; deciding whether it *should* (the
//! registered wallet, policy) is [`crate::signer`]'s job, which calls [`resolve`] and [`sighash`]
//! from here. Taproot inputs are recognised and refused (key-path sighash exists in
//! [`crate::sighash::taproot`], but no registered wallet spends taproot yet).

use super::{MAX_INPUTS, NewSig, Psbt};
use crate::ecdsa::{EcdsaError, PrivateKey};
use crate::script::{self, ScriptBuf};
use crate::sighash::{self, SighashError, legacy, segwit_v0};
use crate::tx::TxOut;

/// Why an input cannot be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// No input with that index.
    #[error("input index out of range")]
    InputIndexOutOfRange,
    /// Neither a witness nor a non-witness UTXO is present.
    #[error("input {0}: no UTXO information")]
    MissingUtxo(usize),
    /// The non-witness UTXO's txid is not the outpoint's txid.
    #[error("input {0}: non_witness_utxo does not hash to the prevout txid")]
    NonWitnessUtxoTxidMismatch(usize),
    /// The non-witness UTXO has no output at the outpoint's index.
    #[error("input {0}: non_witness_utxo has no output at the prevout index")]
    NonWitnessUtxoMissingOutput(usize),
    /// The witness UTXO disagrees with the non-witness UTXO's output.
    #[error("input {0}: witness_utxo disagrees with non_witness_utxo")]
    WitnessUtxoMismatch(usize),
    /// A legacy input described only by a witness UTXO.
    #[error("input {0}: witness UTXO given for a non-witness input")]
    WitnessUtxoForNonWitnessInput(usize),
    /// A P2SH input without a redeem script.
    #[error("input {0}: missing redeem script")]
    MissingRedeemScript(usize),
    /// The redeem script does not hash to the P2SH scriptPubKey (or one is given where none fits).
    #[error("input {0}: redeem script does not match the UTXO scriptPubKey")]
    RedeemScriptMismatch(usize),
    /// A P2WSH input without a witness script.
    #[error("input {0}: missing witness script")]
    MissingWitnessScript(usize),
    /// The witness script does not hash to the P2WSH program.
    #[error("input {0}: witness script does not match the UTXO (or redeem script)")]
    WitnessScriptMismatch(usize),
    /// A script type the signer does not sign (taproot, future witness versions).
    #[error("input {0}: unsupported script type")]
    UnsupportedScript(usize),
    /// The input is already finalized.
    #[error("input {0}: already finalized")]
    AlreadyFinalized(usize),
    /// The input asks for a sighash type that is not allowed.
    #[error("input {index}: sighash type {sighash_type:#x} not allowed")]
    SighashNotAllowed {
        /// Input index.
        index: usize,
        /// The type asked for.
        sighash_type: u32,
    },
    /// Sighash computation failed.
    #[error("sighash: {0}")]
    Sighash(#[from] SighashError),
    /// Signing failed.
    #[error("ecdsa: {0}")]
    Ecdsa(#[from] EcdsaError),
    /// More signatures than the output list can hold.
    #[error("too many signatures")]
    TooManySignatures,
}

/// Which sighash types a signer accepts (bit per type among ALL, NONE, SINGLE, each +ACP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedSighash(u8);

impl AllowedSighash {
    /// Only `SIGHASH_ALL` (the default everywhere).
    pub const ALL_ONLY: Self = Self(1);
    /// No type at all (the start of a set built with [`AllowedSighash::with`]).
    pub const EMPTY: Self = Self(0);

    fn bit(t: u32) -> Option<u8> {
        match t {
            0x01 => Some(1),
            0x02 => Some(2),
            0x03 => Some(4),
            0x81 => Some(8),
            0x82 => Some(16),
            0x83 => Some(32),
            _ => None,
        }
    }

    /// This set plus `sighash_type` (ignored if it is not a standard ECDSA type).
    pub const fn with_raw(self, bits: u8) -> Self {
        Self(self.0 | bits)
    }

    /// This set plus one type.
    pub fn with(self, sighash_type: u32) -> Self {
        Self(self.0 | Self::bit(sighash_type).unwrap_or(0))
    }

    /// Whether `sighash_type` is in the set.
    pub fn allows(&self, sighash_type: u32) -> bool {
        Self::bit(sighash_type).is_some_and(|b| self.0 & b != 0)
    }

    /// The raw bit set (for persistence).
    pub fn bits(&self) -> u8 {
        self.0
    }
}

/// How an input's signature hash is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendKind {
    /// Pre-segwit (P2PKH, P2SH, bare).
    Legacy,
    /// Segwit v0 (P2WPKH, P2WSH, either nested in P2SH).
    SegwitV0,
}

/// What an input spends, after every consistency check.
#[derive(Debug, Clone)]
pub struct Spend<'a> {
    /// Legacy or segwit v0.
    pub kind: SpendKind,
    /// The spent output's scriptPubKey.
    pub script_pubkey: &'a [u8],
    /// The spent amount.
    pub amount: u64,
    /// True when wrapped in P2SH.
    pub nested: bool,
    /// The witness script (P2WSH) or redeem script (legacy P2SH), if any.
    pub script: Option<&'a [u8]>,
    /// The scriptCode the sighash commits to.
    pub script_code: ScriptBuf,
    /// The sighash type the input asks for (`SIGHASH_ALL` when absent).
    pub sighash_type: u32,
}

fn code(bytes: &[u8], index: usize) -> Result<ScriptBuf, SignError> {
    ScriptBuf::from_slice(bytes).map_err(|_| SignError::UnsupportedScript(index))
}

/// Resolves and checks what input `index` spends.
pub fn resolve<'a>(psbt: &Psbt<'a>, index: usize) -> Result<Spend<'a>, SignError> {
    let inp = psbt
        .inputs()
        .get(index)
        .ok_or(SignError::InputIndexOutOfRange)?;
    if inp.finalized {
        return Err(SignError::AlreadyFinalized(index));
    }
    let utxo: TxOut<'a> = match (&inp.non_witness_utxo, &inp.witness_utxo) {
        (Some(prev), witness) => {
            if prev.txid() != inp.prevout.txid {
                return Err(SignError::NonWitnessUtxoTxidMismatch(index));
            }
            let out = prev
                .output(inp.prevout.vout as usize)
                .ok_or(SignError::NonWitnessUtxoMissingOutput(index))?;
            if witness.is_some_and(|w| w != out) {
                return Err(SignError::WitnessUtxoMismatch(index));
            }
            out
        }
        (None, Some(w)) => *w,
        (None, None) => return Err(SignError::MissingUtxo(index)),
    };
    let spk = utxo.script_pubkey;
    let (inner, nested) = if script::is_p2sh(spk) {
        let rs = inp
            .redeem_script
            .ok_or(SignError::MissingRedeemScript(index))?;
        if script::p2sh(rs)[..] != *spk {
            return Err(SignError::RedeemScriptMismatch(index));
        }
        (rs, true)
    } else {
        if inp.redeem_script.is_some() {
            return Err(SignError::RedeemScriptMismatch(index));
        }
        (spk, false)
    };
    let sighash_type = inp.sighash_type.unwrap_or(sighash::SIGHASH_ALL);
    let base = |kind, script, script_code| Spend {
        kind,
        script_pubkey: spk,
        amount: utxo.value,
        nested,
        script,
        script_code,
        sighash_type,
    };
    if script::is_p2wsh(inner) {
        let ws = inp
            .witness_script
            .ok_or(SignError::MissingWitnessScript(index))?;
        if script::p2wsh(ws)[..] != *inner {
            return Err(SignError::WitnessScriptMismatch(index));
        }
        Ok(base(SpendKind::SegwitV0, Some(ws), code(ws, index)?))
    } else if script::is_p2wpkh(inner) {
        let pkh: [u8; 20] = inner
            .get(2..22)
            .and_then(|b| b.try_into().ok())
            .ok_or(SignError::UnsupportedScript(index))?;
        Ok(base(
            SpendKind::SegwitV0,
            None,
            code(&script::p2wpkh_script_code(&pkh), index)?,
        ))
    } else if script::is_witness_program(inner) {
        Err(SignError::UnsupportedScript(index))
    } else {
        if inp.non_witness_utxo.is_none() {
            return Err(SignError::WitnessUtxoForNonWitnessInput(index));
        }
        if inp.witness_script.is_some() {
            return Err(SignError::WitnessScriptMismatch(index));
        }
        Ok(base(
            SpendKind::Legacy,
            nested.then_some(inner),
            code(inner, index)?,
        ))
    }
}

/// The signature hash of input `index` for an already resolved spend.
pub fn sighash(
    psbt: &Psbt<'_>,
    cache: &segwit_v0::Cache,
    index: usize,
    spend: &Spend<'_>,
) -> Result<[u8; 32], SignError> {
    Ok(match spend.kind {
        SpendKind::SegwitV0 => segwit_v0::sighash(
            psbt,
            cache,
            index,
            &spend.script_code,
            spend.amount,
            spend.sighash_type,
        )?,
        SpendKind::Legacy => legacy::sighash(psbt, index, &spend.script_code, spend.sighash_type)?,
    })
}

/// Signs one digest and packages it as a partial signature.
pub fn make_sig(
    key: &PrivateKey,
    digest: &[u8; 32],
    index: usize,
    sighash_type: u32,
) -> Result<NewSig, SignError> {
    let der = key.sign_digest(digest)?;
    let mut sig = heapless::Vec::new();
    sig.extend_from_slice(der.as_bytes())
        .map_err(|_| SignError::TooManySignatures)?;
    sig.push(sighash_type as u8)
        .map_err(|_| SignError::TooManySignatures)?;
    Ok(NewSig {
        input: index,
        pubkey: key.public_key(),
        sig,
    })
}

fn script_uses_key(spend: &Spend<'_>, pubkey: &[u8; 33]) -> bool {
    let code = &spend.script_code;
    if spend.script.is_none() && spend.kind == SpendKind::SegwitV0 {
        // P2WPKH: the scriptCode carries the key hash.
        return code.get(3..23) == Some(&crate::hash::hash160(pubkey)[..]);
    }
    code.windows(34).any(|w| w[0] == 33 && w[1..] == pubkey[..])
}

/// The BIP-174 Signer: signs every input whose script uses `key`, checking each input it signs.
/// Inputs that do not involve the key are left alone; a failed check on an input that does is an
/// error (nothing is signed).
pub fn sign_with_key(
    psbt: &Psbt<'_>,
    key: &PrivateKey,
    allowed: AllowedSighash,
) -> Result<heapless::Vec<NewSig, MAX_INPUTS>, SignError> {
    let cache = segwit_v0::Cache::new(psbt);
    let pubkey = key.public_key();
    let mut out = heapless::Vec::new();
    for index in 0..psbt.inputs().len() {
        let spend = resolve(psbt, index)?;
        if !script_uses_key(&spend, &pubkey) {
            continue;
        }
        if !allowed.allows(spend.sighash_type) {
            return Err(SignError::SighashNotAllowed {
                index,
                sighash_type: spend.sighash_type,
            });
        }
        let digest = sighash(psbt, &cache, index, &spend)?;
        out.push(make_sig(key, &digest, index, spend.sighash_type)?)
            .map_err(|_| SignError::TooManySignatures)?;
    }
    Ok(out)
}
