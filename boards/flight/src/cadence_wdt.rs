//! The ZynqMP system watchdog (Cadence WDT, `cdns,wdt-r1p2`) as a [`WatchdogTimer`].
//!
//! Sources: Linux `drivers/watchdog/cadence_wdt.c` and U-Boot `drivers/watchdog/cdns_wdt.c`
//! (register map, keys, the counter-restart-value computation); Xilinx UG1087 (ZynqMP register
//! reference, SWDT). The counter is 24 bits, counting down at the APB clock divided by the
//! prescaler; a restart loads it with `CRV << 12 | 0xFFF`, so a timeout lasts
//! `(CRV * 4096 + 4095) * prescale / clock` seconds. At zero the reset output fires (board reset).
//!
//! Avoids: stopping the timer (the hal contract: once started it cannot be disarmed), interrupts.

use crate::regs::Regs;
use core::time::Duration;
use hal::watchdog::{WatchdogError, WatchdogTimer};

/// Zero mode register (cadence_wdt.c `CDNS_WDT_ZMR_OFFSET`).
pub const ZMR: usize = 0x0;
/// Counter control register (`CDNS_WDT_CCR_OFFSET`).
pub const CCR: usize = 0x4;
/// Restart register (`CDNS_WDT_RESTART_OFFSET`).
pub const RESTART: usize = 0x8;
/// Status register (`CDNS_WDT_SR_OFFSET`); bit 0 set once the counter reached zero.
pub const SR: usize = 0xC;

/// ZMR: enable the watchdog (`CDNS_WDT_ZMR_WDEN_MASK`).
pub const ZMR_WDEN: u32 = 0x1;
/// ZMR: drive the reset output at zero (`CDNS_WDT_ZMR_RSTEN_MASK`).
pub const ZMR_RSTEN: u32 = 0x2;
/// ZMR: drive the interrupt output at zero (`CDNS_WDT_ZMR_IRQEN_MASK`).
pub const ZMR_IRQEN: u32 = 0x4;
/// ZMR: a 16-cycle reset pulse (`CDNS_WDT_ZMR_RSTLEN_16`).
pub const ZMR_RSTLEN_16: u32 = 0x30;
/// ZMR access key: writes without it are ignored (`CDNS_WDT_ZMR_ZKEY_VAL`, 0xABC << 12).
pub const ZMR_ZKEY: u32 = 0xABC << 12;
/// Mask of the ZMR key field, bits 23:12.
pub const ZMR_ZKEY_MASK: u32 = 0xFFF << 12;
/// CCR access key (`CDNS_WDT_REGISTER_ACCESS_KEY`, 0x248 << 14).
pub const CCR_CKEY: u32 = 0x248 << 14;
/// Mask of the CCR key field, bits 25:14.
pub const CCR_CKEY_MASK: u32 = 0xFFF << 14;
/// CCR counter restart value field, bits 13:2 (`CDNS_WDT_CCR_CRV_MASK`).
pub const CCR_CRV_MASK: u32 = 0x3FFC;
/// Largest counter restart value (`CDNS_WDT_COUNTER_MAX`).
pub const CRV_MAX: u32 = 0xFFF;
/// Restart key (`CDNS_WDT_RESTART_KEY`): any other value written to RESTART is ignored.
pub const RESTART_KEY: u32 = 0x1999;
/// CCR clock prescaler select for /4096 (`CDNS_WDT_PRESCALE_SELECT_4096`).
pub const CCR_CLKSEL_4096: u32 = 3;
/// The prescaler this driver uses: Linux picks /4096 above 75 MHz (`CDNS_WDT_CLK_75MHZ`), which
/// gives the longest timeouts; the flight board's watchdog clock is above that.
pub const PRESCALE: u64 = 4096;

/// The watchdog on its registers, clocked at `clock_hz`.
#[derive(Debug)]
pub struct CadenceWdt<R> {
    regs: R,
    clock_hz: u32,
    started: bool,
}

impl<R: Regs> CadenceWdt<R> {
    /// A driver for the watchdog at `regs` whose input clock runs at `clock_hz` (nonzero).
    pub fn new(regs: R, clock_hz: u32) -> Self {
        CadenceWdt {
            regs,
            clock_hz: clock_hz.max(1),
            started: false,
        }
    }

    fn ticks_to_duration(&self, counter: u64) -> Duration {
        let ns =
            u128::from(counter) * u128::from(PRESCALE) * 1_000_000_000 / u128::from(self.clock_hz);
        Duration::from_nanos(ns as u64)
    }

    /// The restart value whose timeout is the shortest one not below `timeout`.
    fn crv_for(&self, timeout: Duration) -> u32 {
        let ticks =
            timeout.as_nanos() * u128::from(self.clock_hz) / (u128::from(PRESCALE) * 1_000_000_000);
        let crv = ticks.saturating_sub(0xFFF).div_ceil(0x1000);
        crv.min(u128::from(CRV_MAX)) as u32
    }
}

impl<R: Regs> WatchdogTimer for CadenceWdt<R> {
    fn timeout_range(&self) -> (Duration, Duration) {
        (
            self.ticks_to_duration(0xFFF),
            self.ticks_to_duration(u64::from(CRV_MAX) * 0x1000 + 0xFFF),
        )
    }

    /// The cadence_wdt.c start sequence: CCR with its key, ZMR enable with reset output, then a
    /// restart. ZMR is read back: a watchdog that did not take the enable is a device fault.
    fn start(&mut self, timeout: Duration) -> Result<(), WatchdogError> {
        let (min, max) = self.timeout_range();
        if timeout < min || timeout > max {
            return Err(WatchdogError::TimeoutOutOfRange {
                requested: timeout,
                min,
                max,
            });
        }
        let crv = self.crv_for(timeout);
        self.regs.write(
            CCR,
            CCR_CKEY | ((crv << 2) & CCR_CRV_MASK) | CCR_CLKSEL_4096,
        );
        self.regs
            .write(ZMR, ZMR_ZKEY | ZMR_WDEN | ZMR_RSTEN | ZMR_RSTLEN_16);
        self.regs.write(RESTART, RESTART_KEY);
        let zmr = self.regs.read(ZMR);
        let ccr = self.regs.read(CCR);
        if zmr & (ZMR_WDEN | ZMR_RSTEN) != ZMR_WDEN | ZMR_RSTEN || (ccr & CCR_CRV_MASK) >> 2 != crv
        {
            return Err(WatchdogError::Device);
        }
        self.started = true;
        Ok(())
    }

    fn kick(&mut self) -> Result<(), WatchdogError> {
        if !self.started {
            return Err(WatchdogError::NotStarted);
        }
        self.regs.write(RESTART, RESTART_KEY);
        Ok(())
    }
}
