//! The ZynqMP I2C controller (Cadence I2C, `cdns,i2c-r1p14`) as a polled `embedded-hal` I2C
//! master (the health FRAM sits on it: `board-i2c-fram`).
//!
//! Sources: Linux `drivers/i2c/busses/i2c-cadence.c` (register offsets, CR/SR/ISR bits, HOLD to
//! keep the bus for a repeated start, the address write starting a transfer, transfer size for
//! reads, the 16-byte FIFO, NACK and arbitration-lost reporting).
//! Avoids: interrupts, 10-bit addresses, operations longer than one FIFO (refused, not split).

use crate::regs::Regs;
use embedded_hal::i2c::{self, ErrorKind, I2c, NoAcknowledgeSource, Operation};

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

/// What went wrong on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum I2cError {
    /// Nobody acknowledged: the part is absent, unpowered, or lost power mid-write.
    Nack,
    /// Another master took the bus.
    ArbitrationLost,
    /// The transfer never completed (controller not clocked, bus stuck low).
    Stuck,
    /// An operation longer than the 16-byte FIFO.
    TooLong,
}

impl core::fmt::Display for I2cError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            I2cError::Nack => "the I2C part did not answer (absent, unpowered, or power lost)",
            I2cError::ArbitrationLost => "I2C arbitration lost to another master",
            I2cError::Stuck => "the I2C transfer never completed (bus stuck or not clocked)",
            I2cError::TooLong => "an I2C operation longer than the 16-byte FIFO",
        })
    }
}

impl i2c::Error for I2cError {
    fn kind(&self) -> ErrorKind {
        match self {
            I2cError::Nack => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Unknown),
            I2cError::ArbitrationLost => ErrorKind::ArbitrationLoss,
            I2cError::Stuck => ErrorKind::Bus,
            I2cError::TooLong => ErrorKind::Overrun,
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
    fn write_one(&mut self, addr: u8, bytes: &[u8], hold: bool) -> Result<(), I2cError> {
        if bytes.len() > FIFO_DEPTH {
            return Err(I2cError::TooLong);
        }
        let hold = if hold { CR_HOLD } else { 0 };
        self.regs.write(
            CR,
            self.div | CR_MS | CR_NEA | CR_ACK_EN | CR_CLR_FIFO | hold,
        );
        self.regs.write(ISR, IXR_ALL);
        for &b in bytes {
            self.regs.write(DATA, u32::from(b));
        }
        self.regs.write(ADDR, u32::from(addr & 0x7F));
        self.wait_done()
    }

    /// Reads `buf` (at most [`FIFO_DEPTH`]) from `addr`; `hold` keeps the bus.
    fn read_one(&mut self, addr: u8, buf: &mut [u8], hold: bool) -> Result<(), I2cError> {
        if buf.len() > FIFO_DEPTH {
            return Err(I2cError::TooLong);
        }
        let n = buf.len();
        let hold = if hold { CR_HOLD } else { 0 };
        self.regs.write(
            CR,
            self.div | CR_MS | CR_NEA | CR_ACK_EN | CR_CLR_FIFO | CR_RW | hold,
        );
        self.regs.write(ISR, IXR_ALL);
        self.regs.write(XFER_SIZE, n as u32);
        self.regs.write(ADDR, u32::from(addr & 0x7F));
        self.wait_done()?;
        for b in buf.iter_mut() {
            if self.regs.read(SR) & SR_RXDV == 0 {
                return Err(I2cError::Stuck);
            }
            *b = self.regs.read(DATA) as u8;
        }
        Ok(())
    }
}

impl<R> i2c::ErrorType for CadenceI2c<R> {
    type Error = I2cError;
}

impl<R: Regs> I2c for CadenceI2c<R> {
    /// One transfer per operation, each but the last holding the bus (repeated start), the last
    /// ending with STOP; the bus is released after a failure.
    fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), I2cError> {
        let last = ops.len().saturating_sub(1);
        for (i, op) in ops.iter_mut().enumerate() {
            let hold = i < last;
            match op {
                Operation::Write(w) => self.write_one(address, w, hold)?,
                Operation::Read(r) => self.read_one(address, r, hold)?,
            }
        }
        Ok(())
    }
}
