//! Model of the BCM2711 PL011 UART, from the ARM PL011 TRM (DDI 0183: DR carries each received
//! byte's errors in bits 11:8, FR flags, a write to LCR_H latches IBRD/FBRD, FEN off makes the
//! FIFOs one deep) and Linux `amba-pl011.c` (32-entry FIFOs from revision r1p5,
//! `get_fifosize_arm`). Bytes move at `clock * 4 / (64 * IBRD + FBRD)` baud, ten bits a byte,
//! only while CR.UARTEN and TXE/RXE are set; a byte arriving at a full RX FIFO is lost and the
//! next byte stored carries DR.OE. The line's far end is the test.

use crate::time::VirtualTime;
use crate::uart_line::Wire;
use board_devboard::pl011::*;
use board_devboard::regs::Regs;
use std::cell::RefCell;
use std::collections::VecDeque;

/// FIFO depth with FEN set.
pub const FIFO_DEPTH: usize = 32;

#[derive(Debug, Default)]
struct State {
    cr: u32,
    lcrh: u32,
    ibrd: u32,
    fbrd: u32,
    /// The divisors in effect (latched by an LCR_H write).
    latched: (u32, u32),
    rsr: u32,
    rx: VecDeque<u32>,
    lost: bool,
    bad_next: bool,
    wire: Wire,
}

impl State {
    fn depth(&self) -> usize {
        if self.lcrh & LCRH_FEN != 0 {
            FIFO_DEPTH
        } else {
            1
        }
    }
    fn on(&self, bit: u32) -> bool {
        self.cr & CR_UARTEN != 0 && self.cr & bit != 0
    }
}

/// A PL011 and the line to its peer.
#[derive(Debug)]
pub struct Pl011Model {
    time: VirtualTime,
    clock_hz: u32,
    s: RefCell<State>,
}

impl Pl011Model {
    /// A PL011 with reference clock `clock_hz`, at reset (disabled, FIFOs off).
    pub fn new(time: VirtualTime, clock_hz: u32) -> Self {
        let last_ns = time.now_ns();
        Pl011Model {
            time,
            clock_hz,
            s: RefCell::new(State {
                cr: CR_TXE | CR_RXE,
                wire: Wire::new(last_ns),
                ..State::default()
            }),
        }
    }

    /// The next byte received arrives with a framing error.
    pub fn inject_framing_error(&self) {
        self.s.borrow_mut().bad_next = true;
    }

    fn byte_rate(s: &State, clock_hz: u32) -> u64 {
        let (ibrd, fbrd) = s.latched;
        let div = 64 * u64::from(ibrd) + u64::from(fbrd);
        if div == 0 {
            return 0;
        }
        u64::from(clock_hz) * 4 / div / 10
    }

    fn sync(&self) {
        let now = self.time.now_ns();
        let mut s = self.s.borrow_mut();
        let rate = Self::byte_rate(&s, self.clock_hz);
        let (transmit, receive, depth) = (s.on(CR_TXE), s.on(CR_RXE), s.depth());
        let State {
            wire,
            rx,
            lost,
            bad_next,
            rsr,
            ..
        } = &mut *s;
        wire.step(now, true, rate, transmit, |b| {
            if !receive {
                return;
            }
            if rx.len() >= depth {
                *lost = true;
                return;
            }
            let mut word = u32::from(b);
            if std::mem::take(lost) {
                word |= DR_OE;
            }
            if std::mem::take(bad_next) {
                word |= DR_FE;
            }
            *rsr |= (word >> 8) & 0xF;
            rx.push_back(word);
        });
    }
}

impl crate::Line for Pl011Model {
    /// The peer sends `bytes`; they arrive at line rate.
    fn peer_send(&self, bytes: &[u8]) {
        self.s.borrow_mut().wire.peer_send(bytes);
    }

    /// What the UART has put on the line so far (taken).
    fn peer_take(&self) -> Vec<u8> {
        self.sync();
        self.s.borrow_mut().wire.take_sent()
    }
}

impl Regs for Pl011Model {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        self.sync();
        let mut s = self.s.borrow_mut();
        match offset {
            DR => s.rx.pop_front().unwrap_or(0),
            RSR_ECR => s.rsr,
            FR => {
                let mut fr = 0;
                if s.rx.is_empty() {
                    fr |= FR_RXFE;
                }
                if s.wire.tx.is_empty() {
                    fr |= FR_TXFE;
                } else {
                    fr |= FR_BUSY;
                }
                if s.wire.tx.len() >= s.depth() {
                    fr |= FR_TXFF;
                }
                fr
            }
            IBRD => s.ibrd,
            FBRD => s.fbrd,
            LCRH => s.lcrh,
            CR => s.cr,
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        self.sync();
        let mut s = self.s.borrow_mut();
        match offset {
            DR if s.wire.tx.len() < s.depth() => s.wire.tx.push_back(value as u8),
            RSR_ECR => s.rsr = 0,
            IBRD => s.ibrd = value & 0xFFFF,
            FBRD => s.fbrd = value & 0x3F,
            LCRH => {
                s.lcrh = value & 0xFF;
                s.latched = (s.ibrd, s.fbrd);
            }
            CR => s.cr = value & 0xFFFF,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Line;
    use std::time::Duration;

    #[test]
    fn divisors_take_effect_only_after_an_lcrh_write() {
        let t = VirtualTime::new();
        let m = Pl011Model::new(t.clone(), 48_000_000);
        m.write(CR, CR_UARTEN | CR_TXE | CR_RXE);
        m.write(IBRD, 26);
        m.write(FBRD, 3);
        m.write(DR, 0x55);
        t.advance(Duration::from_millis(10));
        assert!(m.peer_take().is_empty(), "no baud rate latched yet");
        m.write(LCRH, LCRH_WLEN_8 | LCRH_FEN);
        t.advance(Duration::from_millis(10));
        assert_eq!(m.peer_take(), vec![0x55]);
    }

    #[test]
    fn an_overflow_marks_the_next_stored_byte() {
        let t = VirtualTime::new();
        let m = Pl011Model::new(t.clone(), 48_000_000);
        m.write(IBRD, 26);
        m.write(FBRD, 3);
        m.write(LCRH, LCRH_WLEN_8 | LCRH_FEN);
        m.write(CR, CR_UARTEN | CR_TXE | CR_RXE);
        m.peer_send(&[1; 40]);
        t.advance(Duration::from_millis(10));
        for _ in 0..FIFO_DEPTH {
            assert_eq!(m.read(DR), 1);
        }
        assert_ne!(m.read(FR) & FR_RXFE, 0);
        m.peer_send(&[2]);
        t.advance(Duration::from_millis(1));
        assert_eq!(m.read(DR), 2 | DR_OE);
    }
}
