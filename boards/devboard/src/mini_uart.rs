//! The BCM2711 mini UART (AUX UART1, `brcm,bcm2835-aux-uart`, the standby link) as a polled `hal`
//! serial line: 8 data bits, no parity, one stop bit, bytes passed through untouched.
//!
//! Sources: the BCM2711 ARM Peripherals manual, "Mini UART" (AUX_ENABLES bit 0 gates the block,
//! the 8-deep FIFOs, AUX_MU_CNTL's receiver/transmitter enables, baud = system clock /
//! (8 * (AUX_MU_BAUD + 1)), LSR overrun cleared by reading LSR) and Linux
//! `drivers/tty/serial/8250/8250_bcm2835aux.c` (an 8250 at offset 0x40 with 4-byte register
//! stride). The device region is the whole AUX page (mapped from 0xFE21_5000); AUX_ENABLES is
//! shared with AUX SPI1/2, so it is read-modify-written.
//! Polled, the 8-byte RX FIFO must be read at least every 8 byte times (0.69 ms at 115200 baud)
//! or bytes are lost (and reported as an overrun).
//! Avoids: interrupts, flow control.

use crate::regs::Regs;
use hal::serial::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};

/// AUX enables: bit 0 mini UART, bits 1-2 SPI1/2 (`AUX_ENABLES`).
pub const AUX_ENABLES: usize = 0x04;
/// Data: receive on read, transmit on write (`AUX_MU_IO_REG`).
pub const MU_IO: usize = 0x40;
/// Interrupt enable (`AUX_MU_IER_REG`).
pub const MU_IER: usize = 0x44;
/// Interrupt identify; writing bits 1 and 2 clears the FIFOs (`AUX_MU_IIR_REG`).
pub const MU_IIR: usize = 0x48;
/// Line control (`AUX_MU_LCR_REG`).
pub const MU_LCR: usize = 0x4C;
/// Line status (`AUX_MU_LSR_REG`).
pub const MU_LSR: usize = 0x54;
/// Extra control: receiver and transmitter enables (`AUX_MU_CNTL_REG`).
pub const MU_CNTL: usize = 0x60;
/// Baud rate counter (`AUX_MU_BAUD_REG`).
pub const MU_BAUD: usize = 0x68;
/// AUX_ENABLES: mini UART.
pub const ENABLE_MINI_UART: u32 = 0x1;
/// IIR: clear both FIFOs (bits 1 and 2).
pub const IIR_CLEAR_FIFOS: u32 = 0x06;
/// LCR: 8-bit mode (`UART_LCR_WLEN8`, as 8250_bcm2835aux sets it).
pub const LCR_8BIT: u32 = 0x03;
/// LSR: a byte is waiting (`UART_LSR_DR`).
pub const LSR_DR: u32 = 0x01;
/// LSR: receiver overrun, cleared by reading LSR (`UART_LSR_OE`).
pub const LSR_OE: u32 = 0x02;
/// LSR: the TX FIFO can take a byte (`UART_LSR_THRE`).
pub const LSR_THRE: u32 = 0x20;
/// LSR: the transmitter is idle (`UART_LSR_TEMT`).
pub const LSR_TEMT: u32 = 0x40;
/// CNTL: receiver and transmitter enabled.
pub const CNTL_RX_TX: u32 = 0x3;

/// What went wrong on the line or in setting it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MiniUartError {
    /// The receive FIFO overflowed: bytes were lost.
    Overrun,
    /// The baud rate counter cannot make this rate from this clock.
    BaudRate {
        /// The rate asked for.
        baud: u32,
        /// The system (VPU core) clock.
        clock_hz: u32,
    },
}

impl core::fmt::Display for MiniUartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MiniUartError::Overrun => f.write_str("mini UART receive overrun: bytes were lost"),
            MiniUartError::BaudRate { baud, clock_hz } => {
                write!(
                    f,
                    "a {clock_hz} Hz core clock cannot make {baud} baud on the mini UART"
                )
            }
        }
    }
}

impl core::error::Error for MiniUartError {}

impl hal::serial::embedded_io::Error for MiniUartError {
    fn kind(&self) -> ErrorKind {
        match self {
            MiniUartError::Overrun => ErrorKind::InvalidData,
            MiniUartError::BaudRate { .. } => ErrorKind::InvalidInput,
        }
    }
}

/// The mini UART, configured and enabled.
#[derive(Debug)]
pub struct MiniUart<R> {
    regs: R,
    /// An overrun seen in LSR (reading LSR clears it in the hardware), not yet reported.
    overrun: bool,
}

impl<R: Regs> MiniUart<R> {
    /// Enables the block (keeping the SPI enables), sets 8N1 at `baud` from the core clock, clears
    /// the FIFOs, then enables the receiver and transmitter.
    pub fn new(regs: R, clock_hz: u32, baud: u32) -> Result<Self, MiniUartError> {
        let counter = (clock_hz / 8)
            .checked_div(baud)
            .and_then(|d| d.checked_sub(1))
            .filter(|&d| d <= 0xFFFF)
            .ok_or(MiniUartError::BaudRate { baud, clock_hz })?;
        regs.write(AUX_ENABLES, regs.read(AUX_ENABLES) | ENABLE_MINI_UART);
        regs.write(MU_CNTL, 0);
        regs.write(MU_IER, 0);
        regs.write(MU_LCR, LCR_8BIT);
        regs.write(MU_IIR, IIR_CLEAR_FIFOS);
        regs.write(MU_BAUD, counter);
        regs.write(MU_CNTL, CNTL_RX_TX);
        Ok(MiniUart {
            regs,
            overrun: false,
        })
    }

    /// The line status. Reading it clears an overrun in the hardware, so one is remembered
    /// here until a read reports it.
    fn lsr(&mut self) -> u32 {
        let lsr = self.regs.read(MU_LSR);
        self.overrun |= lsr & LSR_OE != 0;
        lsr
    }

    fn take_overrun(&mut self) -> Result<(), MiniUartError> {
        if core::mem::take(&mut self.overrun) {
            return Err(MiniUartError::Overrun);
        }
        Ok(())
    }
}

impl<R> ErrorType for MiniUart<R> {
    type Error = MiniUartError;
}

impl<R: Regs> ReadReady for MiniUart<R> {
    fn read_ready(&mut self) -> Result<bool, MiniUartError> {
        let lsr = self.lsr();
        self.take_overrun()?;
        Ok(lsr & LSR_DR != 0)
    }
}

impl<R: Regs> Read for MiniUart<R> {
    /// Reports an overrun first; otherwise waits for one byte, then takes what the FIFO holds,
    /// up to `buf.len()` (an overrun met meanwhile is reported by the next call).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, MiniUartError> {
        self.take_overrun()?;
        if buf.is_empty() {
            return Ok(0);
        }
        while self.lsr() & LSR_DR == 0 {
            self.take_overrun()?;
        }
        let mut n = 0;
        while n < buf.len() && self.lsr() & LSR_DR != 0 {
            buf[n] = self.regs.read(MU_IO) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl<R: Regs> WriteReady for MiniUart<R> {
    fn write_ready(&mut self) -> Result<bool, MiniUartError> {
        Ok(self.lsr() & LSR_THRE != 0)
    }
}

impl<R: Regs> Write for MiniUart<R> {
    /// Waits for room for one byte, then fills the TX FIFO as far as it goes. An overrun seen on
    /// the way is remembered for the next read to report.
    fn write(&mut self, buf: &[u8]) -> Result<usize, MiniUartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.lsr() & LSR_THRE == 0 {}
        let mut n = 0;
        while n < buf.len() && self.lsr() & LSR_THRE != 0 {
            self.regs.write(MU_IO, u32::from(buf[n]));
            n += 1;
        }
        Ok(n)
    }

    /// Waits until the transmitter is idle.
    fn flush(&mut self) -> Result<(), MiniUartError> {
        while self.lsr() & LSR_TEMT == 0 {}
        Ok(())
    }
}
