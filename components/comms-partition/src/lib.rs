//! # The comms partition
//!
//! The `comms` component as it runs in its own partition: a [`runtime::Component`]
//! ([`CommsPd`]) around the `no_std` comms logic (crate `comms`: SDLS, PUS, routing, dedup,
//! PPP, failover, [`comms::node::Node`]). It is a separate crate so the comms logic stays free
//! of the runtime, the channels and rkyv, and is shared as is with the ground tool.
//!
//! | module | what |
//! | --- | --- |
//! | [`bufs`] | the large buffers, in static memory taken once |
//! | [`component`] | [`CommsPd`]: init from the capability set, the bounded, fair handler |
//! | [`flash_map`] | the regions of `comms-flash` (SDLS state, sealed keys and inbox: first 64 KiB; CFDP: from 64 KiB) |
//! | [`keys`] | the SDLS keys sealed on `comms-flash`, the provisioning inbox, the sim default |
//! | [`links`] | the two ground links as the node's [`comms::node::Downlink`], PPP (`comms::standby`) on the serial line |
//! | [`radio_mode`] | what the radio speaks (`[link]`): units, or the CCSDS space link |
//! | [`routes`] | the routing table from the send capabilities the partition was granted |
//! | [`batches`] | CFDP in the partition: batch files up, to the signer, result files down |
//! | [`intake`] | batch intake: one received batch file to sign requests, responses to one result file |
//! | [`signer_watch`] | whether the signer can sign at once (boot mode, the watchdog's reports) |
//!
//! Avoids: the heap, `std`, OS calls (the board's drivers do I/O), and unbounded work in one
//! handler call.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod batches;
pub mod bufs;
pub mod component;
pub mod flash_map;
pub mod intake;
pub mod keys;
pub mod links;
pub mod radio_mode;
pub mod routes;
pub mod signer_watch;
pub mod standby_settings;

pub use component::CommsPd;
