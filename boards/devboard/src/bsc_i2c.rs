//! The BCM2711 BSC I2C master (`brcm,bcm2835-i2c`, BSC1 for the health FRAM) as a polled
//! `embedded-hal` I2C bus.
//!
//! Sources: Linux `drivers/i2c/busses/i2c-bcm2835.c` (register offsets, C and S bits, DONE, ERR
//! and CLKT write-one-to-clear, the 16-byte FIFO) and the BCM2711 ARM Peripherals manual, "BSC".
//! Each operation is its own transfer ending with STOP: the BSC has no repeated start without
//! the timing trick of i2c-bcm2835.c, so a part that needs one (rather than the FRAM's "set the
//! address, then read" which works across a STOP) is not served by this driver.
//! Avoids: interrupts, operations longer than the FIFO (refused, not split).

use crate::regs::Regs;
use embedded_hal::i2c::{self, ErrorKind, I2c, NoAcknowledgeSource, Operation};

/// Control (`BCM2835_I2C_C`).
pub const C: usize = 0x00;
/// Status (`BCM2835_I2C_S`).
pub const S: usize = 0x04;
/// Data length (`BCM2835_I2C_DLEN`).
pub const DLEN: usize = 0x08;
/// Slave address (`BCM2835_I2C_A`).
pub const A: usize = 0x0C;
/// FIFO (`BCM2835_I2C_FIFO`).
pub const FIFO: usize = 0x10;
/// Clock divider (`BCM2835_I2C_DIV`).
pub const DIV: usize = 0x14;
/// C: read transfer (`BCM2835_I2C_C_READ`).
pub const C_READ: u32 = 1 << 0;
/// C: clear the FIFO (`BCM2835_I2C_C_CLEAR`).
pub const C_CLEAR: u32 = 1 << 4;
/// C: start a transfer (`BCM2835_I2C_C_ST`).
pub const C_ST: u32 = 1 << 7;
/// C: controller enable (`BCM2835_I2C_C_I2CEN`).
pub const C_I2CEN: u32 = 1 << 15;
/// S: transfer active (`BCM2835_I2C_S_TA`).
pub const S_TA: u32 = 1 << 0;
/// S: transfer done, write one to clear (`BCM2835_I2C_S_DONE`).
pub const S_DONE: u32 = 1 << 1;
/// S: FIFO holds data (`BCM2835_I2C_S_RXD`).
pub const S_RXD: u32 = 1 << 5;
/// S: no acknowledge, write one to clear (`BCM2835_I2C_S_ERR`).
pub const S_ERR: u32 = 1 << 8;
/// S: clock stretch timeout, write one to clear (`BCM2835_I2C_S_CLKT`).
pub const S_CLKT: u32 = 1 << 9;
/// FIFO depth.
pub const FIFO_DEPTH: usize = 16;
/// Status polls before a stuck transfer is reported.
pub const POLLS: u32 = 100_000;

/// What went wrong on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BscError {
    /// Nobody acknowledged: the part is absent, unpowered, or lost power mid-write.
    Nack,
    /// The slave held SCL low past the clock-stretch timeout.
    ClockStretch,
    /// DONE never came (controller not clocked).
    Stuck,
    /// An operation longer than the 16-byte FIFO.
    TooLong,
}

impl i2c::Error for BscError {
    fn kind(&self) -> ErrorKind {
        match self {
            BscError::Nack => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Unknown),
            BscError::ClockStretch | BscError::Stuck => ErrorKind::Bus,
            BscError::TooLong => ErrorKind::Overrun,
        }
    }
}

impl core::fmt::Display for BscError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            BscError::Nack => "the I2C part did not answer (absent, unpowered, or power lost)",
            BscError::ClockStretch => "the I2C part held the clock past the timeout",
            BscError::Stuck => "the I2C transfer never completed (controller not clocked)",
            BscError::TooLong => "an I2C operation longer than the 16-byte FIFO",
        })
    }
}

/// A BSC master.
#[derive(Debug)]
pub struct BscI2c<R> {
    regs: R,
}

impl<R: Regs> BscI2c<R> {
    /// Enabled, SCL = core clock / `div` (even).
    pub fn new(regs: R, div: u16) -> Self {
        regs.write(DIV, u32::from(div & !1));
        regs.write(C, C_I2CEN | C_CLEAR);
        regs.write(S, S_DONE | S_ERR | S_CLKT);
        BscI2c { regs }
    }

    fn transfer(&mut self, addr: u8, read: bool, len: usize) -> Result<(), BscError> {
        self.regs.write(A, u32::from(addr & 0x7F));
        self.regs.write(DLEN, len as u32);
        self.regs
            .write(C, C_I2CEN | C_ST | if read { C_READ } else { 0 });
        for _ in 0..POLLS {
            let s = self.regs.read(S);
            if s & S_DONE != 0 {
                self.regs.write(S, S_DONE | S_ERR | S_CLKT);
                if s & S_ERR != 0 {
                    return Err(BscError::Nack);
                }
                if s & S_CLKT != 0 {
                    return Err(BscError::ClockStretch);
                }
                return Ok(());
            }
        }
        Err(BscError::Stuck)
    }

    fn write_one(&mut self, addr: u8, bytes: &[u8]) -> Result<(), BscError> {
        if bytes.len() > FIFO_DEPTH {
            return Err(BscError::TooLong);
        }
        self.regs.write(C, C_I2CEN | C_CLEAR);
        for &b in bytes {
            self.regs.write(FIFO, u32::from(b));
        }
        self.transfer(addr, false, bytes.len())
    }

    fn read_one(&mut self, addr: u8, buf: &mut [u8]) -> Result<(), BscError> {
        if buf.len() > FIFO_DEPTH {
            return Err(BscError::TooLong);
        }
        self.regs.write(C, C_I2CEN | C_CLEAR);
        self.transfer(addr, true, buf.len())?;
        for b in buf.iter_mut() {
            if self.regs.read(S) & S_RXD == 0 {
                return Err(BscError::Stuck);
            }
            *b = self.regs.read(FIFO) as u8;
        }
        Ok(())
    }
}

impl<R> i2c::ErrorType for BscI2c<R> {
    type Error = BscError;
}

impl<R: Regs> I2c for BscI2c<R> {
    /// One transfer per operation, each ending with STOP (see the module docs).
    fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), BscError> {
        for op in ops {
            match op {
                Operation::Write(w) => self.write_one(address, w)?,
                Operation::Read(r) => self.read_one(address, r)?,
            }
        }
        Ok(())
    }
}
