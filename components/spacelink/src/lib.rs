//! spacenode's CCSDS space link protocol layers, as one self-contained `no_std` crate.
//!
//! - [`bch`] and [`cltu`]: the telecommand channel coding of CCSDS 231.0 (BCH(63,56) code
//!   blocks with single-error correction, start and tail sequences, fill);
//! - [`sync`] and [`randomizer`]: the telemetry channel coding of CCSDS 131.0 (attached sync
//!   marker, a frame synchroniser that follows slips of the byte stream, the pseudo-randomiser);
//! - [`fecf`]: the CRC-16 frame error control field of the TC and TM transfer frames;
//! - [`tc`]: TC transfer frames (232.0) with the segment header and the control commands;
//!   [`segment`] cuts units longer than a frame into segments and reassembles them;
//! - [`tm`]: TM transfer frames (132.0) with master and virtual channel counters, the first
//!   header pointer and the operational control field; [`packets`] puts space packets into
//!   their data fields and takes them out, spanning frames and filling with idle packets;
//! - [`clcw`]: the Communications Link Control Word, and [`farm`]: COP-1 FARM-1 producing it;
//!   [`fop`]: COP-1 FOP-1, the ground's side, consuming it;
//! - [`sdls`]: SDLS (355.0) security header and trailer inside TC and TM frames, AES-256-GCM and
//!   HMAC-SHA-256 per security association, the authentication mask, the anti-replay window.
//!
//! Used by `comms::radio_ccsds` (the node's and the ground's ends of the radio as a CCSDS
//! space link, chosen by the system description's `[link]` section); the default radio, the
//! demo and the benchmarks still speak comms' own unit format.
//!
//! Not here: the optional TC randomiser of 231.0, the other codes of 131.0 (convolutional,
//! Reed-Solomon, turbo, LDPC), a sync search at bit (not byte) offsets, TM secondary headers.
//!
//! Checked against an independent Python peer written from the standards' text and the PyPI
//! package `ccsds-cop` (FARM-1), see `tests/peer.rs` and `scripts/interop-link.py`; SDLS against
//! a peer from 355.0 with PyPI `cryptography` (`tests/sdls_peer.rs`, `scripts/interop-sdls.py`),
//! NIST's GCM and RFC 4231's HMAC vectors; and against 231.0/232.1's own rules (every
//! single-bit error corrected, every double one detected, the FARM-1 and FOP-1 state tables
//! event by event).
//!
//! Avoids: heap, panics on received bytes, a clock of its own.
#![no_std]
#![forbid(unsafe_code)]

pub mod bch;
pub mod clcw;
pub mod cltu;
pub mod farm;
pub mod fecf;
pub mod fop;
pub mod packets;
pub mod randomizer;
pub mod sdls;
pub mod segment;
pub mod sync;
pub mod tc;
pub mod tm;
