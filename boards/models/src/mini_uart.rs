//! Model of the BCM2711 mini UART, from the BCM2711 ARM Peripherals manual ("Mini UART"):
//! registers answer only while AUX_ENABLES bit 0 is set; 8-deep TX and RX FIFOs; AUX_MU_CNTL
//! enables the receiver and transmitter; bytes move at `clock / (8 * (BAUD + 1))` baud, ten bits
//! a byte; a byte arriving at a full RX FIFO is lost and sets LSR.OE, which reading LSR clears;
//! writing IIR bits 1 and 2 clears the FIFOs. The line's far end is the test.

use crate::time::VirtualTime;
use crate::uart_line::Wire;
use board_devboard::mini_uart::*;
use board_devboard::regs::Regs;
use std::cell::RefCell;
use std::collections::VecDeque;

/// FIFO depth each way.
pub const FIFO_DEPTH: usize = 8;

#[derive(Debug, Default)]
struct State {
    enables: u32,
    cntl: u32,
    lcr: u32,
    baud: u32,
    oe: bool,
    rx: VecDeque<u8>,
    wire: Wire,
}

/// The AUX block's mini UART and the line to its peer.
#[derive(Debug)]
pub struct MiniUartModel {
    time: VirtualTime,
    clock_hz: u32,
    s: RefCell<State>,
}

impl MiniUartModel {
    /// The AUX block at reset (mini UART disabled), with system clock `clock_hz`.
    pub fn new(time: VirtualTime, clock_hz: u32) -> Self {
        let last_ns = time.now_ns();
        MiniUartModel {
            time,
            clock_hz,
            s: RefCell::new(State {
                cntl: CNTL_RX_TX,
                wire: Wire::new(last_ns),
                ..State::default()
            }),
        }
    }

    fn sync(&self) {
        let now = self.time.now_ns();
        let mut s = self.s.borrow_mut();
        let running = s.enables & ENABLE_MINI_UART != 0;
        let rate = u64::from(self.clock_hz) / (8 * (u64::from(s.baud) + 1)) / 10;
        let (transmit, receive) = (s.cntl & 0x2 != 0, s.cntl & 0x1 != 0);
        let State { wire, rx, oe, .. } = &mut *s;
        wire.step(now, running, rate, transmit, |b| {
            if !receive {
                return;
            }
            if rx.len() == FIFO_DEPTH {
                *oe = true;
            } else {
                rx.push_back(b);
            }
        });
    }
}

impl crate::Line for MiniUartModel {
    fn peer_send(&self, bytes: &[u8]) {
        self.s.borrow_mut().wire.peer_send(bytes);
    }

    fn peer_take(&self) -> Vec<u8> {
        self.sync();
        self.s.borrow_mut().wire.take_sent()
    }
}

impl Regs for MiniUartModel {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        self.sync();
        let mut s = self.s.borrow_mut();
        if offset == AUX_ENABLES {
            return s.enables;
        }
        if s.enables & ENABLE_MINI_UART == 0 {
            return 0;
        }
        match offset {
            MU_IO => s.rx.pop_front().map_or(0, u32::from),
            MU_LCR => s.lcr,
            MU_CNTL => s.cntl,
            MU_BAUD => s.baud,
            MU_LSR => {
                let mut lsr = 0;
                if !s.rx.is_empty() {
                    lsr |= LSR_DR;
                }
                if std::mem::take(&mut s.oe) {
                    lsr |= LSR_OE;
                }
                if s.wire.tx.len() < FIFO_DEPTH {
                    lsr |= LSR_THRE;
                }
                if s.wire.tx.is_empty() {
                    lsr |= LSR_TEMT;
                }
                lsr
            }
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        self.sync();
        let mut s = self.s.borrow_mut();
        if offset == AUX_ENABLES {
            s.enables = value & 0x7;
            return;
        }
        if s.enables & ENABLE_MINI_UART == 0 {
            return;
        }
        match offset {
            MU_IO if s.wire.tx.len() < FIFO_DEPTH => s.wire.tx.push_back(value as u8),
            MU_IIR => {
                if value & 0x2 != 0 {
                    s.rx.clear();
                }
                if value & 0x4 != 0 {
                    s.wire.tx.clear();
                }
            }
            MU_LCR => s.lcr = value & 0xFF,
            MU_CNTL => s.cntl = value & 0xFF,
            MU_BAUD => s.baud = value & 0xFFFF,
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
    fn it_answers_only_when_enabled_and_reading_lsr_clears_an_overrun() {
        let t = VirtualTime::new();
        let m = MiniUartModel::new(t.clone(), 500_000_000);
        m.write(MU_BAUD, 541);
        assert_eq!(m.read(MU_BAUD), 0, "disabled in AUX_ENABLES");
        m.write(AUX_ENABLES, ENABLE_MINI_UART);
        m.write(MU_BAUD, 541);
        assert_eq!(m.read(MU_BAUD), 541);
        m.peer_send(&[9; 12]);
        t.advance(Duration::from_millis(5));
        assert_eq!(m.read(MU_LSR) & (LSR_OE | LSR_DR), LSR_OE | LSR_DR);
        assert_eq!(m.read(MU_LSR) & LSR_OE, 0, "cleared by the read");
        assert!(m.peer_take().is_empty());
    }
}
