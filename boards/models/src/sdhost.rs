//! Model of the BCM2835 SDHOST controller with an SD card, from Linux `bcm2835.c` (constants
//! shared with the driver, `board_devboard::sdhost`; the controller has no public manual beyond
//! that driver):
//!
//! - writing SDCMD with NEW_FLAG runs the command: no card power (SDVDD) or no response when
//!   one is expected sets FAIL_FLAG and SDHSTS.CMD_TIME_OUT; NEW_FLAG then reads 0; a long
//!   response lands as `SDRSP<i> = resp[3 - i]`;
//! - a busy-wait (R1b) command latches SDHSTS.BUSY_IRPT once the card no longer holds DAT0;
//! - a read command fills the 16-word FIFO from the card's block as the host drains it (SDEDM
//!   bits 8:4 give the level, the state machine reads READDATA, then DATAMODE); a write command
//!   takes 128 words through the FIFO (passed on at once, so it never fills), then the block
//!   goes to the card and the state machine waits in WRITEWAIT2 while the card is busy; a block
//!   the card does not send or take sets SDHSTS.REW_TIME_OUT;
//! - SDHSTS bits 10:3 clear by writing one; DATA_FLAG is live;
//! - a command issued before the data state machine is back in data mode is a driver bug the
//!   model stops on (Linux refuses it: "previous command not complete").
//!
//! Not modelled: DMA, the interrupt line, the clock's effect on time (commands and words move
//! instantly), multi-block transfers and block sizes other than 512 (the model panics).

use crate::sd_card::{Answer, SdCardModel};
use crate::time::VirtualTime;
use board_devboard::regs::Regs;
use board_devboard::sdhost::*;
use board_sd_card::BLOCK;
use std::cell::RefCell;
use std::collections::VecDeque;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Phase {
    Idle,
    Reading,
    Writing,
    WaitBusy,
}

#[derive(Debug, Default)]
struct State {
    cmd: u32,
    arg: u32,
    tout: u32,
    cdiv: u32,
    rsp: [u32; 4],
    hsts: u32,
    vdd: u32,
    thresholds: u32,
    hcfg: u32,
    hbct: u32,
    hblc: u32,
    fifo: VecDeque<u32>,
    pending: VecDeque<u32>,
    written: Vec<u8>,
    phase: Option<Phase>,
    busy_wait: bool,
}

/// An SDHOST controller and its card.
#[derive(Debug)]
pub struct SdhostModel {
    time: VirtualTime,
    s: RefCell<State>,
    card: RefCell<SdCardModel>,
}

impl SdhostModel {
    /// The controller at reset, with `card` inserted.
    pub fn new(time: VirtualTime, card: SdCardModel) -> Self {
        SdhostModel {
            time,
            s: RefCell::new(State::default()),
            card: RefCell::new(card),
        }
    }

    /// The card.
    pub fn card(&self) -> std::cell::RefMut<'_, SdCardModel> {
        self.card.borrow_mut()
    }

    fn run(&self, s: &mut State, value: u32) {
        assert!(
            matches!(s.phase, None | Some(Phase::Idle)),
            "SDHOST model: a command issued while the data state machine is in {:?} (Linux \
             `bcm2835_request` refuses this: previous command not complete)",
            s.phase
        );
        s.cmd = value & !SDCMD_NEW_FLAG;
        let (read, write) = (value & SDCMD_READ_CMD != 0, value & SDCMD_WRITE_CMD != 0);
        if read || write {
            assert_eq!(
                (s.hbct, s.hblc),
                (BLOCK as u32, 1),
                "SDHOST model: one 512-byte block"
            );
        }
        let fail = |s: &mut State, bits: u32| {
            s.cmd |= SDCMD_FAIL_FLAG;
            s.hsts |= bits;
        };
        if s.vdd & SDVDD_POWER_ON == 0 {
            return fail(s, SDHSTS_CMD_TIME_OUT);
        }
        let answer = self.card().command((value & SDCMD_CMD_MASK) as u8, s.arg);
        match (value & SDCMD_NO_RESPONSE != 0, answer) {
            (true, _) => {}
            (false, None) => return fail(s, SDHSTS_CMD_TIME_OUT),
            (false, Some(Answer::Short(v))) if value & SDCMD_LONG_RESPONSE == 0 => {
                s.rsp = [v, 0, 0, 0];
            }
            (false, Some(Answer::Long(w))) if value & SDCMD_LONG_RESPONSE != 0 => {
                s.rsp = [w[3], w[2], w[1], w[0]];
            }
            (false, Some(_)) => return fail(s, SDHSTS_CRC7_ERROR),
        }
        s.busy_wait = value & SDCMD_BUSYWAIT != 0;
        if read {
            match self.card().read_block() {
                Some(b) => {
                    s.pending = b
                        .chunks(4)
                        .map(|w| u32::from_le_bytes(w.try_into().expect("4 bytes")))
                        .collect();
                    s.phase = Some(Phase::Reading);
                }
                None => s.hsts |= SDHSTS_REW_TIME_OUT,
            }
        } else if write {
            s.written.clear();
            s.phase = Some(Phase::Writing);
        }
    }

    /// Moves data and busy state along.
    fn settle(&self, s: &mut State) {
        while s.phase == Some(Phase::Reading) && s.fifo.len() < FIFO_WORDS as usize {
            match s.pending.pop_front() {
                Some(w) => s.fifo.push_back(w),
                None => break,
            }
        }
        if s.phase == Some(Phase::Reading) && s.pending.is_empty() && s.fifo.is_empty() {
            s.phase = Some(Phase::Idle);
        }
        let busy = self.card().busy();
        if s.phase == Some(Phase::WaitBusy) && !busy {
            s.phase = Some(Phase::Idle);
            s.hsts |= SDHSTS_BLOCK_IRPT;
        }
        if s.busy_wait && !busy {
            s.busy_wait = false;
            s.hsts |= SDHSTS_BUSY_IRPT;
        }
    }

    fn write_data(&self, s: &mut State, value: u32) {
        if s.phase != Some(Phase::Writing) {
            s.hsts |= SDHSTS_FIFO_ERROR;
            return;
        }
        s.written.extend(value.to_le_bytes());
        if s.written.len() < BLOCK {
            return;
        }
        let block: [u8; BLOCK] = s.written[..].try_into().expect("one block");
        if self.card().write_block(&block) {
            s.phase = Some(Phase::WaitBusy);
        } else {
            s.phase = Some(Phase::Idle);
            s.hsts |= SDHSTS_REW_TIME_OUT;
        }
    }

    fn edm(s: &State) -> u32 {
        let fsm = match s.phase {
            None => SDEDM_FSM_IDENTMODE,
            Some(Phase::Idle) => SDEDM_FSM_DATAMODE,
            Some(Phase::Reading) => SDEDM_FSM_READDATA,
            Some(Phase::Writing) => SDEDM_FSM_WRITEDATA,
            Some(Phase::WaitBusy) => SDEDM_FSM_WRITEWAIT2,
        };
        s.thresholds | (s.fifo.len() as u32) << 4 | fsm
    }
}

impl crate::PartPower for SdhostModel {
    fn cut_power(&self, at_op: u64, landed: usize) {
        self.card().cut_power(at_op, landed);
    }

    fn power_cycle(&self) {
        self.card().power_cycle();
    }
}

impl Regs for SdhostModel {
    fn read(&self, offset: usize) -> u32 {
        self.time.access();
        let mut s = self.s.borrow_mut();
        self.settle(&mut s);
        match offset {
            SDCMD => s.cmd,
            SDARG => s.arg,
            SDTOUT => s.tout,
            SDCDIV => s.cdiv,
            o if (SDRSP0..SDRSP0 + 16).contains(&o) => s.rsp[(o - SDRSP0) / 4],
            SDHSTS => {
                let data = match s.phase {
                    Some(Phase::Reading) => !s.fifo.is_empty(),
                    Some(Phase::Writing) => true,
                    _ => false,
                };
                s.hsts | (u32::from(data) * SDHSTS_DATA_FLAG)
            }
            SDVDD => s.vdd,
            SDEDM => Self::edm(&s),
            SDHCFG => s.hcfg,
            SDHBCT => s.hbct,
            SDHBLC => s.hblc,
            SDDATA => {
                let w = s.fifo.pop_front();
                if w.is_none() {
                    s.hsts |= SDHSTS_FIFO_ERROR;
                }
                w.unwrap_or(0)
            }
            _ => 0,
        }
    }

    fn write(&self, offset: usize, value: u32) {
        self.time.access();
        let mut s = self.s.borrow_mut();
        match offset {
            SDCMD if value & SDCMD_NEW_FLAG != 0 => self.run(&mut s, value),
            SDCMD => s.cmd = value,
            SDARG => s.arg = value,
            SDTOUT => s.tout = value,
            SDCDIV => s.cdiv = value & SDCDIV_MAX_CDIV,
            SDHSTS => s.hsts &= !(value & SDHSTS_CLEAR_ALL),
            SDVDD => s.vdd = value & SDVDD_POWER_ON,
            SDEDM => s.thresholds = value & !0x1FF,
            SDHCFG => s.hcfg = value,
            SDHBCT => s.hbct = value,
            SDHBLC => s.hblc = value,
            SDDATA => self.write_data(&mut s, value),
            _ => {}
        }
        self.settle(&mut s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use board_sd_card::{CMD0, CMD8, IF_COND};

    #[test]
    fn an_unpowered_card_fails_the_command_with_a_timeout_that_clears_by_writing_one() {
        let t = VirtualTime::new();
        let m = SdhostModel::new(t.clone(), SdCardModel::new(t, 1 << 20));
        m.write(SDARG, IF_COND);
        m.write(SDCMD, u32::from(CMD8) | SDCMD_NEW_FLAG);
        let cmd = m.read(SDCMD);
        assert_eq!(cmd & (SDCMD_NEW_FLAG | SDCMD_FAIL_FLAG), SDCMD_FAIL_FLAG);
        assert_eq!(m.read(SDHSTS), SDHSTS_CMD_TIME_OUT);
        m.write(SDHSTS, SDHSTS_CMD_TIME_OUT);
        assert_eq!(m.read(SDHSTS), 0);
        m.write(SDVDD, SDVDD_POWER_ON);
        m.write(SDCMD, u32::from(CMD0) | SDCMD_NO_RESPONSE | SDCMD_NEW_FLAG);
        m.write(SDCMD, u32::from(CMD8) | SDCMD_NEW_FLAG);
        assert_eq!(m.read(SDCMD) & SDCMD_FAIL_FLAG, 0);
        assert_eq!(m.read(SDRSP0), IF_COND);
    }

    #[test]
    fn a_read_fills_the_16_word_fifo_as_it_drains() {
        let t = VirtualTime::new();
        let m = SdhostModel::new(t.clone(), SdCardModel::new(t, 1 << 20));
        let mut s = m.s.borrow_mut();
        s.phase = Some(Phase::Reading);
        s.pending = (0..128).collect();
        drop(s);
        assert_eq!(m.read(SDEDM) >> 4 & 0x1F, 16);
        assert_eq!(m.read(SDEDM) & SDEDM_FSM_MASK, SDEDM_FSM_READDATA);
        assert_eq!(m.read(SDDATA), 0);
        assert_eq!(m.read(SDEDM) >> 4 & 0x1F, 16, "refilled");
        for w in 1..128 {
            assert_eq!(m.read(SDDATA), w);
        }
        assert_eq!(m.read(SDEDM) & SDEDM_FSM_MASK, SDEDM_FSM_DATAMODE);
        m.read(SDDATA);
        assert_ne!(m.read(SDHSTS) & SDHSTS_FIFO_ERROR, 0, "underrun");
    }
}
