//! A hostile sender: arbitrary slot bytes, arbitrary lengths and indices, bytes rewritten after
//! publication, and a region flush against inaccessible guard pages. The receiver must never
//! panic, never accept an invalid message, never read outside the region, count what it drops,
//! and keep working afterwards.

mod common;

use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use ipc::*;
use proptest::prelude::*;
use protocol::{BoundedStr, ComponentId, Level, LogRecord, Message};
use rkyv::rancor::Failure;
use rustix::mm::{MapFlags, MprotectFlags, ProtFlags, mmap_anonymous, mprotect};

/// A peer that writes the region directly instead of through a `Sender`.
#[derive(Clone, Copy)]
struct Hostile {
    base: *mut u8,
    spec: ChannelSpec,
}

// SAFETY: the tests share the pointer only with threads that access the region atomically.
unsafe impl Send for Hostile {}

impl Hostile {
    fn slot(&self, slot: usize) -> *mut u8 {
        self.base
            .wrapping_add(OFF_SLOTS + slot * self.spec.slot_stride())
    }

    /// Writes `len` and `payload` (cut to the slot's message area) into `slot` atomically.
    fn write_slot(&self, slot: usize, len: u32, payload: &[u8]) {
        let start = self.slot(slot);
        let room = self.spec.slot_stride() - SLOT_HEADER;
        // SAFETY: inside the region; u32 and u8 atomics on aligned addresses.
        unsafe {
            AtomicU32::from_ptr(start.cast()).store(len, Ordering::Relaxed);
            for (i, b) in payload.iter().take(room).enumerate() {
                std::sync::atomic::AtomicU8::from_ptr(start.add(SLOT_HEADER + i))
                    .store(*b, Ordering::Relaxed);
            }
        }
    }

    fn index(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: the index fields are 4-aligned, inside the region, accessed atomically.
        unsafe { AtomicU32::from_ptr(self.base.add(offset).cast()) }
    }
}

fn record(text: &str) -> LogRecord {
    LogRecord {
        at_ms: 5,
        sequence: 6,
        component: ComponentId(2),
        level: Level::Warn,
        text: BoundedStr::truncated(text),
    }
}

/// Serialised bytes of `r` (through a real sender into a scratch region).
fn serialised(r: &LogRecord) -> Vec<u8> {
    let spec = common::spec_for::<LogRecord>(1);
    let mut memory = common::memory(&spec);
    let base = memory.as_mut_ptr().cast::<u8>();
    // SAFETY: `memory` outlives the region; only this sender uses it.
    let region = unsafe { Region::init(base, spec.region_size(), spec) }.unwrap();
    Sender::<LogRecord, _>::new(region.into_send_cap(), Polling)
        .unwrap()
        .try_send(r)
        .unwrap();
    let bytes = common::bytes(&mut memory);
    let len = u32::from_ne_bytes(bytes[OFF_SLOTS..OFF_SLOTS + 4].try_into().unwrap()) as usize;
    bytes[OFF_SLOTS + SLOT_HEADER..OFF_SLOTS + SLOT_HEADER + len].to_vec()
}

/// Checks, inside a handler, that an accepted message is valid: it deserialises, and its text
/// reads back identically.
fn assert_valid(r: &rkyv::Archived<LogRecord>) -> LogRecord {
    let owned: LogRecord =
        rkyv::api::low::deserialize::<LogRecord, Failure>(r).expect("accepted => deserialises");
    assert_eq!(owned.text.as_str(), r.text.as_str());
    assert!(r.text.as_str().len() <= protocol::LOG_TEXT_MAX);
    owned
}

/// Publishes `len`/`payload` in slot 0 as a hostile sender, receives it in both modes, then
/// checks that a well-behaved sender resuming after it is received normally.
fn hostile_then_honest(len: u32, payload: &[u8], copy_in: bool) -> Result<LogRecord, RecvError> {
    let spec = common::spec_for::<LogRecord>(2);
    let mut memory = common::memory(&spec);
    let base = memory.as_mut_ptr().cast::<u8>();
    let len_total = spec.region_size();
    // SAFETY: `memory` outlives every region and endpoint here; the hostile writer and the real
    // sender never act at the same time.
    let region = unsafe { Region::init(base, len_total, spec) }.unwrap();
    let trust = if copy_in {
        SenderTrust::Untrusted
    } else {
        SenderTrust::Trusted
    };
    let mut scratch = vec![0u64; scratch_words(spec.slot_size())];
    let cap = region.into_recv_cap(trust);
    let mut rx = if copy_in {
        Receiver::<LogRecord>::copy_in(cap, &mut scratch).unwrap()
    } else {
        Receiver::<LogRecord>::zero_copy(cap).unwrap()
    };
    let hostile = Hostile { base, spec };
    hostile.write_slot(0, len, payload);
    hostile.index(OFF_PRODUCER).store(1, Ordering::Release);
    let first = rx.try_recv(assert_valid);
    match &first {
        Ok(_) => assert_eq!(rx.stats().received, 1),
        Err(RecvError::Malformed) => assert_eq!(rx.stats().malformed, 1),
        Err(e) => panic!("unexpected {e:?}"),
    }
    // The channel keeps working: an honest sender resumes at index 1.
    let cap = unsafe { Region::attach(base, len_total, spec) }
        .unwrap()
        .into_send_cap();
    let mut tx = Sender::<LogRecord, _>::new(cap, Polling).unwrap();
    tx.try_send(&record("after")).unwrap();
    assert_eq!(
        rx.try_recv(|r| r.text.as_str().to_owned()),
        Ok("after".to_owned())
    );
    first
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary bytes and arbitrary lengths, including lengths past the slot and the region.
    #[test]
    fn arbitrary_slot_bytes(len in prop_oneof![0u32..=300, any::<u32>()], payload in prop::collection::vec(any::<u8>(), 0..300), copy_in in any::<bool>()) {
        let _ = hostile_then_honest(len, &payload, copy_in);
    }

    /// A valid message with bytes changed: accepted only if still valid.
    #[test]
    fn mutated_valid_message(flips in prop::collection::vec((0usize..256, any::<u8>()), 1..6), copy_in in any::<bool>()) {
        let mut bytes = serialised(&record("héllo wörld"));
        for (at, value) in flips {
            if let Some(b) = bytes.get_mut(at % 256) {
                *b = value;
            }
        }
        let _ = hostile_then_honest(bytes.len() as u32, &bytes, copy_in);
    }
}

#[test]
fn unmutated_message_is_accepted_and_bad_length_is_not() {
    let bytes = serialised(&record("ok"));
    assert_eq!(
        hostile_then_honest(bytes.len() as u32, &bytes, true).map(|r| r.text),
        Ok(record("ok").text)
    );
    assert_eq!(
        hostile_then_honest(bytes.len() as u32, &bytes, false).map(|r| r.sequence),
        Ok(6)
    );
    assert_eq!(
        hostile_then_honest(bytes.len() as u32 - 1, &bytes, true),
        Err(RecvError::Malformed)
    );
    assert_eq!(
        hostile_then_honest(LogRecord::MAX_SIZE as u32 + 1, &bytes, true),
        Err(RecvError::Malformed)
    );
    assert_eq!(
        hostile_then_honest(u32::MAX, &bytes, false),
        Err(RecvError::Malformed)
    );
    assert_eq!(
        hostile_then_honest(0, &bytes, false),
        Err(RecvError::Malformed)
    );
}

#[test]
fn corrupt_indices_are_refused_and_counted() {
    let spec = common::spec_for::<LogRecord>(4);
    let mut memory = common::memory(&spec);
    let base = memory.as_mut_ptr().cast::<u8>();
    // SAFETY: `memory` outlives the endpoints.
    let (send_cap, recv_cap) = unsafe { Region::init(base, spec.region_size(), spec) }
        .unwrap()
        .split(SenderTrust::Untrusted);
    let mut scratch = vec![0u64; scratch_words(spec.slot_size())];
    let mut tx = Sender::<LogRecord, _>::new(send_cap, Polling).unwrap();
    let mut rx = Receiver::<LogRecord>::copy_in(recv_cap, &mut scratch).unwrap();
    let hostile = Hostile { base, spec };
    for bad in [5u32, 8, 1000, u32::MAX] {
        hostile.index(OFF_PRODUCER).store(bad, Ordering::Release);
        assert_eq!(rx.try_recv(|_| ()), Err(RecvError::PeerCorrupt(bad)));
        assert_eq!(rx.pending(), Err(RecvError::PeerCorrupt(bad)));
    }
    assert_eq!(rx.stats().corrupt_index, 4);
    hostile.index(OFF_PRODUCER).store(0, Ordering::Release);
    // With head 0 in a 4-slot ring, tail 3 would mean 5 messages in flight: impossible.
    for bad in [3u32, 8, u32::MAX] {
        hostile.index(OFF_CONSUMER).store(bad, Ordering::Release);
        assert_eq!(tx.try_send(&record("x")), Err(SendError::PeerCorrupt(bad)));
    }
    hostile.index(OFF_CONSUMER).store(0, Ordering::Release);
    tx.try_send(&record("fine")).unwrap();
    assert_eq!(
        rx.try_recv(|r| r.text.as_str().to_owned()),
        Ok("fine".to_owned())
    );
}

/// The region is exactly one page between two inaccessible pages: any read outside it faults
/// and kills the test.
#[test]
fn never_reads_outside_the_region() {
    const PAGE: usize = 4096;
    // One slot: 384 + stride(8 + 3704 -> 3712) = 4096 bytes.
    let spec = ChannelSpec::new(LogRecord::NAME, 1, 3704).unwrap();
    assert_eq!(spec.region_size(), PAGE);
    // SAFETY: a fresh private mapping of three pages, only used here.
    let map = unsafe {
        mmap_anonymous(
            null_mut(),
            3 * PAGE,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    }
    .unwrap();
    let base = map.cast::<u8>().wrapping_add(PAGE);
    // SAFETY: the first and last page of our own mapping become inaccessible.
    unsafe {
        mprotect(map, PAGE, MprotectFlags::empty()).unwrap();
        mprotect(base.wrapping_add(PAGE).cast(), PAGE, MprotectFlags::empty()).unwrap();
    }
    // SAFETY: the middle page stays mapped for the rest of the process.
    let region = unsafe { Region::init(base, PAGE, spec) }.unwrap();
    let (send_cap, recv_cap) = region.split(SenderTrust::Untrusted);
    let mut scratch = vec![0u64; scratch_words(spec.slot_size())];
    let mut rx = Receiver::<LogRecord>::copy_in(recv_cap, &mut scratch).unwrap();
    let hostile = Hostile { base, spec };
    let garbage = vec![0xFFu8; PAGE];
    for (i, len) in [3704u32, 3705, 4096, 8192, u32::MAX]
        .into_iter()
        .enumerate()
    {
        hostile.write_slot(0, len, &garbage);
        hostile
            .index(OFF_PRODUCER)
            .store(((i + 1) % 2) as u32, Ordering::Release);
        assert_eq!(rx.try_recv(|_| ()), Err(RecvError::Malformed));
    }
    // A message ending at the very last byte of the region is read without touching the guard.
    let mut padded = vec![0u8; 3704 - LogRecord::MAX_SIZE];
    padded.extend(serialised(&record("edge")));
    hostile.write_slot(0, 3704, &padded);
    hostile.index(OFF_PRODUCER).store(0, Ordering::Release);
    assert_eq!(
        rx.try_recv(|r| r.text.as_str().to_owned()),
        Ok("edge".to_owned())
    );
    // Zero-copy on the same page (a trusted peer wrote garbage by mistake).
    let region = unsafe { Region::attach(base, PAGE, spec) }.unwrap();
    let mut rx =
        Receiver::<LogRecord>::zero_copy(region.into_recv_cap(SenderTrust::Trusted)).unwrap();
    hostile.write_slot(0, u32::MAX, &garbage);
    hostile.index(OFF_PRODUCER).store(1, Ordering::Release);
    assert_eq!(rx.try_recv(|_| ()), Err(RecvError::Malformed));
    let _ = send_cap;
}

/// Double fetch: a second thread keeps flipping the published slot between a valid message and
/// invalid variants (length over capacity, broken UTF-8) while the copy-in receiver takes it.
/// Every accepted message must be the valid one, and must not change while the handler runs.
#[test]
fn bytes_changed_after_publication_never_pass_copy_in() {
    let spec = common::spec_for::<LogRecord>(1);
    let mut memory = common::memory(&spec);
    let base = memory.as_mut_ptr().cast::<u8>();
    // SAFETY: `memory` outlives the receiver and the flipping thread (scoped).
    let region = unsafe { Region::init(base, spec.region_size(), spec) }.unwrap();
    let mut scratch = vec![0u64; scratch_words(spec.slot_size())];
    let mut rx =
        Receiver::<LogRecord>::copy_in(region.into_recv_cap(SenderTrust::Untrusted), &mut scratch)
            .unwrap();
    let good = serialised(&record(&"a".repeat(64)));
    let text_at = good.windows(64).position(|w| w == [b'a'; 64]).unwrap();
    let len_at = text_at - 2;
    let hostile = Hostile { base, spec };
    let stop = AtomicBool::new(false);
    let (accepted, rejected) = (AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|s| {
        let h = hostile;
        let stop = &stop;
        s.spawn(move || {
            let mut flip = 0u32;
            while !stop.load(Ordering::Relaxed) {
                flip = flip.wrapping_add(1);
                let slot = h.slot(0).wrapping_add(SLOT_HEADER);
                // SAFETY: bytes inside slot 0, written atomically.
                unsafe {
                    let len = if flip.is_multiple_of(3) {
                        0xFFFFu16
                    } else {
                        64
                    };
                    for (i, b) in len.to_le_bytes().into_iter().enumerate() {
                        std::sync::atomic::AtomicU8::from_ptr(slot.add(len_at + i))
                            .store(b, Ordering::Relaxed);
                    }
                    let ch = if flip.is_multiple_of(5) { 0xFF } else { b'a' };
                    std::sync::atomic::AtomicU8::from_ptr(slot.add(text_at + 17))
                        .store(ch, Ordering::Relaxed);
                }
            }
        });
        /// Stops the flipping thread even if an assertion below fails (else the scope would hang).
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop_guard = StopOnDrop(stop);
        for i in 0..20_000u32 {
            hostile.write_slot(0, good.len() as u32, &good);
            hostile
                .index(OFF_PRODUCER)
                .store((i + 1) % 2, Ordering::Release);
            match rx.try_recv(|r| {
                let first = r.text.as_str().to_owned();
                std::hint::black_box(assert_valid(r));
                for _ in 0..100 {
                    std::hint::spin_loop();
                }
                (first, r.text.as_str().to_owned())
            }) {
                Ok((first, again)) => {
                    assert_eq!(first, "a".repeat(64), "accepted a changed message");
                    assert_eq!(first, again, "message changed under the handler");
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
                Err(RecvError::Malformed) => {
                    rejected.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
    });
    let (a, r) = (accepted.into_inner(), rejected.into_inner());
    assert_eq!(a + r, 20_000);
    assert_eq!(rx.stats().received, a);
    assert_eq!(rx.stats().malformed, r);
}
