//! State of comms' ground links (primary datagram link, standby serial link).
//!
//! Avoids: addresses or keys of the ground; counters only.

use rkyv::{Archive, Deserialize, Serialize};

/// Which ground link.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub enum LinkId {
    /// The primary datagram link.
    #[default]
    Primary,
    /// The standby serial link (PPP: SDLS units in UDP over IPv4).
    Standby,
}

/// Condition of a link.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub enum LinkState {
    /// Frames are arriving.
    Up,
    /// Frames arrive with errors or losses above threshold.
    Degraded,
    /// Nothing heard within the timeout.
    #[default]
    Down,
}

/// `link-status`: comms → watchdog/telemetry consumers. The state of one link.
///
/// Maximum serialised size: 32 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct LinkStatus {
    /// Frames received and accepted since power-on, wrapping.
    pub frames_rx: u32,
    /// Frames sent since power-on, wrapping.
    pub frames_tx: u32,
    /// Frames dropped for a bad checksum or framing.
    pub crc_errors: u32,
    /// Frames dropped for failed authentication (a MAC that does not verify).
    pub auth_failures: u32,
    /// Frames dropped before authentication could be tried: malformed units, or units under
    /// an SPI the node has no association for.
    pub unauthenticated: u32,
    /// Frames dropped as duplicates (anti-replay window).
    pub duplicates: u32,
    /// Milliseconds since the last accepted frame (`u32::MAX` if none).
    pub last_rx_age_ms: u32,
    /// Which link.
    pub link: LinkId,
    /// Its condition.
    pub state: LinkState,
    /// Whether comms currently sends on this link.
    pub active: bool,
}
