//! Fuzz target: the space link's two receive paths, fed the same bytes.
//! - Uplink: the CLTU decoder on the raw bytes; each CLTU's data parsed as TC frames (both
//!   layouts), every valid frame run through FARM-1 and its segments reassembled.
//! - Downlink: the ASM frame synchroniser (derandomising) on the raw bytes, with a frame length
//!   from the first byte; each frame parsed as a TM frame and its packets extracted.
//! Properties: no panic, no hang; every packet handed up is as long as its header declares;
//! FARM's CLCW agrees with its state; a TC frame parsed with a FECF has a correct CRC.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spacelink::cltu::CltuDecoder;
use spacelink::farm::{Farm, FarmState};
use spacelink::packets::{Extractor, declared_len};
use spacelink::segment::Reassembler;
use spacelink::sync::FrameSync;
use spacelink::{fecf, tc, tm};

fn uplink(data: &[u8]) {
    let mut dec = CltuDecoder::<1024>::new();
    let mut farm = Farm::new(0, 10).expect("valid window");
    let mut units = Reassembler::<2048>::new();
    for &b in data {
        let Some(cltu) = dec.push(b) else { continue };
        for layout in [
            tc::TcLayout {
                segment_header: false,
                fecf: true,
            },
            tc::TcLayout {
                segment_header: true,
                fecf: false,
            },
        ] {
            let mut rest = cltu.data;
            while let Ok((frame, next)) = tc::parse(rest, layout) {
                let len = rest.len() - next.len();
                if layout.fecf {
                    assert!(fecf::check(&rest[..len]));
                }
                farm.frame(&frame, frame.data.first().is_some_and(|&b| b & 1 == 0));
                let clcw = farm.clcw();
                assert_eq!(clcw.lockout, farm.state() == FarmState::Lockout);
                assert_eq!(clcw.report_value, farm.vr());
                if let Some(seg) = frame.segment
                    && let Ok(Some(unit)) = units.push(seg.flags, frame.data)
                {
                    assert!(unit.len() <= 2048);
                }
                rest = next;
            }
        }
    }
}

fn downlink(data: &[u8]) {
    let Some((&len_byte, stream)) = data.split_first() else {
        return;
    };
    let layout = tm::TmLayout {
        scid: 0x2C5,
        frame_len: 14 + usize::from(len_byte % 64),
        ocf: len_byte & 0x40 != 0,
        fecf: len_byte & 0x80 != 0,
    };
    let Ok(mut sync) = FrameSync::<80>::new(layout.frame_len, true) else {
        return;
    };
    let mut ex = Extractor::<128>::new();
    for &b in stream {
        let Some(frame) = sync.push(b) else { continue };
        if let Ok(parsed) = tm::parse(frame, &layout) {
            ex.push_frame(&parsed, &mut |p: &[u8]| {
                assert_eq!(declared_len(p), Some(p.len()))
            });
        }
    }
}

fuzz_target!(|data: &[u8]| {
    uplink(data);
    downlink(data);
});
