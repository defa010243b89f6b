//! Virtual time shared by a test and its models: nanoseconds since the model board powered on.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// What one register access costs (an APB access at 100 MHz takes a few cycles).
pub const ACCESS_NS: u64 = 20;

/// A shared virtual clock; clones see the same time.
#[derive(Debug, Clone, Default)]
pub struct VirtualTime(Rc<Cell<u64>>);

impl VirtualTime {
    /// Time zero.
    pub fn new() -> Self {
        Self::default()
    }
    /// Nanoseconds since time zero.
    pub fn now_ns(&self) -> u64 {
        self.0.get()
    }
    /// Lets `d` pass.
    pub fn advance(&self, d: Duration) {
        self.0.set(self.0.get() + d.as_nanos() as u64);
    }
    /// One register access.
    pub fn access(&self) {
        self.0.set(self.0.get() + ACCESS_NS);
    }
}

/// Whole ticks of a `hz / divide` clock in `elapsed_ns`, carrying the remainder in `rem`
/// (units of `hz`-nanoseconds) so no time is lost between updates.
pub fn ticks(elapsed_ns: u64, hz: u64, divide: u64, rem: &mut u128) -> u64 {
    let unit = u128::from(divide) * 1_000_000_000;
    let total = u128::from(elapsed_ns) * u128::from(hz) + *rem;
    *rem = total % unit;
    (total / unit) as u64
}
