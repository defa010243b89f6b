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
//! Recovery-only mode (`node/recovery.rs`, [`Node::boot_lost`]): with the SDLS anti-replay
//! state lost, units are authenticated without a floor and only the link recovery is taken.
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
//!
//! The node is split by concept: `interface` (what the caller provides and gets back),
//! `uplink` (one unit in: security, parsing, routing), `local` (commands comms runs itself),
//! `forward` (commands forwarded to a component and their completion), `telemetry` (every TM
//! out, periodic events), `admin` and `control` (above), `ccsds` (the radio as a CCSDS space
//! link, [`crate::radio_ccsds`]).

mod admin;
mod ccsds;
mod control;
mod forward;
mod interface;
mod local;
mod recovery;
mod telemetry;
mod uplink;

use hal::time::Instant;
use protocol::{HealthReport, LinkId, UpgradeStatus};

use crate::dedup::{CommandKey, DedupCache};
use crate::link::{FailoverConfig, LinkManager};
use crate::pus::tc::{Ack, RequestId};
use crate::pus::tm::TmWriter;
use crate::router::RouteTable;
use crate::sdls::engine::BootError;
use crate::sdls::{Provisioning, SecurityEngine, StatePersist};

pub use ccsds::FrameSeen;
pub use interface::{Downlink, ForwardError, Forwarder, Now, Outbound, UnitOutcome};

/// The node's APID on the sim board and in the ground tool's default (PUS-C, 11 bits).
pub const DEFAULT_APID: u16 = 0x0A0;

/// Forwarded commands awaiting their completion at once.
pub const MAX_PENDING: usize = 16;
/// A forwarded command whose component has not answered for this long fails with
/// [`crate::failure::FailureCode::NoAnswer`] and frees its slot: a component that restarted lost
/// it, and the slots must not fill up for good (comms would then refuse every forwarded command
/// as `Busy`).
/// Well above the longest answer the signer gives (a whole batch checked between two chunks).
pub const PENDING_TIMEOUT_S: u64 = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Sign { batch: u64, index: u32 },
    Upgrade { bundle: u64, index: u32 },
    Admin { token: u32 },
}

/// The component a forwarded command waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Signer,
    Upgrade,
}

impl Waiting {
    const fn peer(&self) -> Peer {
        match self {
            Waiting::Sign { .. } | Waiting::Admin { .. } => Peer::Signer,
            Waiting::Upgrade { .. } => Peer::Upgrade,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Ctx {
    spi: u16,
    request: RequestId,
    dest: u16,
    ack: Ack,
    /// When the command arrived.
    at: Instant,
    /// The link it arrived on: its reports go out there, even when they come later.
    link: LinkId,
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
    signer_down: bool,
    /// The signer's restarts since power-on, as last reported ([`Node::on_signer_restarts`]).
    signer_restarts: u16,
    upgrade: Option<UpgradeStatus>,
    pending: [Option<Pending>; MAX_PENDING],
    refused_reported: u32,
    last_auth_event: Option<Instant>,
    last_sequence_event: Option<Instant>,
    admin: crate::admin::Assembly,
    admin_token: u32,
    /// While a unit from the ground is handled, or a command's report is sent: the link that
    /// unit came in on, where every reply goes (else: the active link).
    reply_link: Option<LinkId>,
    /// Recovery-only mode: the SDLS state was lost (`node/recovery.rs`).
    recovery: Option<recovery::Recovery>,
    /// The standby line's PPP session, as the partition last copied it (`pus::hk_ppp`), in a
    /// buffer the partition lends ([`Node::attach_standby_ppp`]), off its small stack.
    standby_ppp: Option<&'static mut crate::pus::hk_ppp::PppTelemetry>,
    /// The recent event reports, for TC\[5,128\] (`pus::event_log`): a buffer the partition
    /// lends for the life of the process ([`Node::attach_event_log`]), kept off the partition's
    /// small stack where the node lives.
    events: Option<&'static mut crate::pus::event_log::EventLog>,
    /// The radio on the CCSDS space link (`node/ccsds.rs`); `None`: the radio carries units.
    /// Held by reference: the caller keeps the state (a few KiB) in static memory, not in the
    /// node a partition moves around on its stack.
    ccsds: Option<&'static mut crate::radio_ccsds::CcsdsRadio>,
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
        let engine = SecurityEngine::boot(provisioning, &mut persist, cfg.reserve_block)
            .map_err(NodeError::Security)?;
        Self::assemble(cfg, engine, persist, routes)
    }

    fn assemble(
        cfg: NodeConfig,
        engine: SecurityEngine,
        persist: P,
        routes: RouteTable,
    ) -> Result<Self, NodeError<P::Error>> {
        let tm = TmWriter::new(cfg.apid).map_err(|_| NodeError::BadApid(cfg.apid))?;
        Ok(Node {
            cfg,
            engine,
            persist,
            routes,
            dedup: DedupCache::default(),
            tm,
            links: LinkManager::new(cfg.failover),
            health: None,
            signer_down: false,
            signer_restarts: 0,
            upgrade: None,
            pending: [None; MAX_PENDING],
            refused_reported: 0,
            last_auth_event: None,
            last_sequence_event: None,
            admin: crate::admin::Assembly::default(),
            admin_token: 0,
            reply_link: None,
            recovery: None,
            events: None,
            standby_ppp: None,
            ccsds: None,
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
}
