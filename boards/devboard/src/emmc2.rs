//! The BCM2711 EMMC2 controller (`brcm,bcm2711-emmc2`, an SDHCI 3.0 host, the boot SD card with
//! the slot store) as a [`SdHost`] for `board-sd-card`: programmed I/O through the buffer data
//! port, one block per command, one data line, polled.
//!
//! The BCM2711 accepts only 32-bit register accesses (Linux `sdhci-iproc.c` gives
//! `brcm,bcm2711-emmc2` the iproc accessors that turn 8/16-bit writes into 32-bit ones, with the
//! transfer mode held back until the command is written), so this driver writes the 16-bit
//! register pairs as one word: block size with block count, transfer mode with command (this
//! write issues the command), clock control with timeout control and software reset.
//!
//! Sources: Linux `drivers/mmc/host/sdhci.h` (register offsets and bits, named beside each
//! constant); `drivers/mmc/host/sdhci.c` (`sdhci_send_command`: wait for CMD/DATA inhibit, then
//! argument, transfer mode, command; `sdhci_read_rsp_136`: R2 is bits 127:8 in RESPONSE;
//! `sdhci_set_clock`/`sdhci_enable_clk`: internal clock, wait for stable, then card clock; the
//! divided clock is base / (2 * N)); `sdhci-iproc.c` (32-bit only); SD Host Controller
//! Simplified Specification 3.00 (status bits are latched only when enabled in INT_ENABLE; after
//! an error the CMD and DATA lines are reset).
//! Avoids: DMA and ADMA, interrupts (SIGNAL_ENABLE stays 0), 4-bit bus, high speed, UHS,
//! tuning, the 10-bit divider of SDHCI 3.0 (an 8-bit N reaches 400 kHz from a 200 MHz base).

use crate::regs::Regs;
use board_sd_card::{BLOCK, Data, HostError, Resp, SdHost};

/// Block size (bits 11:0) and block count (bits 31:16) (`SDHCI_BLOCK_SIZE`, `SDHCI_BLOCK_COUNT`).
pub const BLOCK_SIZE_COUNT: usize = 0x04;
/// Command argument (`SDHCI_ARGUMENT`).
pub const ARGUMENT: usize = 0x08;
/// Transfer mode (bits 15:0) and command (bits 31:16) (`SDHCI_TRANSFER_MODE`, `SDHCI_COMMAND`).
pub const TRANSFER_COMMAND: usize = 0x0C;
/// Response, four words (`SDHCI_RESPONSE`).
pub const RESPONSE: usize = 0x10;
/// Buffer data port (`SDHCI_BUFFER`).
pub const BUFFER: usize = 0x20;
/// Present state (`SDHCI_PRESENT_STATE`).
pub const PRESENT_STATE: usize = 0x24;
/// Host control (bits 7:0) and power control (bits 15:8) (`SDHCI_HOST_CONTROL`,
/// `SDHCI_POWER_CONTROL`).
pub const HOST_POWER: usize = 0x28;
/// Clock control (bits 15:0), timeout control (23:16), software reset (31:24)
/// (`SDHCI_CLOCK_CONTROL`, `SDHCI_TIMEOUT_CONTROL`, `SDHCI_SOFTWARE_RESET`).
pub const CLOCK_TIMEOUT_RESET: usize = 0x2C;
/// Interrupt status, write one to clear (`SDHCI_INT_STATUS`).
pub const INT_STATUS: usize = 0x30;
/// Interrupt status enable (`SDHCI_INT_ENABLE`).
pub const INT_ENABLE: usize = 0x34;
/// Interrupt signal enable (`SDHCI_SIGNAL_ENABLE`).
pub const SIGNAL_ENABLE: usize = 0x38;

/// Transfer mode: block count enable (`SDHCI_TRNS_BLK_CNT_EN`).
pub const TRNS_BLK_CNT_EN: u32 = 0x02;
/// Transfer mode: card to host (`SDHCI_TRNS_READ`).
pub const TRNS_READ: u32 = 0x10;
/// Command: response type field (`SDHCI_CMD_RESP_MASK`).
pub const CMD_RESP_MASK: u32 = 0x03;
/// Command: no response (`SDHCI_CMD_RESP_NONE`).
pub const CMD_RESP_NONE: u32 = 0x00;
/// Command: 136-bit response (`SDHCI_CMD_RESP_LONG`).
pub const CMD_RESP_LONG: u32 = 0x01;
/// Command: 48-bit response (`SDHCI_CMD_RESP_SHORT`).
pub const CMD_RESP_SHORT: u32 = 0x02;
/// Command: 48-bit response with busy (`SDHCI_CMD_RESP_SHORT_BUSY`).
pub const CMD_RESP_SHORT_BUSY: u32 = 0x03;
/// Command: check the response CRC (`SDHCI_CMD_CRC`).
pub const CMD_CRC: u32 = 0x08;
/// Command: check the response index (`SDHCI_CMD_INDEX`).
pub const CMD_INDEX: u32 = 0x10;
/// Command: data present (`SDHCI_CMD_DATA`).
pub const CMD_DATA: u32 = 0x20;

/// Present state: command inhibit (`SDHCI_CMD_INHIBIT`).
pub const CMD_INHIBIT: u32 = 0x0000_0001;
/// Present state: data inhibit (`SDHCI_DATA_INHIBIT`).
pub const DATA_INHIBIT: u32 = 0x0000_0002;
/// Present state: buffer write enable (`SDHCI_SPACE_AVAILABLE`).
pub const SPACE_AVAILABLE: u32 = 0x0000_0400;
/// Present state: buffer read enable (`SDHCI_DATA_AVAILABLE`).
pub const DATA_AVAILABLE: u32 = 0x0000_0800;
/// Present state: card inserted (`SDHCI_CARD_PRESENT`).
pub const CARD_PRESENT: u32 = 0x0001_0000;

/// Power control: bus power on (`SDHCI_POWER_ON`).
pub const POWER_ON: u32 = 0x01;
/// Power control: 3.3 V (`SDHCI_POWER_330`).
pub const POWER_330: u32 = 0x0E;
/// Clock control: divider N shift, 8-bit field (`SDHCI_DIVIDER_SHIFT`).
pub const DIVIDER_SHIFT: u32 = 8;
/// Clock control: card clock on (`SDHCI_CLOCK_CARD_EN`).
pub const CLOCK_CARD_EN: u32 = 0x0004;
/// Clock control: internal clock stable (`SDHCI_CLOCK_INT_STABLE`).
pub const CLOCK_INT_STABLE: u32 = 0x0002;
/// Clock control: internal clock on (`SDHCI_CLOCK_INT_EN`).
pub const CLOCK_INT_EN: u32 = 0x0001;
/// Timeout control: the longest data timeout, TMCLK x 2^27 (`SDHCI_TIMEOUT_CONTROL` 0xE).
pub const TIMEOUT_MAX: u32 = 0x0E;
/// Software reset: everything (`SDHCI_RESET_ALL`).
pub const RESET_ALL: u32 = 0x01;
/// Software reset: the command line (`SDHCI_RESET_CMD`).
pub const RESET_CMD: u32 = 0x02;
/// Software reset: the data line (`SDHCI_RESET_DATA`).
pub const RESET_DATA: u32 = 0x04;

/// Status: command complete (`SDHCI_INT_RESPONSE`).
pub const INT_RESPONSE: u32 = 0x0000_0001;
/// Status: transfer complete (`SDHCI_INT_DATA_END`).
pub const INT_DATA_END: u32 = 0x0000_0002;
/// Status: buffer write ready (`SDHCI_INT_SPACE_AVAIL`).
pub const INT_SPACE_AVAIL: u32 = 0x0000_0010;
/// Status: buffer read ready (`SDHCI_INT_DATA_AVAIL`).
pub const INT_DATA_AVAIL: u32 = 0x0000_0020;
/// Status: error summary, bit 15 (SDHCI 3.00 "Error Interrupt").
pub const INT_ERROR: u32 = 0x0000_8000;
/// Status: command timeout (`SDHCI_INT_TIMEOUT`).
pub const INT_TIMEOUT: u32 = 0x0001_0000;
/// Status: command CRC error (`SDHCI_INT_CRC`).
pub const INT_CRC: u32 = 0x0002_0000;
/// Status: command end bit error (`SDHCI_INT_END_BIT`).
pub const INT_END_BIT: u32 = 0x0004_0000;
/// Status: command index error (`SDHCI_INT_INDEX`).
pub const INT_INDEX: u32 = 0x0008_0000;
/// Status: data timeout (`SDHCI_INT_DATA_TIMEOUT`).
pub const INT_DATA_TIMEOUT: u32 = 0x0010_0000;
/// Status: data CRC error (`SDHCI_INT_DATA_CRC`).
pub const INT_DATA_CRC: u32 = 0x0020_0000;
/// Status: data end bit error (`SDHCI_INT_DATA_END_BIT`).
pub const INT_DATA_END_BIT: u32 = 0x0040_0000;
/// Status: every normal bit (`SDHCI_INT_NORMAL_MASK`).
pub const INT_NORMAL_MASK: u32 = 0x0000_7FFF;
/// Status: every error bit (`SDHCI_INT_ERROR_MASK`).
pub const INT_ERROR_MASK: u32 = 0xFFFF_8000;

/// The identification clock (SD specification: 100-400 kHz).
pub const IDENT_HZ: u32 = 400_000;
/// The default-speed data clock.
pub const DATA_HZ: u32 = 25_000_000;
/// Polls before a stuck controller is reported.
pub const POLLS: u32 = 100_000;

/// The EMMC2 controller.
#[derive(Debug)]
pub struct Emmc2<R> {
    regs: R,
    base_hz: u32,
}

impl<R: Regs> Emmc2<R> {
    /// Resets the controller, powers the card at 3.3 V and starts the 400 kHz identification
    /// clock from `base_hz` (the EMMC2 reference clock the firmware set). Fails if the
    /// controller does not come out of reset or its clock never stabilises.
    pub fn new(regs: R, base_hz: u32) -> Result<Self, HostError> {
        let host = Emmc2 { regs, base_hz };
        host.reset(RESET_ALL)?;
        host.regs.write(HOST_POWER, (POWER_330 | POWER_ON) << 8);
        host.regs
            .write(INT_ENABLE, INT_NORMAL_MASK | INT_ERROR_MASK);
        host.regs.write(SIGNAL_ENABLE, 0);
        host.set_clock(IDENT_HZ)?;
        Ok(host)
    }

    fn clock_word(&self) -> u32 {
        self.regs.read(CLOCK_TIMEOUT_RESET) & 0x00FF_FFFF
    }

    fn reset(&self, what: u32) -> Result<(), HostError> {
        self.regs
            .write(CLOCK_TIMEOUT_RESET, self.clock_word() | what << 24);
        self.poll(|r| r.read(CLOCK_TIMEOUT_RESET) >> 24 & what == 0)
    }

    /// `sdhci_set_clock`: card clock off, divider, internal clock on and stable, card clock on.
    fn set_clock(&self, hz: u32) -> Result<(), HostError> {
        let n = self.base_hz.div_ceil(2 * hz.max(1)).clamp(1, 0xFF);
        let timeout = TIMEOUT_MAX << 16;
        let clk = n << DIVIDER_SHIFT | CLOCK_INT_EN;
        self.regs.write(CLOCK_TIMEOUT_RESET, timeout);
        self.regs.write(CLOCK_TIMEOUT_RESET, timeout | clk);
        self.poll(|r| r.read(CLOCK_TIMEOUT_RESET) & CLOCK_INT_STABLE != 0)?;
        self.regs
            .write(CLOCK_TIMEOUT_RESET, timeout | clk | CLOCK_CARD_EN);
        Ok(())
    }

    fn poll(&self, done: impl Fn(&R) -> bool) -> Result<(), HostError> {
        for _ in 0..POLLS {
            if done(&self.regs) {
                return Ok(());
            }
        }
        Err(HostError::Stuck)
    }

    /// Waits for any of `bits` in the interrupt status, or an error; clears what it waited for.
    fn wait_int(&self, bits: u32) -> Result<(), HostError> {
        for _ in 0..POLLS {
            let st = self.regs.read(INT_STATUS);
            if st & INT_ERROR_MASK != 0 {
                self.regs.write(INT_STATUS, st & INT_ERROR_MASK);
                let reset = self.reset(RESET_CMD | RESET_DATA);
                let e = if st & INT_TIMEOUT != 0 {
                    HostError::CommandTimeout
                } else if st & (INT_CRC | INT_END_BIT | INT_INDEX) != 0 {
                    HostError::CommandCrc
                } else if st & INT_DATA_TIMEOUT != 0 {
                    HostError::DataTimeout
                } else {
                    HostError::DataCrc
                };
                return reset.and(Err(e));
            }
            if st & bits != 0 {
                self.regs.write(INT_STATUS, st & bits);
                return Ok(());
            }
        }
        Err(HostError::Stuck)
    }

    fn response(&self, resp: Resp) -> [u32; 4] {
        let r = |i: usize| self.regs.read(RESPONSE + 4 * i);
        match resp {
            Resp::None => [0; 4],
            // `sdhci_read_rsp_136`: RESPONSE holds bits 127:8; shift them back into place.
            Resp::R2 => {
                let v = (0..4).fold(0u128, |v, i| v | u128::from(r(i)) << (32 * i)) << 8;
                [
                    (v >> 96) as u32,
                    (v >> 64) as u32,
                    (v >> 32) as u32,
                    v as u32,
                ]
            }
            _ => [r(0), 0, 0, 0],
        }
    }

    fn transfer(&self, data: Data<'_>) -> Result<(), HostError> {
        match data {
            Data::None => Ok(()),
            Data::Read(buf) => {
                self.wait_int(INT_DATA_AVAIL)?;
                for word in buf.chunks_mut(4) {
                    word.copy_from_slice(&self.regs.read(BUFFER).to_le_bytes());
                }
                self.wait_int(INT_DATA_END)
            }
            Data::Write(buf) => {
                self.wait_int(INT_SPACE_AVAIL)?;
                for word in buf.chunks(4) {
                    let w = u32::from_le_bytes(word.try_into().expect("4 bytes"));
                    self.regs.write(BUFFER, w);
                }
                self.wait_int(INT_DATA_END)
            }
        }
    }
}

impl<R: Regs> SdHost for Emmc2<R> {
    /// `sdhci_send_command`, then the response, then the data block by programmed I/O.
    fn command(
        &mut self,
        index: u8,
        arg: u32,
        resp: Resp,
        data: Data<'_>,
    ) -> Result<[u32; 4], HostError> {
        let has_data = !matches!(data, Data::None);
        let busy = resp == Resp::R1b;
        let inhibit = if has_data || busy {
            CMD_INHIBIT | DATA_INHIBIT
        } else {
            CMD_INHIBIT
        };
        self.poll(|r| r.read(PRESENT_STATE) & inhibit == 0)?;
        self.regs
            .write(INT_STATUS, INT_NORMAL_MASK | INT_ERROR_MASK);
        let mut flags = match resp {
            Resp::None => CMD_RESP_NONE,
            Resp::R2 => CMD_RESP_LONG | CMD_CRC,
            Resp::R3 => CMD_RESP_SHORT,
            Resp::R1b => CMD_RESP_SHORT_BUSY | CMD_CRC | CMD_INDEX,
            Resp::R1 | Resp::R6 | Resp::R7 => CMD_RESP_SHORT | CMD_CRC | CMD_INDEX,
        };
        let mut mode = 0;
        if has_data {
            flags |= CMD_DATA;
            mode = TRNS_BLK_CNT_EN;
            if matches!(data, Data::Read(_)) {
                mode |= TRNS_READ;
            }
            self.regs.write(BLOCK_SIZE_COUNT, 1 << 16 | BLOCK as u32);
        }
        self.regs.write(ARGUMENT, arg);
        let command = u32::from(index & 0x3F) << 8 | flags;
        self.regs.write(TRANSFER_COMMAND, command << 16 | mode);
        self.wait_int(INT_RESPONSE)?;
        let r = self.response(resp);
        if busy {
            self.wait_int(INT_DATA_END)?;
        }
        self.transfer(data)?;
        Ok(r)
    }

    fn data_clock(&mut self) -> Result<(), HostError> {
        self.set_clock(DATA_HZ)
    }
}
