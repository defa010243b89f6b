//! Fuzz target for the receive path: the input is what a hostile sender controls (producer
//! index, slot lengths and slot bytes) for a two-slot channel of one of several message kinds,
//! received in zero-copy or copy-in mode. The receiver must never panic or fault, every message
//! it accepts must deserialise, and its counters must add up.
//!
//! Input layout: byte 0 selects kind (bits 0-1) and mode (bit 2); bytes 1..5 the producer index
//! (little-endian); the rest is split between the two slots as `[len u32 LE][bytes...]` each.
#![no_main]

use ipc::{CacheLine, ChannelSpec, OFF_PRODUCER, OFF_SLOTS, Receiver, RecvError, Region, SenderTrust, Wire, scratch_words};
use libfuzzer_sys::fuzz_target;
use protocol::{FaultNotice, HealthReport, LogRecord, Message, SignRequest};
use rkyv::api::low::{LowDeserializer, deserialize};
use rkyv::rancor::Failure;
use rkyv::{Archived, Deserialize};

fn run<M>(data: &[u8], copy_in: bool)
where
    M: Wire,
    Archived<M>: Deserialize<M, LowDeserializer<Failure>>,
{
    let spec = ChannelSpec::new(M::NAME, 2, M::MAX_SIZE as u32).expect("valid spec");
    let mut memory = vec![CacheLine::ZERO; CacheLine::count_for(&spec)];
    let base = memory.as_mut_ptr().cast::<u8>();
    // SAFETY: `memory` outlives the region; the fuzzer's writes below happen before any receive.
    let region = unsafe { Region::init(base, spec.region_size(), spec) }.expect("init");

    let (index, slots) = match data {
        [_, a, b, c, d, rest @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]), rest),
        _ => return,
    };
    let (first, second) = slots.split_at(slots.len() / 2);
    let stride = spec.slot_stride();
    // SAFETY: all writes stay inside the region: indices at OFF_PRODUCER, slot i at
    // OFF_SLOTS + i * stride, each write cut to the stride.
    unsafe {
        base.add(OFF_PRODUCER).cast::<u32>().write(index);
        for (i, bytes) in [first, second].into_iter().enumerate() {
            let n = bytes.len().min(stride);
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(OFF_SLOTS + i * stride), n);
        }
    }

    let mut scratch = vec![0u64; scratch_words(spec.slot_size())];
    let mut rx = if copy_in {
        Receiver::<M>::copy_in(region.into_recv_cap(SenderTrust::Untrusted), &mut scratch).expect("copy-in")
    } else {
        Receiver::<M>::zero_copy(region.into_recv_cap(SenderTrust::Trusted)).expect("zero-copy")
    };
    let mut outcomes = 0u64;
    for _ in 0..3 {
        match rx.try_recv(|archived| deserialize::<M, Failure>(archived).is_ok()) {
            Ok(deserialised) => assert!(deserialised, "accepted message must deserialise"),
            Err(RecvError::Empty) => break,
            Err(RecvError::Malformed) | Err(RecvError::PeerCorrupt(_)) => {}
        }
        outcomes += 1;
    }
    let stats = rx.stats();
    assert!(stats.received + stats.malformed + stats.corrupt_index == outcomes);
}

fuzz_target!(|data: &[u8]| {
    let Some(&selector) = data.first() else { return };
    let copy_in = selector & 4 != 0;
    match selector & 3 {
        0 => run::<LogRecord>(data, copy_in),
        1 => run::<SignRequest>(data, copy_in),
        2 => run::<HealthReport>(data, copy_in),
        _ => run::<FaultNotice>(data, copy_in),
    }
});
