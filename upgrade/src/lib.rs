//! Signed upgrade bundles for spacenode: the format, TUF-style root and release key roles, and
//! verification, for the on-board agent and the boot stage (`no_std`, no heap, never panics on
//! input), plus the ground-side builder under the `std` feature.
//!
//! The format is specified byte by byte in `upgrade/README.md`. In short, a bundle is
//! `header || image`; the header carries the root chain from root version 1, and the manifest
//! signed by the newest root's release keys.
//!
//! # Node-side API
//!
//! - [`header_len`]: the header length from the first [`PREFIX_LEN`] bytes (≤ [`MAX_HEADER_LEN`]),
//!   so a receiver knows where the image starts.
//! - [`verify`]`(header_bytes, &`[`Policy`]`)` → [`Verified`] (the manifest view and the newest
//!   root, whose `body` the node persists as its next [`Trust::Root`]) or a [`VerifyError`]. The
//!   policy names the trust ([`Trust::Anchor`]: SHA-256 of root v1's body, as held in OTP; or
//!   [`Trust::Root`]: a persisted verified root), board and hardware id, the version and
//!   security-counter floors with an explicit [`Rule`] (`Greater` for the agent, `AtLeast` for the
//!   boot stage), the slot size, and the node's monotonic counter for expiry (`None` skips it).
//!   An install (version rule `Greater`) also bounds the version's major step and the security
//!   counter's step ([`MAX_MAJOR_STEP`], [`MAX_COUNTER_STEP`]); the boot stage checks floors only.
//!   `verify` is [`root_chain`], [`release_signatures`] and [`check_manifest`] in order (public
//!   so a tool can report each check, as `spacenode bundle verify` does).
//! - [`Manifest`]: version, security counter, image length, image hash, chunk size/count/hash;
//!   [`Manifest::verify_chunk`]`(index, bytes)` and [`Manifest::image_verifier`] (streaming
//!   [`ImageVerifier`]: `update` … `finish`) → [`ImageError`].
//!
//! # Ground-side API (feature `std`)
//!
//! [`builder`]: [`builder::SecretKey`] generation and files, [`builder::RootSpec`] and
//! [`builder::ManifestSpec`] bodies, [`builder::SignedDoc`] to collect signatures one holder at a
//! time, and [`builder::assemble`] to write a bundle.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod header;
mod image;
mod key;
mod limits;
mod manifest;
mod root;
mod verify;
mod wire;

#[cfg(feature = "std")]
pub mod builder;

pub use error::{FormatError, IdText, ImageError, Rule, Signers, Tally, VerifyError};
pub use header::{FORMAT, Header, MAGIC, PREFIX_LEN, Signature, Signed, header_len};
pub use image::ImageVerifier;
pub use key::{
    Algorithm, DOMAIN, KeyId, PublicKey, key_id, signed_message, verify as verify_signature,
};
pub use limits::*;
pub use manifest::{MANIFEST_TAG, Manifest, Version, chunk_count_for};
pub use root::{ROOT_TAG, Role, Root};
pub use verify::{
    Floor, Policy, Trust, Verified, check_manifest, release_signatures, root_chain, tally, verify,
};
