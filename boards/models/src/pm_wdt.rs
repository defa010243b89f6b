//! Model of the BCM2711 power-management watchdog, from Linux `bcm2835_wdt.c` and
//! `bcm2835-power.c` (`PM_WRITE` ORs the password into every write): writes without 0x5A in
//! bits 31:24 are ignored; PM_WDOG's 20-bit count runs down at 65536 ticks per second once
//! loaded; at zero, if PM_RSTC.WRCFG selects a full reset, the SoC resets: the model counts it,
//! sets PM_RSTS.HADWRF and returns to its power-on state (counter stopped).

use crate::time::{Ticker, VirtualTime};
use board_devboard::pm_wdt::*;
use board_devboard::regs::Regs;
use std::cell::RefCell;

/// PM_RSTS: the last reset was a watchdog full reset (`PM_RSTS_HADWRF_SET`).
pub const PM_RSTS_HADWRF: u32 = 0x20;

#[derive(Debug, Default)]
struct State {
    rstc: u32,
    rsts: u32,
    wdog: u32,
    clock: Ticker,
    resets: u32,
    ignored: u32,
}

/// The PM block's watchdog registers.
#[derive(Debug)]
pub struct PmWdtModel {
    time: VirtualTime,
    s: RefCell<State>,
}

impl PmWdtModel {
    /// At power-on: counter stopped, no reset configured.
    pub fn new(time: VirtualTime) -> Self {
        let last_ns = time.now_ns();
        PmWdtModel {
            time,
            s: RefCell::new(State {
                clock: Ticker::new(last_ns),
                ..State::default()
            }),
        }
    }

    /// Writes ignored for lacking the password.
    pub fn ignored_writes(&self) -> u32 {
        self.s.borrow().ignored
    }

    fn sync(&self) {
        let now = self.time.now_ns();
        let mut s = self.s.borrow_mut();
        let running = s.wdog != 0;
        let n = s.clock.ticks(now, running, TICKS_PER_SEC, 1);
        if !running {
            return;
        }
        if n < u64::from(s.wdog) {
            s.wdog -= n as u32;
            return;
        }
        s.wdog = 0;
        if s.rstc & PM_RSTC_WRCFG_MASK == PM_RSTC_WRCFG_FULL_RESET {
            let (resets, ignored) = (s.resets + 1, s.ignored);
            *s = State {
                rsts: PM_RSTS_HADWRF,
                clock: Ticker::new(now),
                resets,
                ignored,
                ..State::default()
            };
        }
    }
}

impl crate::ResetLine for PmWdtModel {
    /// SoC resets the watchdog caused.
    fn resets(&self) -> u32 {
        self.sync();
        self.s.borrow().resets
    }
}

impl Regs for PmWdtModel {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        self.sync();
        let s = self.s.borrow();
        match offset {
            PM_RSTC => s.rstc,
            PM_RSTS => s.rsts,
            PM_WDOG => s.wdog,
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        self.sync();
        let mut s = self.s.borrow_mut();
        if value & PM_PASSWORD_MASK != PM_PASSWORD {
            s.ignored += 1;
            return;
        }
        let value = value & !PM_PASSWORD_MASK;
        match offset {
            PM_RSTC => s.rstc = value,
            PM_RSTS => s.rsts = value,
            PM_WDOG => {
                s.wdog = value & PM_WDOG_TIME_SET;
                s.clock.restart_fraction();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResetLine;
    use std::time::Duration;

    #[test]
    fn writes_without_the_password_are_ignored() {
        let t = VirtualTime::new();
        let m = PmWdtModel::new(t.clone());
        m.write(PM_WDOG, 100);
        m.write(PM_RSTC, PM_RSTC_WRCFG_FULL_RESET);
        assert_eq!((m.read(PM_WDOG), m.read(PM_RSTC)), (0, 0));
        assert_eq!(m.ignored_writes(), 2);
    }

    #[test]
    fn it_counts_down_at_65536_hz_and_resets_at_zero() {
        let t = VirtualTime::new();
        let m = PmWdtModel::new(t.clone());
        m.write(PM_WDOG, PM_PASSWORD | 65536);
        m.write(PM_RSTC, PM_PASSWORD | PM_RSTC_WRCFG_FULL_RESET);
        t.advance(Duration::from_millis(500));
        let left = m.read(PM_WDOG);
        assert!((32_760..=32_770).contains(&left), "{left}");
        t.advance(Duration::from_millis(499));
        assert_eq!(m.resets(), 0);
        t.advance(Duration::from_millis(2));
        assert_eq!(m.resets(), 1);
        assert_eq!(m.read(PM_RSTS) & PM_RSTS_HADWRF, PM_RSTS_HADWRF);
        assert_eq!(m.read(PM_RSTC), 0, "power-on state after the reset");
    }

    #[test]
    fn without_a_reset_configured_zero_does_nothing() {
        let t = VirtualTime::new();
        let m = PmWdtModel::new(t.clone());
        m.write(PM_WDOG, PM_PASSWORD | 10);
        t.advance(Duration::from_secs(1));
        assert_eq!(m.resets(), 0);
    }
}
