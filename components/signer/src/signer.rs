//! The wallet signer: checks a parsed PSBT against a registered [`Wallet`] and, only if every
//! check passes, signs each input with the node's key.
//!
//! # Refusals
//!
//! Each refusal is its own [`Refusal`] variant, carrying the input or output index:
//!
//! | refusal | why |
//! | --- | --- |
//! | `MissingNonWitnessUtxo` | a segwit v0 input without the full previous transaction: its amount could be lied about (fee attack) |
//! | `NonWitnessUtxoTxidMismatch` | the previous transaction given does not hash to the outpoint's txid |
//! | `WitnessUtxoMismatch` / `NonWitnessUtxoMissingOutput` | the UTXO data contradicts itself or the outpoint |
//! | `WitnessScriptMismatch` | the witness script does not hash to the UTXO's P2WSH program (or to the P2SH-P2WSH redeem script) |
//! | `RedeemScriptMismatch` | (P2SH-P2WSH) the redeem script does not hash to the UTXO's P2SH script |
//! | `DerivationMismatch` | a BIP-32 derivation claiming a wallet key does not derive that key, disagrees with the others, or leaves the bounded index range |
//! | `ForeignInput` | the input's script is not this wallet's script at the claimed index (a foreign wallet), or not a segwit multisig of the wallet's script type |
//! | `MissingDerivation` | no derivation claims any of the wallet's keys: the index cannot be known |
//! | `SighashNotAllowed` | a sighash type other than ALL that the configuration does not allow |
//! | `ChangeNotDerived` | an output carries derivations claiming the wallet but is not the wallet's script at a bounded index |
//! | `DuplicateInput` | two inputs spend the same outpoint: the transaction can never confirm (Bitcoin Core's `CheckTransaction`, "bad-txns-inputs-duplicate"), and co-signing it would still use up velocity budget |
//! | `AlreadyFinalized`, `UnsupportedScript`, `MissingWitnessScript`, `MissingRedeemScript`, `NoInputs`, `OutputsExceedInputs` | structural |
//!
//! The signer never signs under a wallet the PSBT proposes: scripts are derived from the
//! registered wallet and compared byte for byte. [`check`] does all checks and returns an
//! [`Analysis`] (amounts, change, fee, size estimate) for the policy engine; [`sign`] then signs.

use crate::psbt::sign::{AllowedSighash, SignError, Spend, SpendKind, make_sig, resolve, sighash};
use crate::psbt::{KeyOrigin, MAX_INPUTS, MAX_OUTPUTS, NewSig, Psbt};
use crate::sighash::segwit_v0;
use crate::wallet::{AccountKey, Wallet};

/// Signer settings that come with the wallet registration and policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignerConfig {
    /// Sighash types accepted (default: ALL only).
    pub allowed_sighash: AllowedSighash,
    /// Exclusive upper bound on address indexes (inputs and change).
    pub max_index: u32,
}

impl Default for SignerConfig {
    fn default() -> Self {
        Self {
            allowed_sighash: AllowedSighash::ALL_ONLY,
            max_index: 100_000,
        }
    }
}

/// Why the signer refused a PSBT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The PSBT has no inputs.
    #[error("PSBT has no inputs")]
    NoInputs,
    /// Segwit v0 input without `non_witness_utxo`.
    #[error("input {0}: missing non_witness_utxo")]
    MissingNonWitnessUtxo(usize),
    /// `non_witness_utxo` does not hash to the prevout txid.
    #[error("input {0}: non_witness_utxo does not hash to the prevout txid")]
    NonWitnessUtxoTxidMismatch(usize),
    /// `non_witness_utxo` has no output at the prevout index.
    #[error("input {0}: non_witness_utxo has no output at the prevout index")]
    NonWitnessUtxoMissingOutput(usize),
    /// `witness_utxo` contradicts `non_witness_utxo`.
    #[error("input {0}: witness_utxo contradicts non_witness_utxo")]
    WitnessUtxoMismatch(usize),
    /// The witness script does not match the UTXO.
    #[error("input {0}: witness script does not match the UTXO")]
    WitnessScriptMismatch(usize),
    /// The redeem script does not match the UTXO.
    #[error("input {0}: redeem script does not match the UTXO")]
    RedeemScriptMismatch(usize),
    /// No witness script for a P2WSH input.
    #[error("input {0}: missing witness script")]
    MissingWitnessScript(usize),
    /// No redeem script for a P2SH input.
    #[error("input {0}: missing redeem script")]
    MissingRedeemScript(usize),
    /// A derivation claiming a wallet key does not derive it (or is out of bounds).
    #[error("input {0}: BIP-32 derivation does not derive the wallet's keys")]
    DerivationMismatch(usize),
    /// No derivation for any of the wallet's keys.
    #[error("input {0}: no derivation for the wallet's keys")]
    MissingDerivation(usize),
    /// Not this wallet's script.
    #[error("input {0}: not spending from the registered wallet")]
    ForeignInput(usize),
    /// Sighash type not allowed.
    #[error("input {index}: sighash type {sighash_type:#x} not allowed")]
    SighashNotAllowed {
        /// Input.
        index: usize,
        /// Requested type.
        sighash_type: u32,
    },
    /// An output claims to be change but does not derive from the wallet.
    #[error("output {0}: claims to be change but does not derive from the wallet")]
    ChangeNotDerived(usize),
    /// The input is already finalized.
    #[error("input {0}: already finalized")]
    AlreadyFinalized(usize),
    /// Script type not signed here.
    #[error("input {0}: unsupported script")]
    UnsupportedScript(usize),
    /// Outputs add up to more than inputs.
    #[error("outputs exceed inputs")]
    OutputsExceedInputs,
    /// Signing or sighash failure.
    #[error("signing failed at input {0}")]
    SigningFailed(usize),
    /// Two inputs spend the same outpoint.
    #[error(
        "input {index} spends the same outpoint as input {first}: the transaction can never confirm (bad-txns-inputs-duplicate)"
    )]
    DuplicateInput {
        /// The later input.
        index: usize,
        /// The earlier input spending the same outpoint.
        first: usize,
    },
}

/// The part of a PSBT a refusal or a policy miss is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// Input number (from 0).
    Input(u16),
    /// Output number (from 0).
    Output(u16),
}

impl Refusal {
    /// What refusal code `code` means, in words (for the ground, which gets only the code).
    pub fn reason(code: u8) -> Option<&'static str> {
        Some(match code {
            1 => "the PSBT has no inputs",
            2 => "an input lacks non_witness_utxo (its amount could be lied about)",
            3 => "an input's non_witness_utxo does not hash to its prevout txid",
            4 => "an input's non_witness_utxo has no output at the prevout index",
            5 => "an input's witness_utxo contradicts its non_witness_utxo",
            6 => "an input's witness script does not match its UTXO",
            7 => "an input's redeem script does not match its UTXO",
            8 => "an input lacks its witness script",
            9 => "an input lacks its redeem script",
            10 => "a BIP-32 derivation does not derive the wallet's keys",
            11 => "an input has no derivation for the wallet's keys",
            12 => "an input does not spend from the registered wallet",
            13 => "a sighash type the configuration does not allow",
            14 => "an output claims to be change but does not derive from the wallet",
            15 => "an input is already finalized",
            16 => "an input's script type is not signed here",
            17 => "the outputs add up to more than the inputs",
            18 => "signing failed",
            19 => {
                "two inputs spend the same outpoint: the transaction can never confirm (bad-txns-inputs-duplicate)"
            }
            _ => return None,
        })
    }

    /// The input or output the refusal is about (`None` for a refusal of the whole PSBT).
    pub fn subject(&self) -> Option<Subject> {
        let at = |i: &usize| u16::try_from(*i).unwrap_or(u16::MAX);
        match self {
            Refusal::NoInputs | Refusal::OutputsExceedInputs => None,
            Refusal::ChangeNotDerived(i) => Some(Subject::Output(at(i))),
            Refusal::SighashNotAllowed { index, .. } | Refusal::DuplicateInput { index, .. } => {
                Some(Subject::Input(at(index)))
            }
            Refusal::MissingNonWitnessUtxo(i)
            | Refusal::NonWitnessUtxoTxidMismatch(i)
            | Refusal::NonWitnessUtxoMissingOutput(i)
            | Refusal::WitnessUtxoMismatch(i)
            | Refusal::WitnessScriptMismatch(i)
            | Refusal::RedeemScriptMismatch(i)
            | Refusal::MissingWitnessScript(i)
            | Refusal::MissingRedeemScript(i)
            | Refusal::DerivationMismatch(i)
            | Refusal::MissingDerivation(i)
            | Refusal::ForeignInput(i)
            | Refusal::AlreadyFinalized(i)
            | Refusal::UnsupportedScript(i)
            | Refusal::SigningFailed(i) => Some(Subject::Input(at(i))),
        }
    }

    /// The code sent back to the ground (1-19, in declaration order).
    pub fn code(&self) -> u8 {
        match self {
            Refusal::NoInputs => 1,
            Refusal::MissingNonWitnessUtxo(_) => 2,
            Refusal::NonWitnessUtxoTxidMismatch(_) => 3,
            Refusal::NonWitnessUtxoMissingOutput(_) => 4,
            Refusal::WitnessUtxoMismatch(_) => 5,
            Refusal::WitnessScriptMismatch(_) => 6,
            Refusal::RedeemScriptMismatch(_) => 7,
            Refusal::MissingWitnessScript(_) => 8,
            Refusal::MissingRedeemScript(_) => 9,
            Refusal::DerivationMismatch(_) => 10,
            Refusal::MissingDerivation(_) => 11,
            Refusal::ForeignInput(_) => 12,
            Refusal::SighashNotAllowed { .. } => 13,
            Refusal::ChangeNotDerived(_) => 14,
            Refusal::AlreadyFinalized(_) => 15,
            Refusal::UnsupportedScript(_) => 16,
            Refusal::OutputsExceedInputs => 17,
            Refusal::SigningFailed(_) => 18,
            Refusal::DuplicateInput { .. } => 19,
        }
    }
}

impl From<SignError> for Refusal {
    fn from(e: SignError) -> Self {
        match e {
            SignError::MissingUtxo(i) => Refusal::MissingNonWitnessUtxo(i),
            SignError::NonWitnessUtxoTxidMismatch(i) => Refusal::NonWitnessUtxoTxidMismatch(i),
            SignError::NonWitnessUtxoMissingOutput(i) => Refusal::NonWitnessUtxoMissingOutput(i),
            SignError::WitnessUtxoMismatch(i) => Refusal::WitnessUtxoMismatch(i),
            SignError::WitnessUtxoForNonWitnessInput(i) => Refusal::MissingNonWitnessUtxo(i),
            SignError::MissingRedeemScript(i) => Refusal::MissingRedeemScript(i),
            SignError::RedeemScriptMismatch(i) => Refusal::RedeemScriptMismatch(i),
            SignError::MissingWitnessScript(i) => Refusal::MissingWitnessScript(i),
            SignError::WitnessScriptMismatch(i) => Refusal::WitnessScriptMismatch(i),
            SignError::UnsupportedScript(i) => Refusal::UnsupportedScript(i),
            SignError::AlreadyFinalized(i) => Refusal::AlreadyFinalized(i),
            SignError::SighashNotAllowed {
                index,
                sighash_type,
            } => Refusal::SighashNotAllowed {
                index,
                sighash_type,
            },
            SignError::InputIndexOutOfRange
            | SignError::Sighash(_)
            | SignError::Ecdsa(_)
            | SignError::TooManySignatures => Refusal::SigningFailed(0),
        }
    }
}

/// A checked input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedInput {
    /// 0 receive, 1 change.
    pub branch: u32,
    /// Address index.
    pub index: u32,
    /// Amount spent (from the verified previous transaction).
    pub amount: u64,
    /// Sighash type to sign with.
    pub sighash_type: u32,
}

/// A checked output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedOutput<'a> {
    /// Amount.
    pub amount: u64,
    /// Locking script.
    pub script_pubkey: &'a [u8],
    /// True if it pays back to the registered wallet (at a verified, bounded index).
    pub is_change: bool,
}

/// What a fully checked PSBT does: the policy engine decides on this.
#[derive(Debug, Clone)]
pub struct Analysis<'a> {
    /// Inputs, in order.
    pub inputs: heapless::Vec<CheckedInput, MAX_INPUTS>,
    /// Outputs, in order.
    pub outputs: heapless::Vec<CheckedOutput<'a>, MAX_OUTPUTS>,
    /// Sum of inputs.
    pub total_in: u64,
    /// Sum of outputs.
    pub total_out: u64,
    /// Sum of outputs that are not change (what leaves the wallet, fee excluded).
    pub spent: u64,
    /// Fee (inputs minus outputs).
    pub fee: u64,
    /// Estimated virtual size of the signed transaction: an upper bound, assuming every one of
    /// the `threshold` signatures is 73 bytes (72-byte DER plus the sighash byte).
    pub vsize: u64,
}

/// The (branch, index) that derivations claiming wallet keys agree on, after checking each one.
fn claimed_index(
    wallet: &Wallet,
    origins: impl Iterator<Item = KeyOrigin>,
    max_index: u32,
) -> Result<Option<(u32, u32)>, ()> {
    let mut found: Option<(u32, u32)> = None;
    for o in origins {
        for c in wallet.cosigners() {
            let Some((branch, index)) = c.relative(&o.fingerprint, o.path.as_slice()) else {
                continue;
            };
            if branch > 1 || index >= max_index || found.is_some_and(|f| f != (branch, index)) {
                return Err(());
            }
            if c.key_at(branch, index).map_err(|_| ())? != o.pubkey {
                return Err(());
            }
            found = Some((branch, index));
        }
    }
    Ok(found)
}

fn vsize_estimate(psbt: &Psbt<'_>, wallet: &Wallet, witness_script_len: usize) -> u64 {
    use crate::descriptor::ScriptType;
    let n = psbt.inputs().len() as u64;
    let mut base = psbt.unsigned_tx_size() as u64;
    if wallet.script_type == ScriptType::ShWsh {
        base += 35 * n;
    }
    let ws = witness_script_len as u64;
    let per_input_witness =
        1 + 1 + wallet.threshold as u64 * 73 + crate::encode::compact_size_len(ws) as u64 + ws;
    let weight = base * 4 + 2 + n * per_input_witness;
    weight.div_ceil(4)
}

/// Checks every input and output of `psbt` against `wallet`.
pub fn check<'a>(
    psbt: &Psbt<'a>,
    wallet: &Wallet,
    config: &SignerConfig,
) -> Result<Analysis<'a>, Refusal> {
    if psbt.inputs().is_empty() {
        return Err(Refusal::NoInputs);
    }
    // At most MAX_INPUTS² / 2 comparisons; no heap for a set.
    for (index, inp) in psbt.inputs().iter().enumerate() {
        if let Some(first) = psbt
            .inputs()
            .get(..index)
            .unwrap_or(&[])
            .iter()
            .position(|earlier| earlier.prevout == inp.prevout)
        {
            return Err(Refusal::DuplicateInput { index, first });
        }
    }
    let mut inputs = heapless::Vec::new();
    let mut total_in = 0u64;
    let mut ws_len = 0usize;
    for (i, inp) in psbt.inputs().iter().enumerate() {
        if inp.non_witness_utxo.is_none() {
            return Err(Refusal::MissingNonWitnessUtxo(i));
        }
        let spend: Spend<'_> = resolve(psbt, i)?;
        let nested = wallet.script_type == crate::descriptor::ScriptType::ShWsh;
        let Some(ws) = spend
            .script
            .filter(|_| spend.kind == SpendKind::SegwitV0 && spend.nested == nested)
        else {
            return Err(Refusal::ForeignInput(i));
        };
        let (branch, index) = claimed_index(wallet, inp.bip32_derivations(), config.max_index)
            .map_err(|_| Refusal::DerivationMismatch(i))?
            .ok_or(Refusal::MissingDerivation(i))?;
        let expected = wallet
            .witness_script(branch, index)
            .map_err(|_| Refusal::DerivationMismatch(i))?;
        if expected.as_slice() != ws {
            return Err(Refusal::ForeignInput(i));
        }
        if !config.allowed_sighash.allows(spend.sighash_type) {
            return Err(Refusal::SighashNotAllowed {
                index: i,
                sighash_type: spend.sighash_type,
            });
        }
        ws_len = ws.len();
        total_in = total_in
            .checked_add(spend.amount)
            .ok_or(Refusal::OutputsExceedInputs)?;
        let ci = CheckedInput {
            branch,
            index,
            amount: spend.amount,
            sighash_type: spend.sighash_type,
        };
        inputs.push(ci).map_err(|_| Refusal::NoInputs)?;
    }
    let mut outputs = heapless::Vec::new();
    let (mut total_out, mut spent) = (0u64, 0u64);
    for (o_idx, out) in psbt.outputs().iter().enumerate() {
        let claim = claimed_index(wallet, out.bip32_derivations(), config.max_index)
            .map_err(|_| Refusal::ChangeNotDerived(o_idx))?;
        let is_change = match claim {
            Some((branch, index)) => {
                let spk = wallet
                    .script_pubkey(branch, index)
                    .map_err(|_| Refusal::ChangeNotDerived(o_idx))?;
                if spk.as_slice() != out.script_pubkey {
                    return Err(Refusal::ChangeNotDerived(o_idx));
                }
                true
            }
            None => false,
        };
        total_out = total_out
            .checked_add(out.amount)
            .ok_or(Refusal::OutputsExceedInputs)?;
        if !is_change {
            spent = spent
                .checked_add(out.amount)
                .ok_or(Refusal::OutputsExceedInputs)?;
        }
        let co = CheckedOutput {
            amount: out.amount,
            script_pubkey: out.script_pubkey,
            is_change,
        };
        outputs.push(co).map_err(|_| Refusal::OutputsExceedInputs)?;
    }
    let fee = total_in
        .checked_sub(total_out)
        .ok_or(Refusal::OutputsExceedInputs)?;
    let vsize = vsize_estimate(psbt, wallet, ws_len);
    Ok(Analysis {
        inputs,
        outputs,
        total_in,
        total_out,
        spent,
        fee,
        vsize,
    })
}

/// Signs every input of a checked PSBT with the node's key (RFC 6979: the same PSBT always gives
/// the same signatures). `analysis` must come from [`check`] on the same PSBT and wallet.
pub fn sign(
    psbt: &Psbt<'_>,
    analysis: &Analysis<'_>,
    account: &AccountKey,
) -> Result<heapless::Vec<NewSig, MAX_INPUTS>, Refusal> {
    let cache = segwit_v0::Cache::new(psbt);
    let mut sigs = heapless::Vec::new();
    for (i, ci) in analysis.inputs.iter().enumerate() {
        let spend = resolve(psbt, i)?;
        let key = account
            .key_at(ci.branch, ci.index)
            .map_err(|_| Refusal::SigningFailed(i))?;
        let digest = sighash(psbt, &cache, i, &spend).map_err(|_| Refusal::SigningFailed(i))?;
        let sig =
            make_sig(&key, &digest, i, ci.sighash_type).map_err(|_| Refusal::SigningFailed(i))?;
        sigs.push(sig).map_err(|_| Refusal::SigningFailed(i))?;
    }
    Ok(sigs)
}
