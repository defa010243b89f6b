//! # spacenode signer logic
//!
//! The `no_std` core of the signer component: everything the satellite needs to decide whether to
//! co-sign a ground server's PSBT and to produce the signature, with no OS calls and no heap.
//! Layers, each reviewable on its own:
//!
//! 1. Bitcoin primitives: [`encode`], [`hash`], [`base58`], [`tx`], [`script`], [`sighash`]
//!    (legacy, BIP-143, BIP-341), [`ecdsa`] (RFC 6979, low-S, strict DER), [`bip32`].
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod base58;
pub mod bip32;
pub mod descriptor;
pub mod ecdsa;
pub mod encode;
pub mod hash;
pub mod psbt;
pub mod script;
pub mod sighash;
pub mod signer;
pub mod tx;
pub mod wallet;
