//! The component trait and the context its handlers get.
//!
//! Like a Microkit protection domain: [`Component::init`] runs once with the capability set,
//! [`Component::notified`] runs every time sources fired. Handlers must return promptly: the
//! event loop answers the watchdog's pings only between handler calls, so a handler that blocks
//! or spins shows up as missed pings (by design). Long work is split across notifications, using
//! [`Context::wake_at`] to be called again.
//!
//! Avoids: blocking calls in the trait (there are none to make: the board waits, not the
//! component) and any OS handle in the context.

use crate::caps::{CapError, CapSet};
use crate::notify_set::NotifySet;
use hal::time::Instant;
use protocol::{ComponentId, Progress};

/// Why a component could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// A capability it needs is missing or unusable.
    Cap(CapError),
    /// Its own check failed (the text says which).
    Component(&'static str),
}

impl From<CapError> for InitError {
    fn from(e: CapError) -> Self {
        InitError::Cap(e)
    }
}

impl core::fmt::Display for InitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InitError::Cap(e) => write!(f, "capability: {e}"),
            InitError::Component(s) => f.write_str(s),
        }
    }
}

impl core::error::Error for InitError {}

/// What a handler may ask of the runtime: the time, a wake-up, its progress counters.
#[derive(Debug)]
pub struct Context {
    component: ComponentId,
    now: Instant,
    wake_at: Option<Instant>,
    progress: Progress,
    degraded: bool,
}

impl Context {
    /// A context for component `component` at time `now` (built by the event loop).
    pub fn new(component: ComponentId, now: Instant) -> Self {
        Context {
            component,
            now,
            wake_at: None,
            progress: Progress::default(),
            degraded: false,
        }
    }

    /// This component's id.
    pub fn component(&self) -> ComponentId {
        self.component
    }

    /// Board time when the current handler call started.
    pub fn now(&self) -> Instant {
        self.now
    }

    pub(crate) fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    /// Asks to be notified with [`crate::Source::TIMER`] at `at` (replaces an earlier request;
    /// one-shot).
    pub fn wake_at(&mut self, at: Instant) {
        self.wake_at = Some(at);
    }

    /// Cancels a pending [`Context::wake_at`].
    pub fn cancel_wake(&mut self) {
        self.wake_at = None;
    }

    /// The pending wake-up, if any.
    pub fn pending_wake(&self) -> Option<Instant> {
        self.wake_at
    }

    pub(crate) fn take_due_wake(&mut self, now: Instant) -> bool {
        match self.wake_at {
            Some(t) if t <= now => {
                self.wake_at = None;
                true
            }
            _ => false,
        }
    }

    /// Counts `n` messages received and handled (reported in pongs).
    pub fn count_in(&mut self, n: u32) {
        self.progress.messages_in = self.progress.messages_in.wrapping_add(n);
    }

    /// Counts `n` messages sent.
    pub fn count_out(&mut self, n: u32) {
        self.progress.messages_out = self.progress.messages_out.wrapping_add(n);
    }

    /// Counts `n` malformed messages dropped.
    pub fn count_malformed(&mut self, n: u32) {
        self.progress.malformed = self.progress.malformed.wrapping_add(n);
    }

    pub(crate) fn count_iteration(&mut self) {
        self.progress.loop_iterations = self.progress.loop_iterations.wrapping_add(1);
    }

    /// The progress counters so far.
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// Report this component degraded (or no longer) in every pong from now on: it runs but
    /// cannot do its whole job (a damaged store), and has logged why. The watchdog shows it as
    /// degraded in the health report the ground reads, and does not restart it.
    pub fn set_degraded(&mut self, degraded: bool) {
        self.degraded = degraded;
    }

    /// Whether the component reports itself degraded.
    pub fn degraded(&self) -> bool {
        self.degraded
    }
}

/// A component: built from its capabilities, then driven by notifications.
pub trait Component: Sized {
    /// Builds the component from its capabilities (taking the ones it uses). Runs once, before
    /// any notification; the watchdog's ping channel has already been taken by the runtime.
    fn init(caps: &mut CapSet, cx: &mut Context) -> Result<Self, InitError>;

    /// Handles the sources in `set` (never empty, never the ping channel).
    fn notified(&mut self, set: NotifySet, cx: &mut Context);
}
