//! [`WatchdogPd`]: the watchdog's [`Component`] (see the crate docs for the whole flow).
//!
//! Capabilities it takes: the channels of [`crate::links`], the hardware watchdog timer and the
//! reset-counter flash (names from [`crate::table`]). It has no ping channel of its own: nobody
//! pings the watchdog, the hardware watchdog timer covers it.
//!
//! Every handler call ends with a wake-up request [`TICK_DIVISOR`]-th of the shortest ping
//! period later; each timer notification runs [`Watchdog::tick`] and kicks the hardware watchdog
//! if the core says so. Inputs (pongs, fault notices, restart results) are taken as soon as they
//! arrive, so a fault notice is acted on at once.
//!
//! Avoids: blocking (every send is `try_send`; a full ring drops the message and the core's rules
//! say what that means), the heap, and any decision of its own: every decision is the core's.

use crate::convert;
use crate::links::Links;
use crate::nonce::{self, NonceRng};
use crate::report::{Key, Line, ProgressList};
use crate::table::{self, COUNT, HEALTH_FLASH, HW_WATCHDOG};
use core::time::Duration;
use hal::time::Instant;
use hal::watchdog::WatchdogTimer;
use ipc::RecvError;
use protocol::{ComponentId, FaultCause, HealthReport, NodeCommandKind, NodeMode};
use runtime::{CapSet, Component, Context, Drivers, InitError, NotifySet, WatchdogDrivers};
use watchdog::reset_counter::HEALTH_FLASH_LAYOUT;
use watchdog::{Action, BootInfo, Found, Kick, Phase, ResetCounter, Tuning, Watchdog, Withhold};

/// The hardware watchdog timeout: how long the board survives without a kick. Well above the
/// tick (10 ms in the shipped description) so that a loaded host does not reset the board
/// spuriously; a frozen or dead watchdog partition resets the board within this time.
pub const HW_TIMEOUT: Duration = Duration::from_millis(1000);
/// The core is ticked this many times per shortest ping period (the core's advice: a tenth
/// gives tight detection bounds).
pub const TICK_DIVISOR: u64 = 10;
/// Most messages taken from one receive channel per handler call (the rest on the next call,
/// so a flooding sender cannot starve the tick).
const RECV_PER_CALL: usize = 64;

/// Counters of what the partition itself did, beyond the core's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PdCounters {
    /// Pings not sent because the ring was full.
    pub pings_dropped: u32,
    /// Restart requests not sent because the ring was full.
    pub restarts_dropped: u32,
    /// Health reports not sent (per channel) because the ring was full.
    pub reports_dropped: u32,
    /// Malformed messages dropped.
    pub malformed: u32,
    /// Inputs the core refused (`watchdog::InputError`).
    pub refused: u32,
    /// Kicks the timer did not accept.
    pub kick_errors: u32,
    /// Reset-counter writes that failed.
    pub flash_errors: u32,
}

/// The effects of the core's actions: everything but the core itself, so the core can be
/// borrowed while they run.
struct Io<B: Drivers + WatchdogDrivers> {
    links: Links,
    hw: B::Watchdog,
    flash: B::Flash,
    counter: Option<ResetCounter>,
    report_due: bool,
    counters: PdCounters,
    sent: u32,
}

/// The watchdog component, generic over the board's drivers.
pub struct WatchdogPd<B: Drivers + WatchdogDrivers> {
    core: &'static mut Watchdog,
    rng: NonceRng,
    io: Io<B>,
    tick: Duration,
    phases: [Phase; COUNT],
    last_key: Option<Key>,
    withholding: bool,
    /// Restarted and not yet answered a ping in time (logged when it does).
    awaiting_first: [bool; COUNT],
    /// "Every component answered" was logged.
    all_answered: bool,
}

impl<B: Drivers + WatchdogDrivers> core::fmt::Debug for WatchdogPd<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WatchdogPd")
            .field("core", &self.core)
            .field("counters", &self.io.counters)
            .finish_non_exhaustive()
    }
}

fn after(now: Instant, d: Duration) -> Instant {
    now.saturating_add(d)
}

/// Takes up to [`RECV_PER_CALL`] messages from one ring (`recv`), handing each to `on`; a
/// malformed message is counted and dropped, and a corrupt ring or an empty one ends the drain.
fn drain_ring<B: Drivers + WatchdogDrivers, T>(
    cx: &mut Context,
    io: &mut Io<B>,
    mut recv: impl FnMut(&mut Io<B>) -> Result<Option<T>, RecvError>,
    mut on: impl FnMut(&mut Io<B>, T),
) {
    for _ in 0..RECV_PER_CALL {
        match recv(io) {
            Ok(Some(m)) => {
                cx.count_in(1);
                on(io, m);
            }
            Ok(None) | Err(RecvError::Malformed) => {
                cx.count_malformed(1);
                io.counters.malformed = io.counters.malformed.wrapping_add(1);
            }
            Err(RecvError::Empty) => return,
            Err(RecvError::PeerCorrupt(_)) => {
                cx.count_malformed(1);
                io.counters.malformed = io.counters.malformed.wrapping_add(1);
                return;
            }
        }
    }
}

fn cause_text(c: &FaultCause) -> (&'static str, u64) {
    match *c {
        FaultCause::Exit { code } => ("exited with code", code as u64),
        FaultCause::Signal { signal } => ("killed by signal", u64::from(signal)),
        FaultCause::SeccompViolation { syscall } => {
            ("killed by seccomp for system call", u64::from(syscall))
        }
        FaultCause::MissedPings { count } => ("missed pings:", u64::from(count)),
        FaultCause::WrongNonce { .. } => ("answered a wrong nonce", 0),
    }
}

impl<B: Drivers + WatchdogDrivers> Io<B> {
    fn execute(&mut self, a: Action, now: Instant) {
        match a {
            Action::Ping { component, ping } => {
                let sent = self
                    .links
                    .pings
                    .get_mut(usize::from(component.0))
                    .and_then(|p| p.as_mut())
                    .map(|tx| tx.try_send(&ping));
                match sent {
                    Some(Ok(())) => self.sent = self.sent.wrapping_add(1),
                    _ => self.counters.pings_dropped = self.counters.pings_dropped.wrapping_add(1),
                }
            }
            Action::Restart(req) => {
                let (what, n) = cause_text(&req.cause);
                log::warn!(
                    "requesting restart of {} (request {}): {what} {n}",
                    table::name(req.component),
                    req.request_id
                );
                match self.links.restarts.try_send(&req) {
                    Ok(()) => self.sent = self.sent.wrapping_add(1),
                    Err(_) => {
                        self.counters.restarts_dropped =
                            self.counters.restarts_dropped.wrapping_add(1)
                    }
                }
            }
            Action::Late { component, missed } => {
                log::warn!("{} late: {missed} pings missed", table::name(component));
            }
            Action::Recovered { component } => {
                log::info!("{} answering in time again", table::name(component));
            }
            Action::Held { component, fault } => {
                log::error!(
                    "{} held down after {fault}: no more restarts",
                    table::name(component)
                );
            }
            Action::Escalate(e) => {
                // On flash before the kicks stop: the reset must not lose why it happened.
                if let Some(c) = self.counter.as_mut()
                    && c.record_escalation(&mut self.flash, e).is_err()
                {
                    self.counters.flash_errors = self.counters.flash_errors.wrapping_add(1);
                }
                log::error!(
                    "ESCALATING to a board reset: {} failed beyond its policy ({}); no more kicks",
                    table::name(e.component),
                    e.fault
                );
                self.report_due = true;
            }
            Action::ClearResetCounter => {
                let ok = self
                    .counter
                    .as_mut()
                    .is_some_and(|c| c.mark_healthy(&mut self.flash).is_ok());
                if ok {
                    log::info!(
                        "healthy for the clearing period at {} ms: reset counter cleared",
                        now.as_micros() / 1000
                    );
                } else {
                    self.counters.flash_errors = self.counters.flash_errors.wrapping_add(1);
                    log::error!("could not clear the reset counter");
                }
            }
            Action::LeaveSafeMode(reason) => {
                let ok = self
                    .counter
                    .as_mut()
                    .is_some_and(|c| c.leave_safe_mode(&mut self.flash).is_ok());
                if ok {
                    log::warn!(
                        "LEAVING SAFE MODE ({reason}) at {} ms: reset counter cleared and clean power-off marked; no more kicks, the board resets into a normal boot",
                        now.as_micros() / 1000
                    );
                } else {
                    self.counters.flash_errors = self.counters.flash_errors.wrapping_add(1);
                    log::error!(
                        "leaving safe mode ({reason}): could not clear the reset counter; the reset that follows counts as a fault and the node boots in safe mode again"
                    );
                }
                self.report_due = true;
            }
            Action::Reboot => {
                let ok = self
                    .counter
                    .as_mut()
                    .is_some_and(|c| c.mark_clean_power_off(&mut self.flash).is_ok());
                if ok {
                    log::warn!(
                        "REBOOT commanded by the ground at {} ms: clean power-off marked (the reset counter stays at {}); no more kicks, the board resets through the normal boot path",
                        now.as_micros() / 1000,
                        self.counter.as_ref().map_or(0, |c| c.record().resets())
                    );
                } else {
                    self.counters.flash_errors = self.counters.flash_errors.wrapping_add(1);
                    log::error!(
                        "reboot commanded by the ground: could not mark a clean power-off; the reset that follows counts as a fault"
                    );
                }
                self.report_due = true;
            }
            Action::SendHealthReport => self.report_due = true,
        }
    }

    fn send_report(&mut self, report: &HealthReport) {
        for tx in self.links.reports.iter_mut().flatten() {
            match tx.try_send(report) {
                Ok(()) => self.sent = self.sent.wrapping_add(1),
                Err(_) => {
                    self.counters.reports_dropped = self.counters.reports_dropped.wrapping_add(1)
                }
            }
        }
    }
}

/// What [`WatchdogPd`] reads from the reset counter at start.
fn boot_info<F: hal::flash::NorFlash + hal::flash::ErasedValue>(
    flash: &mut F,
    mode: NodeMode,
) -> (BootInfo, Option<ResetCounter>) {
    match ResetCounter::open(flash, HEALTH_FLASH_LAYOUT) {
        Ok(counter) => {
            let record = counter.record();
            let resets = record.resets();
            let counted = counter.found() == Found::Record;
            let info = match mode {
                // The root task booted safe mode although the count is within the cap: it could
                // not use the counter.
                NodeMode::Safe if !counted || u32::from(resets) <= table::MAX_RESETS => {
                    BootInfo::COUNTER_UNAVAILABLE
                }
                _ => BootInfo {
                    mode,
                    resets,
                    last_escalation: record.last_escalation,
                },
            };
            (info, Some(counter))
        }
        Err(_) => (BootInfo::COUNTER_UNAVAILABLE, None),
    }
}

impl<B: Drivers + WatchdogDrivers> WatchdogPd<B> {
    /// The core (for tests and board-level inspection).
    pub fn core(&self) -> &Watchdog {
        self.core
    }

    /// The partition's own counters.
    pub fn counters(&self) -> PdCounters {
        self.io.counters
    }

    fn drain(&mut self, cx: &mut Context) {
        let now = cx.now();
        let Self {
            core,
            io,
            awaiting_first,
            ..
        } = self;
        for i in 0..COUNT {
            let id = ComponentId(i as u8);
            drain_ring(
                cx,
                io,
                |io| match io.links.pongs.get_mut(i) {
                    Some(Some((rx, _))) => rx.try_recv(convert::pong),
                    _ => Err(RecvError::Empty),
                },
                |io, p| match core.on_pong(id, &p, now, &mut |a| io.execute(a, now)) {
                    Ok(watchdog::PongVerdict::OnTime { round_trip_us }) => {
                        if let Some(w) = awaiting_first.get_mut(i)
                            && core::mem::take(w)
                        {
                            log::info!(
                                "{} answered its first ping since its restart at {} ms (round trip {round_trip_us} us)",
                                table::name(id),
                                now.as_micros() / 1000
                            );
                        }
                    }
                    Ok(_) => {}
                    Err(_) => io.counters.refused = io.counters.refused.wrapping_add(1),
                },
            );
        }
        drain_ring(
            cx,
            io,
            |io| io.links.faults.0.try_recv(convert::fault),
            |io, n| {
                let (what, v) = cause_text(&n.cause);
                log::warn!(
                    "fault notice: {} {what} {v} (occurrence {})",
                    table::name(n.component),
                    n.occurrence
                );
                if core.on_fault(&n, now, &mut |a| io.execute(a, now)).is_err() {
                    io.counters.refused = io.counters.refused.wrapping_add(1);
                }
            },
        );
        drain_ring(
            cx,
            io,
            |io| io.links.results.0.try_recv(convert::result),
            |io, r| match core.on_restart_result(&r, now, &mut |a| io.execute(a, now)) {
                Ok(watchdog::RestartVerdict::Running) => {
                    if let Some(w) = awaiting_first.get_mut(usize::from(r.component.0)) {
                        *w = true;
                    }
                    log::info!(
                        "{} restarted (request {}); pinging it again",
                        table::name(r.component),
                        r.request_id
                    )
                }
                Ok(watchdog::RestartVerdict::Failed) => log::warn!(
                    "restart of {} failed: {}",
                    table::name(r.component),
                    r.outcome
                ),
                Err(_) => io.counters.refused = io.counters.refused.wrapping_add(1),
            },
        );
    }

    fn drain_commands(&mut self, cx: &mut Context) {
        let now = cx.now();
        let Self { core, io, .. } = self;
        drain_ring(
            cx,
            io,
            |io| match io.links.commands.as_mut() {
                Some((rx, _)) => rx.try_recv(convert::command),
                None => Err(RecvError::Empty),
            },
            |io, c| {
                let (what, r) = match c.command {
                    NodeCommandKind::LeaveSafeMode => (
                        "leave safe mode",
                        core.on_leave_safe_mode(now, &mut |a| io.execute(a, now)),
                    ),
                    NodeCommandKind::Reboot => {
                        ("reboot", core.on_reboot(now, &mut |a| io.execute(a, now)))
                    }
                };
                match r {
                    Ok(()) => log::info!("ground command {}: {what}", c.request_id),
                    Err(e) => {
                        io.counters.refused = io.counters.refused.wrapping_add(1);
                        log::warn!("ground command {} refused: {e}", c.request_id);
                    }
                }
            },
        );
    }

    fn tick(&mut self, now: Instant) {
        let Self { core, io, rng, .. } = self;
        let kick = core.tick(now, rng, &mut |a| io.execute(a, now));
        match kick {
            Kick::Kick => {
                if self.io.hw.kick().is_err() {
                    self.io.counters.kick_errors = self.io.counters.kick_errors.wrapping_add(1);
                }
            }
            Kick::Withhold(why) => {
                if !self.withholding {
                    self.withholding = true;
                    match why {
                        Withhold::Escalated(e) => log::error!(
                            "not kicking the hardware watchdog any more: {} escalated ({})",
                            table::name(e.component),
                            e.fault
                        ),
                        Withhold::NoNonces(c) => log::error!(
                            "not kicking the hardware watchdog any more: no nonce could be drawn for {}, the watchdog cannot vouch for it",
                            table::name(c)
                        ),
                        Withhold::LeavingSafeMode(r) => log::error!(
                            "not kicking the hardware watchdog any more: leaving safe mode ({r})"
                        ),
                        Withhold::Rebooting => log::warn!(
                            "not kicking the hardware watchdog any more: the ground commanded a reboot"
                        ),
                    }
                }
            }
        }
    }

    /// Logs every component that just failed (the moment of detection), once per failure.
    fn log_transitions(&mut self, now: Instant) {
        for (i, last) in self.phases.iter_mut().enumerate() {
            let id = ComponentId(i as u8);
            let Some(s) = self.core.status(id) else {
                continue;
            };
            let was_running = matches!(*last, Phase::Running);
            if was_running
                && matches!(
                    s.phase,
                    Phase::BackingOff { .. } | Phase::Held | Phase::Down
                )
            {
                let (what, n) = s.last_cause.as_ref().map_or(("failed", 0), cause_text);
                log::warn!(
                    "FAILED {} at {} ms: {what} {n}; back-off {} ms",
                    table::name(id),
                    now.as_micros() / 1000,
                    s.backoff_ms.unwrap_or(0)
                );
            }
            *last = s.phase;
        }
    }

    fn log_all_answered(&mut self, now: Instant) {
        if !self.all_answered && self.core.healthy_since_boot(now).is_some() {
            self.all_answered = true;
            // Every component opened (and wrote) its stores: from now on a blank store on this
            // node is a lost one (see `watchdog::reset_counter`). Normal mode only: in safe
            // mode some components did not run.
            if self.core.boot().mode == NodeMode::Normal
                && let Some(c) = self.io.counter.as_mut()
                && c.mark_commissioned(&mut self.io.flash).is_err()
            {
                self.io.counters.flash_errors = self.io.counters.flash_errors.wrapping_add(1);
                log::error!("could not record the node as commissioned on the reset counter");
            }
            log::info!(
                "every pinged component answered in time by {} ms {}",
                now.as_micros() / 1000,
                ProgressList(self.core)
            );
        }
    }

    fn flush_report(&mut self, now: Instant) {
        if !self.io.report_due {
            return;
        }
        self.io.report_due = false;
        let report = self.core.health_report(now);
        self.io.send_report(&report);
        let key = Key::of(&report);
        if self.last_key != Some(key) {
            self.last_key = Some(key);
            log::info!(
                "{}",
                Line {
                    report: &report,
                    watchdog: self.core,
                }
            );
        }
    }
}

impl<B: Drivers + WatchdogDrivers> Component for WatchdogPd<B> {
    fn init(caps: &mut CapSet, cx: &mut Context) -> Result<Self, InitError> {
        let config = table::config(Tuning::default())
            .map_err(|_| InitError::Component("the build-time watchdog table is invalid"))?;
        if caps.component() != config.self_id() {
            return Err(InitError::Component(
                "started as another component than the build-time table's watchdog",
            ));
        }
        let seed = caps.take_seed().ok_or(InitError::Component(
            "the board gave no random seed: no nonces, refusing to start",
        ))?;
        let rng = nonce::from_seed(seed);
        let links = Links::take(caps)?;
        let mut flash = B::flash(caps.device(HEALTH_FLASH)?)
            .map_err(|_| InitError::Component("the reset-counter flash cannot be opened"))?;
        let mut hw = B::watchdog(caps.device(HW_WATCHDOG)?)
            .map_err(|_| InitError::Component("the hardware watchdog cannot be opened"))?;
        let (boot, counter) = boot_info(&mut flash, caps.node_mode());
        let now = cx.now();
        let core = crate::slot::take(Watchdog::new(config, boot, now)).ok_or(
            InitError::Component("a watchdog already runs in this process"),
        )?;
        hw.start(HW_TIMEOUT)
            .map_err(|_| InitError::Component("the hardware watchdog refused to start"))?;
        let shortest = core
            .config()
            .components()
            .filter_map(|(_, c)| c.health.map(|h| u64::from(h.ping_period_ms)))
            .min()
            .unwrap_or(100);
        let tick = Duration::from_micros((shortest * 1000 / TICK_DIVISOR).max(1000));
        match boot.mode {
            NodeMode::Normal => log::info!(
                "watching {} components, tick {} ms, hardware watchdog {} ms; {} resets since last healthy (cap {})",
                core.config()
                    .components()
                    .filter(|(_, c)| c.health.is_some())
                    .count(),
                tick.as_millis(),
                HW_TIMEOUT.as_millis(),
                boot.resets,
                table::MAX_RESETS
            ),
            NodeMode::Safe => {
                let (component, fault) = boot.last_escalation.map_or(("none on record", ""), |e| {
                    (table::name(e.component), e.fault.text())
                });
                log::warn!(
                    "SAFE MODE: {} resets since last healthy (cap {}), last escalation {component}{}{fault}; only safe-mode components run",
                    boot.resets,
                    table::MAX_RESETS,
                    if fault.is_empty() { "" } else { ", " },
                )
            }
        }
        let mut phases = [Phase::Inactive; COUNT];
        for (slot, i) in phases.iter_mut().zip(0u8..) {
            if let Some(s) = core.status(ComponentId(i)) {
                *slot = s.phase;
            }
        }
        cx.wake_at(after(now, tick));
        Ok(WatchdogPd {
            core,
            rng,
            io: Io {
                links,
                hw,
                flash,
                counter,
                report_due: false,
                counters: PdCounters::default(),
                sent: 0,
            },
            tick,
            phases,
            last_key: None,
            withholding: false,
            awaiting_first: [false; COUNT],
            all_answered: false,
        })
    }

    fn notified(&mut self, set: NotifySet, cx: &mut Context) {
        let now = cx.now();
        self.drain(cx);
        self.drain_commands(cx);
        if set.contains(runtime::Source::TIMER) || cx.pending_wake().is_none() {
            self.tick(now);
            cx.wake_at(after(now, self.tick));
        }
        self.log_transitions(now);
        self.log_all_answered(now);
        self.flush_report(now);
        let sent = core::mem::take(&mut self.io.sent);
        cx.count_out(sent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use board_sim::flash::SimFlash;
    use protocol::{Escalation, FaultKind};

    fn flash(dir: &std::path::Path) -> SimFlash {
        SimFlash::open_or_create(&dir.join("health.flash"), 1 << 16).expect("flash")
    }

    #[test]
    fn the_boot_is_read_from_the_counter_the_monitor_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut f = flash(dir.path());
        // Never counted (a board without a counting root task): a first boot.
        let (info, counter) = boot_info(&mut f, NodeMode::Normal);
        assert_eq!(info, BootInfo::FIRST);
        assert!(counter.is_some());
        // Counted past the cap, with an escalation on record: safe mode, and why.
        let mut c = ResetCounter::open(&mut f, HEALTH_FLASH_LAYOUT).expect("open");
        let e = Escalation {
            component: ComponentId(2),
            fault: FaultKind::MissedPings,
        };
        c.record_escalation(&mut f, e).expect("record");
        for _ in 0..=table::MAX_RESETS + 1 {
            c.boot(&mut f, table::MAX_RESETS, false).expect("count");
        }
        let (info, _) = boot_info(&mut f, NodeMode::Safe);
        assert_eq!(
            info,
            BootInfo {
                mode: NodeMode::Safe,
                resets: table::MAX_RESETS as u16 + 1,
                last_escalation: Some(e),
            }
        );
    }

    #[test]
    fn safe_mode_without_a_count_past_the_cap_means_the_counter_was_unusable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut f = flash(dir.path());
        let mut c = ResetCounter::open(&mut f, HEALTH_FLASH_LAYOUT).expect("open");
        c.boot(&mut f, table::MAX_RESETS, false).expect("count");
        let (info, _) = boot_info(&mut f, NodeMode::Safe);
        assert_eq!(info, BootInfo::COUNTER_UNAVAILABLE);
        // Never counted at all, and the root task says safe mode: the same.
        let dir = tempfile::tempdir().expect("tempdir");
        let mut f = flash(dir.path());
        assert_eq!(
            boot_info(&mut f, NodeMode::Safe).0,
            BootInfo::COUNTER_UNAVAILABLE
        );
    }
}
