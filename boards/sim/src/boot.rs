//! Boot control of the sim board: the `store` crate's `FlashBootControl` on its own sim flash image.
//!
//! The sim board keeps boot control in a small flash image of its own (`boot.flash` in the
//! board's state directory: two 4 KiB sectors, one copy of the boot record each, tag `"BOOT"`),
//! as flight boards keep it in a dedicated flash region. The monitor opens it at every power-on
//! with [`open_for_bootloader`] and calls `select_boot`; the upgrade agent's process receives the
//! same image as a file descriptor and opens it with [`open_from_file`]. They never have it
//! open at the same time (the monitor closes it before starting components).
//!
//! The record format and power-cut guarantees are those of `store::boot` and `store::record`.

use crate::flash::{SimFlash, SimFlashError};
use hal::slots::SlotLayout;
use std::fs::File;
use std::path::Path;
use store::boot::BootOpenError;
use store::{FlashBootControl, StoreLayout};

/// The flash device boot control lives on: 4-byte writes, 4 KiB sectors.
pub type BootFlash = SimFlash<4, 4096>;
/// Boot control of the sim board.
pub type SimBootControl = FlashBootControl<BootFlash>;
/// Size of the boot control flash image.
pub const BOOT_FLASH_SIZE: usize = 2 * 4096;
/// Where the boot record's two copies live on that image.
pub const BOOT_LAYOUT: StoreLayout = StoreLayout::new(0, 4096, *b"BOOT");

/// The sim board's slot flash (`STATE/slot-flash.flash`): two 128 MiB slots (room for a debug
/// build of the `spacenode` executable, about 45 MB, with margin), each with a 64 KiB header
/// area, then 16 KiB for the upgrade agent's records. See [`hal::slots`].
pub const SIM_SLOT_LAYOUT: SlotLayout = SlotLayout {
    slot_size: 128 << 20,
    header_area: 64 << 10,
    progress_len: 16 << 10,
};

/// Why boot control could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SimBootError {
    /// The image file could not be opened or created.
    #[error("boot control flash image: {0}")]
    Flash(#[from] SimFlashError),
    /// The record could not be read.
    #[error("{0}")]
    Open(#[from] BootOpenError<SimFlashError>),
}

/// The bootloader's open at power-on: creates an erased image on first use, and replaces a lost
/// state by the factory state (reported as `BootReason::Recovered` by `select_boot`).
pub fn open_for_bootloader(path: &Path) -> Result<SimBootControl, SimBootError> {
    let flash = BootFlash::open_or_create(path, BOOT_FLASH_SIZE)?;
    Ok(FlashBootControl::open_or_recover(flash, BOOT_LAYOUT)?)
}

/// An image's open (the upgrade agent), from the descriptor the monitor granted it. A lost state
/// is an error here: only the bootloader decides to recover.
pub fn open_from_file(file: File) -> Result<SimBootControl, SimBootError> {
    let flash = BootFlash::from_file(file)?;
    Ok(FlashBootControl::open(flash, BOOT_LAYOUT)?)
}
