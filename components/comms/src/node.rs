//! The node side of comms: one received unit in, telemetry units and forwarded messages out.
//!
//! For each unit from either link ([`Node::on_unit`]):
//!
//! 1. SDLS ProcessSecurity ([`crate::sdls`]): refused units are counted and get **no** answer,
//!    except that an *authenticated* unit refused for its sequence number (replayed, old, or
//!    beyond the window) raises event 0x0007 under its association, rate-limited, so the
//!    ground learns that the node refuses its sequence numbers instead of guessing. A unit
//!    carrying TC 130,3 (set ARSN) for its own SPI and ARSN is processed with
//!    [`SecurityEngine::process_resync`]: accepted beyond the window (the operator's
//!    authenticated resynchronisation, `spacenode ground resync`).
//! 2. PUS-C TC parsing ([`crate::pus::tc`]): a refusal gets 1,2 with its failure code (or, with no
//!    readable request ID, event 0x0006).
//! 3. Routing and authorisation ([`crate::router`]): a refusal gets 1,2.
//! 4. Duplicate check ([`crate::dedup`]): a command seen before does not run again; its recorded
//!    reports (1,1, 1,3/1,4, 1,7/1,8) are sent again.
//! 5. Argument decoding: a refusal gets 1,2. Then 1,1 (if the acceptance flag asks for it).
//! 6. Execution: local commands (17,1 → 17,2; 3,27 → 3,25; 130,x) report 1,3 and 1,7/1,8 at once;
//!    forwarded commands go to the one channel the routing table gives through the caller's
//!    [`Forwarder`], report 1,3 (or 1,4 if the ring is full), and complete (1,7/1,8) when the
//!    component answers ([`Node::on_sign_response`], [`Node::on_upgrade_status`]).
//!
//! "Leave safe mode" (8,1 function 0x0010) is handled in `node/control.rs`: refused unless
//! the watchdog's last report says safe mode, then one `node-command` to the watchdog.
//!
//! Admin functions (chunked admin envelopes, xpub exports: [`crate::admin`]) are handled in
//! `node/admin.rs`: reassembly in the staging buffer the [`Forwarder`] lends, one
//! `admin-request` forwarded, completion and TM\[8,128\] on [`Node::on_admin_response`].
//!
//! Success reports follow the TC's acknowledgement flags; failure reports are always sent.
//! Every TM goes out under the association that carried the command (unsolicited TM under the
//! telemetry association), through the caller's [`Downlink`] on the active link.
//!
//! Avoids: OS calls, blocking, heap; the caller owns the links, the channels and the clock.

mod admin;
mod control;

use hal::time::Instant;
use protocol::{
    AdminRequest, HealthReport, LinkId, NodeCommand, SignRequest, SignResponse, SignStatus,
    UpgradeChunk, UpgradeError, UpgradeState, UpgradeStatus,
};

use crate::dedup::{CommandKey, DedupCache, Progress};
use crate::failure::{Failure, FailureCode};
use crate::link::{FailoverConfig, LinkManager, RxError};
use crate::pus::event::{self, Event, Severity};
use crate::pus::function::{self, Chunk};
use crate::pus::hk::{self, MAX_REPORT_LEN};
use crate::pus::hk_upgrade;
use crate::pus::tc::{self, Ack, RequestId, Telecommand};
use crate::pus::time::cds_stamp;
use crate::pus::tm::TmWriter;
use crate::pus::verification::{self, Report};
use crate::pus::{ST_EVENT, ST_HOUSEKEEPING, ST_SECURITY, ST_TEST, ST_VERIFICATION};
use crate::router::{Forward, Local, Route, RouteTable};
use crate::sdls::engine::{BootError, HEADER_LEN, ManageError};
use crate::sdls::mac::MAC_LEN;
use crate::sdls::{
    MAX_DATA_LEN, MAX_UNIT_LEN, Provisioning, SecurityEngine, StatePersist, UplinkReject,
};

/// The node's APID on the sim board and in the ground tool's default (PUS-C, 11 bits).
pub const DEFAULT_APID: u16 = 0x0A0;

/// Forwarded commands awaiting their completion at once.
pub const MAX_PENDING: usize = 16;
/// A forwarded command whose component has not answered for this long fails with
/// [`FailureCode::NoAnswer`] and frees its slot: a component that restarted lost it, and the
/// slots must not fill up for good (comms would then refuse every forwarded command as `Busy`).
/// Well above the longest answer the signer gives (a whole batch checked between two chunks).
pub const PENDING_TIMEOUT_S: u64 = 120;

/// The time of an event: monotonic (for link timing) and mission time (for TM stamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic clock.
    pub mono: Instant,
    /// Mission time, µs since 1970, if known.
    pub mission_us: Option<u64>,
}

/// A message for a component channel.
#[derive(Debug, Clone, Copy)]
pub enum Outbound<'a> {
    /// For the signer.
    Sign(&'a SignRequest),
    /// For the upgrade agent.
    Upgrade(&'a UpgradeChunk),
    /// For the signer's registry administration.
    Admin(&'a AdminRequest),
    /// For the watchdog.
    Node(&'a NodeCommand),
}

/// Why a forward failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardError {
    /// The ring is full (retry later).
    Full,
    /// Anything else.
    Failed,
}

/// The component channels comms holds (the caller maps channel indices to `ipc` producers).
pub trait Forwarder {
    /// Send `msg` on channel `channel`.
    fn forward(&mut self, channel: usize, msg: Outbound<'_>) -> Result<(), ForwardError>;

    /// The staging buffer a chunked admin envelope is reassembled in (at least
    /// `protocol::ADMIN_COMMAND_MAX` bytes, static memory of the partition, kept between calls).
    /// `None` (the default): admin envelopes are refused with `AdminTooLarge`.
    fn admin_staging(&mut self) -> Option<&mut [u8]> {
        None
    }
}

/// The active link's transmitter.
pub trait Downlink {
    /// Send one secured unit on `link`.
    fn send(&mut self, link: LinkId, unit: &[u8]);
}

/// What became of one received unit (for tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitOutcome {
    /// Refused by the security layer; nothing was sent.
    Refused(UplinkReject),
    /// Authenticated but not a usable TC; refused with this failure (1,2 or event).
    BadPacket(Failure),
    /// Refused by routing or argument checks (1,2).
    Rejected(Failure),
    /// A duplicate: reports sent again, nothing ran.
    Duplicate,
    /// Ran (or was forwarded) with this progress.
    Ran(Progress),
    /// An authenticated CFDP packet ([`crate::cfdp::CFDP_APID`]) under association `spi`, which
    /// may send batches: `unit[start..start + len]` is the space packet, for the caller's CFDP
    /// entity ([`Node::on_unit`] does not run CFDP itself). From an association without the
    /// sign permission it is [`UnitOutcome::Rejected`] (`Unauthorised`) instead, unanswered.
    Cfdp {
        /// The association that carried it (answers go down under it).
        spi: u16,
        /// Offset of the packet in the unit.
        start: usize,
        /// Length of the packet.
        len: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Sign { batch: u64, index: u32 },
    Upgrade { bundle: u64, index: u32 },
    Admin { token: u32 },
}

#[derive(Debug, Clone, Copy)]
struct Ctx {
    spi: u16,
    request: RequestId,
    dest: u16,
    ack: Ack,
    /// When the command arrived.
    at: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    key: CommandKey,
    ctx: Ctx,
    waiting: Waiting,
    since: Instant,
}

/// Node configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeConfig {
    /// The node's APID.
    pub apid: u16,
    /// Anti-replay reservation block.
    pub reserve_block: u64,
    /// Failover tuning.
    pub failover: FailoverConfig,
    /// At most one authentication-failure event per this period.
    pub auth_event_period_ms: u64,
}

/// Why the node could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NodeError<E: core::fmt::Debug> {
    /// APID out of range.
    #[error("APID {0:#x} out of range")]
    BadApid(u16),
    /// The security engine could not start.
    #[error("security: {0}")]
    Security(BootError<E>),
}

/// The comms logic of the node.
pub struct Node<P: StatePersist> {
    cfg: NodeConfig,
    engine: SecurityEngine,
    persist: P,
    routes: RouteTable,
    dedup: DedupCache,
    tm: TmWriter,
    links: LinkManager,
    health: Option<HealthReport>,
    upgrade: Option<UpgradeStatus>,
    pending: [Option<Pending>; MAX_PENDING],
    refused_reported: u32,
    last_auth_event: Option<Instant>,
    last_sequence_event: Option<Instant>,
    admin: crate::admin::Assembly,
    admin_token: u32,
}

/// The routing token comms puts in every `sign-request` of batch `batch`.
pub const fn sign_token(batch: u64) -> u32 {
    (batch as u32) ^ ((batch >> 32) as u32)
}

impl<P: StatePersist> Node<P> {
    /// Start: security state from `persist`, routes from the description.
    pub fn boot(
        cfg: NodeConfig,
        provisioning: &Provisioning,
        mut persist: P,
        routes: RouteTable,
    ) -> Result<Self, NodeError<P::Error>> {
        let tm = TmWriter::new(cfg.apid).map_err(|_| NodeError::BadApid(cfg.apid))?;
        let engine = SecurityEngine::boot(provisioning, &mut persist, cfg.reserve_block)
            .map_err(NodeError::Security)?;
        Ok(Node {
            cfg,
            engine,
            persist,
            routes,
            dedup: DedupCache::default(),
            tm,
            links: LinkManager::new(cfg.failover),
            health: None,
            upgrade: None,
            pending: [None; MAX_PENDING],
            refused_reported: 0,
            last_auth_event: None,
            last_sequence_event: None,
            admin: crate::admin::Assembly::default(),
            admin_token: 0,
        })
    }

    /// The security engine (counters, association states).
    pub fn security(&self) -> &SecurityEngine {
        &self.engine
    }

    /// The link manager.
    pub fn links(&self) -> &LinkManager {
        &self.links
    }

    /// The persistence backend.
    pub fn persist_mut(&mut self) -> &mut P {
        &mut self.persist
    }

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

    /// Note a frame dropped by the standby link's HDLC decoder (bad FCS or framing).
    pub fn on_framing_error(&mut self, link: LinkId, now: Now) {
        self.links.on_rx_error(link, RxError::Crc, now.mono);
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

    /// Failover and periodic events; call regularly.
    pub fn tick(&mut self, now: Now, down: &mut impl Downlink) {
        self.expire_pending(now, down);
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

    /// Fails the forwarded commands whose component has not answered for
    /// [`PENDING_TIMEOUT_S`] (1,8 `NoAnswer`, recorded for duplicates) and frees their slots.
    fn expire_pending(&mut self, now: Now, down: &mut impl Downlink) {
        for i in 0..MAX_PENDING {
            let Some(p) = self.pending.get(i).copied().flatten() else {
                continue;
            };
            let waited_s = now.mono.as_micros().saturating_sub(p.since.as_micros()) / 1_000_000;
            if waited_s < PENDING_TIMEOUT_S {
                continue;
            }
            if let Some(s) = self.pending.get_mut(i) {
                *s = None;
            }
            let f = Failure::with(
                FailureCode::NoAnswer,
                u32::try_from(waited_s).unwrap_or(u32::MAX),
            );
            self.report(&p.ctx, Report::CompletionFailure(f), now, down);
            self.dedup.record(p.key, Progress::CompletionFailed(f));
        }
    }

    fn send_event(&mut self, ev: &Event, now: Now, down: &mut impl Downlink) {
        let spi = self.engine.telemetry_spi();
        self.emit(spi, 0, ST_EVENT, ev.severity as u8, ev.source(), now, down);
    }

    /// Build, protect and send one TM. Failures to build or protect drop the TM (counted by the
    /// security engine when persistence fails); nothing here can panic.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        spi: u16,
        dest: u16,
        service: u8,
        subservice: u8,
        source: &[u8],
        now: Now,
        down: &mut impl Downlink,
    ) {
        // The two buffers live on the stack only while a TM is built: a partition keeps its
        // node (and its copies in unoptimised builds) small this way.
        let mut tm_buf = [0u8; MAX_DATA_LEN];
        let mut unit_buf = [0u8; MAX_UNIT_LEN];
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
        if let Ok(len) = self
            .engine
            .protect(spi, packet, &mut unit_buf, &mut self.persist)
            && let Some(unit) = unit_buf.get(..len)
        {
            let link = self.links.active();
            down.send(link, unit);
            self.links.on_tx(link);
        }
    }

    fn report(&mut self, ctx: &Ctx, r: Report, now: Now, down: &mut impl Downlink) {
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
        self.emit(
            ctx.spi,
            ctx.dest,
            ST_VERIFICATION,
            r.subtype(),
            src.get(..n).unwrap_or(&[]),
            now,
            down,
        );
    }

    fn replay(&mut self, ctx: &Ctx, p: Progress, now: Now, down: &mut impl Downlink) {
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

    /// Handle one unit received on `link`.
    pub fn on_unit(
        &mut self,
        link: LinkId,
        unit: &[u8],
        now: Now,
        fwd: &mut impl Forwarder,
        down: &mut impl Downlink,
    ) -> UnitOutcome {
        let processed = if self.is_set_arsn(unit) {
            self.engine.process_resync(unit, &mut self.persist)
        } else {
            self.engine.process(unit, &mut self.persist)
        };
        let verified = match processed {
            Ok(v) => v,
            Err(e) => {
                let kind = match e {
                    UplinkReject::Replay { spi, arsn } => {
                        self.sequence_refused(spi, arsn, false, now, down);
                        RxError::Duplicate
                    }
                    UplinkReject::OutsideWindow { spi, arsn } => {
                        self.sequence_refused(spi, arsn, true, now, down);
                        RxError::Duplicate
                    }
                    _ => RxError::Auth,
                };
                self.links.on_rx_error(link, kind, now.mono);
                return UnitOutcome::Refused(e);
            }
        };
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

    /// Whether `unit` carries TC 130,3 naming the unit's own SPI and ARSN, under an association
    /// that may manage keys (the permission 130,3 needs: one without it does not get its
    /// window moved either). Looked at before authentication only to pick
    /// [`SecurityEngine::process_resync`], which still verifies the MAC first and refuses
    /// replays.
    fn is_set_arsn(&self, unit: &[u8]) -> bool {
        let (Some(header), Some(data)) = (
            unit.get(..HEADER_LEN),
            unit.get(HEADER_LEN..unit.len().saturating_sub(MAC_LEN)),
        ) else {
            return false;
        };
        let Ok(tc) = tc::parse(data, self.cfg.apid) else {
            return false;
        };
        tc.service == ST_SECURITY
            && tc.subservice == 3
            && function::decode_floor(tc.app_data).is_ok_and(|(spi, arsn)| {
                header[..2] == spi.to_be_bytes()
                    && header[2..] == arsn.to_be_bytes()
                    && self.engine.status(spi).is_some_and(|s| {
                        s.permissions
                            .contains(crate::sdls::Permissions::KEY_MANAGEMENT)
                    })
            })
    }

    /// Event 0x0007 for an authenticated unit refused for its sequence number, under the SPI
    /// it came on, at most once per [`event::SEQUENCE_EVENT_INTERVAL_MS`].
    fn sequence_refused(
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

    fn on_command(
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
        };
        let refuse = |node: &mut Self, f: Failure, down: &mut _| {
            node.report(&ctx, Report::AcceptanceFailure(f), now, down);
            UnitOutcome::Rejected(f)
        };
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
                forward: Forward::LeaveSafeMode,
            } => match self.leave_safe_mode(&ctx, channel, tc, now, fwd, down) {
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

    fn forward(
        &mut self,
        key: CommandKey,
        ctx: &Ctx,
        channel: usize,
        forward: Forward,
        chunk: &Chunk<'_>,
        fwd: &mut impl Forwarder,
    ) -> Progress {
        let Some(slot) = self.pending.iter().position(Option::is_none) else {
            return Progress::StartFailed(Failure::new(FailureCode::Busy));
        };
        let sent = match forward {
            Forward::SignChunk => function::sign_request(chunk, sign_token(chunk.id)).map(|m| {
                (
                    fwd.forward(channel, Outbound::Sign(&m)),
                    Waiting::Sign {
                        batch: chunk.id,
                        index: chunk.position.index,
                    },
                )
            }),
            Forward::UpgradeChunk => function::upgrade_chunk(chunk).map(|m| {
                (
                    fwd.forward(channel, Outbound::Upgrade(&m)),
                    Waiting::Upgrade {
                        bundle: chunk.id,
                        index: chunk.position.index,
                    },
                )
            }),
            // Handled by `admin_command` and `leave_safe_mode`; never routed here.
            Forward::AdminChunk
            | Forward::ExportServer
            | Forward::ExportAccount
            | Forward::LeaveSafeMode => {
                Err(Failure::with(FailureCode::ChannelError, channel as u32))
            }
        };
        let ch = channel as u32;
        match sent {
            Err(f) => Progress::StartFailed(f),
            Ok((Err(ForwardError::Full), _)) => {
                Progress::StartFailed(Failure::with(FailureCode::ChannelFull, ch))
            }
            Ok((Err(ForwardError::Failed), _)) => {
                Progress::StartFailed(Failure::with(FailureCode::ChannelError, ch))
            }
            Ok((Ok(()), waiting)) => {
                if let Some(s) = self.pending.get_mut(slot) {
                    *s = Some(Pending {
                        key,
                        ctx: *ctx,
                        waiting,
                        since: ctx.at,
                    });
                }
                Progress::Started
            }
        }
    }

    fn run_local(
        &mut self,
        local: Local,
        tc: &Telecommand<'_>,
        ctx: &Ctx,
        now: Now,
        down: &mut impl Downlink,
    ) -> Result<Progress, Failure> {
        // Decode arguments before acceptance.
        enum Args {
            Ping,
            Hk(hk::Request),
            Rotate(u16, u32),
            Floor(u16, u64),
            SetArsn(u16, u64),
        }
        let args = match local {
            Local::Ping if tc.app_data.is_empty() => Args::Ping,
            Local::Ping => {
                return Err(Failure::with(
                    FailureCode::BadAppData,
                    tc.app_data.len() as u32,
                ));
            }
            Local::Housekeeping => Args::Hk(hk::parse_request(tc.app_data)?),
            Local::RotateKey => {
                let (s, e) = function::decode_rotate(tc.app_data)?;
                Args::Rotate(s, e)
            }
            Local::RaiseFloor => {
                let (s, f) = function::decode_floor(tc.app_data)?;
                Args::Floor(s, f)
            }
            Local::SetArsn => {
                let (s, a) = function::decode_floor(tc.app_data)?;
                Args::SetArsn(s, a)
            }
        };
        self.report(ctx, Report::AcceptanceSuccess, now, down);
        self.report(ctx, Report::StartSuccess, now, down);
        let result: Result<(), Failure> = match args {
            Args::Ping => {
                self.emit(ctx.spi, ctx.dest, ST_TEST, 2, &[], now, down);
                Ok(())
            }
            Args::Hk(req) => {
                let mut r = Ok(());
                for &sid in req.ids() {
                    let mut buf = [0u8; MAX_REPORT_LEN];
                    let n = match sid {
                        hk_upgrade::SID_UPGRADE => match &self.upgrade {
                            Some(u) => {
                                let b = hk_upgrade::encode(u);
                                buf[..b.len()].copy_from_slice(&b);
                                b.len()
                            }
                            None => {
                                r = Err(Failure::with(FailureCode::NoData, u32::from(sid)));
                                continue;
                            }
                        },
                        hk::SID_HEALTH => match &self.health {
                            Some(h) => hk::encode_health(h, &mut buf),
                            None => {
                                r = Err(Failure::with(FailureCode::NoData, u32::from(sid)));
                                continue;
                            }
                        },
                        hk::SID_LINKS => {
                            let l = [
                                self.links.status(LinkId::Primary, now.mono),
                                self.links.status(LinkId::Standby, now.mono),
                            ];
                            hk::encode_links(
                                self.links.active(),
                                self.links.failovers(),
                                &l,
                                [
                                    self.links.gaps(LinkId::Primary),
                                    self.links.gaps(LinkId::Standby),
                                ],
                                &mut buf,
                            )
                        }
                        _ => hk::encode_security(
                            &self.engine.counters(),
                            self.engine.statuses(),
                            &mut buf,
                        ),
                    };
                    let src = buf;
                    self.emit(
                        ctx.spi,
                        ctx.dest,
                        ST_HOUSEKEEPING,
                        25,
                        src.get(..n).unwrap_or(&[]),
                        now,
                        down,
                    );
                }
                r
            }
            Args::Rotate(spi, epoch) => self
                .engine
                .rotate_key(spi, epoch, &mut self.persist)
                .map_err(manage_failure)
                .map(|()| {
                    let mut aux = [0u8; 6];
                    aux[..2].copy_from_slice(&spi.to_be_bytes());
                    aux[2..].copy_from_slice(&epoch.to_be_bytes());
                    let ev = Event::new(Severity::Informative, event::EV_KEY_ROTATED, &aux);
                    self.send_event(&ev, now, down);
                }),
            Args::Floor(spi, floor) => self
                .engine
                .raise_floor(spi, floor, &mut self.persist)
                .map_err(manage_failure)
                .map(|()| {
                    let mut aux = [0u8; 10];
                    aux[..2].copy_from_slice(&spi.to_be_bytes());
                    aux[2..].copy_from_slice(&floor.to_be_bytes());
                    let ev = Event::new(Severity::Informative, event::EV_FLOOR_RAISED, &aux);
                    self.send_event(&ev, now, down);
                }),
            // The unit that carried it already moved the window ([`Node::is_set_arsn`]); a
            // 130,3 naming another association or a number the window has not reached is a
            // mistake of the sender and changes nothing.
            Args::SetArsn(spi, arsn) => match self.engine.status(spi) {
                Some(sa) if spi == ctx.spi && sa.rx_last >= arsn => {
                    let mut aux = [0u8; 10];
                    aux[..2].copy_from_slice(&spi.to_be_bytes());
                    aux[2..].copy_from_slice(&arsn.to_be_bytes());
                    let ev = Event::new(Severity::Informative, event::EV_FLOOR_RAISED, &aux);
                    self.send_event(&ev, now, down);
                    Ok(())
                }
                _ => Err(Failure::with(FailureCode::BadAppData, u32::from(spi))),
            },
        };
        Ok(match result {
            Ok(()) => {
                self.report(ctx, Report::CompletionSuccess, now, down);
                Progress::Completed
            }
            Err(f) => {
                self.report(ctx, Report::CompletionFailure(f), now, down);
                Progress::CompletionFailed(f)
            }
        })
    }

    fn complete(
        &mut self,
        matches: impl Fn(&Waiting) -> bool,
        result: Result<(), Failure>,
        now: Now,
        down: &mut impl Downlink,
    ) {
        for i in 0..MAX_PENDING {
            let Some(p) = self.pending.get(i).copied().flatten() else {
                continue;
            };
            if !matches(&p.waiting) {
                continue;
            }
            if let Some(s) = self.pending.get_mut(i) {
                *s = None;
            }
            let progress = match result {
                Ok(()) => {
                    self.report(&p.ctx, Report::CompletionSuccess, now, down);
                    Progress::Completed
                }
                Err(f) => {
                    self.report(&p.ctx, Report::CompletionFailure(f), now, down);
                    Progress::CompletionFailed(f)
                }
            };
            self.dedup.record(p.key, progress);
        }
    }

    /// A `sign-response` arrived: complete the sign chunk commands it answers. A refusal of a
    /// batch the signer examined carries the signer's signed receipt; a certificate refusal is
    /// reported with its precise code (0x1101-0x1109), anything else with the coarse reason.
    pub fn on_sign_response(&mut self, r: &SignResponse, now: Now, down: &mut impl Downlink) {
        let batch = r.batch_id;
        match r.status {
            SignStatus::Accepted => {
                let index = r.position.index;
                self.complete(|w| *w == Waiting::Sign { batch, index }, Ok(()), now, down);
            }
            SignStatus::Signed => self.complete(
                |w| matches!(w, Waiting::Sign { batch: b, .. } if *b == batch),
                Ok(()),
                now,
                down,
            ),
            SignStatus::Rejected { reason } => self.complete(
                |w| matches!(w, Waiting::Sign { batch: b, .. } if *b == batch),
                Err(Failure::new(FailureCode::from_sign_rejection(
                    reason,
                    receipt_cert_code(r.data.as_slice()),
                ))),
                now,
                down,
            ),
        }
    }

    /// An `upgrade-status` arrived: send it down (housekeeping structure 5, under the telemetry
    /// association, so the ground learns the next message the agent needs and the outcome of
    /// a trial), keep it for 3,27 requests, and complete the upgrade chunk commands it answers:
    /// the message named in `answers` (kept or dropped by the agent, so a window of messages
    /// never fills comms' pending slots), and every message it took (before `next_chunk`, or
    /// held ahead of it), whose own answer may have been lost.
    pub fn on_upgrade_status(&mut self, s: &UpgradeStatus, now: Now, down: &mut impl Downlink) {
        self.upgrade = Some(*s);
        let spi = self.engine.telemetry_spi();
        self.emit(
            spi,
            0,
            ST_HOUSEKEEPING,
            25,
            &hk_upgrade::encode(s),
            now,
            down,
        );
        let bundle = s.bundle_id;
        // The message this status answers: failed with the refusal, or completed.
        if s.answers != UpgradeStatus::UNSOLICITED {
            let index = s.answers;
            let result = match s.state {
                UpgradeState::Failed { reason } => {
                    Err(Failure::new(FailureCode::from_upgrade_error(reason)))
                }
                _ => Ok(()),
            };
            self.complete(
                |w| matches!(w, Waiting::Upgrade { bundle: b, index: i } if *b == bundle && *i == index),
                result,
                now,
                down,
            );
        }
        // A refusal of the bundle fails every message of it still waiting; otherwise the ones
        // the agent took (before the next it needs, or held ahead of it) are complete, in case
        // their own answers were lost.
        if let UpgradeState::Failed { reason } = s.state
            && !matches!(reason, UpgradeError::BadHash | UpgradeError::OutOfOrder)
        {
            self.complete(
                |w| matches!(w, Waiting::Upgrade { bundle: b, .. } if *b == bundle),
                Err(Failure::new(FailureCode::from_upgrade_error(reason))),
                now,
                down,
            );
        } else {
            self.complete(
                |w| matches!(w, Waiting::Upgrade { bundle: b, index } if *b == bundle && s.has(*index)),
                Ok(()),
                now,
                down,
            );
        }
    }
}

impl<P: StatePersist> Node<P> {
    /// Send one space packet that is not a PUS TM (a CFDP PDU the caller wrapped) under
    /// association `spi` on the active link. Dropped if it cannot be protected (counted by the
    /// security engine when persistence fails).
    pub fn send_packet(&mut self, spi: u16, packet: &[u8], down: &mut impl Downlink) {
        let mut unit_buf = [0u8; MAX_UNIT_LEN];
        if let Ok(len) = self
            .engine
            .protect(spi, packet, &mut unit_buf, &mut self.persist)
            && let Some(unit) = unit_buf.get(..len)
        {
            let link = self.links.active();
            down.send(link, unit);
            self.links.on_tx(link);
        }
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
    // A verified unit is SDLS header ‖ packet ‖ MAC: the packet starts after the header.
    let start = crate::sdls::engine::HEADER_LEN;
    let same = unit
        .get(start..start + data.len())
        .is_some_and(|p| core::ptr::eq(p, data));
    same.then_some(UnitOutcome::Cfdp {
        spi,
        start,
        len: data.len(),
    })
}

fn manage_failure(e: ManageError) -> Failure {
    match e {
        ManageError::UnknownSpi(spi) => Failure::with(FailureCode::UnknownSpi, u32::from(spi)),
        ManageError::EpochNotIncreasing { current } => {
            Failure::with(FailureCode::EpochNotIncreasing, current)
        }
        ManageError::FloorNotIncreasing { current } => {
            Failure::with(FailureCode::FloorNotIncreasing, current as u32)
        }
        ManageError::PersistFailed | ManageError::Mac => Failure::new(FailureCode::PersistFailed),
    }
}

/// The certificate error code in a signer receipt (`signer::batch::receipt`: byte 60 is the error
/// class, 1 for the certificate, byte 61 the code), if the receipt says the certificate failed.
fn receipt_cert_code(receipt: &[u8]) -> Option<u8> {
    const CLASS: usize = 60;
    const CERTIFICATE: u8 = 1;
    match (receipt.get(CLASS), receipt.get(CLASS + 1)) {
        (Some(&CERTIFICATE), Some(&code)) => Some(code),
        _ => None,
    }
}
