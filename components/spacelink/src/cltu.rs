//! Communications Link Transmission Units (CCSDS 231.0 §5): the start sequence `EB 90`, the
//! data in BCH(63,56) code blocks (the last one completed with fill bytes `55`), and the tail
//! sequence `C5 C5 C5 C5 C5 C5 C5 79`, which no single-bit error can make decodable.
//!
//! [`encode`] builds a CLTU into a caller's buffer. [`CltuDecoder`] takes the received byte
//! stream one byte at a time, as a radio or UART delivers it: it searches for the start
//! sequence (byte-aligned, received without error), decodes blocks (correcting single-bit errors), and ends the CLTU at the first block
//! that does not decode, as 231.0's decoding mode does: at the tail sequence (the normal end) or
//! at a block with more errors than BCH corrects (the data decoded so far is still handed up,
//! saying so; the transfer frame's CRC-16 decides whether it is usable).
//!
//! Avoids: heap (the decoder's buffer is a const-generic array), panics on any input.

use crate::bch::{self, BLOCK_LEN, BlockStatus, INFO_LEN};

/// The start sequence.
pub const START: [u8; 2] = [0xEB, 0x90];
/// The tail sequence: an uncorrectable code block even with any one bit flipped.
pub const TAIL: [u8; BLOCK_LEN] = [0xC5, 0xC5, 0xC5, 0xC5, 0xC5, 0xC5, 0xC5, 0x79];
/// The fill byte completing the last code block.
pub const FILL: u8 = 0x55;

/// The length of the CLTU carrying `data_len` bytes.
pub const fn encoded_len(data_len: usize) -> usize {
    START.len() + data_len.div_ceil(INFO_LEN) * BLOCK_LEN + TAIL.len()
}

/// Why a CLTU could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The output buffer is too small; `needed` bytes are required (see [`encoded_len`]).
    #[error("CLTU output buffer too small: {needed} bytes needed; pass a larger buffer")]
    BufferTooSmall {
        /// Bytes the CLTU needs.
        needed: usize,
    },
    /// Nothing to send: a CLTU carries at least one byte.
    #[error("a CLTU carries at least one byte; pass a non-empty transfer frame")]
    Empty,
}

/// Encodes `data` (one or more TC transfer frames) as a CLTU into `out`; returns its length.
pub fn encode(data: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
    if data.is_empty() {
        return Err(EncodeError::Empty);
    }
    let needed = encoded_len(data.len());
    let Some(out) = out.get_mut(..needed) else {
        return Err(EncodeError::BufferTooSmall { needed });
    };
    out[..START.len()].copy_from_slice(&START);
    let mut at = START.len();
    for chunk in data.chunks(INFO_LEN) {
        let mut info = [FILL; INFO_LEN];
        info[..chunk.len()].copy_from_slice(chunk);
        out[at..at + BLOCK_LEN].copy_from_slice(&bch::encode(&info));
        at += BLOCK_LEN;
    }
    out[at..].copy_from_slice(&TAIL);
    Ok(needed)
}

/// How a received CLTU ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CltuEnd {
    /// At the tail sequence (received exactly or with one bit in error).
    Tail,
    /// At a code block with more errors than BCH corrects, before any tail: the data may be
    /// incomplete.
    Uncorrectable,
    /// The data would exceed the decoder's buffer: the CLTU was cut there. The rest of it is
    /// searched for a start sequence like any other bytes; a false start found in it yields
    /// data whose frame CRC fails above this layer.
    Overflow,
}

/// A CLTU taken off the stream: its decoded data (fill bytes included; the transfer frame
/// length says where the frames end) and how it ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Cltu<'a> {
    /// The decoded information bytes of every block that decoded.
    pub data: &'a [u8],
    /// How the CLTU ended.
    pub end: CltuEnd,
    /// Single-bit errors corrected in this CLTU.
    pub corrected: u32,
}

/// Counters over the decoder's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CltuStats {
    /// CLTUs handed up.
    pub cltus: u32,
    /// Single-bit errors corrected.
    pub corrected_bits: u32,
    /// CLTUs that ended at an uncorrectable block rather than the tail.
    pub uncorrectable: u32,
    /// CLTUs cut because their data exceeded the buffer.
    pub overflows: u32,
    /// CLTUs ended at once by an uncorrectable first block (nothing handed up).
    pub empty: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Search,
    Blocks,
}

/// Streaming CLTU decoder holding up to `N` decoded bytes.
#[derive(Debug)]
pub struct CltuDecoder<const N: usize> {
    state: State,
    window: u16,
    block: [u8; BLOCK_LEN],
    block_len: usize,
    data: [u8; N],
    data_len: usize,
    corrected: u32,
    stats: CltuStats,
}

impl<const N: usize> Default for CltuDecoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> CltuDecoder<N> {
    /// A decoder in search mode.
    pub const fn new() -> Self {
        Self {
            state: State::Search,
            window: 0,
            block: [0; BLOCK_LEN],
            block_len: 0,
            data: [0; N],
            data_len: 0,
            corrected: 0,
            stats: CltuStats {
                cltus: 0,
                corrected_bits: 0,
                uncorrectable: 0,
                overflows: 0,
                empty: 0,
            },
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> CltuStats {
        self.stats
    }

    /// Takes the next received byte; returns a CLTU when this byte ended one.
    pub fn push(&mut self, byte: u8) -> Option<Cltu<'_>> {
        match self.state {
            State::Search => {
                self.window = (self.window << 8) | u16::from(byte);
                if self.window == u16::from_be_bytes(START) {
                    self.state = State::Blocks;
                    self.block_len = 0;
                    self.data_len = 0;
                    self.corrected = 0;
                }
                None
            }
            State::Blocks => {
                self.block[self.block_len] = byte;
                self.block_len += 1;
                if self.block_len < BLOCK_LEN {
                    return None;
                }
                self.block_len = 0;
                self.end_of_block()
            }
        }
    }

    fn end_of_block(&mut self) -> Option<Cltu<'_>> {
        let end = match bch::decode(&mut self.block) {
            BlockStatus::Clean => None,
            BlockStatus::Corrected(_) => {
                self.corrected += 1;
                None
            }
            BlockStatus::Uncorrectable if near_tail(&self.block) => Some(CltuEnd::Tail),
            BlockStatus::Uncorrectable => Some(CltuEnd::Uncorrectable),
        };
        let end = match end {
            Some(end) => end,
            None if self.data_len + INFO_LEN > N => CltuEnd::Overflow,
            None => {
                self.data[self.data_len..self.data_len + INFO_LEN]
                    .copy_from_slice(&self.block[..INFO_LEN]);
                self.data_len += INFO_LEN;
                return None;
            }
        };
        self.state = State::Search;
        self.window = 0;
        self.stats.corrected_bits = self.stats.corrected_bits.saturating_add(self.corrected);
        if self.data_len == 0 {
            self.stats.empty = self.stats.empty.saturating_add(1);
            return None;
        }
        self.stats.cltus = self.stats.cltus.saturating_add(1);
        match end {
            CltuEnd::Tail => {}
            CltuEnd::Uncorrectable => {
                self.stats.uncorrectable = self.stats.uncorrectable.saturating_add(1)
            }
            CltuEnd::Overflow => self.stats.overflows = self.stats.overflows.saturating_add(1),
        }
        Some(Cltu {
            data: &self.data[..self.data_len],
            end,
            corrected: self.corrected,
        })
    }
}

/// Whether `block` is the tail sequence with at most one bit in error.
fn near_tail(block: &[u8; BLOCK_LEN]) -> bool {
    let flipped: u32 = block
        .iter()
        .zip(TAIL.iter())
        .map(|(a, b)| (a ^ b).count_ones())
        .sum();
    flipped <= 1
}
