//! Everything the node sends down: TM building and protection, verification reports, events,
//! housekeeping of component telemetry, and the periodic failover and authentication events.
//!
//! Avoids: panics (a TM that cannot be built or protected is dropped and counted).

use protocol::{HealthReport, LinkId};

use crate::dedup::Progress;
use crate::pus::event::{self, Event, Severity};
use crate::pus::hk::{self, MAX_REPORT_LEN};
use crate::pus::time::cds_stamp;
use crate::pus::verification::{self, Report};
use crate::pus::{ST_EVENT, ST_HOUSEKEEPING, ST_VERIFICATION};
use crate::sdls::{MAX_DATA_LEN, MAX_UNIT_LEN, StatePersist};

use super::{Ctx, Downlink, Node, Now};

impl<P: StatePersist> Node<P> {
    /// Record the watchdog's latest health report (housekeeping structure 1).
    pub fn on_health(&mut self, report: HealthReport) {
        self.health = Some(report);
    }

    /// Send a component's telemetry down (housekeeping structure 4, under the telemetry
    /// association, on the active link).
    pub fn on_telemetry(&mut self, t: &protocol::Telemetry, now: Now, down: &mut impl Downlink) {
        let mut buf = [0u8; MAX_REPORT_LEN];
        let n = hk::encode_telemetry(t, &mut buf);
        let spi = self.engine.telemetry_spi();
        self.emit(
            spi,
            0,
            ST_HOUSEKEEPING,
            25,
            buf.get(..n).unwrap_or(&[]),
            now,
            down,
        );
    }

    /// Send the boot event (security state restored: floors and next downlink numbers).
    pub fn announce_boot(&mut self, now: Now, down: &mut impl Downlink) {
        let mut aux = [0u8; 1 + 8 * 18];
        let mut n = 1;
        let mut count = 0u8;
        for s in self.engine.statuses() {
            if let Some(d) = aux.get_mut(n..n + 18) {
                d[..2].copy_from_slice(&s.spi.to_be_bytes());
                d[2..10].copy_from_slice(&s.rx_reserved.to_be_bytes());
                d[10..18].copy_from_slice(&s.tx_next.to_be_bytes());
                n += 18;
                count += 1;
            }
        }
        aux[0] = count;
        let ev = Event::new(
            Severity::Informative,
            event::EV_SECURITY_RESTORED,
            aux.get(..n).unwrap_or(&[]),
        );
        self.send_event(&ev, now, down);
    }

    /// Failover, periodic events and the CLCW owed on the CCSDS radio; call regularly.
    pub fn tick(&mut self, now: Now, down: &mut impl Downlink) {
        self.expire_pending(now, down);
        self.send_owed_clcw(now, down);
        if let Some(sw) = self.links.tick(now.mono) {
            let id = |l: LinkId| match l {
                LinkId::Primary => 0u8,
                LinkId::Standby => 1,
            };
            let ev = Event::new(
                Severity::Low,
                event::EV_LINK_FAILOVER,
                &[id(sw.from), id(sw.to), sw.reason as u8],
            );
            self.send_event(&ev, now, down);
        }
        let c = self.engine.counters();
        let refused = c
            .bad_mac
            .wrapping_add(c.unknown_spi)
            .wrapping_add(c.bad_sequence())
            .wrapping_add(c.malformed);
        let new = refused.wrapping_sub(self.refused_reported);
        let due = self.last_auth_event.is_none_or(|t| {
            now.mono.as_micros().saturating_sub(t.as_micros()) / 1000
                >= self.cfg.auth_event_period_ms
        });
        if new > 0 && due {
            let mut aux = [0u8; 16];
            aux[..4].copy_from_slice(&new.to_be_bytes());
            aux[4..8].copy_from_slice(&c.bad_mac.to_be_bytes());
            aux[8..12].copy_from_slice(&c.unknown_spi.to_be_bytes());
            aux[12..16].copy_from_slice(&c.bad_sequence().to_be_bytes());
            let ev = Event::new(Severity::Medium, event::EV_AUTH_FAILURES, &aux);
            self.send_event(&ev, now, down);
            self.refused_reported = refused;
            self.last_auth_event = Some(now.mono);
        }
    }

    pub(super) fn send_event(&mut self, ev: &Event, now: Now, down: &mut impl Downlink) {
        let spi = self.engine.telemetry_spi();
        self.emit(spi, 0, ST_EVENT, ev.severity as u8, ev.source(), now, down);
    }

    /// Build, protect and send one TM. Failures to build or protect drop the TM (counted by the
    /// security engine when persistence fails); nothing here can panic.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit(
        &mut self,
        spi: u16,
        dest: u16,
        service: u8,
        subservice: u8,
        source: &[u8],
        now: Now,
        down: &mut impl Downlink,
    ) {
        // The buffers (this one, and the unit's in `send_packet`) live on the stack only while
        // a TM is built: a partition keeps its node (and its copies in unoptimised builds) small
        // this way.
        if service == ST_EVENT
            && let Some(log) = self.events.as_deref_mut()
        {
            // Every event report goes through here: keep it for the event log (5,128).
            log.record(subservice, source, now.mono);
        }
        let mut tm_buf = [0u8; MAX_DATA_LEN];
        let stamp = cds_stamp(now.mission_us);
        let Ok(n) = self
            .tm
            .write(service, subservice, dest, &stamp, source, &mut tm_buf)
        else {
            return;
        };
        let Some(packet) = tm_buf.get(..n) else {
            return;
        };
        self.send_packet(spi, packet, down);
    }

    pub(super) fn report(&mut self, ctx: &Ctx, r: Report, now: Now, down: &mut impl Downlink) {
        let wanted = match r {
            Report::AcceptanceSuccess => ctx.ack.acceptance(),
            Report::StartSuccess => ctx.ack.start(),
            Report::ProgressSuccess(_) => ctx.ack.progress(),
            Report::CompletionSuccess => ctx.ack.completion(),
            _ => true,
        };
        if !wanted {
            return;
        }
        let mut src = [0u8; verification::MAX_SOURCE_LEN];
        let n = verification::encode(ctx.request, &r, &mut src);
        let outer = self.reply_link.replace(ctx.link);
        self.emit(
            ctx.spi,
            ctx.dest,
            ST_VERIFICATION,
            r.subtype(),
            src.get(..n).unwrap_or(&[]),
            now,
            down,
        );
        self.reply_link = outer;
    }

    pub(super) fn replay(&mut self, ctx: &Ctx, p: Progress, now: Now, down: &mut impl Downlink) {
        self.report(ctx, Report::AcceptanceSuccess, now, down);
        match p {
            Progress::Started => self.report(ctx, Report::StartSuccess, now, down),
            Progress::StartFailed(f) => self.report(ctx, Report::StartFailure(f), now, down),
            Progress::Completed => {
                self.report(ctx, Report::StartSuccess, now, down);
                self.report(ctx, Report::CompletionSuccess, now, down);
            }
            Progress::CompletionFailed(f) => {
                self.report(ctx, Report::StartSuccess, now, down);
                self.report(ctx, Report::CompletionFailure(f), now, down);
            }
        }
    }

    /// Send one space packet that is not a PUS TM (a CFDP PDU the caller wrapped) under
    /// association `spi` on the link of the unit being answered, else the active link. Dropped if it cannot be protected (counted by the
    /// security engine when persistence fails).
    pub fn send_packet(&mut self, spi: u16, packet: &[u8], down: &mut impl Downlink) {
        let link = self.reply_link.unwrap_or_else(|| self.links.active());
        if link == LinkId::Primary && self.ccsds.is_some() {
            self.send_frames(spi, packet, down);
            self.links.on_tx(link);
            return;
        }
        let mut unit_buf = [0u8; MAX_UNIT_LEN];
        if let Ok(len) = self
            .engine
            .protect(spi, packet, &mut unit_buf, &mut self.persist)
            && let Some(unit) = unit_buf.get(..len)
        {
            down.send(link, unit);
            self.links.on_tx(link);
        }
    }
}
