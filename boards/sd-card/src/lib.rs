//! An SD memory card (SDHC/SDXC, and SDSC with byte addresses) over any SD host controller
//! ([`SdHost`]: the dev board's EMMC2 and SDHOST), and a region of it as `hal` NOR flash
//! ([`flash::SdFlash`]).
//!
//! Initialisation (SD Physical Layer Simplified Specification 9.10, 4.2 "Card Identification
//! Mode", Figure 4-2): CMD0, CMD8 with the 2.7-3.6 V check pattern 0x1AA (a card that does not
//! echo it is refused: SD 1.x cards are not supported), CMD55 + ACMD41 with HCS repeated until
//! the card reports power-up done (bounded), CMD2 (CID), CMD3 (relative address), CMD9 (CSD:
//! capacity), CMD7 (select: transfer state), CMD16 (512-byte blocks). Then single blocks:
//! CMD17 reads one, CMD24 writes one and CMD13 is polled (bounded) until the card leaves the
//! programming state. Every R1 response is checked for the error bits Linux checks.
//!
//! A card that stops answering (power lost, removed, reset) makes the operation fail; the next
//! operation initialises it again, so a card power-cycled under the node comes back without a
//! restart of the partition. An operation that timed out is retried once after a successful
//! re-initialisation (rewriting one block is idempotent).
//!
//! Command numbers, response bits and the OCR from Linux `include/linux/mmc/mmc.h` and
//! `include/linux/mmc/sd.h` (`MMC_GO_IDLE_STATE` 0, `MMC_ALL_SEND_CID` 2,
//! `SD_SEND_RELATIVE_ADDR` 3, `MMC_SELECT_CARD` 7, `SD_SEND_IF_COND` 8, `MMC_SEND_CSD` 9,
//! `MMC_SEND_STATUS` 13, `MMC_SET_BLOCKLEN` 16, `MMC_READ_SINGLE_BLOCK` 17, `MMC_WRITE_BLOCK` 24,
//! `SD_APP_OP_COND` 41, `MMC_APP_CMD` 55; `R1_*` bits; `SD_OCR_CCS`), the R1 error mask from
//! `drivers/mmc/core/block.c` (`CMD_ERRORS`), the CSD layouts from the specification 5.3.2/5.3.3.
//! Avoids: 4-bit bus and high speed (the hosts run one data line), multi-block commands,
//! SD 1.x and MMC cards, card locking, erase commands (an erase writes 0xFF blocks: a card's
//! erased state may be 0x00 or 0xFF, `DATA_STAT_AFTER_ERASE`).

#![no_std]
#![warn(missing_docs)]

pub mod flash;

/// Bytes per block.
pub const BLOCK: usize = 512;

/// `MMC_GO_IDLE_STATE`.
pub const CMD0: u8 = 0;
/// `MMC_ALL_SEND_CID`.
pub const CMD2: u8 = 2;
/// `SD_SEND_RELATIVE_ADDR`.
pub const CMD3: u8 = 3;
/// `MMC_SELECT_CARD`.
pub const CMD7: u8 = 7;
/// `SD_SEND_IF_COND`.
pub const CMD8: u8 = 8;
/// `MMC_SEND_CSD`.
pub const CMD9: u8 = 9;
/// `MMC_SEND_STATUS`.
pub const CMD13: u8 = 13;
/// `MMC_SET_BLOCKLEN`.
pub const CMD16: u8 = 16;
/// `MMC_READ_SINGLE_BLOCK`.
pub const CMD17: u8 = 17;
/// `MMC_WRITE_BLOCK`.
pub const CMD24: u8 = 24;
/// `SD_APP_OP_COND` (after CMD55).
pub const ACMD41: u8 = 41;
/// `MMC_APP_CMD`.
pub const CMD55: u8 = 55;

/// CMD8 argument: VHS 2.7-3.6 V (0x1) and check pattern 0xAA (specification 4.3.13).
pub const IF_COND: u32 = 0x1AA;
/// ACMD41 argument voltage window 2.7-3.6 V (OCR bits 23:15).
pub const OCR_VDD: u32 = 0x00FF_8000;
/// OCR: card capacity status, block addressing (`SD_OCR_CCS`).
pub const OCR_CCS: u32 = 1 << 30;
/// OCR: power-up done (`MMC_CARD_BUSY`, set when the card is no longer busy).
pub const OCR_DONE: u32 = 1 << 31;
/// ACMD41 rounds before a card that never finishes powering up is reported (the specification
/// gives the card 1 s; one round takes well over 0.5 ms at the 400 kHz identification clock).
pub const POWER_UP_ROUNDS: u32 = 2_000;
/// CMD13 polls before a card stuck programming is reported.
pub const BUSY_POLLS: u32 = 100_000;

/// R1: `R1_OUT_OF_RANGE`.
pub const R1_OUT_OF_RANGE: u32 = 1 << 31;
/// R1: `R1_ADDRESS_ERROR`.
pub const R1_ADDRESS_ERROR: u32 = 1 << 30;
/// R1: `R1_BLOCK_LEN_ERROR`.
pub const R1_BLOCK_LEN_ERROR: u32 = 1 << 29;
/// R1: `R1_WP_VIOLATION`.
pub const R1_WP_VIOLATION: u32 = 1 << 26;
/// R1: `R1_ILLEGAL_COMMAND`.
pub const R1_ILLEGAL_COMMAND: u32 = 1 << 22;
/// R1: `R1_CARD_ECC_FAILED`.
pub const R1_CARD_ECC_FAILED: u32 = 1 << 21;
/// R1: `R1_CC_ERROR`.
pub const R1_CC_ERROR: u32 = 1 << 20;
/// R1: `R1_ERROR`.
pub const R1_ERROR: u32 = 1 << 19;
/// R1: `R1_READY_FOR_DATA`.
pub const R1_READY_FOR_DATA: u32 = 1 << 8;
/// R1: `R1_APP_CMD`.
pub const R1_APP_CMD: u32 = 1 << 5;
/// R1: current state field, bits 12:9 (`R1_CURRENT_STATE`).
pub const R1_STATE_SHIFT: u32 = 9;
/// R1 state: transfer (`R1_STATE_TRAN`).
pub const STATE_TRAN: u32 = 4;
/// R1 bits that fail a command (`CMD_ERRORS` of Linux `block.c`).
pub const R1_ERRORS: u32 = R1_OUT_OF_RANGE
    | R1_ADDRESS_ERROR
    | R1_BLOCK_LEN_ERROR
    | R1_WP_VIOLATION
    | R1_CARD_ECC_FAILED
    | R1_CC_ERROR
    | R1_ERROR;

/// The response a command expects (specification 4.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resp {
    /// No response (CMD0).
    None,
    /// 48-bit card status.
    R1,
    /// R1, then the card holds DAT0 low while busy.
    R1b,
    /// 136-bit CID or CSD.
    R2,
    /// 48-bit OCR, no CRC.
    R3,
    /// 48-bit published relative address.
    R6,
    /// 48-bit interface condition.
    R7,
}

/// The data phase of a command: one block.
#[derive(Debug)]
pub enum Data<'a> {
    /// No data.
    None,
    /// The card sends a block.
    Read(&'a mut [u8; BLOCK]),
    /// The card receives a block.
    Write(&'a [u8; BLOCK]),
}

/// What a host controller reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    /// No response came: no card, an unpowered card, or a command illegal in the card's state.
    CommandTimeout,
    /// The response was damaged (CRC, end bit or index).
    CommandCrc,
    /// A data block did not come, or the card did not take it.
    DataTimeout,
    /// A data block was damaged, or the card reported a CRC error for a written block.
    DataCrc,
    /// The controller itself did not finish (not clocked, or a fault).
    Stuck,
}

impl core::fmt::Display for HostError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            HostError::CommandTimeout => "the SD card did not answer a command",
            HostError::CommandCrc => "the SD card's answer to a command was damaged",
            HostError::DataTimeout => "an SD data block timed out",
            HostError::DataCrc => "an SD data block was damaged",
            HostError::Stuck => "the SD host controller never finished (not clocked, or a fault)",
        })
    }
}

/// An SD host controller: runs one command, with its response and at most one data block.
pub trait SdHost {
    /// Sends command `index` with `arg`, expecting `resp`, moving `data`. Returns the response:
    /// for 48-bit responses word 0 is its bits 39:8 (status, OCR, RCA); for R2 words 0..4 are
    /// its bits 127:96, 95:64, 63:32, 31:0 (the low byte, CRC and end bit, may read 0).
    fn command(
        &mut self,
        index: u8,
        arg: u32,
        resp: Resp,
        data: Data<'_>,
    ) -> core::result::Result<[u32; 4], HostError>;

    /// Sets the card clock for data transfer (default speed, which every SD card supports),
    /// after identification at 400 kHz.
    fn data_clock(&mut self) -> core::result::Result<(), HostError>;
}

/// What went wrong with the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdError {
    /// The host controller failed the command.
    Host(HostError),
    /// CMD8 was not echoed: an SD 1.x card, an MMC, or a card refusing 2.7-3.6 V.
    NotSdV2,
    /// ACMD41 never reported power-up done.
    PowerUpTimeout,
    /// A CSD structure version this driver does not know.
    UnknownCsd(u8),
    /// The card's status reported an error (the R1 bits, `R1_*`).
    Status(u32),
    /// The card stayed in the programming state past the bound: the block is undefined.
    BusyTimeout,
    /// Offset or length outside the region.
    OutOfBounds,
    /// Erase range not on block boundaries.
    NotAligned,
}

impl From<HostError> for SdError {
    fn from(e: HostError) -> Self {
        SdError::Host(e)
    }
}

impl core::fmt::Display for SdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SdError::Host(e) => write!(f, "{e}"),
            SdError::NotSdV2 => f.write_str(
                "the card did not answer CMD8: not an SD 2.0+ card at 3.3 V (unsupported)",
            ),
            SdError::PowerUpTimeout => f.write_str("the SD card never finished powering up"),
            SdError::UnknownCsd(v) => write!(f, "the SD card has CSD structure {v}, unknown"),
            SdError::Status(s) => write!(f, "the SD card reported error status {s:#010x}"),
            SdError::BusyTimeout => f.write_str(
                "the SD card stayed busy programming past its bound: the block is undefined",
            ),
            SdError::OutOfBounds => f.write_str("offset or length outside the SD card region"),
            SdError::NotAligned => f.write_str("erase range not on 512-byte block boundaries"),
        }
    }
}

/// What initialisation learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardInfo {
    /// Relative card address.
    pub rca: u16,
    /// Capacity in blocks.
    pub blocks: u64,
    /// SDHC/SDXC: block addresses; SDSC: byte addresses.
    pub block_addressed: bool,
}

/// An SD card on a host controller.
#[derive(Debug)]
pub struct SdCard<H> {
    host: H,
    card: Option<CardInfo>,
}

type Result<T> = core::result::Result<T, SdError>;

fn check_r1(status: u32) -> Result<u32> {
    if status & R1_ERRORS != 0 {
        return Err(SdError::Status(status));
    }
    Ok(status)
}

/// Capacity in blocks from a CSD (`csd[0]` = bits 127:96).
pub fn csd_blocks(csd: &[u32; 4]) -> Result<u64> {
    let bits = |hi: u32, lo: u32| -> u64 {
        // Bits hi..=lo of the 128-bit CSD, hi - lo < 32.
        let word = |b: u32| csd[(3 - b / 32) as usize];
        let mut v = 0u64;
        for b in (lo..=hi).rev() {
            v = v << 1 | u64::from(word(b) >> (b % 32) & 1);
        }
        v
    };
    match bits(127, 126) {
        // CSD 2.0 (5.3.3): C_SIZE [69:48], capacity = (C_SIZE + 1) * 512 KiB.
        1 => Ok((bits(69, 48) + 1) * 1024),
        // CSD 1.0 (5.3.2): (C_SIZE + 1) * 2^(C_SIZE_MULT + 2) blocks of 2^READ_BL_LEN bytes.
        0 => {
            let (c_size, mult, bl_len) = (bits(73, 62), bits(49, 47), bits(83, 80));
            Ok(((c_size + 1) << (mult + 2)) << bl_len >> 9)
        }
        v => Err(SdError::UnknownCsd(v as u8)),
    }
}

impl<H: SdHost> SdCard<H> {
    /// A card on `host`, initialised on first use.
    pub fn new(host: H) -> Self {
        SdCard { host, card: None }
    }

    fn cmd(&mut self, index: u8, arg: u32, resp: Resp) -> Result<[u32; 4]> {
        Ok(self.host.command(index, arg, resp, Data::None)?)
    }

    /// Identifies and selects the card (the sequence in the module text).
    pub fn init(&mut self) -> Result<CardInfo> {
        self.card = None;
        self.cmd(CMD0, 0, Resp::None)?;
        match self.cmd(CMD8, IF_COND, Resp::R7) {
            Ok(r) if r[0] & 0xFFF == IF_COND => {}
            Ok(_) => return Err(SdError::NotSdV2),
            // No answer to CMD8: an SD 1.x card answers CMD55, an absent or unpowered one not.
            Err(SdError::Host(HostError::CommandTimeout)) => {
                self.cmd(CMD55, 0, Resp::R1)?;
                return Err(SdError::NotSdV2);
            }
            Err(e) => return Err(e),
        }
        let mut ocr = 0;
        for _ in 0..POWER_UP_ROUNDS {
            check_r1(self.cmd(CMD55, 0, Resp::R1)?[0])?;
            ocr = self.cmd(ACMD41, OCR_CCS | OCR_VDD, Resp::R3)?[0];
            if ocr & OCR_DONE != 0 {
                break;
            }
        }
        if ocr & OCR_DONE == 0 {
            return Err(SdError::PowerUpTimeout);
        }
        self.cmd(CMD2, 0, Resp::R2)?;
        let rca = (self.cmd(CMD3, 0, Resp::R6)?[0] >> 16) as u16;
        let arg = u32::from(rca) << 16;
        let blocks = csd_blocks(&self.cmd(CMD9, arg, Resp::R2)?)?;
        check_r1(self.cmd(CMD7, arg, Resp::R1b)?[0])?;
        check_r1(self.cmd(CMD16, BLOCK as u32, Resp::R1)?[0])?;
        self.host.data_clock()?;
        let info = CardInfo {
            rca,
            blocks,
            block_addressed: ocr & OCR_CCS != 0,
        };
        self.card = Some(info);
        Ok(info)
    }

    /// The card, initialised now if it was not.
    pub fn info(&mut self) -> Result<CardInfo> {
        match self.card {
            Some(c) => Ok(c),
            None => self.init(),
        }
    }

    /// Runs `op`; if the card stopped answering, initialises it again and retries once.
    fn with_card<T>(&mut self, mut op: impl FnMut(&mut Self, CardInfo) -> Result<T>) -> Result<T> {
        let card = self.info()?;
        match op(self, card) {
            Err(SdError::Host(HostError::CommandTimeout | HostError::DataTimeout)) => {
                self.card = None;
                let card = self.init()?;
                op(self, card)
            }
            r => r,
        }
    }

    fn address(card: &CardInfo, lba: u64) -> Result<u32> {
        if lba >= card.blocks {
            return Err(SdError::OutOfBounds);
        }
        let a = if card.block_addressed {
            lba
        } else {
            lba * BLOCK as u64
        };
        u32::try_from(a).map_err(|_| SdError::OutOfBounds)
    }

    /// Reads block `lba`.
    pub fn read_block(&mut self, lba: u64, buf: &mut [u8; BLOCK]) -> Result<()> {
        self.with_card(|s, card| {
            let arg = Self::address(&card, lba)?;
            let r = s
                .host
                .command(CMD17, arg, Resp::R1, Data::Read(&mut *buf))?;
            check_r1(r[0]).map(drop)
        })
    }

    /// Writes block `lba` and waits until the card has programmed it.
    pub fn write_block(&mut self, lba: u64, buf: &[u8; BLOCK]) -> Result<()> {
        self.with_card(|s, card| {
            let arg = Self::address(&card, lba)?;
            let r = s.host.command(CMD24, arg, Resp::R1, Data::Write(buf))?;
            check_r1(r[0])?;
            s.wait_programmed(card.rca)
        })
    }

    fn wait_programmed(&mut self, rca: u16) -> Result<()> {
        for _ in 0..BUSY_POLLS {
            let status = check_r1(self.cmd(CMD13, u32::from(rca) << 16, Resp::R1)?[0])?;
            let state = (status >> R1_STATE_SHIFT) & 0xF;
            if status & R1_READY_FOR_DATA != 0 && state == STATE_TRAN {
                return Ok(());
            }
        }
        Err(SdError::BusyTimeout)
    }
}
