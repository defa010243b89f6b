//! An I2C FRAM with two address bytes (Fujitsu MB85RC256V and its family) as `hal` NOR flash,
//! over any `embedded-hal` [`I2c`] bus (the flight board's Cadence I2C, the dev board's BSC).
//!
//! Source: the MB85RC256V datasheet: a write transfer is the two address bytes then data, stored
//! at once with no busy time, the address incrementing; a write of only the address bytes sets
//! the address that a following read starts from.
//!
//! The FRAM has no erase and can set bits, but the node's stores are written for NOR flash
//! (`hal::flash`), so this keeps NOR's contract: erase stores 0xFF, a write stores `old & new`
//! (read, then write). Transfers carry at most 16 bytes (the smaller controller FIFO).
//! Avoids: the FRAM's sleep mode and device-id command, write protection.

#![no_std]
#![warn(missing_docs)]

use embedded_hal::i2c::{self, I2c, Operation};
use hal::flash::{
    ErasedValue, ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Bytes per transfer: the 16-byte FIFO of both boards' controllers.
pub const TRANSFER: usize = 16;
/// Data bytes per write transfer (after the two address bytes).
const WRITE_CHUNK: usize = TRANSFER - 2;
/// The emulated erase sector.
pub const SECTOR: usize = 256;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramError<E> {
    /// The bus transfer failed (no acknowledge: the part is absent, unpowered, or lost power
    /// mid-write, and the bytes of that write are then undefined).
    Bus(E),
    /// Offset or length outside the part.
    OutOfBounds,
    /// Erase range not on sector boundaries.
    NotAligned,
}

impl<E: i2c::Error> NorFlashError for FramError<E> {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FramError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FramError::NotAligned => NorFlashErrorKind::NotAligned,
            FramError::Bus(_) => NorFlashErrorKind::Other,
        }
    }
}

impl<E: core::fmt::Debug> core::fmt::Display for FramError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FramError::Bus(e) => write!(f, "I2C transfer to the FRAM failed: {e:?}"),
            FramError::OutOfBounds => f.write_str("offset or length outside the FRAM"),
            FramError::NotAligned => f.write_str("erase range not on 256-byte sector boundaries"),
        }
    }
}

/// An I2C FRAM at a bus address.
#[derive(Debug)]
pub struct I2cFram<B> {
    bus: B,
    addr: u8,
    capacity: u32,
}

type Result<T, B> = core::result::Result<T, FramError<<B as i2c::ErrorType>::Error>>;

impl<B: I2c> I2cFram<B> {
    /// The FRAM answering at `addr` (0x50 with A2..A0 low), `capacity` bytes (at most 64 KiB).
    pub fn new(bus: B, addr: u8, capacity: u32) -> Self {
        I2cFram {
            bus,
            addr,
            capacity: capacity.min(1 << 16),
        }
    }

    fn check(&self, offset: u32, len: usize) -> Result<(), B> {
        match (offset as usize).checked_add(len) {
            Some(end) if end <= self.capacity as usize => Ok(()),
            _ => Err(FramError::OutOfBounds),
        }
    }

    /// Stores `bytes` at `offset` as they are, one transfer per chunk.
    fn put(&mut self, offset: u32, bytes: &[u8]) -> Result<(), B> {
        for (i, chunk) in bytes.chunks(WRITE_CHUNK).enumerate() {
            let at = (offset as usize + i * WRITE_CHUNK) as u16;
            let mut frame = [0u8; TRANSFER];
            frame[..2].copy_from_slice(&at.to_be_bytes());
            frame[2..2 + chunk.len()].copy_from_slice(chunk);
            self.bus
                .write(self.addr, &frame[..2 + chunk.len()])
                .map_err(FramError::Bus)?;
        }
        Ok(())
    }
}

impl<B: I2c> ErrorType for I2cFram<B> {
    type Error = FramError<B::Error>;
}

impl<B: I2c> ReadNorFlash for I2cFram<B> {
    const READ_SIZE: usize = 1;

    /// Per transfer-sized chunk: the address, then a read.
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), B> {
        self.check(offset, bytes.len())?;
        for (i, chunk) in bytes.chunks_mut(TRANSFER).enumerate() {
            let at = ((offset as usize + i * TRANSFER) as u16).to_be_bytes();
            self.bus
                .transaction(
                    self.addr,
                    &mut [Operation::Write(&at), Operation::Read(chunk)],
                )
                .map_err(FramError::Bus)?;
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.capacity as usize
    }
}

/// Erase stores `0xFF` (the NOR contract this driver keeps).
impl<B: I2c> ErasedValue for I2cFram<B> {
    const ERASED: u8 = 0xFF;
}

impl<B: I2c> NorFlash for I2cFram<B> {
    const WRITE_SIZE: usize = 1;
    const ERASE_SIZE: usize = SECTOR;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), B> {
        if from > to || to > self.capacity {
            return Err(FramError::OutOfBounds);
        }
        if !(from as usize).is_multiple_of(SECTOR) || !(to as usize).is_multiple_of(SECTOR) {
            return Err(FramError::NotAligned);
        }
        let ones = [0xFF; WRITE_CHUNK];
        let mut at = from;
        while at < to {
            let n = ((to - at) as usize).min(WRITE_CHUNK);
            self.put(at, &ones[..n])?;
            at += n as u32;
        }
        Ok(())
    }

    /// NOR semantics: the stored bytes become `old & new`.
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), B> {
        self.check(offset, bytes.len())?;
        let mut old = [0u8; WRITE_CHUNK];
        for (i, chunk) in bytes.chunks(WRITE_CHUNK).enumerate() {
            let at = offset + (i * WRITE_CHUNK) as u32;
            let old = &mut old[..chunk.len()];
            self.read(at, old)?;
            old.iter_mut().zip(chunk).for_each(|(o, n)| *o &= n);
            self.put(at, old)?;
        }
        Ok(())
    }
}
