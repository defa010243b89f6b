//! HDLC-like framing for the standby serial link (RFC 1662 §4, the asynchronous framing PPP
//! uses): frames are delimited by the flag `0x7E`; inside a frame the bytes `0x7E` and `0x7D` are
//! sent as `0x7D` followed by the byte XOR `0x20`; the frame check sequence is CRC-16/X.25
//! (`crc::CRC_16_IBM_SDLC`: poly 0x1021 reflected, init 0xFFFF, final XOR 0xFFFF), computed over
//! the payload and appended least significant byte first.
//!
//! Wire: `7E | stuffed(payload ‖ FCS_lo ‖ FCS_hi) | 7E`. The encoder always writes both flags;
//! the decoder accepts shared flags between frames and ignores empty frames (idle flags).
//!
//! The decoder is a byte-at-a-time state machine with a fixed buffer: a frame longer than the
//! buffer is dropped and counted, as is a frame with a bad FCS, one shorter than one payload byte
//! plus the FCS, and an abort (`0x7D 0x7E`). After any error it resynchronises on the next flag.
//!
//! Avoids: heap; any panic on line noise.

use crc::{CRC_16_IBM_SDLC, Crc};

/// Flag byte.
pub const FLAG: u8 = 0x7E;
/// Control escape byte.
pub const ESCAPE: u8 = 0x7D;
const XOR: u8 = 0x20;
const FCS: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_SDLC);

/// The FCS of `payload`.
pub fn fcs(payload: &[u8]) -> u16 {
    FCS.checksum(payload)
}

/// Largest encoded size of a `len`-byte payload (every byte escaped, plus flags).
pub const fn max_encoded_len(len: usize) -> usize {
    2 * (len + 2) + 2
}

/// The encoder's output buffer is too small, or the payload is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Output too small.
    #[error("HDLC output buffer too small")]
    BufferTooSmall,
    /// Empty payload.
    #[error("empty HDLC payload")]
    Empty,
}

/// Encode `payload` as one frame into `out`, returning the length.
pub fn encode(payload: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
    if payload.is_empty() {
        return Err(EncodeError::Empty);
    }
    let [lo, hi] = fcs(payload).to_le_bytes();
    let mut n = 0;
    let mut put = |b: u8, n: &mut usize| -> Result<(), EncodeError> {
        let slot = out.get_mut(*n).ok_or(EncodeError::BufferTooSmall)?;
        *slot = b;
        *n += 1;
        Ok(())
    };
    put(FLAG, &mut n)?;
    for &b in payload.iter().chain([lo, hi].iter()) {
        if b == FLAG || b == ESCAPE {
            put(ESCAPE, &mut n)?;
            put(b ^ XOR, &mut n)?;
        } else {
            put(b, &mut n)?;
        }
    }
    put(FLAG, &mut n)?;
    Ok(n)
}

/// Why a frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// FCS mismatch.
    #[error("HDLC FCS mismatch")]
    BadFcs,
    /// Longer than the decoder's buffer.
    #[error("HDLC frame too long")]
    TooLong,
    /// Fewer than 3 bytes between flags.
    #[error("HDLC frame too short")]
    TooShort,
    /// Escape followed by a flag.
    #[error("HDLC frame aborted")]
    Aborted,
}

/// What one byte did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// Nothing complete yet.
    Pending,
    /// A frame of this many payload bytes is in [`Decoder::frame`] until the next `feed`.
    Frame(usize),
    /// A frame was dropped.
    Dropped(FrameError),
}

/// Decoder statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecoderStats {
    /// Frames delivered.
    pub frames: u32,
    /// Frames dropped for a bad FCS.
    pub bad_fcs: u32,
    /// Frames dropped for length or abort.
    pub framing: u32,
}

/// Streaming decoder with an `N`-byte frame buffer (payload + FCS).
#[derive(Debug, Clone)]
pub struct Decoder<const N: usize> {
    buf: [u8; N],
    len: usize,
    escaped: bool,
    /// Inside a frame (a flag was seen) and not discarding.
    in_frame: bool,
    overflow: bool,
    delivered: usize,
    stats: DecoderStats,
}

impl<const N: usize> Default for Decoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Decoder<N> {
    /// An idle decoder (usable in a `static`).
    pub const fn new() -> Self {
        Decoder {
            buf: [0; N],
            len: 0,
            escaped: false,
            in_frame: false,
            overflow: false,
            delivered: 0,
            stats: DecoderStats {
                frames: 0,
                bad_fcs: 0,
                framing: 0,
            },
        }
    }
}

impl<const N: usize> Decoder<N> {
    /// The payload of the frame last reported by [`Feed::Frame`].
    pub fn frame(&self) -> &[u8] {
        self.buf.get(..self.delivered).unwrap_or(&[])
    }

    /// Statistics.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    fn restart(&mut self) {
        self.len = 0;
        self.escaped = false;
        self.overflow = false;
        self.in_frame = true;
    }

    /// Take one byte from the line.
    pub fn feed(&mut self, byte: u8) -> Feed {
        self.delivered = 0;
        if byte == FLAG {
            let was = (self.in_frame, self.len, self.escaped, self.overflow);
            self.restart();
            return match was {
                (false, ..) => Feed::Pending,
                (true, _, true, _) => self.drop_frame(FrameError::Aborted),
                (true, _, _, true) => self.drop_frame(FrameError::TooLong),
                (true, 0, ..) => Feed::Pending,
                (true, n, ..) if n < 3 => self.drop_frame(FrameError::TooShort),
                (true, n, ..) => self.finish(n),
            };
        }
        if !self.in_frame || self.overflow {
            return Feed::Pending;
        }
        let b = if self.escaped {
            self.escaped = false;
            byte ^ XOR
        } else if byte == ESCAPE {
            self.escaped = true;
            return Feed::Pending;
        } else {
            byte
        };
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => self.overflow = true,
        }
        Feed::Pending
    }

    fn drop_frame(&mut self, e: FrameError) -> Feed {
        match e {
            FrameError::BadFcs => self.stats.bad_fcs = self.stats.bad_fcs.wrapping_add(1),
            _ => self.stats.framing = self.stats.framing.wrapping_add(1),
        }
        Feed::Dropped(e)
    }

    fn finish(&mut self, n: usize) -> Feed {
        let Some((payload, tail)) = self.buf.get(..n).map(|b| b.split_at(n - 2)) else {
            return self.drop_frame(FrameError::TooLong);
        };
        if fcs(payload).to_le_bytes() != [tail[0], tail[1]] {
            return self.drop_frame(FrameError::BadFcs);
        }
        self.delivered = n - 2;
        self.stats.frames = self.stats.frames.wrapping_add(1);
        Feed::Frame(n - 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x25_check_value() {
        // The CRC catalogue's check value of CRC-16/IBM-SDLC over "123456789".
        assert_eq!(fcs(b"123456789"), 0x906E);
    }

    #[test]
    fn known_frame_bytes() {
        let mut out = [0u8; 32];
        let n = encode(&[0x7E, 0x01, 0x7D], &mut out).unwrap();
        let [lo, hi] = fcs(&[0x7E, 0x01, 0x7D]).to_le_bytes();
        let mut want = vec![0x7E, 0x7D, 0x5E, 0x01, 0x7D, 0x5D];
        for b in [lo, hi] {
            if b == 0x7E || b == 0x7D {
                want.extend([0x7D, b ^ 0x20]);
            } else {
                want.push(b);
            }
        }
        want.push(0x7E);
        assert_eq!(&out[..n], &want[..]);
    }
}
