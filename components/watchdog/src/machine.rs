//! The watchdog core: a state machine driven only by inputs and clock values.
//!
//! Per component the watchdog keeps a phase:
//!
//! ```text
//!            fault notice / wrong nonce / fatal-after misses
//!  Running ────────────────────────────────────────────────► policy
//!     ▲                                                         │
//!     │ RestartResult::Restarted     restart policy, in budget  │ hold policy, no policy,
//!     │                              ┌──────────────────────────┤ or budget spent
//!  Restarting ◄── back-off elapsed ── BackingOff                │
//!     │                                                         ▼
//!     │ refused ─────────────────────────────────────► Held (non-critical: reported)
//!     │ failed to start / no answer in time:           Down (critical: escalate, board reset)
//!     │ policy again (back-off doubles, budget counts)
//! ```
//!
//! A restart request the monitor does not answer within `Tuning::restart_timeout_ms` is taken
//! as lost. The timeout must exceed the monitor's worst-case restart time: a request executed
//! after its timeout costs one extra restart (the retry), and at the very end of a critical
//! component's budget a needless board reset (see verification/models/README.md).
//!
//! - [`Watchdog::tick`] sends the pings that are due (a fresh nonce from the injected RNG for
//!   each), counts unanswered ones as missed, requests the restarts whose back-off has elapsed,
//!   times out unanswered restart requests, decides health reports and the reset-counter
//!   clearing, and returns the hardware-watchdog decision.
//! - [`Watchdog::on_pong`], [`Watchdog::on_fault`] and [`Watchdog::on_restart_result`] take
//!   the three kinds of input; a fault or a wrong nonce is acted on at once.
//!
//! A critical component is restarted by its policy like any other; when the policy gives up
//! (hold policy, no policy, budget spent, restart refused) it is not held but escalates: the
//! watchdog stops kicking the hardware watchdog, once and for good in this boot. Nothing else
//! escalates, so while every component answers its pings in time no reset can happen. After an
//! escalation no more restarts are requested (the board is about to reset), but pings and
//! reports go on so the ground sees the final state.
//!
//! In safe mode the watchdog leaves it ([`Action::LeaveSafeMode`], then no more kicks: the
//! hardware watchdog resets the board into a normal boot) on the ground's command
//! ([`Watchdog::on_leave_safe_mode`]) or once every active component has been healthy for
//! `Tuning::safe_mode_decay_ms` (safe mode decays).
//!
//! Avoids: I/O of any kind, allocation, and panics on any input.

use core::time::Duration;

use hal::rng::TryRng;
use hal::time::Instant;
use protocol::{
    BoundedList, ComponentHealth, ComponentId, Escalation, FaultCause, FaultKind, FaultNotice,
    HealthReport, HealthState, MAX_COMPONENTS, NodeMode, Ping, Pong, Progress, RestartOutcome,
    RestartRequest, RestartResult,
};

use crate::action::{
    Action, FaultVerdict, InputError, Kick, LeaveReason, PongVerdict, RestartVerdict, Withhold,
};
use crate::boot::BootInfo;
use crate::config::{ComponentConfig, Config, Restart};
use crate::liveness::{Liveness, PongMatch};
use crate::policy::{RestartBudget, next_backoff};

/// Where a component is in its life, as the watchdog sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started in this boot (safe mode).
    Inactive,
    /// Running: pinged if it has a health configuration.
    Running,
    /// Failed; its restart will be requested at `restart_at`.
    BackingOff {
        /// When the restart request goes out.
        restart_at: Instant,
        /// The fault being mended.
        cause: FaultCause,
    },
    /// A restart request is in flight.
    Restarting {
        /// Its id.
        request_id: u32,
        /// When it times out.
        deadline: Instant,
        /// The fault being mended.
        cause: FaultCause,
    },
    /// Failed and left down (policy or budget); reported.
    Held,
    /// Failed after the watchdog escalated (or escalated because of it): the board resets.
    Down,
}

/// Counters of inputs that changed nothing, for the wrapper's telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Pongs for pings already counted missed.
    pub late_pongs: u32,
    /// Pongs for pings already answered.
    pub duplicate_pongs: u32,
    /// Pongs that matched nothing, or arrived while the component was not running.
    pub stale_pongs: u32,
    /// Fault notices about components already being handled, or older than their start.
    pub ignored_faults: u32,
    /// Restart requests the monitor did not answer in time.
    pub restart_timeouts: u32,
    /// Pings not sent because the RNG failed.
    pub rng_failures: u32,
    /// Inputs refused with an [`InputError`].
    pub rejected: u32,
}

/// One component's state, for the wrapper, tests and `spacenode run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentStatus {
    /// Its phase.
    pub phase: Phase,
    /// Its state as reported to the ground.
    pub state: HealthState,
    /// Consecutive missed pings.
    pub missed: u32,
    /// Restarts since power-on.
    pub restarts: u32,
    /// Its last fault, if any.
    pub last_fault: FaultKind,
    /// Details of the last fault, if any.
    pub last_cause: Option<FaultCause>,
    /// Progress counters from its last on-time pong.
    pub progress: Progress,
    /// Round trip of its last on-time pong, microseconds.
    pub last_round_trip_us: u64,
    /// The back-off used for its last restart, ms.
    pub backoff_ms: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Tracker {
    cfg: ComponentConfig,
    phase: Phase,
    liveness: Option<Liveness>,
    /// When it last (re)started, as far as the watchdog knows.
    started_at: Instant,
    /// Fault notices stamped before this (monitor clock, ms) are about an older process.
    fault_floor_ms: u64,
    /// An on-time pong since the last start (always true for components not pinged).
    answered: bool,
    progress: Progress,
    /// Its last on-time pong said it runs degraded.
    degraded: bool,
    restarts: u32,
    backoff: Option<u32>,
    budget: Option<RestartBudget>,
    last_fault: FaultKind,
    last_cause: Option<FaultCause>,
}

/// What a report says about one component; a change of any of it triggers a report.
type Signature = (HealthState, u32, FaultKind);

/// The watchdog core. See the module docs.
#[derive(Debug, Clone)]
pub struct Watchdog {
    config: Config,
    boot: BootInfo,
    booted_at: Instant,
    now: Instant,
    trackers: [Option<Tracker>; MAX_COMPONENTS],
    ping_sequence: u32,
    next_request_id: u32,
    escalated: Option<Escalation>,
    leaving: Option<LeaveReason>,
    /// The ground commanded a reboot ([`Action::Reboot`]): kicks withheld.
    rebooting: bool,
    failures_since_boot: u32,
    healthy_since: Option<Instant>,
    cleared: bool,
    resets: u16,
    report_sequence: u32,
    last_report: Option<Instant>,
    reported: ([Option<Signature>; MAX_COMPONENTS], bool, u16),
    counters: Counters,
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

fn period_us(cfg: &ComponentConfig) -> u64 {
    cfg.health
        .map_or(0, |h| u64::from(h.ping_period_ms).saturating_mul(1_000))
}

impl Watchdog {
    /// A watchdog for `config` in the boot described by `boot`, started at `now`. In safe mode
    /// the components not marked `safe_mode` are inactive: not pinged, not restarted.
    pub fn new(config: Config, boot: BootInfo, now: Instant) -> Self {
        let mut trackers = [None; MAX_COMPONENTS];
        for (id, cfg) in config.components() {
            let active = boot.mode == NodeMode::Normal || cfg.safe_mode;
            let budget = match cfg.restart {
                Restart::Policy(p) => Some(RestartBudget::new(p.max_restarts, p.window_s)),
                _ => None,
            };
            let liveness = cfg.health.map(|_| Liveness::new(now, period_us(cfg)));
            if let Some(slot) = trackers.get_mut(usize::from(id.0)) {
                *slot = Some(Tracker {
                    cfg: *cfg,
                    phase: if active {
                        Phase::Running
                    } else {
                        Phase::Inactive
                    },
                    answered: liveness.is_none(),
                    liveness,
                    started_at: now,
                    // Faults from before the watchdog started still count: the component died
                    // before anyone could ping it.
                    fault_floor_ms: 0,
                    progress: Progress::default(),
                    degraded: false,
                    restarts: 0,
                    backoff: None,
                    budget,
                    last_fault: FaultKind::None,
                    last_cause: None,
                });
            }
        }
        Watchdog {
            resets: boot.resets,
            config,
            boot,
            booted_at: now,
            now,
            trackers,
            ping_sequence: 0,
            next_request_id: 0,
            escalated: None,
            leaving: None,
            rebooting: false,
            failures_since_boot: 0,
            healthy_since: None,
            cleared: false,
            report_sequence: 0,
            last_report: None,
            reported: ([None; MAX_COMPONENTS], false, 0),
            counters: Counters::default(),
        }
    }

    /// Advance to `now`: send due pings, count misses, request due restarts, time out
    /// unanswered restart requests, decide reports and counter clearing. Returns whether to kick
    /// the hardware watchdog. Call it at least as often as the shortest ping period (a tenth of
    /// it gives tight detection bounds).
    pub fn tick<R: TryRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        out: &mut impl FnMut(Action),
    ) -> Kick {
        let now = self.advance(now);
        for i in 0..MAX_COMPONENTS {
            let id = ComponentId(i as u8);
            let Some(t) = self.tracker(id) else { continue };
            match t.phase {
                Phase::Running => self.ping_if_due(id, now, rng, out),
                Phase::BackingOff { restart_at, cause } if now >= restart_at => {
                    self.restart(id, cause, now, out)
                }
                Phase::Restarting { deadline, .. } if now >= deadline => {
                    self.counters.restart_timeouts =
                        self.counters.restart_timeouts.saturating_add(1);
                    self.restart_failed(id, now, out);
                }
                _ => {}
            }
        }
        self.refresh(now, out);
        self.kick()
    }

    /// A pong arrived on `from`'s pong channel at `now`.
    pub fn on_pong(
        &mut self,
        from: ComponentId,
        pong: &Pong,
        now: Instant,
        out: &mut impl FnMut(Action),
    ) -> Result<PongVerdict, InputError> {
        self.input(now, out, |w, now, out| w.take_pong(from, pong, now, out))
    }

    /// The monitor reported a fault at `now`: act on it at once.
    pub fn on_fault(
        &mut self,
        notice: &FaultNotice,
        now: Instant,
        out: &mut impl FnMut(Action),
    ) -> Result<FaultVerdict, InputError> {
        self.input(now, out, |w, now, out| w.take_fault(notice, now, out))
    }

    /// The monitor answered a restart request at `now`.
    pub fn on_restart_result(
        &mut self,
        result: &RestartResult,
        now: Instant,
        out: &mut impl FnMut(Action),
    ) -> Result<RestartVerdict, InputError> {
        self.input(now, out, |w, now, out| w.take_result(result, now, out))
    }

    /// The ground's authenticated command to leave safe mode arrived at `now`. Refused outside
    /// safe mode; a repeat while already leaving changes nothing.
    pub fn on_leave_safe_mode(
        &mut self,
        now: Instant,
        out: &mut impl FnMut(Action),
    ) -> Result<(), InputError> {
        self.input(now, out, |w, _, out| {
            if w.boot.mode != NodeMode::Safe {
                return Err(InputError::NotInSafeMode);
            }
            w.leave_safe_mode(LeaveReason::Commanded, out);
            Ok(())
        })
    }

    /// The ground's authenticated command to reboot the board arrived at `now`: once per boot
    /// [`Action::Reboot`], then no more kicks. A repeat, or one while the board already resets
    /// (an escalation, leaving safe mode), changes nothing.
    pub fn on_reboot(
        &mut self,
        now: Instant,
        out: &mut impl FnMut(Action),
    ) -> Result<(), InputError> {
        self.input(now, out, |w, _, out| {
            if !w.rebooting && w.leaving.is_none() && w.escalated.is_none() {
                w.rebooting = true;
                out(Action::Reboot);
            }
            Ok(())
        })
    }

    /// Whether the watchdog is leaving safe mode (kicks withheld for a normal reboot), and why.
    pub fn leaving_safe_mode(&self) -> Option<LeaveReason> {
        self.leaving
    }

    fn leave_safe_mode(&mut self, reason: LeaveReason, out: &mut impl FnMut(Action)) {
        if self.leaving.is_none() {
            self.leaving = Some(reason);
            self.resets = 0;
            out(Action::LeaveSafeMode(reason));
        }
    }

    /// One input at `now`: advance the clock, let `take` act on it, count it if it was refused,
    /// then refresh the derived state. Every `on_*` entry point goes through here.
    fn input<T, O: FnMut(Action)>(
        &mut self,
        now: Instant,
        out: &mut O,
        take: impl FnOnce(&mut Self, Instant, &mut O) -> Result<T, InputError>,
    ) -> Result<T, InputError> {
        let now = self.advance(now);
        let r = take(self, now, out);
        if r.is_err() {
            self.counters.rejected = self.counters.rejected.saturating_add(1);
        }
        self.refresh(now, out);
        r
    }

    /// Whether to kick the hardware watchdog: yes while every critical component is within its
    /// limits (not escalated, and pinged with real nonces).
    pub fn kick(&self) -> Kick {
        if let Some(e) = self.escalated {
            return Kick::Withhold(Withhold::Escalated(e));
        }
        if let Some(r) = self.leaving {
            return Kick::Withhold(Withhold::LeavingSafeMode(r));
        }
        if self.rebooting {
            return Kick::Withhold(Withhold::Rebooting);
        }
        for (i, t) in self.trackers.iter().enumerate() {
            let Some(t) = t else { continue };
            if !t.cfg.critical || t.phase == Phase::Inactive {
                continue;
            }
            if let (Some(l), Some(h)) = (&t.liveness, t.cfg.health)
                && l.unsent() >= h.fatal_after
            {
                return Kick::Withhold(Withhold::NoNonces(ComponentId(i as u8)));
            }
        }
        Kick::Kick
    }

    /// How long the node has been healthy (every active component running, answering, none
    /// late), provided no component failed and nothing escalated since boot. `None` otherwise.
    /// The upgrade agent confirms a trial boot once this reaches its threshold.
    pub fn healthy_since_boot(&self, now: Instant) -> Option<Duration> {
        if self.failures_since_boot > 0 || self.escalated.is_some() {
            return None;
        }
        let since = self.healthy_since?;
        Some(now.max(self.now).saturating_duration_since(since))
    }

    /// The escalation of this boot, if any.
    pub fn escalation(&self) -> Option<Escalation> {
        self.escalated
    }

    /// The boot this watchdog runs in.
    pub fn boot(&self) -> &BootInfo {
        &self.boot
    }

    /// Board resets as last known (0 once the counter was cleared in this boot).
    pub fn resets(&self) -> u16 {
        self.resets
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters of ignored and refused inputs.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Component `id`'s state, if it exists.
    pub fn status(&self, id: ComponentId) -> Option<ComponentStatus> {
        let t = self.tracker(id)?;
        Some(ComponentStatus {
            phase: t.phase,
            state: state_of(t),
            missed: t.liveness.map_or(0, |l| l.missed()),
            restarts: t.restarts,
            last_fault: t.last_fault,
            last_cause: t.last_cause,
            progress: t.progress,
            last_round_trip_us: t.liveness.map_or(0, |l| l.last_round_trip_us()),
            backoff_ms: t.backoff,
        })
    }

    /// The health report as of `now` (each call takes the next report sequence number).
    pub fn health_report(&mut self, now: Instant) -> HealthReport {
        let now = now.max(self.now);
        let mut entries = [ComponentHealth::default(); MAX_COMPONENTS];
        let mut n = 0usize;
        for (i, t) in self.trackers.iter().enumerate() {
            let Some(t) = t else { continue };
            let since = t
                .liveness
                .and_then(|l| l.last_good())
                .unwrap_or(t.started_at);
            let age = now.saturating_duration_since(since).as_millis();
            if let Some(e) = entries.get_mut(n) {
                *e = ComponentHealth {
                    last_pong_age_ms: u32::try_from(age).unwrap_or(u32::MAX),
                    restarts: u16::try_from(t.restarts).unwrap_or(u16::MAX),
                    last_round_trip_us: t.liveness.map_or(0, |l| {
                        u16::try_from(l.last_round_trip_us()).unwrap_or(u16::MAX)
                    }),
                    component: ComponentId(i as u8),
                    state: state_of(t),
                    missed_pings: t
                        .liveness
                        .map_or(0, |l| u8::try_from(l.missed()).unwrap_or(u8::MAX)),
                    last_fault: t.last_fault,
                };
                n += 1;
            }
        }
        let healthy_ms = self
            .healthy_since_boot(now)
            .map_or(0, |d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX));
        let sequence = self.report_sequence;
        self.report_sequence = self.report_sequence.wrapping_add(1);
        HealthReport {
            uptime_ms: u64::try_from(Duration::from_micros(now.as_micros()).as_millis())
                .unwrap_or(u64::MAX),
            sequence,
            healthy_since_boot_ms: healthy_ms,
            resets: self.resets,
            mode: self.boot.mode,
            escalated: self.escalated.is_some() || self.leaving.is_some() || self.rebooting,
            last_escalation: self.escalated.or(self.boot.last_escalation),
            // n <= MAX_COMPONENTS, the list's capacity.
            components: BoundedList::new(entries.get(..n).unwrap_or(&[])).unwrap_or_default(),
        }
    }

    // ---- inputs --------------------------------------------------------------------------

    fn take_pong(
        &mut self,
        from: ComponentId,
        pong: &Pong,
        now: Instant,
        out: &mut impl FnMut(Action),
    ) -> Result<PongVerdict, InputError> {
        let t = self
            .tracker_mut(from)
            .ok_or(InputError::UnknownComponent(from))?;
        let (Some(h), Some(l)) = (t.cfg.health, t.liveness.as_mut()) else {
            return Err(InputError::NotPinged(from));
        };
        if pong.component != from {
            return Err(InputError::ComponentMismatch {
                channel: from,
                claimed: pong.component,
            });
        }
        if t.phase != Phase::Running {
            self.counters.stale_pongs = self.counters.stale_pongs.saturating_add(1);
            return Ok(PongVerdict::Stale);
        }
        let was_late = l.missed() >= h.warn_after;
        let matched = l.pong(pong.sequence, pong.nonce, now);
        if let PongMatch::OnTime { .. } = matched {
            t.answered = true;
            t.progress = pong.progress;
            t.degraded = pong.degraded;
        }
        let c = &mut self.counters;
        match matched {
            PongMatch::OnTime { round_trip_us } => {
                if was_late {
                    out(Action::Recovered { component: from });
                }
                Ok(PongVerdict::OnTime { round_trip_us })
            }
            PongMatch::Late => {
                c.late_pongs = c.late_pongs.saturating_add(1);
                Ok(PongVerdict::Late)
            }
            PongMatch::Duplicate => {
                c.duplicate_pongs = c.duplicate_pongs.saturating_add(1);
                Ok(PongVerdict::Duplicate)
            }
            PongMatch::Unknown => {
                c.stale_pongs = c.stale_pongs.saturating_add(1);
                Ok(PongVerdict::Stale)
            }
            PongMatch::WrongNonce { expected } => {
                let cause = FaultCause::WrongNonce {
                    expected,
                    received: pong.nonce,
                };
                self.fail(from, cause, now, out);
                Ok(PongVerdict::WrongNonce)
            }
        }
    }

    fn take_fault(
        &mut self,
        notice: &FaultNotice,
        now: Instant,
        out: &mut impl FnMut(Action),
    ) -> Result<FaultVerdict, InputError> {
        let id = notice.component;
        if id == self.config.self_id() {
            return Err(InputError::AboutSelf);
        }
        let t = self.tracker(id).ok_or(InputError::UnknownComponent(id))?;
        if t.phase != Phase::Running || notice.at_ms < t.fault_floor_ms {
            self.counters.ignored_faults = self.counters.ignored_faults.saturating_add(1);
            return Ok(FaultVerdict::Ignored);
        }
        self.fail(id, notice.cause, now, out);
        Ok(FaultVerdict::Acted)
    }

    fn take_result(
        &mut self,
        result: &RestartResult,
        now: Instant,
        out: &mut impl FnMut(Action),
    ) -> Result<RestartVerdict, InputError> {
        let id = result.component;
        let unexpected = InputError::UnexpectedResult {
            component: id,
            request_id: result.request_id,
        };
        let t = self
            .tracker_mut(id)
            .ok_or(InputError::UnknownComponent(id))?;
        match t.phase {
            Phase::Restarting { request_id, .. } if request_id == result.request_id => {}
            _ => return Err(unexpected),
        }
        match result.outcome {
            RestartOutcome::Restarted { .. } => {
                t.restarts = t.restarts.saturating_add(1);
                t.started_at = now;
                t.fault_floor_ms = now.as_micros() / 1_000;
                t.answered = t.liveness.is_none();
                t.degraded = false;
                t.liveness = t.cfg.health.map(|_| Liveness::new(now, period_us(&t.cfg)));
                t.phase = Phase::Running;
                Ok(RestartVerdict::Running)
            }
            RestartOutcome::Refused { .. } => {
                t.last_fault = FaultKind::RestartFailed;
                t.phase = Phase::Running; // leaves Restarting; give_up sets the final phase
                self.failures_since_boot = self.failures_since_boot.saturating_add(1);
                self.give_up(id, FaultKind::RestartFailed, out);
                Ok(RestartVerdict::Failed)
            }
            RestartOutcome::Failed => {
                self.restart_failed(id, now, out);
                Ok(RestartVerdict::Failed)
            }
        }
    }

    // ---- decisions -----------------------------------------------------------------------

    fn ping_if_due<R: TryRng + ?Sized>(
        &mut self,
        id: ComponentId,
        now: Instant,
        rng: &mut R,
        out: &mut impl FnMut(Action),
    ) {
        let sequence = self.ping_sequence;
        let Some(t) = self.tracker_mut(id) else {
            return;
        };
        let (Some(h), Some(l)) = (t.cfg.health, t.liveness.as_mut()) else {
            return;
        };
        if !l.due(now) {
            return;
        }
        let missed = l.close_period();
        if missed >= h.fatal_after {
            let count = u8::try_from(missed).unwrap_or(u8::MAX);
            self.fail(id, FaultCause::MissedPings { count }, now, out);
            return;
        }
        if missed == h.warn_after {
            out(Action::Late {
                component: id,
                missed,
            });
        }
        let period = u64::from(h.ping_period_ms).saturating_mul(1_000);
        match rng.try_next_u64() {
            Ok(nonce) => {
                l.sent(sequence, nonce, now, period);
                self.ping_sequence = sequence.wrapping_add(1);
                out(Action::Ping {
                    component: id,
                    ping: Ping { nonce, sequence },
                });
            }
            Err(_) => {
                l.not_sent(now, period);
                self.counters.rng_failures = self.counters.rng_failures.saturating_add(1);
            }
        }
    }

    /// `id` failed with `cause` at `now`: record it and apply its policy.
    fn fail(
        &mut self,
        id: ComponentId,
        cause: FaultCause,
        now: Instant,
        out: &mut impl FnMut(Action),
    ) {
        let Some(t) = self.tracker_mut(id) else {
            return;
        };
        t.last_fault = FaultKind::from(cause);
        t.last_cause = Some(cause);
        self.failures_since_boot = self.failures_since_boot.saturating_add(1);
        self.apply_policy(id, cause, now, out);
    }

    /// The restart of `id` failed (monitor could not start it, or never answered): as far as
    /// the back-off is concerned it ran for no time at all; apply its policy again.
    fn restart_failed(&mut self, id: ComponentId, now: Instant, out: &mut impl FnMut(Action)) {
        let Some(t) = self.tracker_mut(id) else {
            return;
        };
        let cause = match t.phase {
            Phase::Restarting { cause, .. } => cause,
            _ => return,
        };
        t.last_fault = FaultKind::RestartFailed;
        t.started_at = now;
        self.failures_since_boot = self.failures_since_boot.saturating_add(1);
        self.apply_policy(id, cause, now, out);
    }

    fn apply_policy(
        &mut self,
        id: ComponentId,
        cause: FaultCause,
        now: Instant,
        out: &mut impl FnMut(Action),
    ) {
        let escalated = self.escalated.is_some();
        let Some(t) = self.tracker_mut(id) else {
            return;
        };
        if escalated {
            t.phase = Phase::Down;
            return;
        }
        let kind = t.last_fault;
        match (t.cfg.restart, t.budget) {
            (Restart::Policy(p), Some(budget)) => {
                let ran = now.saturating_duration_since(t.started_at).as_millis();
                let ran_ms = u64::try_from(ran).unwrap_or(u64::MAX);
                let backoff = next_backoff(t.backoff, ran_ms, &p);
                let restart_at = now.saturating_add(ms(backoff));
                if budget.allows(restart_at) {
                    t.backoff = Some(backoff);
                    t.phase = Phase::BackingOff { restart_at, cause };
                } else {
                    self.give_up(id, kind, out);
                }
            }
            _ => self.give_up(id, kind, out),
        }
    }

    /// No (more) restarts for `id`: hold it, or escalate if it is critical.
    fn give_up(&mut self, id: ComponentId, fault: FaultKind, out: &mut impl FnMut(Action)) {
        let Some(t) = self.tracker_mut(id) else {
            return;
        };
        if t.cfg.critical {
            t.phase = Phase::Down;
            if self.escalated.is_none() {
                let e = Escalation {
                    component: id,
                    fault,
                };
                self.escalated = Some(e);
                out(Action::Escalate(e));
            }
        } else {
            t.phase = Phase::Held;
            out(Action::Held {
                component: id,
                fault,
            });
        }
    }

    /// The back-off of `id` elapsed: request its restart, and its companions'.
    fn restart(
        &mut self,
        id: ComponentId,
        cause: FaultCause,
        now: Instant,
        out: &mut impl FnMut(Action),
    ) {
        let escalated = self.escalated.is_some();
        let Some(t) = self.tracker_mut(id) else {
            return;
        };
        if escalated {
            t.phase = Phase::Down;
            return;
        }
        let kind = t.last_fault;
        let Restart::Policy(p) = t.cfg.restart else {
            self.give_up(id, kind, out);
            return;
        };
        let in_budget = t.budget.as_mut().is_some_and(|b| b.consume(now));
        if !in_budget {
            self.give_up(id, kind, out);
            return;
        }
        self.send_restart(id, cause, now, out);
        for companion in p.with.iter() {
            let Some(c) = self.tracker(companion) else {
                continue;
            };
            if matches!(c.phase, Phase::Running | Phase::BackingOff { .. }) {
                self.send_restart(companion, cause, now, out);
            }
        }
    }

    fn send_restart(
        &mut self,
        id: ComponentId,
        cause: FaultCause,
        now: Instant,
        out: &mut impl FnMut(Action),
    ) {
        let request_id = self.next_request_id;
        self.next_request_id = request_id.wrapping_add(1);
        let deadline = now.saturating_add(ms(self.config.tuning().restart_timeout_ms));
        let Some(t) = self.tracker_mut(id) else {
            return;
        };
        t.phase = Phase::Restarting {
            request_id,
            deadline,
            cause,
        };
        out(Action::Restart(RestartRequest {
            request_id,
            component: id,
            cause,
        }));
    }

    /// After every input: track continuous health, clear the reset counter when due, decide a
    /// health report.
    fn refresh(&mut self, now: Instant, out: &mut impl FnMut(Action)) {
        let healthy = self.escalated.is_none()
            && self.trackers.iter().flatten().all(|t| match t.phase {
                Phase::Inactive => true,
                Phase::Running => t.answered && state_of(t) == HealthState::Healthy,
                _ => false,
            });
        if !healthy {
            self.healthy_since = None;
        } else if self.healthy_since.is_none() {
            self.healthy_since = Some(now);
        }
        let tuning = *self.config.tuning();
        if self.boot.mode == NodeMode::Normal
            && !self.cleared
            && self
                .healthy_since
                .is_some_and(|s| now.saturating_duration_since(s) >= ms(tuning.clear_after_ms))
        {
            self.cleared = true;
            self.resets = 0;
            out(Action::ClearResetCounter);
        }
        if self.boot.mode == NodeMode::Safe
            && self
                .healthy_since
                .is_some_and(|s| now.saturating_duration_since(s) >= ms(tuning.safe_mode_decay_ms))
        {
            self.leave_safe_mode(LeaveReason::Decayed, out);
        }
        let signature = self.signature();
        let since_last = self.last_report.map(|t| now.saturating_duration_since(t));
        let changed = signature != self.reported;
        let due = match since_last {
            None => true,
            Some(d) => {
                d >= ms(tuning.report_period_ms)
                    || (changed && d >= ms(tuning.report_min_interval_ms))
            }
        };
        if due {
            self.last_report = Some(now);
            self.reported = signature;
            out(Action::SendHealthReport);
        }
    }

    fn signature(&self) -> ([Option<Signature>; MAX_COMPONENTS], bool, u16) {
        let mut s = [None; MAX_COMPONENTS];
        for (slot, t) in s.iter_mut().zip(self.trackers.iter()) {
            *slot = t.as_ref().map(|t| (state_of(t), t.restarts, t.last_fault));
        }
        (
            s,
            self.escalated.is_some() || self.leaving.is_some() || self.rebooting,
            self.resets,
        )
    }

    fn advance(&mut self, now: Instant) -> Instant {
        // The clock is monotonic by contract; an earlier value is taken as "no time passed".
        self.now = self.now.max(now);
        self.now
    }

    fn tracker(&self, id: ComponentId) -> Option<&Tracker> {
        self.trackers.get(usize::from(id.0))?.as_ref()
    }

    fn tracker_mut(&mut self, id: ComponentId) -> Option<&mut Tracker> {
        self.trackers.get_mut(usize::from(id.0))?.as_mut()
    }

    /// When the watchdog started.
    pub fn booted_at(&self) -> Instant {
        self.booted_at
    }
}

fn state_of(t: &Tracker) -> HealthState {
    match t.phase {
        Phase::Inactive => HealthState::Inactive,
        Phase::Running => match (t.cfg.health, t.liveness) {
            (Some(h), Some(l)) if l.missed() >= h.warn_after => HealthState::Late,
            _ if t.degraded => HealthState::Degraded,
            _ => HealthState::Healthy,
        },
        Phase::BackingOff { .. } | Phase::Down => HealthState::Failed,
        Phase::Restarting { .. } => HealthState::Restarting,
        Phase::Held => HealthState::Stopped,
    }
}
