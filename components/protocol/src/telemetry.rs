//! Telemetry: numbered measurements a component reports for the ground.
//!
//! Point ids are per component and documented by each component; this crate only bounds the count.
//!
//! Avoids: units and names on the wire (ids keep it small and fixed-size).

use rkyv::{Archive, Deserialize, Serialize};

use crate::bounded::BoundedList;
use crate::ids::ComponentId;

/// Most points in one telemetry message.
pub const TELEMETRY_POINTS_MAX: usize = 16;

/// One measurement.
///
/// Archived size: 16 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct TelemetryPoint {
    /// The value, in the unit the component documents for `id`.
    pub value: i64,
    /// Which measurement (component-defined).
    pub id: u16,
}

/// `telemetry`: any component → comms. A batch of measurements taken at one time.
///
/// Maximum serialised size: 280 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct Telemetry {
    /// Sender's monotonic clock, milliseconds since board power-on.
    pub at_ms: u64,
    /// Per-component telemetry counter, wrapping.
    pub sequence: u32,
    /// The reporting component.
    pub component: ComponentId,
    /// The measurements, at most [`TELEMETRY_POINTS_MAX`].
    pub points: BoundedList<TelemetryPoint, TELEMETRY_POINTS_MAX>,
}
