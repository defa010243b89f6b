//! Model of the BCM2711 system timer, from the BCM2711 ARM Peripherals manual ("System Timer")
//! and Linux `bcm2835_timer.c`: a 64-bit counter at 1 MHz read as CLO (0x04) and CHI (0x08);
//! reading one half does not latch the other.

use crate::time::{Ticker, VirtualTime};
use board_devboard::regs::Regs;
use board_devboard::system_timer::{CHI, CLO, HZ};
use std::cell::RefCell;

#[derive(Debug, Default)]
struct State {
    counter: u64,
    clock: Ticker,
}

/// The free-running system timer.
#[derive(Debug)]
pub struct SystemTimerModel {
    time: VirtualTime,
    s: RefCell<State>,
}

impl SystemTimerModel {
    /// A timer whose counter reads `counter` now (the firmware ran for a while before).
    pub fn new(time: VirtualTime, counter: u64) -> Self {
        let last_ns = time.now_ns();
        SystemTimerModel {
            time,
            s: RefCell::new(State {
                counter,
                clock: Ticker::new(last_ns),
            }),
        }
    }

    fn sync(&self) {
        let now = self.time.now_ns();
        let mut s = self.s.borrow_mut();
        s.counter += s.clock.ticks(now, true, HZ, 1);
    }
}

impl Regs for SystemTimerModel {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        self.sync();
        let c = self.s.borrow().counter;
        match offset {
            CLO => c as u32,
            CHI => (c >> 32) as u32,
            _ => 0,
        }
    }

    fn write(&self, _offset: usize, _value: u32) {
        self.time.access();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_halves_carry_at_2_pow_32() {
        let t = VirtualTime::new();
        let m = SystemTimerModel::new(t.clone(), 0xFFFF_FFFF);
        assert_eq!((m.read(CHI), m.read(CLO)), (0, 0xFFFF_FFFF));
        t.advance(Duration::from_micros(2));
        assert_eq!(m.read(CHI), 1);
    }
}
