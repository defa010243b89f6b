//! TC and TM frames: every received-frame error is reported as what it is; several frames in
//! one CLTU; packets spanning frames survive lost frames without handing up a cut packet.

use proptest::prelude::*;
use spacelink::cltu::{self, CltuDecoder};
use spacelink::packets::{ExtractStats, Extractor, Packer, PacketError};
use spacelink::tc::{self, FrameType, SegmentHeader, SeqFlags, TcError, TcHeader, TcLayout};
use spacelink::tm::{self, FHP_IDLE, TmError, TmFramer, TmLayout};

const LAYOUT: TcLayout = TcLayout {
    segment_header: true,
    fecf: true,
};
const HEADER: TcHeader = TcHeader {
    frame_type: FrameType::Ad,
    scid: 0x2AA,
    vcid: 5,
    seq: 9,
};
const SEG: Option<SegmentHeader> = Some(SegmentHeader {
    flags: SeqFlags::Unsegmented,
    map_id: 3,
});

fn tc_frame(data: &[u8]) -> Vec<u8> {
    let mut out = [0u8; 1024];
    let n = tc::build(&HEADER, LAYOUT, SEG, data, &mut out).unwrap();
    out[..n].to_vec()
}

#[test]
fn two_tc_frames_in_one_cltu_then_fill() {
    let mut both = tc_frame(b"first");
    both.extend(tc_frame(b"second one"));
    let mut coded = [0u8; 128];
    let n = cltu::encode(&both, &mut coded).unwrap();
    let mut dec = CltuDecoder::<128>::new();
    let data = coded[..n]
        .iter()
        .find_map(|&b| dec.push(b).map(|c| c.data.to_vec()))
        .unwrap();
    let (a, rest) = tc::parse(&data, LAYOUT).unwrap();
    let (b, rest) = tc::parse(rest, LAYOUT).unwrap();
    assert_eq!((a.data, b.data), (&b"first"[..], &b"second one"[..]));
    assert_eq!(a.segment, SEG);
    assert!(rest.iter().all(|&x| x == cltu::FILL));
    // The fill is not a frame: version bits 01.
    assert_eq!(
        tc::parse(rest, LAYOUT).unwrap_err(),
        TcError::Truncated {
            have: rest.len(),
            need: 5
        }
    );
}

#[test]
fn tc_receive_errors_say_what_is_wrong() {
    let good = tc_frame(b"payload");
    let mut crc = good.clone();
    crc[7] ^= 4;
    assert_eq!(tc::parse(&crc, LAYOUT).unwrap_err(), TcError::Crc);
    let mut version = good.clone();
    version[0] |= 0x40;
    assert_eq!(
        tc::parse(&version, LAYOUT).unwrap_err(),
        TcError::Version(1)
    );
    let mut spare = good.clone();
    spare[0] |= 0x04;
    assert_eq!(tc::parse(&spare, LAYOUT).unwrap_err(), TcError::Spare(1));
    let mut ac = good.clone();
    ac[0] |= 0x10;
    assert_eq!(tc::parse(&ac, LAYOUT).unwrap_err(), TcError::TypeAc);
    assert_eq!(
        tc::parse(&good[..good.len() - 1], LAYOUT).unwrap_err(),
        TcError::Truncated {
            have: good.len() - 1,
            need: good.len()
        }
    );
    let mut short = good.clone();
    short[2] &= 0xFC;
    short[3] = 6; // length 7 < 5 + 1 + 2
    assert_eq!(tc::parse(&short, LAYOUT).unwrap_err(), TcError::TooShort(7));
    assert_eq!(
        tc::parse(&[], LAYOUT).unwrap_err(),
        TcError::Truncated { have: 0, need: 5 }
    );
}

#[test]
fn tc_build_refuses_out_of_range_fields() {
    let mut out = [0u8; 1100];
    let bad_scid = TcHeader {
        scid: 0x400,
        ..HEADER
    };
    assert!(matches!(
        tc::build(&bad_scid, LAYOUT, SEG, b"x", &mut out),
        Err(TcError::Build(_))
    ));
    let bad_vc = TcHeader { vcid: 64, ..HEADER };
    assert!(matches!(
        tc::build(&bad_vc, LAYOUT, SEG, b"x", &mut out),
        Err(TcError::Build(_))
    ));
    assert!(matches!(
        tc::build(&HEADER, LAYOUT, None, b"x", &mut out),
        Err(TcError::Build(_))
    ));
    assert!(matches!(
        tc::build(&HEADER, LAYOUT, SEG, &[0; 1017], &mut out),
        Err(TcError::Build(_))
    ));
    assert_eq!(
        tc::build(&HEADER, LAYOUT, SEG, &[0; 1016], &mut out),
        Ok(1024)
    );
    assert_eq!(
        tc::build(&HEADER, LAYOUT, SEG, b"abc", &mut out[..5]),
        Err(TcError::BufferTooSmall { needed: 11 })
    );
}

const TM: TmLayout = TmLayout {
    scid: 0x123,
    frame_len: 32,
    ocf: true,
    fecf: true,
};
const CLCW: Option<[u8; 4]> = Some([0x01, 0x00, 0x00, 0x07]);

fn packet(apid: u16, len: usize, fill: u8) -> Vec<u8> {
    let mut p = vec![fill; len];
    p[..2].copy_from_slice(&(0x0800 | apid).to_be_bytes());
    p[2..4].copy_from_slice(&[0xC0, 0x00]);
    p[4..6].copy_from_slice(&((len - 7) as u16).to_be_bytes());
    p
}

/// Packs `packets` into frames of VC 1 (flushing at the end).
fn frames_of(packets: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut framer = TmFramer::new(TM).unwrap();
    let mut packer = Packer::<64>::new(framer.data_len()).unwrap();
    let mut fields = Vec::new();
    let mut collect = |f: &[u8], fhp: u16| fields.push((f.to_vec(), fhp));
    for p in packets {
        packer.add(p, &mut collect).unwrap();
    }
    packer.flush(&mut collect);
    fields
        .iter()
        .map(|(f, fhp)| {
            let mut out = vec![0u8; TM.frame_len];
            framer.build(1, f, *fhp, CLCW, &mut out).unwrap();
            out
        })
        .collect()
}

fn extract(frames: &[Vec<u8>]) -> (Vec<Vec<u8>>, ExtractStats) {
    let mut ex = Extractor::<256>::new();
    let mut got = Vec::new();
    for f in frames {
        ex.push_frame(&tm::parse(f, &TM).unwrap(), &mut |p: &[u8]| {
            got.push(p.to_vec())
        });
    }
    (got, ex.stats())
}

#[test]
fn a_lost_frame_cuts_only_the_packets_it_carried() {
    // Data field 32 - 6 - 4 - 2 = 20 bytes. Packet 1 (50 bytes) spans frames 0..=2.
    let packets = vec![
        packet(1, 10, 0xA1),
        packet(2, 50, 0xB2),
        packet(3, 12, 0xC3),
        packet(4, 8, 0xD4),
    ];
    let frames = frames_of(&packets);
    assert_eq!(
        frames.len(),
        4,
        "80 bytes, exactly four data fields, no idle fill"
    );
    assert_eq!(extract(&frames).0, packets);
    // Lose frame 1 (the middle of packet 2): packets 1, 3 and 4 still come out; packet 2 is cut.
    let mut lossy = frames.clone();
    lossy.remove(1);
    let (got, stats) = extract(&lossy);
    assert_eq!(
        got,
        vec![packets[0].clone(), packets[2].clone(), packets[3].clone()]
    );
    assert_eq!((stats.lost_frames, stats.cut_packets), (1, 1));
}

#[test]
fn idle_fill_and_idle_frames_carry_no_packets() {
    // 19 bytes: one byte left in the data field, so the idle packet runs into a second frame.
    let packets = vec![packet(7, 19, 0x11)];
    let frames = frames_of(&packets);
    assert_eq!(frames.len(), 2);
    let (got, stats) = extract(&frames);
    assert_eq!((got, stats.idle_packets), (packets, 1));
    // An idle-only frame (FHP 7FE) in between is counted by the VC counter, nothing else.
    let mut framer = TmFramer::new(TM).unwrap();
    let mut out = vec![0u8; 32];
    framer
        .build(1, &[0x55; 20], FHP_IDLE, CLCW, &mut out)
        .unwrap();
    let parsed = tm::parse(&out, &TM).unwrap();
    assert_eq!(
        (parsed.fhp, parsed.mc_count, parsed.vc_count),
        (FHP_IDLE, 0, 0)
    );
}

#[test]
fn tm_receive_errors_say_what_is_wrong() {
    let frame = frames_of(&[packet(1, 10, 0)]).remove(0);
    assert_eq!(
        tm::parse(&frame[..31], &TM).unwrap_err(),
        TmError::Length { have: 31, want: 32 }
    );
    let mut crc = frame.clone();
    crc[9] ^= 1;
    assert_eq!(tm::parse(&crc, &TM).unwrap_err(), TmError::Crc);
    let other = TmLayout { scid: 0x124, ..TM };
    assert_eq!(
        tm::parse(&frame, &other).unwrap_err(),
        TmError::Spacecraft {
            got: 0x123,
            want: 0x124
        }
    );
    let no_ocf = TmLayout { ocf: false, ..TM };
    assert_eq!(tm::parse(&frame, &no_ocf).unwrap_err(), TmError::OcfFlag);
    assert!(
        TmLayout {
            frame_len: 12,
            ..TM
        }
        .data_len()
        .is_err()
    );
    assert!(
        TmLayout {
            frame_len: 2049,
            ..TM
        }
        .data_len()
        .is_err()
    );
}

#[test]
fn packer_refuses_what_is_not_a_space_packet() {
    let mut p = Packer::<64>::new(20).unwrap();
    let mut sink = |_: &[u8], _: u16| {};
    let mut bad = packet(1, 10, 0);
    bad.pop();
    assert_eq!(
        p.add(&bad, &mut sink),
        Err(PacketError::Malformed {
            len: 9,
            declared: 10
        })
    );
    assert_eq!(
        p.add(&[1, 2], &mut sink),
        Err(PacketError::Malformed {
            len: 2,
            declared: 0
        })
    );
    assert!(Packer::<64>::new(0).is_err());
    assert!(Packer::<64>::new(65).is_err());
}

proptest! {
    #[test]
    fn any_packets_any_losses_never_a_wrong_packet(
        sizes in proptest::collection::vec(7usize..90, 1..20),
        drops in proptest::collection::vec(any::<bool>(), 0..40),
    ) {
        let packets: Vec<Vec<u8>> =
            sizes.iter().enumerate().map(|(i, &n)| packet(i as u16, n, i as u8)).collect();
        let frames = frames_of(&packets);
        let kept: Vec<Vec<u8>> = frames
            .iter()
            .enumerate()
            .filter(|(i, _)| !drops.get(*i).copied().unwrap_or(false))
            .map(|(_, f)| f.clone())
            .collect();
        let (got, _) = extract(&kept);
        // Every packet handed up is one that was sent, in order.
        let mut it = packets.iter();
        for g in &got {
            prop_assert!(it.any(|p| p == g), "a packet came out that was not sent");
        }
        if kept.len() == frames.len() {
            prop_assert_eq!(got, packets);
        }
    }
}

#[test]
fn segments_out_of_order_are_refused_not_joined() {
    use spacelink::segment::{self, Reassembler, SegmentError};
    let unit: Vec<u8> = (0..=255).collect();
    let parts: Vec<_> = segment::segments(&unit, 100).collect();
    let flags: Vec<SeqFlags> = parts.iter().map(|p| p.0).collect();
    assert_eq!(
        flags,
        [SeqFlags::First, SeqFlags::Continuing, SeqFlags::Last]
    );
    assert_eq!(
        segment::segments(b"abc", 100).collect::<Vec<_>>(),
        [(SeqFlags::Unsegmented, &b"abc"[..])]
    );
    assert_eq!(segment::segments(b"abc", 0).count(), 0);

    let mut re = Reassembler::<300>::new();
    // The first segment lost: the rest are refused.
    assert_eq!(
        re.push(parts[1].0, parts[1].1),
        Err(SegmentError::NoFirstSegment)
    );
    assert_eq!(
        re.push(parts[2].0, parts[2].1),
        Err(SegmentError::NoFirstSegment)
    );
    // A unit cut short by the next unit's first segment is dropped, the new one completes.
    assert_eq!(re.push(parts[0].0, parts[0].1), Ok(None));
    assert_eq!(re.push(parts[0].0, parts[0].1), Ok(None));
    assert_eq!(re.push(parts[1].0, parts[1].1), Ok(None));
    assert_eq!(re.push(parts[2].0, parts[2].1).unwrap(), Some(&unit[..]));
    assert_eq!((re.stats().units, re.stats().interrupted), (1, 1));
    // Too long for the buffer: dropped, and the reassembler is ready for the next unit.
    let mut small = Reassembler::<150>::new();
    assert_eq!(small.push(parts[0].0, parts[0].1), Ok(None));
    assert_eq!(
        small.push(parts[1].0, parts[1].1),
        Err(SegmentError::TooLong { max: 150 })
    );
    assert_eq!(
        small.push(SeqFlags::Unsegmented, b"next").unwrap(),
        Some(&b"next"[..])
    );
}

#[test]
fn an_idle_frame_inside_a_spanning_packet_cuts_it() {
    let mut framer = TmFramer::new(TM).unwrap();
    let mut packer = Packer::<64>::new(framer.data_len()).unwrap();
    let mut fields = Vec::new();
    let mut collect = |f: &[u8], fhp: u16| fields.push((f.to_vec(), fhp));
    let sent = packet(9, 30, 0x99);
    packer.add(&sent, &mut collect).unwrap();
    packer.flush(&mut collect);
    assert_eq!(fields.len(), 2);
    let mut build = |field: &[u8], fhp: u16| {
        let mut out = vec![0u8; TM.frame_len];
        framer.build(1, field, fhp, CLCW, &mut out).unwrap();
        out
    };
    let first = build(&fields[0].0, fields[0].1);
    let idle = build(&[0x55; 20], FHP_IDLE);
    let second = build(&fields[1].0, fields[1].1);
    let (got, stats) = extract(&[first, idle, second]);
    assert!(got.is_empty());
    assert_eq!((stats.cut_packets, stats.lost_frames), (1, 0));
}
