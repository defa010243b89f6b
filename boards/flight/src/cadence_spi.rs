//! The ZynqMP SPI controller (Cadence SPI, `cdns,spi-r1p6`, SPI0 for the key flash and SPI1 for
//! the comms flash) as an `embedded-hal` [`SpiDevice`] on slave select 0: master mode, mode 0,
//! manual slave select, automatic start, polled, one byte in flight at a time.
//!
//! Sources: Linux `drivers/spi/spi-cadence.c` (register offsets, CR bits, the slave-select field
//! `~(CDNS_SPI_SS0 << cs) << CDNS_SPI_SS_SHIFT` with all ones for none, `cdns_spi_init_hw`, ISR
//! cleared by writing its bits back, `CDNS_SPI_FIFO_DEPTH` 128); Xilinx UG1085 "SPI Controller"
//! (SPI clock = reference clock / 2^(BAUD_DIV + 1)).
//! Avoids: interrupts, manual start, decoded slave selects.

use crate::regs::Regs;
use board_mmio::spi::run_bytewise;
use embedded_hal::spi::{self, ErrorKind, Operation, SpiDevice};

/// Configuration (`CDNS_SPI_CR`).
pub const CR: usize = 0x00;
/// Interrupt status, write one to clear (`CDNS_SPI_ISR`).
pub const ISR: usize = 0x04;
/// Enable (`CDNS_SPI_ER`).
pub const ER: usize = 0x14;
/// Transmit data (`CDNS_SPI_TXD`).
pub const TXD: usize = 0x1C;
/// Receive data (`CDNS_SPI_RXD`).
pub const RXD: usize = 0x20;
/// CR: master mode (`CDNS_SPI_CR_MSTREN`).
pub const CR_MSTREN: u32 = 0x0000_0001;
/// CR: baud rate divisor field, bits 5:3 (`CDNS_SPI_CR_BAUD_DIV`).
pub const CR_BAUD_DIV: u32 = 0x0000_0038;
/// CR: slave select lines, bits 13:10, active low (`CDNS_SPI_CR_SSCTRL`).
pub const CR_SSCTRL: u32 = 0x0000_3C00;
/// CR: slave select driven by software (`CDNS_SPI_CR_SSFORCE`).
pub const CR_SSFORCE: u32 = 0x0000_4000;
/// Shift of the slave select field (`CDNS_SPI_SS_SHIFT`).
pub const SS_SHIFT: u32 = 10;
/// ISR: RX FIFO not empty (`CDNS_SPI_IXR_RXNEMTY`).
pub const IXR_RXNEMTY: u32 = 0x0000_0010;
/// ISR: TX FIFO full (`CDNS_SPI_IXR_TXFULL`).
pub const IXR_TXFULL: u32 = 0x0000_0008;
/// ISR: mode fault (`CDNS_SPI_IXR_MODF`).
pub const IXR_MODF: u32 = 0x0000_0002;
/// ISR: every bit (`CDNS_SPI_IXR_ALL`).
pub const IXR_ALL: u32 = 0x0000_007F;
/// ER: enable (`CDNS_SPI_ER_ENABLE`).
pub const ER_ENABLE: u32 = 0x1;
/// Status polls before a stuck controller is reported.
pub const POLLS: u32 = 100_000;

/// What went wrong on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpiError {
    /// A byte never came back: the controller is not clocked, or faulty.
    Stuck,
    /// Another master drove slave select (mode fault): the controller left master mode.
    ModeFault,
    /// A delay inside a transaction: this driver has no timer to make one.
    DelayUnsupported,
}

impl core::fmt::Display for SpiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SpiError::Stuck => "the SPI controller never finished a byte (not clocked, or a fault)",
            SpiError::ModeFault => "SPI mode fault: slave select was driven by another master",
            SpiError::DelayUnsupported => "a delay inside an SPI transaction is not supported here",
        })
    }
}

impl spi::Error for SpiError {
    fn kind(&self) -> ErrorKind {
        match self {
            SpiError::ModeFault => ErrorKind::ModeFault,
            _ => ErrorKind::Other,
        }
    }
}

/// A Cadence SPI controller with its device on slave select 0.
#[derive(Debug)]
pub struct CadenceSpi<R> {
    regs: R,
    cr: u32,
}

impl<R: Regs> CadenceSpi<R> {
    /// `cdns_spi_init_hw` with no slave selected and SPI clock = reference / 2^(`baud_div` + 1)
    /// (`baud_div` 1..=7, clamped).
    pub fn new(regs: R, baud_div: u32) -> Self {
        let cr = CR_MSTREN | CR_SSFORCE | CR_SSCTRL | ((baud_div.clamp(1, 7) << 3) & CR_BAUD_DIV);
        regs.write(ER, 0);
        regs.write(CR, cr);
        regs.write(ISR, IXR_ALL);
        regs.write(ER, ER_ENABLE);
        CadenceSpi { regs, cr }
    }

    fn byte(&self, out: u8) -> Result<u8, SpiError> {
        self.regs.write(TXD, u32::from(out));
        for _ in 0..POLLS {
            let isr = self.regs.read(ISR);
            if isr & IXR_MODF != 0 {
                self.regs.write(ISR, IXR_MODF);
                return Err(SpiError::ModeFault);
            }
            if isr & IXR_RXNEMTY != 0 {
                return Ok(self.regs.read(RXD) as u8);
            }
        }
        Err(SpiError::Stuck)
    }

    fn run(&self, ops: &mut [Operation<'_, u8>]) -> Result<(), SpiError> {
        run_bytewise(ops, |b| self.byte(b), SpiError::DelayUnsupported)
    }
}

impl<R> spi::ErrorType for CadenceSpi<R> {
    type Error = SpiError;
}

impl<R: Regs> SpiDevice for CadenceSpi<R> {
    /// Drives slave select 0 low, runs the operations, and releases it, also after a failure.
    fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), SpiError> {
        let ss0 = (!1u32 << SS_SHIFT) & CR_SSCTRL;
        self.regs.write(CR, (self.cr & !CR_SSCTRL) | ss0);
        let r = self.run(ops);
        self.regs.write(CR, self.cr);
        r
    }
}
