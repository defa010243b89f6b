//! The BCM2711 power-management watchdog (`brcm,bcm2711-pm`) as a [`WatchdogTimer`].
//!
//! Sources: Linux `drivers/watchdog/bcm2835_wdt.c` (offsets, the password, the 20-bit tick
//! field, the start sequence, 16 ticks per millisecond: `SECS_TO_WDOG_TICKS(x) = x << 16`).
//! Every write must carry the password 0x5A in bits 31:24 or the block ignores it. PM_WDOG counts
//! down; at zero, with PM_RSTC.WRCFG = full reset, the SoC resets.
//!
//! Avoids: stopping the timer (the hal contract), the partition bits of PM_RSTS.

use crate::regs::Regs;
use core::time::Duration;
use hal::watchdog::{WatchdogError, WatchdogTimer};

/// Reset control (`PM_RSTC`).
pub const PM_RSTC: usize = 0x1c;
/// Reset status (`PM_RSTS`).
pub const PM_RSTS: usize = 0x20;
/// Watchdog counter (`PM_WDOG`).
pub const PM_WDOG: usize = 0x24;
/// Password every write must carry in bits 31:24 (`PM_PASSWORD`).
pub const PM_PASSWORD: u32 = 0x5a00_0000;
/// Mask of the password field.
pub const PM_PASSWORD_MASK: u32 = 0xff00_0000;
/// The 20-bit tick count in PM_WDOG (`PM_WDOG_TIME_SET`).
pub const PM_WDOG_TIME_SET: u32 = 0x000f_ffff;
/// PM_RSTC: clear the reset configuration field (`PM_RSTC_WRCFG_CLR`).
pub const PM_RSTC_WRCFG_CLR: u32 = 0xffff_ffcf;
/// PM_RSTC: full reset at zero (`PM_RSTC_WRCFG_FULL_RESET`).
pub const PM_RSTC_WRCFG_FULL_RESET: u32 = 0x0000_0020;
/// PM_RSTC: the reset configuration field.
pub const PM_RSTC_WRCFG_MASK: u32 = 0x0000_0030;
/// Watchdog ticks per second (`SECS_TO_WDOG_TICKS(1)`).
pub const TICKS_PER_SEC: u64 = 1 << 16;

/// The PM watchdog on its registers.
#[derive(Debug)]
pub struct PmWatchdog<R> {
    regs: R,
    ticks: u32,
}

fn ticks_to_duration(ticks: u32) -> Duration {
    Duration::from_nanos(u64::from(ticks) * 1_000_000_000 / TICKS_PER_SEC)
}

impl<R: Regs> PmWatchdog<R> {
    /// A driver for the PM block at `regs`.
    pub fn new(regs: R) -> Self {
        PmWatchdog { regs, ticks: 0 }
    }

    fn load(&self) {
        self.regs
            .write(PM_WDOG, PM_PASSWORD | (self.ticks & PM_WDOG_TIME_SET));
    }
}

impl<R: Regs> WatchdogTimer for PmWatchdog<R> {
    fn timeout_range(&self) -> (Duration, Duration) {
        (ticks_to_duration(1), ticks_to_duration(PM_WDOG_TIME_SET))
    }

    /// `bcm2835_wdt_start`: load PM_WDOG, then select a full reset in PM_RSTC; both read back.
    fn start(&mut self, timeout: Duration) -> Result<(), WatchdogError> {
        let (min, max) = self.timeout_range();
        if timeout < min || timeout > max {
            return Err(WatchdogError::TimeoutOutOfRange {
                requested: timeout,
                min,
                max,
            });
        }
        let ticks = (timeout.as_nanos() * u128::from(TICKS_PER_SEC)).div_ceil(1_000_000_000);
        self.ticks = (ticks as u32).min(PM_WDOG_TIME_SET);
        self.load();
        let rstc = self.regs.read(PM_RSTC);
        self.regs.write(
            PM_RSTC,
            PM_PASSWORD | (rstc & PM_RSTC_WRCFG_CLR & !PM_PASSWORD_MASK) | PM_RSTC_WRCFG_FULL_RESET,
        );
        if self.regs.read(PM_RSTC) & PM_RSTC_WRCFG_MASK != PM_RSTC_WRCFG_FULL_RESET {
            self.ticks = 0;
            return Err(WatchdogError::Device);
        }
        Ok(())
    }

    /// Reloads the counter (`bcm2835_wdt_start` is also the driver's ping).
    fn kick(&mut self) -> Result<(), WatchdogError> {
        if self.ticks == 0 {
            return Err(WatchdogError::NotStarted);
        }
        self.load();
        Ok(())
    }
}
