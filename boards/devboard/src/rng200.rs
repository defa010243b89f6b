//! The BCM2711 RNG200 (`brcm,bcm2711-rng200`) as the board's cryptographic RNG (`rand_core`
//! `TryRng` + `TryCryptoRng`, what `hal::rng` asks).
//!
//! Sources: Linux `drivers/char/hw_random/iproc-rng200.c` (register offsets and bits, the enable
//! and restart sequences: disable, clear the interrupt status, soft-reset the RNG and the RBG,
//! enable). A NIST health-test failure or a master lockup latched in the interrupt status makes
//! the call fail (and the block restart): its words are never handed out. A FIFO that stays empty
//! past a bound of polls is reported too.
//! Avoids: interrupts; the bit-count threshold (left at its reset value).

use crate::regs::Regs;
use hal::rng::{TryCryptoRng, TryRng};

/// Control (`RNG_CTRL_OFFSET`).
pub const RNG_CTRL: usize = 0x00;
/// RNG soft reset (`RNG_SOFT_RESET_OFFSET`).
pub const RNG_SOFT_RESET: usize = 0x04;
/// RBG soft reset (`RBG_SOFT_RESET_OFFSET`).
pub const RBG_SOFT_RESET: usize = 0x08;
/// Interrupt status, write one to clear (`RNG_INT_STATUS_OFFSET`).
pub const RNG_INT_STATUS: usize = 0x18;
/// Output FIFO, one 32-bit word per read (`RNG_FIFO_DATA_OFFSET`).
pub const RNG_FIFO_DATA: usize = 0x20;
/// Words in the FIFO, bits 7:0 (`RNG_FIFO_COUNT_OFFSET`).
pub const RNG_FIFO_COUNT: usize = 0x24;
/// CTRL: the RBG enable field (`RNG_CTRL_RNG_RBGEN_MASK`).
pub const CTRL_RBGEN_MASK: u32 = 0x0000_1FFF;
/// CTRL: enable (`RNG_CTRL_RNG_RBGEN_ENABLE`).
pub const CTRL_RBGEN_ENABLE: u32 = 0x0000_0001;
/// Soft reset bit in both reset registers (`RNG_SOFT_RESET`, `RBG_SOFT_RESET`).
pub const SOFT_RESET: u32 = 0x1;
/// INT_STATUS: master lockup (`RNG_INT_STATUS_MASTER_FAIL_LOCKUP_IRQ_MASK`).
pub const INT_MASTER_FAIL_LOCKUP: u32 = 0x8000_0000;
/// INT_STATUS: NIST health test failed (`RNG_INT_STATUS_NIST_FAIL_IRQ_MASK`).
pub const INT_NIST_FAIL: u32 = 0x0000_0020;
/// FIFO_COUNT: the word count (`RNG_FIFO_COUNT_RNG_FIFO_COUNT_MASK`).
pub const FIFO_COUNT_MASK: u32 = 0xFF;
/// Polls of an empty FIFO before reporting that no entropy comes.
pub const POLLS: u32 = 1_000_000;

/// Why no random bytes were produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rng200Error {
    /// The generator failed its health test or locked up; it was restarted. Try again later.
    HealthTest,
    /// The FIFO stayed empty: the block is not clocked or not enabled.
    NoOutput,
}

impl core::fmt::Display for Rng200Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Rng200Error::HealthTest => {
                "the hardware RNG failed its health test and was restarted: no bytes produced"
            }
            Rng200Error::NoOutput => "the hardware RNG produced nothing (not clocked or enabled)",
        })
    }
}

impl core::error::Error for Rng200Error {}

/// The RNG200, enabled.
#[derive(Debug)]
pub struct Rng200<R> {
    regs: R,
}

impl<R: Regs> Rng200<R> {
    /// Restarts the block (as `iproc_rng200_restart` does) and enables it.
    pub fn new(regs: R) -> Self {
        let rng = Rng200 { regs };
        rng.restart();
        rng
    }

    fn restart(&self) {
        let ctrl = self.regs.read(RNG_CTRL) & !CTRL_RBGEN_MASK;
        self.regs.write(RNG_CTRL, ctrl);
        self.regs.write(RNG_INT_STATUS, 0xFFFF_FFFF);
        for reset in [RNG_SOFT_RESET, RBG_SOFT_RESET] {
            let v = self.regs.read(reset);
            self.regs.write(reset, v | SOFT_RESET);
            self.regs.write(reset, v & !SOFT_RESET);
        }
        self.regs.write(RNG_CTRL, ctrl | CTRL_RBGEN_ENABLE);
    }

    fn word(&mut self) -> Result<u32, Rng200Error> {
        for _ in 0..POLLS {
            if self.regs.read(RNG_INT_STATUS) & (INT_MASTER_FAIL_LOCKUP | INT_NIST_FAIL) != 0 {
                self.restart();
                return Err(Rng200Error::HealthTest);
            }
            if self.regs.read(RNG_FIFO_COUNT) & FIFO_COUNT_MASK > 0 {
                return Ok(self.regs.read(RNG_FIFO_DATA));
            }
        }
        Err(Rng200Error::NoOutput)
    }
}

impl<R: Regs> TryRng for Rng200<R> {
    type Error = Rng200Error;

    fn try_next_u32(&mut self) -> Result<u32, Rng200Error> {
        self.word()
    }

    fn try_next_u64(&mut self) -> Result<u64, Rng200Error> {
        Ok((u64::from(self.word()?) << 32) | u64::from(self.word()?))
    }

    /// Fills `dst` from whole words; on an error `dst` may be partly filled and must not be used.
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Rng200Error> {
        for chunk in dst.chunks_mut(4) {
            let w = self.word()?.to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        Ok(())
    }
}

impl<R: Regs> TryCryptoRng for Rng200<R> {}
