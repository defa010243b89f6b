//! Where a record's two copies live on flash, and the checks that the place fits the device.
//!
//! A layout is a base address, a copy size and a 4-byte tag. Copy A occupies
//! `base .. base + copy_size`, copy B `base + copy_size .. base + 2 * copy_size`. Both must be
//! whole erase sectors. The tag is written into every copy's header, so a record is never read
//! through the wrong layout (a misconfigured board reading the signer's keys as boot control
//! sees a `Foreign` copy, not a bogus record). This module only validates; it does no I/O.

use crate::format::{HEADER_LEN, IO_CHUNK, TRAILER_LEN};
use hal::flash::NorFlash;

/// Why a layout does not fit a flash device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// `base` or `copy_size` is not a multiple of the flash's erase size.
    #[error(
        "base {base:#x} and copy size {copy_size:#x} must be multiples of the erase size {erase_size:#x}"
    )]
    NotSectorAligned {
        /// Layout base address.
        base: u32,
        /// Layout copy size.
        copy_size: u32,
        /// The flash's erase size.
        erase_size: usize,
    },
    /// The two copies do not fit inside the flash.
    #[error(
        "copies at {base:#x} of {copy_size:#x} bytes each run past the flash end {capacity:#x}"
    )]
    OutOfBounds {
        /// Layout base address.
        base: u32,
        /// Layout copy size.
        copy_size: u32,
        /// Flash capacity in bytes.
        capacity: usize,
    },
    /// A copy is too small to hold even an empty record.
    #[error("copy size {copy_size} is smaller than the {min}-byte empty record")]
    TooSmall {
        /// Layout copy size.
        copy_size: u32,
        /// Smallest usable copy size.
        min: usize,
    },
    /// The flash's read or write size does not divide the store's 256-byte I/O chunk.
    #[error("flash read size {read_size} / write size {write_size} must divide {chunk}")]
    UnsupportedGeometry {
        /// The flash's read size.
        read_size: usize,
        /// The flash's write size.
        write_size: usize,
        /// The store's I/O chunk.
        chunk: usize,
    },
}

/// Placement of one record's two copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLayout {
    base: u32,
    copy_size: u32,
    tag: [u8; 4],
}

impl StoreLayout {
    /// Copies at `base` and `base + copy_size`, each `copy_size` bytes, headers tagged `tag`.
    pub const fn new(base: u32, copy_size: u32, tag: [u8; 4]) -> Self {
        StoreLayout {
            base,
            copy_size,
            tag,
        }
    }

    /// Address of the first copy.
    pub const fn base(&self) -> u32 {
        self.base
    }

    /// Bytes per copy.
    pub const fn copy_size(&self) -> u32 {
        self.copy_size
    }

    /// The tag written into each copy's header.
    pub const fn tag(&self) -> [u8; 4] {
        self.tag
    }

    /// Total bytes used by both copies.
    pub const fn span(&self) -> u64 {
        2 * self.copy_size as u64
    }

    /// Largest payload one copy holds.
    pub const fn max_payload(&self) -> usize {
        (self.copy_size as usize).saturating_sub(HEADER_LEN + TRAILER_LEN)
    }

    /// Check that this layout fits `flash`.
    pub fn validate<F: NorFlash>(&self, flash: &F) -> Result<(), LayoutError> {
        let (r, w, e) = (F::READ_SIZE, F::WRITE_SIZE, F::ERASE_SIZE);
        if r == 0 || w == 0 || !IO_CHUNK.is_multiple_of(r) || !IO_CHUNK.is_multiple_of(w) {
            return Err(LayoutError::UnsupportedGeometry {
                read_size: r,
                write_size: w,
                chunk: IO_CHUNK,
            });
        }
        let aligned = e != 0
            && (self.base as usize).is_multiple_of(e)
            && (self.copy_size as usize).is_multiple_of(e)
            && e.is_multiple_of(r)
            && e.is_multiple_of(w);
        if !aligned {
            return Err(LayoutError::NotSectorAligned {
                base: self.base,
                copy_size: self.copy_size,
                erase_size: e,
            });
        }
        if (self.copy_size as usize) < HEADER_LEN + TRAILER_LEN {
            return Err(LayoutError::TooSmall {
                copy_size: self.copy_size,
                min: HEADER_LEN + TRAILER_LEN,
            });
        }
        let end = u64::from(self.base) + self.span();
        if end > flash.capacity() as u64 || end > u64::from(u32::MAX) + 1 {
            return Err(LayoutError::OutOfBounds {
                base: self.base,
                copy_size: self.copy_size,
                capacity: flash.capacity(),
            });
        }
        Ok(())
    }
}
