//! Model of an SDHC memory card, from the SD Physical Layer Simplified Specification 9.10: the
//! card states of 4.2/4.3 (idle, ready, ident, stby, tran, data, rcv, prg), the commands
//! `board-sd-card` uses (CMD0/2/3/7/8/9/13/16/17/24, CMD55 + ACMD41) and CMD25 + CMD12 for
//! multi-block writes, the R1 card status of 4.10.1 (errors reported in the response of the
//! command that caused them, ILLEGAL_COMMAND in the next one, since an illegal command gets no
//! response), the OCR power-up (busy for the first two ACMD41s, and forever if the host does not
//! set HCS: an SDHC card never powers up for a host that cannot address it), CID and a CSD 2.0
//! carrying the capacity.
//!
//! Blocks a host writes are programmed when their data phase ends; the card then stays in prg
//! for [`T_PROG`] of virtual time (DAT0 held low, [`SdCardModel::busy`]). A card fresh from the
//! factory reads 0x00 (so a driver cannot pass by assuming 0xFF).
//!
//! Power cut, as the NOR part model does it: block programs are numbered from 0 since power-on;
//! cutting program `at_op` with `landed = k` stores the first `k` bytes of that block and the card
//! then answers nothing until [`SdCardModel::power_cycle`], after which it is in the idle state.
//! A real card's controller may lose more than the block being written on a power cut; what the
//! hal contract can promise is only what the device does, and this model lands a prefix.

use crate::time::VirtualTime;
use board_sd_card::*;
use std::collections::HashMap;
use std::time::Duration;

/// Programming time of one block (the specification allows up to 250 ms for a write; cards
/// typically take well under a millisecond).
pub const T_PROG: Duration = Duration::from_micros(300);
/// The relative card address this card publishes.
pub const RCA: u16 = 0x59B4;
/// CMD12, stop transmission (`MMC_STOP_TRANSMISSION`).
pub const CMD12: u8 = 12;
/// CMD25, write multiple blocks (`MMC_WRITE_MULTIPLE_BLOCK`).
pub const CMD25: u8 = 25;

/// A card state (R1 CURRENT_STATE values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Idle (0).
    Idle = 0,
    /// Ready (1).
    Ready = 1,
    /// Identification (2).
    Ident = 2,
    /// Stand-by (3).
    Stby = 3,
    /// Transfer (4).
    Tran = 4,
    /// Sending data (5).
    Data = 5,
    /// Receiving data (6).
    Rcv = 6,
    /// Programming (7).
    Prg = 7,
}

/// A card's answer to a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A 48-bit response: its bits 39:8.
    Short(u32),
    /// A 136-bit response: bits 127:96, 95:64, 63:32, 31:0 (CRC7 and end bit in the low byte).
    Long([u32; 4]),
}

/// An SDHC card.
#[derive(Debug)]
pub struct SdCardModel {
    time: VirtualTime,
    blocks: u64,
    mem: HashMap<u64, [u8; BLOCK]>,
    state: State,
    app_cmd: bool,
    acmd41_rounds: u32,
    errors: u32,
    next: u64,
    multi: bool,
    busy_until: u64,
    powered: bool,
    ops: u64,
    cut: Option<(u64, usize)>,
}

impl SdCardModel {
    /// A card of `blocks` 512-byte blocks (a multiple of 1024: CSD 2.0 counts 512 KiB units).
    pub fn new(time: VirtualTime, blocks: u64) -> Self {
        assert!(
            blocks.is_multiple_of(1024) && blocks > 0,
            "SDHC capacity in 512 KiB units"
        );
        SdCardModel {
            time,
            blocks,
            mem: HashMap::new(),
            state: State::Idle,
            app_cmd: false,
            acmd41_rounds: 0,
            errors: 0,
            next: 0,
            multi: false,
            busy_until: 0,
            powered: true,
            ops: 0,
            cut: None,
        }
    }

    /// The card's state now.
    pub fn state(&mut self) -> State {
        self.settle();
        self.state
    }

    /// Block `lba` as stored, whatever the power state.
    pub fn peek(&self, lba: u64) -> [u8; BLOCK] {
        self.mem.get(&lba).copied().unwrap_or([0; BLOCK])
    }

    /// Cut power during block program `at_op` (counted from now), landing `landed` bytes.
    pub fn cut_power(&mut self, at_op: u64, landed: usize) {
        self.cut = Some((self.ops + at_op, landed));
    }

    /// Power back on: the card is in the idle state, its blocks keep what landed.
    pub fn power_cycle(&mut self) {
        let (time, blocks, mem) = (
            self.time.clone(),
            self.blocks,
            std::mem::take(&mut self.mem),
        );
        *self = SdCardModel::new(time, blocks);
        self.mem = mem;
    }

    /// The card holds DAT0 low: it is programming a block.
    pub fn busy(&mut self) -> bool {
        self.settle();
        self.powered && self.state == State::Prg
    }

    fn settle(&mut self) {
        if self.state == State::Prg && self.time.now_ns() >= self.busy_until {
            self.state = State::Tran;
        }
    }

    /// R1 card status: errors, the state the command found, READY_FOR_DATA, APP_CMD.
    fn status(&mut self, found: State) -> u32 {
        let ready = if found == State::Prg {
            0
        } else {
            R1_READY_FOR_DATA
        };
        let app = if self.app_cmd { R1_APP_CMD } else { 0 };
        std::mem::take(&mut self.errors) | (found as u32) << R1_STATE_SHIFT | ready | app
    }

    fn cid() -> [u32; 4] {
        // MID 0x03, OID "SD", PNM "SM08G", PRV 8.0, PSN 0x12345678, MDT 2024-06, CRC7 + end bit.
        [0x0353_4453, 0x4D30_3847, 0x8012_3456, 0x7801_8601]
    }

    fn csd(&self) -> [u32; 4] {
        // CSD 2.0: TAAC 0x0E, TRAN_SPEED 0x32 (25 MHz), CCC 0x5B5, READ_BL_LEN 9, C_SIZE [69:48].
        let c_size = (self.blocks / 1024 - 1) as u32;
        [
            0x400E_0032,
            0x5B59_0000 | (c_size >> 16),
            (c_size & 0xFFFF) << 16 | 0x7F80,
            0x0A40_0001,
        ]
    }

    /// Command `index` with `arg` arrives; `None` is no response (unpowered, or illegal now).
    pub fn command(&mut self, index: u8, arg: u32) -> Option<Answer> {
        self.settle();
        if !self.powered {
            return None;
        }
        let acmd = std::mem::take(&mut self.app_cmd);
        let found = self.state;
        let ours = arg >> 16 == u32::from(RCA);
        use State::*;
        let answer = match (acmd, index, found) {
            (_, CMD0, _) => {
                self.state = Idle;
                self.acmd41_rounds = 0;
                return None;
            }
            (false, CMD8, Idle) if arg & 0xF00 == 0x100 => Answer::Short(arg & 0xFFF),
            (false, CMD8, Idle) => return None,
            (_, CMD55, Idle | Stby | Tran) => {
                self.app_cmd = true;
                Answer::Short(self.status(found))
            }
            (true, ACMD41, Idle) => {
                let mut ocr = OCR_VDD;
                if arg & OCR_VDD != 0 {
                    self.acmd41_rounds += 1;
                    if arg & OCR_CCS != 0 && self.acmd41_rounds >= 3 {
                        self.state = Ready;
                        ocr |= OCR_DONE | OCR_CCS;
                    }
                }
                Answer::Short(ocr)
            }
            (false, CMD2, Ready) => {
                self.state = Ident;
                Answer::Long(Self::cid())
            }
            (false, CMD3, Ident | Stby) => {
                self.state = Stby;
                let st = self.status(found);
                // R6: RCA, then status bits 23, 22, 19, 12:0 folded into 15:0.
                let folded = (st >> 8 & 0xC000) | (st >> 6 & 0x2000) | (st & 0x1FFF);
                Answer::Short(u32::from(RCA) << 16 | folded)
            }
            (false, CMD9, Stby) if ours => Answer::Long(self.csd()),
            (false, CMD7, Stby) if ours => {
                self.state = Tran;
                Answer::Short(self.status(found))
            }
            (false, CMD7, Tran | Data | Prg) if !ours => {
                self.state = if found == Prg { Prg } else { Stby };
                return None;
            }
            (false, CMD13, Stby | Tran | Data | Rcv | Prg) if ours => {
                Answer::Short(self.status(found))
            }
            (false, CMD16, Tran) => {
                if arg != BLOCK as u32 {
                    self.errors |= R1_BLOCK_LEN_ERROR;
                }
                Answer::Short(self.status(found))
            }
            (false, CMD17 | CMD24 | CMD25, Tran) => {
                if u64::from(arg) >= self.blocks {
                    self.errors |= R1_OUT_OF_RANGE;
                } else {
                    self.next = u64::from(arg);
                    self.multi = index == CMD25;
                    self.state = if index == CMD17 { Data } else { Rcv };
                }
                Answer::Short(self.status(found))
            }
            (false, CMD12, Data | Rcv) => {
                self.state = if found == Rcv { Prg } else { Tran };
                self.busy_until = self.busy_until.max(self.time.now_ns());
                Answer::Short(self.status(found))
            }
            _ => {
                self.errors |= R1_ILLEGAL_COMMAND;
                return None;
            }
        };
        Some(answer)
    }

    /// The card sends the block it was asked for, if it is sending one.
    pub fn read_block(&mut self) -> Option<[u8; BLOCK]> {
        self.settle();
        if !self.powered || self.state != State::Data {
            return None;
        }
        self.state = State::Tran;
        Some(self.peek(self.next))
    }

    /// The host sends a block; false if the card is not receiving one (no CRC status comes).
    pub fn write_block(&mut self, data: &[u8; BLOCK]) -> bool {
        self.settle();
        if !self.powered || self.state != State::Rcv {
            return false;
        }
        let op = self.ops;
        self.ops += 1;
        let landed = match self.cut {
            Some((at, k)) if at == op => {
                self.powered = false;
                k.min(BLOCK)
            }
            _ => BLOCK,
        };
        let mut block = self.peek(self.next);
        block[..landed].copy_from_slice(&data[..landed]);
        self.mem.insert(self.next, block);
        if !self.powered {
            return false;
        }
        self.busy_until = self.time.now_ns() + T_PROG.as_nanos() as u64;
        if self.multi {
            self.next += 1;
        } else {
            self.state = State::Prg;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(a: Option<Answer>) -> u32 {
        match a {
            Some(Answer::Short(v)) => v,
            other => panic!("expected a short response, got {other:?}"),
        }
    }

    fn to_tran(c: &mut SdCardModel) {
        c.command(CMD0, 0);
        assert_eq!(short(c.command(CMD8, IF_COND)), IF_COND);
        for round in 1..=3 {
            short(c.command(CMD55, 0));
            let ocr = short(c.command(ACMD41, OCR_CCS | OCR_VDD));
            assert_eq!(ocr & OCR_DONE != 0, round == 3, "busy for two rounds");
        }
        assert!(matches!(c.command(CMD2, 0), Some(Answer::Long(_))));
        assert_eq!(short(c.command(CMD3, 0)) >> 16, u32::from(RCA));
        short(c.command(CMD7, u32::from(RCA) << 16));
        assert_eq!(c.state(), State::Tran);
    }

    #[test]
    fn identification_follows_the_state_machine_and_illegal_commands_get_no_answer() {
        let t = VirtualTime::new();
        let mut c = SdCardModel::new(t, 1 << 20);
        assert_eq!(c.command(CMD17, 0), None, "not in tran: no answer");
        c.command(CMD55, 0);
        assert_eq!(
            short(c.command(ACMD41, OCR_VDD)) & OCR_DONE,
            0,
            "without HCS an SDHC card never powers up"
        );
        to_tran(&mut c);
        let st = short(c.command(CMD13, u32::from(RCA) << 16));
        assert_eq!(st >> R1_STATE_SHIFT & 0xF, 4);
        assert_eq!(c.command(CMD2, 0), None);
        let st = short(c.command(CMD13, u32::from(RCA) << 16));
        assert_ne!(st & R1_ILLEGAL_COMMAND, 0, "reported in the next status");
        let st = short(c.command(CMD13, u32::from(RCA) << 16));
        assert_eq!(st & R1_ILLEGAL_COMMAND, 0, "and cleared once read");
    }

    #[test]
    fn a_write_programs_for_a_while_and_a_cut_lands_a_prefix() {
        let t = VirtualTime::new();
        let mut c = SdCardModel::new(t.clone(), 1 << 20);
        to_tran(&mut c);
        assert_eq!(c.peek(7), [0; BLOCK], "factory-fresh reads 0x00");
        short(c.command(CMD24, 7));
        assert!(c.write_block(&[0xAB; BLOCK]));
        assert!(c.busy());
        let st = short(c.command(CMD13, u32::from(RCA) << 16));
        assert_eq!(st >> R1_STATE_SHIFT & 0xF, 7);
        assert_eq!(st & R1_READY_FOR_DATA, 0);
        t.advance(T_PROG);
        assert!(!c.busy());
        assert_eq!(c.peek(7), [0xAB; BLOCK]);
        c.cut_power(0, 3);
        short(c.command(CMD24, 7));
        assert!(!c.write_block(&[0x11; BLOCK]));
        assert_eq!(c.peek(7)[..4], [0x11, 0x11, 0x11, 0xAB]);
        assert_eq!(c.command(CMD13, u32::from(RCA) << 16), None, "unpowered");
        c.power_cycle();
        assert_eq!(c.state(), State::Idle);
        assert_eq!(c.command(CMD17, 0), None, "idle after power-up: no answer");
    }

    #[test]
    fn out_of_range_and_the_csd_capacity() {
        let t = VirtualTime::new();
        let mut c = SdCardModel::new(t, 1 << 20);
        to_tran(&mut c);
        assert_ne!(short(c.command(CMD17, 1 << 20)) & R1_OUT_OF_RANGE, 0);
        assert_eq!(c.read_block(), None, "no data for a refused read");
        c.command(CMD7, 0);
        assert_eq!(c.state(), State::Stby);
        let Some(Answer::Long(csd)) = c.command(CMD9, u32::from(RCA) << 16) else {
            panic!("CSD")
        };
        assert_eq!(csd_blocks(&csd), Ok(1 << 20));
    }

    #[test]
    fn a_multi_block_write_runs_until_cmd12() {
        let t = VirtualTime::new();
        let mut c = SdCardModel::new(t.clone(), 1 << 20);
        to_tran(&mut c);
        short(c.command(CMD25, 10));
        assert!(c.write_block(&[1; BLOCK]));
        assert!(c.write_block(&[2; BLOCK]));
        assert_eq!(c.state(), State::Rcv);
        short(c.command(CMD12, 0));
        assert!(c.busy());
        t.advance(T_PROG);
        assert_eq!(c.state(), State::Tran);
        assert_eq!((c.peek(10)[0], c.peek(11)[0], c.peek(12)[0]), (1, 2, 0));
    }
}
