//! Where CFDP keeps a transfer on the comms flash.
//!
//! The comms flash's first 64 KiB belong to the SDLS state. From [`CFDP_FLASH_BASE`] up: the
//! transfer journal (a `store::RecordStore`, two copies of [`JOURNAL_COPY`] bytes), then the
//! data area, where byte `i` of the file being received lives at `data_base + i`. One transfer
//! at a time; the data area is erased when a new transfer's metadata arrives. Avoids: owning the
//! flash (every call takes it, so one driver serves SDLS and CFDP).

use super::error::CfdpError;
use hal::flash::NorFlash;
use store::StoreLayout;

/// First byte of the CFDP area on the comms flash (below it: SDLS anti-replay and keys).
pub const CFDP_FLASH_BASE: u32 = 64 * 1024;

/// Size of each of the journal's two copies.
pub const JOURNAL_COPY: u32 = 8 * 1024;

/// Tag of the journal's record headers.
pub const JOURNAL_TAG: [u8; 4] = *b"CFDP";

/// Placement of the journal and the data area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CfdpLayout {
    /// The journal's two copies.
    pub journal: StoreLayout,
    /// First byte of the data area (sector aligned).
    pub data_base: u32,
    /// Bytes in the data area: the largest file accepted.
    pub data_size: u32,
}

impl CfdpLayout {
    /// The standard layout on a comms flash of `capacity` bytes: journal at 64 KiB, data from
    /// 64 KiB + 2 x [`JOURNAL_COPY`] to the end of the device.
    pub const fn comms(capacity: u32) -> Self {
        let data_base = CFDP_FLASH_BASE + 2 * JOURNAL_COPY;
        CfdpLayout {
            journal: StoreLayout::new(CFDP_FLASH_BASE, JOURNAL_COPY, JOURNAL_TAG),
            data_base,
            data_size: capacity.saturating_sub(data_base),
        }
    }

    /// Check against a device: sector alignment, no overlap, inside the device.
    pub fn validate<F: NorFlash>(&self, flash: &F) -> Result<(), CfdpError> {
        self.journal
            .validate(flash)
            .map_err(|_| CfdpError::BadLayout)?;
        let erase = F::ERASE_SIZE as u64;
        let journal_end = self.journal.base() as u64 + self.journal.span();
        let data_end = self.data_base as u64 + self.data_size as u64;
        let overlaps =
            (self.data_base as u64) < journal_end && data_end > self.journal.base() as u64;
        if erase == 0
            || !(self.data_base as u64).is_multiple_of(erase)
            || data_end > flash.capacity() as u64
            || self.data_size == 0
            || !(self.data_size as u64).is_multiple_of(erase)
            || overlaps
        {
            return Err(CfdpError::BadLayout);
        }
        Ok(())
    }

    /// The device bytes `[data_base, data_base + round_up(size))` that hold a file of `size`.
    pub fn data_span<F: NorFlash>(&self, size: u64) -> Result<(u32, u32), CfdpError> {
        let erase = (F::ERASE_SIZE as u64).max(1);
        if size > self.data_size as u64 {
            return Err(CfdpError::FileTooLarge {
                size,
                capacity: self.data_size as u64,
            });
        }
        // `validate` made data_size a multiple of the sector: the rounded end stays inside.
        let end = self.data_base as u64 + size.div_ceil(erase) * erase;
        Ok((
            self.data_base,
            u32::try_from(end).map_err(|_| CfdpError::BadLayout)?,
        ))
    }
}
