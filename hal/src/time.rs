//! Time: a monotonic clock since board power-on, and mission time for things agreed with ground.
//!
//! Two notions, deliberately separate types so they cannot be mixed up:
//!
//! - [`Instant`]: **microseconds since this board powered on** (the last reset, whatever its
//!   cause). It never goes backwards while the board is up and restarts near zero at every
//!   reset. Use it for periods, timeouts, ping round trips, rate limits within one power cycle.
//!   Wrap-around is not a concern: `u64` microseconds last 584,000 years.
//! - [`MissionTime`]: **microseconds since 1970-01-01T00:00:00 UTC, without leap seconds** (the
//!   POSIX convention, so ground tooling can print it with any date library). It is the node's
//!   estimate of ground time, kept across resets by the board (a real-time clock, or a time
//!   correlation uploaded by the ground). It can jump (forwards or backwards) when the ground
//!   corrects it, and it can be unknown after a power loss. Use it only for values agreed with
//!   the ground, such as a certificate's expiry, and never for measuring durations.
//!
//! This module avoids any dependency on an OS clock: boards implement the traits.

use core::time::Duration;

/// A point in time: microseconds since board power-on. Never decreases within a power cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// Power-on.
    pub const ZERO: Instant = Instant(0);

    /// The instant `us` microseconds after power-on.
    pub const fn from_micros(us: u64) -> Self {
        Instant(us)
    }

    /// Microseconds since power-on.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, or `None` if `earlier` is later than `self`.
    pub fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        self.0.checked_sub(earlier.0).map(Duration::from_micros)
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later than `self`.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.checked_duration_since(earlier)
            .unwrap_or(Duration::ZERO)
    }

    /// `self + d`, or `None` on overflow (sub-microsecond parts of `d` are dropped).
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        let us = u64::try_from(d.as_micros()).ok()?;
        self.0.checked_add(us).map(Instant)
    }

    /// `self + d`, saturating at the largest representable instant.
    pub fn saturating_add(self, d: Duration) -> Instant {
        self.checked_add(d).unwrap_or(Instant(u64::MAX))
    }
}

/// The board's monotonic clock.
///
/// Contract: [`MonotonicClock::now`] returns microseconds since power-on; two successive calls
/// in one power cycle return non-decreasing values (also across processes on the sim board, which
/// share one power-on epoch). Resolution is board-specific (the sim board: 1 us). Reading the
/// clock cannot fail: a board whose timer cannot be read has no business running components.
pub trait MonotonicClock {
    /// Microseconds since board power-on.
    fn now(&self) -> Instant;
}

impl<C: MonotonicClock + ?Sized> MonotonicClock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

/// Mission time: microseconds since 1970-01-01T00:00:00 UTC (POSIX, no leap seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MissionTime(u64);

impl MissionTime {
    /// Mission time `us` microseconds after the Unix epoch.
    pub const fn from_unix_micros(us: u64) -> Self {
        MissionTime(us)
    }

    /// Mission time `s` whole seconds after the Unix epoch, or `None` on overflow.
    pub const fn from_unix_secs(s: u64) -> Option<Self> {
        match s.checked_mul(1_000_000) {
            Some(us) => Some(MissionTime(us)),
            None => None,
        }
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_unix_micros(self) -> u64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded down).
    pub const fn as_unix_secs(self) -> u64 {
        self.0 / 1_000_000
    }
}

/// Why mission time cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissionTimeError {
    /// The board has no valid mission time since power-on: its real-time clock lost power, or
    /// no time correlation has been received from the ground yet. Anything that needs mission
    /// time (checking a certificate's expiry) must refuse rather than guess.
    NotSet,
}

impl core::fmt::Display for MissionTimeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MissionTimeError::NotSet => f.write_str("mission time is not set on this board"),
        }
    }
}

impl core::error::Error for MissionTimeError {}

/// The board's mission-time source (real-time clock or ground time correlation).
///
/// Implementations: the signer's mission clock, set only by admin-signed ground correlations and
/// kept across resets on its flash (`signer::clock::Reading`, what certificate expiry uses); the
/// sim board's host UTC clock (`board_sim::clock::SimClock`, unauthenticated, so no component
/// relies on it).
///
/// Contract: returns the node's current estimate of UTC, or [`MissionTimeError::NotSet`]. Values
/// can jump between calls when the ground corrects the clock: measure durations with
/// [`MonotonicClock`] instead.
pub trait MissionClock {
    /// Current mission time.
    fn mission_time(&self) -> Result<MissionTime, MissionTimeError>;
}

impl<C: MissionClock + ?Sized> MissionClock for &C {
    fn mission_time(&self) -> Result<MissionTime, MissionTimeError> {
        (**self).mission_time()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_arithmetic_saturates_and_checks() {
        let a = Instant::from_micros(1_000);
        let b = Instant::from_micros(3_500);
        assert_eq!(
            b.checked_duration_since(a),
            Some(Duration::from_micros(2_500))
        );
        assert_eq!(a.checked_duration_since(b), None);
        assert_eq!(a.saturating_duration_since(b), Duration::ZERO);
        assert_eq!(
            a.checked_add(Duration::from_millis(2)),
            Some(Instant::from_micros(3_000))
        );
        assert_eq!(
            Instant::from_micros(u64::MAX - 1).checked_add(Duration::from_micros(2)),
            None
        );
        assert_eq!(
            Instant::from_micros(u64::MAX - 1).saturating_add(Duration::from_secs(1)),
            Instant::from_micros(u64::MAX)
        );
        assert_eq!(Instant::ZERO.checked_add(Duration::MAX), None);
    }

    #[test]
    fn mission_time_conversions() {
        let t = MissionTime::from_unix_secs(1_700_000_000).unwrap_or(MissionTime(0));
        assert_eq!(t.as_unix_micros(), 1_700_000_000_000_000);
        assert_eq!(t.as_unix_secs(), 1_700_000_000);
        assert_eq!(MissionTime::from_unix_secs(u64::MAX), None);
    }
}
