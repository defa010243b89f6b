//! Model of the Cadence triple-timer counter's counter 1 (ZynqMP TTC), from Xilinx UG1087 (TTC
//! registers) and Linux `timer-cadence-ttc.c`: a 32-bit up-counter clocked at the input clock,
//! divided by `2^(PS_VAL + 1)` when CLK_CNTRL.PS_EN is set; CNT_CNTRL.DIS stops it; RST zeroes it
//! and clears itself; in overflow mode it wraps from 0xFFFF_FFFF to zero.

use crate::time::{Ticker, VirtualTime};
use board_flight::regs::Regs;
use board_flight::ttc::*;
use std::cell::RefCell;

#[derive(Debug, Default)]
struct State {
    clk: u32,
    cnt: u32,
    counter: u32,
    clock: Ticker,
}

/// Counter 1 of a TTC block.
#[derive(Debug)]
pub struct TtcModel {
    time: VirtualTime,
    clock_hz: u32,
    s: RefCell<State>,
}

impl TtcModel {
    /// A TTC with input clock `clock_hz`, at power-on (counter disabled: CNT_CNTRL reset 0x21).
    pub fn new(time: VirtualTime, clock_hz: u32) -> Self {
        let last_ns = time.now_ns();
        TtcModel {
            time,
            clock_hz,
            s: RefCell::new(State {
                cnt: 0x21,
                clock: Ticker::new(last_ns),
                ..State::default()
            }),
        }
    }

    fn sync(&self) {
        let now = self.time.now_ns();
        let mut s = self.s.borrow_mut();
        let running = s.cnt & CNT_DIS == 0;
        let divide = if s.clk & CLK_PS_EN != 0 {
            1u64 << (((s.clk & CLK_PSV_MASK) >> 1) + 1)
        } else {
            1
        };
        let n = s
            .clock
            .ticks(now, running, u64::from(self.clock_hz), divide);
        s.counter = s.counter.wrapping_add(n as u32);
    }
}

impl Regs for TtcModel {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        self.sync();
        let s = self.s.borrow();
        match offset {
            CLK_CNTRL => s.clk,
            CNT_CNTRL => s.cnt,
            COUNT_VAL => s.counter,
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        self.sync();
        let mut s = self.s.borrow_mut();
        match offset {
            CLK_CNTRL => s.clk = value & 0x7F,
            CNT_CNTRL => {
                if value & CNT_RST != 0 {
                    s.counter = 0;
                    s.clock.restart_fraction();
                }
                s.cnt = value & !CNT_RST & 0x7F;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn it_counts_prescaled_stops_when_disabled_and_wraps() {
        let t = VirtualTime::new();
        let m = TtcModel::new(t.clone(), 100_000_000);
        t.advance(Duration::from_secs(1));
        assert_eq!(m.read(COUNT_VAL), 0, "disabled at power-on");
        m.write(CLK_CNTRL, (3 << 1) | CLK_PS_EN);
        m.write(CNT_CNTRL, CNT_RST);
        let before = m.read(COUNT_VAL);
        t.advance(Duration::from_millis(1));
        let after = m.read(COUNT_VAL);
        assert!(
            (6_249..=6_252).contains(&(after - before)),
            "{}",
            after - before
        );
        t.advance(Duration::from_secs(700));
        // 700 s is 4.375e9 ticks: the counter wraps past 2^32 and goes on from zero.
        let want = after.wrapping_add(6_250u32.wrapping_mul(700_000));
        let got = m.read(COUNT_VAL);
        assert!(got.wrapping_sub(want) < 10, "{got} vs {want}");
        m.write(CNT_CNTRL, CNT_DIS);
        let stopped = m.read(COUNT_VAL);
        t.advance(Duration::from_secs(1));
        assert_eq!(m.read(COUNT_VAL), stopped);
    }
}
