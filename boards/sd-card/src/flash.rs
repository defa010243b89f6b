//! A region of an SD card as `hal` NOR flash: what the node's stores (slot store, comms store)
//! are written for. The region is whole blocks of the card, from `first` on.
//!
//! NOR's contract is kept on a medium that can set bits: erase writes 0xFF blocks, and a write
//! stores `old & new` (each touched block read, combined, written back), so the stores above see
//! the same device as on a NOR part.
//! Avoids: caching blocks (every operation reaches the card before it returns).

use crate::{BLOCK, SdCard, SdError, SdHost};
use hal::flash::{
    ErasedValue, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

impl NorFlashError for SdError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            SdError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            SdError::NotAligned => NorFlashErrorKind::NotAligned,
            _ => NorFlashErrorKind::Other,
        }
    }
}

/// Blocks `first..first + blocks` of a card as NOR flash.
#[derive(Debug)]
pub struct SdFlash<H> {
    card: SdCard<H>,
    first: u64,
    blocks: u64,
}

impl<H: SdHost> SdFlash<H> {
    /// The region; checked against the card's capacity (initialising it) when first used.
    pub fn new(card: SdCard<H>, first: u64, blocks: u64) -> Self {
        SdFlash {
            card,
            first,
            blocks,
        }
    }

    fn len(&self) -> usize {
        (self.blocks as usize) * BLOCK
    }

    fn in_bounds(&mut self, offset: u32, len: usize) -> Result<(), SdError> {
        let end = (offset as usize)
            .checked_add(len)
            .ok_or(SdError::OutOfBounds)?;
        let card = self.card.info()?;
        if end > self.len() || self.first + self.blocks > card.blocks {
            return Err(SdError::OutOfBounds);
        }
        Ok(())
    }

    /// Runs `f` on each block the byte range touches: (block index, range inside the block,
    /// range inside the caller's buffer).
    fn each_block(
        offset: u32,
        len: usize,
        mut f: impl FnMut(u64, core::ops::Range<usize>, core::ops::Range<usize>) -> Result<(), SdError>,
    ) -> Result<(), SdError> {
        let mut done = 0;
        while done < len {
            let at = offset as usize + done;
            let inside = at % BLOCK;
            let n = (BLOCK - inside).min(len - done);
            f((at / BLOCK) as u64, inside..inside + n, done..done + n)?;
            done += n;
        }
        Ok(())
    }
}

impl<H: SdHost> ErrorType for SdFlash<H> {
    type Error = SdError;
}

impl<H: SdHost> ReadNorFlash for SdFlash<H> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SdError> {
        self.in_bounds(offset, bytes.len())?;
        let (card, first) = (&mut self.card, self.first);
        let mut block = [0u8; BLOCK];
        Self::each_block(offset, bytes.len(), |b, inside, out| {
            card.read_block(first + b, &mut block)?;
            bytes[out].copy_from_slice(&block[inside]);
            Ok(())
        })
    }

    fn capacity(&self) -> usize {
        self.len()
    }
}

/// Erased blocks read 0xFF (erase writes them so).
impl<H: SdHost> ErasedValue for SdFlash<H> {
    const ERASED: u8 = 0xFF;
}

impl<H: SdHost> NorFlash for SdFlash<H> {
    const WRITE_SIZE: usize = 1;
    const ERASE_SIZE: usize = BLOCK;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), SdError> {
        if from > to {
            return Err(SdError::OutOfBounds);
        }
        self.in_bounds(from, (to - from) as usize)?;
        if !(from as usize).is_multiple_of(BLOCK) || !(to as usize).is_multiple_of(BLOCK) {
            return Err(SdError::NotAligned);
        }
        let ones = [0xFF; BLOCK];
        for b in (from as usize / BLOCK)..(to as usize / BLOCK) {
            self.card.write_block(self.first + b as u64, &ones)?;
        }
        Ok(())
    }

    /// Each touched block: read, AND the new bytes in, write back.
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SdError> {
        self.in_bounds(offset, bytes.len())?;
        let (card, first) = (&mut self.card, self.first);
        let mut block = [0u8; BLOCK];
        Self::each_block(offset, bytes.len(), |b, inside, src| {
            card.read_block(first + b, &mut block)?;
            for (d, s) in block[inside].iter_mut().zip(&bytes[src]) {
                *d &= s;
            }
            card.write_block(first + b, &block)
        })
    }
}
