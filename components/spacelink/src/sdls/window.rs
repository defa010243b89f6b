//! The anti-replay sequence number (ARSN) window of a receiving security association (CCSDS
//! 355.0 §4.2.3.4): the last accepted number `last` and the managed window width `width`.
//!
//! A number `s` is accepted when `last < s <= last + width` and refused otherwise: at or below
//! `last` it is a replay (or a frame overtaken by a later one, which SDLS refuses as well), above
//! `last + width` it is outside the window. Every accepted frame thus carries a number strictly
//! higher than all accepted before it. Number 0 is never accepted (a fresh association starts
//! at `last = 0`; senders start at 1). The sums saturate, so a window at `u64::MAX` accepts
//! nothing more rather than wrapping.
//!
//! The check and the commit are separate: [`super::frame`] judges a number only after the
//! frame's MAC has verified and commits it only when the whole frame is accepted, so a forged
//! frame never moves the window.
//!
//! Avoids: any state beyond two integers, a sliding bitmap (SDLS never accepts a late frame).

/// Why a sequence number is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// At or below the last accepted number.
    Replay,
    /// More than the window ahead of the last accepted number.
    OutsideWindow,
}

/// One receiving association's anti-replay state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    last: u64,
    width: u64,
}

impl Window {
    /// A window `width` wide (at least 1) after the last accepted number `last`.
    pub const fn new(last: u64, width: u64) -> Self {
        Self {
            last,
            width: if width == 0 { 1 } else { width },
        }
    }

    /// The last accepted number.
    pub const fn last(&self) -> u64 {
        self.last
    }

    /// The window width.
    pub const fn width(&self) -> u64 {
        self.width
    }

    /// Judges `seq` without changing anything.
    pub const fn judge(&self, seq: u64) -> Result<(), Refusal> {
        if seq <= self.last {
            Err(Refusal::Replay)
        } else if seq - self.last > self.width {
            Err(Refusal::OutsideWindow)
        } else {
            Ok(())
        }
    }

    /// Raises the last accepted number to `floor` (restored state, a management command);
    /// never lowers it.
    pub fn accept_floor(&mut self, floor: u64) {
        self.last = self.last.max(floor);
    }

    /// Records `seq` as accepted; a number [`Window::judge`] refuses changes nothing.
    pub fn accept(&mut self, seq: u64) {
        if self.judge(seq).is_ok() {
            self.last = seq;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exactly_the_numbers_after_last_within_the_width() {
        let w = Window::new(100, 5);
        assert_eq!(w.judge(100), Err(Refusal::Replay));
        assert_eq!(w.judge(0), Err(Refusal::Replay));
        for s in 101..=105 {
            assert_eq!(w.judge(s), Ok(()), "{s}");
        }
        assert_eq!(w.judge(106), Err(Refusal::OutsideWindow));
        assert_eq!(w.judge(u64::MAX), Err(Refusal::OutsideWindow));
    }

    #[test]
    fn an_accepted_gap_makes_the_skipped_numbers_replays() {
        let mut w = Window::new(0, 8);
        assert_eq!(w.judge(0), Err(Refusal::Replay));
        w.accept(5);
        assert_eq!(w.last(), 5);
        for s in 1..=5 {
            assert_eq!(w.judge(s), Err(Refusal::Replay));
        }
        w.accept(3);
        w.accept(100);
        assert_eq!(w.last(), 5);
    }

    #[test]
    fn width_zero_is_one_and_the_top_accepts_nothing() {
        assert_eq!(Window::new(7, 0).width(), 1);
        assert_eq!(Window::new(7, 0).judge(9), Err(Refusal::OutsideWindow));
        let top = Window::new(u64::MAX, u64::MAX);
        assert_eq!(top.judge(u64::MAX), Err(Refusal::Replay));
    }
}
