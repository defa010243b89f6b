//! # The upgrade agent partition
//!
//! The `upgrade` component: it takes a signed bundle (the `upgrade` crate's format) from the
//! ground, writes it into the **inactive** slot of the slot flash ([`hal::slots::SlotLayout`]),
//! asks boot control for a trial boot, and on the trial boot confirms the new image once the
//! watchdog has reported the node healthy for the soak time, or cancels the trial itself.
//!
//! **Transfer: chunk streaming, not CFDP.** The bundle arrives as `upgrade-chunk` messages (TC
//! 8,1 function 0x0002 through comms, one message per telecommand). CFDP through comms would
//! first store the whole file on comms' own flash (sized for signing batches, not for a 45 MB
//! image) and copy it a second time; streaming lets the agent check the manifest before it takes
//! any image byte, check each chunk before it is written, skip the chunks it can copy on board,
//! and tell the ground after every message which message it needs next (`next_chunk`), which is
//! all a resumable transfer needs. The ground's retransmission is per telecommand.
//!
//! How it works, one module each:
//! - [`record`]: the crash-safe progress record in the slot flash's progress region (`store`'s
//!   two-copy record): phase, bundle, target slot, which image chunks are in place, the newest
//!   verified root, the last refusal.
//! - [`intake`]: transfer messages; the bundle header is collected in RAM, in order, and
//!   verified ([`upgrade::verify`]) before any image byte is accepted.
//! - [`window`]: image messages in any order, kept in the static chunk buffer until the chunks
//!   they complete are checked against their manifest hashes and written.
//! - [`work`]: background steps, one chunk per call: the on-board copy of chunks equal to a chunk
//!   of the running image (adaptive transfer), the final read-back of the whole image, the trial
//!   request.
//! - [`trial`]: the soak on the trial boot (confirm with the manifest's security counter, or
//!   cancel and roll back).
//! - [`agent`]: the state, start-up reconciliation with boot control, and the status report.
//! - [`component`]: the runtime component around it (channels, drivers, static buffers).
//!
//! **Trust anchor.** The boot stage runs only a slot whose header chains from the root whose
//! hash is in OTP, so the running slot's header is trusted: its newest root is the agent's
//! anchor, and the newest root of every bundle it accepts is persisted in the progress record
//! (so a bundle signed by keys a newer root revoked stays refused). The board and hardware id a
//! bundle must name are the running image's.
//!
//! Avoids: the heap, `std`, OS calls (the board's drivers do I/O), and writing any byte to the
//! inactive slot that was not checked against a verified manifest first.
#![no_std]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod agent;
pub mod component;
pub mod intake;
pub mod record;
pub mod refusal;
pub mod slot_io;
pub mod trial;
pub mod window;
pub mod work;

pub use agent::{Agent, Buffers, Config, Health, Piece, StartError};
pub use component::UpgradePd;
