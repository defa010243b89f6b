//! Property tests of channels over real region memory: arbitrary interleavings of sends and
//! receives against a FIFO model (order kept, nothing lost or duplicated, Full and Empty exactly
//! when the model says so, wrap-around over many laps), in both receive modes and for every
//! slot count from 1 to 9.

mod common;

use std::collections::VecDeque;

use ipc::{
    InProcessNotify, Notify, Receiver, RecvError, Region, SendError, Sender, SenderTrust,
    scratch_words,
};
use proptest::prelude::*;
use protocol::{BoundedStr, ComponentId, Level, LogRecord};

fn record(n: u32) -> LogRecord {
    LogRecord {
        at_ms: u64::from(n) * 3,
        sequence: n,
        component: ComponentId((n % 7) as u8),
        level: Level::Info,
        text: BoundedStr::truncated(&"x".repeat((n % 200) as usize)),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Send,
    Recv,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(prop_oneof![Just(Op::Send), Just(Op::Recv)], 0..400)
}

fn run(slots: u32, copy_in: bool, ops: &[Op]) {
    let spec = common::spec_for::<LogRecord>(slots);
    let mut memory = common::memory(&spec);
    let mut scratch = vec![0u64; scratch_words(spec.slot_size())];
    let notify = InProcessNotify::new();
    let trust = if copy_in {
        SenderTrust::Untrusted
    } else {
        SenderTrust::Trusted
    };
    let (send_cap, recv_cap) = Region::local(&mut memory, spec).unwrap().split(trust);
    let mut tx = Sender::<LogRecord, _>::new(send_cap, &notify).unwrap();
    let mut rx = if copy_in {
        Receiver::<LogRecord>::copy_in(recv_cap, &mut scratch).unwrap()
    } else {
        Receiver::<LogRecord>::zero_copy(recv_cap).unwrap()
    };
    let mut model = VecDeque::new();
    let mut next = 0u32;
    for op in ops {
        match op {
            Op::Send => {
                let result = tx.try_send(&record(next));
                if model.len() == slots as usize {
                    assert_eq!(result, Err(SendError::Full));
                } else {
                    assert_eq!(result, Ok(()));
                    assert_eq!(notify.poll(), Ok(true), "a send signals");
                    model.push_back(next);
                    next += 1;
                }
            }
            Op::Recv => {
                let got = rx.try_recv(|r| {
                    // Read the whole message in place and rebuild it for comparison.
                    (
                        r.sequence.to_native(),
                        r.at_ms.to_native(),
                        r.component.0,
                        r.text.as_str().len(),
                    )
                });
                match model.pop_front() {
                    None => assert_eq!(got, Err(RecvError::Empty)),
                    Some(n) => {
                        let want = record(n);
                        assert_eq!(
                            got,
                            Ok((n, want.at_ms, want.component.0, want.text.as_str().len()))
                        );
                    }
                }
            }
        }
        assert_eq!(rx.pending(), Ok(model.len() as u32));
    }
    // Drain: exactly the model's remaining messages, in order.
    while let Some(n) = model.pop_front() {
        assert_eq!(rx.try_recv(|r| r.sequence.to_native()), Ok(n));
    }
    assert_eq!(rx.try_recv(|_| ()), Err(RecvError::Empty));
    let stats = rx.stats();
    assert_eq!(stats.received, u64::from(next));
    assert_eq!((stats.malformed, stats.corrupt_index), (0, 0));
    assert_eq!(tx.sent(), u64::from(next));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fifo_no_loss_no_duplicates(slots in 1u32..10, copy_in in any::<bool>(), ops in ops()) {
        run(slots, copy_in, &ops);
    }
}

#[test]
fn wraps_around_many_laps() {
    // 3 slots, 10_000 messages: the indices wrap (mod 6) thousands of times.
    let ops: Vec<Op> = (0..10_000)
        .flat_map(|i| {
            if i % 3 == 0 {
                vec![Op::Send, Op::Send, Op::Recv]
            } else {
                vec![Op::Recv, Op::Send]
            }
        })
        .collect();
    run(3, false, &ops);
    run(3, true, &ops);
}

#[test]
fn full_then_empty() {
    let ops: Vec<Op> = std::iter::repeat_n(Op::Send, 5)
        .chain(std::iter::repeat_n(Op::Recv, 5))
        .collect();
    for slots in 1..=5 {
        run(slots, false, &ops);
    }
}
