//! The BCM2711 PL011 UART (`arm,pl011`, UART0 to the radio) as a polled `hal` serial line: 8N1,
//! FIFOs on, no flow control, bytes passed through untouched.
//!
//! Sources: Linux `drivers/tty/serial/amba-pl011.c` and `include/linux/amba/serial.h` (register
//! offsets, FR and DR bits, the divisor `DIV_ROUND_CLOSEST(clk * 4, baud)` split into IBRD and
//! FBRD, LCRH written after the divisors); ARM PL011 TRM (DDI 0183) "UARTLCR_H": a write to
//! LCR_H latches IBRD/FBRD. Receive errors come with each byte in DR bits 11:8.
//! Avoids: interrupts, DMA, modem lines.

use crate::regs::Regs;
use hal::serial::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};

/// Data register (`UART01x_DR`): bits 7:0 the byte, 11:8 its errors.
pub const DR: usize = 0x00;
/// Receive status / error clear (`UART01x_RSR`, `UART01x_ECR` on write).
pub const RSR_ECR: usize = 0x04;
/// Flag register (`UART01x_FR`).
pub const FR: usize = 0x18;
/// Integer baud divisor (`UART011_IBRD`).
pub const IBRD: usize = 0x24;
/// Fractional baud divisor, 64ths (`UART011_FBRD`).
pub const FBRD: usize = 0x28;
/// Line control (`UART011_LCRH`).
pub const LCRH: usize = 0x2c;
/// Control register (`UART011_CR`).
pub const CR: usize = 0x30;
/// Interrupt mask (`UART011_IMSC`).
pub const IMSC: usize = 0x38;
/// Interrupt clear (`UART011_ICR`).
pub const ICR: usize = 0x44;

/// FR: TX FIFO empty (`UART01x_FR_TXFE`).
pub const FR_TXFE: u32 = 0x080;
/// FR: TX FIFO full (`UART01x_FR_TXFF`).
pub const FR_TXFF: u32 = 0x020;
/// FR: RX FIFO empty (`UART01x_FR_RXFE`).
pub const FR_RXFE: u32 = 0x010;
/// FR: transmitting (`UART01x_FR_BUSY`).
pub const FR_BUSY: u32 = 0x008;
/// DR: overrun (`UART011_DR_OE`).
pub const DR_OE: u32 = 1 << 11;
/// DR: break (`UART011_DR_BE`).
pub const DR_BE: u32 = 1 << 10;
/// DR: parity error (`UART011_DR_PE`).
pub const DR_PE: u32 = 1 << 9;
/// DR: framing error (`UART011_DR_FE`).
pub const DR_FE: u32 = 1 << 8;
/// LCRH: 8-bit words (`UART01x_LCRH_WLEN_8`).
pub const LCRH_WLEN_8: u32 = 0x60;
/// LCRH: FIFOs enabled (`UART01x_LCRH_FEN`).
pub const LCRH_FEN: u32 = 0x10;
/// CR: UART enable (`UART01x_CR_UARTEN`).
pub const CR_UARTEN: u32 = 0x0001;
/// CR: transmit enable (`UART011_CR_TXE`).
pub const CR_TXE: u32 = 0x0100;
/// CR: receive enable (`UART011_CR_RXE`).
pub const CR_RXE: u32 = 0x0200;

/// What went wrong on the line or in setting it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pl011Error {
    /// The receive FIFO overflowed: bytes were lost before this one.
    Overrun,
    /// A break, framing or parity error on a received byte (the byte is dropped).
    Line,
    /// The divisor for the baud rate is outside IBRD 1..=65535.
    BaudRate {
        /// The rate asked for.
        baud: u32,
        /// The UART's reference clock.
        clock_hz: u32,
    },
}

impl core::fmt::Display for Pl011Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Pl011Error::Overrun => f.write_str("PL011 receive overrun: bytes were lost"),
            Pl011Error::Line => {
                f.write_str("PL011 break, framing or parity error: check the baud rate and line")
            }
            Pl011Error::BaudRate { baud, clock_hz } => {
                write!(f, "a {clock_hz} Hz PL011 clock cannot make {baud} baud")
            }
        }
    }
}

impl core::error::Error for Pl011Error {}

impl hal::serial::embedded_io::Error for Pl011Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Pl011Error::Overrun | Pl011Error::Line => ErrorKind::InvalidData,
            Pl011Error::BaudRate { .. } => ErrorKind::InvalidInput,
        }
    }
}

/// `pl011_set_termios`: (IBRD, FBRD) for `baud` from `clock_hz`.
pub fn divisors(clock_hz: u32, baud: u32) -> Option<(u32, u32)> {
    let quot = (u64::from(clock_hz) * 4 + u64::from(baud) / 2) / u64::from(baud.max(1));
    let (ibrd, fbrd) = ((quot >> 6) as u32, (quot & 0x3f) as u32);
    (1..=0xFFFF).contains(&ibrd).then_some((ibrd, fbrd))
}

/// A PL011, configured and enabled.
#[derive(Debug)]
pub struct Pl011<R> {
    regs: R,
    /// An error met after some bytes were already read: reported by the next call.
    pending: Option<Pl011Error>,
}

impl<R: Regs> Pl011<R> {
    /// Disables the UART, waits for it to finish sending, sets the divisors, then 8N1 with FIFOs
    /// (latching the divisors), clears errors and interrupts, and enables TX and RX.
    pub fn new(regs: R, clock_hz: u32, baud: u32) -> Result<Self, Pl011Error> {
        let (ibrd, fbrd) =
            divisors(clock_hz, baud).ok_or(Pl011Error::BaudRate { baud, clock_hz })?;
        regs.write(CR, 0);
        regs.write(IMSC, 0);
        regs.write(IBRD, ibrd);
        regs.write(FBRD, fbrd);
        regs.write(LCRH, LCRH_WLEN_8 | LCRH_FEN);
        regs.write(RSR_ECR, 0);
        regs.write(ICR, 0x7FF);
        regs.write(CR, CR_UARTEN | CR_TXE | CR_RXE);
        Ok(Pl011 {
            regs,
            pending: None,
        })
    }

    fn rx_empty(&self) -> bool {
        self.regs.read(FR) & FR_RXFE != 0
    }
}

impl<R> ErrorType for Pl011<R> {
    type Error = Pl011Error;
}

impl<R: Regs> ReadReady for Pl011<R> {
    fn read_ready(&mut self) -> Result<bool, Pl011Error> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        Ok(!self.rx_empty())
    }
}

impl<R: Regs> Read for Pl011<R> {
    /// Waits for one byte, then takes what the FIFO holds, up to `buf.len()`. A byte received
    /// with an error is dropped and the error returned (bytes read before it are returned first).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Pl011Error> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        while self.rx_empty() {}
        let mut n = 0;
        while n < buf.len() && !self.rx_empty() {
            let dr = self.regs.read(DR);
            if dr & (DR_OE | DR_BE | DR_PE | DR_FE) != 0 {
                self.regs.write(RSR_ECR, 0);
                let e = if dr & DR_OE != 0 {
                    Pl011Error::Overrun
                } else {
                    Pl011Error::Line
                };
                if n == 0 {
                    return Err(e);
                }
                self.pending = Some(e);
                break;
            }
            buf[n] = dr as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl<R: Regs> WriteReady for Pl011<R> {
    fn write_ready(&mut self) -> Result<bool, Pl011Error> {
        Ok(self.regs.read(FR) & FR_TXFF == 0)
    }
}

impl<R: Regs> Write for Pl011<R> {
    /// Waits for room for one byte, then fills the TX FIFO as far as it goes.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Pl011Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.regs.read(FR) & FR_TXFF != 0 {}
        let mut n = 0;
        while n < buf.len() && self.regs.read(FR) & FR_TXFF == 0 {
            self.regs.write(DR, u32::from(buf[n]));
            n += 1;
        }
        Ok(n)
    }

    /// Waits until the last byte has left the shift register.
    fn flush(&mut self) -> Result<(), Pl011Error> {
        while self.regs.read(FR) & (FR_TXFE | FR_BUSY) != FR_TXFE {}
        Ok(())
    }
}
