//! The ZynqMP UART (Cadence UART, `cdns,uart-r1p12`) as a polled `hal` serial line: 8 data bits,
//! no parity, one stop bit, no flow control, bytes passed through untouched.
//!
//! Sources: Linux `drivers/tty/serial/xilinx_uartps.c` (register map, status and interrupt bits,
//! the reset and enable sequence, the baud divisor search `cdns_uart_calc_baud_divs`); Xilinx
//! UG1085 chapter "UART Controller" (64-byte FIFOs; ISR bits are write-one-to-clear).
//!
//! Avoids: interrupts and the RX timeout (the partition polls `read_ready`), modem lines.

use crate::regs::Regs;
use hal::serial::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};

/// Control register (`CDNS_UART_CR`).
pub const CR: usize = 0x00;
/// Mode register (`CDNS_UART_MR`).
pub const MR: usize = 0x04;
/// Interrupt status register, write one to clear (`CDNS_UART_ISR`).
pub const ISR: usize = 0x14;
/// Baud rate generator: CD (`CDNS_UART_BAUDGEN`).
pub const BAUDGEN: usize = 0x18;
/// Channel status register (`CDNS_UART_SR`).
pub const SR: usize = 0x2C;
/// TX/RX FIFO (`CDNS_UART_FIFO`).
pub const FIFO: usize = 0x30;
/// Baud rate divider: BDIV (`CDNS_UART_BAUDDIV`).
pub const BAUDDIV: usize = 0x34;

/// CR: reset the RX path, self-clearing (`CDNS_UART_CR_RXRST`).
pub const CR_RXRST: u32 = 0x01;
/// CR: reset the TX path, self-clearing (`CDNS_UART_CR_TXRST`).
pub const CR_TXRST: u32 = 0x02;
/// CR: receiver enable (`CDNS_UART_CR_RX_EN`).
pub const CR_RX_EN: u32 = 0x04;
/// CR: receiver disable, wins over enable (`CDNS_UART_CR_RX_DIS`).
pub const CR_RX_DIS: u32 = 0x08;
/// CR: transmitter enable (`CDNS_UART_CR_TX_EN`).
pub const CR_TX_EN: u32 = 0x10;
/// CR: transmitter disable, wins over enable (`CDNS_UART_CR_TX_DIS`).
pub const CR_TX_DIS: u32 = 0x20;
/// MR: 8 data bits (`CDNS_UART_MR_CHARLEN_8_BIT`), one stop bit, normal mode: all zero.
pub const MR_8N1_NO_PARITY: u32 = 0x20; // `CDNS_UART_MR_PARITY_NONE`
/// SR: RX FIFO empty (`CDNS_UART_SR_RXEMPTY`).
pub const SR_RXEMPTY: u32 = 0x02;
/// SR: TX FIFO empty (`CDNS_UART_SR_TXEMPTY`).
pub const SR_TXEMPTY: u32 = 0x08;
/// SR: TX FIFO full (`CDNS_UART_SR_TXFULL`).
pub const SR_TXFULL: u32 = 0x10;
/// ISR: receiver overflow, a byte was lost (`CDNS_UART_IXR_OVERRUN`).
pub const ISR_OVERRUN: u32 = 0x20;
/// ISR: framing error (`CDNS_UART_IXR_FRAMING`).
pub const ISR_FRAMING: u32 = 0x40;
/// ISR: parity error (`CDNS_UART_IXR_PARITY`).
pub const ISR_PARITY: u32 = 0x80;
/// Baud divider bounds (`CDNS_UART_BDIV_MIN`, `CDNS_UART_BDIV_MAX`, `CDNS_UART_CD_MAX`).
pub const BDIV_MIN: u32 = 4;
/// See [`BDIV_MIN`].
pub const BDIV_MAX: u32 = 255;
/// See [`BDIV_MIN`].
pub const CD_MAX: u32 = 65535;

/// What went wrong on the line or in setting it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartError {
    /// The receive FIFO overflowed: bytes were lost before this read.
    Overrun,
    /// A byte arrived with a bad stop bit (wrong baud rate or line noise).
    Framing,
    /// A byte arrived with a bad parity bit.
    Parity,
    /// No divisor pair gives the baud rate within 3% from this reference clock.
    BaudRate {
        /// The rate asked for.
        baud: u32,
        /// The UART's reference clock.
        clock_hz: u32,
    },
    /// The TX/RX reset bits never cleared: the controller is not clocked or not there.
    NoResponse,
}

impl core::fmt::Display for UartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UartError::Overrun => f.write_str("UART receive overrun: bytes were lost"),
            UartError::Framing => f.write_str("UART framing error: check the baud rate"),
            UartError::Parity => f.write_str("UART parity error"),
            UartError::BaudRate { baud, clock_hz } => write!(
                f,
                "no UART divisor gives {baud} baud within 3% from a {clock_hz} Hz clock"
            ),
            UartError::NoResponse => f.write_str("the UART did not come out of reset"),
        }
    }
}

impl core::error::Error for UartError {}

impl hal::serial::embedded_io::Error for UartError {
    fn kind(&self) -> ErrorKind {
        match self {
            UartError::Overrun | UartError::Framing | UartError::Parity => ErrorKind::InvalidData,
            UartError::BaudRate { .. } => ErrorKind::InvalidInput,
            UartError::NoResponse => ErrorKind::Other,
        }
    }
}

/// `cdns_uart_calc_baud_divs`: the (CD, BDIV) pair closest to `baud`, if within 3%.
pub fn baud_divisors(clock_hz: u32, baud: u32) -> Option<(u32, u32)> {
    let mut best: Option<(u32, u32, u32)> = None;
    for bdiv in BDIV_MIN..=BDIV_MAX {
        let cd = clock_hz / (baud.max(1) * (bdiv + 1));
        if !(1..=CD_MAX).contains(&cd) {
            continue;
        }
        let actual = clock_hz / (cd * (bdiv + 1));
        let err = actual.abs_diff(baud);
        if best.is_none_or(|(_, _, e)| err < e) {
            best = Some((cd, bdiv, err));
        }
    }
    best.filter(|&(_, _, err)| u64::from(err) * 100 < 3 * u64::from(baud))
        .map(|(cd, bdiv, _)| (cd, bdiv))
}

/// Polls of the reset bits before giving up on the controller.
const RESET_POLLS: u32 = 10_000;

/// A Cadence UART, configured and enabled.
#[derive(Debug)]
pub struct CadenceUart<R> {
    regs: R,
}

impl<R: Regs> CadenceUart<R> {
    /// Resets both paths, sets 8N1 at `baud` from the reference clock `clock_hz` and enables the
    /// transmitter and receiver (the xilinx_uartps.c startup order).
    pub fn new(regs: R, clock_hz: u32, baud: u32) -> Result<Self, UartError> {
        let (cd, bdiv) =
            baud_divisors(clock_hz, baud).ok_or(UartError::BaudRate { baud, clock_hz })?;
        regs.write(CR, CR_RX_DIS | CR_TX_DIS);
        regs.write(CR, CR_RXRST | CR_TXRST | CR_RX_DIS | CR_TX_DIS);
        if !(0..RESET_POLLS).any(|_| regs.read(CR) & (CR_RXRST | CR_TXRST) == 0) {
            return Err(UartError::NoResponse);
        }
        regs.write(MR, MR_8N1_NO_PARITY);
        regs.write(BAUDGEN, cd);
        regs.write(BAUDDIV, bdiv);
        regs.write(ISR, u32::MAX);
        regs.write(CR, CR_RX_EN | CR_TX_EN);
        Ok(CadenceUart { regs })
    }

    /// Reports (and clears, write-one-to-clear) a receive error latched since the last read.
    fn take_error(&self) -> Result<(), UartError> {
        let isr = self.regs.read(ISR) & (ISR_OVERRUN | ISR_FRAMING | ISR_PARITY);
        if isr == 0 {
            return Ok(());
        }
        self.regs.write(ISR, isr);
        Err(if isr & ISR_OVERRUN != 0 {
            UartError::Overrun
        } else if isr & ISR_FRAMING != 0 {
            UartError::Framing
        } else {
            UartError::Parity
        })
    }

    fn rx_empty(&self) -> bool {
        self.regs.read(SR) & SR_RXEMPTY != 0
    }
}

impl<R> ErrorType for CadenceUart<R> {
    type Error = UartError;
}

impl<R: Regs> ReadReady for CadenceUart<R> {
    fn read_ready(&mut self) -> Result<bool, UartError> {
        self.take_error()?;
        Ok(!self.rx_empty())
    }
}

impl<R: Regs> Read for CadenceUart<R> {
    /// Waits for one byte, then takes what the FIFO holds, up to `buf.len()`.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.rx_empty() {
            self.take_error()?;
        }
        let mut n = 0;
        while n < buf.len() && !self.rx_empty() {
            buf[n] = self.regs.read(FIFO) as u8;
            n += 1;
        }
        self.take_error()?;
        Ok(n)
    }
}

impl<R: Regs> WriteReady for CadenceUart<R> {
    fn write_ready(&mut self) -> Result<bool, UartError> {
        Ok(self.regs.read(SR) & SR_TXFULL == 0)
    }
}

impl<R: Regs> Write for CadenceUart<R> {
    /// Waits for room for one byte, then fills the TX FIFO as far as it goes.
    fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.regs.read(SR) & SR_TXFULL != 0 {}
        let mut n = 0;
        while n < buf.len() && self.regs.read(SR) & SR_TXFULL == 0 {
            self.regs.write(FIFO, u32::from(buf[n]));
            n += 1;
        }
        Ok(n)
    }

    /// Waits until the TX FIFO has drained.
    fn flush(&mut self) -> Result<(), UartError> {
        while self.regs.read(SR) & SR_TXEMPTY == 0 {}
        Ok(())
    }
}
