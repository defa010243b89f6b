//! What a board provides to run the event loop: waiting for the component's sources, and time.
//!
//! The sim board implements it with `ppoll` over the component's eventfds and device
//! descriptors (`board_sim::partition::waitset`); a seL4 board with `seL4_Wait` on the
//! component's notification object, badges being the [`crate::Source`] numbers.
//!
//! Avoids: any assumption about how a source is represented; the board maps them.

use crate::notify_set::NotifySet;
use hal::time::Instant;

/// Why waiting failed. The event loop stops and the component process ends (the monitor then
/// reports it to the watchdog like any other exit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitError {
    /// The operating system refused, with this error number.
    Os(i32),
}

impl core::fmt::Display for WaitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WaitError::Os(e) => write!(f, "waiting for notifications failed: errno {e}"),
        }
    }
}

impl core::error::Error for WaitError {}

/// The board's wait primitive for one component.
pub trait WaitBackend {
    /// Blocks until at least one source fired or `deadline` (board time) has passed, and returns
    /// the sources that fired, their notifications cleared. [`crate::Source::TIMER`] is in the
    /// set when the deadline has passed. Spurious empty returns are allowed.
    fn wait(&mut self, deadline: Option<Instant>) -> Result<NotifySet, WaitError>;

    /// Stop watching device descriptors (notifications only from now on). The degraded loop
    /// calls it: with no driver left to read a device, a readable device would otherwise wake
    /// the loop at once, forever. The default does nothing (backends without devices).
    fn ignore_devices(&mut self) {}

    /// Time since board power-on.
    fn now(&self) -> Instant;
}
