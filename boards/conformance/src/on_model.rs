//! Rigs that hand a driver on its register model to the suites, in virtual time: one per device
//! class, whatever the board.

use crate::{clock, flash, serial, watchdog};
use board_models::{Line, PartPower, ResetLine, VirtualTime};
use core::time::Duration;
use hal::flash::NorFlash;
use hal::serial::Serial;
use hal::time::MonotonicClock;
use hal::watchdog::WatchdogTimer;

/// A UART driver on its model; `settle` lets `poll` of line time pass, which must be shorter
/// than the time the device's RX FIFO takes to fill.
pub struct Uart<'m, M, D> {
    /// The model's time.
    pub time: VirtualTime,
    /// The model (its far end).
    pub model: &'m M,
    /// The driver.
    pub dut: D,
    /// How often the partition polls the line.
    pub poll: Duration,
}

impl<M: Line, D: Serial> serial::SerialRig for Uart<'_, M, D> {
    type Dut = D;
    fn dut(&mut self) -> &mut D {
        &mut self.dut
    }
    fn peer_send(&mut self, bytes: &[u8]) {
        self.model.peer_send(bytes);
    }
    fn peer_take(&mut self) -> Vec<u8> {
        self.model.peer_take()
    }
    fn settle(&mut self) {
        self.time.advance(self.poll);
    }
}

/// A watchdog driver on its model.
pub struct Wdt<'m, M, D> {
    /// The model's time.
    pub time: VirtualTime,
    /// The model (its reset line).
    pub model: &'m M,
    /// The driver.
    pub dut: D,
    /// The device's timeout step.
    pub granularity: Duration,
    /// The timeout to arm.
    pub timeout: Duration,
}

impl<M: ResetLine, D: WatchdogTimer> watchdog::WatchdogRig for Wdt<'_, M, D> {
    type Dut = D;
    fn dut(&mut self) -> &mut D {
        &mut self.dut
    }
    fn advance(&mut self, d: Duration) {
        self.time.advance(d);
    }
    fn resets(&mut self) -> u32 {
        self.model.resets()
    }
    fn granularity(&self) -> Duration {
        self.granularity
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// A clock driver on its model: time is exact.
pub struct Clock<D> {
    /// The model's time.
    pub time: VirtualTime,
    /// The driver.
    pub dut: D,
    /// The clock's resolution (at least a microsecond: `hal::time::Instant`'s unit).
    pub resolution: Duration,
    /// The long run to check, past the counter's wrap.
    pub long_run: (Duration, u32),
}

impl<D: MonotonicClock> clock::ClockRig for Clock<D> {
    type Dut = D;
    fn dut(&self) -> &D {
        &self.dut
    }
    fn advance(&mut self, d: Duration) {
        self.time.advance(d);
    }
    fn resolution(&self) -> Duration {
        self.resolution
    }
    fn exact(&self) -> bool {
        true
    }
    fn long_run(&self) -> Option<(Duration, u32)> {
        Some(self.long_run)
    }
}

/// A flash driver on a controller model with its storage part (SPI NOR or I2C FRAM).
pub struct Flash<'m, M, D> {
    /// The controller model.
    pub model: &'m M,
    /// The driver.
    pub dut: D,
}

impl<M: PartPower, D: NorFlash> flash::FlashRig for Flash<'_, M, D> {
    type Dut = D;
    fn dut(&mut self) -> &mut D {
        &mut self.dut
    }
    fn cut_power(&mut self, at_op: u64, landed: usize) {
        self.model.cut_power(at_op, landed);
    }
    fn power_cycle(&mut self) {
        self.model.power_cycle();
    }
}
