//! One compact line per health report, for logs and `spacenode run`:
//!
//! ```text
//! #12 up 73.4s normal resets 0 healthy 61.0s | monitor ok 41us | comms late(2) | signer restarting r1 missed-pings | upgrade ok 55us
//! ```
//!
//! Each component: its name (or `#id` without a name table), its state (`ok`, `late(N)`,
//! `failed`, `restarting`, `held`, `off`), the last round trip when answering, `rN` restarts
//! when any, and its last fault kind when any. The header adds `SAFE MODE (last reset: comms
//! missed-pings)` and `ESCALATED` when they apply.
//!
//! Avoids: allocation (it is a `Display` over borrowed data) and colour or terminal codes.

use core::fmt;

use protocol::{ComponentHealth, FaultKind, HealthReport, HealthState, NodeMode};

/// A health report rendered as one line; `names[id]` names component `id`.
pub struct StatusLine<'a> {
    /// The report.
    pub report: &'a HealthReport,
    /// Component names by id (may be empty).
    pub names: &'a [&'a str],
}

fn fault_name(k: FaultKind) -> &'static str {
    match k {
        FaultKind::None => "none",
        FaultKind::Exit => "exit",
        FaultKind::Signal => "signal",
        FaultKind::SeccompViolation => "seccomp",
        FaultKind::MissedPings => "missed-pings",
        FaultKind::WrongNonce => "wrong-nonce",
        FaultKind::RestartFailed => "restart-failed",
    }
}

impl StatusLine<'_> {
    fn name(&self, f: &mut fmt::Formatter<'_>, id: u8) -> fmt::Result {
        match self.names.get(usize::from(id)) {
            Some(n) => f.write_str(n),
            None => write!(f, "#{id}"),
        }
    }

    fn entry(&self, f: &mut fmt::Formatter<'_>, c: &ComponentHealth) -> fmt::Result {
        f.write_str(" | ")?;
        self.name(f, c.component.0)?;
        match c.state {
            HealthState::Healthy => write!(f, " ok {}us", c.last_round_trip_us)?,
            HealthState::Late => write!(f, " late({})", c.missed_pings)?,
            HealthState::Failed => f.write_str(" failed")?,
            HealthState::Restarting => f.write_str(" restarting")?,
            HealthState::Stopped => f.write_str(" held")?,
            HealthState::Inactive => f.write_str(" off")?,
            HealthState::Degraded => f.write_str(" DEGRADED")?,
        }
        if c.restarts > 0 {
            write!(f, " r{}", c.restarts)?;
        }
        if c.last_fault != FaultKind::None {
            write!(f, " {}", fault_name(c.last_fault))?;
        }
        Ok(())
    }
}

impl fmt::Display for StatusLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.report;
        write!(
            f,
            "#{} up {}.{}s",
            r.sequence,
            r.uptime_ms / 1000,
            (r.uptime_ms % 1000) / 100
        )?;
        match r.mode {
            NodeMode::Normal => f.write_str(" normal")?,
            NodeMode::Safe => f.write_str(" SAFE MODE")?,
        }
        write!(f, " resets {}", r.resets)?;
        if let Some(e) = r.last_escalation
            && (r.mode == NodeMode::Safe || r.escalated)
        {
            f.write_str(" (last reset: ")?;
            self.name(f, e.component.0)?;
            write!(f, " {})", fault_name(e.fault))?;
        }
        if r.escalated {
            f.write_str(" ESCALATED")?;
        }
        if r.healthy_since_boot_ms > 0 {
            let h = r.healthy_since_boot_ms;
            write!(f, " healthy {}.{}s", h / 1000, (h % 1000) / 100)?;
        }
        for c in r.components.as_slice() {
            self.entry(f, c)?;
        }
        Ok(())
    }
}
