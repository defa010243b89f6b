//! The BCM2711 system timer (`brcm,bcm2835-system-timer`) as the [`MonotonicClock`]: a 64-bit
//! free-running counter at 1 MHz, read as two 32-bit halves.
//!
//! Sources: Linux `drivers/clocksource/bcm2835_timer.c` (CS at 0x00, CLO at 0x04, compare
//! registers from 0x0C; `clock-frequency = <1000000>` in `bcm283x.dtsi`) and the BCM2711 ARM
//! Peripherals manual, "System Timer" (CHI at 0x08). The halves are read CHI, CLO, CHI and
//! retried if CHI moved, so a carry between the reads cannot give a time 71 minutes off.
//! Avoids: the compare channels (C0 and C2 belong to the VideoCore firmware).

use crate::regs::Regs;
use hal::time::{Instant, MonotonicClock};

/// Counter, low 32 bits (`CLO`).
pub const CLO: usize = 0x04;
/// Counter, high 32 bits (`CHI`).
pub const CHI: usize = 0x08;
/// Ticks per second.
pub const HZ: u64 = 1_000_000;

/// The system timer, counting since the SoC came out of reset.
#[derive(Debug)]
pub struct SystemTimer<R> {
    regs: R,
    epoch: u64,
}

impl<R: Regs> SystemTimer<R> {
    /// The clock, with power-on at the counter's current value.
    pub fn start(regs: R) -> Self {
        let mut t = SystemTimer { regs, epoch: 0 };
        t.epoch = t.counter();
        t
    }

    /// The 64-bit counter, consistent across the halves.
    pub fn counter(&self) -> u64 {
        loop {
            let hi = self.regs.read(CHI);
            let lo = self.regs.read(CLO);
            if self.regs.read(CHI) == hi {
                return (u64::from(hi) << 32) | u64::from(lo);
            }
        }
    }
}

impl<R: Regs> MonotonicClock for SystemTimer<R> {
    fn now(&self) -> Instant {
        Instant::from_micros(self.counter().saturating_sub(self.epoch) * 1_000_000 / HZ)
    }
}
