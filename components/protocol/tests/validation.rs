//! Validation rejects archives that break the bounded containers' invariants or hold invalid
//! enum tags, and bounded constructors refuse oversize input.

mod common;

use common::{buffer, check, serialise};
use protocol::*;

fn offset_of_len(bytes: &[u8], expected: u16) -> usize {
    // Finds the little-endian length field by value; tests pick values that are unique.
    bytes
        .windows(2)
        .position(|w| w == expected.to_le_bytes())
        .expect("length field present")
}

#[test]
fn bounded_constructors_refuse_oversize() {
    assert_eq!(
        BoundedBytes::<4>::new(&[1, 2, 3, 4, 5]),
        Err(CapacityError {
            len: 5,
            capacity: 4
        })
    );
    assert!(BoundedStr::<3>::new("abcd").is_err());
    assert_eq!(BoundedStr::<3>::truncated("abcd").as_str(), "abc");
    // Cut at a character boundary: "é" is two bytes.
    assert_eq!(BoundedStr::<3>::truncated("aéé").as_str(), "aé");
    assert_eq!(BoundedStr::<1>::truncated("é").as_str(), "");
    let mut list = BoundedList::<u8, 2>::empty();
    list.push(1).unwrap();
    list.push(2).unwrap();
    assert!(list.push(3).is_err());
    assert_eq!(list.as_slice(), &[1, 2]);
    assert!(BoundedList::<u8, 2>::new(&[1, 2, 3]).is_err());
}

#[test]
fn length_over_capacity_is_rejected() {
    let mut buf = buffer();
    let msg = UpgradeChunk {
        bundle_id: 0,
        position: ChunkPosition::default(),
        data: BoundedBytes::new(&[0x11; 0x0123]).unwrap(),
    };
    let n = serialise(&msg, &mut buf.0);
    assert!(check::<UpgradeChunk>(&buf.0[..n]).is_ok());
    let at = offset_of_len(&buf.0[..n], 0x0123);
    buf.0[at..at + 2].copy_from_slice(&(CHUNK_MAX as u16 + 1).to_le_bytes());
    assert!(check::<UpgradeChunk>(&buf.0[..n]).is_err());
    buf.0[at..at + 2].copy_from_slice(&(CHUNK_MAX as u16).to_le_bytes());
    assert!(
        check::<UpgradeChunk>(&buf.0[..n]).is_ok(),
        "exactly full is valid"
    );
}

#[test]
fn list_count_over_capacity_is_rejected() {
    let mut buf = buffer();
    let msg = Telemetry {
        at_ms: 0,
        sequence: 0,
        component: ComponentId(1),
        points: BoundedList::new(&[TelemetryPoint { value: 5, id: 3 }; 0x0B]).unwrap(),
    };
    let n = serialise(&msg, &mut buf.0);
    let archived = check::<Telemetry>(&buf.0[..n]).unwrap();
    assert_eq!(archived.points.as_slice().len(), 11);
    let at = offset_of_len(&buf.0[..n], 0x0B);
    buf.0[at..at + 2].copy_from_slice(&(TELEMETRY_POINTS_MAX as u16 + 1).to_le_bytes());
    assert!(check::<Telemetry>(&buf.0[..n]).is_err());
}

#[test]
fn log_text_must_be_utf8() {
    let mut buf = buffer();
    let msg = LogRecord {
        text: BoundedStr::new("hello\u{1F6F0}").unwrap(),
        ..LogRecord::default()
    };
    let n = serialise(&msg, &mut buf.0);
    assert_eq!(
        check::<LogRecord>(&buf.0[..n]).unwrap().text.as_str(),
        "hello\u{1F6F0}"
    );
    let at = buf.0[..n].windows(5).position(|w| w == b"hello").unwrap();
    buf.0[at + 5] = 0xFF; // breaks the 4-byte sequence of the satellite emoji
    assert!(check::<LogRecord>(&buf.0[..n]).is_err());
}

#[test]
fn invalid_enum_tag_is_rejected() {
    let mut buf = buffer();
    let msg = RebootRequest {
        request_id: 0x0102_0304,
        requester: ComponentId(9),
        reason: RebootReason::Rollback,
    };
    let n = serialise(&msg, &mut buf.0);
    assert_eq!(n, 8);
    assert!(check::<RebootRequest>(&buf.0[..n]).is_ok());
    // Layout: request_id (4), requester (1), reason tag (1), padding (2).
    assert_eq!(buf.0[4], 9);
    buf.0[5] = 4; // RebootReason has four variants: 0..=3
    assert!(check::<RebootRequest>(&buf.0[..n]).is_err());
    buf.0[5] = 3;
    assert!(check::<RebootRequest>(&buf.0[..n]).is_ok());
}

#[test]
fn short_or_misaligned_input_is_rejected() {
    let mut buf = buffer();
    let n = serialise(
        &Ping {
            nonce: 1,
            sequence: 2,
        },
        &mut buf.0,
    );
    assert!(check::<Ping>(&buf.0[..n - 1]).is_err());
    assert!(check::<Ping>(&[]).is_err());
    // Same bytes one byte off alignment: rkyv refuses rather than reading unaligned.
    let copy: Vec<u8> = buf.0[..n].to_vec();
    buf.0[1..=n].copy_from_slice(&copy);
    assert!(check::<Ping>(&buf.0[1..=n]).is_err());
}
