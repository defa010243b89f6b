//! Partially Signed Bitcoin Transactions, version 0 (BIP-174) and version 2 (BIP-370), parsed as
//! a validated view over the caller's buffer and re-serialised byte for byte.
//!
//! - [`Psbt::parse`] checks the magic, every key-value pair (key lengths of known types, values
//!   that must parse: transactions, outputs, public keys, derivation paths, integers), duplicate
//!   keys, the fields each version requires and forbids, and (v2) computes the locktime per
//!   BIP-370. Unknown and proprietary pairs are kept as they are.
//! - Parsed data borrows from the input; per-input and per-output summaries live in fixed arrays
//!   of [`MAX_INPUTS`] and [`MAX_OUTPUTS`] entries. A PSBT beyond those bounds is refused
//!   ([`PsbtError::TooManyInputs`]/[`PsbtError::TooManyOutputs`]) rather than allocated for.
//! - [`Psbt::write`] re-emits every original pair unchanged and in order, and can only insert
//!   new `PSBT_IN_PARTIAL_SIG` pairs: the signer adds signatures and touches nothing else.
//! - [`sign`] is the generic BIP-174 Signer role (the script checks every signer must make);
//!   the registered-wallet checks live in [`crate::signer`].
//!
//! No panics on any input (the fuzz target under `fuzz/` drives this parser), no allocation.

mod parse;
pub mod sign;
mod write;

pub use write::NewSig;

use crate::bip32::{DerivationPath, Fingerprint};
use crate::encode::{DecodeError, Reader};
use crate::sighash::TxData;
use crate::tx::{OutPoint, Tx, TxOut};

/// Most inputs a PSBT may have.
pub const MAX_INPUTS: usize = 64;
/// Most outputs a PSBT may have.
pub const MAX_OUTPUTS: usize = 64;
/// The five magic bytes `psbt\xff`.
pub const MAGIC: [u8; 5] = *b"psbt\xff";

/// Global key types.
pub mod global {
    /// PSBT_GLOBAL_UNSIGNED_TX (v0).
    pub const UNSIGNED_TX: u64 = 0x00;
    /// PSBT_GLOBAL_XPUB.
    pub const XPUB: u64 = 0x01;
    /// PSBT_GLOBAL_TX_VERSION (v2).
    pub const TX_VERSION: u64 = 0x02;
    /// PSBT_GLOBAL_FALLBACK_LOCKTIME (v2).
    pub const FALLBACK_LOCKTIME: u64 = 0x03;
    /// PSBT_GLOBAL_INPUT_COUNT (v2).
    pub const INPUT_COUNT: u64 = 0x04;
    /// PSBT_GLOBAL_OUTPUT_COUNT (v2).
    pub const OUTPUT_COUNT: u64 = 0x05;
    /// PSBT_GLOBAL_TX_MODIFIABLE (v2).
    pub const TX_MODIFIABLE: u64 = 0x06;
    /// PSBT_GLOBAL_VERSION.
    pub const VERSION: u64 = 0xfb;
}

/// Input key types.
pub mod input {
    /// PSBT_IN_NON_WITNESS_UTXO.
    pub const NON_WITNESS_UTXO: u64 = 0x00;
    /// PSBT_IN_WITNESS_UTXO.
    pub const WITNESS_UTXO: u64 = 0x01;
    /// PSBT_IN_PARTIAL_SIG.
    pub const PARTIAL_SIG: u64 = 0x02;
    /// PSBT_IN_SIGHASH_TYPE.
    pub const SIGHASH_TYPE: u64 = 0x03;
    /// PSBT_IN_REDEEM_SCRIPT.
    pub const REDEEM_SCRIPT: u64 = 0x04;
    /// PSBT_IN_WITNESS_SCRIPT.
    pub const WITNESS_SCRIPT: u64 = 0x05;
    /// PSBT_IN_BIP32_DERIVATION.
    pub const BIP32_DERIVATION: u64 = 0x06;
    /// PSBT_IN_FINAL_SCRIPTSIG.
    pub const FINAL_SCRIPTSIG: u64 = 0x07;
    /// PSBT_IN_FINAL_SCRIPTWITNESS.
    pub const FINAL_SCRIPTWITNESS: u64 = 0x08;
    /// PSBT_IN_PREVIOUS_TXID (v2).
    pub const PREVIOUS_TXID: u64 = 0x0e;
    /// PSBT_IN_OUTPUT_INDEX (v2).
    pub const OUTPUT_INDEX: u64 = 0x0f;
    /// PSBT_IN_SEQUENCE (v2).
    pub const SEQUENCE: u64 = 0x10;
    /// PSBT_IN_REQUIRED_TIME_LOCKTIME (v2).
    pub const REQUIRED_TIME_LOCKTIME: u64 = 0x11;
    /// PSBT_IN_REQUIRED_HEIGHT_LOCKTIME (v2).
    pub const REQUIRED_HEIGHT_LOCKTIME: u64 = 0x12;
}

/// Output key types.
pub mod output {
    /// PSBT_OUT_REDEEM_SCRIPT.
    pub const REDEEM_SCRIPT: u64 = 0x00;
    /// PSBT_OUT_WITNESS_SCRIPT.
    pub const WITNESS_SCRIPT: u64 = 0x01;
    /// PSBT_OUT_BIP32_DERIVATION.
    pub const BIP32_DERIVATION: u64 = 0x02;
    /// PSBT_OUT_AMOUNT (v2).
    pub const AMOUNT: u64 = 0x03;
    /// PSBT_OUT_SCRIPT (v2).
    pub const SCRIPT: u64 = 0x04;
}

/// Proprietary key type (any map).
pub const PROPRIETARY: u64 = 0xfc;

/// Which map an error was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// The global map.
    Global,
    /// Input map n.
    Input(usize),
    /// Output map n.
    Output(usize),
}

impl core::fmt::Display for MapKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MapKind::Global => f.write_str("the global map"),
            MapKind::Input(i) => write!(f, "input {i}"),
            MapKind::Output(i) => write!(f, "output {i}"),
        }
    }
}

/// Why a PSBT was refused by the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PsbtError {
    /// The data does not start with `psbt\xff`.
    #[error("not a PSBT (bad magic)")]
    BadMagic,
    /// The bytes end early, a length is wrong, or bytes follow the last map.
    #[error("malformed PSBT encoding: {0}")]
    Decode(DecodeError),
    /// A key appears twice in one map.
    #[error("duplicate key in {0}")]
    DuplicateKey(MapKind),
    /// A known key type has key data of the wrong length or shape.
    #[error("invalid key of type {key_type:#x} in {map}")]
    InvalidKey {
        /// Where.
        map: MapKind,
        /// The key type.
        key_type: u64,
    },
    /// A known key type has a value that does not parse.
    #[error("invalid value of type {key_type:#x} in {map}")]
    InvalidValue {
        /// Where.
        map: MapKind,
        /// The key type.
        key_type: u64,
    },
    /// PSBT_GLOBAL_VERSION is neither 0 nor 2.
    #[error("unsupported PSBT version {0}")]
    UnsupportedVersion(u32),
    /// A v0 PSBT without PSBT_GLOBAL_UNSIGNED_TX.
    #[error("v0 PSBT without an unsigned transaction")]
    MissingUnsignedTx,
    /// The unsigned transaction has a scriptSig or witness.
    #[error("unsigned transaction has a scriptSig or witness")]
    UnsignedTxNotEmpty,
    /// A field defined only for the other PSBT version is present.
    #[error("field {key_type:#x} not allowed in this PSBT version ({map})")]
    FieldNotAllowed {
        /// Where.
        map: MapKind,
        /// The key type.
        key_type: u64,
    },
    /// A field the version requires is missing.
    #[error("required field {key_type:#x} missing ({map})")]
    MissingField {
        /// Where.
        map: MapKind,
        /// The key type.
        key_type: u64,
    },
    /// More inputs than [`MAX_INPUTS`].
    #[error("too many inputs")]
    TooManyInputs,
    /// More outputs than [`MAX_OUTPUTS`].
    #[error("too many outputs")]
    TooManyOutputs,
    /// (v2) the inputs' locktime requirements cannot all be met.
    #[error("inputs require incompatible locktime types")]
    LocktimeConflict,
}

impl From<DecodeError> for PsbtError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

/// PSBT format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// BIP-174.
    V0,
    /// BIP-370.
    V2,
}

/// One key-value pair, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair<'a> {
    /// The key type.
    pub key_type: u64,
    /// The whole key (type included), as compared for duplicates and ordering.
    pub key: &'a [u8],
    /// The key data after the type.
    pub key_data: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// The whole encoded pair (lengths included).
    pub raw: &'a [u8],
}

/// A map's pairs, borrowed (separator excluded). Only built by the parser, so always well formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Map<'a> {
    raw: &'a [u8],
}

pub(crate) fn read_pair<'a>(r: &mut Reader<'a>) -> Result<Option<Pair<'a>>, DecodeError> {
    let start = r.position();
    let key = r.var_bytes()?;
    if key.is_empty() {
        return Ok(None);
    }
    let mut kr = Reader::new(key);
    let key_type = kr.compact_size()?;
    let key_data = key.get(kr.position()..).ok_or(DecodeError::Invalid)?;
    let value = r.var_bytes()?;
    let raw = r
        .data()
        .get(start..r.position())
        .ok_or(DecodeError::Invalid)?;
    Ok(Some(Pair {
        key_type,
        key,
        key_data,
        value,
        raw,
    }))
}

impl<'a> Map<'a> {
    /// The encoded pairs.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The pairs in order.
    pub fn pairs(&self) -> impl Iterator<Item = Pair<'a>> + use<'a> {
        let mut r = Reader::new(self.raw);
        core::iter::from_fn(move || read_pair(&mut r).ok().flatten())
    }

    /// The first pair of a type (single-key types have at most one).
    pub fn get(&self, key_type: u64) -> Option<Pair<'a>> {
        self.pairs().find(|p| p.key_type == key_type)
    }
}

/// A BIP-32 origin attached to a public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOrigin {
    /// The public key (compressed, 33 bytes; uncompressed keys are skipped by the iterators).
    pub pubkey: [u8; 33],
    /// Master key fingerprint.
    pub fingerprint: Fingerprint,
    /// Path from the master key.
    pub path: DerivationPath,
}

fn origins<'a>(map: Map<'a>, key_type: u64) -> impl Iterator<Item = KeyOrigin> + 'a {
    map.pairs()
        .filter(move |p| p.key_type == key_type)
        .filter_map(|p| {
            let pubkey: [u8; 33] = p.key_data.try_into().ok()?;
            let (fp, rest) = p.value.split_at_checked(4)?;
            let mut path = DerivationPath::master();
            for c in rest.chunks_exact(4) {
                path.push(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .ok()?;
            }
            Some(KeyOrigin {
                pubkey,
                fingerprint: fp.try_into().ok()?,
                path,
            })
        })
}

/// What the parser learned about one input.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The input's map.
    pub map: Map<'a>,
    /// The output it spends.
    pub prevout: OutPoint,
    /// nSequence.
    pub sequence: u32,
    /// PSBT_IN_NON_WITNESS_UTXO, parsed.
    pub non_witness_utxo: Option<Tx<'a>>,
    /// PSBT_IN_WITNESS_UTXO, parsed.
    pub witness_utxo: Option<TxOut<'a>>,
    /// PSBT_IN_SIGHASH_TYPE.
    pub sighash_type: Option<u32>,
    /// PSBT_IN_REDEEM_SCRIPT.
    pub redeem_script: Option<&'a [u8]>,
    /// PSBT_IN_WITNESS_SCRIPT.
    pub witness_script: Option<&'a [u8]>,
    /// True if a final scriptSig or witness is present (the input is already finalized).
    pub finalized: bool,
    /// (v2) PSBT_IN_REQUIRED_TIME_LOCKTIME.
    pub required_time_locktime: Option<u32>,
    /// (v2) PSBT_IN_REQUIRED_HEIGHT_LOCKTIME.
    pub required_height_locktime: Option<u32>,
}

impl<'a> Input<'a> {
    /// PSBT_IN_BIP32_DERIVATION entries with compressed keys.
    pub fn bip32_derivations(&self) -> impl Iterator<Item = KeyOrigin> + use<'a> {
        origins(self.map, input::BIP32_DERIVATION)
    }

    /// PSBT_IN_PARTIAL_SIG entries: (public key bytes, signature with sighash byte).
    pub fn partial_sigs(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + use<'a> {
        self.map
            .pairs()
            .filter(|p| p.key_type == input::PARTIAL_SIG)
            .map(|p| (p.key_data, p.value))
    }
}

/// What the parser learned about one output.
#[derive(Debug, Clone, Copy)]
pub struct Output<'a> {
    /// The output's map.
    pub map: Map<'a>,
    /// Amount in satoshis.
    pub amount: u64,
    /// The locking script.
    pub script_pubkey: &'a [u8],
    /// PSBT_OUT_REDEEM_SCRIPT.
    pub redeem_script: Option<&'a [u8]>,
    /// PSBT_OUT_WITNESS_SCRIPT.
    pub witness_script: Option<&'a [u8]>,
}

impl<'a> Output<'a> {
    /// PSBT_OUT_BIP32_DERIVATION entries with compressed keys.
    pub fn bip32_derivations(&self) -> impl Iterator<Item = KeyOrigin> + use<'a> {
        origins(self.map, output::BIP32_DERIVATION)
    }
}

/// A parsed PSBT (v0 or v2), borrowing the buffer it was parsed from.
#[derive(Debug, Clone)]
pub struct Psbt<'a> {
    raw: &'a [u8],
    version: Version,
    global: Map<'a>,
    unsigned_tx: Option<Tx<'a>>,
    tx_version: u32,
    lock_time: u32,
    inputs: heapless::Vec<Input<'a>, MAX_INPUTS>,
    outputs: heapless::Vec<Output<'a>, MAX_OUTPUTS>,
}

impl<'a> Psbt<'a> {
    /// The bytes this PSBT was parsed from.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// v0 or v2.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The global map.
    pub fn global(&self) -> Map<'a> {
        self.global
    }

    /// (v0) the unsigned transaction.
    pub fn unsigned_tx(&self) -> Option<&Tx<'a>> {
        self.unsigned_tx.as_ref()
    }

    /// The inputs.
    pub fn inputs(&self) -> &[Input<'a>] {
        &self.inputs
    }

    /// The outputs.
    pub fn outputs(&self) -> &[Output<'a>] {
        &self.outputs
    }

    /// The transaction's locktime (v2: as determined by BIP-370).
    pub fn lock_time(&self) -> u32 {
        self.lock_time
    }

    /// The transaction's version.
    pub fn tx_version(&self) -> u32 {
        self.tx_version
    }

    /// The non-witness size of the unsigned transaction in bytes (v2: as it would serialise).
    pub fn unsigned_tx_size(&self) -> usize {
        use crate::encode::compact_size_len;
        let ins = self.inputs.len();
        let mut size = 8
            + compact_size_len(ins as u64)
            + 41 * ins
            + compact_size_len(self.outputs.len() as u64);
        for o in &self.outputs {
            size += 8 + compact_size_len(o.script_pubkey.len() as u64) + o.script_pubkey.len();
        }
        size
    }
}

impl TxData for Psbt<'_> {
    fn version(&self) -> u32 {
        self.tx_version
    }
    fn lock_time(&self) -> u32 {
        self.lock_time
    }
    fn input_count(&self) -> usize {
        self.inputs.len()
    }
    fn output_count(&self) -> usize {
        self.outputs.len()
    }
    fn inputs(&self) -> impl Iterator<Item = (OutPoint, u32)> + '_ {
        self.inputs.iter().map(|i| (i.prevout, i.sequence))
    }
    fn outputs(&self) -> impl Iterator<Item = TxOut<'_>> + '_ {
        self.outputs.iter().map(|o| TxOut {
            value: o.amount,
            script_pubkey: o.script_pubkey,
        })
    }
    fn input(&self, index: usize) -> Option<(OutPoint, u32)> {
        self.inputs.get(index).map(|i| (i.prevout, i.sequence))
    }
    fn output(&self, index: usize) -> Option<TxOut<'_>> {
        self.outputs.get(index).map(|o| TxOut {
            value: o.amount,
            script_pubkey: o.script_pubkey,
        })
    }
}
