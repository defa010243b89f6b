//! The ZynqMP triple-timer counter (Cadence TTC, `cdns,ttc`), counter 1, as the board's
//! [`MonotonicClock`]: free-running, counting up, 32 bits wide, extended to 64 bits in software.
//!
//! Sources: Linux `drivers/clocksource/timer-cadence-ttc.c` (register offsets, the clocksource
//! setup: prescaler enable and value, counter reset into overflow mode) and `zynqmp.dtsi`
//! (`timer-width = <32>`; the Zynq-7000 TTC is 16 bits). Prescaling divides by `2^(PS_VAL + 1)`.
//!
//! The 64-bit extension counts wraps it sees, so [`MonotonicClock::now`] must be called at least
//! once per wrap period (`2^32 * 16 / clock_hz`: 687 s at 100 MHz); every partition's event loop
//! reads the clock far more often than that. Avoids: interrupts, the interval and match modes.

use crate::regs::Regs;
use core::cell::Cell;
use hal::time::{Instant, MonotonicClock};

/// Clock control, counter 1 (`TTC_CLK_CNTRL_OFFSET`).
pub const CLK_CNTRL: usize = 0x00;
/// Counter control, counter 1 (`TTC_CNT_CNTRL_OFFSET`).
pub const CNT_CNTRL: usize = 0x0C;
/// Counter value, counter 1, read-only (`TTC_COUNT_VAL_OFFSET`).
pub const COUNT_VAL: usize = 0x18;
/// CLK_CNTRL: prescaler enable (`CLK_CNTRL_PRESCALE_EN`).
pub const CLK_PS_EN: u32 = 0x1;
/// CLK_CNTRL: prescaler value field, bits 4:1 (`TTC_CLK_CNTRL_PSV_MASK`).
pub const CLK_PSV_MASK: u32 = 0x1E;
/// CNT_CNTRL: counter disabled (`TTC_CNT_CNTRL_DISABLE_MASK`).
pub const CNT_DIS: u32 = 0x01;
/// CNT_CNTRL: reset the count to zero, self-clearing (`CNT_CNTRL_RESET`).
pub const CNT_RST: u32 = 0x10;
/// Prescaler value used here: divide by `2^(3 + 1) = 16`.
pub const PS_VAL: u32 = 3;
/// The resulting division of the input clock.
pub const PRESCALE: u64 = 1 << (PS_VAL + 1);

/// The TTC counter 1 as a 64-bit monotonic clock.
#[derive(Debug)]
pub struct TtcClock<R> {
    regs: R,
    clock_hz: u64,
    last: Cell<u32>,
    wraps: Cell<u64>,
}

impl<R: Regs> TtcClock<R> {
    /// Stops counter 1, sets the prescaler, and restarts it from zero in overflow mode counting up
    /// (the `ttc_setup_clocksource` order). `clock_hz` is the TTC input clock (nonzero).
    pub fn start(regs: R, clock_hz: u32) -> Self {
        regs.write(CNT_CNTRL, CNT_DIS);
        regs.write(CLK_CNTRL, ((PS_VAL << 1) & CLK_PSV_MASK) | CLK_PS_EN);
        regs.write(CNT_CNTRL, CNT_RST);
        TtcClock {
            regs,
            clock_hz: u64::from(clock_hz.max(1)),
            last: Cell::new(0),
            wraps: Cell::new(0),
        }
    }

    /// Counter ticks since start, extended past the 32-bit wrap.
    pub fn ticks(&self) -> u64 {
        let now = self.regs.read(COUNT_VAL);
        if now < self.last.get() {
            self.wraps.set(self.wraps.get() + 1);
        }
        self.last.set(now);
        (self.wraps.get() << 32) | u64::from(now)
    }
}

impl<R: Regs> MonotonicClock for TtcClock<R> {
    fn now(&self) -> Instant {
        let us =
            u128::from(self.ticks()) * u128::from(PRESCALE) * 1_000_000 / u128::from(self.clock_hz);
        Instant::from_micros(us as u64)
    }
}
