//! Velocity windows: per server and per distinct period of its policy, how much outflow was
//! signed in the current window.
//!
//! Windows are *fixed*: a window of period `P` opens at the mission time of the first signed
//! transaction after the previous window ended, and lasts `P` seconds. So the limit holds within
//! each window; across a window boundary a server can get up to twice the limit signed in less
//! than `P` (the price of keeping one counter per period instead of a history). Time is the
//! ledger's *monotonic* mission time (never below the last committed batch's time, see
//! [`crate::ledger`]), so turning the clock back never reopens a spent window; moving it forward
//! (a ground clock correction) can end a window early, which only the ground can do.
//!
//! The windows live in the ledger record and are updated only when a batch commits.

use super::{MAX_PERIODS, Policy};

/// One window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Period in seconds.
    pub period_s: u32,
    /// Mission time (ms) the window opened.
    pub start_ms: u64,
    /// Outflow signed in the window, satoshis.
    pub spent: u64,
}

impl Window {
    fn open_at(&self, now_ms: u64) -> bool {
        let end = self
            .start_ms
            .saturating_add(u64::from(self.period_s).saturating_mul(1000));
        now_ms >= self.start_ms && now_ms < end
    }
}

/// A server's windows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Windows(heapless::Vec<Window, MAX_PERIODS>);

impl Windows {
    /// No windows.
    pub fn new() -> Self {
        Self::default()
    }

    /// From stored windows (at most [`MAX_PERIODS`]; extra ones are dropped).
    pub fn from_slice(w: &[Window]) -> Self {
        let mut v = heapless::Vec::new();
        for x in w.iter().take(MAX_PERIODS) {
            let _ = v.push(*x);
        }
        Self(v)
    }

    /// The windows.
    pub fn as_slice(&self) -> &[Window] {
        &self.0
    }

    /// Outflow counted in the open window of `period_s` at `now_ms` (0 if none is open).
    pub fn used(&self, period_s: u32, now_ms: u64) -> u64 {
        self.0
            .iter()
            .find(|w| w.period_s == period_s && w.open_at(now_ms))
            .map_or(0, |w| w.spent)
    }

    /// Counts `amount` in the window of every period of `policy` at `now_ms`, opening new
    /// windows as needed; windows of periods the policy no longer has are dropped.
    pub fn add(&mut self, policy: &Policy, now_ms: u64, amount: u64) {
        self.0.retain(|w| policy.periods().any(|p| p == w.period_s));
        for p in policy.periods() {
            match self.0.iter_mut().find(|w| w.period_s == p) {
                Some(w) if w.open_at(now_ms) => w.spent = w.spent.saturating_add(amount),
                Some(w) => {
                    *w = Window {
                        period_s: p,
                        start_ms: now_ms,
                        spent: amount,
                    }
                }
                None => {
                    // Cannot be full: a policy has at most MAX_PERIODS periods and every window
                    // kept is one of them.
                    let _ = self.0.push(Window {
                        period_s: p,
                        start_ms: now_ms,
                        spent: amount,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Action, Rule, Velocity};

    fn policy(periods: &[u32]) -> Policy {
        let mut p = Policy::empty();
        for &period_s in periods {
            let mut r = Rule::new(Action::Allow);
            r.velocity = Some(Velocity {
                limit: 100,
                period_s,
            });
            p.push(r).expect("push");
        }
        p
    }

    #[test]
    fn windows_open_accumulate_and_expire() {
        let p = policy(&[10, 60]);
        let mut w = Windows::new();
        assert_eq!(w.used(10, 0), 0);
        w.add(&p, 1_000, 30);
        w.add(&p, 5_000, 20);
        assert_eq!((w.used(10, 10_999), w.used(60, 10_999)), (50, 50));
        // The 10 s window opened at 1 s ends at 11 s; the 60 s one is still open.
        assert_eq!((w.used(10, 11_000), w.used(60, 11_000)), (0, 50));
        w.add(&p, 11_000, 5);
        assert_eq!((w.used(10, 11_000), w.used(60, 11_000)), (5, 55));
        // A time before a window's start does not count as inside it.
        assert_eq!(w.used(10, 10_000), 0);
        // A policy without the 60 s period drops that window.
        w.add(&policy(&[10]), 12_000, 1);
        assert_eq!(w.as_slice().len(), 1);
        assert_eq!(w.used(60, 12_000), 0);
    }
}
