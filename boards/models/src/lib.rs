//! Register models of the boards' peripherals, for testing their drivers on the host.
//!
//! Each model implements `board_mmio::Regs` (through the boards' `regs` re-export) and behaves like the hardware as its sources
//! describe it (cited in each module): FIFOs and status bits, write-one-to-clear, key-protected
//! registers that ignore writes without the key, counters that count in virtual time. Virtual
//! time ([`VirtualTime`]) advances only when a test says so, plus a small cost per register
//! access, so a driver's polling loop makes progress exactly as on a bus.
//! Avoids: real time, threads; sharing any code with the drivers beyond the register trait.

pub mod bcm2835_spi;
pub mod bsc_i2c;
pub mod cadence_i2c;
pub mod cadence_spi;
pub mod cadence_uart;
pub mod cadence_wdt;
pub mod emmc2;
pub mod gqspi;
pub mod i2c_fram;
pub mod mini_uart;
pub mod pl011;
pub mod pm_wdt;
pub mod rng200;
pub mod sd_card;
pub mod sdhost;
pub mod spi_nor;
pub mod system_timer;
pub mod time;
pub mod tpm;
pub mod ttc;
mod uart_line;

pub use time::VirtualTime;

/// A UART model's far end of the line.
pub trait Line {
    /// The peer sends `bytes`; they arrive at line rate.
    fn peer_send(&self, bytes: &[u8]);
    /// What the UART has put on the line so far (taken).
    fn peer_take(&self) -> Vec<u8>;
}

/// A watchdog model's reset line.
pub trait ResetLine {
    /// Board resets the watchdog has caused.
    fn resets(&self) -> u32;
}

/// A controller model with a storage part on its bus whose power a test can cut.
pub trait PartPower {
    /// Cut the part's power during its mutating operation `at_op` from now, `landed` bytes in.
    fn cut_power(&self, at_op: u64, landed: usize);
    /// Power the part back on.
    fn power_cycle(&self);
}

/// A part on an I2C bus, as a controller model sees it.
pub trait I2cPart {
    /// Whether the part answers at bus address `addr`.
    fn answers(&self, addr: u8) -> bool;
    /// One write transfer; false if not acknowledged.
    fn write(&mut self, bytes: &[u8]) -> bool;
    /// A read transfer of `n` bytes; `None` if not acknowledged.
    fn read(&mut self, n: usize) -> Option<Vec<u8>>;
}
