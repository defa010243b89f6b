//! What the monitor reports, as values: the `run` command prints them as its log, tests collect
//! them. Each has a one-line `Display` that is the log line.
//!
//! Avoids: formatting decisions beyond one line per event.

use super::exit::describe;
use protocol::{FaultCause, RebootReason, RestartRefusal};
use std::fmt;

/// Why the board was power-cycled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetCause {
    /// A component holding a reboot channel asked for it.
    RebootRequest {
        /// The requesting component.
        requester: String,
        /// Its reason.
        reason: RebootReason,
        /// Its request id.
        request_id: u32,
    },
    /// The hardware watchdog timer ran out.
    HardwareWatchdog {
        /// The missed deadline, milliseconds since the previous power-on.
        at_ms: u64,
    },
}

impl ResetCause {
    /// Whether the cycle ends on purpose (a reboot requested for any reason but a watchdog
    /// escalation), so the next boot is not counted as a reset. A hardware watchdog expiry never
    /// is.
    pub fn is_clean(&self) -> bool {
        match self {
            ResetCause::RebootRequest { reason, .. } => {
                !matches!(reason, RebootReason::WatchdogEscalation)
            }
            ResetCause::HardwareWatchdog { .. } => false,
        }
    }
}

impl fmt::Display for ResetCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResetCause::RebootRequest {
                requester,
                reason,
                request_id,
            } => write!(
                f,
                "reboot requested by {requester} ({reason}, request {request_id})"
            ),
            ResetCause::HardwareWatchdog { at_ms } => write!(
                f,
                "hardware watchdog expired at {at_ms} ms (not kicked in time)"
            ),
        }
    }
}

/// One thing the monitor did or saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorEvent {
    /// The board powered on (power cycle `cycle`, counted from 1 in this `run`).
    PowerOn {
        /// Power cycle number.
        cycle: u32,
        /// Why the previous cycle ended, if it was a reset.
        after: Option<ResetCause>,
        /// Boot control's choice, as text.
        boot: String,
    },
    /// A device stand-in was set up.
    Device {
        /// Device name.
        device: String,
        /// Its owner.
        owner: String,
        /// What it is.
        note: String,
    },
    /// The reset counter was counted for this power cycle and the mode decided (before any
    /// component starts).
    Mode {
        /// Normal or safe mode.
        mode: protocol::NodeMode,
        /// Resets since the node was last healthy; `None` without a counter.
        resets: Option<u16>,
        /// The description's cap.
        max_resets: u32,
        /// Where the counter is, or why there is none or it failed.
        note: String,
        /// Components not started in this mode.
        not_started: Vec<String>,
    },
    /// A component process started.
    Started {
        /// Component name.
        component: String,
        /// Its pid.
        pid: u32,
        /// Its capabilities, one short text each (`send sign-responses`, ...).
        grants: Vec<String>,
        /// Restart number (0 for the first start of this power cycle).
        restart: u16,
    },
    /// A line a component wrote to its log.
    Log {
        /// Component name.
        component: String,
        /// The line.
        line: String,
    },
    /// A component process ended without being asked to.
    Fault {
        /// Component name.
        component: String,
        /// Its pid.
        pid: u32,
        /// Why.
        cause: FaultCause,
        /// Whether the fault notice reached the watchdog's channel (false: no channel, or full).
        notified: bool,
    },
    /// A restart request was executed.
    Restarted {
        /// Component name.
        component: String,
        /// Restarts since power-on.
        restarts: u16,
        /// The request id.
        request_id: u32,
    },
    /// A restart request was refused.
    RestartRefused {
        /// The component id asked for.
        target: u8,
        /// Why.
        reason: RestartRefusal,
        /// The request id.
        request_id: u32,
    },
    /// A message on one of the monitor's channels was rejected (malformed or forged).
    Rejected {
        /// Channel name.
        channel: String,
        /// What was wrong.
        what: String,
        /// Rejections on this channel since power-on.
        count: u64,
    },
    /// The board is being reset.
    Reset(ResetCause),
    /// Every component was stopped; the monitor exits.
    Stopped {
        /// Components that were running and were stopped.
        components: usize,
    },
}

impl fmt::Display for MonitorEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MonitorEvent::PowerOn { cycle, after, boot } => {
                write!(f, "[monitor] power-on #{cycle}")?;
                if let Some(c) = after {
                    write!(f, " after reset: {c}")?;
                }
                write!(f, "; boot control: {boot}")
            }
            MonitorEvent::Device {
                device,
                owner,
                note,
            } => write!(f, "[monitor] device {device} -> {owner}: {note}"),
            MonitorEvent::Mode {
                mode,
                resets,
                max_resets,
                note,
                not_started,
            } => {
                f.write_str("[monitor] ")?;
                match resets {
                    Some(r) => write!(
                        f,
                        "{note}: {r} resets since the node was last healthy (cap {max_resets})"
                    )?,
                    None => f.write_str(note)?,
                }
                match mode {
                    protocol::NodeMode::Normal => f.write_str("; normal boot"),
                    protocol::NodeMode::Safe => write!(
                        f,
                        "; SAFE MODE: only safe-mode components start (not started: {})",
                        not_started.join(", ")
                    ),
                }
            }
            MonitorEvent::Started {
                component,
                pid,
                grants,
                restart,
            } => {
                let what = if *restart == 0 {
                    "started"
                } else {
                    "restarted"
                };
                write!(f, "[monitor] {component} {what} (pid {pid}): ")?;
                if grants.is_empty() {
                    f.write_str("no capabilities")
                } else {
                    f.write_str(&grants.join(", "))
                }
            }
            MonitorEvent::Log { component, line } => write!(f, "[{component}] {line}"),
            MonitorEvent::Fault {
                component,
                pid,
                cause,
                notified,
            } => write!(
                f,
                "[monitor] FAULT {component} (pid {pid}) {}; {}",
                describe(cause),
                if *notified {
                    "fault notice sent to the watchdog"
                } else {
                    "fault notice NOT delivered (no fault channel or it is full)"
                }
            ),
            MonitorEvent::Restarted {
                component,
                restarts,
                request_id,
            } => write!(
                f,
                "[monitor] restart request {request_id}: {component} restarted ({restarts} since power-on)"
            ),
            MonitorEvent::RestartRefused {
                target,
                reason,
                request_id,
            } => write!(
                f,
                "[monitor] restart request {request_id} for component id {target} refused: {reason}"
            ),
            MonitorEvent::Rejected {
                channel,
                what,
                count,
            } => write!(
                f,
                "[monitor] rejected a message on {channel}: {what} ({count} so far)"
            ),
            MonitorEvent::Reset(c) => write!(f, "[monitor] RESET: {c}; power-cycling the board"),
            MonitorEvent::Stopped { components } => {
                write!(f, "[monitor] stopped {components} components; board off")
            }
        }
    }
}
