//! Space packets (CCSDS 133.0) in TM data fields (132.0 §4.1.4): [`Packer`] lays packets end to
//! end across the data fields of one virtual channel, spanning frames where they must and
//! setting the first header pointer; [`Extractor`] takes them out again, following the first
//! header pointer after a lost frame (detected by the virtual channel frame count) and never
//! handing up a packet a lost or inconsistent frame has cut.
//!
//! Idle packets (APID `7FF`) fill a data field when the sender flushes; the extractor drops them.
//!
//! Avoids: heap (const-generic buffers), panics on received bytes, trusting a length field
//! larger than the buffer.

use arbitrary_int::{u11, u14};
use spacepackets::SpHeader;

use crate::tm::{FHP_IDLE, FHP_NO_PACKET_START, TmFrame};

/// Bytes in a space packet's primary header.
pub const PACKET_HEADER_LEN: usize = 6;
/// The idle packet's APID.
pub const IDLE_APID: u16 = 0x7FF;
/// The byte idle packets and idle frames carry.
pub const IDLE_BYTE: u8 = 0x55;
const SMALLEST_PACKET: usize = PACKET_HEADER_LEN + 1;

/// What is wrong with a packet to send, or a packer's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Fewer than 7 bytes, or the length field disagrees with the packet's length.
    #[error("not a space packet: {len} bytes, header says {declared}")]
    Malformed {
        /// Bytes given.
        len: usize,
        /// Total length the header declares (0 if no header).
        declared: usize,
    },
    /// The data field length is zero or larger than the packer's buffer.
    #[error("data field length {len} not in 1..={max}")]
    FieldLength {
        /// Asked for.
        len: usize,
        /// Buffer size.
        max: usize,
    },
}

/// The total length a space packet header declares.
pub fn declared_len(header: &[u8]) -> Option<usize> {
    SpHeader::from_be_bytes(header)
        .ok()
        .map(|(h, _)| h.packet_len())
}

fn is_idle(header: &[u8]) -> bool {
    SpHeader::from_be_bytes(header).is_ok_and(|(h, _)| h.apid().value() == IDLE_APID)
}

/// Lays packets into data fields of `field_len` bytes (at most `D`).
#[derive(Debug)]
pub struct Packer<const D: usize> {
    field_len: usize,
    buf: [u8; D],
    filled: usize,
    fhp: Option<u16>,
}

impl<const D: usize> Packer<D> {
    /// A packer for data fields of `field_len` bytes.
    pub fn new(field_len: usize) -> Result<Self, PacketError> {
        if field_len == 0 || field_len > D || field_len > usize::from(FHP_IDLE) {
            return Err(PacketError::FieldLength {
                len: field_len,
                max: D,
            });
        }
        Ok(Self {
            field_len,
            buf: [0; D],
            filled: 0,
            fhp: None,
        })
    }

    /// The data field length from the next field on (the security overhead of the
    /// association a frame goes under may differ from the last frame's). Refused, and nothing
    /// changed, while a field is partly filled or for a length [`Packer::new`] refuses.
    pub fn set_field_len(&mut self, field_len: usize) -> Result<(), PacketError> {
        if self.filled > 0 || field_len == 0 || field_len > D || field_len > usize::from(FHP_IDLE) {
            return Err(PacketError::FieldLength {
                len: field_len,
                max: D,
            });
        }
        self.field_len = field_len;
        Ok(())
    }

    /// The data field length.
    pub fn field_len(&self) -> usize {
        self.field_len
    }

    /// Whether a partly filled data field is waiting for more packets or a flush.
    pub fn pending(&self) -> bool {
        self.filled > 0
    }

    /// Adds one space packet; `emit(field, first_header_pointer)` is called for every data
    /// field it completes.
    pub fn add(
        &mut self,
        packet: &[u8],
        emit: &mut impl FnMut(&[u8], u16),
    ) -> Result<(), PacketError> {
        match declared_len(packet) {
            Some(n) if n == packet.len() => {}
            declared => {
                return Err(PacketError::Malformed {
                    len: packet.len(),
                    declared: declared.unwrap_or(0),
                });
            }
        }
        self.put(packet, true, emit);
        Ok(())
    }

    /// Completes a partly filled data field with an idle packet (which continues into one more
    /// field when fewer than 7 bytes remain) and emits it.
    pub fn flush(&mut self, emit: &mut impl FnMut(&[u8], u16)) {
        if self.filled == 0 {
            return;
        }
        let room = self.field_len - self.filled;
        let len = if room >= SMALLEST_PACKET {
            room
        } else {
            room + self.field_len
        };
        // `len` < 2 * 2048, so the length field fits 16 bits.
        let idle = SpHeader::new_for_unseg_tm(
            u11::new(IDLE_APID),
            u14::new(0),
            (len - SMALLEST_PACKET) as u16,
        );
        let mut header = [0u8; PACKET_HEADER_LEN];
        // A 6-byte buffer always holds the 6-byte header.
        if idle.write_to_slice(&mut header).is_ok() {
            self.put(&header, true, emit);
        }
        let fill = [IDLE_BYTE; 64];
        let mut left = len - PACKET_HEADER_LEN;
        while left > 0 {
            let n = left.min(fill.len());
            self.put(&fill[..n], false, emit);
            left -= n;
        }
    }

    fn put(&mut self, mut bytes: &[u8], starts_packet: bool, emit: &mut impl FnMut(&[u8], u16)) {
        if starts_packet && self.fhp.is_none() {
            // `filled` < field_len <= 0x7FE.
            self.fhp = Some(self.filled as u16);
        }
        while !bytes.is_empty() {
            let n = bytes.len().min(self.field_len - self.filled);
            self.buf[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
            self.filled += n;
            bytes = &bytes[n..];
            if self.filled == self.field_len {
                emit(
                    &self.buf[..self.field_len],
                    self.fhp.unwrap_or(FHP_NO_PACKET_START),
                );
                self.filled = 0;
                self.fhp = None;
            }
        }
    }
}

/// Counters of one extractor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Packets handed up.
    pub packets: u32,
    /// Idle packets dropped.
    pub idle_packets: u32,
    /// Frames missing from the virtual channel frame count.
    pub lost_frames: u32,
    /// Partial packets dropped (cut by a lost frame or an inconsistent pointer).
    pub cut_packets: u32,
    /// Frames whose first header pointer disagreed with the packets before it.
    pub pointer_mismatches: u32,
    /// Packets longer than the buffer, skipped.
    pub oversized: u32,
}

/// Takes packets out of one virtual channel's frames, reassembling those that span frames;
/// holds packets up to `N` bytes.
#[derive(Debug)]
pub struct Extractor<const N: usize> {
    buf: [u8; N],
    have: usize,
    need: usize,
    in_sync: bool,
    expected_vc: Option<u8>,
    stats: ExtractStats,
}

impl<const N: usize> Default for Extractor<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Extractor<N> {
    /// An extractor waiting for the first frame with a packet start.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            have: 0,
            need: 0,
            in_sync: false,
            expected_vc: None,
            stats: ExtractStats {
                packets: 0,
                idle_packets: 0,
                lost_frames: 0,
                cut_packets: 0,
                pointer_mismatches: 0,
                oversized: 0,
            },
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ExtractStats {
        self.stats
    }

    /// Takes one frame of this virtual channel; `emit(packet)` is called for every packet it
    /// completes.
    pub fn push_frame(&mut self, frame: &TmFrame<'_>, emit: &mut impl FnMut(&[u8])) {
        if let Some(expected) = self.expected_vc
            && frame.vc_count != expected
        {
            self.stats.lost_frames = self
                .stats
                .lost_frames
                .saturating_add(u32::from(frame.vc_count.wrapping_sub(expected)));
            self.lose_sync();
        }
        self.expected_vc = Some(frame.vc_count.wrapping_add(1));
        if frame.fhp == FHP_IDLE {
            // A packet under way cannot continue past an idle frame of its own channel.
            self.lose_sync();
            return;
        }
        let data = frame.data;
        let fhp = usize::from(frame.fhp);
        let mut pos = 0;
        if self.in_sync && self.have > 0 {
            let limit = if frame.fhp == FHP_NO_PACKET_START {
                data.len()
            } else {
                fhp.min(data.len())
            };
            pos = self.consume(&data[..limit], emit);
            let consistent = if frame.fhp == FHP_NO_PACKET_START {
                pos == data.len()
            } else {
                self.have == 0 && pos == fhp
            };
            if !consistent {
                self.stats.pointer_mismatches = self.stats.pointer_mismatches.saturating_add(1);
                self.lose_sync();
            }
        }
        if frame.fhp == FHP_NO_PACKET_START {
            return;
        }
        if !self.in_sync || pos < fhp {
            self.in_sync = true;
            self.have = 0;
            pos = fhp;
        }
        while pos < data.len() && self.in_sync {
            pos += self.consume(&data[pos..], emit);
        }
    }

    fn lose_sync(&mut self) {
        if self.have > 0 {
            self.stats.cut_packets = self.stats.cut_packets.saturating_add(1);
        }
        self.have = 0;
        self.in_sync = false;
    }

    /// Adds bytes to the packet under way; returns how many it used.
    fn consume(&mut self, bytes: &[u8], emit: &mut impl FnMut(&[u8])) -> usize {
        let mut used = 0;
        if self.have < PACKET_HEADER_LEN {
            let n = (PACKET_HEADER_LEN - self.have)
                .min(bytes.len())
                .min(N - self.have);
            self.buf[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            used = n;
            if self.have < PACKET_HEADER_LEN {
                return used;
            }
            self.need = declared_len(&self.buf[..PACKET_HEADER_LEN]).unwrap_or(SMALLEST_PACKET);
            if self.need > N {
                self.stats.oversized = self.stats.oversized.saturating_add(1);
                self.have = 0;
                self.in_sync = false;
                return bytes.len();
            }
        }
        let n = (self.need - self.have).min(bytes.len() - used);
        self.buf[self.have..self.have + n].copy_from_slice(&bytes[used..used + n]);
        self.have += n;
        used += n;
        if self.have == self.need {
            if is_idle(&self.buf[..PACKET_HEADER_LEN]) {
                self.stats.idle_packets = self.stats.idle_packets.saturating_add(1);
            } else {
                self.stats.packets = self.stats.packets.saturating_add(1);
                emit(&self.buf[..self.need]);
            }
            self.have = 0;
        }
        used
    }
}
