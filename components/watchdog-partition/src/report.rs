//! Health reports out of the partition: sent on every health-report channel, and logged as one
//! compact status line only when something a reader cares about changed, so `spacenode run`
//! shows one line per change and never a flood.
//!
//! What counts as a change ([`Key`]): the node's mode, reset count, escalation, and each
//! component's state, restart count and last fault kind. Round trips, ages, uptime and the
//! periodic re-sends the core asks for (`Tuning::report_period_ms`) change nothing.
//! The line is `watchdog::StatusLine` followed by each component's progress (event-loop
//! iterations from its last on-time pong), so a reader sees the others kept working:
//!
//! ```text
//! health #4 up 3.1s normal resets 0 | monitor ok 80us | watchdog ok 0us | comms ok 95us | signer restarting r1 missed-pings | upgrade ok 90us ; progress monitor 31 comms 30 signer 12 upgrade 15
//! ```
//!
//! Avoids: allocation (the line is formatted straight into the log record) and logging the
//! same state twice.

use crate::table::{self, COUNT};
use core::fmt;
use protocol::{Escalation, FaultKind, HealthReport, HealthState, NodeMode, Progress};
use watchdog::{StatusLine, Watchdog};

/// What a status line says, minus what changes all the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    mode: NodeMode,
    resets: u16,
    escalated: bool,
    last_escalation: Option<Escalation>,
    components: [Option<(HealthState, u16, FaultKind)>; COUNT],
}

impl Key {
    /// The key of `report`.
    pub fn of(report: &HealthReport) -> Key {
        let mut components = [None; COUNT];
        for c in report.components.as_slice() {
            if let Some(slot) = components.get_mut(usize::from(c.component.0)) {
                *slot = Some((c.state, c.restarts, c.last_fault));
            }
        }
        Key {
            mode: report.mode,
            resets: report.resets,
            escalated: report.escalated,
            last_escalation: report.last_escalation,
            components,
        }
    }
}

/// A report rendered as the status line plus progress counters.
pub struct Line<'a> {
    /// The report.
    pub report: &'a HealthReport,
    /// The watchdog, for progress counters.
    pub watchdog: &'a Watchdog,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "health {}",
            StatusLine {
                report: self.report,
                names: &table::NAMES,
            }
        )?;
        write!(f, " {}", ProgressList(self.watchdog))
    }
}

/// `; progress NAME N NAME N ...`: each pinged component's event-loop iterations from its last
/// on-time pong.
pub struct ProgressList<'a>(pub &'a Watchdog);

impl fmt::Display for ProgressList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("; progress")?;
        for (i, hb) in table::HEARTBEATS.iter().enumerate() {
            let id = protocol::ComponentId(i as u8);
            if hb.is_none() {
                continue;
            }
            let p: Progress = self.0.status(id).map(|s| s.progress).unwrap_or_default();
            write!(f, " {} {}", table::name(id), p.loop_iterations)?;
        }
        Ok(())
    }
}
