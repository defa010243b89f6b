//! [`Uart16550`]: the driver of a `uart` device on this board (`system::UART`: QEMU's COM2, a
//! 16550A with 16-byte FIFOs), behind the `hal::serial` traits the comms component's standby
//! link uses, on the two capabilities the monitor granted the owner (`system::uart_slots`): an
//! I/O port capability for the port's eight registers only, and its IRQ handler.
//!
//! - **Receive is interrupt-driven** (IRQ 3): the receive-data interrupt (IER bit 0: 14
//!   bytes in the FIFO, or the 16550's receive timeout of four characters' time) reaches the
//!   owner's notification with the device's badge bit (`system::uart_source`), which wakes the
//!   component's event loop. [`ReadReady`] says whether a byte is waiting (LSR bit 0); a
//!   read takes what the FIFO holds. Whenever the FIFO is found empty the driver acknowledges
//!   the interrupt (the kernel keeps it masked from delivery to acknowledgement) and looks
//!   once more, so a byte that arrived in between is read now, not left behind.
//! - **Transmit is polled**: [`WriteReady`] reads LSR bit 5 (transmit FIFO empty), and a
//!   write then puts up to 16 bytes into the FIFO. What does not fit waits in comms' PPP
//!   engine for its next flush (it never blocks).
//! - 115200 baud, 8N1, DTR, RTS and OUT2 (the PC's interrupt enable) set. QEMU ignores the
//!   rate on a pty.
//!
//! A receiver overrun (LSR bit 1: bytes lost because the FIFO was full) is counted and logged
//! at 1, 2, 4, ... occurrences; PPP's FCS refuses the damaged frame, and the ground retries.
//! A refused port access (a kernel error) is a [`UartError`], which comms counts as a line
//! failure.
//!
//! Avoids: blocking in `read_ready`/`write_ready`; any port outside the granted range.

use hal::serial::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};
use sel4::{CPtr, Word, regs};

const RBR_THR: Word = 0;
const IER: Word = 1;
const FCR: Word = 2;
const LCR: Word = 3;
const MCR: Word = 4;
const LSR: Word = 5;
/// LCR: divisor latch access.
const LCR_DLAB: u8 = 0x80;
/// LCR: 8 data bits, no parity, 1 stop bit.
const LCR_8N1: u8 = 0x03;
/// FCR: FIFOs on, both cleared, receive interrupt at 14 bytes (or after four characters'
/// time without one, the 16550's receive timeout).
const FCR_ON_CLEAR: u8 = 0xc7;
/// MCR: DTR, RTS, OUT2.
const MCR_DTR_RTS_OUT2: u8 = 0x0b;
/// IER: receive data available.
const IER_RDA: u8 = 0x01;
const LSR_DR: u8 = 0x01;
const LSR_OE: u8 = 0x02;
const LSR_THRE: u8 = 0x20;
const LSR_TEMT: u8 = 0x40;
/// 115200 baud from the 1.8432 MHz clock.
const DIVISOR: u8 = 1;
/// The transmit FIFO's depth.
const TX_FIFO: usize = 16;

/// A port access the kernel refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UartError {
    /// The register's offset from the port's base.
    pub register: Word,
    /// The kernel's error.
    pub error: sel4::Error,
}

impl core::fmt::Display for UartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "the kernel refused access to the serial port's register {} ({}): the I/O port capability does not cover it",
            self.register,
            self.error.name()
        )
    }
}

impl core::error::Error for UartError {}

impl hal::serial::embedded_io::Error for UartError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// A 16550 on its I/O ports (see the module docs).
pub struct Uart16550 {
    port: CPtr,
    irq: CPtr,
    base: Word,
    overruns: u32,
}

impl Uart16550 {
    /// Programs the port behind capabilities `port` (I/O ports from `base`) and `irq` (its IRQ
    /// handler), and unmasks its interrupt.
    pub fn new(port: CPtr, irq: CPtr, base: u16) -> Result<Self, UartError> {
        let mut u = Self {
            port,
            irq,
            base: Word::from(base),
            overruns: 0,
        };
        u.out(IER, 0)?;
        u.out(LCR, LCR_DLAB)?;
        u.out(RBR_THR, DIVISOR)?;
        u.out(IER, 0)?;
        u.out(LCR, LCR_8N1)?;
        u.out(FCR, FCR_ON_CLEAR)?;
        u.out(MCR, MCR_DTR_RTS_OUT2)?;
        u.out(IER, IER_RDA)?;
        u.ack()?;
        Ok(u)
    }

    fn out(&mut self, register: Word, value: u8) -> Result<(), UartError> {
        regs::io_out8(self.port, self.base + register, value)
            .map_err(|error| UartError { register, error })
    }

    fn inp(&mut self, register: Word) -> Result<u8, UartError> {
        regs::io_in8(self.port, self.base + register).map_err(|error| UartError { register, error })
    }

    /// Acknowledges the interrupt: the kernel delivers the next one.
    fn ack(&mut self) -> Result<(), UartError> {
        regs::irq_ack(self.irq).map_err(|error| UartError {
            register: IER,
            error,
        })
    }

    /// The line status, with an overrun counted.
    fn status(&mut self) -> Result<u8, UartError> {
        let lsr = self.inp(LSR)?;
        if lsr & LSR_OE != 0 {
            self.overruns = self.overruns.wrapping_add(1);
            if self.overruns.is_power_of_two() {
                log::warn!(
                    "serial port: receive overrun, bytes lost ({} so far); PPP refuses the damaged frame",
                    self.overruns
                );
            }
        }
        Ok(lsr)
    }
}

impl ErrorType for Uart16550 {
    type Error = UartError;
}

impl ReadReady for Uart16550 {
    fn read_ready(&mut self) -> Result<bool, UartError> {
        if self.status()? & LSR_DR != 0 {
            return Ok(true);
        }
        self.ack()?;
        Ok(self.status()? & LSR_DR != 0)
    }
}

impl Read for Uart16550 {
    /// Takes what the receive FIFO holds, up to `buf.len()`; once it is empty, acknowledges the
    /// interrupt and looks once more (see the module docs). Blocks (spinning on the line
    /// status) until at least one byte is there, as `embedded_io::Read` asks; comms calls it
    /// only after [`ReadReady`] said a byte waits.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
        let mut n = 0;
        let mut acked = false;
        while n < buf.len() {
            if self.status()? & LSR_DR != 0 {
                buf[n] = self.inp(RBR_THR)?;
                n += 1;
            } else if n == 0 {
                core::hint::spin_loop();
            } else if !acked {
                self.ack()?;
                acked = true;
            } else {
                break;
            }
        }
        Ok(n)
    }
}

impl WriteReady for Uart16550 {
    fn write_ready(&mut self) -> Result<bool, UartError> {
        Ok(self.status()? & LSR_THRE != 0)
    }
}

impl Write for Uart16550 {
    /// Waits (spinning) for an empty transmit FIFO, as `embedded_io::Write` asks, then fills
    /// it with up to 16 bytes; comms calls it only after [`WriteReady`] said it is empty.
    fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.status()? & LSR_THRE == 0 {
            core::hint::spin_loop();
        }
        let n = buf.len().min(TX_FIFO);
        for &b in &buf[..n] {
            self.out(RBR_THR, b)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), UartError> {
        while self.status()? & LSR_TEMT == 0 {
            core::hint::spin_loop();
        }
        Ok(())
    }
}
