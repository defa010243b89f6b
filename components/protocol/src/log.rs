//! Log records a component sends for the ground (the sim board also prints them locally).
//!
//! Avoids: formatting on the receiving side and unbounded text: the text is cut to
//! [`LOG_TEXT_MAX`] bytes at a character boundary by [`crate::BoundedStr::truncated`].

use rkyv::{Archive, Deserialize, Serialize};

use crate::bounded::BoundedStr;
use crate::ids::ComponentId;

/// Most bytes of text one log record carries.
pub const LOG_TEXT_MAX: usize = 240;

/// Severity, as in the `log` facade.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default,
)]
#[rkyv(derive(Debug))]
pub enum Level {
    /// Something failed.
    Error,
    /// Something unexpected, handled.
    Warn,
    /// Normal operation worth reporting.
    #[default]
    Info,
    /// Detail for debugging.
    Debug,
    /// Very detailed.
    Trace,
}

/// `log-record`: any component → comms. One line of log.
///
/// Maximum serialised size: 256 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct LogRecord {
    /// Sender's monotonic clock, milliseconds since board power-on.
    pub at_ms: u64,
    /// Per-component record counter, wrapping (gaps show dropped records).
    pub sequence: u32,
    /// The logging component.
    pub component: ComponentId,
    /// Severity.
    pub level: Level,
    /// The message, UTF-8, at most [`LOG_TEXT_MAX`] bytes.
    pub text: BoundedStr<LOG_TEXT_MAX>,
}
