//! The watchdog's health report: one entry per component, sent to comms for the ground.
//!
//! Avoids: history; each report is a snapshot, the ground keeps the time series.

use rkyv::{Archive, Deserialize, Serialize};

use crate::bounded::BoundedList;
use crate::ids::ComponentId;

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
    /// Failed and not restartable (policy or budget); left stopped.
    Stopped,
}

/// One component's line in a [`HealthReport`].
///
/// Archived size: 12 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct ComponentHealth {
    /// Milliseconds since the last good pong.
    pub last_pong_age_ms: u32,
    /// Restarts since power-on.
    pub restarts: u16,
    /// The component.
    pub component: ComponentId,
    /// Its state.
    pub state: HealthState,
    /// Consecutive missed pings.
    pub missed_pings: u8,
}

/// `health-report`: watchdog → comms. A snapshot of every component's health.
///
/// Maximum serialised size: 408 bytes (32 entries).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct HealthReport {
    /// Watchdog's monotonic clock, milliseconds since board power-on.
    pub uptime_ms: u64,
    /// Report counter, wrapping.
    pub sequence: u32,
    /// Board resets since the boot counter was last cleared (from boot control).
    pub resets: u16,
    /// One entry per component, at most [`MAX_COMPONENTS`].
    pub components: BoundedList<ComponentHealth, MAX_COMPONENTS>,
}
