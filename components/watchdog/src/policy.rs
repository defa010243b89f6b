//! Restart policy arithmetic: the back-off before a restart, and the restart budget per window.
//!
//! **Back-off** (Hubris supervisor's minimum-run rule, with exponential growth): the first
//! failure of a component waits `backoff_ms` before its restart is requested. A later failure
//! waits `backoff_ms` again if the component had been running for at least `min_run_ms` since its
//! last start, and otherwise twice the previous back-off, never more than `backoff_max_ms`. So a
//! component that crashes right after every start is restarted ever more slowly and cannot spin
//! the monitor, while one that fails once after a good run comes back fast.
//!
//! **Budget**: at most `max_restarts` restarts for a component's own failures in any interval of
//! `window_s` seconds (a sliding window). Keeping every restart time would take up to 1,000
//! timestamps per component; instead time is cut into fixed buckets of one window each and a
//! restart at time `t` is allowed only if the restarts counted in `t`'s bucket and the one before
//! total less than `max_restarts`. Every interval `(t - W, t]` lies within those two buckets, so
//! the sliding-window cap holds exactly; the price is that a restart can be refused up to one
//! window earlier than an exact sliding count would refuse it (never later). Two counters per
//! component, no allocation.
//!
//! Avoids: time sources (every function takes the instant), and any decision about what to do
//! when the budget is spent (that is [`crate::machine`]'s job).

use hal::time::Instant;

use crate::config::RestartPolicy;

/// The back-off before the restart that follows a failure.
///
/// `previous` is the back-off used for the previous restart of this component (`None` if it never
/// failed), `ran_ms` how long it had been running since its last start.
pub fn next_backoff(previous: Option<u32>, ran_ms: u64, policy: &RestartPolicy) -> u32 {
    match previous {
        Some(prev) if ran_ms < u64::from(policy.min_run_ms) => prev
            .saturating_mul(2)
            .max(policy.backoff_ms)
            .min(policy.backoff_max_ms),
        // `min` keeps the result within the maximum even for an unchecked policy.
        _ => policy.backoff_ms.min(policy.backoff_max_ms),
    }
}

/// Restarts counted in two consecutive fixed windows (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartBudget {
    window_us: u64,
    max: u32,
    bucket: u64,
    current: u32,
    previous: u32,
}

impl RestartBudget {
    /// A budget of `max` restarts per `window_s` seconds (both at least 1, as the config checks;
    /// a zero window is treated as one second).
    pub fn new(max: u32, window_s: u32) -> Self {
        RestartBudget {
            window_us: u64::from(window_s.max(1)) * 1_000_000,
            max,
            bucket: 0,
            current: 0,
            previous: 0,
        }
    }

    /// (restarts in the bucket before `now`'s, restarts in `now`'s bucket), as of `now`.
    fn counts_at(&self, now: Instant) -> (u32, u32) {
        let b = now.as_micros() / self.window_us;
        if b == self.bucket {
            (self.previous, self.current)
        } else if b == self.bucket.wrapping_add(1) {
            (self.current, 0)
        } else {
            // Two or more buckets later: nothing recent. (Earlier than the stored bucket cannot
            // happen with a monotonic clock; it is treated the same way, which only errs towards
            // refusing, since the stored counts are then kept.)
            if b < self.bucket {
                (self.previous, self.current)
            } else {
                (0, 0)
            }
        }
    }

    /// Whether a restart at `now` is within budget.
    pub fn allows(&self, now: Instant) -> bool {
        let (p, c) = self.counts_at(now);
        p.saturating_add(c) < self.max
    }

    /// Count a restart at `now` if it is within budget; returns whether it was.
    pub fn consume(&mut self, now: Instant) -> bool {
        if !self.allows(now) {
            return false;
        }
        let (p, c) = self.counts_at(now);
        let b = now.as_micros() / self.window_us;
        if b > self.bucket {
            self.bucket = b;
        }
        self.previous = p;
        self.current = c.saturating_add(1);
        true
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::config::ComponentSet;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn policy(backoff: u32, max: u32, min_run: u32) -> RestartPolicy {
        RestartPolicy {
            max_restarts: 3,
            window_s: 60,
            backoff_ms: backoff,
            backoff_max_ms: max,
            min_run_ms: min_run,
            with: ComponentSet::EMPTY,
        }
    }

    #[test]
    fn backoff_doubles_while_crash_looping_and_starts_over_after_a_good_run() {
        let p = policy(100, 1_000, 2_000);
        assert_eq!(next_backoff(None, 0, &p), 100);
        assert_eq!(next_backoff(Some(100), 10, &p), 200);
        assert_eq!(next_backoff(Some(200), 1_999, &p), 400);
        assert_eq!(next_backoff(Some(800), 0, &p), 1_000);
        assert_eq!(next_backoff(Some(1_000), 0, &p), 1_000);
        assert_eq!(next_backoff(Some(1_000), 2_000, &p), 100);
        assert_eq!(next_backoff(Some(u32::MAX), 0, &p), 1_000);
        let zero = policy(0, 0, 1_000);
        assert_eq!(next_backoff(Some(0), 0, &zero), 0);
    }

    #[test]
    fn budget_refuses_the_restart_past_the_cap_and_forgets_after_two_windows() {
        let mut b = RestartBudget::new(2, 10);
        let s = |secs: u64| Instant::from_micros(secs * 1_000_000);
        assert!(b.consume(s(1)));
        assert!(b.consume(s(2)));
        assert!(!b.allows(s(3)));
        assert!(!b.consume(s(9)));
        // Next bucket: the two restarts of the previous bucket still count.
        assert!(!b.allows(s(15)));
        // Two buckets on: free again.
        assert!(b.consume(s(20)));
        assert!(b.consume(s(29)));
        assert!(!b.allows(s(29)));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        /// Whatever the request times, accepted restarts never exceed the cap in any sliding window.
        #[test]
        fn sliding_window_cap_holds(max in 1u32..6, window_s in 1u32..20,
                                    gaps in proptest::collection::vec(0u64..8_000_000, 1..80)) {
            let mut b = RestartBudget::new(max, window_s);
            let w = u64::from(window_s) * 1_000_000;
            let mut t = 0u64;
            let mut accepted: Vec<u64> = Vec::new();
            for g in gaps {
                t += g;
                if b.consume(Instant::from_micros(t)) {
                    accepted.push(t);
                }
            }
            for &end in &accepted {
                let n = accepted.iter().filter(|&&r| r + w > end && r <= end).count();
                prop_assert!(n <= max as usize, "{n} restarts in the window ending {end}");
            }
        }
    }
}
