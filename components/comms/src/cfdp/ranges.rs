//! A bounded set of byte ranges: what a receiver holds, or what a sender was asked to resend.
//!
//! Ranges are half-open `[start, end)`, kept sorted, disjoint and non-adjacent (touching ranges
//! merge), in a fixed array of `N` slots. When an insert would need slot `N + 1`, the caller
//! chooses: [`RangeSet::insert`] refuses (a receiver then simply does not record the segment and
//! asks for it again later: correct, only slower), [`RangeSet::insert_coarse`] merges the new
//! range into its nearest neighbour (a sender then resends a little more than was asked: never
//! less). Avoids: allocation, and any state that could grow with the input.

/// A sorted set of at most `N` disjoint half-open byte ranges.
#[derive(Debug, Clone)]
pub struct RangeSet<const N: usize> {
    r: [(u64, u64); N],
    n: usize,
}

impl<const N: usize> Default for RangeSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> RangeSet<N> {
    /// An empty set.
    pub const fn new() -> Self {
        RangeSet {
            r: [(0, 0); N],
            n: 0,
        }
    }

    /// The ranges, sorted.
    pub fn as_slice(&self) -> &[(u64, u64)] {
        self.r.get(..self.n).unwrap_or(&[])
    }

    /// Number of ranges.
    pub fn len(&self) -> usize {
        self.n
    }

    /// No ranges.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Remove everything.
    pub fn clear(&mut self) {
        self.n = 0;
    }

    /// Total bytes covered.
    pub fn covered(&self) -> u64 {
        self.as_slice().iter().map(|(s, e)| e - s).sum()
    }

    /// One past the highest byte covered (0 when empty).
    pub fn end(&self) -> u64 {
        self.as_slice().last().map_or(0, |r| r.1)
    }

    /// Whether `[start, end)` is entirely covered.
    pub fn contains(&self, start: u64, end: u64) -> bool {
        start >= end || self.as_slice().iter().any(|&(s, e)| s <= start && end <= e)
    }

    /// Whether the set is exactly `[0, size)` (or `size == 0` and empty).
    pub fn is_complete(&self, size: u64) -> bool {
        size == 0 || self.as_slice() == [(0, size)]
    }

    /// Add `[start, end)`. Returns `false` (set unchanged) if it would need more than `N` slots.
    pub fn insert(&mut self, start: u64, end: u64) -> bool {
        if start >= end {
            return true;
        }
        // First range that ends at or after `start` (could merge), and first that starts after `end`.
        let s = self.as_slice();
        let lo = s.iter().position(|r| r.1 >= start).unwrap_or(self.n);
        let hi = s.iter().position(|r| r.0 > end).unwrap_or(self.n);
        if lo == hi {
            // No overlap: insert a new slot at `lo`.
            if self.n == N {
                return false;
            }
            self.r.copy_within(lo..self.n, lo + 1);
            self.r[lo] = (start, end);
            self.n += 1;
            return true;
        }
        // Merge slots lo..hi into one.
        let ns = start.min(self.r[lo].0);
        let ne = end.max(self.r[hi - 1].1);
        self.r[lo] = (ns, ne);
        self.r.copy_within(hi..self.n, lo + 1);
        self.n -= hi - lo - 1;
        true
    }

    /// Add `[start, end)`; if the set is full, widen the neighbour nearest to it instead, so the
    /// set still covers (a superset of) everything ever inserted.
    pub fn insert_coarse(&mut self, start: u64, end: u64) {
        if self.insert(start, end) || self.n == 0 {
            return;
        }
        let s = self.as_slice();
        let idx = s.iter().position(|r| r.0 > end).unwrap_or(self.n);
        // Candidates: the slot before (idx - 1) and the slot at idx.
        let gap_before = idx
            .checked_sub(1)
            .and_then(|i| s.get(i))
            .map(|r| start.saturating_sub(r.1));
        let gap_after = s.get(idx).map(|r| r.0.saturating_sub(end));
        let target = match (gap_before, gap_after) {
            (Some(b), Some(a)) if a < b => idx,
            (Some(_), _) => idx - 1,
            _ => idx,
        };
        let (ts, te) = self.r[target];
        let (ns, ne) = (ts.min(start), te.max(end));
        // Widening can make it touch neighbours: remove and re-insert (never needs a new slot).
        self.remove_slot(target);
        let _ = self.insert(ns, ne);
    }

    fn remove_slot(&mut self, i: usize) {
        if i < self.n {
            self.r.copy_within(i + 1..self.n, i);
            self.n -= 1;
        }
    }

    /// Remove `[start, end)` from the set. Returns `false` (set unchanged) if splitting a range
    /// would need more than `N` slots.
    pub fn remove(&mut self, start: u64, end: u64) -> bool {
        if start >= end {
            return true;
        }
        let mut i = 0;
        while i < self.n {
            let (s, e) = self.r[i];
            if e <= start || s >= end {
                i += 1;
                continue;
            }
            let left = (s < start).then_some((s, start));
            let right = (e > end).then_some((end, e));
            match (left, right) {
                (Some(l), Some(r)) => {
                    if self.n == N {
                        return false;
                    }
                    self.r.copy_within(i + 1..self.n, i + 2);
                    self.r[i] = l;
                    self.r[i + 1] = r;
                    self.n += 1;
                    return true;
                }
                (Some(l), None) => {
                    self.r[i] = l;
                    i += 1;
                }
                (None, Some(r)) => {
                    self.r[i] = r;
                    return true;
                }
                (None, None) => self.remove_slot(i),
            }
        }
        true
    }

    /// Pop up to `max` bytes from the front of the first range.
    pub fn pop_front(&mut self, max: u64) -> Option<(u64, u64)> {
        let &(s, e) = self.as_slice().first()?;
        let take_end = e.min(s.saturating_add(max.max(1)));
        if take_end >= e {
            self.remove_slot(0);
        } else {
            self.r[0].0 = take_end;
        }
        Some((s, take_end))
    }

    /// The gaps of `[0, end)` not covered, in order.
    pub fn gaps(&self, end: u64) -> Gaps<'_> {
        Gaps {
            ranges: self.as_slice(),
            pos: 0,
            end,
        }
    }
}

/// Iterator over the uncovered parts of `[0, end)`.
pub struct Gaps<'a> {
    ranges: &'a [(u64, u64)],
    pos: u64,
    end: u64,
}

impl Iterator for Gaps<'_> {
    type Item = (u64, u64);
    fn next(&mut self) -> Option<(u64, u64)> {
        while self.pos < self.end {
            match self.ranges.split_first() {
                Some((&(s, e), rest)) if s <= self.pos => {
                    self.pos = self.pos.max(e);
                    self.ranges = rest;
                }
                Some((&(s, _), _)) => {
                    let gap = (self.pos, s.min(self.end));
                    self.pos = s;
                    return Some(gap);
                }
                None => {
                    let gap = (self.pos, self.end);
                    self.pos = self.end;
                    return Some(gap);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn model_insert(m: &mut [bool], s: u64, e: u64) {
        for b in &mut m[s as usize..e as usize] {
            *b = true;
        }
    }

    fn as_bits(set: &[(u64, u64)], len: usize) -> Vec<bool> {
        let mut m = vec![false; len];
        for &(s, e) in set {
            model_insert(&mut m, s, e);
        }
        m
    }

    #[test]
    fn merges_touching_and_overlapping() {
        let mut r = RangeSet::<4>::new();
        assert!(r.insert(10, 20));
        assert!(r.insert(20, 30));
        assert!(r.insert(0, 5));
        assert_eq!(r.as_slice(), &[(0, 5), (10, 30)]);
        assert!(r.insert(4, 11));
        assert_eq!(r.as_slice(), &[(0, 30)]);
        assert!(r.is_complete(30));
        assert_eq!(r.gaps(40).collect::<Vec<_>>(), vec![(30, 40)]);
    }

    #[test]
    fn full_set_refuses_or_widens() {
        let mut r = RangeSet::<2>::new();
        assert!(r.insert(0, 1));
        assert!(r.insert(10, 11));
        assert!(!r.insert(5, 6));
        assert_eq!(r.as_slice(), &[(0, 1), (10, 11)]);
        r.insert_coarse(7, 8);
        assert_eq!(r.as_slice(), &[(0, 1), (7, 11)]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_a_bitmap(ops in proptest::collection::vec((0u64..64, 0u64..64, 0u8..3), 0..40)) {
            let mut r = RangeSet::<6>::new();
            let mut m = vec![false; 64];
            for (a, b, op) in ops {
                let (s, e) = (a.min(b), a.max(b));
                match op {
                    0 => if r.insert(s, e) { model_insert(&mut m, s, e) },
                    1 => {
                        r.insert_coarse(s, e);
                        model_insert(&mut m, s, e);
                        // Coarse inserts may cover more than the model: resync the model.
                        let cover = as_bits(r.as_slice(), 64);
                        for (x, c) in m.iter().zip(&cover) { prop_assert!(!*x || *c); }
                        m = cover;
                    }
                    _ => if r.remove(s, e) { for b in &mut m[s as usize..e as usize] { *b = false; } },
                }
                prop_assert_eq!(as_bits(r.as_slice(), 64), m.clone());
                let w = r.as_slice();
                for p in w.windows(2) { prop_assert!(p[0].1 < p[1].0); }
                for &(s, e) in w { prop_assert!(s < e); }
                let gaps: u64 = r.gaps(64).map(|(s, e)| e - s).sum();
                prop_assert_eq!(gaps + r.covered(), 64);
            }
        }
    }
}
