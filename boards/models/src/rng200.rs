//! Model of the BCM2711 RNG200, from Linux `iproc-rng200.c`: once CTRL's RBG enable is set the
//! 32-word FIFO fills (a word per microsecond here) and FIFO_COUNT shows how many wait; each
//! FIFO_DATA read takes one; INT_STATUS bits latch and clear by writing one; a soft reset of the
//! RNG empties the FIFO. The words come from a seeded xorshift: the model stands in for the
//! block's interface, not for its entropy. [`Rng200Model::fail_health_test`] latches NIST_FAIL
//! as the block does when its health test trips.

use crate::time::{Ticker, VirtualTime};
use board_devboard::regs::Regs;
use board_devboard::rng200::*;
use std::cell::RefCell;
use std::collections::VecDeque;

/// FIFO depth in words.
pub const FIFO_WORDS: usize = 32;

#[derive(Debug, Default)]
struct State {
    ctrl: u32,
    int_status: u32,
    resets: [u32; 2],
    fifo: VecDeque<u32>,
    seed: u64,
    clock: Ticker,
}

/// The RNG200 block.
#[derive(Debug)]
pub struct Rng200Model {
    time: VirtualTime,
    s: RefCell<State>,
}

impl Rng200Model {
    /// At reset (disabled), producing words from `seed` once enabled.
    pub fn new(time: VirtualTime, seed: u64) -> Self {
        let last_ns = time.now_ns();
        Rng200Model {
            time,
            s: RefCell::new(State {
                seed: seed | 1,
                clock: Ticker::new(last_ns),
                ..State::default()
            }),
        }
    }

    /// The health test trips: NIST_FAIL latches.
    pub fn fail_health_test(&self) {
        self.s.borrow_mut().int_status |= INT_NIST_FAIL;
    }

    fn sync(&self) {
        let now = self.time.now_ns();
        let mut s = self.s.borrow_mut();
        let running = s.ctrl & CTRL_RBGEN_MASK != 0;
        let n = s.clock.ticks(now, running, 1_000_000, 1);
        for _ in 0..n.min(FIFO_WORDS as u64) {
            if s.fifo.len() == FIFO_WORDS {
                break;
            }
            let mut x = s.seed;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.seed = x;
            s.fifo.push_back((x >> 16) as u32);
        }
    }
}

impl Regs for Rng200Model {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        self.sync();
        let mut s = self.s.borrow_mut();
        match offset {
            RNG_CTRL => s.ctrl,
            RNG_SOFT_RESET => s.resets[0],
            RBG_SOFT_RESET => s.resets[1],
            RNG_INT_STATUS => s.int_status,
            RNG_FIFO_COUNT => s.fifo.len() as u32,
            RNG_FIFO_DATA => s.fifo.pop_front().unwrap_or(0),
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        self.sync();
        let mut s = self.s.borrow_mut();
        match offset {
            RNG_CTRL => s.ctrl = value,
            RNG_SOFT_RESET => {
                if value & SOFT_RESET != 0 {
                    s.fifo.clear();
                }
                s.resets[0] = value & SOFT_RESET;
            }
            RBG_SOFT_RESET => s.resets[1] = value & SOFT_RESET,
            RNG_INT_STATUS => s.int_status &= !value,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_fifo_fills_only_when_enabled_and_a_soft_reset_empties_it() {
        let t = VirtualTime::new();
        let m = Rng200Model::new(t.clone(), 7);
        t.advance(Duration::from_millis(1));
        assert_eq!(m.read(RNG_FIFO_COUNT), 0);
        m.write(RNG_CTRL, CTRL_RBGEN_ENABLE);
        t.advance(Duration::from_millis(1));
        assert_eq!(m.read(RNG_FIFO_COUNT), FIFO_WORDS as u32);
        let (a, b) = (m.read(RNG_FIFO_DATA), m.read(RNG_FIFO_DATA));
        assert_ne!(a, b);
        m.write(RNG_SOFT_RESET, SOFT_RESET);
        assert_eq!(m.read(RNG_FIFO_COUNT), 0);
        m.fail_health_test();
        m.write(RNG_INT_STATUS, INT_NIST_FAIL);
        assert_eq!(m.read(RNG_INT_STATUS), 0, "write one to clear");
    }
}
