//! SDLS in TC and TM frames, end to end through this crate's own apply and process (the
//! Python peer in `sdls_peer.rs` checks the same against an independent implementation):
//! both suites, the authentication mask (which header bits are covered and which are not),
//! wrong key, SPI and channel, replayed and out-of-window sequence numbers, and that a
//! refused frame changes no state.

use spacelink::fecf;
use spacelink::packets::{Extractor, Packer};
use spacelink::sdls::{
    self, DEFAULT_TC_MASK, DEFAULT_TM_MASK, SaConfig, SdlsError, SecurityAssociation, Suite,
};
use spacelink::tc::{FrameType, SegmentHeader, SeqFlags, TcHeader, TcLayout};
use spacelink::tm::{TmFramer, TmLayout};

const SCID: u16 = 0x2AB;
const TC_VC: u8 = 3;
const TM_VC: u8 = 1;
const LAYOUT: TcLayout = TcLayout {
    segment_header: true,
    fecf: true,
};
const TM: TmLayout = TmLayout {
    scid: SCID,
    frame_len: 96,
    ocf: true,
    fecf: true,
};
const CLCW: Option<[u8; 4]> = Some([0x01, 0x0C, 0x00, 0x05]);

fn config(spi: u16, suite: Suite, vcid: u8, key: u8) -> SaConfig {
    SaConfig {
        spi,
        suite,
        key: [key; 32],
        scid: SCID,
        vcid,
        iv_fixed: [0xA5, 0, 0, spi as u8],
        window: 5,
        tc_mask: DEFAULT_TC_MASK,
        tm_mask: DEFAULT_TM_MASK,
    }
}

fn pair(spi: u16, suite: Suite, vcid: u8) -> (SecurityAssociation, SecurityAssociation) {
    let c = config(spi, suite, vcid, 0x42);
    (
        SecurityAssociation::new(c.clone()).unwrap(),
        SecurityAssociation::new(c).unwrap(),
    )
}

fn header(seq: u8) -> TcHeader {
    TcHeader {
        frame_type: FrameType::Ad,
        scid: SCID,
        vcid: TC_VC,
        seq,
    }
}

const SEG: Option<SegmentHeader> = Some(SegmentHeader {
    flags: SeqFlags::Unsegmented,
    map_id: 9,
});

fn tc(sa: &mut SecurityAssociation, ns: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 1024];
    let len = sdls::apply_tc(sa, &header(ns), LAYOUT, SEG, data, &mut out).unwrap();
    out.truncate(len);
    out
}

fn process(rx: &mut [SecurityAssociation], frame: &[u8]) -> Result<(Vec<u8>, u64), SdlsError> {
    let mut bytes = frame.to_vec();
    let (secured, len) = sdls::process_tc(rx, &mut bytes, LAYOUT)?;
    assert_eq!(secured.frame.segment, SEG);
    let data = secured.frame.data.to_vec();
    assert_eq!(len, frame.len());
    Ok((data, secured.seq))
}

/// Re-seals the FECF after a deliberate change, so the SDLS check (not the CRC) judges it.
fn with_fecf(mut frame: Vec<u8>) -> Vec<u8> {
    let at = frame.len() - 2;
    let crc = fecf::compute(&frame[..at]);
    frame[at..].copy_from_slice(&crc.to_be_bytes());
    frame
}

#[test]
fn tc_round_trip_both_suites_with_the_layout_355_gives() {
    for (suite, hdr) in [(Suite::Aes256Gcm, 14), (Suite::HmacSha256, 10)] {
        let (mut tx, rx) = pair(7, suite, TC_VC);
        let mut rx = [rx];
        let data = b"PUS-C telecommand bytes";
        let frame = tc(&mut tx, 4, data);
        // primary 5 + segment 1 + security header + data + MAC 16 + FECF 2.
        assert_eq!(frame.len(), 5 + 1 + hdr + data.len() + 16 + 2);
        assert_eq!(
            usize::from(u16::from_be_bytes([frame[2] & 3, frame[3]])) + 1,
            frame.len()
        );
        assert!(fecf::check(&frame));
        assert_eq!(&frame[6..8], &[0, 7], "SPI after the segment header");
        let body = &frame[6 + hdr..6 + hdr + data.len()];
        match suite {
            Suite::Aes256Gcm => {
                assert_eq!(&frame[8..12], &[0xA5, 0, 0, 7], "IV fixed field");
                assert_eq!(&frame[12..20], &1u64.to_be_bytes(), "IV counter");
                assert_ne!(body, data, "GCM encrypts the data field");
            }
            Suite::HmacSha256 => {
                assert_eq!(&frame[8..16], &1u64.to_be_bytes(), "ARSN");
                assert_eq!(body, data, "HMAC leaves the data field in clear");
            }
        }
        assert_eq!(process(&mut rx, &frame), Ok((data.to_vec(), 1)));
        assert_eq!(tx.next_seq(), Some(2));
        assert_eq!(rx[0].window().last(), 1);
    }
}

/// A pair under a TC mask that leaves N(S) out (a managed parameter; the default covers it).
fn pair_without_ns(spi: u16, suite: Suite) -> (SecurityAssociation, SecurityAssociation) {
    let c = SaConfig {
        tc_mask: [0xFF, 0xFF, 0xFF, 0xFF, 0x00],
        ..config(spi, suite, TC_VC, 0x42)
    };
    (
        SecurityAssociation::new(c.clone()).unwrap(),
        SecurityAssociation::new(c).unwrap(),
    )
}

#[test]
fn the_default_tc_mask_covers_the_frame_sequence_number() {
    for suite in [Suite::Aes256Gcm, Suite::HmacSha256] {
        let (mut tx, rx) = pair(7, suite, TC_VC);
        let mut renumbered = tc(&mut tx, 4, b"data");
        renumbered[4] = 200;
        assert_eq!(
            process(&mut [rx], &with_fecf(renumbered)).map(|r| r.1),
            Err(SdlsError::BadMac(7))
        );
    }
}

#[test]
fn a_mask_leaving_out_the_frame_sequence_number_covers_the_rest() {
    for suite in [Suite::Aes256Gcm, Suite::HmacSha256] {
        let (mut tx, rx) = pair_without_ns(7, suite);
        let mut rx = [rx];
        let frame = tc(&mut tx, 4, b"data");
        // N(S) is outside the mask: FOP-1 may set it after ApplySecurity.
        let mut renumbered = frame.clone();
        renumbered[4] = 200;
        let renumbered = with_fecf(renumbered);
        assert!(process(&mut rx.clone(), &renumbered).is_ok());
        // Every other bit of the primary, segment and security headers is refused (by the
        // frame's own checks, the SPI lookup, the channel check or the MAC).
        for bit in 0..(6 + 2) * 8 {
            let byte = bit / 8;
            if byte == 4 {
                continue;
            }
            let mut bad = frame.clone();
            bad[byte] ^= 0x80 >> (bit % 8);
            let bad = with_fecf(bad);
            assert!(
                process(&mut rx.clone(), &bad).is_err(),
                "{suite:?}: flipping bit {bit} went unnoticed"
            );
        }
        // The bypass flag (AD to BD, still a valid frame) is covered by the MAC itself.
        let mut bypass = frame.clone();
        bypass[0] ^= 0x20;
        assert_eq!(
            process(&mut rx.clone(), &with_fecf(bypass)).map(|r| r.1),
            Err(SdlsError::BadMac(7))
        );
        // A receiver whose mask also covers N(S) computes another MAC: the mask is in it.
        let mut strict = rx.clone();
        strict[0] = SecurityAssociation::new(SaConfig {
            tc_mask: DEFAULT_TC_MASK,
            ..*rx[0].config()
        })
        .unwrap();
        assert_eq!(
            process(&mut strict, &frame).map(|r| r.1),
            Err(SdlsError::BadMac(7))
        );
        // Any bit of the data field or the MAC.
        for byte in 6 + 14..frame.len() - 2 {
            let mut bad = frame.clone();
            bad[byte] ^= 1;
            let bad = with_fecf(bad);
            let verdict = process(&mut rx, &bad);
            assert!(
                matches!(
                    verdict,
                    Err(SdlsError::BadMac(7)) | Err(SdlsError::TooShort { .. })
                ),
                "{suite:?} byte {byte}: {verdict:?}"
            );
        }
        assert_eq!(
            rx[0].window().last(),
            0,
            "no refused frame moved the window"
        );
        assert!(process(&mut rx, &frame).is_ok());
    }
}

#[test]
fn wrong_key_spi_and_channel_are_refused_and_change_nothing() {
    for suite in [Suite::Aes256Gcm, Suite::HmacSha256] {
        let mut other_key = SecurityAssociation::new(config(7, suite, TC_VC, 0x43)).unwrap();
        let (mut tx, rx) = pair(7, suite, TC_VC);
        let mut rx = [rx];
        let forged = tc(&mut other_key, 0, b"forged");
        assert_eq!(process(&mut rx, &forged), Err(SdlsError::BadMac(7)));
        let mut unknown = SecurityAssociation::new(config(8, suite, TC_VC, 0x42)).unwrap();
        assert_eq!(
            process(&mut rx, &tc(&mut unknown, 0, b"x")),
            Err(SdlsError::UnknownSpi(8))
        );
        // The association is for VC 3: the same SPI on VC 4 is refused before any MAC.
        let mut moved = SecurityAssociation::new(config(7, suite, 4, 0x42)).unwrap();
        let mut out = [0u8; 64];
        let h = TcHeader {
            vcid: 4,
            ..header(0)
        };
        let len = sdls::apply_tc(&mut moved, &h, LAYOUT, SEG, b"x", &mut out).unwrap();
        assert_eq!(
            process(&mut rx, &out[..len]),
            Err(SdlsError::WrongChannel {
                spi: 7,
                scid: SCID,
                vcid: 4
            })
        );
        // Sending through an association for another channel is refused too.
        assert!(matches!(
            sdls::apply_tc(&mut tx, &h, LAYOUT, SEG, b"x", &mut out),
            Err(SdlsError::Build(_))
        ));
        assert_eq!(tx.next_seq(), Some(1), "a refused apply takes no number");
        assert_eq!(rx[0].window().last(), 0);
        assert!(process(&mut rx, &tc(&mut tx, 0, b"ok")).is_ok());
    }
}

#[test]
fn replayed_and_out_of_window_numbers_as_cryptolib_exercises_them() {
    for suite in [Suite::Aes256Gcm, Suite::HmacSha256] {
        let (mut tx, rx) = pair(9, suite, TC_VC);
        let mut rx = [rx];
        let frames: Vec<Vec<u8>> = (0..12).map(|i| tc(&mut tx, i, &[i])).collect();
        // frames[k] carries sequence number k + 1; window W = 5.
        let seq_of = |r: Result<(Vec<u8>, u64), SdlsError>| r.map(|(_, s)| s);
        assert_eq!(seq_of(process(&mut rx, &frames[0])), Ok(1));
        assert_eq!(
            seq_of(process(&mut rx, &frames[0])),
            Err(SdlsError::Replay {
                spi: 9,
                seq: 1,
                last: 1
            })
        );
        // last + W = 6 is the edge: accepted.
        assert_eq!(seq_of(process(&mut rx, &frames[5])), Ok(6));
        // Skipped numbers (2..=5) are now behind the window.
        assert_eq!(
            seq_of(process(&mut rx, &frames[3])),
            Err(SdlsError::Replay {
                spi: 9,
                seq: 4,
                last: 6
            })
        );
        // last + W + 1 = 12 is outside.
        assert_eq!(
            seq_of(process(&mut rx, &frames[11])),
            Err(SdlsError::OutsideWindow {
                spi: 9,
                seq: 12,
                last: 6,
                width: 5
            })
        );
        assert_eq!(seq_of(process(&mut rx, &frames[6])), Ok(7));
        assert_eq!(seq_of(process(&mut rx, &frames[11])), Ok(12));
    }
}

#[test]
fn a_restored_send_counter_and_window_only_rise() {
    let (mut tx, mut rx) = pair(3, Suite::HmacSha256, TC_VC);
    tx.raise_next_seq(100);
    tx.raise_next_seq(50);
    assert_eq!(tx.next_seq(), Some(100));
    rx.raise_last_accepted(99);
    rx.raise_last_accepted(10);
    let mut rx = [rx];
    assert_eq!(
        process(&mut rx, &tc(&mut tx, 0, b"a")).map(|r| r.1),
        Ok(100)
    );
    tx.raise_next_seq(u64::MAX);
    assert!(tc_result(&mut tx).is_ok(), "u64::MAX itself is sent");
    assert_eq!(tx.next_seq(), None);
    assert_eq!(tc_result(&mut tx), Err(SdlsError::SequenceExhausted(3)));
}

fn tc_result(sa: &mut SecurityAssociation) -> Result<usize, SdlsError> {
    let mut out = [0u8; 64];
    sdls::apply_tc(sa, &header(0), LAYOUT, SEG, b"a", &mut out)
}

#[test]
fn association_parameters_are_checked() {
    let c = config(7, Suite::Aes256Gcm, TC_VC, 1);
    for bad in [
        SaConfig { spi: 0, ..c },
        SaConfig { spi: 0xFFFF, ..c },
        SaConfig { scid: 0x400, ..c },
        SaConfig { vcid: 64, ..c },
    ] {
        assert!(matches!(
            SecurityAssociation::new(bad),
            Err(SdlsError::Config(_))
        ));
    }
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("[1, 1"),
        "Debug never prints the key: {shown}"
    );
}

fn packet(apid: u16, len: usize, fill: u8) -> Vec<u8> {
    let mut p = vec![fill; len];
    p[..2].copy_from_slice(&(0x0800 | apid).to_be_bytes());
    p[2..4].copy_from_slice(&[0xC0, 0x00]);
    p[4..6].copy_from_slice(&((len - 7) as u16).to_be_bytes());
    p
}

/// Packets through secured TM frames (spanning frames), out through ProcessSecurity and the
/// extractor.
#[test]
fn tm_packets_through_secured_frames_both_suites() {
    for suite in [Suite::Aes256Gcm, Suite::HmacSha256] {
        let (mut tx, rx) = pair(0x21, suite, TM_VC);
        let mut rx = [rx];
        let mut framer = TmFramer::new(TM).unwrap();
        let field = framer.data_len() - sdls::overhead(suite);
        let mut packer = Packer::<128>::new(field).unwrap();
        let packets = [packet(5, 40, 1), packet(6, 150, 2), packet(7, 9, 3)];
        let mut fields = Vec::new();
        let mut collect = |f: &[u8], fhp: u16| fields.push((f.to_vec(), fhp));
        for p in &packets {
            packer.add(p, &mut collect).unwrap();
        }
        packer.flush(&mut collect);
        let mut frames = Vec::new();
        for (f, fhp) in &fields {
            let mut out = vec![0u8; TM.frame_len];
            sdls::apply_tm(&mut tx, &mut framer, TM_VC, f, *fhp, CLCW, &mut out).unwrap();
            assert!(fecf::check(&out));
            assert_eq!(&out[6..8], &[0, 0x21], "SPI right after the primary header");
            assert_eq!(&out[TM.frame_len - 6..TM.frame_len - 2], &CLCW.unwrap());
            frames.push(out);
        }
        let mut ex = Extractor::<256>::new();
        let mut got = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            // The master channel count is outside the mask: a multiplexer may renumber it.
            let mut f = f.clone();
            f[2] = f[2].wrapping_add(77);
            let mut f = with_fecf(f);
            let secured = sdls::process_tm(&mut rx, &mut f, &TM).unwrap();
            assert_eq!(secured.seq, i as u64 + 1);
            assert_eq!(secured.frame.data, fields[i].0.as_slice());
            assert_eq!(secured.frame.ocf, CLCW);
            ex.push_frame(&secured.frame, &mut |p: &[u8]| got.push(p.to_vec()));
        }
        assert_eq!(got, packets.to_vec());
        // Replay of the first frame, and a VC count change (covered by the mask).
        let mut replay = frames[0].clone();
        assert!(matches!(
            sdls::process_tm(&mut rx, &mut replay, &TM),
            Err(SdlsError::Replay { seq: 1, .. })
        ));
        let mut strict = [SecurityAssociation::new(SaConfig {
            tm_mask: [0xFF; 6],
            ..*rx[0].config()
        })
        .unwrap()];
        let mut first = frames[0].clone();
        assert!(
            sdls::process_tm(&mut strict, &mut first, &TM).is_ok(),
            "MC count 0 is the same masked or not"
        );
        // Frame 1 went out with MC count 1; the sender masked it to 0, this receiver covers it.
        let mut second = frames[1].clone();
        let verdict = sdls::process_tm(&mut strict, &mut second, &TM).map(|s| s.seq);
        assert_eq!(verdict, Err(SdlsError::BadMac(0x21)));
        let mut recounted = frames[0].clone();
        recounted[3] ^= 1;
        let mut recounted = with_fecf(recounted);
        assert!(matches!(
            sdls::process_tm(&mut rx, &mut recounted, &TM),
            Err(SdlsError::BadMac(0x21))
        ));
    }
}

#[test]
fn tm_apply_refuses_a_data_field_of_the_wrong_size() {
    let (mut tx, _) = pair(0x21, Suite::Aes256Gcm, TM_VC);
    let mut framer = TmFramer::new(TM).unwrap();
    let mut out = vec![0u8; TM.frame_len];
    let full = vec![0u8; framer.data_len()];
    assert!(matches!(
        sdls::apply_tm(&mut tx, &mut framer, TM_VC, &full, 0, CLCW, &mut out),
        Err(SdlsError::Build(_))
    ));
    assert_eq!(tx.next_seq(), Some(1));
}

/// An association's key does not outlive its configuration: dropping it wipes the key.
#[test]
fn a_dropped_configuration_wipes_its_key() {
    let mut c = core::mem::ManuallyDrop::new(config(1, Suite::Aes256Gcm, 0, 0x42));
    assert_eq!(c.key, [0x42; 32]);
    // SAFETY: dropped exactly once; afterwards only its plain byte array is read, which
    // `ManuallyDrop` keeps in place (nothing was freed).
    unsafe { core::mem::ManuallyDrop::drop(&mut c) };
    assert_eq!(c.key, [0; 32], "the key is still there after the drop");
}
