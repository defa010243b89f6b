//! Errors of the sim flash, mapped onto the `embedded-storage` error kinds.

use hal::flash::{NorFlashError, NorFlashErrorKind};

/// Why a sim flash operation failed. Nothing reached the medium unless stated.
#[derive(Debug, thiserror::Error)]
pub enum SimFlashError {
    /// The range runs past the end of the device.
    #[error("flash range {offset:#x}+{len:#x} is outside the {capacity:#x}-byte device")]
    OutOfBounds {
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        len: u64,
        /// Device capacity.
        capacity: usize,
    },
    /// Offset or length is not a multiple of the operation's granularity.
    #[error("flash range {offset:#x}+{len:#x} is not aligned to {align} bytes")]
    NotAligned {
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        len: u64,
        /// Required alignment (write size or erase size).
        align: usize,
    },
    /// A write would set a bit from 0 to 1 without an erase; nothing was written.
    #[error(
        "write would set bits 0->1 at {addr:#x} (flash holds {old:#04x}, write {new:#04x}): erase first"
    )]
    WriteToUnerased {
        /// First offending address.
        addr: u64,
        /// Byte on flash.
        old: u8,
        /// Byte offered.
        new: u8,
    },
    /// Power was cut (by an injected power cut) during this or an earlier operation. Every
    /// operation fails this way until the board power-cycles.
    #[error("flash lost power")]
    PowerLost,
    /// The backing file has the wrong size for the requested geometry.
    #[error(
        "flash image is {len} bytes, expected a non-zero multiple of {erase_size} (capacity {expected})"
    )]
    BadImage {
        /// Size of the backing file.
        len: u64,
        /// Expected capacity (0 if not given).
        expected: usize,
        /// Erase size.
        erase_size: usize,
    },
    /// The backing file failed.
    #[error("flash backing file: {0}")]
    Io(#[from] std::io::Error),
}

impl NorFlashError for SimFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            SimFlashError::OutOfBounds { .. } => NorFlashErrorKind::OutOfBounds,
            SimFlashError::NotAligned { .. } => NorFlashErrorKind::NotAligned,
            _ => NorFlashErrorKind::Other,
        }
    }
}
