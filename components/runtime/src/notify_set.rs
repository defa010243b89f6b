//! Wake-up sources and the set of sources that fired, as [`crate::Component::notified`] sees it.
//!
//! A [`Source`] is a small number the board assigns to each receive channel and each device
//! interrupt of a component (like a Microkit channel id), plus [`Source::TIMER`] for the
//! component's own deadline. A [`NotifySet`] is a 64-bit set of them.
//!
//! Avoids: allocation and any meaning beyond "this source fired since the last call".

/// One wake-up source of a component: 0..=62 for channels and devices, 63 for the timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source(u8);

impl Source {
    /// The component's own deadline (see [`crate::Context::wake_at`]).
    pub const TIMER: Source = Source(63);
    /// Largest channel or device source number.
    pub const MAX_INDEX: u8 = 62;

    /// The source with this number, if it is a channel or device source (`0..=62`).
    pub const fn new(index: u8) -> Option<Source> {
        if index <= Self::MAX_INDEX {
            Some(Source(index))
        } else {
            None
        }
    }

    /// Its number.
    pub const fn index(self) -> u8 {
        self.0
    }
}

/// A set of sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct NotifySet(u64);

impl NotifySet {
    /// No source.
    pub const EMPTY: NotifySet = NotifySet(0);

    /// The set with `bits` (bit `i` = source `i`).
    pub const fn from_bits(bits: u64) -> Self {
        NotifySet(bits)
    }

    /// The bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether `source` is in the set.
    pub const fn contains(self, source: Source) -> bool {
        self.0 & (1 << source.0) != 0
    }

    /// Adds `source`.
    pub fn insert(&mut self, source: Source) {
        self.0 |= 1 << source.0;
    }

    /// Removes `source`; returns whether it was there.
    pub fn remove(&mut self, source: Source) -> bool {
        let had = self.contains(source);
        self.0 &= !(1 << source.0);
        had
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The sources in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = Source> {
        (0u8..64)
            .filter(move |i| self.0 & (1 << i) != 0)
            .map(Source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_hold_channels_and_the_timer() {
        assert_eq!(Source::new(63), None);
        let a = Source::new(0).unwrap();
        let b = Source::new(62).unwrap();
        let mut s = NotifySet::EMPTY;
        assert!(s.is_empty());
        s.insert(a);
        s.insert(Source::TIMER);
        assert!(s.contains(a) && s.contains(Source::TIMER) && !s.contains(b));
        assert!(s.remove(a));
        assert!(!s.remove(a));
        s.insert(b);
        let mut it = s.iter();
        assert_eq!(it.next(), Some(b));
        assert_eq!(it.next(), Some(Source::TIMER));
        assert_eq!(it.next(), None);
    }
}
