//! TC transfer frames (CCSDS 232.0 §4.1): the five-byte primary header (version `00`, bypass
//! and control command flags, spare `00`, 10-bit spacecraft id, 6-bit virtual channel, 10-bit
//! frame length, 8-bit frame sequence number N(S)), the optional one-byte segment header
//! (sequence flags and MAP id) where a virtual channel uses segmentation, the data, and the
//! frame error control field (CRC-16, [`crate::fecf`]) where the mission uses it.
//!
//! [`build`] writes a frame; [`parse`] reads one from the front of a CLTU's decoded data (which
//! may hold several frames and ends in fill) and says what is wrong when it cannot.
//!
//! Avoids: heap, panics on received bytes, silently accepting a frame whose header, length or
//! CRC is wrong.

use crate::fecf;

/// Bytes in the primary header.
pub const HEADER_LEN: usize = 5;
/// Largest TC transfer frame (the 10-bit length field counts up to 1024 bytes).
pub const MAX_FRAME_LEN: usize = 1024;
/// The control command directive "Unlock" (232.0 §4.1.3.3.2, one byte `00`).
pub const UNLOCK: [u8; 1] = [0x00];
/// The first two bytes of the "Set V(R)" directive; the third is the new V(R).
pub const SET_VR_PREFIX: [u8; 2] = [0x82, 0x00];

/// The three frame types of 232.0 (the fourth flag combination, "AC", is invalid).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameType {
    /// Sequence-controlled data (FARM checks N(S)).
    Ad,
    /// Expedited data (bypasses FARM's sequence check).
    Bd,
    /// Expedited control command (Unlock, Set V(R)).
    Bc,
}

impl FrameType {
    const fn flags(self) -> (bool, bool) {
        match self {
            FrameType::Ad => (false, false),
            FrameType::Bd => (true, false),
            FrameType::Bc => (true, true),
        }
    }
}

/// Sequence flags of the segment header (232.0 §4.1.3.2.2 / 232.0-B-3 annex).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqFlags {
    /// `00`: a middle segment.
    Continuing,
    /// `01`: the first segment.
    First,
    /// `10`: the last segment.
    Last,
    /// `11`: no segmentation.
    Unsegmented,
}

/// The segment header: sequence flags and the MAP id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Segmentation of this frame's data.
    pub flags: SeqFlags,
    /// Multiplexer access point id (6 bits).
    pub map_id: u8,
}

impl SegmentHeader {
    fn to_byte(self) -> u8 {
        let flags = match self.flags {
            SeqFlags::Continuing => 0,
            SeqFlags::First => 1,
            SeqFlags::Last => 2,
            SeqFlags::Unsegmented => 3,
        };
        (flags << 6) | (self.map_id & 0x3F)
    }

    fn from_byte(b: u8) -> Self {
        let flags = match b >> 6 {
            0 => SeqFlags::Continuing,
            1 => SeqFlags::First,
            2 => SeqFlags::Last,
            _ => SeqFlags::Unsegmented,
        };
        Self {
            flags,
            map_id: b & 0x3F,
        }
    }
}

/// The header fields a sender chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcHeader {
    /// Frame type (bypass and control command flags).
    pub frame_type: FrameType,
    /// Spacecraft id (10 bits).
    pub scid: u16,
    /// Virtual channel id (6 bits).
    pub vcid: u8,
    /// Frame sequence number N(S) (meaningful for type-AD; 0 by convention otherwise).
    pub seq: u8,
}

/// How a virtual channel's frames are laid out (known to both ends by configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcLayout {
    /// Whether the data field starts with a segment header (not for type-BC frames).
    pub segment_header: bool,
    /// Whether the frame ends with the CRC-16 frame error control field.
    pub fecf: bool,
}

/// A TC frame read from received bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcFrame<'a> {
    /// The header.
    pub header: TcHeader,
    /// The segment header, when the layout has one and the frame is not type-BC.
    pub segment: Option<SegmentHeader>,
    /// The data (after any segment header, before any FECF).
    pub data: &'a [u8],
}

/// What is wrong with a TC frame (to build or received).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TcError {
    /// Fewer bytes than a header, or than the length field says.
    #[error("TC frame truncated: {have} bytes, {need} needed")]
    Truncated {
        /// Bytes available.
        have: usize,
        /// Bytes needed.
        need: usize,
    },
    /// Version is not `00`.
    #[error("TC frame version {0} is not 0 (not a TC transfer frame)")]
    Version(u8),
    /// The spare bits are not `00`.
    #[error("TC frame spare bits are {0:#04b}, must be 00")]
    Spare(u8),
    /// Bypass 0 with control command 1 ("type-AC") is not a valid frame.
    #[error("TC frame flags bypass=0, control=1 (type-AC) are invalid")]
    TypeAc,
    /// The length field is shorter than header + segment header + FECF.
    #[error("TC frame length {0} too short for its header, segment header and FECF")]
    TooShort(usize),
    /// The CRC-16 does not match: the frame was damaged.
    #[error("TC frame CRC-16 mismatch: frame damaged in transit, discarded")]
    Crc,
    /// A frame to build would exceed 1024 bytes, or a field is out of range.
    #[error("TC frame cannot be built: {0}")]
    Build(&'static str),
    /// The output buffer is too small.
    #[error("TC frame output buffer too small: {needed} bytes needed")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
}

/// Writes a frame with `data` into `out`; returns its length.
pub fn build(
    header: &TcHeader,
    layout: TcLayout,
    segment: Option<SegmentHeader>,
    data: &[u8],
    out: &mut [u8],
) -> Result<usize, TcError> {
    if header.scid > 0x3FF {
        return Err(TcError::Build("spacecraft id exceeds 10 bits"));
    }
    if header.vcid > 0x3F {
        return Err(TcError::Build("virtual channel id exceeds 6 bits"));
    }
    let seg = layout.segment_header && header.frame_type != FrameType::Bc;
    let segment = match (seg, segment) {
        (true, Some(s)) if s.map_id <= 0x3F => Some(s),
        (true, Some(_)) => return Err(TcError::Build("MAP id exceeds 6 bits")),
        (true, None) => return Err(TcError::Build("this layout needs a segment header")),
        (false, Some(_)) => return Err(TcError::Build("segment header not used here")),
        (false, None) => None,
    };
    let len = HEADER_LEN + usize::from(seg) + data.len() + if layout.fecf { 2 } else { 0 };
    if len > MAX_FRAME_LEN {
        return Err(TcError::Build("frame longer than 1024 bytes"));
    }
    let Some(out) = out.get_mut(..len) else {
        return Err(TcError::BufferTooSmall { needed: len });
    };
    let (bypass, control) = header.frame_type.flags();
    out[0] = (u8::from(bypass) << 5) | (u8::from(control) << 4) | ((header.scid >> 8) as u8 & 0x03);
    out[1] = header.scid as u8;
    // `len` <= 1024, so `len - 1` fits the 10-bit field.
    let len_field = (len - 1) as u16;
    out[2] = (header.vcid << 2) | ((len_field >> 8) as u8 & 0x03);
    out[3] = len_field as u8;
    out[4] = header.seq;
    let mut at = HEADER_LEN;
    if let Some(s) = segment {
        out[at] = s.to_byte();
        at += 1;
    }
    out[at..at + data.len()].copy_from_slice(data);
    at += data.len();
    if layout.fecf {
        let crc = fecf::compute(&out[..at]);
        out[at..].copy_from_slice(&crc.to_be_bytes());
    }
    Ok(len)
}

/// Reads the frame at the front of `bytes`; returns it and the bytes after it (a following
/// frame, or the CLTU's fill).
pub fn parse(bytes: &[u8], layout: TcLayout) -> Result<(TcFrame<'_>, &[u8]), TcError> {
    let Some(head) = bytes.get(..HEADER_LEN) else {
        return Err(TcError::Truncated {
            have: bytes.len(),
            need: HEADER_LEN,
        });
    };
    let version = head[0] >> 6;
    if version != 0 {
        return Err(TcError::Version(version));
    }
    let spare = (head[0] >> 2) & 0x03;
    if spare != 0 {
        return Err(TcError::Spare(spare));
    }
    let frame_type = match (head[0] & 0x20 != 0, head[0] & 0x10 != 0) {
        (false, false) => FrameType::Ad,
        (true, false) => FrameType::Bd,
        (true, true) => FrameType::Bc,
        (false, true) => return Err(TcError::TypeAc),
    };
    let scid = (u16::from(head[0] & 0x03) << 8) | u16::from(head[1]);
    let vcid = head[2] >> 2;
    let len = ((usize::from(head[2] & 0x03) << 8) | usize::from(head[3])) + 1;
    let seg = layout.segment_header && frame_type != FrameType::Bc;
    let overhead = HEADER_LEN + usize::from(seg) + if layout.fecf { 2 } else { 0 };
    if len < overhead {
        return Err(TcError::TooShort(len));
    }
    let Some(frame) = bytes.get(..len) else {
        return Err(TcError::Truncated {
            have: bytes.len(),
            need: len,
        });
    };
    if layout.fecf && !fecf::check(frame) {
        return Err(TcError::Crc);
    }
    let body_end = len - if layout.fecf { 2 } else { 0 };
    let segment = seg.then(|| SegmentHeader::from_byte(frame[HEADER_LEN]));
    let data = &frame[HEADER_LEN + usize::from(seg)..body_end];
    let header = TcHeader {
        frame_type,
        scid,
        vcid,
        seq: head[4],
    };
    Ok((
        TcFrame {
            header,
            segment,
            data,
        },
        &bytes[len..],
    ))
}
