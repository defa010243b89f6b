//! Endpoint construction and region attachment refuse every mismatch with a typed error;
//! endpoints resume from the shared indices; notifications behave as documented.

mod common;

use ipc::*;
use protocol::{Message, Ping, Pong, SignRequest};
use rkyv::{Archive, Deserialize, Serialize};

#[test]
fn geometry_limits() {
    assert_eq!(ChannelSpec::new("", 1, 1), Err(GeometryError::KindName));
    assert_eq!(
        ChannelSpec::new("x23456789012345678901234567890123", 1, 1),
        Err(GeometryError::KindName)
    );
    assert_eq!(
        ChannelSpec::new("ping", 0, 16),
        Err(GeometryError::SlotCount(0))
    );
    assert_eq!(
        ChannelSpec::new("ping", 65537, 16),
        Err(GeometryError::SlotCount(65537))
    );
    assert_eq!(
        ChannelSpec::new("ping", 1, 0),
        Err(GeometryError::SlotSize(0))
    );
    assert_eq!(
        ChannelSpec::new("ping", 1, (1 << 20) + 1),
        Err(GeometryError::SlotSize((1 << 20) + 1))
    );
    let spec = ChannelSpec::new("ping", 3, 16).unwrap();
    assert_eq!(spec.slot_stride(), 64);
    assert_eq!(spec.region_size(), 384 + 3 * 64);
    let big = ChannelSpec::new("sign-request", 65536, 1 << 20).unwrap();
    assert_eq!(big.region_size(), 384 + 65536 * ((1 << 20) + 64));
}

#[test]
fn endpoints_check_kind_size_and_trust() {
    let spec = common::spec_for::<Ping>(2);
    let mut memory = common::memory(&spec);
    let (send_cap, recv_cap) = Region::local(&mut memory, spec)
        .unwrap()
        .split(SenderTrust::Untrusted);
    assert!(matches!(
        Sender::<Pong, _>::new(send_cap, Polling),
        Err(EndpointError::KindMismatch {
            channel: "ping",
            message: "pong"
        })
    ));
    assert!(matches!(
        Receiver::<Ping>::zero_copy(recv_cap),
        Err(EndpointError::CopyInRequired)
    ));

    let small = ChannelSpec::new(SignRequest::NAME, 2, 4000).unwrap();
    let mut memory = common::memory(&small);
    let (send_cap, recv_cap) = Region::local(&mut memory, small)
        .unwrap()
        .split(SenderTrust::Trusted);
    assert!(matches!(
        Sender::<SignRequest, _>::new(send_cap, Polling),
        Err(EndpointError::SlotTooSmall {
            slot_size: 4000,
            needed: 4096
        })
    ));
    let mut scratch = [0u64; 10];
    assert!(matches!(
        Receiver::<SignRequest>::copy_in(recv_cap, &mut scratch),
        Err(EndpointError::ScratchTooSmall {
            needed: 4000,
            provided: 80
        })
    ));
}

#[test]
fn attach_checks_the_header_against_the_spec() {
    let spec = common::spec_for::<Ping>(4);
    let mut memory = common::memory(&spec);
    let len = spec.region_size();
    let base = memory.as_mut_ptr().cast::<u8>();
    // SAFETY (all calls below): `memory` outlives the regions, which are dropped at once.
    assert_eq!(
        unsafe { Region::attach(base, len, spec) }.err(),
        Some(RegionError::BadMagic)
    );
    unsafe { Region::init(base, len, spec) }.unwrap();
    assert!(unsafe { Region::attach(base, len, spec) }.is_ok());
    let other = ChannelSpec::new(Ping::NAME, 8, 16).unwrap();
    assert_eq!(
        unsafe { Region::attach(base, other.region_size(), other) }.err(),
        Some(RegionError::SpecMismatch)
    );
    let other_kind = ChannelSpec::new(Pong::NAME, 4, 16).unwrap();
    assert_eq!(
        unsafe { Region::attach(base, len, other_kind) }.err(),
        Some(RegionError::SpecMismatch)
    );
    assert_eq!(
        unsafe { Region::attach(base, len - 1, spec) }.err(),
        Some(RegionError::TooSmall {
            needed: len,
            provided: len - 1
        })
    );
    assert_eq!(
        unsafe { Region::attach(base.wrapping_add(8), len, spec) }.err(),
        Some(RegionError::Misaligned)
    );
    assert_eq!(
        unsafe { Region::init(std::ptr::null_mut(), len, spec) }.err(),
        Some(RegionError::Misaligned)
    );
    let bytes = common::bytes(&mut memory);
    assert_eq!(&bytes[0..8], b"SNODEIPC");
    assert_eq!(&bytes[8..12], &1u32.to_le_bytes());
    assert_eq!(&bytes[12..16], &4u32.to_le_bytes());
    assert_eq!(&bytes[16..20], &16u32.to_le_bytes());
    assert_eq!(&bytes[20..24], &64u32.to_le_bytes());
    assert_eq!(&bytes[32..37], b"ping\0");
    bytes[8] = 2;
    assert_eq!(
        unsafe { Region::attach(base, len, spec) }.err(),
        Some(RegionError::BadVersion(2))
    );
}

#[test]
fn layout_bytes_are_where_the_docs_say() {
    let spec = common::spec_for::<Ping>(2);
    let mut memory = common::memory(&spec);
    {
        let (send_cap, _) = Region::local(&mut memory, spec)
            .unwrap()
            .split(SenderTrust::Trusted);
        let mut tx = Sender::<Ping, _>::new(send_cap, Polling).unwrap();
        tx.try_send(&Ping {
            nonce: 0x1122_3344_5566_7788,
            sequence: 0xAABB_CCDD,
        })
        .unwrap();
        tx.try_send(&Ping {
            nonce: 1,
            sequence: 2,
        })
        .unwrap();
    }
    let bytes = common::bytes(&mut memory);
    assert_eq!(&bytes[OFF_PRODUCER..OFF_PRODUCER + 4], &2u32.to_ne_bytes());
    assert_eq!(&bytes[OFF_CONSUMER..OFF_CONSUMER + 4], &0u32.to_ne_bytes());
    let slot0 = OFF_SLOTS;
    assert_eq!(
        &bytes[slot0..slot0 + 4],
        &16u32.to_ne_bytes(),
        "message length"
    );
    assert_eq!(
        &bytes[slot0 + 8..slot0 + 16],
        &0x1122_3344_5566_7788u64.to_le_bytes(),
        "nonce"
    );
    assert_eq!(
        &bytes[slot0 + 16..slot0 + 20],
        &0xAABB_CCDDu32.to_le_bytes(),
        "sequence"
    );
    let slot1 = OFF_SLOTS + spec.slot_stride();
    assert_eq!(&bytes[slot1 + 8..slot1 + 16], &1u64.to_le_bytes());
}

#[test]
fn endpoints_resume_from_shared_indices() {
    let spec = common::spec_for::<Ping>(4);
    let mut memory = common::memory(&spec);
    let len = spec.region_size();
    let base = memory.as_mut_ptr().cast::<u8>();
    // SAFETY: `memory` outlives every endpoint below; each incarnation of an end is dropped
    // before the next is minted, so there is one sender and one receiver at a time.
    let region = unsafe { Region::init(base, len, spec) }.unwrap();
    let mut rx = Receiver::<Ping>::zero_copy(region.into_recv_cap(SenderTrust::Trusted)).unwrap();
    for round in 0..3u32 {
        let cap = unsafe { Region::attach(base, len, spec) }
            .unwrap()
            .into_send_cap();
        let mut tx = Sender::<Ping, _>::new(cap, Polling).unwrap();
        for i in 0..3 {
            tx.try_send(&Ping {
                nonce: 0,
                sequence: round * 3 + i,
            })
            .unwrap();
        }
        // A restarted receiver picks up where the previous one stopped.
        assert_eq!(rx.try_recv(|p| p.sequence.to_native()), Ok(round * 3));
        let _ = rx; // the old incarnation stops here
        let cap = unsafe { Region::attach(base, len, spec) }
            .unwrap()
            .into_recv_cap(SenderTrust::Trusted);
        rx = Receiver::<Ping>::zero_copy(cap).unwrap();
        assert_eq!(rx.try_recv(|p| p.sequence.to_native()), Ok(round * 3 + 1));
        assert_eq!(rx.try_recv(|p| p.sequence.to_native()), Ok(round * 3 + 2));
    }
    // A corrupted shared index is refused when an endpoint resumes from it.
    common::bytes(&mut memory)[OFF_PRODUCER..OFF_PRODUCER + 4].copy_from_slice(&8u32.to_ne_bytes());
    let cap = unsafe { Region::attach(base, len, spec) }
        .unwrap()
        .into_send_cap();
    assert!(matches!(
        Sender::<Ping, _>::new(cap, Polling),
        Err(EndpointError::CorruptIndex(8))
    ));
}

/// A message type whose declared maximum is a lie, to reach the `TooLarge` path.
#[derive(Archive, Serialize, Deserialize)]
struct Liar {
    bytes: [u8; 100],
}

impl Message for Liar {
    const NAME: &'static str = "liar";
    const SUMMARY: &'static str = "claims 64 bytes, needs 100";
    const MAX_SIZE: usize = 64;
}

#[test]
fn too_large_fails_at_once_and_publishes_nothing() {
    let spec = common::spec_for::<Liar>(2);
    let mut memory = common::memory(&spec);
    let (send_cap, recv_cap) = Region::local(&mut memory, spec)
        .unwrap()
        .split(SenderTrust::Trusted);
    let notify = InProcessNotify::new();
    let mut tx = Sender::<Liar, _>::new(send_cap, &notify).unwrap();
    let mut rx = Receiver::<Liar>::zero_copy(recv_cap).unwrap();
    assert_eq!(
        tx.try_send(&Liar { bytes: [1; 100] }),
        Err(SendError::TooLarge)
    );
    assert_eq!(
        notify.poll(),
        Ok(false),
        "nothing published, nothing signalled"
    );
    assert_eq!(rx.try_recv(|_| ()), Err(RecvError::Empty));
    assert_eq!(tx.sent(), 0);
}

#[test]
fn in_process_notify_is_a_sticky_flag() {
    let n = InProcessNotify::new();
    assert_eq!(n.poll(), Ok(false));
    n.signal().unwrap();
    n.signal().unwrap();
    assert_eq!(n.poll(), Ok(true));
    assert_eq!(n.poll(), Ok(false));
    std::thread::scope(|s| {
        s.spawn(|| n.signal().unwrap());
        n.wait().unwrap();
    });
    assert_eq!(n.poll(), Ok(false));
}

#[test]
fn eventfd_notify_is_a_sticky_flag() {
    let n = EventFd::new().unwrap();
    assert_eq!(n.poll(), Ok(false));
    n.signal().unwrap();
    n.signal().unwrap();
    assert_eq!(n.poll(), Ok(true));
    assert_eq!(n.poll(), Ok(false));
    std::thread::scope(|s| {
        s.spawn(|| n.signal().unwrap());
        n.wait().unwrap();
    });
    assert_eq!(n.poll(), Ok(false));
}

#[test]
fn full_ring_fails_at_once_and_drains_after_receive() {
    let spec = common::spec_for::<Ping>(2);
    let mut memory = common::memory(&spec);
    let (send_cap, recv_cap) = Region::local(&mut memory, spec)
        .unwrap()
        .split(SenderTrust::Trusted);
    let mut tx = Sender::<Ping, _>::new(send_cap, Polling).unwrap();
    let mut rx = Receiver::<Ping>::zero_copy(recv_cap).unwrap();
    tx.try_send(&Ping {
        nonce: 1,
        sequence: 1,
    })
    .unwrap();
    tx.try_send(&Ping {
        nonce: 2,
        sequence: 2,
    })
    .unwrap();
    assert_eq!(
        tx.try_send(&Ping {
            nonce: 3,
            sequence: 3
        }),
        Err(SendError::Full)
    );
    assert_eq!(rx.try_recv(|p| p.nonce.to_native()), Ok(1));
    tx.try_send(&Ping {
        nonce: 3,
        sequence: 3,
    })
    .unwrap();
    assert_eq!(rx.try_recv(|p| p.nonce.to_native()), Ok(2));
    assert_eq!(rx.try_recv(|p| p.nonce.to_native()), Ok(3));
}
