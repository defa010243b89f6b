//! Model of the Cadence system watchdog (ZynqMP SWDT), from Xilinx UG1087 (SWDT registers) and
//! Linux `cadence_wdt.c`: ZMR, CCR and RESTART take a write only with their key (0xABC in ZMR
//! bits 23:12, 0x248 in CCR bits 25:14, 0x1999 in RESTART bits 15:0) and ignore it otherwise.
//! The 24-bit counter counts down at `clock / prescale` while ZMR.WDEN is set; a restart loads
//! `CCR.CRV << 12 | 0xFFF`. At zero SR bit 0 is set and, with ZMR.RSTEN, the board resets: the
//! model counts the reset and returns to its power-on state (watchdog disabled).

use crate::time::{Ticker, VirtualTime};
use board_flight::cadence_wdt::*;
use board_flight::regs::Regs;
use std::cell::RefCell;

#[derive(Debug, Default)]
struct State {
    zmr: u32,
    ccr: u32,
    sr: u32,
    counter: u64,
    clock: Ticker,
    resets: u32,
    ignored: u32,
}

/// The watchdog's registers and counter.
#[derive(Debug)]
pub struct WdtModel {
    time: VirtualTime,
    clock_hz: u32,
    s: RefCell<State>,
}

const PRESCALES: [u64; 4] = [8, 64, 512, 4096];

impl WdtModel {
    /// A watchdog clocked at `clock_hz`, powered on (disabled) at the current virtual time.
    pub fn new(time: VirtualTime, clock_hz: u32) -> Self {
        let last_ns = time.now_ns();
        WdtModel {
            time,
            clock_hz,
            s: RefCell::new(State {
                ccr: 0x3FFC,
                clock: Ticker::new(last_ns),
                ..State::default()
            }),
        }
    }

    /// Writes ignored for a missing or wrong key.
    pub fn ignored_writes(&self) -> u32 {
        self.s.borrow().ignored
    }

    /// The counter now (meaningful while enabled).
    pub fn counter(&self) -> u64 {
        self.sync();
        self.s.borrow().counter
    }

    /// Brings the counter up to the current virtual time.
    pub fn sync(&self) {
        let now = self.time.now_ns();
        let mut s = self.s.borrow_mut();
        let running = s.zmr & ZMR_WDEN != 0;
        let prescale = PRESCALES[(s.ccr & 3) as usize];
        let n = s
            .clock
            .ticks(now, running, u64::from(self.clock_hz), prescale);
        if !running {
            return;
        }
        if n < s.counter {
            s.counter -= n;
            return;
        }
        s.counter = 0;
        s.sr |= 1;
        if s.zmr & ZMR_RSTEN != 0 {
            let resets = s.resets + 1;
            let ignored = s.ignored;
            *s = State {
                ccr: 0x3FFC,
                clock: Ticker::new(now),
                resets,
                ignored,
                ..State::default()
            };
        }
    }

    fn reload(s: &mut State) {
        s.counter = u64::from((s.ccr & CCR_CRV_MASK) >> 2) << 12 | 0xFFF;
    }
}

impl crate::ResetLine for WdtModel {
    /// Board resets the watchdog has caused.
    fn resets(&self) -> u32 {
        self.sync();
        self.s.borrow().resets
    }
}

impl Regs for WdtModel {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        self.sync();
        let s = self.s.borrow();
        match offset {
            ZMR => s.zmr,
            CCR => s.ccr,
            SR => s.sr,
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        self.sync();
        let mut s = self.s.borrow_mut();
        match offset {
            ZMR if value & ZMR_ZKEY_MASK == ZMR_ZKEY => {
                let was = s.zmr & ZMR_WDEN;
                s.zmr = value & 0xFFF;
                if was == 0 && s.zmr & ZMR_WDEN != 0 {
                    Self::reload(&mut s);
                }
            }
            CCR if value & CCR_CKEY_MASK == CCR_CKEY => s.ccr = value & 0x3FFF,
            RESTART if value & 0xFFFF == RESTART_KEY => Self::reload(&mut s),
            _ => s.ignored += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResetLine;
    use std::time::Duration;

    const HZ: u32 = 100_000_000;

    fn armed(crv: u32) -> (VirtualTime, WdtModel) {
        let t = VirtualTime::new();
        let m = WdtModel::new(t.clone(), HZ);
        m.write(CCR, CCR_CKEY | (crv << 2) | 3);
        m.write(ZMR, ZMR_ZKEY | ZMR_WDEN | ZMR_RSTEN);
        m.write(RESTART, RESTART_KEY);
        (t, m)
    }

    #[test]
    fn writes_without_the_key_are_ignored() {
        let t = VirtualTime::new();
        let m = WdtModel::new(t.clone(), HZ);
        m.write(ZMR, ZMR_WDEN | ZMR_RSTEN);
        m.write(CCR, 5 << 2);
        m.write(ZMR, (0xABD << 12) | ZMR_WDEN);
        assert_eq!(m.read(ZMR), 0);
        assert_eq!(m.read(CCR), 0x3FFC);
        assert_eq!(m.ignored_writes(), 3);
        t.advance(Duration::from_secs(1000));
        assert_eq!(m.resets(), 0, "a disabled watchdog never fires");
    }

    #[test]
    fn it_counts_down_and_resets_the_board_at_zero() {
        // CRV 0: 4095 ticks of 4096 / 100 MHz = 167.7 ms.
        let (t, m) = armed(0);
        let period_ns = 4095u64 * 4096 * 1_000_000_000 / u64::from(HZ);
        t.advance(Duration::from_nanos(period_ns - 1_000_000));
        assert_eq!(m.resets(), 0);
        assert!(m.counter() > 0);
        t.advance(Duration::from_millis(2));
        assert_eq!(m.resets(), 1);
        assert_eq!(
            m.read(ZMR) & ZMR_WDEN,
            0,
            "after the reset it is disabled again"
        );
    }

    #[test]
    fn a_restart_with_the_key_reloads_the_counter() {
        let (t, m) = armed(1);
        for _ in 0..10 {
            t.advance(Duration::from_millis(200));
            m.write(RESTART, RESTART_KEY);
        }
        assert_eq!(m.resets(), 0);
        m.write(RESTART, 0x1998);
        t.advance(Duration::from_millis(400));
        assert_eq!(m.resets(), 1, "a restart without the key does not reload");
    }
}
