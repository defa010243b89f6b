//! Model of the ZynqMP Cadence I2C controller with a part on the bus (the FRAM, or the TPM), from Xilinx UG1085
//! "I2C Controller" and Linux `i2c-cadence.c`: writing ADDR starts a transfer: a write sends the
//! FIFO's bytes, a read (CR.RW) fetches XFER_SIZE bytes into the 16-byte FIFO; ISR.COMP and NACK
//! latch and clear by writing one; an address nobody acknowledges gives NACK. Transfers complete
//! instantly (SCL is not modelled), and STOP versus repeated start (CR.HOLD) is not modelled: the
//! FRAM's address pointer carries over either way.

use crate::I2cPart;
use crate::i2c_fram::FramPart;
use crate::time::VirtualTime;
use board_flight::cadence_i2c::*;
use board_flight::regs::Regs;
use std::cell::RefCell;
use std::collections::VecDeque;

#[derive(Debug, Default)]
struct State {
    cr: u32,
    isr: u32,
    xfer: u32,
    tx: Vec<u8>,
    rx: VecDeque<u8>,
}

/// The I2C controller and the part on its bus.
#[derive(Debug)]
pub struct CadenceI2cModel<P = FramPart> {
    time: VirtualTime,
    s: RefCell<State>,
    fram: RefCell<P>,
}

impl<P: I2cPart> CadenceI2cModel<P> {
    /// The controller at reset, with `fram` on its bus.
    pub fn new(time: VirtualTime, fram: P) -> Self {
        CadenceI2cModel {
            time,
            s: RefCell::new(State::default()),
            fram: RefCell::new(fram),
        }
    }

    /// The part on the bus.
    pub fn part(&self) -> std::cell::RefMut<'_, P> {
        self.fram.borrow_mut()
    }

    fn start(&self, s: &mut State, addr: u8) {
        let mut fram = self.fram.borrow_mut();
        let present = fram.answers(addr);
        let acked = if s.cr & CR_RW == 0 {
            let bytes = std::mem::take(&mut s.tx);
            present && fram.write(&bytes)
        } else {
            match fram.read(s.xfer as usize).filter(|_| present) {
                Some(bytes) => {
                    s.rx.extend(bytes.into_iter().take(FIFO_DEPTH));
                    s.xfer = 0;
                    true
                }
                None => false,
            }
        };
        s.isr |= if acked { IXR_COMP } else { IXR_NACK };
    }
}

impl crate::PartPower for CadenceI2cModel {
    fn cut_power(&self, at_op: u64, landed: usize) {
        self.fram.borrow_mut().cut_power(at_op, landed);
    }

    fn power_cycle(&self) {
        self.fram.borrow_mut().power_cycle();
    }
}

impl<P: I2cPart> Regs for CadenceI2cModel<P> {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        let mut s = self.s.borrow_mut();
        match offset {
            CR => s.cr,
            SR => {
                if s.rx.is_empty() {
                    0
                } else {
                    SR_RXDV
                }
            }
            ISR => s.isr,
            XFER_SIZE => s.xfer,
            DATA => s.rx.pop_front().map_or(0, u32::from),
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        let mut s = self.s.borrow_mut();
        match offset {
            CR => {
                if value & CR_CLR_FIFO != 0 {
                    s.tx.clear();
                    s.rx.clear();
                }
                s.cr = value & !CR_CLR_FIFO;
            }
            ISR => s.isr &= !value,
            XFER_SIZE => s.xfer = value & 0xFF,
            DATA if s.tx.len() < FIFO_DEPTH => s.tx.push(value as u8),
            ADDR if s.cr & CR_MS != 0 => self.start(&mut s, value as u8),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PartPower;
    use crate::i2c_fram::FramPart;

    #[test]
    fn an_absent_address_is_not_acknowledged_and_a_cut_stops_acking() {
        let m = CadenceI2cModel::new(VirtualTime::new(), FramPart::new(0x50, 1024, 0));
        m.write(CR, CR_MS);
        m.write(ADDR, 0x51);
        assert_eq!(m.read(ISR) & IXR_NACK, IXR_NACK);
        m.write(ISR, IXR_ALL);
        m.cut_power(0, 1);
        for b in [0, 0x10, 7, 8] {
            m.write(DATA, b);
        }
        m.write(ADDR, 0x50);
        assert_eq!(
            m.read(ISR) & IXR_NACK,
            IXR_NACK,
            "power went after one byte"
        );
        m.power_cycle();
        m.write(ISR, IXR_ALL);
        m.write(DATA, 0);
        m.write(DATA, 0x10);
        m.write(ADDR, 0x50);
        m.write(CR, CR_MS | CR_RW);
        m.write(XFER_SIZE, 2);
        m.write(ADDR, 0x50);
        assert_eq!(
            (m.read(DATA), m.read(DATA)),
            (7, 0),
            "only the first byte landed"
        );
    }
}
