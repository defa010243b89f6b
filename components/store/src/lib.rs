//! Crash-safe records on NOR flash, and A/B boot control built on them.
//!
//! All persistent state of the node (the signer's keys and anti-replay counters, the watchdog's
//! reset counter, the upgrade agent's boot control) is kept as *records*: a byte string that is
//! replaced whole by each update. A [`RecordStore`] keeps one record in two copies, A and B, each
//! in its own erase sectors and each carrying a sequence number and a CRC-32C. An update always
//! erases and writes the copy that does **not** hold the newest valid record; a read returns the
//! newest copy whose CRC is valid. So a power cut at any instant leaves the old record or the new
//! one readable, never a mix and never an older one. The byte format and the exact outcome of a
//! power cut at every step are in [`format`] and [`record`].
//!
//! [`FlashBootControl`] implements [`hal::boot::BootControl`] on one record, for every board.
//!
//! This crate is `no_std`, allocates nothing, and uses a 256-byte stack buffer for all I/O. It does
//! not spread wear (every update erases one copy's sectors), does not authenticate records (a CRC
//! catches power cuts and bit flips, not an attacker who can write flash: components that need
//! that, like the signer, add a MAC inside their record), and does not encrypt.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod boot;
pub mod error;
pub mod format;
pub mod layout;
pub mod record;

pub use boot::FlashBootControl;
pub use error::StoreError;
pub use layout::{LayoutError, StoreLayout};
pub use record::{CopyId, CopyState, RecordStatus, RecordStore};
