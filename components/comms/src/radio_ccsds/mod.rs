//! The radio as a CCSDS space link (issue 19): its managed parameters ([`CcsdsConfig`]), the
//! state the node keeps for it ([`CcsdsRadio`]), and the ground's end ([`GroundRadio`]).
//! [`crate::node`]'s `node/ccsds.rs` runs the node's bytes through it; the field-by-field
//! layout of a secured TC and TM frame is in `components/spacelink/README.md`.
//!
//! Uplink, bytes from the radio driver:
//!
//! 1. CLTU decoding (231.0: start sequence, BCH(63,56) with single-error correction, tail),
//!    [`spacelink::cltu`]; a CLTU may carry several TC frames, then fill.
//! 2. TC transfer frame (232.0) with the segment header and the FECF; SDLS ProcessSecurity
//!    (355.0) with an association the security engine lends for the frame
//!    ([`crate::sdls::engine`]'s `frames`: same session keys, same anti-replay window and
//!    flash reservation as the standby link's units).
//! 3. FARM-1 (232.1) on virtual channel [`CcsdsConfig::tc_vcid`]: type-AD in sequence, type-BD,
//!    Unlock and Set V(R).
//! 4. The frame's data field is **one space packet** (segment flags "unsegmented"), or a
//!    segment of one (first, continuing, last, joined on MAP 0; every segment under the first
//!    one's association), handed to the same packet handling as a unit's (PUS, routing, dedup,
//!    CFDP hand-off).
//!
//! Downlink: every space packet the node sends on the radio is laid into TM transfer frames
//! (132.0, fixed length [`CcsdsConfig::tm_frame_len`], packets spanning frames, idle fill) on
//! virtual channel [`CcsdsConfig::tm_vcid`], each frame SDLS-applied under the association of
//! the answer and carrying FARM-1's CLCW in the operational control field, then the attached
//! sync marker and the pseudo-randomiser (131.0); one frame per radio datagram. An uplink
//! burst of type-AD or type-BC frames that caused no telemetry still gets an idle frame, so
//! the ground's FOP-1 sees the CLCW; coalesced: at once if the CLCW has news for FOP-1 since
//! the last one sent down (V(R) moved [`CLCW_NEWS_FRAMES`] frames on, or a flag changed) or
//! if no TM frame went down for [`CLCW_GAP_US`] (the downlink is idle); else one frame with
//! the latest CLCW once the gap has passed, and none if another TM frame (which carries the
//! CLCW too) went down meanwhile. So retransmissions FARM-1 has already taken, from a ground
//! whose timer is shorter than a slow radio's round trip, cannot grow the downlink's queue,
//! while a stream of new frames is acknowledged every few frames. A type-BD frame draws none
//! (FOP-1 never retransmits it).
//!
//! Each association's suite (AES-256-GCM or HMAC-SHA-256) is its own, from the provisioning
//! file ([`crate::sdls::provision`]); so TM frames under two associations of different suites
//! carry data fields of different lengths (the frame length is fixed).
//!
//! Not (yet) here: several packets in one TC frame, MAP multiplexing (MAP 0 only), the set-ARSN
//! resynchronisation over frames. In recovery-only mode (comms' anti-replay floors lost) TC
//! frames are authenticated without a floor, as units are then, and only the recovery's
//! commands are taken (`node/recovery.rs`).
//!
//! Avoids: heap, a second window or counter, panics on any received byte.

use spacelink::cltu::CltuDecoder;
use spacelink::farm::Farm;
pub use spacelink::fop::{Alert, FopReject};
use spacelink::packets::{Packer, declared_len};
pub use spacelink::sdls::Suite;
use spacelink::segment::Reassembler;
use spacelink::tc::SeqFlags;
use spacelink::tc::TcLayout;
use spacelink::tm::{TmFramer, TmLayout};

use crate::sdls::MAX_DATA_LEN;
use crate::sdls::engine::FrameChannel;

mod ground;

pub use ground::{
    FOP_WINDOW, GroundRadio, GroundRadioError, GroundRadioStats, MAX_CLTU, MAX_TC_PACKET,
    TRANSMISSION_LIMIT,
};

/// Largest TC frame (232.0).
pub const MAX_TC_FRAME: usize = spacelink::tc::MAX_FRAME_LEN;
/// Largest decoded CLTU the node takes: two frames of the largest size.
pub const MAX_CLTU_DATA: usize = 2 * MAX_TC_FRAME;
/// Largest TM frame.
pub const MAX_TM_FRAME: usize = spacelink::tm::MAX_FRAME_LEN;
/// The TC frame layout on the radio: segment header and FECF.
pub const TC_LAYOUT: TcLayout = TcLayout {
    segment_header: true,
    fecf: true,
};
/// FARM-1's sliding window width W.
pub const FARM_WINDOW: u8 = 16;
/// The time without TM frames after which the downlink counts as idle (a CLCW owed is then
/// sent at once), and so the least time between TM frames sent only to carry a CLCW without
/// news: one second. The node does not know the downlink's rate; a frame of the shipped 1,115
/// bytes takes 0.56 s at 16 kbit/s, the slowest radio the system tests run.
pub const CLCW_GAP_US: u64 = 1_000_000;
/// V(R) this many frames past the last CLCW sent down is news for FOP-1, sent at once: about
/// half of FOP-1's window of 7, so a stream of type-AD frames keeps flowing with one CLCW-only
/// frame per 4 frames up (a quarter of a downlink as fast as the uplink).
pub const CLCW_NEWS_FRAMES: u8 = 4;

/// The link's managed parameters (both ends configure the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcsdsConfig {
    /// Spacecraft id (10 bits).
    pub scid: u16,
    /// Virtual channel of the telecommands (6 bits).
    pub tc_vcid: u8,
    /// Virtual channel of the telemetry (3 bits).
    pub tm_vcid: u8,
    /// TM frame length in bytes (fixed on a physical channel).
    pub tm_frame_len: usize,
}

impl CcsdsConfig {
    /// The TM frame layout: the OCF carries the CLCW, frames end with the FECF.
    pub const fn tm_layout(&self) -> TmLayout {
        TmLayout {
            scid: self.scid,
            frame_len: self.tm_frame_len,
            ocf: true,
            fecf: true,
        }
    }

    /// The telecommand channel, as the security engine lends associations for it.
    pub const fn tc_channel(&self) -> FrameChannel {
        FrameChannel {
            scid: self.scid,
            vcid: self.tc_vcid,
        }
    }

    /// The telemetry channel, as the security engine lends associations for it.
    pub const fn tm_channel(&self) -> FrameChannel {
        FrameChannel {
            scid: self.scid,
            vcid: self.tm_vcid,
        }
    }
}

/// The TM data field a frame of `framer` holds under an association of `suite` (the frame's
/// data less the security header and trailer).
pub fn tm_field_len(framer: &TmFramer, suite: Suite) -> Option<usize> {
    framer
        .data_len()
        .checked_sub(spacelink::sdls::overhead(suite))
}

/// Why the link is not usable with a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CcsdsConfigError {
    /// A field is out of its range.
    #[error("CCSDS radio configuration invalid: {0}")]
    Field(&'static str),
    /// The TM frame layout cannot hold a secured frame.
    #[error(
        "TM frame length {0} cannot hold a secured frame: it needs the 6-byte header, the security header and MAC, a packet header and a byte, the CLCW and the FECF, and at most 2,044 bytes (2,048 with the ASM)"
    )]
    TmFrame(usize),
}

/// Why a received TC frame's data was not handed up (besides SDLS and FARM-1 refusals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcRefusal {
    /// The data field (or the packet joined from segments) is not exactly one space packet.
    NotOnePacket,
    /// A segment that does not continue the packet under way (its first segment lost, or
    /// under another association): the packet under way is dropped.
    Segment,
}

/// Counters of the CCSDS radio (besides the security engine's and FARM-1's own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CcsdsStats {
    /// TC frames refused by SDLS ProcessSecurity (any reason).
    pub sdls_refused: u32,
    /// TC frames FARM-1 discarded.
    pub farm_discarded: u32,
    /// TC frames whose data was not handed up ([`TcRefusal`]).
    pub bad_data: u32,
    /// TM frames sent.
    pub tm_frames: u32,
    /// TM frames that could not be secured (counter not reserved, key not active).
    pub tm_dropped: u32,
}

/// The node's state of the CCSDS radio.
pub struct CcsdsRadio {
    pub(crate) cfg: CcsdsConfig,
    pub(crate) cltu: CltuDecoder<MAX_CLTU_DATA>,
    pub(crate) farm: Farm,
    pub(crate) framer: TmFramer,
    pub(crate) packer: Packer<MAX_TM_FRAME>,
    /// Joins segmented telecommands (one MAP), and the association their first segment came
    /// under (every segment of a packet must come under it).
    pub(crate) segments: Reassembler<MAX_DATA_LEN>,
    pub(crate) segments_spi: Option<u16>,
    pub(crate) stats: CcsdsStats,
    /// The TM frame count last seen, and when it was seen to change (the last frame's time,
    /// to within a tick).
    pub(crate) tm_seen: Option<(u32, hal::time::Instant)>,
    /// Type-AD or type-BC frames arrived that no TM frame has answered with the CLCW yet.
    pub(crate) clcw_owed: bool,
    /// The CLCW the last TM frame carried.
    pub(crate) clcw_sent: Option<spacelink::clcw::Clcw>,
    /// The node is answering a radio datagram: packets wait in the packer until it is done.
    pub(crate) hold: bool,
    /// The association of the packets the packer holds.
    pub(crate) held: Option<u16>,
}

impl core::fmt::Debug for CcsdsRadio {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CcsdsRadio")
            .field("cfg", &self.cfg)
            .field("farm", &self.farm.state())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl CcsdsRadio {
    /// Whether `cfg` is usable: ids in range, a TM frame that holds a secured data field of at
    /// least one packet header and byte, with the CLCW and the FECF, behind the ASM in one
    /// radio datagram of [`MAX_TM_FRAME`] bytes.
    pub fn check(cfg: &CcsdsConfig) -> Result<(), CcsdsConfigError> {
        Self::parts(cfg).map(|_| ())
    }

    fn parts(cfg: &CcsdsConfig) -> Result<(TmFramer, Packer<MAX_TM_FRAME>), CcsdsConfigError> {
        if cfg.scid > 0x3FF {
            return Err(CcsdsConfigError::Field("spacecraft id exceeds 10 bits"));
        }
        if cfg.tc_vcid > 0x3F {
            return Err(CcsdsConfigError::Field("TC virtual channel exceeds 6 bits"));
        }
        if cfg.tm_vcid > 7 {
            return Err(CcsdsConfigError::Field("TM virtual channel exceeds 3 bits"));
        }
        let bad = CcsdsConfigError::TmFrame(cfg.tm_frame_len);
        if cfg.tm_frame_len + spacelink::sync::ASM.len() > MAX_TM_FRAME {
            return Err(bad);
        }
        let framer = TmFramer::new(cfg.tm_layout()).map_err(|_| bad)?;
        // Sized for the larger overhead (GCM); a frame under another suite resizes the field
        // before its packets are laid in ([`tm_field_len`]).
        let field = tm_field_len(&framer, Suite::Aes256Gcm)
            .filter(|n| *n > spacelink::packets::PACKET_HEADER_LEN)
            .ok_or(bad)?;
        let packer = Packer::new(field).map_err(|_| bad)?;
        Ok((framer, packer))
    }

    /// The radio's state for `cfg`: decoder searching, FARM-1 open at V(R) = 0, counters at 0.
    pub fn new(cfg: CcsdsConfig) -> Result<Self, CcsdsConfigError> {
        let (framer, packer) = Self::parts(&cfg)?;
        let farm = Farm::new(cfg.tc_vcid, FARM_WINDOW)
            .map_err(|_| CcsdsConfigError::Field("FARM-1 window"))?;
        Ok(Self {
            cfg,
            cltu: CltuDecoder::new(),
            farm,
            framer,
            packer,
            segments: Reassembler::new(),
            segments_spi: None,
            stats: CcsdsStats::default(),
            tm_seen: None,
            clcw_owed: false,
            clcw_sent: None,
            hold: false,
            held: None,
        })
    }

    /// Whether FARM-1's CLCW is news for FOP-1 against the last one sent down: V(R)
    /// [`CLCW_NEWS_FRAMES`] or more frames on, or lockout, wait or retransmit changed.
    pub(crate) fn clcw_news(&self) -> bool {
        let now = self.farm.clcw();
        self.clcw_sent.is_none_or(|last| {
            now.report_value.wrapping_sub(last.report_value) >= CLCW_NEWS_FRAMES
                || (now.lockout, now.wait, now.retransmit)
                    != (last.lockout, last.wait, last.retransmit)
        })
    }

    /// One segment of a telecommand under `spi`; the joined packet's length in `out` when this
    /// segment completed it (and it is one whole space packet).
    pub(crate) fn join(
        &mut self,
        spi: u16,
        flags: SeqFlags,
        data: &[u8],
        out: &mut [u8],
    ) -> Option<usize> {
        let refused = match flags {
            SeqFlags::First | SeqFlags::Unsegmented => {
                self.segments_spi = Some(spi);
                None
            }
            _ if self.segments_spi != Some(spi) => Some(TcRefusal::Segment),
            _ => None,
        };
        let joined = match refused {
            Some(r) => Err(r),
            None => match self.segments.push(flags, data) {
                Ok(None) => return None,
                Ok(Some(p)) if declared_len(p) == Some(p.len()) => Ok(p),
                Ok(Some(_)) => Err(TcRefusal::NotOnePacket),
                Err(_) => Err(TcRefusal::Segment),
            },
        };
        match joined.map(|p| {
            (
                p.len(),
                out.get_mut(..p.len()).map(|o| o.copy_from_slice(p)),
            )
        }) {
            Ok((n, Some(()))) => Some(n),
            Ok((_, None)) | Err(_) => {
                if refused.is_some() {
                    self.segments = Reassembler::new();
                    self.segments_spi = None;
                }
                self.stats.bad_data = self.stats.bad_data.wrapping_add(1);
                None
            }
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CcsdsConfig {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> CcsdsStats {
        self.stats
    }

    /// FARM-1 (state, V(R), counters, CLCW).
    pub fn farm(&self) -> &Farm {
        &self.farm
    }

    /// The CLTU decoder's counters.
    pub fn cltu_stats(&self) -> spacelink::cltu::CltuStats {
        self.cltu.stats()
    }
}
