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

/// Virtual time as one model counts it: when it last looked, and the part of a tick not yet
/// counted (units of `hz`-nanoseconds), so that no time is lost between updates.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ticker {
    last_ns: u64,
    rem: u128,
}

impl Ticker {
    /// Counting from `now_ns`.
    pub fn new(now_ns: u64) -> Self {
        Ticker {
            last_ns: now_ns,
            rem: 0,
        }
    }

    /// Whole ticks of a `hz / divide` clock since the last call. While `running` is false the
    /// time passes uncounted (a stopped counter), and the part of a tick already counted stays.
    pub fn ticks(&mut self, now_ns: u64, running: bool, hz: u64, divide: u64) -> u64 {
        let elapsed = now_ns - self.last_ns;
        self.last_ns = now_ns;
        if !running {
            return 0;
        }
        let unit = u128::from(divide) * 1_000_000_000;
        let total = u128::from(elapsed) * u128::from(hz) + self.rem;
        self.rem = total % unit;
        (total / unit) as u64
    }

    /// Drops the part of a tick counted so far (the counter was reloaded or reset).
    pub fn restart_fraction(&mut self) {
        self.rem = 0;
    }
}
