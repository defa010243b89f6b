//! Model of the ZynqMP generic quad-SPI controller (GQSPI) with a SPI-NOR part on the lower bus
//! and lower chip select, from Linux `spi-zynqmp-gqspi.c` (constants shared with the driver,
//! `board_flight::gqspi`) and QEMU's model of it (`hw/ssi/xilinx_spips.c`):
//!
//! - nothing runs unless SEL selects the generic controller and EN is set;
//! - the generic FIFO holds 32 entries, the TX and RX FIFOs 64 words each (QEMU's ZynqMP GQSPI
//!   model, `hw/ssi/xilinx_spips.c`: `fifo32_create(&s->fifo_g, 32)`, `TXFF_A_Q`/`RXFF_A_Q`
//!   64 * 4 bytes); a write to a full FIFO is lost (counted, see [`GqspiModel::lost_writes`]);
//! - with CONFIG's manual start mode, queued entries wait for a write of the START_GEN_FIFO bit
//!   (which reads back 0), then run until the generic FIFO is empty; in auto mode they run as
//!   soon as they are queued;
//! - an entry drives the chip select its CS bits name for its duration (the part sees select on
//!   a falling edge, deselect on a rising one); an entry of zero cycles without data (Linux's
//!   dummy entry) touches nothing;
//! - a data entry moves its byte count (2^imm with the EXP bit) one byte at a time: a TX entry
//!   takes bytes from the TX FIFO words low byte first and stalls while the TX FIFO is empty; an
//!   RX entry packs the bytes it shifts in into words, low byte first, pushes a partial word at
//!   its end, and stalls while the RX FIFO is full; bytes of a TX word left at the end of an
//!   entry are dropped;
//! - ISR: FIFO levels are live; POLL_TIME_EXPIRE is the only bit cleared by writing one.
//!
//! Time: each SPI clock cycle (8 per byte, `imm` per idle entry) lets reference clock /
//! (2 << BAUD_RATE_DIV) pass in virtual time. Entries in dual or quad mode, striped
//! or polling are not modelled: the model panics with what the driver asked, so a driver using
//! them cannot pass by accident.

use crate::spi_nor::SpiNorPart;
use crate::time::VirtualTime;
use board_flight::gqspi::*;
use board_flight::regs::Regs;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

/// Generic FIFO depth in entries (QEMU `xilinx_spips.c`, `fifo_g`).
pub const GEN_FIFO_DEPTH: usize = 32;
/// TX and RX FIFO depth in 32-bit words (QEMU `xilinx_spips.c`, `TXFF_A_Q`/`RXFF_A_Q`).
pub const DATA_FIFO_DEPTH: usize = 64;

/// The entry being run and how far it got.
#[derive(Debug, Clone, Copy)]
struct Running {
    entry: u32,
    left: usize,
}

#[derive(Debug, Default)]
struct State {
    sel: u32,
    en: u32,
    cfg: u32,
    poll_expired: bool,
    imask: u32,
    other: [u32; 6],
    generic: VecDeque<u32>,
    tx: VecDeque<u32>,
    rx: VecDeque<u32>,
    started: bool,
    current: Option<Running>,
    tx_word: VecDeque<u8>,
    rx_word: Vec<u8>,
    cs_low: bool,
}

/// A GQSPI controller and its flash part.
#[derive(Debug)]
pub struct GqspiModel {
    time: VirtualTime,
    ref_hz: u64,
    s: RefCell<State>,
    part: RefCell<SpiNorPart>,
    lost: Cell<u32>,
}

impl GqspiModel {
    /// The controller at reset (disabled, all interrupts masked), clocked at `ref_hz`, wired to
    /// `part`.
    pub fn new(time: VirtualTime, ref_hz: u32, part: SpiNorPart) -> Self {
        GqspiModel {
            time,
            ref_hz: u64::from(ref_hz),
            s: RefCell::new(State {
                imask: IDR_ALL,
                ..State::default()
            }),
            part: RefCell::new(part),
            lost: Cell::new(0),
        }
    }

    /// Writes lost to a full FIFO so far.
    pub fn lost_writes(&self) -> u32 {
        self.lost.get()
    }

    /// Whether the lower chip select is asserted now.
    pub fn selected(&self) -> bool {
        self.s.borrow().cs_low
    }

    /// Lets `cycles` SPI clock cycles pass.
    fn clock(&self, s: &State, cycles: u64) {
        let div = u64::from((s.cfg & CFG_BAUD_RATE_DIV) >> 3);
        let ns = cycles * (2 << div) * 1_000_000_000 / self.ref_hz;
        self.time.advance(std::time::Duration::from_nanos(ns));
    }

    fn push(&self, fifo: &mut VecDeque<u32>, depth: usize, value: u32) {
        if fifo.len() < depth {
            fifo.push_back(value);
        } else {
            self.lost.set(self.lost.get() + 1);
        }
    }

    /// Runs entries as far as the FIFOs let them.
    fn step(&self, s: &mut State) {
        if s.sel & SEL_GQSPI == 0 || s.en & EN_ENABLE == 0 {
            return;
        }
        let manual = s.cfg & CFG_START_MODE_MANUAL != 0;
        loop {
            let run = match s.current {
                Some(run) => run,
                None if manual && !s.started => return,
                None => match s.generic.pop_front() {
                    Some(entry) => self.begin(s, entry),
                    None => {
                        s.started = false;
                        return;
                    }
                },
            };
            s.current = Some(run);
            if !self.shift_bytes(s) {
                return;
            }
            s.current = None;
        }
    }

    /// Starts `entry`: chip select follows it (unless it is empty), its byte count is loaded.
    fn begin(&self, s: &mut State, entry: u32) -> Running {
        let imm = (entry & GF_IMM) as usize;
        let data = entry & GF_DATA_XFER != 0;
        if !data && imm == 0 {
            return Running { entry, left: 0 };
        }
        let mode = entry & GF_MODE_MASK;
        assert!(
            mode == GF_MODE_SPI && entry & (GF_STRIPE | GF_POLL) == 0,
            "GQSPI model: entry {entry:#x} uses dual/quad mode, striping or polling (not modelled)"
        );
        let low = entry & GF_CS_LOWER != 0;
        match (s.cs_low, low) {
            (false, true) => self.part.borrow_mut().select(),
            (true, false) => self.part.borrow_mut().deselect(),
            _ => {}
        }
        s.cs_low = low;
        let left = match (data, entry & GF_EXP != 0) {
            (false, _) => {
                self.clock(s, imm as u64);
                0
            }
            (true, true) => 1usize << imm.min(28),
            (true, false) => imm,
        };
        s.tx_word.clear();
        s.rx_word.clear();
        Running { entry, left }
    }

    /// Shifts the running entry's bytes; false if it stalled on a FIFO.
    fn shift_bytes(&self, s: &mut State) -> bool {
        let Some(mut run) = s.current else {
            return true;
        };
        let (tx, rx) = (run.entry & GF_TX != 0, run.entry & GF_RX != 0);
        let on_bus = s.cs_low && run.entry & GF_BUS_LOWER != 0;
        while run.left > 0 {
            if tx && s.tx_word.is_empty() {
                let Some(w) = s.tx.pop_front() else {
                    s.current = Some(run);
                    return false;
                };
                s.tx_word.extend(w.to_le_bytes());
            }
            if rx && s.rx_word.len() == 4 {
                if s.rx.len() == DATA_FIFO_DEPTH {
                    s.current = Some(run);
                    return false;
                }
                let w = u32::from_le_bytes(s.rx_word[..].try_into().expect("4 bytes"));
                s.rx.push_back(w);
                s.rx_word.clear();
            }
            let mosi = if tx {
                s.tx_word.pop_front().unwrap_or(0)
            } else {
                0
            };
            let miso = if on_bus {
                self.part.borrow_mut().shift(mosi)
            } else {
                0xFF
            };
            if rx {
                s.rx_word.push(miso);
            }
            self.clock(s, 8);
            run.left -= 1;
        }
        if rx && !s.rx_word.is_empty() {
            if s.rx.len() == DATA_FIFO_DEPTH {
                s.current = Some(run);
                return false;
            }
            let mut w = [0u8; 4];
            w[..s.rx_word.len()].copy_from_slice(&s.rx_word);
            s.rx.push_back(u32::from_le_bytes(w));
            s.rx_word.clear();
        }
        s.tx_word.clear();
        true
    }

    fn isr(s: &State) -> u32 {
        let mut isr = if s.poll_expired { ISR_WR_TO_CLR } else { 0 };
        let bit = |on: bool, b: u32| if on { b } else { 0 };
        isr |= bit(s.rx.is_empty(), ISR_RXEMPTY);
        isr |= bit(s.rx.len() == DATA_FIFO_DEPTH, ISR_RXFULL);
        isr |= bit(!s.rx.is_empty(), ISR_RXNEMPTY);
        isr |= bit(s.generic.len() == GEN_FIFO_DEPTH, ISR_GENFIFOFULL);
        isr |= bit(s.generic.len() < GEN_FIFO_DEPTH, ISR_GENFIFONOT_FULL);
        isr |= bit(
            s.generic.is_empty() && s.current.is_none(),
            ISR_GENFIFOEMPTY,
        );
        isr |= bit(s.tx.is_empty(), ISR_TXEMPTY);
        isr |= bit(s.tx.len() == DATA_FIFO_DEPTH, ISR_TXFULL);
        isr | bit(s.tx.len() < DATA_FIFO_DEPTH, ISR_TXNOT_FULL)
    }

    fn other_slot(offset: usize) -> Option<usize> {
        [
            TX_THRESHOLD,
            RX_THRESHOLD,
            GF_THRESHOLD,
            LPBK_DLY_ADJ,
            DATA_DLY_ADJ,
            IER,
        ]
        .iter()
        .position(|&o| o == offset)
    }
}

impl crate::PartPower for GqspiModel {
    fn cut_power(&self, at_op: u64, landed: usize) {
        self.part.borrow_mut().cut_power(at_op, landed);
    }

    fn power_cycle(&self) {
        self.part.borrow_mut().power_cycle();
    }
}

impl Regs for GqspiModel {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        let mut s = self.s.borrow_mut();
        self.step(&mut s);
        let v = match offset {
            CONFIG => s.cfg,
            ISR => Self::isr(&s),
            IMASK => s.imask,
            EN => s.en,
            SEL => s.sel,
            RXD => s.rx.pop_front().unwrap_or(0),
            IER | IDR | TXD | GEN_FIFO | FIFO_CTRL => 0,
            o => Self::other_slot(o).map_or(0, |i| s.other[i]),
        };
        self.step(&mut s);
        v
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        let mut s = self.s.borrow_mut();
        match offset {
            CONFIG => {
                s.cfg = value & !CFG_START_GEN_FIFO;
                if value & CFG_START_GEN_FIFO != 0 && value & CFG_START_MODE_MANUAL != 0 {
                    s.started = true;
                }
            }
            ISR => {
                if value & ISR_WR_TO_CLR != 0 {
                    s.poll_expired = false;
                }
            }
            IER => s.imask &= !value,
            IDR => s.imask |= value & IDR_ALL,
            EN => s.en = value & EN_ENABLE,
            SEL => s.sel = value & SEL_GQSPI,
            TXD => self.push(&mut s.tx, DATA_FIFO_DEPTH, value),
            GEN_FIFO => self.push(&mut s.generic, GEN_FIFO_DEPTH, value),
            FIFO_CTRL => {
                if value & FIFO_RST_GEN != 0 {
                    s.generic.clear();
                }
                if value & FIFO_RST_TX != 0 {
                    s.tx.clear();
                }
                if value & FIFO_RST_RX != 0 {
                    s.rx.clear();
                }
            }
            o => {
                if let Some(i) = Self::other_slot(o) {
                    s.other[i] = value;
                }
            }
        }
        self.step(&mut s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use board_spi_nor::{OP_PP_4B, OP_RDID, OP_READ_4B, OP_SE_4K_4B, OP_WREN};

    fn model() -> GqspiModel {
        model_at(VirtualTime::new())
    }

    fn model_at(t: VirtualTime) -> GqspiModel {
        let part = SpiNorPart::new(t.clone(), [0x20, 0xBB, 0x20], 64 << 20);
        let m = GqspiModel::new(t, 300_000_000, part);
        m.write(SEL, SEL_GQSPI);
        m.write(CONFIG, CFG_START_MODE_MANUAL);
        m.write(EN, EN_ENABLE);
        m
    }

    const LOW: u32 = GF_MODE_SPI | GF_CS_LOWER | GF_BUS_LOWER;

    fn start(m: &GqspiModel) {
        m.write(CONFIG, m.read(CONFIG) | CFG_START_GEN_FIFO);
    }

    fn send(m: &GqspiModel, bytes: &[u8]) {
        m.write(GEN_FIFO, LOW | CS_SETUP);
        m.write(GEN_FIFO, LOW | GF_DATA_XFER | GF_TX | bytes.len() as u32);
        for w in bytes.chunks(4) {
            let mut b = [0; 4];
            b[..w.len()].copy_from_slice(w);
            m.write(TXD, u32::from_le_bytes(b));
        }
        m.write(GEN_FIFO, GF_MODE_SPI | CS_HOLD);
        start(m);
    }

    #[test]
    fn entries_wait_for_the_manual_start_and_chip_select_follows_them() {
        let m = model();
        m.write(GEN_FIFO, LOW | CS_SETUP);
        assert_eq!(m.read(ISR) & ISR_GENFIFOEMPTY, 0, "queued, not run");
        assert!(!m.selected());
        start(&m);
        assert!(m.selected());
        assert_eq!(
            m.read(CONFIG) & CFG_START_GEN_FIFO,
            0,
            "the start bit reads 0"
        );
        assert_ne!(m.read(ISR) & ISR_GENFIFOEMPTY, 0);
        m.write(GEN_FIFO, 0);
        start(&m);
        assert!(m.selected(), "an empty entry touches nothing");
        m.write(GEN_FIFO, GF_MODE_SPI | CS_HOLD);
        start(&m);
        assert!(!m.selected());
    }

    #[test]
    fn a_receive_packs_bytes_low_first_with_a_partial_last_word() {
        let m = model();
        m.write(GEN_FIFO, LOW | CS_SETUP);
        m.write(GEN_FIFO, LOW | GF_DATA_XFER | GF_TX | 1);
        m.write(TXD, u32::from(OP_RDID));
        m.write(GEN_FIFO, LOW | GF_DATA_XFER | GF_RX | 3);
        start(&m);
        assert_ne!(m.read(ISR) & ISR_RXNEMPTY, 0);
        assert_eq!(m.read(RXD), 0x0020_BB20);
        assert_ne!(m.read(ISR) & ISR_RXEMPTY, 0);
    }

    #[test]
    fn a_transmit_stalls_until_its_words_arrive_and_nothing_runs_disabled() {
        let m = model();
        m.write(GEN_FIFO, LOW | CS_SETUP);
        m.write(GEN_FIFO, LOW | GF_DATA_XFER | GF_TX | 5);
        start(&m);
        m.write(TXD, u32::from_le_bytes([OP_RDID, 0, 0, 0]));
        assert_eq!(m.read(ISR) & ISR_GENFIFOEMPTY, 0, "4 of 5 bytes: stalled");
        m.write(TXD, 0);
        assert_ne!(m.read(ISR) & (ISR_GENFIFOEMPTY | ISR_TXEMPTY), 0);
        m.write(EN, 0);
        m.write(GEN_FIFO, GF_MODE_SPI | CS_HOLD);
        start(&m);
        assert!(m.selected(), "disabled: the entry did not run");
    }

    #[test]
    fn only_poll_time_expire_clears_by_writing_one_and_a_full_fifo_loses_writes() {
        let m = model();
        m.s.borrow_mut().poll_expired = true;
        m.write(ISR, !ISR_WR_TO_CLR);
        assert_ne!(m.read(ISR) & ISR_WR_TO_CLR, 0);
        m.write(ISR, ISR_WR_TO_CLR);
        assert_eq!(m.read(ISR) & ISR_WR_TO_CLR, 0);
        for _ in 0..=GEN_FIFO_DEPTH {
            m.write(GEN_FIFO, LOW | CS_SETUP);
        }
        assert_ne!(m.read(ISR) & ISR_GENFIFOFULL, 0);
        assert_eq!(m.lost_writes(), 1);
    }

    #[test]
    fn the_part_behind_it_takes_four_byte_addresses_past_16_mib() {
        let t = VirtualTime::new();
        let m = model_at(t.clone());
        send(&m, &[OP_WREN]);
        send(&m, &[OP_SE_4K_4B, 0x01, 0x00, 0x10, 0x00]);
        t.advance(crate::spi_nor::T_SSE);
        send(&m, &[OP_WREN]);
        send(&m, &[OP_PP_4B, 0x01, 0x00, 0x10, 0x00, 0xA5]);
        assert_eq!(m.part.borrow().peek(0x0100_1000, 1), [0xA5]);
        assert_eq!(
            m.part.borrow().peek(0x1000, 1),
            [0xFF],
            "not wrapped to 16 MiB"
        );
        t.advance(crate::spi_nor::T_PP);
        m.write(GEN_FIFO, LOW | CS_SETUP);
        m.write(GEN_FIFO, LOW | GF_DATA_XFER | GF_TX | 5);
        m.write(TXD, u32::from_le_bytes([OP_READ_4B, 0x01, 0x00, 0x10]));
        m.write(TXD, 0);
        m.write(GEN_FIFO, LOW | GF_DATA_XFER | GF_RX | 1);
        start(&m);
        assert_eq!(m.read(RXD), 0xA5);
    }
}
