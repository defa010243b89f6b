//! Frame synchronisation on the telemetry byte stream (CCSDS 131.0 §9): every fixed-length
//! transfer frame is preceded by the attached sync marker `1A CF FC 1D`, and (optionally) the
//! frame is pseudo-randomised ([`crate::randomizer`]).
//!
//! [`frame_into`] builds ASM + frame for sending. [`FrameSync`] takes the received bytes one at
//! a time: in search it looks for an exact ASM at every byte offset; locked, it takes one
//! frame's length of bytes, hands the frame up (derandomised) and then expects the next ASM.
//! The expected ASM may have up to [`FrameSync::ASM_TOLERANCE`] bits in error; an ASM found up
//! to [`MAX_SLIP`] bytes early or late (bytes dropped or duplicated by the link) is followed at
//! once, so a slip damages only the frame it falls in (which the frame's CRC-16 rejects above
//! this layer) and never the frames after it. Anything else returns to search.
//!
//! Avoids: heap (the frame buffer is a const-generic array), bit-level (non-byte-aligned)
//! search: the node's radios and UARTs deliver whole bytes.

use crate::randomizer;

/// The attached sync marker.
pub const ASM: [u8; 4] = [0x1A, 0xCF, 0xFC, 0x1D];
/// Bytes by which the next ASM may come early or late while locked (early by at most three:
/// an ASM four bytes early would lie wholly inside the frame just taken).
pub const MAX_SLIP: usize = 3;

const ASM_WORD: u32 = u32::from_be_bytes(ASM);

/// Why a frame could not be put on the stream, or a synchroniser not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The output buffer cannot hold the ASM and the frame.
    #[error("output buffer too small: {needed} bytes needed for ASM + frame")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// The frame length is zero or larger than the synchroniser's buffer.
    #[error("frame length {len} not in 1..={max}; configure a length the buffer holds")]
    BadFrameLength {
        /// The length asked for.
        len: usize,
        /// The buffer size.
        max: usize,
    },
}

/// Writes ASM + `frame` (randomised if `randomise`) into `out`; returns the bytes written.
pub fn frame_into(frame: &[u8], randomise: bool, out: &mut [u8]) -> Result<usize, SyncError> {
    let needed = ASM.len() + frame.len();
    let Some(out) = out.get_mut(..needed) else {
        return Err(SyncError::BufferTooSmall { needed });
    };
    out[..ASM.len()].copy_from_slice(&ASM);
    out[ASM.len()..].copy_from_slice(frame);
    if randomise {
        randomizer::apply(&mut out[ASM.len()..]);
    }
    Ok(needed)
}

/// Counters over the synchroniser's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Frames handed up.
    pub frames: u32,
    /// Times lock was acquired from search.
    pub locks: u32,
    /// Times lock was lost (no ASM where expected, within the slip allowance).
    pub lock_losses: u32,
    /// Slips followed while locked (ASM found early or late).
    pub slips: u32,
    /// Expected ASMs accepted with bit errors.
    pub asm_bit_errors: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Search,
    Frame,
    /// Locked, after a frame: bytes seen since its end.
    Expect(usize),
}

/// Streaming frame synchroniser for frames of a fixed length up to `N` bytes.
#[derive(Debug)]
pub struct FrameSync<const N: usize> {
    frame_len: usize,
    derandomise: bool,
    state: State,
    window: u32,
    buf: [u8; N],
    filled: usize,
    stats: SyncStats,
}

impl<const N: usize> FrameSync<N> {
    /// Bits in error accepted in an ASM expected exactly where lock says it is.
    pub const ASM_TOLERANCE: u32 = 2;

    /// A synchroniser for frames of `frame_len` bytes, derandomising them if `derandomise`.
    pub fn new(frame_len: usize, derandomise: bool) -> Result<Self, SyncError> {
        if frame_len == 0 || frame_len > N {
            return Err(SyncError::BadFrameLength {
                len: frame_len,
                max: N,
            });
        }
        Ok(Self {
            frame_len,
            derandomise,
            state: State::Search,
            window: 0,
            buf: [0; N],
            filled: 0,
            stats: SyncStats::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> SyncStats {
        self.stats
    }

    /// Whether the synchroniser is locked (last ASM found where expected or within a slip).
    pub fn locked(&self) -> bool {
        self.state != State::Search
    }

    /// Takes the next received byte; returns a frame when this byte completed one.
    pub fn push(&mut self, byte: u8) -> Option<&[u8]> {
        self.window = (self.window << 8) | u32::from(byte);
        match self.state {
            State::Search => {
                if self.window == ASM_WORD {
                    self.stats.locks = self.stats.locks.saturating_add(1);
                    self.start_frame();
                }
                None
            }
            State::Expect(seen) => {
                let seen = seen + 1;
                let errors = (self.window ^ ASM_WORD).count_ones();
                if seen == ASM.len() && errors <= Self::ASM_TOLERANCE {
                    if errors > 0 {
                        self.stats.asm_bit_errors = self.stats.asm_bit_errors.saturating_add(1);
                    }
                    self.start_frame();
                } else if errors == 0 {
                    self.stats.slips = self.stats.slips.saturating_add(1);
                    self.start_frame();
                } else if seen >= ASM.len() + MAX_SLIP {
                    self.stats.lock_losses = self.stats.lock_losses.saturating_add(1);
                    self.state = State::Search;
                } else {
                    self.state = State::Expect(seen);
                }
                None
            }
            State::Frame => {
                self.buf[self.filled] = byte;
                self.filled += 1;
                if self.filled < self.frame_len {
                    return None;
                }
                self.state = State::Expect(0);
                let frame = &mut self.buf[..self.frame_len];
                if self.derandomise {
                    randomizer::apply(frame);
                }
                self.stats.frames = self.stats.frames.saturating_add(1);
                Some(frame)
            }
        }
    }

    fn start_frame(&mut self) {
        self.state = State::Frame;
        self.filled = 0;
    }
}
