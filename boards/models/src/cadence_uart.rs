//! Model of the Cadence UART (ZynqMP UART0/1), from Xilinx UG1085 "UART Controller" and Linux
//! `xilinx_uartps.c`: 64-byte TX and RX FIFOs; SR shows RXEMPTY, TXEMPTY, TXFULL live; ISR bits
//! latch and are cleared by writing one; CR.RXRST/TXRST empty a FIFO and clear themselves;
//! DIS wins over EN. Bytes leave and arrive at the line rate `clock / (CD * (BDIV + 1))`, ten
//! bit times per byte (8N1); a byte arriving at a full RX FIFO is lost and sets ISR.OVERRUN.
//! The far end of the line is the test: [`UartModel::peer_send`] and [`UartModel::peer_take`].

use crate::time::VirtualTime;
use crate::uart_line::Wire;
use board_flight::cadence_uart::*;
use board_flight::regs::Regs;
use std::cell::RefCell;
use std::collections::VecDeque;

/// FIFO depth (UG1085: 64 bytes each way).
pub const FIFO_DEPTH: usize = 64;

#[derive(Debug, Default)]
struct State {
    cr: u32,
    mr: u32,
    isr: u32,
    cd: u32,
    bdiv: u32,
    rx: VecDeque<u8>,
    wire: Wire,
}

impl State {
    fn enabled(&self, en: u32, dis: u32) -> bool {
        self.cr & en != 0 && self.cr & dis == 0
    }
}

/// A UART and the line to its peer.
#[derive(Debug)]
pub struct UartModel {
    time: VirtualTime,
    clock_hz: u32,
    s: RefCell<State>,
}

impl UartModel {
    /// A UART with reference clock `clock_hz`, at its power-on state (CR = TX and RX disabled).
    pub fn new(time: VirtualTime, clock_hz: u32) -> Self {
        let last_ns = time.now_ns();
        UartModel {
            time,
            clock_hz,
            s: RefCell::new(State {
                cr: CR_RX_DIS | CR_TX_DIS,
                cd: 0x28B,
                bdiv: 0xF,
                wire: Wire::new(last_ns),
                ..State::default()
            }),
        }
    }

    /// The line rate the registers give, in bytes per second (8N1: ten bits a byte).
    pub fn byte_rate(&self) -> u64 {
        let s = self.s.borrow();
        u64::from(self.clock_hz) / (u64::from(s.cd.max(1)) * u64::from(s.bdiv + 1)) / 10
    }

    /// Marks the next received byte as badly framed (a noise burst or a wrong baud rate).
    pub fn inject_framing_error(&self) {
        self.s.borrow_mut().isr |= ISR_FRAMING;
    }

    /// Moves bytes along the line up to the current virtual time.
    pub fn sync(&self) {
        let now = self.time.now_ns();
        let rate = self.byte_rate();
        let mut s = self.s.borrow_mut();
        let transmit = s.enabled(CR_TX_EN, CR_TX_DIS);
        let receive = s.enabled(CR_RX_EN, CR_RX_DIS);
        let State { wire, rx, isr, .. } = &mut *s;
        wire.step(now, true, rate, transmit, |b| {
            if !receive {
                return;
            }
            if rx.len() == FIFO_DEPTH {
                *isr |= ISR_OVERRUN;
            } else {
                rx.push_back(b);
            }
        });
    }
}

impl crate::Line for UartModel {
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

impl Regs for UartModel {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        self.sync();
        let mut s = self.s.borrow_mut();
        match offset {
            CR => s.cr,
            MR => s.mr,
            ISR => s.isr,
            BAUDGEN => s.cd,
            BAUDDIV => s.bdiv,
            SR => {
                let mut sr = 0;
                if s.rx.is_empty() {
                    sr |= SR_RXEMPTY;
                }
                if s.wire.tx.is_empty() {
                    sr |= SR_TXEMPTY;
                }
                if s.wire.tx.len() == FIFO_DEPTH {
                    sr |= SR_TXFULL;
                }
                sr
            }
            FIFO => s.rx.pop_front().map_or(0, u32::from),
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        self.sync();
        let mut s = self.s.borrow_mut();
        match offset {
            CR => {
                if value & CR_RXRST != 0 {
                    s.rx.clear();
                }
                if value & CR_TXRST != 0 {
                    s.wire.tx.clear();
                }
                s.cr = value & !(CR_RXRST | CR_TXRST);
            }
            MR => s.mr = value & 0x3FF,
            ISR => s.isr &= !value,
            BAUDGEN => s.cd = value & 0xFFFF,
            BAUDDIV => s.bdiv = value & 0xFF,
            FIFO if s.wire.tx.len() < FIFO_DEPTH => s.wire.tx.push_back(value as u8),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Line;
    use std::time::Duration;

    fn enabled() -> (VirtualTime, UartModel) {
        let t = VirtualTime::new();
        let m = UartModel::new(t.clone(), 100_000_000);
        let (cd, bdiv) = baud_divisors(100_000_000, 115_200).expect("divisors");
        m.write(BAUDGEN, cd);
        m.write(BAUDDIV, bdiv);
        m.write(CR, CR_RX_EN | CR_TX_EN);
        (t, m)
    }

    #[test]
    fn the_tx_fifo_fills_at_64_and_drains_at_line_rate() {
        let (t, m) = enabled();
        for b in 0..100u32 {
            m.write(FIFO, b);
        }
        assert_ne!(m.read(SR) & SR_TXFULL, 0);
        let rate = m.byte_rate();
        assert!((11_000..=11_700).contains(&rate), "{rate} bytes/s");
        t.advance(Duration::from_millis(2));
        let out = m.peer_take();
        assert!(
            !out.is_empty() && out.len() < 64,
            "{} bytes in 2 ms",
            out.len()
        );
        t.advance(Duration::from_millis(10));
        let mut all = out;
        all.extend(m.peer_take());
        assert_eq!(
            all,
            (0..64u8).collect::<Vec<_>>(),
            "bytes past a full FIFO are lost"
        );
        assert_ne!(m.read(SR) & SR_TXEMPTY, 0);
    }

    #[test]
    fn an_rx_overflow_latches_until_written_one() {
        let (t, m) = enabled();
        m.peer_send(&[7; 70]);
        t.advance(Duration::from_millis(20));
        assert_ne!(m.read(ISR) & ISR_OVERRUN, 0);
        m.write(ISR, ISR_FRAMING);
        assert_ne!(
            m.read(ISR) & ISR_OVERRUN,
            0,
            "writing another bit leaves it"
        );
        m.write(ISR, ISR_OVERRUN);
        assert_eq!(m.read(ISR) & ISR_OVERRUN, 0);
        let mut n = 0;
        while m.read(SR) & SR_RXEMPTY == 0 {
            assert_eq!(m.read(FIFO), 7);
            n += 1;
        }
        assert_eq!(n, FIFO_DEPTH);
    }

    #[test]
    fn a_disabled_receiver_drops_and_a_reset_empties() {
        let (t, m) = enabled();
        m.write(CR, CR_RX_EN | CR_RX_DIS | CR_TX_EN);
        m.peer_send(b"lost");
        t.advance(Duration::from_millis(5));
        assert_ne!(m.read(SR) & SR_RXEMPTY, 0, "DIS wins over EN");
        m.write(CR, CR_RX_EN | CR_TX_EN);
        m.peer_send(b"kept");
        t.advance(Duration::from_millis(5));
        assert_eq!(m.read(SR) & SR_RXEMPTY, 0);
        m.write(CR, CR_RXRST | CR_RX_EN | CR_TX_EN);
        assert_eq!(m.read(CR) & CR_RXRST, 0, "the reset bit clears itself");
        assert_ne!(m.read(SR) & SR_RXEMPTY, 0);
    }
}
