//! Model of the BCM2711 EMMC2 controller (SDHCI 3.0, 32-bit accesses) with an SD card, from the
//! SD Host Controller Simplified Specification 3.00 and Linux `sdhci.h`/`sdhci.c`/
//! `sdhci-iproc.c` (constants shared with the driver, `board_devboard::emmc2`):
//!
//! - software reset bits clear themselves; RESET_ALL returns every register to its reset value;
//! - the internal clock reports stable once enabled; the card sees commands only while bus
//!   power and the card clock are on (otherwise a command never completes: CMD_INHIBIT stays);
//! - writing the transfer-mode/command word issues the command to the card; a command that
//!   expects a response and gets none latches a command timeout; R2 lands as bits 127:8;
//! - status bits latch only if enabled in INT_ENABLE; they clear by writing one; bit 15 is the
//!   summary of the error bits; after an error CMD_INHIBIT (and DATA_INHIBIT) stay set until
//!   the host resets the lines;
//! - a read block is offered in the buffer (BUFFER READ READY, then TRANSFER COMPLETE once all
//!   128 words are read); a write block is taken from 128 buffer writes, sent to the card, and
//!   TRANSFER COMPLETE waits until the card stops holding DAT0 busy; a block the card does not
//!   send or take latches a data timeout; a busy (R1b) command completes its transfer when the
//!   card is not busy; a data or busy command issued while DATA_INHIBIT is set is a driver bug
//!   the model stops on.
//!
//! Not modelled: DMA, interrupts to the CPU, the divider's effect on time (commands and blocks
//! move instantly), multi-block transfers (the model panics on a block count other than 1).

use crate::sd_card::{Answer, SdCardModel};
use crate::time::VirtualTime;
use board_devboard::emmc2::*;
use board_devboard::regs::Regs;
use board_sd_card::BLOCK;
use std::cell::RefCell;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Phase {
    Idle,
    Reading(usize),
    Writing(usize),
    WaitBusy,
}

#[derive(Debug)]
struct State {
    blk: u32,
    arg: u32,
    cmd: u32,
    resp: [u32; 4],
    host_power: u32,
    clock: u32,
    status: u32,
    enable: u32,
    signal: u32,
    inhibit: u32,
    phase: Phase,
    buf: [u8; BLOCK],
}

impl State {
    fn reset() -> State {
        State {
            blk: 0,
            arg: 0,
            cmd: 0,
            resp: [0; 4],
            host_power: 0,
            clock: 0,
            status: 0,
            enable: 0,
            signal: 0,
            inhibit: 0,
            phase: Phase::Idle,
            buf: [0; BLOCK],
        }
    }

    fn latch(&mut self, bits: u32) {
        self.status |= bits & self.enable;
    }

    fn card_reachable(&self) -> bool {
        let power = self.host_power >> 8 & POWER_ON != 0;
        power && self.clock & CLOCK_CARD_EN != 0 && self.clock & CLOCK_INT_EN != 0
    }
}

/// An EMMC2 controller and its card.
#[derive(Debug)]
pub struct Emmc2Model {
    time: VirtualTime,
    s: RefCell<State>,
    card: RefCell<SdCardModel>,
}

impl Emmc2Model {
    /// The controller at reset, with `card` inserted.
    pub fn new(time: VirtualTime, card: SdCardModel) -> Self {
        Emmc2Model {
            time,
            s: RefCell::new(State::reset()),
            card: RefCell::new(card),
        }
    }

    /// The card.
    pub fn card(&self) -> std::cell::RefMut<'_, SdCardModel> {
        self.card.borrow_mut()
    }

    fn issue(&self, s: &mut State, word: u32) {
        let (mode, command) = (word & 0xFFFF, word >> 16);
        s.cmd = command;
        if s.inhibit & CMD_INHIBIT != 0 {
            return;
        }
        let data = command & CMD_DATA != 0;
        let rtype = command & CMD_RESP_MASK;
        assert!(
            !(data || rtype == CMD_RESP_SHORT_BUSY) || s.inhibit & DATA_INHIBIT == 0,
            "EMMC2 model: a data or busy command issued while DATA_INHIBIT is set (SDHCI 3.00 \
             forbids it)"
        );
        s.inhibit |= CMD_INHIBIT;
        if !s.card_reachable() {
            return;
        }
        if data {
            assert_eq!(
                s.blk >> 16,
                1,
                "EMMC2 model: only single-block transfers are modelled"
            );
            assert_eq!(
                s.blk & 0xFFF,
                BLOCK as u32,
                "EMMC2 model: 512-byte blocks only"
            );
            s.inhibit |= DATA_INHIBIT;
        }
        let answer = self.card().command((command >> 8 & 0x3F) as u8, s.arg);
        match (rtype, answer) {
            (CMD_RESP_NONE, _) => {}
            (_, None) => {
                s.latch(INT_TIMEOUT);
                return;
            }
            (CMD_RESP_LONG, Some(Answer::Long(w))) => {
                let v = (u128::from(w[0]) << 96
                    | u128::from(w[1]) << 64
                    | u128::from(w[2]) << 32
                    | u128::from(w[3]))
                    >> 8;
                s.resp = [
                    v as u32,
                    (v >> 32) as u32,
                    (v >> 64) as u32,
                    (v >> 96) as u32,
                ];
            }
            (_, Some(Answer::Short(v))) => s.resp = [v, 0, 0, 0],
            (_, Some(Answer::Long(_))) => {
                s.latch(INT_END_BIT);
                return;
            }
        }
        s.inhibit &= !CMD_INHIBIT;
        s.latch(INT_RESPONSE);
        if data && mode & TRNS_READ != 0 {
            match self.card().read_block() {
                Some(b) => {
                    s.buf = b;
                    s.phase = Phase::Reading(0);
                    s.latch(INT_DATA_AVAIL);
                }
                None => s.latch(INT_DATA_TIMEOUT),
            }
        } else if data {
            s.phase = Phase::Writing(0);
            s.latch(INT_SPACE_AVAIL);
        } else if rtype == CMD_RESP_SHORT_BUSY {
            s.inhibit |= DATA_INHIBIT;
            s.phase = Phase::WaitBusy;
        }
    }

    /// A transfer waiting for the card's busy to end completes once it has.
    fn settle(&self, s: &mut State) {
        if s.phase == Phase::WaitBusy && !self.card().busy() {
            s.phase = Phase::Idle;
            s.inhibit &= !DATA_INHIBIT;
            s.latch(INT_DATA_END);
        }
    }

    fn present(&self, s: &State) -> u32 {
        let mut v = s.inhibit | CARD_PRESENT;
        match s.phase {
            Phase::Reading(_) => v |= DATA_AVAILABLE,
            Phase::Writing(_) => v |= SPACE_AVAILABLE,
            _ => {}
        }
        v
    }

    fn read_buffer(&self, s: &mut State) -> u32 {
        let Phase::Reading(at) = s.phase else {
            return 0;
        };
        let w = u32::from_le_bytes(s.buf[at..at + 4].try_into().expect("4 bytes"));
        if at + 4 == BLOCK {
            s.phase = Phase::Idle;
            s.inhibit &= !DATA_INHIBIT;
            s.latch(INT_DATA_END);
        } else {
            s.phase = Phase::Reading(at + 4);
        }
        w
    }

    fn write_buffer(&self, s: &mut State, value: u32) {
        let Phase::Writing(at) = s.phase else {
            return;
        };
        s.buf[at..at + 4].copy_from_slice(&value.to_le_bytes());
        if at + 4 < BLOCK {
            s.phase = Phase::Writing(at + 4);
        } else if self.card().write_block(&s.buf) {
            s.phase = Phase::WaitBusy;
        } else {
            s.phase = Phase::Idle;
            s.latch(INT_DATA_TIMEOUT);
        }
    }

    fn software_reset(&self, s: &mut State, what: u32) {
        if what & RESET_ALL != 0 {
            *s = State::reset();
            return;
        }
        if what & RESET_CMD != 0 {
            s.inhibit &= !CMD_INHIBIT;
        }
        if what & RESET_DATA != 0 {
            s.inhibit &= !DATA_INHIBIT;
            s.phase = Phase::Idle;
        }
    }
}

impl crate::PartPower for Emmc2Model {
    fn cut_power(&self, at_op: u64, landed: usize) {
        self.card().cut_power(at_op, landed);
    }

    fn power_cycle(&self) {
        self.card().power_cycle();
    }
}

impl Regs for Emmc2Model {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        let mut s = self.s.borrow_mut();
        self.settle(&mut s);
        match offset {
            BLOCK_SIZE_COUNT => s.blk,
            ARGUMENT => s.arg,
            TRANSFER_COMMAND => s.cmd << 16,
            o if (RESPONSE..RESPONSE + 16).contains(&o) => s.resp[(o - RESPONSE) / 4],
            BUFFER => self.read_buffer(&mut s),
            PRESENT_STATE => self.present(&s),
            HOST_POWER => s.host_power,
            CLOCK_TIMEOUT_RESET => {
                let stable = if s.clock & CLOCK_INT_EN != 0 {
                    CLOCK_INT_STABLE
                } else {
                    0
                };
                s.clock | stable
            }
            INT_STATUS => {
                let err = if s.status & INT_ERROR_MASK & !INT_ERROR != 0 {
                    INT_ERROR
                } else {
                    0
                };
                s.status | err
            }
            INT_ENABLE => s.enable,
            SIGNAL_ENABLE => s.signal,
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        let mut s = self.s.borrow_mut();
        match offset {
            BLOCK_SIZE_COUNT => s.blk = value,
            ARGUMENT => s.arg = value,
            TRANSFER_COMMAND => self.issue(&mut s, value),
            BUFFER => self.write_buffer(&mut s, value),
            HOST_POWER => s.host_power = value,
            CLOCK_TIMEOUT_RESET => {
                s.clock = value & 0x00FF_FFFF & !CLOCK_INT_STABLE;
                self.software_reset(&mut s, value >> 24);
            }
            INT_STATUS => s.status &= !value,
            INT_ENABLE => s.enable = value,
            SIGNAL_ENABLE => s.signal = value,
            _ => {}
        }
        self.settle(&mut s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use board_sd_card::{CMD0, CMD8, CMD13, IF_COND};

    fn model() -> Emmc2Model {
        let t = VirtualTime::new();
        Emmc2Model::new(t.clone(), SdCardModel::new(t, 1 << 20))
    }

    fn short(m: &Emmc2Model, index: u8, arg: u32) {
        m.write(ARGUMENT, arg);
        let c = u32::from(index) << 8 | CMD_RESP_SHORT | CMD_CRC | CMD_INDEX;
        m.write(TRANSFER_COMMAND, c << 16);
    }

    fn cmd8(m: &Emmc2Model) {
        short(m, CMD8, IF_COND);
    }

    #[test]
    fn without_the_card_clock_a_command_never_completes() {
        let m = model();
        m.write(HOST_POWER, (POWER_330 | POWER_ON) << 8);
        m.write(INT_ENABLE, INT_NORMAL_MASK | INT_ERROR_MASK);
        cmd8(&m);
        assert_ne!(m.read(PRESENT_STATE) & CMD_INHIBIT, 0);
        assert_eq!(m.read(INT_STATUS), 0);
        m.write(CLOCK_TIMEOUT_RESET, RESET_CMD << 24);
        assert_eq!(
            m.read(PRESENT_STATE) & CMD_INHIBIT,
            0,
            "reset clears the line"
        );
        assert_eq!(
            m.read(CLOCK_TIMEOUT_RESET) >> 24,
            0,
            "reset bits clear themselves"
        );
    }

    #[test]
    fn status_latches_only_when_enabled_and_clears_by_writing_one() {
        let m = model();
        m.write(HOST_POWER, (POWER_330 | POWER_ON) << 8);
        m.write(CLOCK_TIMEOUT_RESET, CLOCK_INT_EN | CLOCK_CARD_EN);
        assert_ne!(m.read(CLOCK_TIMEOUT_RESET) & CLOCK_INT_STABLE, 0);
        cmd8(&m);
        assert_eq!(m.read(INT_STATUS), 0, "not enabled: not latched");
        assert_eq!(m.read(RESPONSE), IF_COND, "but the command ran");
        m.write(INT_ENABLE, INT_NORMAL_MASK | INT_ERROR_MASK);
        short(&m, CMD13, 0);
        assert_eq!(
            m.read(INT_STATUS),
            INT_TIMEOUT | INT_ERROR,
            "CMD13 in idle: no answer"
        );
        assert_ne!(m.read(PRESENT_STATE) & CMD_INHIBIT, 0, "held until reset");
        m.write(INT_STATUS, INT_TIMEOUT);
        assert_eq!(m.read(INT_STATUS), 0);
        m.write(
            CLOCK_TIMEOUT_RESET,
            (CLOCK_INT_EN | CLOCK_CARD_EN) | RESET_CMD << 24,
        );
        m.write(TRANSFER_COMMAND, (u32::from(CMD0) << 8) << 16);
        cmd8(&m);
        assert_eq!(m.read(INT_STATUS), INT_RESPONSE);
    }
}
