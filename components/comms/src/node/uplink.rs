//! One unit in: SDLS processing (with the set-ARSN resynchronisation and the sequence-refused
//! event), CFDP hand-off, PUS parsing, routing, duplicate check, and dispatch to local,
//! forwarded or admin execution.
//!
//! Avoids: any answer to a forged unit; panics on any input.

use protocol::LinkId;

use crate::dedup::{CommandKey, Progress};
use crate::failure::{Failure, FailureCode};
use crate::link::RxError;
use crate::pus::event::{self, Event, Severity};
use crate::pus::function;
use crate::pus::tc::{self, Ack, Telecommand};
use crate::pus::verification::Report;
use crate::pus::{ST_EVENT, ST_SECURITY};
use crate::router::{Forward, Route};
use crate::sdls::engine::HEADER_LEN;
use crate::sdls::mac::MAC_LEN;
use crate::sdls::{StatePersist, UplinkReject};

use super::{Ctx, Downlink, Forwarder, Node, Now, UnitOutcome, admin};

impl<P: StatePersist> Node<P> {
    /// Note a frame dropped on the standby link's PPP framing (bad FCS).
    pub fn on_framing_error(&mut self, link: LinkId, now: Now) {
        self.links.on_rx_error(link, RxError::Crc, now.mono);
    }

    /// Handle one unit received on `link`. Whatever the node answers to it (verification
    /// reports, the sequence-refused event, failures) goes out on that same link, whichever link
    /// is active: a ground on the standby line gets its answers there, and a ground back on the
    /// radio after a reboot learns the new floor on the radio.
    pub fn on_unit(
        &mut self,
        link: LinkId,
        unit: &[u8],
        now: Now,
        fwd: &mut impl Forwarder,
        down: &mut impl Downlink,
    ) -> UnitOutcome {
        let outer = self.reply_link.replace(link);
        let outcome = self.handle_unit(link, unit, now, fwd, down);
        self.reply_link = outer;
        outcome
    }

    fn handle_unit(
        &mut self,
        link: LinkId,
        unit: &[u8],
        now: Now,
        fwd: &mut impl Forwarder,
        down: &mut impl Downlink,
    ) -> UnitOutcome {
        let processed = if self.recovery.is_some() {
            self.engine.authenticate_only(unit, &mut self.persist)
        } else if self.unit_is_set_arsn(unit) {
            self.engine.process_resync(unit, &mut self.persist)
        } else {
            self.engine.process(unit, &mut self.persist)
        };
        let verified = match processed {
            Ok(v) => v,
            Err(e) => {
                self.security_refused(link, e, now, down);
                return UnitOutcome::Refused(e);
            }
        };
        self.deliver(link, unit, verified, now, fwd, down)
    }

    /// A unit or frame the security layer refused on `link`: counted against the link (never
    /// moving its state), and, for an authenticated one refused for its sequence number, the
    /// rate-limited event 0x0007. No other answer.
    pub(super) fn security_refused(
        &mut self,
        link: LinkId,
        e: UplinkReject,
        now: Now,
        down: &mut impl Downlink,
    ) {
        let kind = match e {
            UplinkReject::Replay { spi, arsn } => {
                self.sequence_refused(spi, arsn, false, now, down);
                RxError::Duplicate
            }
            UplinkReject::OutsideWindow { spi, arsn } => {
                self.sequence_refused(spi, arsn, true, now, down);
                RxError::Duplicate
            }
            UplinkReject::Malformed { .. } | UplinkReject::UnknownSpi(_) => {
                RxError::Unauthenticated
            }
            _ => RxError::Auth,
        };
        self.links.on_rx_error(link, kind, now.mono);
    }

    /// Everything after security for one authenticated packet (`verified.data`, inside
    /// `unit`: a unit, or a TC frame's buffer on the CCSDS radio): link health, CFDP hand-off,
    /// PUS parsing and the command.
    pub(super) fn deliver(
        &mut self,
        link: LinkId,
        unit: &[u8],
        verified: crate::sdls::Verified<'_>,
        now: Now,
        fwd: &mut impl Forwarder,
        down: &mut impl Downlink,
    ) -> UnitOutcome {
        self.links.on_rx_ok(link, now.mono);
        if let crate::sdls::window::SeqVerdict::Gap { skipped } = verified.verdict {
            self.links.on_gap(link, skipped, now.mono);
        }
        // Re-evaluate failover now: if the downlink sat on a link that is down (the standby after
        // a silent primary) and this link just came back, the answer to this very command must
        // already go out on it.
        self.tick(now, down);
        let spi = verified.spi;
        if let Some(outcome) = cfdp_outcome(unit, spi, verified.permissions, verified.data) {
            if self.recovery.is_some() {
                return UnitOutcome::Rejected(Failure::new(FailureCode::LinkRecoveryOnly));
            }
            return outcome;
        }
        let tc = match tc::parse(verified.data, self.cfg.apid) {
            Ok(tc) => tc,
            Err(refusal) => {
                match refusal.request_id {
                    Some(request) => {
                        let ctx = Ctx {
                            spi,
                            request,
                            dest: 0,
                            ack: Ack::NONE,
                            at: now.mono,
                            link,
                        };
                        self.report(&ctx, Report::AcceptanceFailure(refusal.failure), now, down);
                    }
                    None => {
                        let len = (verified.data.len() as u16).to_be_bytes();
                        let ev = Event::new(Severity::Low, event::EV_UNPARSEABLE_TC, &len);
                        self.emit(spi, 0, ST_EVENT, ev.severity as u8, ev.source(), now, down);
                    }
                }
                return UnitOutcome::BadPacket(refusal.failure);
            }
        };
        self.on_command(spi, verified.permissions, &tc, now, fwd, down)
    }

    /// Whether `unit` carries TC 130,3 naming the unit's own SPI and ARSN
    /// ([`Node::is_set_arsn`]). Looked at before authentication only to pick
    /// [`crate::sdls::engine::SecurityEngine::process_resync`], which still verifies the MAC
    /// first and refuses replays.
    fn unit_is_set_arsn(&self, unit: &[u8]) -> bool {
        let (Some(header), Some(data)) = (
            unit.get(..HEADER_LEN),
            unit.get(HEADER_LEN..unit.len().saturating_sub(MAC_LEN)),
        ) else {
            return false;
        };
        let spi = u16::from_be_bytes([header[0], header[1]]);
        let mut arsn = [0u8; 8];
        arsn.copy_from_slice(&header[2..HEADER_LEN]);
        self.is_set_arsn(spi, u64::from_be_bytes(arsn), data)
    }

    /// Whether `packet`, received under association `spi` with sequence number `arsn` (a
    /// unit's or a TC frame's), is TC 130,3 naming that very SPI and number, under an
    /// association that may manage keys (the permission 130,3 needs: one without it does not
    /// get its window moved either). Only then may the number be beyond the window.
    pub(super) fn is_set_arsn(&self, spi: u16, arsn: u64, packet: &[u8]) -> bool {
        let Ok(tc) = tc::parse(packet, self.cfg.apid) else {
            return false;
        };
        tc.service == ST_SECURITY
            && tc.subservice == 3
            && function::decode_floor(tc.app_data) == Ok((spi, arsn))
            && self.engine.status(spi).is_some_and(|s| {
                s.permissions
                    .contains(crate::sdls::Permissions::KEY_MANAGEMENT)
            })
    }

    /// Event 0x0007 for an authenticated unit refused for its sequence number, under the SPI
    /// it came on, at most once per [`event::SEQUENCE_EVENT_INTERVAL_MS`].
    pub(super) fn sequence_refused(
        &mut self,
        spi: u16,
        arsn: u64,
        beyond: bool,
        now: Now,
        down: &mut impl Downlink,
    ) {
        let due = self.last_sequence_event.is_none_or(|t| {
            now.mono.as_micros().saturating_sub(t.as_micros()) / 1000
                >= event::SEQUENCE_EVENT_INTERVAL_MS
        });
        let Some(sa) = self.engine.status(spi).filter(|_| due) else {
            return;
        };
        self.last_sequence_event = Some(now.mono);
        let mut aux = [0u8; 27];
        aux[..2].copy_from_slice(&spi.to_be_bytes());
        aux[2..10].copy_from_slice(&arsn.to_be_bytes());
        aux[10..18].copy_from_slice(&sa.rx_last.to_be_bytes());
        aux[18..26].copy_from_slice(&sa.rx_window.to_be_bytes());
        aux[26] = u8::from(beyond);
        let ev = Event::new(Severity::Low, event::EV_SEQUENCE_REFUSED, &aux);
        self.emit(spi, 0, ST_EVENT, ev.severity as u8, ev.source(), now, down);
    }

    pub(super) fn on_command(
        &mut self,
        spi: u16,
        permissions: crate::sdls::Permissions,
        tc: &Telecommand<'_>,
        now: Now,
        fwd: &mut impl Forwarder,
        down: &mut impl Downlink,
    ) -> UnitOutcome {
        let ctx = Ctx {
            spi,
            request: tc.request_id,
            dest: tc.source_id,
            ack: tc.ack,
            at: now.mono,
            link: self.reply_link.unwrap_or_else(|| self.links.active()),
        };
        let refuse = |node: &mut Self, f: Failure, down: &mut _| {
            node.report(&ctx, Report::AcceptanceFailure(f), now, down);
            UnitOutcome::Rejected(f)
        };
        if let Err(f) = self.recovery_admits(tc) {
            return refuse(self, f, down);
        }
        let route = match self.routes.route(tc, permissions) {
            Ok(r) => r,
            Err(f) => return refuse(self, f, down),
        };
        let key = CommandKey::of(spi, tc);
        if let Some(p) = self.dedup.lookup(&key) {
            self.replay(&ctx, p, now, down);
            return UnitOutcome::Duplicate;
        }
        let progress = match route {
            Route::Local(local) => match self.run_local(local, tc, &ctx, now, down) {
                Ok(p) => p,
                Err(f) => return refuse(self, f, down),
            },
            Route::Channel {
                channel,
                forward: forward @ (Forward::LeaveSafeMode | Forward::Reboot),
            } => match self.node_command(&ctx, channel, forward, tc, now, fwd, down) {
                Ok(p) => p,
                Err(f) => return refuse(self, f, down),
            },
            Route::Channel { channel, forward } if admin::is_admin(forward) => {
                match self.admin_command(key, &ctx, channel, forward, tc, now, fwd, down) {
                    Ok(p) => p,
                    Err(f) => return refuse(self, f, down),
                }
            }
            Route::Channel { channel, forward } => {
                if forward == Forward::SignChunk && self.signer_down {
                    return refuse(self, Failure::new(FailureCode::SignerDown), down);
                }
                let chunk = match function::split(tc.app_data)
                    .and_then(|(_, args)| function::decode_chunk(args))
                {
                    Ok(c) => c,
                    Err(f) => return refuse(self, f, down),
                };
                self.report(&ctx, Report::AcceptanceSuccess, now, down);
                let p = self.forward(key, &ctx, channel, forward, &chunk, fwd);
                match p {
                    Progress::StartFailed(f) => {
                        self.report(&ctx, Report::StartFailure(f), now, down)
                    }
                    _ => self.report(&ctx, Report::StartSuccess, now, down),
                }
                p
            }
        };
        self.dedup.record(key, progress);
        UnitOutcome::Ran(progress)
    }
}

/// [`UnitOutcome::Cfdp`] (or its refusal) if the verified `data` of `unit` is a CFDP packet.
fn cfdp_outcome(
    unit: &[u8],
    spi: u16,
    permissions: crate::sdls::Permissions,
    data: &[u8],
) -> Option<UnitOutcome> {
    let apid = match data {
        [a, b, ..] => u16::from(a & 0x07) << 8 | u16::from(*b),
        _ => return None,
    };
    if apid != crate::cfdp::CFDP_APID {
        return None;
    }
    if !permissions.contains(crate::sdls::Permissions::SIGN) {
        return Some(UnitOutcome::Rejected(Failure::with(
            FailureCode::Unauthorised,
            u32::from(spi),
        )));
    }
    // The packet lies inside `unit` (after a unit's SDLS header, or a TC frame's headers).
    let start = (data.as_ptr() as usize).checked_sub(unit.as_ptr() as usize)?;
    let same = unit
        .get(start..start + data.len())
        .is_some_and(|p| core::ptr::eq(p, data));
    same.then_some(UnitOutcome::Cfdp {
        spi,
        start,
        len: data.len(),
    })
}
