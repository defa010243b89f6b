//! # The watchdog partition
//!
//! The `watchdog` component as it runs in its own partition: a [`runtime::Component`]
//! ([`WatchdogPd`]) around the `no_std` watchdog core (crate `watchdog`), which decides
//! everything; this crate only moves messages, time and flash writes in and out of it.
//!
//! 1. **Configuration** ([`table`]): generated at build time from the shipped system
//!    description by `build.rs`, with the core's own `watchdog::description::config_from`, and
//!    re-validated at start. The partition refuses to start if its grants do not match the
//!    table ([`links`]).
//! 2. **Boot**: takes its channels, the `hw-watchdog` timer and the `health-flash`; reads the
//!    reset counter the monitor counted this boot on (`watchdog::ResetCounter`) and the node
//!    mode the monitor decided (`runtime::CapSet::node_mode`); seeds its nonce DRBG
//!    ([`nonce`]) from the per-start seed (`runtime::CapSet::take_seed`); arms the hardware
//!    watchdog ([`component::HW_TIMEOUT`]).
//! 3. **Run**: every tick (a tenth of the shortest ping period) the core sends due pings, counts
//!    misses, requests due restarts, and says whether to kick the hardware watchdog; pongs,
//!    the monitor's fault notices and restart results are handed to the core as they arrive
//!    ([`convert`]).
//! 4. **Report** ([`report`]): health reports to comms (for the ground) and to the upgrade agent
//!    (its "healthy for T since boot" signal), and one log line per change of health, which
//!    `spacenode run` shows with the `[watchdog]` prefix.
//!
//! **Safe mode** is decided by the monitor at power-on from the reset counter (see
//! `board_sim::monitor::resets`): components not marked `safe-mode` are never started, and the
//! core marks them inactive (not pinged, not restarted). The health report carries the mode, the
//! reset count and the last escalation on record, which is how the ground learns why. A ground
//! command to leave safe mode (`watchdog::ResetCounter::clear`) has no channel yet: the shipped
//! description gives comms no channel to the watchdog for commands.
//!
//! Avoids: the heap, `std`, any OS call (the board's drivers do I/O), and decisions of its own.
#![no_std]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod component;
pub mod convert;
pub mod links;
pub mod nonce;
pub mod report;
pub mod slot;
pub mod table;

pub use component::{HW_TIMEOUT, PdCounters, WatchdogPd};
