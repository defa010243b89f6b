//! TC segmentation (CCSDS 232.0 §4.1.3.2, the segment header's sequence flags): a data unit
//! (a space packet or a batch) longer than one TC frame's data goes up as a first segment,
//! continuing segments and a last segment on one MAP; one that fits goes unsegmented.
//! [`segments`] cuts a unit; [`Reassembler`] (one per MAP) puts it back together and refuses
//! segments out of order rather than joining pieces of different units.
//!
//! Avoids: heap (const-generic buffer), handing up a unit that lost a segment.

use crate::tc::SeqFlags;

/// Cuts `unit` into segments of at most `max` bytes, with their sequence flags. Yields nothing
/// when `max` is 0.
pub fn segments(unit: &[u8], max: usize) -> impl Iterator<Item = (SeqFlags, &[u8])> {
    let count = if max == 0 {
        0
    } else {
        unit.len().div_ceil(max).max(1)
    };
    (0..count).map(move |i| {
        let start = i * max;
        let end = (start + max).min(unit.len());
        let flags = match (i == 0, i + 1 == count) {
            (true, true) => SeqFlags::Unsegmented,
            (true, false) => SeqFlags::First,
            (false, true) => SeqFlags::Last,
            (false, false) => SeqFlags::Continuing,
        };
        (flags, &unit[start..end])
    })
}

/// Why a segment was refused (the unit under way, if any, is dropped with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// A continuing or last segment with no first segment before it (one was lost).
    #[error("TC segment continues a unit whose first segment was not received; dropped")]
    NoFirstSegment,
    /// The unit grows past the buffer.
    #[error("TC unit longer than {max} bytes; dropped")]
    TooLong {
        /// Buffer size.
        max: usize,
    },
}

/// Counters of one reassembler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentStats {
    /// Units handed up.
    pub units: u32,
    /// Partial units dropped because a new unit started before their last segment.
    pub interrupted: u32,
}

/// Reassembles the units of one MAP, up to `N` bytes each.
#[derive(Debug)]
pub struct Reassembler<const N: usize> {
    buf: [u8; N],
    len: usize,
    active: bool,
    stats: SegmentStats,
}

impl<const N: usize> Default for Reassembler<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Reassembler<N> {
    /// An empty reassembler.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            active: false,
            stats: SegmentStats {
                units: 0,
                interrupted: 0,
            },
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> SegmentStats {
        self.stats
    }

    /// Takes one segment; returns the whole unit when this segment completed it. A first or
    /// unsegmented segment arriving while a unit is under way drops that partial unit (counted
    /// in [`SegmentStats::interrupted`]) and starts anew; an error drops the segment and any
    /// unit under way.
    pub fn push(&mut self, flags: SeqFlags, data: &[u8]) -> Result<Option<&[u8]>, SegmentError> {
        let starts = matches!(flags, SeqFlags::First | SeqFlags::Unsegmented);
        if starts && self.active {
            self.stats.interrupted = self.stats.interrupted.saturating_add(1);
            self.reset();
        }
        if !starts && !self.active {
            return Err(SegmentError::NoFirstSegment);
        }
        let Some(dest) = self.buf.get_mut(self.len..self.len + data.len()) else {
            self.reset();
            return Err(SegmentError::TooLong { max: N });
        };
        dest.copy_from_slice(data);
        self.len += data.len();
        if matches!(flags, SeqFlags::Last | SeqFlags::Unsegmented) {
            let len = self.len;
            self.reset();
            self.stats.units = self.stats.units.saturating_add(1);
            return Ok(Some(&self.buf[..len]));
        }
        self.active = true;
        Ok(None)
    }

    fn reset(&mut self) {
        self.len = 0;
        self.active = false;
    }
}
