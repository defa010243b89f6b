//! Service 5 event reports the node emits. Source data: event definition ID (2, big-endian),
//! then the auxiliary data the event defines.
//!
//! | ID | event | severity (subtype) | auxiliary data |
//! | --- | --- | --- | --- |
//! | 0x0001 | security state restored at boot | informative (5,1) | n (1), then per association SPI (2), uplink floor R (8), next downlink ARSN (8) |
//! | 0x0002 | link failover | low (5,2) | from link (1), to link (1), reason (1: 0 silence, 1 errors, 2 primary recovered) |
//! | 0x0003 | authentication failures | medium (5,3) | refused units since the last such event (4), bad MAC (4), unknown SPI (4), bad sequence (4) |
//! | 0x0004 | key rotated | informative (5,1) | SPI (2), new epoch (4) |
//! | 0x0005 | anti-replay floor raised | informative (5,1) | SPI (2), floor (8) |
//! | 0x0006 | unparseable telecommand (no request ID to report against) | low (5,2) | length (2) |
//! | 0x0007 | authenticated uplink unit refused for its sequence number (at most one per [`SEQUENCE_EVENT_INTERVAL_MS`]) | low (5,2) | SPI (2), refused ARSN (8), last accepted ARSN (8), window (8), verdict (1: 0 replay or old, 1 beyond the window) |
//! | 0x0008 | key state changed (130,7 / 130,8), or a new key installed (130,6), after the sealed key record was rewritten | informative (5,1) | SPI (2), new state (1: 0 active, 1 pre-activation: a new key from an OTAR, 2 deactivated) |
//! | 0x0009 | comms' SDLS anti-replay state was lost: recovery-only mode (`node/recovery.rs`) until `spacenode ground admin recover-link` | high (5,4) | none |
//!
//! Avoids: heap; free text.

/// Event 0x0001.
pub const EV_SECURITY_RESTORED: u16 = 0x0001;
/// Event 0x0002.
pub const EV_LINK_FAILOVER: u16 = 0x0002;
/// Event 0x0003.
pub const EV_AUTH_FAILURES: u16 = 0x0003;
/// Event 0x0004.
pub const EV_KEY_ROTATED: u16 = 0x0004;
/// Event 0x0005.
pub const EV_FLOOR_RAISED: u16 = 0x0005;
/// Event 0x0006.
pub const EV_UNPARSEABLE_TC: u16 = 0x0006;

/// Event 0x0007: only a unit whose MAC verified can cause it (so only a key holder's unit, or
/// a recording of one), and the node sends it at most once per
/// [`SEQUENCE_EVENT_INTERVAL_MS`], so a replayed recording cannot make the node talk more
/// than that. It tells the ground, in authenticated telemetry, why its commands go
/// unanswered: it resumes above the floor (replay), or the operator resynchronises (beyond).
pub const EV_SEQUENCE_REFUSED: u16 = 0x0007;
/// Event 0x0008.
pub const EV_KEY_STATE: u16 = 0x0008;
/// Event 0x0009.
pub const EV_LINK_STATE_LOST: u16 = 0x0009;
/// Least time between two [`EV_SEQUENCE_REFUSED`] events.
pub const SEQUENCE_EVENT_INTERVAL_MS: u64 = 200;

/// Largest event source data.
pub const MAX_EVENT_LEN: usize = 2 + 1 + 8 * 18;

/// Event severity = the 5,x subtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// 5,1.
    Informative = 1,
    /// 5,2.
    Low = 2,
    /// 5,3.
    Medium = 3,
    /// 5,4.
    High = 4,
}

impl Severity {
    /// The severity of a 5,`subtype` report (1 to 4), if it is one.
    pub const fn from_subtype(subtype: u8) -> Option<Self> {
        match subtype {
            1 => Some(Severity::Informative),
            2 => Some(Severity::Low),
            3 => Some(Severity::Medium),
            4 => Some(Severity::High),
            _ => None,
        }
    }

    /// The severity in words.
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Informative => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "HIGH",
        }
    }
}

/// What event `id` means, in words (the table above); `None` for an ID this node does not send.
pub const fn name(id: u16) -> Option<&'static str> {
    Some(match id {
        EV_SECURITY_RESTORED => "security state restored at boot",
        EV_LINK_FAILOVER => "link failover",
        EV_AUTH_FAILURES => "authentication failures on the uplink",
        EV_KEY_ROTATED => "key rotated",
        EV_FLOOR_RAISED => "anti-replay floor raised",
        EV_UNPARSEABLE_TC => "unparseable telecommand",
        EV_SEQUENCE_REFUSED => "authenticated unit refused for its sequence number",
        EV_KEY_STATE => "key state changed",
        EV_LINK_STATE_LOST => "SDLS anti-replay state lost: recovery-only mode",
        _ => return None,
    })
}

/// An event ready to be sent: subtype and source data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Severity (subtype).
    pub severity: Severity,
    buf: [u8; MAX_EVENT_LEN],
    len: usize,
}

impl Event {
    /// An event `id` with auxiliary data `aux` (truncated to fit).
    pub fn new(severity: Severity, id: u16, aux: &[u8]) -> Self {
        let mut buf = [0u8; MAX_EVENT_LEN];
        buf[..2].copy_from_slice(&id.to_be_bytes());
        let n = aux.len().min(MAX_EVENT_LEN - 2);
        buf[2..2 + n].copy_from_slice(&aux[..n]);
        Event {
            severity,
            buf,
            len: 2 + n,
        }
    }

    /// The source data.
    pub fn source(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// The event ID.
    pub fn id(&self) -> u16 {
        u16::from_be_bytes([self.buf[0], self.buf[1]])
    }
}
