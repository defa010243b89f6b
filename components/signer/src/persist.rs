//! Where the signer keeps its state on its own flash, and the one error type for flash trouble.
//!
//! The signer owns three crash-safe records (each a [`store::RecordStore`]: two copies, sequence
//! number, CRC-32C), all written with [`store::RecordStore::write_mirrored`] so that a bit flip
//! in one copy never rolls a record back:
//!
//! | record | tag | written | holds |
//! | --- | --- | --- | --- |
//! | keys | `SKEY` | once, at first boot | the sealed seed ([`crate::keys`]) |
//! | registry | `SREG` | provisioning and each admin command | admin keys, admin counter, servers, policies ([`crate::provision`]) |
//! | ledger | `SLED` | once per accepted batch, before any signature leaves | per-server sequence, certificate digest, velocity windows ([`crate::ledger`]) |
//!
//! [`SignerLayout::contiguous`] places them one after the other. This module does no I/O itself
//! beyond mounting; it avoids generic error types leaking into the signer's public errors by
//! mapping every [`store::StoreError`] to a [`StorageError`] (the driver's detail is logged).

use hal::flash::{ErasedValue, NorFlash};
use store::{RecordStore, StoreError, StoreLayout};

/// Bytes per copy of the keys record.
pub const KEYS_COPY: u32 = 4096;
/// Bytes per copy of the registry record.
pub const REGISTRY_COPY: u32 = 32 * 1024;
/// Bytes per copy of the ledger record.
pub const LEDGER_COPY: u32 = 4096;

/// Placement of the signer's three records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignerLayout {
    /// The sealed seed.
    pub keys: StoreLayout,
    /// The ground-server registry.
    pub registry: StoreLayout,
    /// The anti-replay and velocity ledger.
    pub ledger: StoreLayout,
}

impl SignerLayout {
    /// The three records back to back from `base` (which must be sector aligned; the sizes are
    /// multiples of 4 KiB, so any erase size dividing 4 KiB works). Spans [`SignerLayout::span`].
    pub const fn contiguous(base: u32) -> Self {
        let keys = StoreLayout::new(base, KEYS_COPY, *b"SKEY");
        let reg_base = base + 2 * KEYS_COPY;
        let registry = StoreLayout::new(reg_base, REGISTRY_COPY, *b"SREG");
        let ledger = StoreLayout::new(reg_base + 2 * REGISTRY_COPY, LEDGER_COPY, *b"SLED");
        Self {
            keys,
            registry,
            ledger,
        }
    }

    /// Bytes used from `base`.
    pub const fn span() -> u32 {
        2 * (KEYS_COPY + REGISTRY_COPY + LEDGER_COPY)
    }
}

/// A flash or record failure, without the driver's error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The flash driver failed (power loss, bus error); the record being written is in an
    /// unknown state, the previous one is intact.
    #[error("flash operation failed")]
    Flash,
    /// The layout does not fit the flash.
    #[error("record layout does not fit the flash")]
    Layout,
    /// The record does not fit its copy.
    #[error("record too large for its flash area")]
    TooLarge,
    /// The record's sequence number is exhausted, or a written copy did not verify.
    #[error("record could not be committed")]
    NotCommitted,
}

impl<E: core::fmt::Debug> From<StoreError<E>> for StorageError {
    fn from(e: StoreError<E>) -> Self {
        log::warn!("signer storage: {e}");
        match e {
            StoreError::Flash(_) => StorageError::Flash,
            StoreError::Layout(_) => StorageError::Layout,
            StoreError::PayloadTooLarge { .. } | StoreError::BufferTooSmall { .. } => {
                StorageError::TooLarge
            }
            StoreError::SequenceExhausted | StoreError::VerifyFailed => StorageError::NotCommitted,
        }
    }
}

/// Mounts one record store.
pub fn mount<F: NorFlash + ErasedValue>(
    flash: &mut F,
    layout: StoreLayout,
) -> Result<RecordStore, StorageError> {
    Ok(RecordStore::mount(flash, layout)?)
}
