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
//! 5. The node: [`keys`] (sealed seed, identity key, BIP-48 accounts), [`provision`] (the
//!    registry text format), [`registry`] (ground servers), [`admin`] (M-of-N admin commands),
//!    [`policy`] (the policy language and its evaluation), [`ledger`] (anti-replay and velocity
//!    state), [`batch`] (the incremental batch state machine, framing, receipts), [`export`]
//!    (signed xpubs), [`persist`] (flash layout), and [`node::Signer`] tying them together.
//!
//! # What the component calls
//!
//! ```text
//! // A partition lends its registries from static memory (`Signer::boot` owns them instead):
//! let (mut signer, _) =
//!     Signer::boot_with(flash, registries, SignerLayout::contiguous(base), &seal, &mut rng)?;
//! signer.provision(text)?;                    // once, in the clean room
//! signer.resume_clock(board_now);             // mission clock from the ledger's mark
//! signer.admin_at(&time_envelope, board_now)?; // an authenticated ground time correlation
//! let mut job = signer.begin_batch(&batch_bytes, board_now);
//! loop {                                      // answer pings between steps
//!     match job.step(&mut signer, &mut out) {
//!         Step::Working => {}
//!         Step::Psbt { index, len, .. } => send(&out[..len]),
//!         Step::Done(receipt) => { send(receipt.as_bytes()); break }
//!     }
//! }
//! ```
//!
//! Secrets ([`ecdsa::PrivateKey`], [`bip32::Xpriv`], [`wallet::AccountKey`], P-256 secret keys)
//! are zeroized on drop. Fixed capacities: [`psbt::MAX_INPUTS`], [`psbt::MAX_OUTPUTS`],
//! [`script::MAX_MULTISIG_KEYS`], [`cert::MAX_PSBTS`], [`batch::framing::MAX_PSBT_LEN`],
//! [`registry::MAX_SERVERS`], [`policy::MAX_RULES`]. No type in this crate that could be put in
//! a message carries a private key: secrets live in [`keys::NodeKeys`] inside [`node::Signer`].
//!
//! Stack: nothing large is built or returned by value on the boot, provision, admin and batch
//! paths (registries are built in place in [`registry::Registries`], wallets in their server
//! slots, PSBTs parsed in frames of their own), so the signer partition runs on a 256 KiB stack
//! even unoptimised; `signer-partition`'s `stack` test holds it to the declared `stack-size`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod admin;
pub mod base58;
pub mod batch;
pub mod bip32;
pub mod cert;
pub mod clock;
pub mod descriptor;
pub mod ecdsa;
pub mod encode;
pub mod export;
pub mod hash;
mod hexfmt;
pub mod keys;
pub mod ledger;
pub mod link_challenge;
pub mod node;
pub mod p256sig;
pub mod persist;
pub mod policy;
pub mod provision;
pub mod psbt;
pub mod recovery;
pub mod registry;
pub mod script;
pub mod show;
pub mod sighash;
pub mod signer;
pub mod tx;
pub mod wallet;
