//! Model of the BCM2711 BSC I2C master with an I2C FRAM on the bus, from the BCM2711 ARM
//! Peripherals manual ("BSC") and Linux `i2c-bcm2835.c`: with C.I2CEN set, setting C.ST starts a
//! transfer of DLEN bytes to or from address A: a write sends the FIFO's bytes, a read fills the
//! 16-byte FIFO; S.DONE is then set, with S.ERR if nobody acknowledged; DONE, ERR and CLKT clear
//! by writing one; C.CLEAR empties the FIFO. Transfers complete instantly (SCL not modelled).

use crate::I2cPart;
use crate::i2c_fram::FramPart;
use crate::time::VirtualTime;
use board_devboard::bsc_i2c::*;
use board_devboard::regs::Regs;
use std::cell::RefCell;
use std::collections::VecDeque;

#[derive(Debug, Default)]
struct State {
    c: u32,
    s: u32,
    dlen: u32,
    a: u32,
    fifo: VecDeque<u8>,
}

/// A BSC master and its FRAM.
#[derive(Debug)]
pub struct BscModel {
    time: VirtualTime,
    st: RefCell<State>,
    fram: RefCell<FramPart>,
}

impl BscModel {
    /// The controller at reset, with `fram` on its bus.
    pub fn new(time: VirtualTime, fram: FramPart) -> Self {
        BscModel {
            time,
            st: RefCell::new(State::default()),
            fram: RefCell::new(fram),
        }
    }

    fn start(&self, st: &mut State) {
        let mut fram = self.fram.borrow_mut();
        let present = fram.answers(st.a as u8);
        let acked = if st.c & C_READ == 0 {
            let bytes: Vec<u8> = st.fifo.drain(..).take(st.dlen as usize).collect();
            present && fram.write(&bytes)
        } else {
            match fram.read(st.dlen as usize).filter(|_| present) {
                Some(bytes) => {
                    st.fifo.extend(bytes.into_iter().take(FIFO_DEPTH));
                    true
                }
                None => false,
            }
        };
        st.s |= S_DONE | if acked { 0 } else { S_ERR };
    }
}

impl crate::PartPower for BscModel {
    fn cut_power(&self, at_op: u64, landed: usize) {
        self.fram.borrow_mut().cut_power(at_op, landed);
    }

    fn power_cycle(&self) {
        self.fram.borrow_mut().power_cycle();
    }
}

impl Regs for BscModel {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        let mut st = self.st.borrow_mut();
        match offset {
            C => st.c,
            S => st.s | if st.fifo.is_empty() { 0 } else { S_RXD },
            DLEN => st.dlen,
            A => st.a,
            FIFO => st.fifo.pop_front().map_or(0, u32::from),
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        let mut st = self.st.borrow_mut();
        match offset {
            C => {
                if value & C_CLEAR != 0 {
                    st.fifo.clear();
                }
                st.c = value & !(C_CLEAR | C_ST);
                if value & (C_ST | C_I2CEN) == C_ST | C_I2CEN {
                    self.start(&mut st);
                }
            }
            S => st.s &= !(value & (S_DONE | S_ERR | S_CLKT)),
            DLEN => st.dlen = value & 0xFFFF,
            A => st.a = value & 0x7F,
            FIFO if st.fifo.len() < FIFO_DEPTH => st.fifo.push_back(value as u8),
            _ => {}
        }
    }
}
