//! The sim board's clocks: monotonic time since the board's power-on, and mission time.
//!
//! The monotonic clock reads Linux `CLOCK_MONOTONIC` (system-wide, never goes backwards, vDSO:
//! no system call) relative to the power-on *epoch*: the monitor records the epoch once at
//! power-on ([`SimClock::power_on`]) and hands the number to every component process
//! ([`SimClock::with_epoch`]), so all processes of one power cycle agree on "microseconds since
//! power-on". Mission time reads `CLOCK_REALTIME` (the host's UTC), which the sim board treats
//! as an always-correlated real-time clock; a host clock before 1970 reads as not set.

use hal::time::{Instant, MissionClock, MissionTime, MissionTimeError, MonotonicClock};
use rustix::time::{ClockId, clock_gettime};

fn nanos(id: ClockId) -> Option<u64> {
    let t = clock_gettime(id);
    let s = u64::try_from(t.tv_sec).ok()?;
    let ns = u64::try_from(t.tv_nsec).ok()?;
    s.checked_mul(1_000_000_000)?.checked_add(ns)
}

/// Raw `CLOCK_MONOTONIC` in nanoseconds (0 if the host clock is unusable, which Linux never does).
pub fn monotonic_raw_ns() -> u64 {
    nanos(ClockId::Monotonic).unwrap_or(0)
}

/// The sim board's clock (both [`MonotonicClock`] and [`MissionClock`]).
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    epoch_ns: u64,
}

impl SimClock {
    /// Power-on: now is time zero.
    pub fn power_on() -> Self {
        SimClock {
            epoch_ns: monotonic_raw_ns(),
        }
    }

    /// A clock sharing the power-on epoch `epoch_ns` (a `CLOCK_MONOTONIC` value in nanoseconds,
    /// from [`SimClock::epoch_ns`] in the monitor).
    pub const fn with_epoch(epoch_ns: u64) -> Self {
        SimClock { epoch_ns }
    }

    /// The power-on epoch, to hand to component processes.
    pub const fn epoch_ns(&self) -> u64 {
        self.epoch_ns
    }
}

impl MonotonicClock for SimClock {
    fn now(&self) -> Instant {
        Instant::from_micros(monotonic_raw_ns().saturating_sub(self.epoch_ns) / 1_000)
    }
}

impl MissionClock for SimClock {
    fn mission_time(&self) -> Result<MissionTime, MissionTimeError> {
        match nanos(ClockId::Realtime) {
            Some(ns) if ns > 0 => Ok(MissionTime::from_unix_micros(ns / 1_000)),
            _ => Err(MissionTimeError::NotSet),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_time_never_decreases_and_processes_share_the_epoch() {
        let a = SimClock::power_on();
        let b = SimClock::with_epoch(a.epoch_ns());
        let mut last = Instant::ZERO;
        for _ in 0..10_000 {
            let t = a.now();
            assert!(t >= last);
            last = t;
            let u = b.now();
            assert!(
                u >= t,
                "a clock with the same epoch read later is not earlier"
            );
        }
        // A clock powered on later reads less time since its power-on.
        let later = SimClock::with_epoch(a.epoch_ns() + 1_000_000_000_000);
        assert_eq!(later.now(), Instant::ZERO);
    }

    #[test]
    fn mission_time_is_unix_time() {
        let t = SimClock::power_on().mission_time().expect("host clock set");
        // After 2020-01-01 and before 2200-01-01: the host clock is plausible and the unit is us.
        assert!(t.as_unix_secs() > 1_577_836_800 && t.as_unix_secs() < 7_258_118_400);
    }
}
