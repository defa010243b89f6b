//! The hardware watchdog timer: the last line of defence, which resets the board.
//!
//! Semantics every board implements:
//! - [`WatchdogTimer::start`] arms the timer with a timeout. From then on the timer **cannot be
//!   stopped** until the board resets (as on the flight hardware: software that has gone wrong
//!   must not be able to disarm it). Calling `start` again while armed changes the timeout and
//!   counts as a kick.
//! - [`WatchdogTimer::kick`] restarts the countdown: the board is reset unless the next kick
//!   arrives within `timeout` of this one. Kicking a timer that was never started is an error,
//!   so a component cannot believe it is protected when it is not.
//! - **On expiry the board resets.** No handler runs and no code after the expiry is executed:
//!   the next thing that happens is a power-on (on the sim board, the monitor observes the
//!   expiry and power-cycles the node from the top). Anything that must survive the reset
//!   (the watchdog's reset counter) has to be on flash *before* the timer is allowed to run out.
//! - Kick timing is as seen by the timer hardware; on the sim board a kick counts when the board
//!   takes note of it, which can be later than the call but never earlier.
//!
//! Escalation to a board reset is done by *not kicking*: there is deliberately no "reset now"
//! method here (boards may offer one elsewhere; the watchdog component does not need it).

use core::time::Duration;

/// Why a watchdog operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogError {
    /// The requested timeout is outside what this timer supports (`min..=max`).
    TimeoutOutOfRange {
        /// The timeout asked for.
        requested: Duration,
        /// Shortest supported timeout.
        min: Duration,
        /// Longest supported timeout.
        max: Duration,
    },
    /// `kick` on a timer that has not been started.
    NotStarted,
    /// The timer did not accept the command (hardware fault, or on the sim board the device
    /// link to the board is broken). The caller cannot know whether the timer is armed: treat the
    /// board as unprotected and report it.
    Device,
}

impl core::fmt::Display for WatchdogError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WatchdogError::TimeoutOutOfRange {
                requested,
                min,
                max,
            } => write!(
                f,
                "watchdog timeout {requested:?} is outside the supported range {min:?}..={max:?}"
            ),
            WatchdogError::NotStarted => f.write_str("the watchdog timer was kicked before start"),
            WatchdogError::Device => f.write_str("the watchdog timer did not accept the command"),
        }
    }
}

impl core::error::Error for WatchdogError {}

/// A hardware watchdog timer. See the module docs for the exact semantics.
pub trait WatchdogTimer {
    /// Shortest and longest timeouts this timer supports.
    fn timeout_range(&self) -> (Duration, Duration);

    /// Arm the timer (or change its timeout and kick it if armed). It cannot be stopped again.
    ///
    /// Errors: [`WatchdogError::TimeoutOutOfRange`] (nothing changed),
    /// [`WatchdogError::Device`] (state unknown).
    fn start(&mut self, timeout: Duration) -> Result<(), WatchdogError>;

    /// Restart the countdown.
    ///
    /// Errors: [`WatchdogError::NotStarted`], [`WatchdogError::Device`] (the kick may have been
    /// lost: the board may reset at the old deadline).
    fn kick(&mut self) -> Result<(), WatchdogError>;
}
