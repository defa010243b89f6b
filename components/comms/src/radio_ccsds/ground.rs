//! The ground's end of the CCSDS radio: telecommand packets go up in TC frames under FOP-1
//! (type-AD, retransmitted as the CLCW and the timer ask; type-BC Set V(R) to start, Unlock
//! for recovery), each (re)transmission SDLS-applied afresh under the ground's association
//! and wrapped in a CLTU; TM frames come down through the frame synchroniser, SDLS
//! ProcessSecurity (the ground's window), the CLCW to FOP-1, and the packet extractor. A
//! packet longer than one frame's [`MAX_TC_PACKET`] goes as segments (first, continuing,
//! last), fed to FOP-1 one by one as its window allows.
//!
//! A FARM-1 lockout (FOP-1's LOCKOUT alert, from a CLCW) is recovered at once: Unlock, then
//! Set V(R) to FOP-1's V(S) in the next CLTU, so both ends continue in step; the frames FOP-1
//! held are dropped with the alert, and the caller sends its telecommand again (the node's
//! duplicate check runs it at most once). Counted in [`GroundRadioStats::unlocks`].
//!
//! The security state is the [`crate::ground::Ground`]'s engine, so a ground tool keeps one
//! uplink counter per association whether it sends units or frames.
//!
//! Avoids: heap, I/O (the caller moves the bytes and runs the timer: [`GroundRadio::timer`],
//! [`GroundRadio::timer_expired`]).

use spacelink::clcw::Clcw;
use spacelink::fop::{Alert, Directive, Fop, FopReject, Output, TimeoutType};
use spacelink::packets::Extractor;
use spacelink::sdls::{self, SdlsError};
use spacelink::sync::FrameSync;
use spacelink::tc::{FrameType, SegmentHeader, SeqFlags, TcHeader};
use spacelink::{cltu, tm};

use super::{CcsdsConfig, CcsdsConfigError, MAX_TC_FRAME, MAX_TM_FRAME, TC_LAYOUT};
use crate::ground::Ground;
use crate::sdls::{MAX_DATA_LEN, ProtectError, UplinkReject};

/// Frames FOP-1 keeps unacknowledged at most (its window K, below FARM-1's W/2).
pub const FOP_WINDOW: u8 = 7;
/// Transmissions of one frame before FOP-1 gives up (then an alert; the operator re-runs).
pub const TRANSMISSION_LIMIT: u8 = 10;
/// Largest telecommand packet (or segment of one) one TC frame carries: 1024 bytes less the
/// primary and segment headers, the FECF and the largest security header and trailer (GCM).
/// Longer packets (up to [`MAX_DATA_LEN`]) go up in segments.
pub const MAX_TC_PACKET: usize = MAX_TC_FRAME - 5 - 1 - 2 - 30;
/// What FOP-1 stores per frame: the segment's sequence flags (one byte), then the segment.
const FOP_DATA: usize = MAX_TC_PACKET + 1;
/// Bytes of the largest CLTU the ground writes.
pub const MAX_CLTU: usize = cltu::encoded_len(MAX_TC_FRAME);

/// What FOP-1 keeps for one frame: the sequence flags (one byte), then `segment` (at most
/// [`MAX_TC_PACKET`] bytes, as the callers check); and its length.
fn fop_data(flags: SeqFlags, segment: &[u8]) -> ([u8; FOP_DATA], usize) {
    let mut data = [0u8; FOP_DATA];
    data[0] = match flags {
        SeqFlags::Continuing => 0,
        SeqFlags::First => 1,
        SeqFlags::Last => 2,
        SeqFlags::Unsegmented => 3,
    };
    let n = segment.len().min(MAX_TC_PACKET);
    data[1..=n].copy_from_slice(&segment[..n]);
    (data, n + 1)
}

/// Why the ground's end refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroundRadioError {
    /// The configuration is unusable.
    #[error("{0}")]
    Config(#[from] CcsdsConfigError),
    /// FOP-1 refused (not active, window full, packet too long, ...).
    #[error("COP-1 (FOP-1) refused: {0}")]
    Fop(#[from] FopReject),
    /// The frame could not be secured.
    #[error("security: {0}")]
    Protect(#[from] ProtectError),
    /// The frame could not be built.
    #[error("TC frame: {0}")]
    Frame(#[from] SdlsError),
}

/// Counters of the ground's end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroundRadioStats {
    /// TC frames sent (every transmission).
    pub tc_frames: u32,
    /// TM frames accepted.
    pub tm_frames: u32,
    /// TM frames refused by SDLS (or not for this ground's channel).
    pub tm_refused: u32,
    /// FARM-1 lockouts recovered (Unlock, then Set V(R)).
    pub unlocks: u32,
    /// AD services started again with Set V(R) after another alert ([`GroundRadio::restart`]).
    pub restarts: u32,
}

/// One ground station's end of the CCSDS radio.
pub struct GroundRadio {
    cfg: CcsdsConfig,
    spi: u16,
    fop: Fop<{ FOP_WINDOW as usize }, FOP_DATA>,
    sync: FrameSync<MAX_TM_FRAME>,
    extractor: Extractor<MAX_DATA_LEN>,
    stats: GroundRadioStats,
    /// An Unlock is on its way: Set V(R) follows it.
    set_vr_after_unlock: bool,
    /// A packet longer than one frame, and how much of it FOP-1 has taken as segments.
    long: [u8; MAX_DATA_LEN],
    long_len: usize,
    long_at: usize,
    /// Whether that packet goes as type-BD segments (else type-AD).
    long_expedited: bool,
}

impl core::fmt::Debug for GroundRadio {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GroundRadio")
            .field("cfg", &self.cfg)
            .field("spi", &self.spi)
            .field("fop", &self.fop.state())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl GroundRadio {
    /// The ground's end for `cfg`, sending under association `spi`. FOP-1 starts the AD
    /// service at once with Set V(R) 0 (the first thing sent), as a one-shot ground tool must:
    /// it does not know where the node's FARM-1 stands.
    pub fn new(cfg: CcsdsConfig, spi: u16) -> Result<Self, GroundRadioError> {
        super::CcsdsRadio::check(&cfg)?;
        let mut fop = Fop::new(
            cfg.tc_vcid,
            FOP_WINDOW,
            TRANSMISSION_LIMIT,
            TimeoutType::Alert,
        )?;
        fop.initiate_with_set_vr(0)?;
        let sync = FrameSync::new(cfg.tm_frame_len, true)
            .map_err(|_| CcsdsConfigError::TmFrame(cfg.tm_frame_len))?;
        Ok(Self {
            cfg,
            spi,
            fop,
            sync,
            extractor: Extractor::new(),
            stats: GroundRadioStats::default(),
            set_vr_after_unlock: false,
            long: [0; MAX_DATA_LEN],
            long_len: 0,
            long_at: 0,
            long_expedited: false,
        })
    }

    /// Queue one telecommand packet (type-AD); one longer than [`MAX_TC_PACKET`] goes as
    /// segments (first, continuing, last), each handed to FOP-1 as its window allows. FOP-1
    /// takes it only while the AD service runs (after a CLCW confirmed the Set V(R) or Unlock:
    /// [`FopReject::NotRunning`] before) and its wait queue is free, and no longer packet is
    /// still being fed ([`FopReject::WaitQueueFull`]): on either, move the link on
    /// ([`GroundRadio::next_cltu`], [`GroundRadio::on_bytes`], the timer) and offer it again.
    pub fn submit(&mut self, packet: &[u8]) -> Result<(), GroundRadioError> {
        if packet.is_empty() || packet.len() > MAX_DATA_LEN {
            return Err(FopReject::Length(packet.len()).into());
        }
        if self.long_at < self.long_len {
            return Err(FopReject::WaitQueueFull.into());
        }
        if packet.len() <= MAX_TC_PACKET {
            return Ok(self.transfer(SeqFlags::Unsegmented, packet)?);
        }
        self.transfer(SeqFlags::First, &packet[..MAX_TC_PACKET])?;
        self.hold_long(packet, false);
        Ok(())
    }

    /// The rest of `packet`, whose first segment FOP-1 has taken, to be fed as its service
    /// allows ([`GroundRadio::feed`]).
    fn hold_long(&mut self, packet: &[u8], expedited: bool) {
        self.long[..packet.len()].copy_from_slice(packet);
        (self.long_len, self.long_at) = (packet.len(), MAX_TC_PACKET);
        self.long_expedited = expedited;
    }

    /// Queue one packet for the expedited service: type-BD frames, each sent once (COP-1 does
    /// not retransmit them; FARM-1 accepts them whatever its V(R), SDLS still authenticates
    /// each and checks its sequence number). For packets whose own protocol repairs losses, as
    /// CFDP class 2 and the upgrade's windowed uplink do: they are then not held to FOP-1's
    /// window of [`FOP_WINDOW`] frames per round trip. A packet longer than
    /// [`MAX_TC_PACKET`] goes as segments in consecutive BD frames (nothing is sent between
    /// them: a waiting BD frame goes before anything else); if one is lost, the node's
    /// reassembler drops the packet (a last segment without its first, or a first one
    /// interrupted) and the caller's protocol sends it again. [`FopReject::OutNotReady`] while
    /// the previous one waits for [`GroundRadio::next_cltu`], [`FopReject::WaitQueueFull`]
    /// while a long packet (of either service) is still being fed.
    pub fn submit_expedited(&mut self, packet: &[u8]) -> Result<(), GroundRadioError> {
        if packet.is_empty() || packet.len() > MAX_DATA_LEN {
            return Err(FopReject::Length(packet.len()).into());
        }
        if self.long_at < self.long_len {
            return Err(FopReject::WaitQueueFull.into());
        }
        if packet.len() <= MAX_TC_PACKET {
            let (data, n) = fop_data(SeqFlags::Unsegmented, packet);
            return Ok(self.fop.transfer_bd(&data[..n])?);
        }
        let (data, n) = fop_data(SeqFlags::First, &packet[..MAX_TC_PACKET]);
        self.fop.transfer_bd(&data[..n])?;
        self.hold_long(packet, true);
        Ok(())
    }

    /// Hands FOP-1 one frame's data: the sequence flags, then the segment (type-AD).
    fn transfer(&mut self, flags: SeqFlags, segment: &[u8]) -> Result<(), FopReject> {
        let (data, n) = fop_data(flags, segment);
        self.fop.transfer_ad(&data[..n])
    }

    /// The next segment of the long packet under way to FOP-1, if its wait queue (type-AD) or
    /// its BD slot is free; a type-AD packet is dropped when FOP-1 gave up (its alert): the
    /// caller offers it again.
    fn feed(&mut self) {
        if self.fop.alert().is_some() && !self.long_expedited {
            (self.long_len, self.long_at) = (0, 0);
        }
        if self.long_at >= self.long_len {
            return;
        }
        let end = (self.long_at + MAX_TC_PACKET).min(self.long_len);
        let flags = if end == self.long_len {
            SeqFlags::Last
        } else {
            SeqFlags::Continuing
        };
        let segment = self.long;
        let segment = &segment[self.long_at..end];
        let taken = if self.long_expedited {
            let (data, n) = fop_data(flags, segment);
            self.fop.transfer_bd(&data[..n])
        } else {
            self.transfer(flags, segment)
        };
        if taken.is_ok() {
            self.long_at = end;
        }
    }

    /// Secure the frames sent from now on (retransmissions included) under association
    /// `spi`: a ground that moves its commands to another association (the key it retires
    /// cannot carry the command that retires it).
    pub fn set_spi(&mut self, spi: u16) {
        self.spi = spi;
    }

    /// FOP-1 (state, outstanding frames, alert).
    pub fn fop(&self) -> &Fop<{ FOP_WINDOW as usize }, FOP_DATA> {
        &self.fop
    }

    /// The counters.
    pub fn stats(&self) -> GroundRadioStats {
        self.stats
    }

    /// Recover from a FARM-1 lockout: FOP-1 sends Unlock (type-BC), then Set V(R) to its V(S)
    /// (Unlock leaves FARM-1's V(R) where it was, which need not be FOP-1's V(S)).
    pub fn unlock(&mut self) -> Result<(), GroundRadioError> {
        self.fop.terminate();
        self.fop.initiate_with_unlock()?;
        self.set_vr_after_unlock = true;
        // FOP-1 dropped its frames: a long packet under way starts again when offered again.
        (self.long_len, self.long_at) = (0, 0);
        self.stats.unlocks = self.stats.unlocks.wrapping_add(1);
        Ok(())
    }

    /// Whether FOP-1 still holds telecommand data: frames sent and not yet acknowledged by
    /// FARM-1's CLCW, a frame in its wait queue, or segments of a long packet not yet handed
    /// to it. While it does, a lost frame is FOP-1's to retransmit, not the caller's.
    pub fn busy(&self) -> bool {
        self.fop.outstanding() > 0 || self.fop.waiting() || self.long_at < self.long_len
    }

    /// Start the AD service again after FOP-1 gave up (an alert other than the lockout,
    /// which [`GroundRadio::on_bytes`] recovers itself: the transmission limit, or a CLCW it
    /// could not follow, as after the node rebooted and its FARM-1 started again at V(R) 0):
    /// Set V(R) to FOP-1's V(S), so the numbering goes on. What FOP-1 held was dropped with
    /// the alert; the caller offers it again. Does nothing while the service runs.
    pub fn restart(&mut self) -> Result<(), GroundRadioError> {
        if self.fop.alert().is_none() || self.fop.state() != spacelink::fop::FopState::Initial {
            return Ok(());
        }
        let vs = self.fop.vs();
        self.fop.initiate_with_set_vr(vs)?;
        (self.long_len, self.long_at) = (0, 0);
        self.stats.restarts = self.stats.restarts.wrapping_add(1);
        Ok(())
    }

    /// The running timer's epoch (the caller waits the round trip, then calls
    /// [`GroundRadio::timer_expired`] with it unless a CLCW moved things on).
    pub fn timer(&self) -> Option<u32> {
        self.fop.timer()
    }

    /// The timer of `epoch` ran out: FOP-1 retransmits (or alerts at its limit).
    pub fn timer_expired(&mut self, epoch: u32) {
        self.fop.timer_expired(epoch);
    }

    /// The next CLTU to send, if FOP-1 has a frame to (re)transmit: built, secured afresh
    /// under the ground's association (a new sequence number each time), BCH-coded.
    pub fn next_cltu(
        &mut self,
        ground: &mut Ground,
        out: &mut [u8; MAX_CLTU],
    ) -> Result<Option<usize>, GroundRadioError> {
        self.feed();
        let Some(output) = self.fop.next_output() else {
            return Ok(None);
        };
        let unlock = matches!(output, Output::Bc(Directive::Unlock));
        let seg = |data: &[u8]| {
            let flags = match data.first() {
                Some(0) => SeqFlags::Continuing,
                Some(1) => SeqFlags::First,
                Some(2) => SeqFlags::Last,
                _ => SeqFlags::Unsegmented,
            };
            Some(SegmentHeader { flags, map_id: 0 })
        };
        let (frame_type, seq, segment, data): (_, _, _, &[u8]) = match output {
            Output::Ad { ns, data } => (FrameType::Ad, ns, seg(data), data.get(1..).unwrap_or(&[])),
            Output::Bd(data) => (FrameType::Bd, 0, seg(data), data.get(1..).unwrap_or(&[])),
            Output::Bc(Directive::Unlock) => (FrameType::Bc, 0, None, &spacelink::tc::UNLOCK),
            Output::Bc(Directive::SetVr(_)) => (FrameType::Bc, 0, None, &[]),
        };
        let set_vr;
        let data = match output {
            Output::Bc(Directive::SetVr(vr)) => {
                set_vr = [
                    spacelink::tc::SET_VR_PREFIX[0],
                    spacelink::tc::SET_VR_PREFIX[1],
                    vr,
                ];
                &set_vr[..]
            }
            _ => data,
        };
        let header = TcHeader {
            frame_type,
            scid: self.cfg.scid,
            vcid: self.cfg.tc_vcid,
            seq,
        };
        let (engine, persist) = ground.engine_mut();
        let mut sa = engine.frame_tx_sa(self.spi, self.cfg.tc_channel(), persist)?;
        let mut frame = [0u8; MAX_TC_FRAME];
        let n = sdls::apply_tc(&mut sa, &header, TC_LAYOUT, segment, data, &mut frame)?;
        let len = cltu::encode(frame.get(..n).unwrap_or(&[]), out)
            .map_err(|_| SdlsError::Build("CLTU buffer too small"))?;
        self.stats.tc_frames = self.stats.tc_frames.wrapping_add(1);
        if unlock && self.set_vr_after_unlock {
            self.set_vr_after_unlock = false;
            let vs = self.fop.vs();
            self.fop.terminate();
            self.fop.initiate_with_set_vr(vs)?;
        }
        Ok(Some(len))
    }

    /// Bytes received from the radio: every TM frame found is authenticated under the ground's
    /// engine (its downlink window), its CLCW goes to FOP-1, and `packet(spi, seq, packet)` is
    /// called for every space packet completed (idle packets dropped).
    pub fn on_bytes(
        &mut self,
        ground: &mut Ground,
        bytes: &[u8],
        packet: &mut impl FnMut(u16, u64, &[u8]),
    ) {
        for &b in bytes {
            let mut frame = [0u8; MAX_TM_FRAME];
            let n = match self.sync.push(b) {
                Some(f) => {
                    let n = f.len().min(MAX_TM_FRAME);
                    frame[..n].copy_from_slice(&f[..n]);
                    n
                }
                None => continue,
            };
            if self.on_frame(ground, &mut frame[..n], packet).is_err() {
                self.stats.tm_refused = self.stats.tm_refused.wrapping_add(1);
            }
        }
    }

    fn on_frame(
        &mut self,
        ground: &mut Ground,
        frame: &mut [u8],
        packet: &mut impl FnMut(u16, u64, &[u8]),
    ) -> Result<(), UplinkReject> {
        let len = frame.len();
        let spi = match frame.get(tm::HEADER_LEN..tm::HEADER_LEN + 2) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => return Err(UplinkReject::Malformed { len }),
        };
        let (engine, persist) = ground.engine_mut();
        let mut sa = engine
            .frame_rx_sa(spi, self.cfg.tm_channel())
            .ok_or(UplinkReject::UnknownSpi(spi))?
            .map_err(|_| UplinkReject::Malformed { len })?;
        let layout = self.cfg.tm_layout();
        let secured = sdls::process_tm(core::slice::from_mut(&mut sa), frame, &layout)
            .map_err(|e| crate::sdls::engine::frame_reject(&e, len))?;
        engine.accept_frame(spi, secured.seq, persist)?;
        self.stats.tm_frames = self.stats.tm_frames.wrapping_add(1);
        if let Some(clcw) = secured.frame.ocf.and_then(|w| Clcw::from_bytes(w).ok()) {
            // A CLCW of another channel or an inconsistent one is FOP-1's alert to raise.
            let _ = self.fop.clcw(&clcw);
            if self.fop.alert() == Some(Alert::Lockout) {
                // Cannot fail: the alert left FOP-1 in its initial state.
                let _ = self.unlock();
            }
        }
        let seq = secured.seq;
        self.extractor
            .push_frame(&secured.frame, &mut |p| packet(spi, seq, p));
        Ok(())
    }
}
