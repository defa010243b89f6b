//! The comms component's logic: everything between the ground links and the component channels.
//!
//! - [`sdls`]: CCSDS 355.0 security on every unit (MAC, anti-replay shared by both links and kept
//!   across reboots, per-association keys rotatable by command).
//! - [`pus`]: CCSDS space packets with PUS-C (ECSS-E-ST-70-41C) services 1, 3, 5, 8, 17 and the
//!   mission security management service, on the `spacepackets` crate.
//! - [`admin`]: the signer's registry administration over the link (chunked admin envelopes,
//!   xpub exports, TM\[8,128\] with the signer's answer).
//! - [`failure`]: the failure codes of every refusal.
//! - [`router`]: the command catalogue and the routing table derived from the system description.
//! - [`dedup`]: a retransmitted command runs once and gets its reports again.
//! - [`standby`]: the standby serial link: SDLS units in UDP over IPv4 over PPP.
//! - [`radio_ccsds`]: the radio as a CCSDS space link (CLTU/TC frames/FARM-1 up, TM frames with
//!   the CLCW down, SDLS in the frames under the engine's associations; FOP-1 on the ground),
//!   when the system description's `[link]` section asks for it.
//! - [`link`]: link statistics and primary/standby failover with hysteresis.
//! - [`node`]: the node side tying them together.
//! - [`ground`]: the ground side, reusing the same framing, security and packet code.
//!
//! `no_std`, no `alloc`. The `std` feature adds [`host`] (Vec-returning helpers for the ground
//! CLI and interop scripts); `kernel-config` adds building the routing table straight from a
//! validated system description.
//!
//! Avoids: OS calls, blocking, and panics on anything received from a link.
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod cfdp;
pub mod dedup;
pub mod failure;
pub mod ground;
#[cfg(feature = "std")]
pub mod host;
pub mod link;
pub mod node;
pub mod pus;
pub mod radio_ccsds;
pub mod router;
pub mod sdls;
pub mod standby;
