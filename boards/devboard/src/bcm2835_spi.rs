//! The BCM2711 SPI0 controller (`brcm,bcm2835-spi`) as an `embedded-hal` [`SpiDevice`] on chip
//! select 0, polled, mode 0, one byte in flight at a time (the SPI NOR commands are short; the
//! FIFO is not needed to keep up).
//!
//! Sources: Linux `drivers/spi/spi-bcm2835.c` (register offsets, CS register bits, the clear /
//! TA / DONE sequence, `BCM2835_SPI_FIFO_SIZE` 64) and the BCM2711 ARM Peripherals manual, "SPI"
//! (setting TA asserts the chip select, clearing it releases it; SPI clock = core clock / CDIV).
//! Avoids: DMA, interrupts, LoSSI mode.

use crate::regs::Regs;
use board_mmio::spi::run_bytewise;
use embedded_hal::spi::{self, ErrorKind, Operation, SpiDevice};

/// Control and status (`BCM2835_SPI_CS`).
pub const CS: usize = 0x00;
/// TX and RX FIFOs (`BCM2835_SPI_FIFO`).
pub const FIFO: usize = 0x04;
/// Clock divider (`BCM2835_SPI_CLK`).
pub const CLK: usize = 0x08;
/// CS: RX FIFO holds data (`BCM2835_SPI_CS_RXD`).
pub const CS_RXD: u32 = 1 << 17;
/// CS: TX FIFO has room (`BCM2835_SPI_CS_TXD`).
pub const CS_TXD: u32 = 1 << 18;
/// CS: transfer done, TX FIFO empty (`BCM2835_SPI_CS_DONE`).
pub const CS_DONE: u32 = 1 << 16;
/// CS: transfer active, chip select asserted (`BCM2835_SPI_CS_TA`).
pub const CS_TA: u32 = 1 << 7;
/// CS: clear the RX FIFO (`BCM2835_SPI_CS_CLEAR_RX`).
pub const CS_CLEAR_RX: u32 = 1 << 5;
/// CS: clear the TX FIFO (`BCM2835_SPI_CS_CLEAR_TX`).
pub const CS_CLEAR_TX: u32 = 1 << 4;
/// Status polls before a stuck controller is reported.
pub const POLLS: u32 = 100_000;

/// What went wrong on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpiError {
    /// A status bit never came: the controller is not clocked, or faulty.
    Stuck,
    /// A delay inside a transaction: this driver has no timer to make one.
    DelayUnsupported,
}

impl core::fmt::Display for SpiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SpiError::Stuck => "the SPI controller never finished a byte (not clocked, or a fault)",
            SpiError::DelayUnsupported => "a delay inside an SPI transaction is not supported here",
        })
    }
}

impl spi::Error for SpiError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// SPI0 with its device on chip select 0.
#[derive(Debug)]
pub struct Bcm2835Spi<R> {
    regs: R,
}

impl<R: Regs> Bcm2835Spi<R> {
    /// SPI0 at `core_clock_hz / cdiv` (`cdiv` even, 2..=65534), chip select released.
    pub fn new(regs: R, cdiv: u16) -> Self {
        regs.write(CS, CS_CLEAR_RX | CS_CLEAR_TX);
        regs.write(CLK, u32::from(cdiv & !1));
        Bcm2835Spi { regs }
    }

    fn wait(&self, bit: u32) -> Result<(), SpiError> {
        (0..POLLS)
            .any(|_| self.regs.read(CS) & bit != 0)
            .then_some(())
            .ok_or(SpiError::Stuck)
    }

    fn byte(&self, out: u8) -> Result<u8, SpiError> {
        self.wait(CS_TXD)?;
        self.regs.write(FIFO, u32::from(out));
        self.wait(CS_RXD)?;
        Ok(self.regs.read(FIFO) as u8)
    }

    fn run(&self, ops: &mut [Operation<'_, u8>]) -> Result<(), SpiError> {
        run_bytewise(ops, |b| self.byte(b), SpiError::DelayUnsupported)?;
        self.wait(CS_DONE)
    }
}

impl<R> spi::ErrorType for Bcm2835Spi<R> {
    type Error = SpiError;
}

impl<R: Regs> SpiDevice for Bcm2835Spi<R> {
    /// Asserts chip select 0 (TA), runs the operations, waits for DONE and releases it, also
    /// when an operation failed.
    fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), SpiError> {
        self.regs.write(CS, CS_CLEAR_RX | CS_CLEAR_TX | CS_TA);
        let r = self.run(ops);
        self.regs.write(CS, 0);
        r
    }
}
