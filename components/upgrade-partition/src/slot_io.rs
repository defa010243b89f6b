//! Slot flash I/O for the agent: read a region, and replace a sector-aligned region with new
//! bytes (erase its sectors, then write, padding the tail to the write size).
//!
//! Every call is one region, so a power cut leaves that region undefined and nothing else
//! (the `hal::flash` contract); the agent records a region as done only after the call returned
//! and, for image chunks, re-reads and re-hashes the whole image before it asks for a trial.
//!
//! Avoids: buffering (the caller's buffer is written as is) and any write outside the region.

use hal::flash::{ErasedValue, NorFlash};

/// Largest write size this module pads to.
const MAX_WRITE: usize = 256;

/// Why a slot flash operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoError<E> {
    /// The driver failed.
    Flash(E),
    /// The region is not sector aligned, or the flash's write size is above 256 bytes.
    Geometry,
}

impl<E: hal::flash::NorFlashError> core::fmt::Display for IoError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IoError::Flash(e) => write!(f, "flash driver: {}", e.kind()),
            IoError::Geometry => f.write_str(
                "region not sector aligned, or the flash's write size is above 256 bytes",
            ),
        }
    }
}

/// Reads `buf.len()` bytes at `addr` (rounded up to the read size, so `buf` may need to be
/// up to `READ_SIZE - 1` bytes longer than the data; the caller passes such a buffer).
pub fn read<F: NorFlash>(
    flash: &mut F,
    addr: u32,
    buf: &mut [u8],
) -> Result<(), IoError<F::Error>> {
    let r = F::READ_SIZE;
    if r == 0 || !(addr as usize).is_multiple_of(r) || !buf.len().is_multiple_of(r) {
        return Err(IoError::Geometry);
    }
    flash.read(addr, buf).map_err(IoError::Flash)
}

/// Rounds `len` up to a multiple of `unit`.
pub fn round_up(len: usize, unit: usize) -> usize {
    len.div_ceil(unit.max(1)) * unit.max(1)
}

/// Erases the sectors covering `addr .. addr + data.len()` and writes `data` there, the last
/// write padded with the erased value.
pub fn replace<F: NorFlash + ErasedValue>(
    flash: &mut F,
    addr: u32,
    data: &[u8],
) -> Result<(), IoError<F::Error>> {
    let (w, e) = (F::WRITE_SIZE, F::ERASE_SIZE);
    if w == 0 || w > MAX_WRITE || e == 0 || !(addr as usize).is_multiple_of(e) {
        return Err(IoError::Geometry);
    }
    let end = addr as usize + round_up(data.len(), e);
    let end = u32::try_from(end).map_err(|_| IoError::Geometry)?;
    flash.erase(addr, end).map_err(IoError::Flash)?;
    let whole = data.len() / w * w;
    let (body, tail) = data.split_at(whole);
    if !body.is_empty() {
        flash.write(addr, body).map_err(IoError::Flash)?;
    }
    if !tail.is_empty() {
        let mut pad = [F::ERASED; MAX_WRITE];
        pad[..tail.len()].copy_from_slice(tail);
        flash
            .write(addr + whole as u32, &pad[..w])
            .map_err(IoError::Flash)?;
    }
    Ok(())
}
