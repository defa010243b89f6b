//! The runtime component around the [`Agent`]: its channels, its drivers and its buffers.
//!
//! | capability | use |
//! | --- | --- |
//! | `upgrade-chunks` (receive, copy-in) | transfer messages from comms, taken in place |
//! | `upgrade-status` (send) | the status after every message and every change of state |
//! | `upgrade-health` (receive) | the watchdog's health reports (the trial soak) |
//! | `reboot-requests` (send) | reboot into a trial image, or back after cancelling a trial |
//! | `slot-flash` (device) | the slots and the progress region, plus boot control ([`BootDrivers`]) |
//!
//! The three large buffers (two bundle headers, one chunk: about 1.1 MiB) live in static memory,
//! each a `spin::Mutex` taken once per process and leaked for its lifetime: no `unsafe`, no heap,
//! and a second instance in one process fails to start instead of aliasing the first.
//!
//! The soak time, trial attempts and soak deadline are [`CONFIG`], generated at build time from
//! the `upgrade` component's `trial` table in the shipped system description (`build.rs`).
//!
//! The first status of each instance (at power-on and after a restart) carries
//! [`UpgradeStatus::STARTED`]: comms then fails the messages an earlier instance was given and
//! never answered, at once, instead of holding its pending slots for them until its timeout.
//!
//! Avoids: blocking (every send is `try_send`; the answer to a transfer message, and the first
//! status, that does not fit is sent at the next step before any other message is taken, any
//! other status that does not fit is replaced by the next one, a reboot request is retried at
//! the next tick).

use crate::agent::{Agent, Buffers, Config, Health, Piece, Reboot, StartError};
use hal::flash::ReadNorFlash;
use ipc::RecvError;
use protocol::{
    HealthReport, HealthState, NodeMode, RebootReason, RebootRequest, UpgradeChunk, UpgradeStatus,
};
use rkyv::rancor::Failure;
use runtime::drivers::{BootDrivers, Drivers};
use runtime::{Component, Context, InitError, NotifySet, Rx, Source, Tx};
use spin::Mutex;
use upgrade::{MAX_CHUNK_LOG2, MAX_HEADER_LEN};

include!(concat!(env!("OUT_DIR"), "/trial.rs"));

/// Period of background work (copy pass, read-back) and of retried sends.
pub const STEP_US: u64 = 2_000;
/// Period of the idle tick (retries of a pending reboot request).
pub const TICK_US: u64 = 500_000;

static INCOMING: Mutex<[u8; MAX_HEADER_LEN]> = Mutex::new([0; MAX_HEADER_LEN]);
static RUNNING: Mutex<[u8; MAX_HEADER_LEN]> = Mutex::new([0; MAX_HEADER_LEN]);
static CHUNK: Mutex<[u8; 1 << MAX_CHUNK_LOG2]> = Mutex::new([0; 1 << MAX_CHUNK_LOG2]);

fn buffers() -> Option<Buffers> {
    Some(Buffers {
        incoming: &mut spin::MutexGuard::leak(INCOMING.try_lock()?)[..],
        running: &mut spin::MutexGuard::leak(RUNNING.try_lock()?)[..],
        chunk: &mut spin::MutexGuard::leak(CHUNK.try_lock()?)[..],
    })
}

/// The upgrade agent component, generic over the board's drivers.
pub struct UpgradePd<B: Drivers + BootDrivers> {
    agent: Agent<B::Flash, B::Boot>,
    chunks: Rx<UpgradeChunk>,
    chunks_src: Source,
    health: Rx<HealthReport>,
    health_src: Source,
    status: Tx<UpgradeStatus>,
    reboots: Tx<RebootRequest>,
    pending_reboot: Option<Reboot>,
    last_sent: Option<UpgradeStatus>,
    /// The answer to the last message taken, not sent yet (the status ring was full).
    unanswered: Option<UpgradeStatus>,
    /// Messages may be waiting in `upgrade-chunks` (the last call stopped early).
    backlog: bool,
    requests: u32,
}

fn health_of(r: &HealthReport) -> Health {
    let failed = r
        .components
        .as_slice()
        .iter()
        .find(|c| {
            matches!(
                c.state,
                HealthState::Failed | HealthState::Restarting | HealthState::Stopped
            )
        })
        .map(|c| c.component.0);
    Health {
        uptime_ms: r.uptime_ms,
        healthy_for_ms: r.healthy_since_boot_ms,
        failed,
        safe_mode: r.mode == NodeMode::Safe,
    }
}

impl<B: Drivers + BootDrivers> UpgradePd<B> {
    fn send_status(&mut self, s: UpgradeStatus, cx: &mut Context) {
        match self.status.try_send(&s) {
            Ok(()) => {
                cx.count_out(1);
                self.last_sent = Some(s);
            }
            Err(e) => log::warn!("upgrade-status not sent ({e}); the next one replaces it"),
        }
    }

    fn send_if_changed(&mut self, cx: &mut Context) {
        if self.unanswered.is_some() {
            // The answer goes first; it carries the newer state then.
            return;
        }
        let s = self.agent.status();
        if self.last_sent != Some(s) {
            self.send_status(s, cx);
        }
    }

    /// Takes transfer messages, one answer (status) each. An answer that does not fit the
    /// status ring is kept and sent first at the next step, and no further message is taken
    /// until it went: comms completes each message's command on its answer, so answers are
    /// never dropped (a dropped one would hold a comms pending slot until its timeout).
    /// Returns true if messages may be left for the next step.
    fn take_chunks(&mut self, cx: &mut Context) -> bool {
        // At most a ring's worth per call, so pings are answered in between.
        for _ in 0..16 {
            if let Some(s) = self.unanswered.take()
                && !self.send_answer(s, cx)
            {
                return true;
            }
            let agent = &mut self.agent;
            let got = self.chunks.try_recv(|m| {
                agent.on_piece(&Piece {
                    bundle_id: m.bundle_id.to_native(),
                    index: m.position.index.to_native(),
                    count: m.position.count.to_native(),
                    offset: m.position.offset.to_native(),
                    total_len: m.position.total_len.to_native(),
                    data: m.data.as_slice(),
                })
            });
            match got {
                Ok(s) => {
                    cx.count_in(1);
                    if !self.send_answer(s, cx) {
                        return true;
                    }
                }
                Err(RecvError::Empty) => return false,
                Err(RecvError::Malformed) => {
                    cx.count_malformed(1);
                    log::warn!("upgrade-chunks: malformed message dropped");
                }
                Err(RecvError::PeerCorrupt(i)) => {
                    cx.count_malformed(1);
                    log::error!("upgrade-chunks: the sender corrupted the ring (index {i})");
                    return false;
                }
            }
        }
        true
    }

    /// Sends the answer to a message; false (kept for the next step) if the ring is full.
    fn send_answer(&mut self, s: UpgradeStatus, cx: &mut Context) -> bool {
        match self.status.try_send(&s) {
            Ok(()) => {
                cx.count_out(1);
                self.last_sent = Some(s);
                true
            }
            Err(_) => {
                self.unanswered = Some(s);
                false
            }
        }
    }

    fn take_health(&mut self, cx: &mut Context) {
        for _ in 0..4 {
            match self
                .health
                .try_recv(rkyv::api::low::deserialize::<HealthReport, Failure>)
            {
                Ok(Ok(r)) => {
                    cx.count_in(1);
                    if self.agent.on_health(&health_of(&r)) {
                        self.send_if_changed(cx);
                    }
                }
                Ok(Err(_)) | Err(RecvError::Malformed) | Err(RecvError::PeerCorrupt(_)) => {
                    cx.count_malformed(1);
                    log::warn!("upgrade-health: malformed report dropped");
                }
                Err(RecvError::Empty) => return,
            }
        }
    }

    fn send_reboot(&mut self, cx: &mut Context) {
        let Some(why) = self.pending_reboot.or_else(|| self.agent.take_reboot()) else {
            return;
        };
        self.requests = self.requests.wrapping_add(1);
        let req = RebootRequest {
            request_id: self.requests,
            requester: cx.component(),
            reason: match why {
                Reboot::Trial => RebootReason::TrialBoot,
                Reboot::Rollback => RebootReason::Rollback,
            },
        };
        match self.reboots.try_send(&req) {
            Ok(()) => {
                cx.count_out(1);
                self.pending_reboot = None;
                log::info!("reboot requested ({})", req.reason);
            }
            Err(e) => {
                log::warn!("reboot request not sent ({e}); retrying");
                self.pending_reboot = Some(why);
            }
        }
    }
}

/// A slot's content for the log.
struct Shown(protocol::SlotVersion);

impl core::fmt::Display for Shown {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let v = self.0;
        if v.present {
            write!(
                f,
                "version {}.{}.{} (security counter {})",
                v.version[0], v.version[1], v.version[2], v.security_counter
            )
        } else {
            f.write_str("no image header")
        }
    }
}

fn after(cx: &Context, us: u64) -> hal::time::Instant {
    hal::time::Instant::from_micros(cx.now().as_micros().saturating_add(us))
}

impl<B: Drivers + BootDrivers> Component for UpgradePd<B> {
    fn init(caps: &mut runtime::CapSet, cx: &mut Context) -> Result<Self, InitError> {
        let (chunks, chunks_src) = caps.receiver::<UpgradeChunk>("upgrade-chunks")?;
        let (health, health_src) = caps.receiver::<HealthReport>("upgrade-health")?;
        let status = caps.sender::<UpgradeStatus>("upgrade-status")?;
        let reboots = caps.sender::<RebootRequest>("reboot-requests")?;
        let dev = caps.device("slot-flash")?;
        let boot = B::boot_control(&dev)
            .map_err(|_| InitError::Component("boot control of the slot flash unavailable"))?;
        let flash = B::flash(dev).map_err(|_| InitError::Component("slot flash unavailable"))?;
        if (flash.capacity() as u64) < B::SLOT_LAYOUT.flash_len() {
            return Err(InitError::Component(
                "the slot flash is smaller than the board's slot layout",
            ));
        }
        let bufs = buffers().ok_or(InitError::Component("buffers already taken"))?;
        let agent = Agent::start(flash, boot, B::SLOT_LAYOUT, CONFIG, bufs).map_err(|e| {
            InitError::Component(match e {
                StartError::Buffers => "agent buffers too small",
                StartError::Store(_) => "the progress region does not fit the slot flash",
            })
        })?;
        let mut pd = UpgradePd {
            agent,
            chunks,
            chunks_src,
            health,
            health_src,
            status,
            reboots,
            pending_reboot: None,
            last_sent: None,
            unanswered: None,
            backlog: false,
            requests: 0,
        };
        let s = pd.agent.status();
        log::info!(
            "slot {} running (confirmed {}); slot A: {}; slot B: {}; {}",
            s.active_slot,
            s.confirmed_slot,
            Shown(s.slots[0]),
            Shown(s.slots[1]),
            s.state
        );
        // The first status says this is a new instance: comms fails the messages an earlier
        // one was given and never answered, instead of holding its slots for them. It is sent
        // before any message is taken, as an answer is (kept for the next step if the ring is
        // full of the earlier instance's statuses).
        let first = UpgradeStatus {
            answers: UpgradeStatus::STARTED,
            ..s
        };
        if !pd.send_answer(first, cx) {
            pd.backlog = true;
        }
        pd.send_reboot(cx);
        cx.wake_at(after(cx, STEP_US));
        Ok(pd)
    }

    fn notified(&mut self, set: NotifySet, cx: &mut Context) {
        if set.contains(self.chunks_src) || self.backlog {
            self.backlog = self.take_chunks(cx);
        }
        if set.contains(self.health_src) {
            self.take_health(cx);
        }
        let busy = self.agent.poll();
        if busy {
            self.send_if_changed(cx);
        }
        self.send_reboot(cx);
        let pending = self.pending_reboot.is_some() || self.backlog;
        cx.wake_at(after(cx, if busy || pending { STEP_US } else { TICK_US }));
    }
}
