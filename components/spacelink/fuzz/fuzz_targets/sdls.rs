//! Fuzz target: SDLS ProcessSecurity on TC and TM frames.
//! - Raw: the input itself processed as a TC frame and as a TM frame under associations of both
//!   suites (no panic; nothing is accepted without a MAC the fuzzer cannot forge).
//! - Mutated: the input's tail secured (TC or TM, GCM or HMAC, by the first byte), then up to
//!   three bytes changed at fuzzed positions and the FECF recomputed, then processed.
//! Properties: an untouched frame is accepted with its data; a frame accepted after a change
//! was changed only outside the authenticated part (the TM master channel count the default
//! mask leaves out, or the OCF) and gives back the same data; a refused frame moves no window.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spacelink::fecf;
use spacelink::sdls::{
    self, DEFAULT_TC_MASK, DEFAULT_TM_MASK, SaConfig, SecurityAssociation, Suite,
};
use spacelink::tc::{FrameType, SegmentHeader, SeqFlags, TcHeader, TcLayout};
use spacelink::tm::{TmFramer, TmLayout};

const LAYOUT: TcLayout = TcLayout {
    segment_header: true,
    fecf: true,
};
const TM: TmLayout = TmLayout {
    scid: 0x155,
    frame_len: 96,
    ocf: true,
    fecf: true,
};

fn sa(spi: u16, suite: Suite, vcid: u8) -> SecurityAssociation {
    SecurityAssociation::new(SaConfig {
        spi,
        suite,
        key: [0x5A; 32],
        scid: 0x155,
        vcid,
        iv_fixed: [0, 0, 0, 1],
        window: 8,
        tc_mask: DEFAULT_TC_MASK,
        tm_mask: DEFAULT_TM_MASK,
    })
    .expect("valid association")
}

fn table() -> [SecurityAssociation; 4] {
    [
        sa(1, Suite::Aes256Gcm, 0),
        sa(2, Suite::HmacSha256, 0),
        sa(3, Suite::Aes256Gcm, 1),
        sa(4, Suite::HmacSha256, 1),
    ]
}

fn raw(data: &[u8]) {
    let mut sas = table();
    let mut buf = [0u8; 2048];
    let n = data.len().min(buf.len());
    buf[..n].copy_from_slice(&data[..n]);
    let _ = sdls::process_tc(&mut sas, &mut buf[..n], LAYOUT);
    let mut frame = [0u8; 96];
    let m = data.len().min(96);
    frame[..m].copy_from_slice(&data[..m]);
    let _ = sdls::process_tm(&mut sas, &mut frame, &TM);
    assert!(
        sas.iter().all(|s| s.window().last() == 0),
        "no forged frame accepted"
    );
}

fn mutated(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((edits, payload)) = rest.split_at_checked(6.min(rest.len())) else {
        return;
    };
    let suite = if mode & 1 == 0 {
        Suite::Aes256Gcm
    } else {
        Suite::HmacSha256
    };
    let tm_frame = mode & 2 != 0;
    let (spi, vcid) = match (tm_frame, suite) {
        (false, Suite::Aes256Gcm) => (1, 0),
        (false, Suite::HmacSha256) => (2, 0),
        (true, Suite::Aes256Gcm) => (3, 1),
        (true, Suite::HmacSha256) => (4, 1),
    };
    let mut tx = sa(spi, suite, vcid);
    // Any number inside the fresh receiver's window (1..=8).
    tx.raise_next_seq(u64::from(mode >> 2) % 8 + 1);
    let mut frame = [0u8; 1024];
    let mut tm_data = [0u8; 96];
    let (len, data) = if tm_frame {
        let mut framer = TmFramer::new(TM).expect("valid layout");
        let field = framer.data_len() - sdls::overhead(suite);
        let n = payload.len().min(field);
        tm_data[..n].copy_from_slice(&payload[..n]);
        let data = &tm_data[..field];
        sdls::apply_tm(
            &mut tx,
            &mut framer,
            vcid,
            data,
            0,
            Some([1, 2, 3, 4]),
            &mut frame[..96],
        )
        .expect("apply_tm");
        (96, data)
    } else {
        let data = &payload[..payload.len().min(900)];
        if data.is_empty() {
            return;
        }
        let header = TcHeader {
            frame_type: FrameType::Ad,
            scid: 0x155,
            vcid,
            seq: mode,
        };
        let segment = Some(SegmentHeader {
            flags: SeqFlags::Unsegmented,
            map_id: 0,
        });
        let len =
            sdls::apply_tc(&mut tx, &header, LAYOUT, segment, data, &mut frame).expect("apply_tc");
        (len, data)
    };
    let frame = &mut frame[..len];
    let mut original = [0u8; 1024];
    original[..len].copy_from_slice(frame);
    for pair in edits.chunks_exact(2) {
        frame[usize::from(pair[0]) * (len - 2) / 256] ^= pair[1];
    }
    let crc = fecf::compute(&frame[..len - 2]);
    frame[len - 2..].copy_from_slice(&crc.to_be_bytes());
    let mut rx = table();
    let before: [u64; 4] = core::array::from_fn(|i| rx[i].window().last());
    // Edits at one position may cancel out: what counts is what differs (noted before
    // processing, which decrypts in place).
    let mut diff = [false; 1024];
    for at in 0..len - 2 {
        diff[at] = frame[at] != original[at];
    }
    let untouched = !diff.contains(&true);
    let outside_auth = |at: usize| tm_frame && (at == 2 || (len - 6..len - 2).contains(&at));
    let verdict = if tm_frame {
        sdls::process_tm(&mut rx, frame, &TM).map(|s| s.frame.data == data)
    } else {
        sdls::process_tc(&mut rx, frame, LAYOUT).map(|(s, _)| s.frame.data == data)
    };
    match verdict {
        Ok(same) => {
            assert!(same, "accepted with other data");
            assert!(
                (0..len - 2).filter(|&at| diff[at]).all(outside_auth),
                "a change inside the authenticated part was accepted"
            );
        }
        Err(e) => {
            assert!(!untouched, "an untouched frame was refused: {e}");
            let after: [u64; 4] = core::array::from_fn(|i| rx[i].window().last());
            assert_eq!(before, after, "a refused frame moved a window");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    raw(data);
    mutated(data);
});
