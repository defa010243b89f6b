//! The crate against the independent Python peer (`scripts/interop-link.py`: CLTU, randomiser,
//! TC and TM frames written from the standards' text, space packets from `spacepackets`,
//! FARM-1 from the PyPI package `ccsds-cop`). Its output is committed in `vectors/peer.txt`;
//! `scripts/interop` regenerates it and fails if it differs.

use spacelink::bch;
use spacelink::cltu::{self, CltuDecoder, CltuEnd};
use spacelink::farm::{Farm, FarmAction};
use spacelink::packets::{Extractor, Packer};
use spacelink::randomizer::SEQUENCE;
use spacelink::segment::{self, Reassembler};
use spacelink::sync::{self, FrameSync};
use spacelink::tc::{self, FrameType, SegmentHeader, SeqFlags, TcHeader, TcLayout};
use spacelink::tm::{self, TmFramer, TmLayout};

const VECTORS: &str = include_str!("vectors/peer.txt");

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn lines(kind: &str) -> Vec<Vec<&'static str>> {
    VECTORS
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .filter(|f| f[0] == kind)
        .collect()
}

#[test]
fn randomiser_matches_peer() {
    let l = lines("randomizer");
    assert_eq!(l.len(), 1);
    assert_eq!(hex(l[0][1]), SEQUENCE);
}

#[test]
fn bch_blocks_match_peer() {
    let l = lines("bch");
    assert_eq!(l.len(), 64);
    for f in l {
        let info: [u8; 7] = hex(f[1]).try_into().unwrap();
        let block: [u8; 8] = hex(f[2]).try_into().unwrap();
        assert_eq!(bch::encode(&info), block);
    }
}

#[test]
fn cltus_match_peer_both_ways() {
    let l = lines("cltu");
    assert_eq!(l.len(), 8);
    for f in l {
        let data = hex(f[1]);
        let want = hex(f[2]);
        let mut out = [0u8; 400];
        let n = cltu::encode(&data, &mut out).unwrap();
        assert_eq!(out[..n], want[..]);
        let mut dec = CltuDecoder::<300>::new();
        let mut got = None;
        for &b in &want {
            if let Some(c) = dec.push(b) {
                got = Some((c.data.to_vec(), c.end));
            }
        }
        let (decoded, end) = got.unwrap();
        assert_eq!(end, CltuEnd::Tail);
        assert_eq!(decoded[..data.len()], data[..]);
        assert!(decoded[data.len()..].iter().all(|&b| b == cltu::FILL));
    }
}

#[test]
fn asm_and_randomised_frames_match_peer_both_ways() {
    let l = lines("asm_randomised");
    assert_eq!(l.len(), 3);
    for f in l {
        let frame = hex(f[1]);
        let want = hex(f[2]);
        let mut out = [0u8; 300];
        let n = sync::frame_into(&frame, true, &mut out).unwrap();
        assert_eq!(out[..n], want[..]);
        let mut s = FrameSync::<223>::new(frame.len(), true).unwrap();
        let got: Vec<Vec<u8>> = want
            .iter()
            .filter_map(|&b| s.push(b).map(<[u8]>::to_vec))
            .collect();
        assert_eq!(got, vec![frame]);
    }
}

#[test]
fn tc_frames_match_peer_both_ways() {
    let l = lines("tc");
    assert_eq!(l.len(), 5);
    for f in l {
        let frame_type = match f[1] {
            "AD" => FrameType::Ad,
            "BD" => FrameType::Bd,
            _ => FrameType::Bc,
        };
        let header = TcHeader {
            frame_type,
            scid: f[2].parse().unwrap(),
            vcid: f[3].parse().unwrap(),
            seq: f[4].parse().unwrap(),
        };
        let segment = (f[5] != "-").then(|| {
            let b: u8 = f[5].parse().unwrap();
            SegmentHeader {
                flags: if b >> 6 == 3 {
                    SeqFlags::Unsegmented
                } else {
                    panic!("vector flags")
                },
                map_id: b & 0x3F,
            }
        });
        let layout = TcLayout {
            segment_header: segment.is_some(),
            fecf: f[6] == "1",
        };
        let data = hex(f[7]);
        let want = hex(f[8]);
        let mut out = [0u8; 1024];
        let n = tc::build(&header, layout, segment, &data, &mut out).unwrap();
        assert_eq!(out[..n], want[..], "{}", f[1]);
        let (frame, rest) = tc::parse(&want, layout).unwrap();
        assert_eq!(
            (frame.header, frame.segment, frame.data),
            (header, segment, &data[..])
        );
        assert!(rest.is_empty());
    }
}

#[test]
fn segmented_tc_unit_matches_peer_both_ways() {
    let l = lines("tc_unit");
    assert_eq!(l.len(), 1);
    let unit = hex(l[0][1]);
    let want: Vec<Vec<u8>> = l[0][2].split(',').map(hex).collect();
    let layout = TcLayout {
        segment_header: true,
        fecf: true,
    };
    let max = tc::MAX_FRAME_LEN - tc::HEADER_LEN - 1 - 2;
    let mut built = Vec::new();
    for (n, (flags, piece)) in segment::segments(&unit, max).enumerate() {
        let header = TcHeader {
            frame_type: FrameType::Ad,
            scid: 0x1AB,
            vcid: 1,
            seq: n as u8,
        };
        let seg = Some(SegmentHeader { flags, map_id: 4 });
        let mut out = [0u8; 1024];
        let len = tc::build(&header, layout, seg, piece, &mut out).unwrap();
        built.push(out[..len].to_vec());
    }
    assert_eq!(built, want);
    let mut re = Reassembler::<4096>::new();
    let mut got = None;
    for f in &want {
        let (frame, _) = tc::parse(f, layout).unwrap();
        let seg = frame.segment.unwrap();
        assert_eq!(seg.map_id, 4);
        if let Some(u) = re.push(seg.flags, frame.data).unwrap() {
            got = Some(u.to_vec());
        }
    }
    assert_eq!(got, Some(unit));
}

#[test]
fn tm_frames_and_packets_match_peer_both_ways() {
    let l = lines("tm");
    assert_eq!(l.len(), 3);
    for f in l {
        let layout = TmLayout {
            scid: f[1].parse().unwrap(),
            frame_len: f[3].parse().unwrap(),
            ocf: f[4] == "1",
            fecf: f[5] == "1",
        };
        let vcid: u8 = f[2].parse().unwrap();
        let ocf = (f[6] != "-").then(|| <[u8; 4]>::try_from(hex(f[6])).unwrap());
        let packets: Vec<Vec<u8>> = f[7].split(',').map(hex).collect();
        let want: Vec<Vec<u8>> = f[8].split(',').map(hex).collect();

        let mut framer = TmFramer::new(layout).unwrap();
        let mut packer = Packer::<2048>::new(framer.data_len()).unwrap();
        let mut fields = Vec::new();
        let mut collect = |field: &[u8], fhp: u16| fields.push((field.to_vec(), fhp));
        for p in &packets {
            packer.add(p, &mut collect).unwrap();
        }
        packer.flush(&mut collect);
        let mut built = Vec::new();
        for (field, fhp) in &fields {
            let mut out = vec![0u8; layout.frame_len];
            framer.build(vcid, field, *fhp, ocf, &mut out).unwrap();
            built.push(out);
        }
        assert_eq!(built, want);

        let mut ex = Extractor::<1024>::new();
        let mut got = Vec::new();
        for frame in &want {
            let parsed = tm::parse(frame, &layout).unwrap();
            assert_eq!((parsed.vcid, parsed.ocf), (vcid, ocf));
            ex.push_frame(&parsed, &mut |p: &[u8]| got.push(p.to_vec()));
        }
        assert_eq!(got, packets);
        assert_eq!(ex.stats().lost_frames, 0);
    }
}

#[test]
fn farm_matches_ccsds_cop_step_by_step() {
    let layout = TcLayout {
        segment_header: false,
        fecf: true,
    };
    let mut farm = None;
    let mut steps = 0;
    for (i, f) in VECTORS
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .enumerate()
    {
        match f[0] {
            "farm" => farm = Some(Farm::new(0, f[1].parse().unwrap()).unwrap()),
            "farm_step" => steps += 1,
            _ => continue,
        }
        let Some(farm) = farm.as_mut().filter(|_| f[0] == "farm_step") else {
            continue;
        };
        let bytes = hex(f[1]);
        let (frame, _) = tc::parse(&bytes, layout).unwrap();
        let action = farm.frame(&frame, true);
        let accepted = matches!(action, FarmAction::AcceptData | FarmAction::AcceptControl);
        assert_eq!(accepted, f[2] == "1", "step {i}: {action:?}");
        assert_eq!(farm.clcw().to_bytes().to_vec(), hex(f[3]), "step {i}: CLCW");
    }
    assert_eq!(steps, 33);
}
