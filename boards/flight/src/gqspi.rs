//! The ZynqMP generic quad-SPI controller (GQSPI, `xlnx,zynqmp-qspi-1.0`, the slot flash) as an
//! `embedded-hal` [`SpiDevice`] on the lower bus, lower chip select: single-bit SPI, I/O (not
//! DMA) mode, manual start, polled.
//!
//! Every bus action is a generic-FIFO entry: chip select asserted with setup cycles, a transmit
//! entry of up to 64 bytes or a receive entry of up to 128 (an entry can count 255; these sizes
//! keep every entry's data within the 64-word TX and RX FIFOs), chip select released with hold
//! cycles. The driver writes
//! the entry (and, for transmit, the data words into the TX FIFO, little endian), sets the
//! manual-start bit, and polls the interrupt status: RX FIFO not empty for received words,
//! generic FIFO empty and TX FIFO empty for the end of the entry. Every poll is bounded: a
//! controller that is disabled, unclocked or stuck is reported, never waited on forever.
//!
//! Sources: Linux `drivers/spi/spi-zynqmp-gqspi.c` (torvalds/linux at 037dd1308c6d, lines 27-130:
//! the `GQSPI_*` register offsets and bits named beside each constant below;
//! `zynqmp_qspi_init_hw` for the start-up sequence, `zynqmp_qspi_chipselect` for the chip-select
//! entries and the wait for GENFIFOEMPTY and TXEMPTY, `zynqmp_qspi_fillgenfifo` for data entries
//! and the dummy entry after a receive in I/O mode, `zynqmp_qspi_filltxfifo` /
//! `zynqmp_qspi_readrxfifo` for the little-endian word packing and the partial last word);
//! the SPI clock = reference clock / (2 << BAUD_RATE_DIV) of `zynqmp_qspi_init_hw`; FIFO depths
//! from QEMU's ZynqMP GQSPI model (`hw/ssi/xilinx_spips.c`).
//! Avoids: DMA, dual and quad modes, striping across two parts, the poll-status entries,
//! interrupts, the linear (LQSPI) window; full-duplex transfers (the NOR commands never need
//! them) are refused. The SPI clock is kept at or below 40 MHz, where Linux's
//! `zynqmp_qspi_set_tapdelay` writes 0 to both delay-adjust registers (as this driver does) and
//! otherwise only asks the PMU firmware for the IOU tap-delay bypass, which the board's boot
//! firmware owns and this driver does not touch.

use crate::regs::Regs;
use embedded_hal::spi::{self, ErrorKind, Operation, SpiDevice};

/// Configuration (`GQSPI_CONFIG_OFST`).
pub const CONFIG: usize = 0x100;
/// Interrupt status (`GQSPI_ISR_OFST`); only POLL_TIME_EXPIRE is write-one-to-clear.
pub const ISR: usize = 0x104;
/// Interrupt enable (`GQSPI_IER_OFST`).
pub const IER: usize = 0x108;
/// Interrupt disable (`GQSPI_IDR_OFST`).
pub const IDR: usize = 0x10C;
/// Interrupt mask, read only (`GQSPI_IMASK_OFST`).
pub const IMASK: usize = 0x110;
/// Enable (`GQSPI_EN_OFST`).
pub const EN: usize = 0x114;
/// TX FIFO, one 32-bit word per write (`GQSPI_TXD_OFST`).
pub const TXD: usize = 0x11C;
/// RX FIFO, one 32-bit word per read (`GQSPI_RXD_OFST`).
pub const RXD: usize = 0x120;
/// TX FIFO threshold (`GQSPI_TX_THRESHOLD_OFST`).
pub const TX_THRESHOLD: usize = 0x128;
/// RX FIFO threshold (`GQSPI_RX_THRESHOLD_OFST`).
pub const RX_THRESHOLD: usize = 0x12C;
/// Loopback clock delay adjust (`GQSPI_LPBK_DLY_ADJ_OFST`).
pub const LPBK_DLY_ADJ: usize = 0x138;
/// Generic FIFO, one entry per write (`GQSPI_GEN_FIFO_OFST`).
pub const GEN_FIFO: usize = 0x140;
/// Controller select: 1 = GQSPI, 0 = the linear LQSPI (`GQSPI_SEL_OFST`).
pub const SEL: usize = 0x144;
/// FIFO resets (`GQSPI_FIFO_CTRL_OFST`).
pub const FIFO_CTRL: usize = 0x14C;
/// Generic FIFO threshold (`GQSPI_GF_THRESHOLD_OFST`).
pub const GF_THRESHOLD: usize = 0x150;
/// Data delay adjust (`GQSPI_DATA_DLY_ADJ_OFST`).
pub const DATA_DLY_ADJ: usize = 0x1F8;

/// SEL: use the generic controller (`GQSPI_SEL_MASK`).
pub const SEL_GQSPI: u32 = 0x1;
/// EN: enable (`GQSPI_EN_MASK`).
pub const EN_ENABLE: u32 = 0x1;
/// CONFIG: mode, 00 = I/O, 10 = DMA (`GQSPI_CFG_MODE_EN_MASK`).
pub const CFG_MODE_EN: u32 = 0xC000_0000;
/// CONFIG: generic FIFO runs only on a manual start (`GQSPI_CFG_GEN_FIFO_START_MODE_MASK`).
pub const CFG_START_MODE_MANUAL: u32 = 0x2000_0000;
/// CONFIG: write one to start the generic FIFO in manual mode (`GQSPI_CFG_START_GEN_FIFO_MASK`).
pub const CFG_START_GEN_FIFO: u32 = 0x1000_0000;
/// CONFIG: big-endian FIFO words (`GQSPI_CFG_ENDIAN_MASK`).
pub const CFG_ENDIAN: u32 = 0x0400_0000;
/// CONFIG: poll time-out enable (`GQSPI_CFG_EN_POLL_TO_MASK`).
pub const CFG_EN_POLL_TO: u32 = 0x0010_0000;
/// CONFIG: drive WP and HOLD high in single-bit mode (`GQSPI_CFG_WP_HOLD_MASK`).
pub const CFG_WP_HOLD: u32 = 0x0008_0000;
/// CONFIG: baud rate divisor field, bits 5:3 (`GQSPI_CFG_BAUD_RATE_DIV_MASK`).
pub const CFG_BAUD_RATE_DIV: u32 = 0x0000_0038;
/// CONFIG: clock phase (`GQSPI_CFG_CLK_PHA_MASK`).
pub const CFG_CLK_PHA: u32 = 0x0000_0004;
/// CONFIG: clock polarity (`GQSPI_CFG_CLK_POL_MASK`).
pub const CFG_CLK_POL: u32 = 0x0000_0002;
/// Largest baud rate divisor value (`GQSPI_BAUD_DIV_MAX`).
pub const BAUD_DIV_MAX: u32 = 7;

/// Entry: immediate data, a byte count or idle cycles (`GQSPI_GENFIFO_IMM_DATA_MASK`).
pub const GF_IMM: u32 = 0x0000_00FF;
/// Entry: a data transfer (`GQSPI_GENFIFO_DATA_XFER`).
pub const GF_DATA_XFER: u32 = 0x0000_0100;
/// Entry: the immediate is an exponent, 2^imm bytes (`GQSPI_GENFIFO_EXP`).
pub const GF_EXP: u32 = 0x0000_0200;
/// Entry: single-bit SPI (`GQSPI_GENFIFO_MODE_SPI`).
pub const GF_MODE_SPI: u32 = 0x0000_0400;
/// Entry: the bus width field (`GQSPI_GENFIFO_MODE_MASK`).
pub const GF_MODE_MASK: u32 = 0x0000_0C00;
/// Entry: lower chip select asserted (`GQSPI_GENFIFO_CS_LOWER`).
pub const GF_CS_LOWER: u32 = 0x0000_1000;
/// Entry: upper chip select asserted (`GQSPI_GENFIFO_CS_UPPER`).
pub const GF_CS_UPPER: u32 = 0x0000_2000;
/// Entry: lower data bus (`GQSPI_GENFIFO_BUS_LOWER`).
pub const GF_BUS_LOWER: u32 = 0x0000_4000;
/// Entry: upper data bus (`GQSPI_GENFIFO_BUS_UPPER`).
pub const GF_BUS_UPPER: u32 = 0x0000_8000;
/// Entry: transmit from the TX FIFO (`GQSPI_GENFIFO_TX`).
pub const GF_TX: u32 = 0x0001_0000;
/// Entry: receive into the RX FIFO (`GQSPI_GENFIFO_RX`).
pub const GF_RX: u32 = 0x0002_0000;
/// Entry: stripe across both buses (`GQSPI_GENFIFO_STRIPE`).
pub const GF_STRIPE: u32 = 0x0004_0000;
/// Entry: poll the flash status (`GQSPI_GENFIFO_POLL`).
pub const GF_POLL: u32 = 0x0008_0000;
/// Chip-select setup cycles (`GQSPI_GENFIFO_CS_SETUP`).
pub const CS_SETUP: u32 = 0x4;
/// Chip-select hold cycles (`GQSPI_GENFIFO_CS_HOLD`).
pub const CS_HOLD: u32 = 0x3;

/// FIFO_CTRL: reset the RX FIFO (`GQSPI_FIFO_CTRL_RST_RX_FIFO_MASK`).
pub const FIFO_RST_RX: u32 = 0x4;
/// FIFO_CTRL: reset the TX FIFO (`GQSPI_FIFO_CTRL_RST_TX_FIFO_MASK`).
pub const FIFO_RST_TX: u32 = 0x2;
/// FIFO_CTRL: reset the generic FIFO (`GQSPI_FIFO_CTRL_RST_GEN_FIFO_MASK`).
pub const FIFO_RST_GEN: u32 = 0x1;

/// ISR: RX FIFO empty (`GQSPI_ISR_RXEMPTY_MASK`).
pub const ISR_RXEMPTY: u32 = 0x0000_0800;
/// ISR: generic FIFO full (`GQSPI_ISR_GENFIFOFULL_MASK`).
pub const ISR_GENFIFOFULL: u32 = 0x0000_0400;
/// ISR: generic FIFO not full (`GQSPI_ISR_GENFIFONOT_FULL_MASK`).
pub const ISR_GENFIFONOT_FULL: u32 = 0x0000_0200;
/// ISR: TX FIFO empty (`GQSPI_ISR_TXEMPTY_MASK`).
pub const ISR_TXEMPTY: u32 = 0x0000_0100;
/// ISR: generic FIFO empty (`GQSPI_ISR_GENFIFOEMPTY_MASK`).
pub const ISR_GENFIFOEMPTY: u32 = 0x0000_0080;
/// ISR: RX FIFO full (`GQSPI_ISR_RXFULL_MASK`).
pub const ISR_RXFULL: u32 = 0x0000_0020;
/// ISR: RX FIFO not empty (`GQSPI_ISR_RXNEMPTY_MASK`).
pub const ISR_RXNEMPTY: u32 = 0x0000_0010;
/// ISR: TX FIFO full (`GQSPI_ISR_TXFULL_MASK`).
pub const ISR_TXFULL: u32 = 0x0000_0008;
/// ISR: TX FIFO not full (`GQSPI_ISR_TXNOT_FULL_MASK`).
pub const ISR_TXNOT_FULL: u32 = 0x0000_0004;
/// ISR: poll time expired, the one write-one-to-clear bit (`GQSPI_ISR_WR_TO_CLR_MASK`).
pub const ISR_WR_TO_CLR: u32 = 0x0000_0002;
/// IDR: every interrupt (`GQSPI_IDR_ALL_MASK`).
pub const IDR_ALL: u32 = 0x0000_0FBE;

/// TX FIFO fill per entry in bytes (`GQSPI_TXD_DEPTH`, what Linux writes before a start).
pub const TX_CHUNK: usize = 64;
/// RX bytes per entry (`GQSPI_RX_FIFO_FILL`, 32 words: never more than the RX FIFO holds).
pub const RX_CHUNK: usize = 128;
/// TX threshold written at start-up (`GQSPI_TX_FIFO_THRESHOLD_RESET_VAL`).
pub const TX_THRESHOLD_VAL: u32 = 32;
/// RX threshold written at start-up (`GQSPI_RX_FIFO_THRESHOLD`).
pub const RX_THRESHOLD_VAL: u32 = 32;
/// Generic FIFO threshold written at start-up (`GQSPI_GEN_FIFO_THRESHOLD_RESET_VAL`).
pub const GF_THRESHOLD_VAL: u32 = 0x10;
/// Highest SPI clock this driver runs (see the module text: no delay tuning below it).
pub const MAX_SPI_HZ: u32 = 40_000_000;
/// Status polls before a stuck controller is reported.
pub const POLLS: u32 = 100_000;

/// What went wrong on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GqspiError {
    /// An entry never finished or a received word never came: the controller is disabled,
    /// not clocked, or faulty.
    Stuck,
    /// A full-duplex transfer: this driver only sends or receives in one entry.
    FullDuplexUnsupported,
    /// A delay inside a transaction: this driver has no timer to make one.
    DelayUnsupported,
}

impl core::fmt::Display for GqspiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            GqspiError::Stuck => {
                "the QSPI controller never finished an entry (disabled, not clocked, or a fault)"
            }
            GqspiError::FullDuplexUnsupported => {
                "a full-duplex QSPI transfer was asked: this driver only sends or receives"
            }
            GqspiError::DelayUnsupported => {
                "a delay inside a QSPI transaction is not supported here"
            }
        })
    }
}

impl spi::Error for GqspiError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// The GQSPI controller with its flash on the lower bus and lower chip select.
#[derive(Debug)]
pub struct Gqspi<R> {
    regs: R,
}

/// The entry bits every data entry to the lower flash carries.
const LOWER: u32 = GF_MODE_SPI | GF_CS_LOWER | GF_BUS_LOWER;

impl<R: Regs> Gqspi<R> {
    /// `zynqmp_qspi_init_hw`: GQSPI selected, interrupts cleared and disabled, I/O mode, manual
    /// start, little endian, no poll time-out, WP/HOLD high, SPI mode 0, FIFOs reset, the
    /// thresholds Linux uses, enabled; SPI clock = `ref_hz` / (2 << div) with the smallest
    /// divisor that gives at most `spi_hz` (and at most [`MAX_SPI_HZ`]).
    pub fn new(regs: R, ref_hz: u32, spi_hz: u32) -> Self {
        let target = spi_hz.min(MAX_SPI_HZ);
        let mut div = 0;
        while div < BAUD_DIV_MAX && ref_hz / (2 << div) > target {
            div += 1;
        }
        regs.write(SEL, SEL_GQSPI);
        regs.write(ISR, regs.read(ISR) | ISR_WR_TO_CLR);
        regs.write(IDR, IDR_ALL);
        regs.write(EN, 0);
        let mut cfg = regs.read(CONFIG);
        cfg &= !(CFG_MODE_EN | CFG_ENDIAN | CFG_EN_POLL_TO | CFG_BAUD_RATE_DIV);
        cfg &= !(CFG_CLK_PHA | CFG_CLK_POL);
        cfg |= CFG_START_MODE_MANUAL | CFG_WP_HOLD | (div << 3);
        regs.write(CONFIG, cfg);
        regs.write(LPBK_DLY_ADJ, 0);
        regs.write(DATA_DLY_ADJ, 0);
        regs.write(FIFO_CTRL, FIFO_RST_RX | FIFO_RST_TX | FIFO_RST_GEN);
        regs.write(TX_THRESHOLD, TX_THRESHOLD_VAL);
        regs.write(RX_THRESHOLD, RX_THRESHOLD_VAL);
        regs.write(GF_THRESHOLD, GF_THRESHOLD_VAL);
        regs.write(EN, EN_ENABLE);
        Gqspi { regs }
    }

    fn start(&self) {
        let cfg = self.regs.read(CONFIG);
        self.regs.write(CONFIG, cfg | CFG_START_GEN_FIFO);
    }

    /// Waits until every entry ran and the TX FIFO drained (`zynqmp_qspi_chipselect`'s wait).
    fn wait_idle(&self) -> Result<(), GqspiError> {
        let done = ISR_GENFIFOEMPTY | ISR_TXEMPTY;
        for _ in 0..POLLS {
            if self.regs.read(ISR) & done == done {
                return Ok(());
            }
        }
        Err(GqspiError::Stuck)
    }

    /// Chip select asserted with setup cycles, or released with hold cycles.
    fn chip_select(&self, assert: bool) -> Result<(), GqspiError> {
        let entry = if assert {
            LOWER | CS_SETUP
        } else {
            GF_MODE_SPI | CS_HOLD
        };
        self.regs.write(GEN_FIFO, entry);
        self.start();
        self.wait_idle()
    }

    fn send(&self, bytes: &[u8]) -> Result<(), GqspiError> {
        for chunk in bytes.chunks(TX_CHUNK) {
            self.regs
                .write(GEN_FIFO, LOWER | GF_DATA_XFER | GF_TX | chunk.len() as u32);
            for word in chunk.chunks(4) {
                let mut w = [0u8; 4];
                w[..word.len()].copy_from_slice(word);
                self.regs.write(TXD, u32::from_le_bytes(w));
            }
            self.start();
            self.wait_idle()?;
        }
        Ok(())
    }

    fn receive(&self, buf: &mut [u8]) -> Result<(), GqspiError> {
        for chunk in buf.chunks_mut(RX_CHUNK) {
            self.regs
                .write(GEN_FIFO, LOWER | GF_DATA_XFER | GF_RX | chunk.len() as u32);
            // Linux's dummy entry after a receive in I/O mode (`zynqmp_qspi_fillgenfifo`).
            self.regs.write(GEN_FIFO, 0);
            self.start();
            for word in chunk.chunks_mut(4) {
                let w = self.next_word()?.to_le_bytes();
                word.copy_from_slice(&w[..word.len()]);
            }
            self.wait_idle()?;
        }
        Ok(())
    }

    fn next_word(&self) -> Result<u32, GqspiError> {
        for _ in 0..POLLS {
            if self.regs.read(ISR) & ISR_RXNEMPTY != 0 {
                return Ok(self.regs.read(RXD));
            }
        }
        Err(GqspiError::Stuck)
    }

    fn run(&self, ops: &mut [Operation<'_, u8>]) -> Result<(), GqspiError> {
        for op in ops {
            match op {
                Operation::Write(w) => self.send(w)?,
                Operation::Read(r) => self.receive(r)?,
                Operation::Transfer(..) | Operation::TransferInPlace(_) => {
                    return Err(GqspiError::FullDuplexUnsupported);
                }
                Operation::DelayNs(_) => return Err(GqspiError::DelayUnsupported),
            }
        }
        Ok(())
    }
}

impl<R> spi::ErrorType for Gqspi<R> {
    type Error = GqspiError;
}

impl<R: Regs> SpiDevice for Gqspi<R> {
    /// Asserts the lower chip select, runs the operations, and releases it, also after a failure
    /// (the FIFOs are reset first then, so a half-run entry cannot hold the select).
    fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), GqspiError> {
        let r = self.chip_select(true).and_then(|()| self.run(ops));
        if r.is_err() {
            self.regs
                .write(FIFO_CTRL, FIFO_RST_RX | FIFO_RST_TX | FIFO_RST_GEN);
        }
        let released = self.chip_select(false);
        r.and(released)
    }
}
