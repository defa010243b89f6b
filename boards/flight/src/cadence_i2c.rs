//! The ZynqMP I2C controller (Cadence I2C, `cdns,i2c-r1p14`) as a polled I2C master, and the
//! flight board's I2C FRAM on it as `hal` NOR flash ([`I2cFram`]).
//!
//! Sources: Linux `drivers/i2c/busses/i2c-cadence.c` (register offsets, CR/SR/ISR bits, HOLD to
//! keep the bus for a repeated start, the address write starting a transfer, transfer size for
//! reads, the 16-byte FIFO, NACK and arbitration-lost reporting); Fujitsu MB85RC256V datasheet
//! (I2C FRAM, 32 KiB, two address bytes, writes take effect per byte with no busy time,
//! sequential reads after a random-address write).
//!
//! The FRAM has no erase and can set bits, but the node's stores are written for NOR flash
//! (`hal::flash`): [`I2cFram`] keeps NOR's contract — erase sets 0xFF, a write only clears bits
//! (it reads the old bytes and writes `old & new`) — so the same store code runs on it.
//! Avoids: interrupts, 10-bit addresses, transfers longer than one FIFO (chunked instead).

use crate::regs::Regs;
use hal::flash::{ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};

/// Control (`CDNS_I2C_CR_OFFSET`).
pub const CR: usize = 0x00;
/// Status (`CDNS_I2C_SR_OFFSET`).
pub const SR: usize = 0x04;
/// Address: writing it starts a transfer (`CDNS_I2C_ADDR_OFFSET`).
pub const ADDR: usize = 0x08;
/// Data FIFO (`CDNS_I2C_DATA_OFFSET`).
pub const DATA: usize = 0x0C;
/// Interrupt status, write one to clear (`CDNS_I2C_ISR_OFFSET`).
pub const ISR: usize = 0x10;
/// Transfer size (`CDNS_I2C_XFER_SIZE_OFFSET`).
pub const XFER_SIZE: usize = 0x14;
/// CR: read (1) or write (0) (`CDNS_I2C_CR_RW`).
pub const CR_RW: u32 = 1 << 0;
/// CR: master mode (`CDNS_I2C_CR_MS`).
pub const CR_MS: u32 = 1 << 1;
/// CR: normal (7-bit) addressing (`CDNS_I2C_CR_NEA`).
pub const CR_NEA: u32 = 1 << 2;
/// CR: acknowledge received bytes (`CDNS_I2C_CR_ACK_EN`).
pub const CR_ACK_EN: u32 = 1 << 3;
/// CR: hold the bus after the transfer (no STOP: a repeated start follows) (`CDNS_I2C_CR_HOLD`).
pub const CR_HOLD: u32 = 1 << 4;
/// CR: clear the FIFO (`CDNS_I2C_CR_CLR_FIFO`).
pub const CR_CLR_FIFO: u32 = 1 << 6;
/// SR: received data valid (`CDNS_I2C_SR_RXDV`).
pub const SR_RXDV: u32 = 1 << 5;
/// ISR: transfer complete (`CDNS_I2C_IXR_COMP`).
pub const IXR_COMP: u32 = 1 << 0;
/// ISR: the slave did not acknowledge (`CDNS_I2C_IXR_NACK`).
pub const IXR_NACK: u32 = 1 << 2;
/// ISR: arbitration lost (`CDNS_I2C_IXR_ARB_LOST`).
pub const IXR_ARB_LOST: u32 = 1 << 9;
/// ISR: every bit (`CDNS_I2C_IXR_ALL_INTR_MASK`).
pub const IXR_ALL: u32 = 0x2FF;
/// FIFO depth (`CDNS_I2C_FIFO_DEPTH`).
pub const FIFO_DEPTH: usize = 16;
/// Status polls before a stuck transfer is reported.
pub const POLLS: u32 = 100_000;

/// What went wrong on the bus or the part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum I2cError {
    /// Nobody acknowledged: the part is absent, unpowered, or lost power mid-write (the bytes of
    /// that write are then undefined).
    Nack,
    /// Another master took the bus.
    ArbitrationLost,
    /// The transfer never completed (controller not clocked, bus stuck low).
    Stuck,
    /// Offset or length outside the part.
    OutOfBounds,
    /// Erase range not on sector boundaries.
    NotAligned,
}

impl core::fmt::Display for I2cError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            I2cError::Nack => "the I2C part did not answer (absent, unpowered, or power lost)",
            I2cError::ArbitrationLost => "I2C arbitration lost to another master",
            I2cError::Stuck => "the I2C transfer never completed (bus stuck or not clocked)",
            I2cError::OutOfBounds => "offset or length outside the I2C FRAM",
            I2cError::NotAligned => "erase range not on sector boundaries",
        })
    }
}

impl NorFlashError for I2cError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            I2cError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            I2cError::NotAligned => NorFlashErrorKind::NotAligned,
            _ => NorFlashErrorKind::Other,
        }
    }
}

/// A Cadence I2C controller in master mode.
#[derive(Debug)]
pub struct CadenceI2c<R> {
    regs: R,
    /// The clock divisor bits (DIV_A, DIV_B) kept in every CR write.
    div: u32,
}

impl<R: Regs> CadenceI2c<R> {
    /// A master with clock divisors `div_a` (0..=3) and `div_b` (0..=63):
    /// SCL = reference / (22 * (div_a + 1) * (div_b + 1)).
    pub fn new(regs: R, div_a: u32, div_b: u32) -> Self {
        let div = ((div_a & 3) << 14) | ((div_b & 0x3F) << 8);
        regs.write(CR, div | CR_MS | CR_NEA | CR_ACK_EN | CR_CLR_FIFO);
        regs.write(ISR, IXR_ALL);
        CadenceI2c { regs, div }
    }

    fn wait_done(&self) -> Result<(), I2cError> {
        for _ in 0..POLLS {
            let isr = self.regs.read(ISR);
            if isr & (IXR_COMP | IXR_NACK | IXR_ARB_LOST) != 0 {
                self.regs.write(ISR, isr);
                if isr & IXR_NACK != 0 {
                    self.release();
                    return Err(I2cError::Nack);
                }
                if isr & IXR_ARB_LOST != 0 {
                    return Err(I2cError::ArbitrationLost);
                }
                return Ok(());
            }
        }
        self.release();
        Err(I2cError::Stuck)
    }

    fn release(&self) {
        self.regs.write(CR, self.div | CR_MS | CR_NEA | CR_ACK_EN);
    }

    /// Writes `bytes` (at most [`FIFO_DEPTH`]) to `addr`; `hold` keeps the bus for a repeated start.
    pub fn write(&mut self, addr: u8, bytes: &[u8], hold: bool) -> Result<(), I2cError> {
        let hold = if hold { CR_HOLD } else { 0 };
        self.regs.write(
            CR,
            self.div | CR_MS | CR_NEA | CR_ACK_EN | CR_CLR_FIFO | hold,
        );
        self.regs.write(ISR, IXR_ALL);
        for &b in bytes.iter().take(FIFO_DEPTH) {
            self.regs.write(DATA, u32::from(b));
        }
        self.regs.write(ADDR, u32::from(addr & 0x7F));
        self.wait_done()
    }

    /// Reads `buf` (at most [`FIFO_DEPTH`]) from `addr`, then STOP.
    pub fn read(&mut self, addr: u8, buf: &mut [u8]) -> Result<(), I2cError> {
        let n = buf.len().min(FIFO_DEPTH);
        self.regs.write(
            CR,
            self.div | CR_MS | CR_NEA | CR_ACK_EN | CR_CLR_FIFO | CR_RW,
        );
        self.regs.write(ISR, IXR_ALL);
        self.regs.write(XFER_SIZE, n as u32);
        self.regs.write(ADDR, u32::from(addr & 0x7F));
        self.wait_done()?;
        for b in buf.iter_mut().take(n) {
            if self.regs.read(SR) & SR_RXDV == 0 {
                return Err(I2cError::Stuck);
            }
            *b = self.regs.read(DATA) as u8;
        }
        Ok(())
    }
}

/// An I2C FRAM (two address bytes) at a bus address, with NOR flash's contract.
#[derive(Debug)]
pub struct I2cFram<R> {
    bus: CadenceI2c<R>,
    addr: u8,
    capacity: u32,
}

/// Data bytes per write transfer: the FIFO less the two address bytes.
const WRITE_CHUNK: usize = FIFO_DEPTH - 2;
/// The emulated erase sector.
pub const FRAM_SECTOR: usize = 256;

impl<R: Regs> I2cFram<R> {
    /// The FRAM answering at `addr` (the MB85RC256V's is 0x50 with A2..A0 low), `capacity` bytes.
    pub fn new(bus: CadenceI2c<R>, addr: u8, capacity: u32) -> Self {
        I2cFram {
            bus,
            addr,
            capacity,
        }
    }

    fn check(&self, offset: u32, len: usize) -> Result<(), I2cError> {
        match (offset as usize).checked_add(len) {
            Some(end) if end <= self.capacity as usize => Ok(()),
            _ => Err(I2cError::OutOfBounds),
        }
    }

    fn put(&mut self, offset: u32, bytes: &[u8]) -> Result<(), I2cError> {
        for (i, chunk) in bytes.chunks(WRITE_CHUNK).enumerate() {
            let at = (offset as usize + i * WRITE_CHUNK) as u16;
            let mut frame = [0u8; FIFO_DEPTH];
            frame[..2].copy_from_slice(&at.to_be_bytes());
            frame[2..2 + chunk.len()].copy_from_slice(chunk);
            self.bus
                .write(self.addr, &frame[..2 + chunk.len()], false)?;
        }
        Ok(())
    }
}

impl<R: Regs> ErrorType for I2cFram<R> {
    type Error = I2cError;
}

impl<R: Regs> ReadNorFlash for I2cFram<R> {
    const READ_SIZE: usize = 1;

    /// A random-address write (held for a repeated start), then sequential reads, per FIFO.
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), I2cError> {
        self.check(offset, bytes.len())?;
        for (i, chunk) in bytes.chunks_mut(FIFO_DEPTH).enumerate() {
            let at = (offset as usize + i * FIFO_DEPTH) as u16;
            self.bus.write(self.addr, &at.to_be_bytes(), true)?;
            self.bus.read(self.addr, chunk)?;
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.capacity as usize
    }
}

impl<R: Regs> NorFlash for I2cFram<R> {
    const WRITE_SIZE: usize = 1;
    const ERASE_SIZE: usize = FRAM_SECTOR;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), I2cError> {
        if from > to || to > self.capacity {
            return Err(I2cError::OutOfBounds);
        }
        if !(from as usize).is_multiple_of(FRAM_SECTOR)
            || !(to as usize).is_multiple_of(FRAM_SECTOR)
        {
            return Err(I2cError::NotAligned);
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
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), I2cError> {
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
