//! Model of the BCM2711 SPI0 controller with a SPI-NOR part on chip select 0, from the BCM2711
//! ARM Peripherals manual ("SPI") and Linux `spi-bcm2835.c`: setting CS.TA asserts the chip
//! select, clearing it releases it; each byte written to the FIFO while TA is set is shifted out
//! and the byte shifted in lands in the 64-byte RX FIFO; CLEAR_RX/CLEAR_TX empty the FIFOs;
//! DONE is set while TA is set and nothing is left to send. Bytes shift instantly (the SPI clock
//! is not modelled).

use crate::spi_nor::SpiNorPart;
use crate::time::VirtualTime;
use board_devboard::bcm2835_spi::*;
use board_devboard::regs::Regs;
use std::cell::RefCell;
use std::collections::VecDeque;

/// RX FIFO depth (`BCM2835_SPI_FIFO_SIZE`).
pub const FIFO_DEPTH: usize = 64;

#[derive(Debug)]
struct State {
    cs: u32,
    cdiv: u32,
    rx: VecDeque<u8>,
}

/// SPI0 and its flash part.
#[derive(Debug)]
pub struct Bcm2835SpiModel {
    time: VirtualTime,
    s: RefCell<State>,
    part: RefCell<SpiNorPart>,
}

impl Bcm2835SpiModel {
    /// The controller at reset, wired to `part`.
    pub fn new(time: VirtualTime, part: SpiNorPart) -> Self {
        Bcm2835SpiModel {
            time,
            s: RefCell::new(State {
                cs: 0,
                cdiv: 0,
                rx: VecDeque::new(),
            }),
            part: RefCell::new(part),
        }
    }
}

impl crate::PartPower for Bcm2835SpiModel {
    fn cut_power(&self, at_op: u64, landed: usize) {
        self.part.borrow_mut().cut_power(at_op, landed);
    }

    fn power_cycle(&self) {
        self.part.borrow_mut().power_cycle();
    }
}

impl Regs for Bcm2835SpiModel {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        let mut s = self.s.borrow_mut();
        match offset {
            CS => {
                let mut cs = s.cs | CS_TXD;
                if !s.rx.is_empty() {
                    cs |= CS_RXD;
                }
                if s.cs & CS_TA != 0 {
                    cs |= CS_DONE;
                }
                cs
            }
            FIFO => s.rx.pop_front().map_or(0, u32::from),
            CLK => s.cdiv,
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        let mut s = self.s.borrow_mut();
        match offset {
            CS => {
                if value & CS_CLEAR_RX != 0 {
                    s.rx.clear();
                }
                let was = s.cs & CS_TA;
                s.cs = value & !(CS_CLEAR_RX | CS_CLEAR_TX | CS_DONE | CS_RXD | CS_TXD);
                match (was, value & CS_TA) {
                    (0, CS_TA) => self.part.borrow_mut().select(),
                    (CS_TA, 0) => self.part.borrow_mut().deselect(),
                    _ => {}
                }
            }
            FIFO if s.cs & CS_TA != 0 => {
                let miso = self.part.borrow_mut().shift(value as u8);
                if s.rx.len() < FIFO_DEPTH {
                    s.rx.push_back(miso);
                }
            }
            CLK => s.cdiv = value & 0xFFFF,
            _ => {}
        }
    }
}
