//! The anti-replay sequence number check of the receiving end, as CCSDS 355.0-B-2 defines it.
//!
//! SDLS keeps, per security association, the last anti-replay sequence number (ARSN) it accepted
//! and a *sequence number window* W (a managed parameter of the association). After the MAC of a
//! unit has verified (§4.2.3, ProcessSecurity: the MAC is checked before the ARSN, so a forged
//! unit can never move the window), a received ARSN `s` is judged against the last accepted `L`:
//!
//! | case | condition | verdict | effect |
//! | --- | --- | --- | --- |
//! | next | `s == L + 1` | accept ([`SeqVerdict::Next`]) | `L := s` |
//! | gap inside window | `L + 1 < s <= L + W` | accept ([`SeqVerdict::Gap`]) | `L := s`; the skipped numbers are now behind `L` and will be refused if they arrive late |
//! | replay | `s <= L` | refuse ([`SeqVerdict::Replay`]) | none |
//! | outside window | `s > L + W` | refuse ([`SeqVerdict::OutsideWindow`]) | none |
//!
//! This is SDLS's *positive* window: unlike IPsec's sliding bitmap, a late unit is never
//! accepted once a higher number has been, so every accepted unit has a strictly higher ARSN
//! than all accepted before it (the property the reboot persistence relies on). The NASA
//! CryptoLib implementation of 355.0 (`Crypto_window`) behaves the same: it accepts the W values
//! after the stored one.
//!
//! ARSN 0 is never accepted (a fresh association has `L = 0`, the ground starts at 1).
//! Arithmetic saturates: an association whose `L` reached `u64::MAX` accepts nothing more.
//!
//! This module only judges and commits; [`super::engine`] decides when to commit (after the
//! persistence rule has been satisfied). It avoids any state beyond two integers.

/// The judgement of one received ARSN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqVerdict {
    /// The expected next number.
    Next,
    /// Ahead of the expected number, within the window; `skipped` numbers were never seen.
    Gap {
        /// How many numbers between the last accepted and this one were skipped.
        skipped: u64,
    },
    /// Equal to or below the last accepted number.
    Replay,
    /// More than the window ahead of the last accepted number.
    OutsideWindow,
}

impl SeqVerdict {
    /// Whether the unit is accepted.
    pub const fn accepted(self) -> bool {
        matches!(self, SeqVerdict::Next | SeqVerdict::Gap { .. })
    }
}

/// One association's receive-side anti-replay state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayWindow {
    last: u64,
    width: u64,
}

impl ReplayWindow {
    /// A window of `width` (at least 1) after `last` accepted numbers.
    pub const fn new(last: u64, width: u64) -> Self {
        let width = if width == 0 { 1 } else { width };
        ReplayWindow { last, width }
    }

    /// The last accepted ARSN.
    pub const fn last(&self) -> u64 {
        self.last
    }

    /// The window width W.
    pub const fn width(&self) -> u64 {
        self.width
    }

    /// Judge `seq` without changing anything.
    pub const fn check(&self, seq: u64) -> SeqVerdict {
        if seq <= self.last {
            SeqVerdict::Replay
        } else {
            // seq > last, so no underflow.
            let ahead = seq - self.last;
            if ahead == 1 {
                SeqVerdict::Next
            } else if ahead <= self.width {
                SeqVerdict::Gap { skipped: ahead - 1 }
            } else {
                SeqVerdict::OutsideWindow
            }
        }
    }

    /// Record `seq` as accepted. Only call with a number [`ReplayWindow::check`] accepted;
    /// anything else is ignored (the window never moves backwards).
    pub fn commit(&mut self, seq: u64) {
        if self.check(seq).accepted() {
            self.last = seq;
        }
    }

    /// Raise the floor to `floor` (an authenticated management command): every number up to
    /// `floor` is refused from now on. Never lowers it.
    pub fn raise_floor(&mut self, floor: u64) {
        if floor > self.last {
            self.last = floor;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_accepted_and_moves_the_window() {
        let mut w = ReplayWindow::new(0, 8);
        assert_eq!(w.check(1), SeqVerdict::Next);
        w.commit(1);
        assert_eq!(w.last(), 1);
        assert_eq!(w.check(2), SeqVerdict::Next);
    }

    #[test]
    fn zero_is_never_accepted() {
        let w = ReplayWindow::new(0, 8);
        assert_eq!(w.check(0), SeqVerdict::Replay);
    }

    #[test]
    fn gap_inside_window_is_accepted_and_skipped_numbers_become_replays() {
        let mut w = ReplayWindow::new(10, 8);
        assert_eq!(w.check(18), SeqVerdict::Gap { skipped: 7 });
        w.commit(18);
        for late in 11..=18 {
            assert_eq!(w.check(late), SeqVerdict::Replay, "late {late}");
        }
        assert_eq!(w.check(19), SeqVerdict::Next);
    }

    #[test]
    fn edge_of_window_is_inside_and_one_past_is_outside() {
        let w = ReplayWindow::new(100, 5);
        assert_eq!(w.check(105), SeqVerdict::Gap { skipped: 4 });
        assert_eq!(w.check(106), SeqVerdict::OutsideWindow);
        assert_eq!(w.check(u64::MAX), SeqVerdict::OutsideWindow);
    }

    #[test]
    fn replay_and_old_are_refused_and_commit_ignores_them() {
        let mut w = ReplayWindow::new(50, 4);
        assert_eq!(w.check(50), SeqVerdict::Replay);
        assert_eq!(w.check(3), SeqVerdict::Replay);
        w.commit(3);
        w.commit(200);
        assert_eq!(w.last(), 50);
    }

    #[test]
    fn width_one_accepts_only_next() {
        let w = ReplayWindow::new(7, 1);
        assert_eq!(w.check(8), SeqVerdict::Next);
        assert_eq!(w.check(9), SeqVerdict::OutsideWindow);
        assert_eq!(ReplayWindow::new(7, 0).width(), 1);
    }

    #[test]
    fn saturated_window_accepts_nothing() {
        let w = ReplayWindow::new(u64::MAX, u64::MAX);
        assert_eq!(w.check(u64::MAX), SeqVerdict::Replay);
    }

    #[test]
    fn floor_only_rises() {
        let mut w = ReplayWindow::new(10, 4);
        w.raise_floor(5);
        assert_eq!(w.last(), 10);
        w.raise_floor(1000);
        assert_eq!(w.check(1000), SeqVerdict::Replay);
        assert_eq!(w.check(1001), SeqVerdict::Next);
    }
}
