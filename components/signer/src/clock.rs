//! The mission clock: the signer's estimate of UTC, set only by authenticated ground time
//! correlations ([`crate::admin`]'s `time` body), never moving backwards, and resumed after a
//! reset from a high-water mark on flash (kept in the ledger record, [`crate::ledger`]).
//!
//! # Rules
//!
//! - **Reading**: mission time is `base + (board instant - base instant)`, where the base is the
//!   last correlation or the resumed high-water mark. It counts only time the board's monotonic
//!   clock ([`hal::time::MonotonicClock`]) has seen, so it is a lower bound of true time (up to
//!   the oscillator's drift, below).
//! - **Never correlated**: [`MissionClock::mission_ms`] is `None`, and the hal view
//!   ([`Reading`]) says [`hal::time::MissionTimeError::NotSet`]: a certificate with an expiry is
//!   then refused ([`crate::cert::CertError::NoMissionTime`]); only a server whose registry entry
//!   allows certificates without expiry can sign. Velocity windows still use the monotonic
//!   estimate ([`MissionClock::monotone_ms`]), which never goes back across resets.
//! - **Correlation**: accepted only if it is above the last one (a replayed correlation is
//!   refused, [`CorrelationError::Replayed`]) and not below the node's current mission time (the
//!   clock never runs backwards, [`CorrelationError::Backwards`]). A node whose oscillator runs
//!   fast therefore stays ahead until true time catches up: it errs towards expiring
//!   certificates early.
//! - **Resume after a reset**: the record holds the high-water mark and the board instant it was
//!   taken at. If the board's instant is now below that instant, the board was reset, and the
//!   clock resumes at `mark + instant` (the new power cycle's uptime is time that has certainly
//!   passed since the mark). Otherwise the component alone restarted within the same power cycle
//!   (or a reset happened and the new cycle has already run longer than the old one had when the
//!   mark was written): the clock resumes at `mark + (instant - mark instant)`, exact in the first
//!   case and a lower bound in the second. Either way it never resumes ahead of true time.
//!
//! # Drift bound
//!
//! Between correlations the clock runs on the board's monotonic clock, so its error grows by at
//! most the oscillator tolerance `p` times the time since the last correlation (sim board:
//! Linux `CLOCK_MONOTONIC`, slewed by NTP by at most 500 ppm, 43 s a day; a flight board: its
//! crystal's tolerance, typically 50 ppm, 4.3 s a day). After a reset the clock also lags by
//! the time between the last flash write of the mark and the reset, at most
//! [`PERSIST_INTERVAL_MS`] plus the reset's downtime. So, with `t` the time since the last
//! correlation: `true - (lag + p·t) <= mission <= true + p·t`. The ground sees the last
//! correlation in the answer to its `time` command and re-correlates after every reset.
//!
//! Avoids: any OS clock, and any way to set the clock other than [`MissionClock::correlate`].

use hal::time::{Instant, MissionTime, MissionTimeError};

/// How often (board time) the partition writes the high-water mark to flash besides each
/// correlation and each committed batch: the most a reset can lose. Ten minutes is about
/// 53,000 mirrored ledger writes a year.
pub const PERSIST_INTERVAL_MS: u64 = 600_000;

/// What the ledger record stores of the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockRecord {
    /// Mission time (ms) at the last write: the high-water mark.
    pub mark_ms: u64,
    /// The board instant (us since power-on) at which `mark_ms` was read.
    pub mark_at_us: u64,
    /// Mission time (ms) of the last accepted correlation; 0 when never correlated.
    pub correlated_ms: u64,
}

/// Why a correlation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CorrelationError {
    /// Not above the last accepted correlation: a replay (or a stale resend).
    #[error(
        "time correlation {ground_ms} ms is not above the last accepted one ({last_ms} ms): a replay"
    )]
    Replayed {
        /// The refused value.
        ground_ms: u64,
        /// The last accepted correlation.
        last_ms: u64,
    },
    /// Below the node's current mission time: the clock never runs backwards.
    #[error(
        "time correlation {ground_ms} ms is below the node's mission time ({node_ms} ms): the clock never runs backwards"
    )]
    Backwards {
        /// The refused value.
        ground_ms: u64,
        /// The node's mission time when it was refused.
        node_ms: u64,
    },
}

/// The running clock (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissionClock {
    base_ms: u64,
    base_at: Instant,
    correlated_ms: u64,
}

impl MissionClock {
    /// Resumes from the stored record at board instant `now`.
    pub fn resume(rec: ClockRecord, now: Instant) -> Self {
        let base_at = if now.as_micros() >= rec.mark_at_us {
            Instant::from_micros(rec.mark_at_us)
        } else {
            Instant::ZERO
        };
        Self {
            base_ms: rec.mark_ms,
            base_at,
            correlated_ms: rec.correlated_ms,
        }
    }

    /// The monotonic estimate at `now` (ms), correlated or not: never below any earlier
    /// reading, across resets too. Velocity windows run on it.
    pub fn monotone_ms(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.base_at).as_millis();
        self.base_ms
            .saturating_add(u64::try_from(elapsed).unwrap_or(u64::MAX))
    }

    /// Mission time at `now` (ms), or `None` if the ground has never correlated this node.
    pub fn mission_ms(&self, now: Instant) -> Option<u64> {
        (self.correlated_ms != 0).then(|| self.monotone_ms(now))
    }

    /// The last accepted correlation (ms), if any.
    pub fn correlated_ms(&self) -> Option<u64> {
        (self.correlated_ms != 0).then_some(self.correlated_ms)
    }

    /// The record to store at `now`.
    pub fn record(&self, now: Instant) -> ClockRecord {
        ClockRecord {
            mark_ms: self.monotone_ms(now),
            mark_at_us: now.as_micros(),
            correlated_ms: self.correlated_ms,
        }
    }

    /// The clock after accepting `ground_ms` at `now` (the caller stores its record before
    /// adopting it), or why it is refused.
    pub fn correlated(&self, ground_ms: u64, now: Instant) -> Result<Self, CorrelationError> {
        if ground_ms <= self.correlated_ms {
            return Err(CorrelationError::Replayed {
                ground_ms,
                last_ms: self.correlated_ms,
            });
        }
        let node_ms = self.monotone_ms(now);
        if ground_ms < node_ms {
            return Err(CorrelationError::Backwards { ground_ms, node_ms });
        }
        Ok(Self {
            base_ms: ground_ms,
            base_at: now,
            correlated_ms: ground_ms,
        })
    }

    /// The hal view of this clock at `now`.
    pub fn at(&self, now: Instant) -> Reading {
        Reading { clock: *self, now }
    }
}

/// The clock read at one instant, as [`hal::time::MissionClock`].
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    clock: MissionClock,
    now: Instant,
}

impl hal::time::MissionClock for Reading {
    fn mission_time(&self) -> Result<MissionTime, MissionTimeError> {
        self.clock
            .mission_ms(self.now)
            .map(|ms| MissionTime::from_unix_micros(ms.saturating_mul(1000)))
            .ok_or(MissionTimeError::NotSet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hal::time::MissionClock as _;

    const T0: u64 = 1_790_000_000_000;

    fn at_ms(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    #[test]
    fn an_uncorrelated_clock_has_no_mission_time_but_stays_monotonic() {
        let c = MissionClock::resume(ClockRecord::default(), at_ms(5));
        assert_eq!(c.mission_ms(at_ms(5)), None);
        assert_eq!(c.at(at_ms(5)).mission_time(), Err(MissionTimeError::NotSet));
        assert_eq!(c.monotone_ms(at_ms(5)), 5);
        assert_eq!(c.monotone_ms(at_ms(9)), 9);
    }

    #[test]
    fn correlations_only_move_forward_and_are_never_replayed() {
        let c = MissionClock::resume(ClockRecord::default(), at_ms(0));
        let c = c.correlated(T0, at_ms(1_000)).expect("first correlation");
        assert_eq!(c.mission_ms(at_ms(3_000)), Some(T0 + 2_000));
        assert_eq!(
            c.at(at_ms(3_000))
                .mission_time()
                .map(MissionTime::as_unix_secs),
            Ok((T0 + 2_000) / 1000)
        );
        // The same correlation again: a replay.
        assert_eq!(
            c.correlated(T0, at_ms(3_000)),
            Err(CorrelationError::Replayed {
                ground_ms: T0,
                last_ms: T0
            })
        );
        // Above the last correlation but below the node's time: backwards.
        assert_eq!(
            c.correlated(T0 + 1_500, at_ms(3_000)),
            Err(CorrelationError::Backwards {
                ground_ms: T0 + 1_500,
                node_ms: T0 + 2_000
            })
        );
        let d = c.correlated(T0 + 60_000, at_ms(3_000)).expect("forward");
        assert_eq!(d.mission_ms(at_ms(4_000)), Some(T0 + 61_000));
    }

    #[test]
    fn resuming_after_a_reset_counts_the_new_uptime_and_never_runs_ahead() {
        let c = MissionClock::resume(ClockRecord::default(), at_ms(0))
            .correlated(T0, at_ms(50_000))
            .expect("correlation");
        let rec = c.record(at_ms(80_000));
        assert_eq!(rec.mark_ms, T0 + 30_000);
        // Board reset: the new power cycle's instant (2 s) is below the mark's (80 s).
        let r = MissionClock::resume(rec, at_ms(2_000));
        assert_eq!(r.mission_ms(at_ms(2_000)), Some(T0 + 32_000));
        assert_eq!(r.mission_ms(at_ms(10_000)), Some(T0 + 40_000));
        // The component alone restarted (same power cycle, instant 90 s): exact.
        let s = MissionClock::resume(rec, at_ms(90_000));
        assert_eq!(s.mission_ms(at_ms(90_000)), Some(T0 + 40_000));
        // Never below the mark.
        assert!(s.monotone_ms(at_ms(90_000)) >= rec.mark_ms);
        // A correlation below the resumed time is still refused.
        assert!(matches!(
            r.correlated(T0 + 31_000, at_ms(2_000)),
            Err(CorrelationError::Backwards { .. })
        ));
    }
}
