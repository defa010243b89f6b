//! Loom model of the ring: one producer and one consumer thread run the crate's own `ring::produce`
//! and `ring::consume` over loom atomics and loom cells, and loom explores their interleavings
//! (preemption bound 3). The consumer checks that every message arrives whole (not torn), once, in
//! order. Runs in `cargo test` (loom is a dev-dependency; no `--cfg loom` needed).
//!
//! Avoids: modelling the shared-memory pointer code, which loom cannot track; that is covered by
//! the proptest, two-process and hostile-sender tests.

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::AtomicU32;
use std::vec::Vec;

use crate::ring::{ConsumeError, Cursor, IndexCell, ProduceError, consume, produce};

impl IndexCell for AtomicU32 {
    fn load(&self, order: core::sync::atomic::Ordering) -> u32 {
        AtomicU32::load(self, order)
    }
    fn store(&self, value: u32, order: core::sync::atomic::Ordering) {
        AtomicU32::store(self, value, order)
    }
}

const SLOTS: usize = 2;
const MESSAGES: u32 = 3;

struct Model {
    head: AtomicU32,
    tail: AtomicU32,
    /// Each message is written as two words, `[n, !n]`; a torn read breaks the pair.
    slots: [UnsafeCell<[u32; 2]>; SLOTS],
}

fn run_model() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let model = Arc::new(Model {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            slots: [UnsafeCell::new([0, 0]), UnsafeCell::new([0, 0])],
        });
        let cursor = Cursor::new(SLOTS as u32);
        let producer = {
            let model = model.clone();
            loom::thread::spawn(move || {
                let mut head = 0;
                let mut n = 1;
                while n <= MESSAGES {
                    let written =
                        produce::<_, ()>(cursor, &mut head, &model.head, &model.tail, |slot| {
                            // Loom reports a data race if the consumer could be reading this slot.
                            model.slots[slot].with_mut(|p| unsafe { *p = [n, !n] });
                            Ok(())
                        });
                    match written {
                        Ok(()) => n += 1,
                        Err(ProduceError::Full) => loom::thread::yield_now(),
                        Err(e) => panic!("producer saw {e:?}"),
                    }
                }
            })
        };
        let mut tail = 0;
        let mut got = Vec::new();
        while got.len() < MESSAGES as usize {
            match consume(cursor, &mut tail, &model.head, &model.tail, |slot| {
                model.slots[slot].with(|p| unsafe { *p })
            }) {
                Ok([a, b]) => {
                    assert_eq!(b, !a, "torn message");
                    got.push(a);
                }
                Err(ConsumeError::Empty) => loom::thread::yield_now(),
                Err(e) => panic!("consumer saw {e:?}"),
            }
        }
        assert_eq!(got, [1, 2, 3], "lost, repeated or reordered");
        assert_eq!(
            consume(cursor, &mut tail, &model.head, &model.tail, |_| ()),
            Err(ConsumeError::Empty)
        );
        producer.join().unwrap();
    });
}

#[test]
fn ring_under_all_bounded_interleavings() {
    run_model();
}
