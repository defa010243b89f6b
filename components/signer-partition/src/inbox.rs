//! The provisioning inbox: where the signer finds its provisioning file at first boot.
//!
//! The inbox is one crash-safe record (tag `SPRV`, [`store::RecordStore`], two copies of
//! [`INBOX_COPY`] bytes) on the signer's own key flash, right after the signer's records
//! (offset [`INBOX_BASE`] = `signer::persist::SignerLayout::span()`). It holds the provisioning
//! text (`signer::provision` documents the format: admin keys, ground servers, wallets,
//! policies). Nothing in it is secret.
//!
//! **How a ground operator provisions** (in the clean room, before integration): write the
//! provisioning file into the key flash image with [`write()`] (on the sim board:
//! `spacenode provision --state STATE FILE` writes it into `STATE/key-flash.flash`). At its first
//! boot the signer creates its seed, finds the inbox and provisions itself from it; the node's
//! account xpubs can then be exported and the ground's wallets registered. Once provisioned,
//! the inbox is ignored: later changes take M-of-N admin commands (`signer::admin`).
//!
//! Avoids: any other way in (no channel carries a provisioning file), and trusting the text:
//! it is parsed by the signer's registry parser like any input.

use hal::flash::{ErasedValue, NorFlash};
use signer::persist::{SignerLayout, StorageError};
use store::{RecordStatus, RecordStore, StoreLayout};

/// Offset of the inbox on the key flash.
pub const INBOX_BASE: u32 = SignerLayout::span();
/// Bytes per copy of the inbox record.
pub const INBOX_COPY: u32 = 32 * 1024;
/// The inbox record's placement.
pub const INBOX: StoreLayout = StoreLayout::new(INBOX_BASE, INBOX_COPY, *b"SPRV");
/// Largest provisioning text the inbox holds.
pub const MAX_TEXT: usize = signer::node::MAX_REGISTRY_TEXT;

/// Why the inbox could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxError {
    /// Flash trouble or a damaged record.
    Storage(StorageError),
    /// The record holds something that is not UTF-8 text.
    NotText,
    /// Both copies are damaged.
    Lost,
}

impl core::fmt::Display for InboxError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InboxError::Storage(e) => write!(f, "provisioning inbox: {e}"),
            InboxError::NotText => f.write_str("provisioning inbox does not hold UTF-8 text"),
            InboxError::Lost => f.write_str("provisioning inbox damaged (both copies)"),
        }
    }
}

/// Writes `text` into the inbox of `flash` (the operator's side).
pub fn write<F: NorFlash + ErasedValue>(flash: &mut F, text: &str) -> Result<(), StorageError> {
    if text.len() > MAX_TEXT {
        return Err(StorageError::TooLarge);
    }
    let mut store = RecordStore::mount(flash, INBOX).map_err(StorageError::from)?;
    store
        .write_mirrored(flash, text.as_bytes())
        .map_err(StorageError::from)?;
    Ok(())
}

/// Reads the inbox of `flash` into `buf`: `Ok(None)` if it is blank.
pub fn read<'b, F: NorFlash + ErasedValue>(
    flash: &mut F,
    buf: &'b mut [u8; MAX_TEXT],
) -> Result<Option<&'b str>, InboxError> {
    let mut store =
        RecordStore::mount(flash, INBOX).map_err(|e| InboxError::Storage(StorageError::from(e)))?;
    match store.status() {
        RecordStatus::Blank | RecordStatus::Interrupted => return Ok(None),
        RecordStatus::Lost => return Err(InboxError::Lost),
        RecordStatus::Present { .. } => {}
    }
    let n = store
        .read(flash, buf)
        .map_err(|e| InboxError::Storage(StorageError::from(e)))?
        .ok_or(InboxError::Lost)?;
    core::str::from_utf8(buf.get(..n).unwrap_or(&[]))
        .map(Some)
        .map_err(|_| InboxError::NotText)
}
