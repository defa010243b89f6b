//! One component's ping bookkeeping: the pings recently sent, which one is still open, how many
//! in a row went unanswered, and how a pong matches them.
//!
//! Rules (F Prime Health's, with a nonce per ping):
//! - a ping is due every period; when the next one is due and the open one has not been answered,
//!   that ping counts as **missed** (so its deadline is one period, or longer if the watchdog
//!   itself was late: a starved watchdog never counts more than one miss per ping it sent);
//! - a pong echoing the open ping's sequence and nonce is **on time**: the miss count starts over;
//! - a pong echoing an older ping correctly is **late**: that ping was already counted missed,
//!   and the pong does not undo it;
//! - a pong whose sequence is one of the last [`PING_HISTORY`] pings sent to this component but
//!   whose nonce differs is a **wrong nonce**: fatal for the caller;
//! - a pong for a sequence not among them (older, never sent, or from before a restart) is
//!   **unknown** and ignored: it cannot prove liveness and cannot be checked.
//!
//! Avoids: deciding what a miss means (thresholds and actions are in [`crate::machine`]) and
//! drawing nonces (the caller passes them in).

use hal::time::Instant;

/// How many pings per component are remembered for matching late pongs.
pub const PING_HISTORY: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sent {
    sequence: u32,
    nonce: u64,
    at: Instant,
    answered: bool,
}

/// How a pong relates to the pings sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PongMatch {
    /// Answers the open ping: round trip in microseconds.
    OnTime {
        /// Time from the ping's sending to the pong's arrival.
        round_trip_us: u64,
    },
    /// Answers an older ping correctly; it was already counted missed.
    Late,
    /// Answers a ping that was already answered.
    Duplicate,
    /// Its sequence is not among the pings remembered.
    Unknown,
    /// Its sequence is remembered but the nonce is not the one sent.
    WrongNonce {
        /// The nonce that was sent with that sequence.
        expected: u64,
    },
}

/// Ping bookkeeping for one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    history: [Option<Sent>; PING_HISTORY],
    next_slot: usize,
    open: Option<usize>,
    missed: u32,
    unsent: u32,
    next_ping_at: Instant,
    last_good: Option<Instant>,
    last_round_trip_us: u64,
}

impl Liveness {
    /// Fresh bookkeeping for a component started at `start`: first ping one period later.
    pub fn new(start: Instant, period_us: u64) -> Self {
        Liveness {
            history: [None; PING_HISTORY],
            next_slot: 0,
            open: None,
            missed: 0,
            unsent: 0,
            next_ping_at: start.saturating_add(core::time::Duration::from_micros(period_us)),
            last_good: None,
            last_round_trip_us: 0,
        }
    }

    /// Whether a ping is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        now >= self.next_ping_at
    }

    /// Close the current period: if the open ping went unanswered, count it missed. Returns the
    /// consecutive miss count afterwards.
    pub fn close_period(&mut self) -> u32 {
        if self.open.take().is_some() {
            self.missed = self.missed.saturating_add(1);
        }
        self.missed
    }

    /// A ping with `sequence` and `nonce` was sent at `now`; the next is due one period after
    /// the previous due time, or one period from now if the watchdog fell behind.
    pub fn sent(&mut self, sequence: u32, nonce: u64, now: Instant, period_us: u64) {
        let slot = self.next_slot % PING_HISTORY;
        if let Some(entry) = self.history.get_mut(slot) {
            *entry = Some(Sent {
                sequence,
                nonce,
                at: now,
                answered: false,
            });
        }
        self.open = Some(slot);
        self.next_slot = (slot + 1) % PING_HISTORY;
        self.unsent = 0;
        self.schedule(now, period_us);
    }

    /// No nonce could be drawn for the ping due at `now`: none is sent this period.
    pub fn not_sent(&mut self, now: Instant, period_us: u64) {
        self.unsent = self.unsent.saturating_add(1);
        self.schedule(now, period_us);
    }

    fn schedule(&mut self, now: Instant, period_us: u64) {
        let period = core::time::Duration::from_micros(period_us);
        let next = self.next_ping_at.saturating_add(period);
        self.next_ping_at = if next > now {
            next
        } else {
            now.saturating_add(period)
        };
    }

    /// Match a pong that arrived at `now`.
    pub fn pong(&mut self, sequence: u32, nonce: u64, now: Instant) -> PongMatch {
        let Some((slot, sent)) = self
            .history
            .iter()
            .enumerate()
            .find_map(|(i, s)| s.filter(|s| s.sequence == sequence).map(|s| (i, s)))
        else {
            return PongMatch::Unknown;
        };
        if sent.nonce != nonce {
            return PongMatch::WrongNonce {
                expected: sent.nonce,
            };
        }
        if sent.answered {
            return PongMatch::Duplicate;
        }
        if let Some(Some(entry)) = self.history.get_mut(slot) {
            entry.answered = true;
        }
        if self.open == Some(slot) {
            self.open = None;
            self.missed = 0;
            self.last_good = Some(now);
            let rtt = now.saturating_duration_since(sent.at).as_micros();
            self.last_round_trip_us = u64::try_from(rtt).unwrap_or(u64::MAX);
            PongMatch::OnTime {
                round_trip_us: self.last_round_trip_us,
            }
        } else {
            PongMatch::Late
        }
    }

    /// Consecutive missed pings.
    pub fn missed(&self) -> u32 {
        self.missed
    }

    /// Consecutive periods in which no ping could be sent (no nonce available).
    pub fn unsent(&self) -> u32 {
        self.unsent
    }

    /// When the last on-time pong arrived, if any since the start.
    pub fn last_good(&self) -> Option<Instant> {
        self.last_good
    }

    /// Round trip of the last on-time pong, in microseconds (0 before the first).
    pub fn last_round_trip_us(&self) -> u64 {
        self.last_round_trip_us
    }

    /// When the next ping is due.
    pub fn next_ping_at(&self) -> Instant {
        self.next_ping_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u64 = 100_000;

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1_000)
    }

    #[test]
    fn on_time_late_duplicate_unknown_and_wrong_nonce() {
        let mut l = Liveness::new(at(0), P);
        assert!(!l.due(at(99)));
        assert!(l.due(at(100)));
        assert_eq!(l.close_period(), 0);
        l.sent(1, 0xA, at(100), P);
        assert_eq!(
            l.pong(1, 0xA, at(103)),
            PongMatch::OnTime {
                round_trip_us: 3_000
            }
        );
        assert_eq!(l.pong(1, 0xA, at(104)), PongMatch::Duplicate);
        assert!(l.due(at(200)));
        assert_eq!(l.close_period(), 0);
        l.sent(2, 0xB, at(200), P);
        assert_eq!(l.close_period(), 1);
        l.sent(3, 0xC, at(300), P);
        assert_eq!(l.pong(2, 0xB, at(301)), PongMatch::Late);
        assert_eq!(l.missed(), 1);
        assert_eq!(
            l.pong(3, 0xD, at(302)),
            PongMatch::WrongNonce { expected: 0xC }
        );
        assert_eq!(l.pong(9, 0xC, at(302)), PongMatch::Unknown);
        assert_eq!(
            l.pong(3, 0xC, at(302)),
            PongMatch::OnTime {
                round_trip_us: 2_000
            }
        );
        assert_eq!(l.missed(), 0);
        assert_eq!(l.last_good(), Some(at(302)));
    }

    #[test]
    fn a_starved_watchdog_reschedules_from_now_instead_of_bursting() {
        let mut l = Liveness::new(at(0), P);
        l.sent(1, 1, at(100), P);
        assert_eq!(l.next_ping_at(), at(200));
        // The watchdog wakes up 1 s late: one miss, next ping one period from now.
        assert_eq!(l.close_period(), 1);
        l.sent(2, 2, at(1_150), P);
        assert_eq!(l.next_ping_at(), at(1_250));
    }

    #[test]
    fn old_pings_fall_out_of_the_history() {
        let mut l = Liveness::new(at(0), P);
        for s in 0..(PING_HISTORY as u32 + 1) {
            l.close_period();
            l.sent(s, u64::from(s) + 100, at(100 * (u64::from(s) + 1)), P);
        }
        assert_eq!(l.pong(0, 100, at(10_000)), PongMatch::Unknown);
        assert_eq!(l.pong(1, 101, at(10_000)), PongMatch::Late);
        assert_eq!(l.unsent(), 0);
        l.not_sent(at(10_000), P);
        assert_eq!(l.unsent(), 1);
    }
}
