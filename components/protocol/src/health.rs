//! The watchdog's health report: one entry per component, sent to comms for the ground and to
//! the upgrade agent (which confirms a trial boot once the node has been healthy long enough).
//!
//! The report is compact on purpose: a fault is reported by its kind ([`FaultKind`], one byte);
//! the details (exit code, signal, system call) are in the monitor's log. The header says whether
//! the node runs in safe mode and why (the last escalation recorded on flash), and whether the
//! watchdog has escalated (stopped kicking the hardware watchdog: a board reset is imminent).
//!
//! Avoids: history; each report is a snapshot, the ground keeps the time series.

use rkyv::{Archive, Deserialize, Serialize};

use crate::bounded::BoundedList;
use crate::ids::{ComponentId, FaultCause};

/// Most components one health report (and one system description) can describe.
pub const MAX_COMPONENTS: usize = 32;

/// What the watchdog believes about one component.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub enum HealthState {
    /// Answered the last ping in time with progress.
    #[default]
    Healthy,
    /// Missed at least one ping but not enough to be declared failed.
    Late,
    /// Declared failed; a restart was or will be requested.
    Failed,
    /// A restart is in progress.
    Restarting,
    /// Failed and not restartable (policy or budget); left stopped ("held").
    Stopped,
    /// Not started in this boot: the node runs in safe mode and this component is not part of it.
    Inactive,
    /// Answers its pings but reports itself degraded (a damaged store, or a start that failed:
    /// its log says why). Not restarted; not healthy.
    Degraded,
}

/// The kind of a component's last fault: [`FaultCause`] without its details, plus the ways a
/// restart itself can fail. One byte.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug, Clone, Copy, PartialEq, Eq))]
pub enum FaultKind {
    /// No fault since power-on.
    #[default]
    None,
    /// [`FaultCause::Exit`].
    Exit,
    /// [`FaultCause::Signal`].
    Signal,
    /// [`FaultCause::SeccompViolation`].
    SeccompViolation,
    /// [`FaultCause::MissedPings`].
    MissedPings,
    /// [`FaultCause::WrongNonce`].
    WrongNonce,
    /// A restart was refused by the monitor, failed to start, or was never answered.
    RestartFailed,
}

impl FaultKind {
    /// The kind for a [`Self::code`] byte (`None` for an unknown one).
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => FaultKind::None,
            1 => FaultKind::Exit,
            2 => FaultKind::Signal,
            3 => FaultKind::SeccompViolation,
            4 => FaultKind::MissedPings,
            5 => FaultKind::WrongNonce,
            6 => FaultKind::RestartFailed,
            _ => return None,
        })
    }

    /// The kind in words, for logs and the ground.
    pub const fn text(self) -> &'static str {
        match self {
            FaultKind::None => "no fault",
            FaultKind::Exit => "exit",
            FaultKind::Signal => "signal",
            FaultKind::SeccompViolation => "seccomp violation",
            FaultKind::MissedPings => "missed pings",
            FaultKind::WrongNonce => "wrong nonce",
            FaultKind::RestartFailed => "restart failed",
        }
    }

    /// The one-byte code on flash and in housekeeping: 0 none, 1 exit, 2 signal, 3 seccomp,
    /// 4 missed pings, 5 wrong nonce, 6 restart failed.
    pub const fn code(self) -> u8 {
        match self {
            FaultKind::None => 0,
            FaultKind::Exit => 1,
            FaultKind::Signal => 2,
            FaultKind::SeccompViolation => 3,
            FaultKind::MissedPings => 4,
            FaultKind::WrongNonce => 5,
            FaultKind::RestartFailed => 6,
        }
    }
}

impl From<FaultCause> for FaultKind {
    fn from(cause: FaultCause) -> Self {
        match cause {
            FaultCause::Exit { .. } => FaultKind::Exit,
            FaultCause::Signal { .. } => FaultKind::Signal,
            FaultCause::SeccompViolation { .. } => FaultKind::SeccompViolation,
            FaultCause::MissedPings { .. } => FaultKind::MissedPings,
            FaultCause::WrongNonce { .. } => FaultKind::WrongNonce,
        }
    }
}

/// Whether the node booted normally or in safe mode.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug, Clone, Copy, PartialEq, Eq))]
pub enum NodeMode {
    /// Every component runs.
    #[default]
    Normal,
    /// The reset cap was reached: only the components marked `safe-mode` run.
    Safe,
}

/// A board reset the watchdog decided: which component failed beyond its limits, and how.
///
/// Archived size: 2 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug, Clone, Copy, PartialEq, Eq))]
pub struct Escalation {
    /// The failed component.
    pub component: ComponentId,
    /// Its fault.
    pub fault: FaultKind,
}

/// One component's line in a [`HealthReport`].
///
/// Archived size: 12 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct ComponentHealth {
    /// Milliseconds since the last good pong (or since its start, before its first pong).
    pub last_pong_age_ms: u32,
    /// Restarts since power-on.
    pub restarts: u16,
    /// Round trip of the last pong answered in time, in microseconds, saturating at 65,535.
    pub last_round_trip_us: u16,
    /// The component.
    pub component: ComponentId,
    /// Its state.
    pub state: HealthState,
    /// Consecutive missed pings.
    pub missed_pings: u8,
    /// Its last fault since power-on.
    pub last_fault: FaultKind,
}

/// `health-report`: watchdog → comms. A snapshot of every component's health.
///
/// Maximum serialised size: 416 bytes (32 entries).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct HealthReport {
    /// Watchdog's monotonic clock, milliseconds since board power-on.
    pub uptime_ms: u64,
    /// Report counter, wrapping.
    pub sequence: u32,
    /// How long every monitored component has been healthy without a single failure since
    /// boot, in milliseconds (saturating); 0 once any component failed in this boot, or while
    /// some component has not answered its first ping. The upgrade agent confirms a trial boot
    /// on it.
    pub healthy_since_boot_ms: u32,
    /// Board resets since the node was last healthy for the clearing period (the watchdog's
    /// reset counter on flash).
    pub resets: u16,
    /// Normal or safe mode.
    pub mode: NodeMode,
    /// The watchdog has stopped kicking the hardware watchdog (an escalation, or leaving safe
    /// mode): a board reset is imminent.
    pub escalated: bool,
    /// The last escalation recorded on flash: why the node reset (and, in safe mode, why it is
    /// in safe mode), or this boot's escalation once `escalated` is set. `None` if none was
    /// ever recorded.
    pub last_escalation: Option<Escalation>,
    /// One entry per component, at most [`MAX_COMPONENTS`].
    pub components: BoundedList<ComponentHealth, MAX_COMPONENTS>,
}

impl core::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.text())
    }
}
