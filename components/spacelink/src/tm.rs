//! TM transfer frames (CCSDS 132.0 §4.1): fixed length per physical channel, a six-byte primary
//! header (version `00`, 10-bit spacecraft id, 3-bit virtual channel, OCF flag, master channel
//! frame count, virtual channel frame count, data field status with the 11-bit first header
//! pointer), the data field, the optional four-byte operational control field (carrying the
//! CLCW, [`crate::clcw`]) and the optional CRC-16 frame error control field.
//!
//! [`TmFramer`] keeps the master and per-VC counters and writes frames; [`parse`] reads and
//! checks one. Packets are put into and taken out of data fields by [`crate::packets`].
//!
//! Avoids: heap, panics on received bytes, the secondary header (not used by the node).

use crate::fecf;

/// Bytes in the primary header.
pub const HEADER_LEN: usize = 6;
/// Largest TM transfer frame (132.0 §4.1.1: 2048 bytes).
pub const MAX_FRAME_LEN: usize = 2048;
/// First header pointer: no packet starts in this frame.
pub const FHP_NO_PACKET_START: u16 = 0x7FF;
/// First header pointer: the data field holds only idle data.
pub const FHP_IDLE: u16 = 0x7FE;

/// A physical channel's fixed frame layout (both ends know it by configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TmLayout {
    /// Spacecraft id (10 bits).
    pub scid: u16,
    /// Total frame length in bytes.
    pub frame_len: usize,
    /// Whether frames carry the operational control field (the CLCW).
    pub ocf: bool,
    /// Whether frames end with the CRC-16.
    pub fecf: bool,
}

/// What is wrong with a layout, a frame to build or a received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TmError {
    /// The layout cannot hold a frame.
    #[error("TM layout invalid: {0}")]
    Layout(&'static str),
    /// The received frame is not the layout's length.
    #[error("TM frame is {have} bytes, the channel's frames are {want}")]
    Length {
        /// Bytes received.
        have: usize,
        /// Configured length.
        want: usize,
    },
    /// Version is not `00`.
    #[error("TM frame version {0} is not 0 (not a TM transfer frame)")]
    Version(u8),
    /// The frame is for another spacecraft.
    #[error("TM frame for spacecraft {got}, this channel is spacecraft {want}")]
    Spacecraft {
        /// Received id.
        got: u16,
        /// Configured id.
        want: u16,
    },
    /// The OCF flag differs from the layout.
    #[error("TM frame OCF flag differs from the channel's layout")]
    OcfFlag,
    /// The CRC-16 does not match.
    #[error("TM frame CRC-16 mismatch: frame damaged in transit, discarded")]
    Crc,
    /// A secondary header or synchronous data field (not used by the node).
    #[error(
        "TM frame has a secondary header or synchronous data field, which this link does not use"
    )]
    Unsupported,
    /// The first header pointer points past the data field.
    #[error("TM first header pointer {0} beyond the data field")]
    Pointer(u16),
    /// A field to build is out of range or the data field is the wrong size.
    #[error("TM frame cannot be built: {0}")]
    Build(&'static str),
}

impl TmLayout {
    /// Checks the layout and returns the data field length.
    pub fn data_len(&self) -> Result<usize, TmError> {
        if self.scid > 0x3FF {
            return Err(TmError::Layout("spacecraft id exceeds 10 bits"));
        }
        if self.frame_len > MAX_FRAME_LEN {
            return Err(TmError::Layout("frame longer than 2048 bytes"));
        }
        let overhead = HEADER_LEN + if self.ocf { 4 } else { 0 } + if self.fecf { 2 } else { 0 };
        match self.frame_len.checked_sub(overhead) {
            Some(n) if n > 0 => Ok(n),
            _ => Err(TmError::Layout(
                "frame too short for its header, OCF and FECF",
            )),
        }
    }
}

/// A TM frame read from received bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TmFrame<'a> {
    /// Virtual channel (3 bits).
    pub vcid: u8,
    /// Master channel frame count.
    pub mc_count: u8,
    /// Virtual channel frame count.
    pub vc_count: u8,
    /// First header pointer (or [`FHP_NO_PACKET_START`] / [`FHP_IDLE`]).
    pub fhp: u16,
    /// The data field.
    pub data: &'a [u8],
    /// The operational control field, when the layout has one.
    pub ocf: Option<[u8; 4]>,
}

/// Reads and checks one received frame.
pub fn parse<'a>(frame: &'a [u8], layout: &TmLayout) -> Result<TmFrame<'a>, TmError> {
    let data_len = layout.data_len()?;
    if frame.len() != layout.frame_len {
        return Err(TmError::Length {
            have: frame.len(),
            want: layout.frame_len,
        });
    }
    if layout.fecf && !fecf::check(frame) {
        return Err(TmError::Crc);
    }
    let version = frame[0] >> 6;
    if version != 0 {
        return Err(TmError::Version(version));
    }
    let scid = (u16::from(frame[0] & 0x3F) << 4) | u16::from(frame[1] >> 4);
    if scid != layout.scid {
        return Err(TmError::Spacecraft {
            got: scid,
            want: layout.scid,
        });
    }
    if (frame[1] & 1 != 0) != layout.ocf {
        return Err(TmError::OcfFlag);
    }
    let status = u16::from_be_bytes([frame[4], frame[5]]);
    // Secondary header flag and synchronisation flag must be 0; packet order 0; segment
    // length id 11.
    if status & 0xF800 != 0x1800 {
        return Err(TmError::Unsupported);
    }
    let fhp = status & 0x07FF;
    if usize::from(fhp) >= data_len && fhp != FHP_NO_PACKET_START && fhp != FHP_IDLE {
        return Err(TmError::Pointer(fhp));
    }
    let data = &frame[HEADER_LEN..HEADER_LEN + data_len];
    let ocf = layout.ocf.then(|| {
        let at = HEADER_LEN + data_len;
        [frame[at], frame[at + 1], frame[at + 2], frame[at + 3]]
    });
    Ok(TmFrame {
        vcid: (frame[1] >> 1) & 0x07,
        mc_count: frame[2],
        vc_count: frame[3],
        fhp,
        data,
        ocf,
    })
}

/// Writes frames of one physical channel, keeping its master and virtual channel counters.
#[derive(Clone, Debug)]
pub struct TmFramer {
    layout: TmLayout,
    data_len: usize,
    mc_count: u8,
    vc_counts: [u8; 8],
}

impl TmFramer {
    /// A framer for `layout`, counters at zero.
    pub fn new(layout: TmLayout) -> Result<Self, TmError> {
        let data_len = layout.data_len()?;
        Ok(Self {
            layout,
            data_len,
            mc_count: 0,
            vc_counts: [0; 8],
        })
    }

    /// The channel's layout.
    pub fn layout(&self) -> &TmLayout {
        &self.layout
    }

    /// The data field length of every frame.
    pub fn data_len(&self) -> usize {
        self.data_len
    }

    /// Writes the next frame of virtual channel `vcid` into `out` (exactly the layout's frame
    /// length): `data` must be exactly one data field; `ocf` is required when the layout has
    /// the field. Advances the master and that VC's counters.
    pub fn build(
        &mut self,
        vcid: u8,
        data: &[u8],
        fhp: u16,
        ocf: Option<[u8; 4]>,
        out: &mut [u8],
    ) -> Result<(), TmError> {
        if vcid > 7 {
            return Err(TmError::Build("virtual channel id exceeds 3 bits"));
        }
        if data.len() != self.data_len {
            return Err(TmError::Build("data is not exactly one data field"));
        }
        if fhp > 0x7FF {
            return Err(TmError::Build("first header pointer exceeds 11 bits"));
        }
        if out.len() != self.layout.frame_len {
            return Err(TmError::Build("output is not exactly one frame long"));
        }
        let scid = self.layout.scid;
        out[0] = (scid >> 4) as u8 & 0x3F;
        out[1] = ((scid as u8 & 0x0F) << 4) | (vcid << 1) | u8::from(self.layout.ocf);
        out[2] = self.mc_count;
        out[3] = self.vc_counts[usize::from(vcid)];
        out[4..6].copy_from_slice(&(0x1800 | fhp).to_be_bytes());
        let mut at = HEADER_LEN;
        out[at..at + data.len()].copy_from_slice(data);
        at += data.len();
        match (self.layout.ocf, ocf) {
            (true, Some(word)) => {
                out[at..at + 4].copy_from_slice(&word);
                at += 4;
            }
            (true, None) => return Err(TmError::Build("this layout carries an OCF (the CLCW)")),
            (false, Some(_)) => return Err(TmError::Build("this layout has no OCF")),
            (false, None) => {}
        }
        if self.layout.fecf {
            let crc = fecf::compute(&out[..at]);
            out[at..at + 2].copy_from_slice(&crc.to_be_bytes());
        }
        self.mc_count = self.mc_count.wrapping_add(1);
        let vc = &mut self.vc_counts[usize::from(vcid)];
        *vc = vc.wrapping_add(1);
        Ok(())
    }
}
