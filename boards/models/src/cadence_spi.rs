//! Model of the ZynqMP Cadence SPI controller with a SPI-NOR part on slave select 0, from Xilinx
//! UG1085 "SPI Controller" and Linux `spi-cadence.c`: with CR.SSFORCE set, the SSCTRL field
//! drives the slave-select lines directly (active low: field bit 0 low selects slave 0); once ER
//! is set, a byte written to TXD is shifted out (automatic start) and the byte shifted in lands
//! in the 128-byte RX FIFO; ISR.RXNEMTY shows the RX FIFO live, latched bits clear by writing
//! one. Bytes shift instantly (the SPI clock is not modelled), so TXFULL never sets.

use crate::spi_nor::SpiNorPart;
use crate::time::VirtualTime;
use board_flight::cadence_spi::*;
use board_flight::regs::Regs;
use std::cell::RefCell;
use std::collections::VecDeque;

/// RX FIFO depth (`CDNS_SPI_FIFO_DEPTH`).
pub const FIFO_DEPTH: usize = 128;

#[derive(Debug, Default)]
struct State {
    cr: u32,
    er: u32,
    isr: u32,
    rx: VecDeque<u8>,
}

impl State {
    fn ss0_low(&self) -> bool {
        self.cr & CR_SSFORCE != 0 && (self.cr >> SS_SHIFT) & 1 == 0
    }
}

/// A Cadence SPI controller and its flash part.
#[derive(Debug)]
pub struct CadenceSpiModel {
    time: VirtualTime,
    s: RefCell<State>,
    part: RefCell<SpiNorPart>,
}

impl CadenceSpiModel {
    /// The controller at reset (disabled), wired to `part`.
    pub fn new(time: VirtualTime, part: SpiNorPart) -> Self {
        CadenceSpiModel {
            time,
            s: RefCell::new(State {
                cr: 0x0002_0000,
                ..State::default()
            }),
            part: RefCell::new(part),
        }
    }
}

impl crate::PartPower for CadenceSpiModel {
    fn cut_power(&self, at_op: u64, landed: usize) {
        self.part.borrow_mut().cut_power(at_op, landed);
    }

    fn power_cycle(&self) {
        self.part.borrow_mut().power_cycle();
    }
}

impl Regs for CadenceSpiModel {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        let mut s = self.s.borrow_mut();
        match offset {
            CR => s.cr,
            ER => s.er,
            ISR => {
                let mut isr = s.isr;
                if !s.rx.is_empty() {
                    isr |= IXR_RXNEMTY;
                }
                isr
            }
            RXD => s.rx.pop_front().map_or(0, u32::from),
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        let mut s = self.s.borrow_mut();
        match offset {
            CR => {
                let was = s.ss0_low();
                s.cr = value;
                match (was, s.ss0_low()) {
                    (false, true) => self.part.borrow_mut().select(),
                    (true, false) => self.part.borrow_mut().deselect(),
                    _ => {}
                }
            }
            ER => s.er = value & ER_ENABLE,
            ISR => s.isr &= !value,
            TXD if s.er & ER_ENABLE != 0 && s.cr & CR_MSTREN != 0 => {
                let miso = if s.ss0_low() {
                    self.part.borrow_mut().shift(value as u8)
                } else {
                    0xFF
                };
                if s.rx.len() < FIFO_DEPTH {
                    s.rx.push_back(miso);
                }
            }
            _ => {}
        }
    }
}
