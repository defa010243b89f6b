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
//!
//! NOT WIRED IN YET: comms, the ground tools and the demo still speak the node's own unit format;
//! moving them onto these layers (and SDLS, issue 19 point 3) is the next step of issue 19.
//!
//! Avoids: heap, panics on received bytes, a clock of its own.
#![no_std]
#![forbid(unsafe_code)]

pub mod bch;
pub mod clcw;
pub mod cltu;
pub mod farm;
pub mod fecf;
pub mod packets;
pub mod randomizer;
pub mod segment;
pub mod sync;
pub mod tc;
pub mod tm;
