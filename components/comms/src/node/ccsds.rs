//! The node on the CCSDS radio ([`crate::radio_ccsds`]): CLTUs in, TC frames through SDLS
//! (the engine's lent associations) and FARM-1, each packet into the same handling as a unit's
//! ([`Node::deliver`]); packets out as SDLS-secured TM frames with the CLCW, behind the ASM and
//! randomised.
//!
//! Refusals are answered as a unit's are: nothing for a frame SDLS refuses (counted, and an
//! authenticated frame refused for its sequence number raises the rate-limited event 0x0007),
//! nothing from FARM-1 but the CLCW, which every TM frame carries.
//!
//! Avoids: heap; a buffer per received byte (one CLTU buffer per call).

use hal::time::Instant;
use protocol::LinkId;
use spacelink::farm::FarmAction;
use spacelink::packets::declared_len;
use spacelink::sdls::{self, SecurityAssociation};
use spacelink::tc::{self, SeqFlags};
use spacelink::tm::FHP_IDLE;

use crate::link::RxError;
use crate::radio_ccsds::{CcsdsRadio, MAX_CLTU_DATA, MAX_TM_FRAME, TC_LAYOUT, TcRefusal};
use crate::sdls::engine::frame_reject;
use crate::sdls::{MAX_DATA_LEN, StatePersist, UplinkReject, Verified};

use super::{Downlink, Forwarder, Node, Now, UnitOutcome};

/// What became of one TC frame whose data was handed up: the outcome, and the frame buffer a
/// [`UnitOutcome::Cfdp`]'s offsets refer to.
pub type FrameSeen<'a> = (UnitOutcome, &'a [u8]);

impl<P: StatePersist> Node<P> {
    /// Put the radio (the primary link) on the CCSDS space link: from now on its received
    /// bytes go to [`Node::on_radio_bytes`] and every packet sent on it goes down in TM frames.
    /// The state stays where the caller put it (static memory in a partition).
    pub fn use_ccsds_radio(&mut self, radio: &'static mut CcsdsRadio) {
        self.ccsds = Some(radio);
    }

    /// The CCSDS radio's state, if the radio speaks it.
    pub fn ccsds_radio(&self) -> Option<&CcsdsRadio> {
        self.ccsds.as_deref()
    }

    /// Bytes received from the radio (any split: the CLTU decoder keeps its place between
    /// calls). `seen` is called for each TC frame whose packet was handed up. Does nothing if
    /// the radio is not on the CCSDS link.
    pub fn on_radio_bytes(
        &mut self,
        bytes: &[u8],
        now: Now,
        fwd: &mut impl Forwarder,
        down: &mut impl Downlink,
        seen: &mut impl FnMut(FrameSeen<'_>),
    ) {
        let mut buf = [0u8; MAX_CLTU_DATA];
        let mut frames = 0u32;
        let mut tm_before = None;
        // What the frames cause goes back on the radio, as a unit's answers go on its link:
        // reports, and the refusal event of a frame refused for its sequence number too (the
        // ground needs it to move above the node's floor after a reboot, while the radio is
        // not yet the active link).
        let outer = self.reply_link.replace(LinkId::Primary);
        if let Some(radio) = self.ccsds.as_mut() {
            radio.hold = true;
        }
        for &b in bytes {
            let Some(radio) = self.ccsds.as_mut() else {
                break;
            };
            tm_before.get_or_insert(radio.stats.tm_frames);
            let Some(cltu) = radio.cltu.push(b) else {
                continue;
            };
            let n = cltu.data.len().min(MAX_CLTU_DATA);
            buf[..n].copy_from_slice(&cltu.data[..n]);
            frames += self.on_cltu(&mut buf[..n], now, fwd, down, seen);
        }
        self.reply_link = outer;
        if let Some(radio) = self.ccsds.as_mut() {
            radio.hold = false;
        }
        self.flush_frames(down);
        let Some(radio) = self.ccsds.as_mut() else {
            return;
        };
        if tm_before != Some(radio.stats.tm_frames) {
            // What went down carries the CLCW as these frames left it.
            radio.clcw_owed = false;
        } else if frames > 0 {
            radio.clcw_owed = true;
        }
        self.send_owed_clcw(now, down);
    }

    /// The CLCW owed to the ground ([`crate::radio_ccsds::CLCW_GAP_US`]): one idle frame if
    /// it has news for FOP-1 or no TM frame went down for the gap, else nothing yet (the tick
    /// looks again). Call regularly ([`Node::tick`] does).
    pub(super) fn send_owed_clcw(&mut self, now: Now, down: &mut impl Downlink) {
        let Some(radio) = self.ccsds.as_mut() else {
            return;
        };
        let count = radio.stats.tm_frames;
        match radio.tm_seen {
            Some((seen, _)) if seen == count => {}
            Some(_) => {
                // Frames went down since: they carried the latest CLCW.
                radio.tm_seen = Some((count, now.mono));
                radio.clcw_owed = false;
            }
            None => radio.tm_seen = Some((count, Instant::from_micros(0))),
        }
        let idle = radio.tm_seen.is_none_or(|(_, at)| {
            now.mono.as_micros().saturating_sub(at.as_micros()) >= crate::radio_ccsds::CLCW_GAP_US
        });
        if radio.clcw_owed && (idle || radio.clcw_news()) {
            radio.clcw_owed = false;
            self.send_idle_frame(down);
            if let Some(radio) = self.ccsds.as_mut() {
                radio.tm_seen = Some((radio.stats.tm_frames, now.mono));
            }
        }
    }

    /// The TC frames of one CLTU's data (then fill); returns how many were authenticated and
    /// want FARM-1's answer: type-AD and type-BC frames, which FOP-1 waits to see acknowledged
    /// in a CLCW. A type-BD frame (CFDP's file data) does not: FOP-1 never retransmits it, so
    /// a TM frame sent only to carry the CLCW for it would spend the downlink on nothing (one
    /// per uplinked frame of a file).
    fn on_cltu(
        &mut self,
        data: &mut [u8],
        now: Now,
        fwd: &mut impl Forwarder,
        down: &mut impl Downlink,
        seen: &mut impl FnMut(FrameSeen<'_>),
    ) -> u32 {
        let mut at = 0;
        let (mut frames, mut answered) = (0, 0);
        while let Some(rest) = data.get_mut(at..) {
            let len = match tc::parse(rest, TC_LAYOUT) {
                Ok((_, after)) => rest.len() - after.len(),
                Err(_) => {
                    // The first frame unreadable: a damaged CLTU; after frames: the fill.
                    if frames == 0 {
                        self.links
                            .on_rx_error(LinkId::Primary, RxError::Crc, now.mono);
                    }
                    break;
                }
            };
            let Some(frame) = rest.get_mut(..len) else {
                break;
            };
            answered += u32::from(self.on_tc_frame(frame, now, fwd, down, seen));
            frames += 1;
            at += len;
        }
        answered
    }

    /// One parsed TC frame: SDLS, the shared window, FARM-1, then the packet. Returns
    /// whether it was authentic and of a type FOP-1 waits to see acknowledged (AD or BC), so
    /// that the node answers with the CLCW.
    fn on_tc_frame(
        &mut self,
        frame: &mut [u8],
        now: Now,
        fwd: &mut impl Forwarder,
        down: &mut impl Downlink,
        seen: &mut impl FnMut(FrameSeen<'_>),
    ) -> bool {
        let Some(cfg) = self.ccsds.as_ref().map(|r| r.cfg) else {
            return false;
        };
        // The SPI follows the primary header and, except in a type-BC frame, the segment
        // header; the frame parsed, so these bytes exist.
        let bc = frame.first().is_some_and(|b| b & 0x10 != 0);
        let off = tc::HEADER_LEN + usize::from(!bc);
        let spi = match frame.get(off..off + 2) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => {
                self.frame_refused(UplinkReject::Malformed { len: frame.len() }, now, down);
                return false;
            }
        };
        let lent = if self.recovery.is_some() {
            self.engine.frame_rx_sa_without_floor(spi, cfg.tc_channel())
        } else {
            self.engine.frame_rx_sa(spi, cfg.tc_channel())
        };
        let mut sa: SecurityAssociation = match lent {
            Some(Ok(sa)) => sa,
            Some(Err(_)) => {
                self.frame_refused(UplinkReject::Malformed { len: frame.len() }, now, down);
                return false;
            }
            None => {
                self.frame_refused(UplinkReject::UnknownSpi(spi), now, down);
                return false;
            }
        };
        let len = frame.len();
        let base = frame.as_ptr() as usize;
        let (secured, _) = match sdls::process_tc(core::slice::from_mut(&mut sa), frame, TC_LAYOUT)
        {
            Ok(s) => s,
            Err(e) => {
                self.frame_refused(frame_reject(&e, len), now, down);
                return false;
            }
        };
        // In recovery-only mode the floors are lost: the frame is authenticated (its MAC; the
        // lent association's window takes any number) but judged against no floor, and
        // nothing moves, as a unit's `authenticate_only`; only what is harmless when replayed
        // is then taken. Otherwise the engine judges the number; a whole packet that is the
        // set-ARSN naming this frame's own SPI and number may be beyond the window (the
        // ground's `resync`, as for a unit). The data is authenticated and decrypted by now.
        let resync = || {
            let whole = secured
                .frame
                .segment
                .is_none_or(|s| s.flags == SeqFlags::Unsegmented);
            whole && self.is_set_arsn(spi, secured.seq, secured.frame.data)
        };
        let judged = if self.recovery.is_some() {
            self.engine.authenticate_frame(spi)
        } else if resync() {
            self.engine
                .accept_frame_resync(spi, secured.seq, &mut self.persist)
        } else {
            self.engine
                .accept_frame(spi, secured.seq, &mut self.persist)
        };
        let (verdict, permissions) = match judged {
            Ok(v) => v,
            Err(e) => {
                self.frame_refused_counted(e, now, down);
                return false;
            }
        };
        let seq = secured.seq;
        let Some(radio) = self.ccsds.as_mut() else {
            return true;
        };
        let acknowledged = secured.frame.header.frame_type != tc::FrameType::Bd;
        let action = radio.farm.frame(&secured.frame, true);
        let data = secured.frame.data;
        // A whole packet stays in the frame buffer; a packet joined from segments is copied
        // out of the reassembler here, so that the node is free to handle it.
        let mut joined = [0u8; MAX_DATA_LEN];
        let up = match action {
            FarmAction::AcceptData => match secured.frame.segment.map(|s| s.flags) {
                None | Some(SeqFlags::Unsegmented) => match one_packet(&secured.frame) {
                    Ok(()) => Up::Frame((data.as_ptr() as usize).wrapping_sub(base), data.len()),
                    Err(_) => {
                        radio.stats.bad_data = radio.stats.bad_data.wrapping_add(1);
                        Up::Nothing
                    }
                },
                Some(flags) => match radio.join(spi, flags, data, &mut joined) {
                    Some(n) => Up::Joined(n),
                    None => Up::Nothing,
                },
            },
            FarmAction::AcceptControl => Up::Nothing,
            FarmAction::Discard(_) => {
                radio.stats.farm_discarded = radio.stats.farm_discarded.wrapping_add(1);
                Up::Nothing
            }
        };
        let frame: &[u8] = frame;
        let (unit, packet) = match up {
            Up::Frame(start, n) => (frame, frame.get(start..start + n)),
            Up::Joined(n) => (&joined[..], joined.get(..n)),
            Up::Nothing => (frame, None),
        };
        match packet {
            Some(data) => {
                let verified = Verified {
                    spi,
                    arsn: seq,
                    verdict,
                    permissions,
                    data,
                };
                let o = self.deliver(LinkId::Primary, unit, verified, now, fwd, down);
                seen((o, unit));
            }
            // Authenticated traffic keeps the link up, whatever FARM-1 made of it.
            None => self.links.on_rx_ok(LinkId::Primary, now.mono),
        }
        acknowledged
    }

    /// A frame refused before the engine counted it: count it, then as below.
    fn frame_refused(&mut self, e: UplinkReject, now: Now, down: &mut impl Downlink) {
        self.engine.refuse_frame(e);
        self.frame_refused_counted(e, now, down);
    }

    /// A refused frame: as a refused unit ([`Node::security_refused`]), and the radio's
    /// counter.
    fn frame_refused_counted(&mut self, e: UplinkReject, now: Now, down: &mut impl Downlink) {
        self.security_refused(LinkId::Primary, e, now, down);
        if let Some(radio) = self.ccsds.as_mut() {
            radio.stats.sdls_refused = radio.stats.sdls_refused.wrapping_add(1);
        }
    }

    /// Send `packet` under association `spi` in TM frames on the radio, packed, and flushed
    /// with idle fill so that nothing waits for a later packet: at once, or, while the node
    /// answers a radio datagram ([`Node::on_radio_bytes`]), when it has answered it all, so
    /// that the reports of one telecommand (1,1, 1,3, the reply, 1,7) share a frame instead of
    /// taking one each (a 1,115-byte frame is 0.56 s of a 16 kbit/s downlink). Packets under
    /// another association are never in the same frame.
    pub(super) fn send_frames(&mut self, spi: u16, packet: &[u8], down: &mut impl Downlink) {
        if self
            .ccsds
            .as_ref()
            .and_then(|r| r.held)
            .is_some_and(|h| h != spi)
        {
            self.flush_frames(down);
        }
        self.pack(spi, Some(packet), down);
    }

    /// Sends what the packer holds ([`Node::send_frames`]), sealed under the keys of now: the
    /// carrier's downlink key moves after a rotation's reports (`Node::run_local`).
    pub(super) fn flush_frames(&mut self, down: &mut impl Downlink) {
        let Some(radio) = self.ccsds.as_mut() else {
            return;
        };
        let Some(spi) = radio.held.take() else {
            return;
        };
        // Sent now even while the node answers a datagram (`pack` would hold them again).
        let hold = core::mem::replace(&mut radio.hold, false);
        self.pack(spi, None, down);
        if let Some(radio) = self.ccsds.as_mut() {
            radio.hold = hold;
        }
    }

    /// Adds `packet` (if any) under `spi` to the packer, then flushes it unless the node is
    /// answering a radio datagram.
    fn pack(&mut self, spi: u16, packet: Option<&[u8]>, down: &mut impl Downlink) {
        let Some(radio) = self.ccsds.as_mut() else {
            return;
        };
        let clcw = radio.farm.clcw();
        let (engine, persist) = (&mut self.engine, &mut self.persist);
        let (packer, framer, stats, cfg) = (
            &mut radio.packer,
            &mut radio.framer,
            &mut radio.stats,
            radio.cfg,
        );
        // An empty packer takes this association's field length (its suite's overhead);
        // one holding packets holds this association's.
        if !packer.pending() {
            let suite = engine.frame_suite(spi);
            let field = suite.and_then(|s| crate::radio_ccsds::tm_field_len(framer, s));
            if field.is_none_or(|n| packer.set_field_len(n).is_err()) {
                stats.tm_dropped = stats.tm_dropped.wrapping_add(1);
                return;
            }
        }
        let mut sent = false;
        let mut emit = |field: &[u8], fhp: u16| {
            let sa = engine.frame_tx_sa(spi, cfg.tm_channel(), persist);
            send_tm_frame(sa.ok(), framer, stats, field, fhp, clcw.to_bytes(), down);
            sent = true;
        };
        // A packet the node built itself is always whole; counted, never sent cut.
        let cut = packet.is_some_and(|p| packer.add(p, &mut emit).is_err());
        if radio.hold && packer.pending() {
            radio.held = Some(spi);
        } else {
            packer.flush(&mut emit);
        }
        if cut {
            stats.tm_dropped = stats.tm_dropped.wrapping_add(1);
        }
        if sent {
            radio.clcw_sent = Some(clcw);
        }
    }

    /// One TM frame of idle data (under the telemetry association) to bring the CLCW down.
    fn send_idle_frame(&mut self, down: &mut impl Downlink) {
        let spi = self.engine.telemetry_spi();
        let Some(radio) = self.ccsds.as_mut() else {
            return;
        };
        radio.clcw_sent = Some(radio.farm.clcw());
        let clcw = radio.farm.clcw().to_bytes();
        let cfg = radio.cfg;
        let idle = [spacelink::packets::IDLE_BYTE; MAX_TM_FRAME];
        let field_len = self
            .engine
            .frame_suite(spi)
            .and_then(|s| crate::radio_ccsds::tm_field_len(&radio.framer, s))
            .unwrap_or(0);
        let field = idle.get(..field_len).unwrap_or(&[]);
        let sa = self
            .engine
            .frame_tx_sa(spi, cfg.tm_channel(), &mut self.persist);
        send_tm_frame(
            sa.ok(),
            &mut radio.framer,
            &mut radio.stats,
            field,
            FHP_IDLE,
            clcw,
            down,
        );
    }
}

/// Secures one TM data field under `sa` (`None`: no sequence number could be taken), frames it
/// behind the ASM, randomised, and sends it on the radio; counted either way.
fn send_tm_frame(
    sa: Option<SecurityAssociation>,
    framer: &mut spacelink::tm::TmFramer,
    stats: &mut crate::radio_ccsds::CcsdsStats,
    field: &[u8],
    fhp: u16,
    clcw: [u8; 4],
    down: &mut impl Downlink,
) {
    let mut frame = [0u8; MAX_TM_FRAME];
    let mut out = [0u8; MAX_TM_FRAME + spacelink::sync::ASM.len()];
    let frame_len = framer.layout().frame_len;
    let sent = sa.zip(frame.get_mut(..frame_len)).and_then(|(mut sa, f)| {
        let vcid = sa.config().vcid;
        sdls::apply_tm(&mut sa, framer, vcid, field, fhp, Some(clcw), f).ok()?;
        spacelink::sync::frame_into(f, true, &mut out).ok()
    });
    match sent.and_then(|n| out.get(..n)) {
        Some(bytes) => {
            down.send(LinkId::Primary, bytes);
            stats.tm_frames = stats.tm_frames.wrapping_add(1);
        }
        None => stats.tm_dropped = stats.tm_dropped.wrapping_add(1),
    }
}

/// What an accepted TC frame hands up.
enum Up {
    /// The packet at (offset, length) in the frame buffer.
    Frame(usize, usize),
    /// A packet of this length joined from segments.
    Joined(usize),
    /// Nothing (a control command, a segment of a packet under way, a discarded frame).
    Nothing,
}

/// Whether an unsegmented TC frame's data is one whole space packet.
fn one_packet(frame: &tc::TcFrame<'_>) -> Result<(), TcRefusal> {
    match declared_len(frame.data) {
        Some(n) if n == frame.data.len() => Ok(()),
        _ => Err(TcRefusal::NotOnePacket),
    }
}
