//! [`RamFlash`]: a NOR flash over RAM the monitor mapped into a partition (a device of the
//! `flash` kind, `system::DEVICES`), or, once before comms' first start, into the monitor
//! itself (it writes the link keys the host passed into comms' provisioning inbox). It behaves as the `hal::flash` contract says: whole
//! 4 KiB sectors erase to 0x00 (the monitor hands the frames over zeroed, that is erased), and a
//! write may only set bits; a write that would clear one is refused, as the sim flash refuses
//! it. **Volatile**: the RAM is fresh at every boot, so everything stored on it is lost at a
//! reboot (the boot log and the README say so).
//!
//! Avoids: any copy of the contents; bounds are checked by `hal::flash`'s checks before any
//! access.
#![no_std]

use hal::flash::{
    ErasedValue, ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind,
    ReadNorFlash, check_erase, check_read, check_write,
};

/// Why a flash operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RamFlashError {
    /// Out of range or misaligned (the `hal::flash` checks).
    Check(NorFlashErrorKind),
    /// The write would clear a bit that is set; erase the sector first.
    ClearsBits { offset: u32 },
}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::Check(kind) => *kind,
            Self::ClearsBits { .. } => NorFlashErrorKind::Other,
        }
    }
}

/// A RAM-backed flash of `len` bytes at `base` (see the module docs).
pub struct RamFlash {
    mem: &'static mut [u8],
}

impl RamFlash {
    /// # Safety
    /// `base..base + len` must be RAM mapped read-write into this address space for the
    /// flash's lifetime, used by nothing else meanwhile.
    pub unsafe fn new(base: u64, len: usize) -> Self {
        // SAFETY: the caller's promise.
        Self {
            mem: unsafe { core::slice::from_raw_parts_mut(base as *mut u8, len) },
        }
    }
}

impl ErrorType for RamFlash {
    type Error = RamFlashError;
}

impl ErasedValue for RamFlash {
    const ERASED: u8 = 0x00;
}

impl ReadNorFlash for RamFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), RamFlashError> {
        check_read(self, offset, bytes.len()).map_err(RamFlashError::Check)?;
        let at = offset as usize;
        bytes.copy_from_slice(&self.mem[at..at + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.mem.len()
    }
}

impl NorFlash for RamFlash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 4096;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), RamFlashError> {
        check_erase(self, from, to).map_err(RamFlashError::Check)?;
        self.mem[from as usize..to as usize].fill(Self::ERASED);
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), RamFlashError> {
        check_write(self, offset, bytes.len()).map_err(RamFlashError::Check)?;
        let at = offset as usize;
        let old = &mut self.mem[at..at + bytes.len()];
        if let Some(i) = old.iter().zip(bytes).position(|(o, n)| o & !n != 0) {
            return Err(RamFlashError::ClearsBits {
                offset: offset + i as u32,
            });
        }
        old.copy_from_slice(bytes);
        Ok(())
    }
}

/// Rewriting a word is allowed as long as it only sets bits (checked on every write).
impl MultiwriteNorFlash for RamFlash {}
