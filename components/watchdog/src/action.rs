//! What the watchdog core asks its wrapper to do, and how it classifies each input.
//!
//! The core never performs I/O. Every method that takes an input hands the resulting
//! [`Action`]s, in order, to a sink closure; the wrapper executes them (send on a channel, write
//! flash, log). The hardware-watchdog decision is returned by [`crate::Watchdog::tick`] as a
//! [`Kick`].
//!
//! Avoids: channel handles, flash, logging; everything here is plain data.

use protocol::{ComponentId, Escalation, FaultKind, Ping, RestartRequest};

/// One thing for the wrapper to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send `ping` on `component`'s ping channel. If the channel is full, drop it: the ping then
    /// counts as missed, which is what a component that does not drain its ring deserves.
    Ping {
        /// Who to ping.
        component: ComponentId,
        /// The ping, with a fresh nonce.
        ping: Ping,
    },
    /// Send this request on the restart channel to the monitor. If the channel is full the
    /// request is lost and times out like an unanswered one (`Tuning::restart_timeout_ms`),
    /// which counts as a failed restart.
    Restart(RestartRequest),
    /// `component` missed `missed` pings in a row and is now late (a warning: log it).
    Late {
        /// The late component.
        component: ComponentId,
        /// Consecutive missed pings.
        missed: u32,
    },
    /// `component` answered in time again after being late (log it).
    Recovered {
        /// The component.
        component: ComponentId,
    },
    /// `component` failed and will not be restarted: it stays down and the health report says
    /// so. Log it with its fault.
    Held {
        /// The held component.
        component: ComponentId,
        /// Its last fault.
        fault: FaultKind,
    },
    /// Escalate to a board reset. The wrapper records the escalation on flash
    /// ([`crate::ResetCounter::record_escalation`]) and sends a health report first; from now on
    /// [`crate::Watchdog::tick`] answers [`Kick::Withhold`], and the hardware watchdog timer
    /// resets the board. Emitted once per boot.
    Escalate(Escalation),
    /// The node has been continuously healthy for `Tuning::clear_after_ms` in normal mode: clear
    /// the reset counter ([`crate::ResetCounter::mark_healthy`]). Emitted at most once per boot.
    ClearResetCounter,
    /// Leave safe mode, for this reason. The wrapper clears the reset counter and marks a clean
    /// power-off in one write ([`crate::ResetCounter::leave_safe_mode`]) and sends a health
    /// report; from now on [`crate::Watchdog::tick`] answers [`Kick::Withhold`], the hardware
    /// watchdog timer resets the board, and the next boot is normal and not counted. If the
    /// write fails the reset counts as a fault and the node boots in safe mode again (the
    /// ground sees it and can retry). Emitted at most once per boot.
    LeaveSafeMode(LeaveReason),
    /// The ground commanded a reboot. The wrapper marks a clean power-off
    /// ([`crate::ResetCounter::mark_clean_power_off`]: the count stays where it is, so repeated
    /// reboots never push the node into safe mode, nor out of it) and sends a health report;
    /// from now on [`crate::Watchdog::tick`] answers [`Kick::Withhold`] and the hardware watchdog
    /// timer resets the board through the normal boot path (the boot is counted in the total).
    /// If the write fails the reset counts as a fault (the safe side). Emitted at most once per
    /// boot.
    Reboot,
    /// Build a report with [`crate::Watchdog::health_report`] and send it to every health-report
    /// channel (comms for the ground, the upgrade agent). Emitted when something reportable
    /// changed (at most once per `Tuning::report_min_interval_ms`) and at least every
    /// `Tuning::report_period_ms`.
    SendHealthReport,
}

/// Why the node leaves safe mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// The ground's authenticated command.
    Commanded,
    /// Safe mode decayed: every active component was healthy for
    /// `Tuning::safe_mode_decay_ms`.
    Decayed,
}

/// Whether to kick the hardware watchdog timer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kick {
    /// Kick it: every critical component is within its limits.
    Kick,
    /// Do not kick it: the board must reset.
    Withhold(Withhold),
}

/// Why the hardware watchdog is no longer kicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withhold {
    /// A critical component failed beyond what its policy can mend.
    Escalated(Escalation),
    /// No nonce could be drawn for `fatal-after` consecutive pings of this critical component:
    /// the watchdog is blind and cannot vouch for it.
    NoNonces(ComponentId),
    /// Leaving safe mode: the board resets into a normal boot.
    LeavingSafeMode(LeaveReason),
    /// The ground commanded a reboot: the board resets.
    Rebooting,
}

/// How a pong was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PongVerdict {
    /// Answered the open ping in time.
    OnTime {
        /// Round trip in microseconds.
        round_trip_us: u64,
    },
    /// Answered an older ping: that ping stays missed.
    Late,
    /// Answered a ping already answered.
    Duplicate,
    /// Matched no ping remembered, or the component is not running (restarting, held): ignored.
    Stale,
    /// Echoed a wrong nonce: the component was failed at once.
    WrongNonce,
}

/// How a fault notice was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultVerdict {
    /// The component was failed at once and its policy applied.
    Acted,
    /// The component is already being handled (failed, restarting, held) or is not running in
    /// this mode; or the notice predates its current start. Nothing changed.
    Ignored,
}

/// How a restart result was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartVerdict {
    /// The component runs again and is pinged from now on.
    Running,
    /// The restart failed; the component's policy was applied again (retry, hold or escalate).
    Failed,
}

/// An input the watchdog refused. The wrapper counts it and carries on; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputError {
    /// No component has this id.
    UnknownComponent(ComponentId),
    /// A pong from a component the watchdog does not ping (no `health` in the description).
    NotPinged(ComponentId),
    /// A pong whose `component` field is not the component whose channel it arrived on.
    ComponentMismatch {
        /// The channel's component.
        channel: ComponentId,
        /// What the pong claims.
        claimed: ComponentId,
    },
    /// A fault notice about the watchdog itself (it cannot act on its own death).
    AboutSelf,
    /// A restart result for no restart request in flight (unknown id, wrong component, or
    /// already answered or timed out).
    UnexpectedResult {
        /// The component named in the result.
        component: ComponentId,
        /// The request id in the result.
        request_id: u32,
    },
    /// A command to leave safe mode while the node is not in safe mode.
    NotInSafeMode,
}

impl core::fmt::Display for InputError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InputError::UnknownComponent(c) => write!(f, "no component has id {}", c.0),
            InputError::NotPinged(c) => write!(f, "component {} is not pinged", c.0),
            InputError::ComponentMismatch { channel, claimed } => write!(
                f,
                "pong on component {}'s channel claims to be from component {}",
                channel.0, claimed.0
            ),
            InputError::AboutSelf => f.write_str("fault notice about the watchdog itself"),
            InputError::UnexpectedResult {
                component,
                request_id,
            } => write!(
                f,
                "restart result {request_id} for component {} matches no request in flight",
                component.0
            ),
            InputError::NotInSafeMode => f.write_str("the node is not in safe mode"),
        }
    }
}

impl core::error::Error for InputError {}

impl core::fmt::Display for LeaveReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            LeaveReason::Commanded => "commanded by the ground",
            LeaveReason::Decayed => "healthy for the decay period",
        })
    }
}
