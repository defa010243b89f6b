//! The BCM2835 SDHOST controller (`brcm,bcm2835-sdhost`, the second SD host of the BCM2711,
//! with the microSD card that holds comms' store and the batch being received) as a [`SdHost`]
//! for `board-sd-card`: programmed I/O through its 16-word data FIFO, one block per command, one
//! data line, polled.
//!
//! Sources: Linux `drivers/mmc/host/bcm2835.c` (register offsets and bits, named beside each
//! constant; `bcm2835_reset_internal` for the start-up values and the FIFO thresholds it sets
//! for a silicon bug; `bcm2835_set_clock`: SDCDIV holds divisor - 2, the SLOW_CARD bit keeps that
//! divisor in data mode, SDTOUT = clock / 2 for 500 ms; `bcm2835_send_command`: clear the error
//! bits, block size and count, argument, then SDCMD with NEW_FLAG; `bcm2835_finish_command`:
//! wait for NEW_FLAG to clear, FAIL_FLAG means look at SDHSTS, a long response is read
//! `resp[3 - i] = SDRSP<i>`; `bcm2835_transfer_block_pio`: the FIFO fill level is SDEDM bits 8:4;
//! `bcm2835_wait_transfer_complete`: the transfer is over when the SDEDM state machine is back in
//! identification or data mode).
//! Avoids: DMA, interrupts (SDHCFG's interrupt enables stay 0: the busy end of an R1b command is
//! seen by polling SDHSTS.BUSY_IRPT), the 4-bit bus, multi-block commands. Linux sleeps 20 ms
//! around the power switch; this driver has no timer, so the board's boot firmware must have
//! powered the card (it boots from the other SD host) before the partition starts.
//! A CRC7 error on R3 (ACMD41) is not an error: R3 carries no CRC (SD specification 4.9.4).

use crate::regs::Regs;
use board_sd_card::{BLOCK, Data, HostError, Resp, SdHost};

/// Command (`SDCMD`).
pub const SDCMD: usize = 0x00;
/// Argument (`SDARG`).
pub const SDARG: usize = 0x04;
/// Timeout counter start value (`SDTOUT`).
pub const SDTOUT: usize = 0x08;
/// Clock divisor - 2 (`SDCDIV`).
pub const SDCDIV: usize = 0x0C;
/// Response words 0..4 (`SDRSP0`).
pub const SDRSP0: usize = 0x10;
/// Host status (`SDHSTS`).
pub const SDHSTS: usize = 0x20;
/// Card power (`SDVDD`).
pub const SDVDD: usize = 0x30;
/// Emergency debug mode: FIFO level and state machine (`SDEDM`).
pub const SDEDM: usize = 0x34;
/// Host configuration (`SDHCFG`).
pub const SDHCFG: usize = 0x38;
/// Host byte count: block size (`SDHBCT`).
pub const SDHBCT: usize = 0x3C;
/// Data FIFO (`SDDATA`).
pub const SDDATA: usize = 0x40;
/// Host block count (`SDHBLC`).
pub const SDHBLC: usize = 0x50;

/// SDCMD: start a command; clears when done (`SDCMD_NEW_FLAG`).
pub const SDCMD_NEW_FLAG: u32 = 0x8000;
/// SDCMD: the command failed (`SDCMD_FAIL_FLAG`).
pub const SDCMD_FAIL_FLAG: u32 = 0x4000;
/// SDCMD: wait for busy (`SDCMD_BUSYWAIT`).
pub const SDCMD_BUSYWAIT: u32 = 0x800;
/// SDCMD: no response (`SDCMD_NO_RESPONSE`).
pub const SDCMD_NO_RESPONSE: u32 = 0x400;
/// SDCMD: 136-bit response (`SDCMD_LONG_RESPONSE`).
pub const SDCMD_LONG_RESPONSE: u32 = 0x200;
/// SDCMD: host to card data (`SDCMD_WRITE_CMD`).
pub const SDCMD_WRITE_CMD: u32 = 0x80;
/// SDCMD: card to host data (`SDCMD_READ_CMD`).
pub const SDCMD_READ_CMD: u32 = 0x40;
/// SDCMD: command index (`SDCMD_CMD_MASK`).
pub const SDCMD_CMD_MASK: u32 = 0x3F;
/// SDCDIV: largest value (`SDCDIV_MAX_CDIV`).
pub const SDCDIV_MAX_CDIV: u32 = 0x7FF;

/// SDHSTS: busy ended (`SDHSTS_BUSY_IRPT`).
pub const SDHSTS_BUSY_IRPT: u32 = 0x400;
/// SDHSTS: block done (`SDHSTS_BLOCK_IRPT`).
pub const SDHSTS_BLOCK_IRPT: u32 = 0x200;
/// SDHSTS: read/erase/write timeout (`SDHSTS_REW_TIME_OUT`).
pub const SDHSTS_REW_TIME_OUT: u32 = 0x80;
/// SDHSTS: command timeout (`SDHSTS_CMD_TIME_OUT`).
pub const SDHSTS_CMD_TIME_OUT: u32 = 0x40;
/// SDHSTS: data CRC error (`SDHSTS_CRC16_ERROR`).
pub const SDHSTS_CRC16_ERROR: u32 = 0x20;
/// SDHSTS: response CRC error (`SDHSTS_CRC7_ERROR`).
pub const SDHSTS_CRC7_ERROR: u32 = 0x10;
/// SDHSTS: FIFO overrun or underrun (`SDHSTS_FIFO_ERROR`).
pub const SDHSTS_FIFO_ERROR: u32 = 0x08;
/// SDHSTS: data in the FIFO / space in it (`SDHSTS_DATA_FLAG`).
pub const SDHSTS_DATA_FLAG: u32 = 0x01;
/// SDHSTS: every error (`SDHSTS_ERROR_MASK`).
pub const SDHSTS_ERROR_MASK: u32 = SDHSTS_CMD_TIME_OUT
    | SDHSTS_CRC7_ERROR
    | SDHSTS_CRC16_ERROR
    | SDHSTS_REW_TIME_OUT
    | SDHSTS_FIFO_ERROR;
/// SDHSTS: the write-one-to-clear bits `bcm2835_reset_internal` clears (0x7f8).
pub const SDHSTS_CLEAR_ALL: u32 = 0x7F8;

/// SDHCFG: slow card, keep the divisor in data mode (`SDHCFG_SLOW_CARD`).
pub const SDHCFG_SLOW_CARD: u32 = 1 << 3;
/// SDHCFG: internal bus wide (`SDHCFG_WIDE_INT_BUS`).
pub const SDHCFG_WIDE_INT_BUS: u32 = 1 << 1;
/// SDVDD: power on (`SDVDD_POWER_ON`).
pub const SDVDD_POWER_ON: u32 = 1;

/// SDEDM: state machine field (`SDEDM_FSM_MASK`).
pub const SDEDM_FSM_MASK: u32 = 0xF;
/// SDEDM state: identification mode (`SDEDM_FSM_IDENTMODE`).
pub const SDEDM_FSM_IDENTMODE: u32 = 0x0;
/// SDEDM state: data mode (`SDEDM_FSM_DATAMODE`).
pub const SDEDM_FSM_DATAMODE: u32 = 0x1;
/// SDEDM state: reading data (`SDEDM_FSM_READDATA`).
pub const SDEDM_FSM_READDATA: u32 = 0x2;
/// SDEDM state: writing data (`SDEDM_FSM_WRITEDATA`).
pub const SDEDM_FSM_WRITEDATA: u32 = 0x3;
/// SDEDM state: waiting for the card's busy after a write (`SDEDM_FSM_WRITEWAIT2`).
pub const SDEDM_FSM_WRITEWAIT2: u32 = 0xD;
/// SDEDM: write threshold shift (`SDEDM_WRITE_THRESHOLD_SHIFT`).
pub const SDEDM_WRITE_THRESHOLD_SHIFT: u32 = 9;
/// SDEDM: read threshold shift (`SDEDM_READ_THRESHOLD_SHIFT`).
pub const SDEDM_READ_THRESHOLD_SHIFT: u32 = 14;
/// SDEDM: threshold field (`SDEDM_THRESHOLD_MASK`).
pub const SDEDM_THRESHOLD_MASK: u32 = 0x1F;
/// The thresholds Linux sets (`FIFO_READ_THRESHOLD`, `FIFO_WRITE_THRESHOLD`).
pub const FIFO_THRESHOLD: u32 = 4;
/// Data FIFO depth in words (`SDDATA_FIFO_WORDS`).
pub const FIFO_WORDS: u32 = 16;

/// The identification clock.
pub const IDENT_HZ: u32 = 400_000;
/// The default-speed data clock.
pub const DATA_HZ: u32 = 25_000_000;
/// Polls before a stuck controller is reported.
pub const POLLS: u32 = 100_000;

/// The FIFO fill level in SDEDM bits 8:4.
fn fifo_level(edm: u32) -> u32 {
    (edm >> 4) & 0x1F
}

/// The SDHOST controller.
#[derive(Debug)]
pub struct Sdhost<R> {
    regs: R,
    core_hz: u32,
}

impl<R: Regs> Sdhost<R> {
    /// `bcm2835_reset_internal`, then the configuration `bcm2835_set_ios` writes for a one-bit
    /// bus, and the 400 kHz identification clock from `core_hz` (the VPU core clock).
    pub fn new(regs: R, core_hz: u32) -> Self {
        regs.write(SDVDD, 0);
        regs.write(SDCMD, 0);
        regs.write(SDARG, 0);
        regs.write(SDTOUT, 0x00F0_0000);
        regs.write(SDCDIV, 0);
        regs.write(SDHSTS, SDHSTS_CLEAR_ALL);
        regs.write(SDHCFG, 0);
        regs.write(SDHBCT, 0);
        regs.write(SDHBLC, 0);
        let thresholds = (SDEDM_THRESHOLD_MASK << SDEDM_READ_THRESHOLD_SHIFT)
            | (SDEDM_THRESHOLD_MASK << SDEDM_WRITE_THRESHOLD_SHIFT);
        let edm = regs.read(SDEDM) & !thresholds
            | FIFO_THRESHOLD << SDEDM_READ_THRESHOLD_SHIFT
            | FIFO_THRESHOLD << SDEDM_WRITE_THRESHOLD_SHIFT;
        regs.write(SDEDM, edm);
        regs.write(SDVDD, SDVDD_POWER_ON);
        regs.write(SDHCFG, SDHCFG_WIDE_INT_BUS | SDHCFG_SLOW_CARD);
        let host = Sdhost { regs, core_hz };
        host.set_clock(IDENT_HZ);
        host
    }

    /// `bcm2835_set_clock`.
    fn set_clock(&self, hz: u32) {
        let mut div = (self.core_hz / hz).max(2);
        if self.core_hz / div > hz {
            div += 1;
        }
        let div = (div - 2).min(SDCDIV_MAX_CDIV);
        self.regs.write(SDCDIV, div);
        self.regs.write(SDTOUT, self.core_hz / (div + 2) / 2);
    }

    fn poll(&self, done: impl Fn(&R) -> bool) -> Result<(), HostError> {
        for _ in 0..POLLS {
            if done(&self.regs) {
                return Ok(());
            }
        }
        Err(HostError::Stuck)
    }

    /// The data errors latched in SDHSTS, cleared.
    fn data_error(&self) -> Result<(), HostError> {
        let hsts = self.regs.read(SDHSTS);
        if hsts & SDHSTS_ERROR_MASK == 0 {
            return Ok(());
        }
        self.regs.write(SDHSTS, SDHSTS_ERROR_MASK);
        Err(if hsts & (SDHSTS_REW_TIME_OUT | SDHSTS_CMD_TIME_OUT) != 0 {
            HostError::DataTimeout
        } else {
            HostError::DataCrc
        })
    }

    /// Waits for a FIFO word (`read`) or FIFO space, or a data error.
    fn wait_fifo(&self, read: bool) -> Result<(), HostError> {
        for _ in 0..POLLS {
            let level = fifo_level(self.regs.read(SDEDM));
            if (read && level > 0) || (!read && level < FIFO_WORDS) {
                return Ok(());
            }
            self.data_error()?;
        }
        Err(HostError::Stuck)
    }

    fn transfer(&self, data: Data<'_>) -> Result<(), HostError> {
        match data {
            Data::None => return Ok(()),
            Data::Read(buf) => {
                for word in buf.chunks_mut(4) {
                    self.wait_fifo(true)?;
                    word.copy_from_slice(&self.regs.read(SDDATA).to_le_bytes());
                }
            }
            Data::Write(buf) => {
                for word in buf.chunks(4) {
                    self.wait_fifo(false)?;
                    let w = u32::from_le_bytes(word.try_into().expect("4 bytes"));
                    self.regs.write(SDDATA, w);
                }
            }
        }
        // `bcm2835_wait_transfer_complete`, reporting an error the state machine stopped on.
        for _ in 0..POLLS {
            let fsm = self.regs.read(SDEDM) & SDEDM_FSM_MASK;
            self.data_error()?;
            if fsm == SDEDM_FSM_IDENTMODE || fsm == SDEDM_FSM_DATAMODE {
                return Ok(());
            }
        }
        Err(HostError::Stuck)
    }

    fn finish(&self, resp: Resp) -> Result<[u32; 4], HostError> {
        self.poll(|r| r.read(SDCMD) & SDCMD_NEW_FLAG == 0)?;
        if self.regs.read(SDCMD) & SDCMD_FAIL_FLAG != 0 {
            let hsts = self.regs.read(SDHSTS);
            self.regs.write(SDHSTS, SDHSTS_ERROR_MASK);
            let crc7_only = hsts & SDHSTS_ERROR_MASK == SDHSTS_CRC7_ERROR;
            if !(crc7_only && resp == Resp::R3) {
                return Err(if hsts & SDHSTS_CMD_TIME_OUT != 0 {
                    HostError::CommandTimeout
                } else {
                    HostError::CommandCrc
                });
            }
        }
        let r = |i: usize| self.regs.read(SDRSP0 + 4 * i);
        Ok(match resp {
            Resp::None => [0; 4],
            Resp::R2 => [r(3), r(2), r(1), r(0)],
            _ => [r(0), 0, 0, 0],
        })
    }
}

impl<R: Regs> SdHost for Sdhost<R> {
    fn command(
        &mut self,
        index: u8,
        arg: u32,
        resp: Resp,
        data: Data<'_>,
    ) -> Result<[u32; 4], HostError> {
        self.poll(|r| r.read(SDCMD) & SDCMD_NEW_FLAG == 0)?;
        let hsts = self.regs.read(SDHSTS);
        if hsts & (SDHSTS_ERROR_MASK | SDHSTS_BUSY_IRPT | SDHSTS_BLOCK_IRPT) != 0 {
            self.regs.write(SDHSTS, hsts & SDHSTS_CLEAR_ALL);
        }
        let mut cmd = u32::from(index) & SDCMD_CMD_MASK;
        match resp {
            Resp::None => cmd |= SDCMD_NO_RESPONSE,
            Resp::R2 => cmd |= SDCMD_LONG_RESPONSE,
            Resp::R1b => cmd |= SDCMD_BUSYWAIT,
            Resp::R1 | Resp::R3 | Resp::R6 | Resp::R7 => {}
        }
        match data {
            Data::None => {}
            Data::Read(_) => cmd |= SDCMD_READ_CMD,
            Data::Write(_) => cmd |= SDCMD_WRITE_CMD,
        }
        if !matches!(data, Data::None) {
            self.regs.write(SDHBCT, BLOCK as u32);
            self.regs.write(SDHBLC, 1);
        }
        self.regs.write(SDARG, arg);
        self.regs.write(SDCMD, cmd | SDCMD_NEW_FLAG);
        let r = self.finish(resp)?;
        if resp == Resp::R1b {
            self.poll(|r| r.read(SDHSTS) & SDHSTS_BUSY_IRPT != 0)?;
            self.regs.write(SDHSTS, SDHSTS_BUSY_IRPT);
        }
        self.transfer(data)?;
        Ok(r)
    }

    fn data_clock(&mut self) -> Result<(), HostError> {
        self.set_clock(DATA_HZ);
        Ok(())
    }
}
