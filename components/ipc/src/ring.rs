//! The single-producer single-consumer ring algorithm, independent of where its memory lives.
//!
//! Indices run over `0 .. 2 * slot_count` (so "full" and "empty" differ without a spare slot and
//! any slot count works); slot `i % slot_count` holds message `i`. Each side keeps its own index
//! privately and only ever *stores* the shared copy (Release, after finishing with the slot); it
//! *loads* the peer's index (Acquire, before touching the slot) and checks it before use, since a
//! hostile peer can write any value there.
//!
//! The functions are generic over [`IndexCell`] and take the slot access as a closure, so the
//! same code runs on a shared-memory region and, in the loom model test, on loom's atomics and
//! cells, where every interleaving is explored.
//!
//! Avoids: reading back its own shared index, compare-and-swap, and any blocking.

use core::sync::atomic::{AtomicU32, Ordering};

/// An atomic `u32` index cell.
pub(crate) trait IndexCell {
    fn load(&self, order: Ordering) -> u32;
    fn store(&self, value: u32, order: Ordering);
}

impl IndexCell for AtomicU32 {
    fn load(&self, order: Ordering) -> u32 {
        AtomicU32::load(self, order)
    }
    fn store(&self, value: u32, order: Ordering) {
        AtomicU32::store(self, value, order)
    }
}

/// Index arithmetic for a ring of `count` slots.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor {
    count: u32,
}

impl Cursor {
    /// `count` must be in `1..=2^16` (checked by `ChannelSpec`), so `2 * count` fits.
    pub(crate) const fn new(count: u32) -> Self {
        Self { count }
    }

    fn wrap(self) -> u32 {
        self.count * 2
    }

    /// Whether `index` is a valid index value.
    pub(crate) fn valid(self, index: u32) -> bool {
        index < self.wrap()
    }

    /// Messages in the ring between `tail` and `head`, or `None` if the pair is impossible.
    pub(crate) fn occupancy(self, head: u32, tail: u32) -> Option<u32> {
        if !self.valid(head) || !self.valid(tail) {
            return None;
        }
        let used = (head + self.wrap() - tail) % self.wrap();
        (used <= self.count).then_some(used)
    }

    pub(crate) fn next(self, index: u32) -> u32 {
        (index + 1) % self.wrap()
    }

    pub(crate) fn slot(self, index: u32) -> usize {
        (index % self.count) as usize
    }

    pub(crate) fn count(self) -> u32 {
        self.count
    }
}

/// Outcome of a failed produce.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ProduceError<E> {
    Full,
    /// The consumer index read from shared memory is impossible.
    Corrupt(u32),
    /// The slot writer failed; nothing was published.
    Write(E),
}

/// Outcome of a failed consume.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ConsumeError {
    Empty,
    /// The producer index read from shared memory is impossible.
    Corrupt(u32),
}

/// Producer: if a slot is free, `write` it and publish. `head` is the producer's private index.
pub(crate) fn produce<I: IndexCell, E>(
    cursor: Cursor,
    head: &mut u32,
    shared_head: &I,
    shared_tail: &I,
    write: impl FnOnce(usize) -> Result<(), E>,
) -> Result<(), ProduceError<E>> {
    // Acquire: the consumer's reads of the slot we are about to reuse happen before our writes.
    let tail = shared_tail.load(Ordering::Acquire);
    match cursor.occupancy(*head, tail) {
        None => return Err(ProduceError::Corrupt(tail)),
        Some(used) if used == cursor.count() => return Err(ProduceError::Full),
        Some(_) => {}
    }
    write(cursor.slot(*head)).map_err(ProduceError::Write)?;
    *head = cursor.next(*head);
    // Release: the slot contents are visible before the new index.
    shared_head.store(*head, Ordering::Release);
    Ok(())
}

/// Consumer: if a message is waiting, `read` its slot, then release the slot. `tail` is the
/// consumer's private index. The slot is released whatever `read` returns (a malformed message
/// is dropped).
pub(crate) fn consume<I: IndexCell, R>(
    cursor: Cursor,
    tail: &mut u32,
    shared_head: &I,
    shared_tail: &I,
    read: impl FnOnce(usize) -> R,
) -> Result<R, ConsumeError> {
    // Acquire: the producer's writes of the slot happen before our reads.
    let head = shared_head.load(Ordering::Acquire);
    match cursor.occupancy(head, *tail) {
        None => return Err(ConsumeError::Corrupt(head)),
        Some(0) => return Err(ConsumeError::Empty),
        Some(_) => {}
    }
    let out = read(cursor.slot(*tail));
    *tail = cursor.next(*tail);
    // Release: our reads of the slot finish before the producer may reuse it.
    shared_tail.store(*tail, Ordering::Release);
    Ok(out)
}

/// Messages waiting, as seen by the consumer; `None` if the producer index is impossible.
pub(crate) fn pending<I: IndexCell>(cursor: Cursor, tail: u32, shared_head: &I) -> Option<u32> {
    cursor.occupancy(shared_head.load(Ordering::Acquire), tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occupancy_covers_wrap_and_rejects_impossible_pairs() {
        let c = Cursor::new(3);
        assert_eq!(c.occupancy(0, 0), Some(0));
        assert_eq!(c.occupancy(3, 0), Some(3));
        assert_eq!(c.occupancy(1, 4), Some(3)); // head wrapped past 2*count
        assert_eq!(c.occupancy(4, 0), None); // 4 > count
        assert_eq!(c.occupancy(6, 0), None); // out of range
        assert_eq!(c.occupancy(0, u32::MAX), None);
        assert_eq!(c.next(5), 0);
        assert_eq!(c.slot(4), 1);
    }

    #[test]
    fn one_slot_ring_alternates_full_and_empty() {
        let c = Cursor::new(1);
        let (sh, st) = (AtomicU32::new(0), AtomicU32::new(0));
        let (mut h, mut t) = (0, 0);
        let mut slot = 0u32;
        for i in 0..5u32 {
            assert_eq!(
                consume(c, &mut t, &sh, &st, |_| slot),
                Err(ConsumeError::Empty)
            );
            produce::<_, ()>(c, &mut h, &sh, &st, |_| {
                slot = i;
                Ok(())
            })
            .unwrap();
            assert_eq!(
                produce::<_, ()>(c, &mut h, &sh, &st, |_| Ok(())),
                Err(ProduceError::Full)
            );
            assert_eq!(consume(c, &mut t, &sh, &st, |_| slot), Ok(i));
        }
    }

    #[test]
    fn failed_write_publishes_nothing() {
        let c = Cursor::new(2);
        let (sh, st) = (AtomicU32::new(0), AtomicU32::new(0));
        let mut h = 0;
        assert_eq!(
            produce(c, &mut h, &sh, &st, |_| Err(7)),
            Err(ProduceError::Write(7))
        );
        assert_eq!((h, sh.load(Ordering::Relaxed)), (0, 0));
    }

    #[test]
    fn corrupt_peer_indices_are_reported() {
        let c = Cursor::new(2);
        let (sh, st) = (AtomicU32::new(0), AtomicU32::new(9));
        let (mut h, mut t) = (0, 0);
        assert_eq!(
            produce::<_, ()>(c, &mut h, &sh, &st, |_| Ok(())),
            Err(ProduceError::Corrupt(9))
        );
        sh.store(3, Ordering::Relaxed); // 3 messages in a 2-slot ring: impossible
        assert_eq!(
            consume(c, &mut t, &sh, &st, |_| ()),
            Err(ConsumeError::Corrupt(3))
        );
        assert_eq!(t, 0);
    }
}
