//! The event loop: wait, answer pings, call the handler, repeat.
//!
//! ```text
//! heartbeat = take ping/pong channels from caps
//! component = C::init(caps)
//! loop:
//!     set = backend.wait(component's wake-up deadline)
//!     if the ping channel fired: answer every ping        <- only here, between handler calls
//!     if the deadline passed: add TIMER to set
//!     if set is not empty: component.notified(set)
//! ```
//!
//! [`run`] ends only if waiting fails ([`RunError::Wait`]); the board then ends the process and
//! the monitor reports it. A component whose `init` fails (a damaged store it cannot do without,
//! a capability missing) does not end the process: the loop goes on **degraded**, answering
//! pings with the degraded flag set and nothing else, after logging why. Ending the process
//! would only have the watchdog restart it into the same failure, in a loop that ends with the
//! component held or, for a critical one, with board resets; degraded, it stays visible (the
//! health report shows it degraded) and the node stays up (issue 13 finding 1).
//!
//! Avoids: timers of its own (the deadline is passed to the backend) and calling the handler
//! with an empty set.

use crate::backend::{WaitBackend, WaitError};
use crate::caps::{CapError, CapSet};
use crate::component::{Component, Context, InitError};
use crate::heartbeat::Heartbeat;
use crate::notify_set::Source;

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunError {
    /// The ping/pong channels could not be taken.
    Heartbeat(CapError),
    /// The component's `init` failed.
    Init(InitError),
    /// The board's wait failed.
    Wait(WaitError),
}

impl core::fmt::Display for RunError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RunError::Heartbeat(e) => write!(f, "ping/pong channels: {e}"),
            RunError::Init(e) => write!(f, "component init failed: {e}"),
            RunError::Wait(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for RunError {}

/// A running component, for boards and tests that drive the loop step by step.
pub struct Runner<C> {
    component: C,
    heartbeat: Option<Heartbeat>,
    cx: Context,
}

impl<C: Component> Runner<C> {
    /// Takes the heartbeat channels and runs `C::init`.
    pub fn start(mut caps: CapSet, backend: &impl WaitBackend) -> Result<Self, RunError> {
        let heartbeat = Heartbeat::take(&mut caps).map_err(RunError::Heartbeat)?;
        let mut cx = Context::new(caps.component(), backend.now());
        let component = C::init(&mut caps, &mut cx).map_err(RunError::Init)?;
        for name in caps.untaken() {
            log::debug!("granted but unused: {name}");
        }
        Ok(Runner {
            component,
            heartbeat,
            cx,
        })
    }

    /// One iteration: wait, answer pings, call the handler.
    pub fn step(&mut self, backend: &mut impl WaitBackend) -> Result<(), RunError> {
        let mut set = backend
            .wait(self.cx.pending_wake())
            .map_err(RunError::Wait)?;
        let now = backend.now();
        self.cx.set_now(now);
        self.cx.count_iteration();
        if let Some(hb) = &mut self.heartbeat
            && set.remove(hb.source())
        {
            hb.answer(&mut self.cx);
        }
        set.remove(Source::TIMER);
        if self.cx.take_due_wake(now) {
            set.insert(Source::TIMER);
        }
        if !set.is_empty() {
            self.component.notified(set, &mut self.cx);
        }
        Ok(())
    }

    /// The component.
    pub fn component(&self) -> &C {
        &self.component
    }

    /// The context (progress counters, pending wake-up).
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// The heartbeat, if the component has ping/pong channels.
    pub fn heartbeat(&self) -> Option<&Heartbeat> {
        self.heartbeat.as_ref()
    }
}

/// Runs component `C` on `caps` until waiting fails; degraded if `C::init` fails (see the
/// module docs).
pub fn run<C: Component>(
    mut caps: CapSet,
    mut backend: impl WaitBackend,
) -> Result<core::convert::Infallible, RunError> {
    let heartbeat = Heartbeat::take(&mut caps).map_err(RunError::Heartbeat)?;
    let mut cx = Context::new(caps.component(), backend.now());
    match C::init(&mut caps, &mut cx) {
        Ok(component) => {
            let mut runner = Runner {
                component,
                heartbeat,
                cx,
            };
            loop {
                runner.step(&mut backend)?;
            }
        }
        Err(e) => {
            log::error!(
                "component init failed: {e}; running DEGRADED: answering pings only, reported degraded in every pong"
            );
            cx.set_degraded(true);
            backend.ignore_devices();
            let mut heartbeat = heartbeat;
            loop {
                let set = backend.wait(None).map_err(RunError::Wait)?;
                cx.set_now(backend.now());
                cx.count_iteration();
                if let Some(hb) = &mut heartbeat
                    && set.contains(hb.source())
                {
                    hb.answer(&mut cx);
                }
            }
        }
    }
}
