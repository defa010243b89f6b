//! # spacenode signer logic
//!
//! The `no_std` core of the signer component: everything the satellite needs to decide whether to
//! co-sign a ground server's PSBT and to produce the signature, with no OS calls and no heap.
//! Layers, each reviewable on its own:
//!
//! 1. Bitcoin primitives: [`encode`], [`hash`], [`base58`], [`tx`], [`script`], [`sighash`]
//!    (legacy, BIP-143, BIP-341), [`ecdsa`] (RFC 6979, low-S, strict DER), [`bip32`].
//! 2. PSBT v0/v2: [`psbt`] (parser, byte-identical writer, generic BIP-174 Signer role in
//!    [`psbt::sign`]).
//! 3. Wallet model: [`descriptor`] (`wsh(sortedmulti)`, `sh(wsh(sortedmulti))`, BIP-380
//!    checksum), [`wallet`] (registration with the node's BIP-48 key), [`signer`] (the refusal
//!    list, [`signer::check`] then [`signer::sign`]).
//! 4. Ground authentication: [`cert`] (the batch certificate byte format and its checks),
//!    [`p256sig`] (P-256 ECDSA over SHA3-256).
//!
//! Secrets ([`ecdsa::PrivateKey`], [`bip32::Xpriv`], [`wallet::AccountKey`], P-256 secret keys)
//! are zeroized on drop. Fixed capacities: [`psbt::MAX_INPUTS`], [`psbt::MAX_OUTPUTS`],
//! [`script::MAX_MULTISIG_KEYS`], [`cert::MAX_PSBTS`].
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod base58;
pub mod bip32;
pub mod cert;
pub mod descriptor;
pub mod ecdsa;
pub mod encode;
pub mod hash;
pub mod p256sig;
pub mod psbt;
pub mod script;
pub mod sighash;
pub mod signer;
pub mod tx;
pub mod wallet;
