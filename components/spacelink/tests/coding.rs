//! Channel coding (231.0 CLTU/BCH, 131.0 ASM/randomiser) against the standard's published
//! sequence, with bit errors below and above what BCH corrects and with byte slips.

use spacelink::bch::{self, BlockStatus};
use spacelink::cltu::{self, CltuDecoder, CltuEnd};
use spacelink::randomizer::SEQUENCE;
use spacelink::sync::{self, ASM, FrameSync};

/// The first 64 bytes of the pseudo-random sequence as 131.0 §10 (and every independent
/// implementation: SatDump, gr-satellites, libfec) prints it; the period ends in 0x58.
const PUBLISHED: [u8; 64] = [
    0xff, 0x48, 0x0e, 0xc0, 0x9a, 0x0d, 0x70, 0xbc, 0x8e, 0x2c, 0x93, 0xad, 0xa7, 0xb7, 0x46, 0xce,
    0x5a, 0x97, 0x7d, 0xcc, 0x32, 0xa2, 0xbf, 0x3e, 0x0a, 0x10, 0xf1, 0x88, 0x94, 0xcd, 0xea, 0xb1,
    0xfe, 0x90, 0x1d, 0x81, 0x34, 0x1a, 0xe1, 0x79, 0x1c, 0x59, 0x27, 0x5b, 0x4f, 0x6e, 0x8d, 0x9c,
    0xb5, 0x2e, 0xfb, 0x98, 0x65, 0x45, 0x7e, 0x7c, 0x14, 0x21, 0xe3, 0x11, 0x29, 0x9b, 0xd5, 0x63,
];

#[test]
fn randomiser_is_the_published_sequence() {
    assert_eq!(SEQUENCE[..64], PUBLISHED);
    assert_eq!(SEQUENCE[254], 0x58);
    // Period 255: the sequence does not repeat earlier.
    assert!((1..247).all(|shift| SEQUENCE[shift..shift + 8] != SEQUENCE[..8]));
}

fn decode_all<const N: usize>(
    dec: &mut CltuDecoder<N>,
    bytes: &[u8],
) -> Vec<(Vec<u8>, CltuEnd, u32)> {
    let mut out = Vec::new();
    for &b in bytes {
        if let Some(c) = dec.push(b) {
            out.push((c.data.to_vec(), c.end, c.corrected));
        }
    }
    out
}

fn frame_bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn every_single_bit_error_in_a_block_is_corrected() {
    let info = [0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE];
    let good = bch::encode(&info);
    let mut clean = good;
    assert_eq!(bch::decode(&mut clean), BlockStatus::Clean);
    for bit in 0..63 {
        let mut block = good;
        block[bit / 8] ^= 0x80 >> (bit % 8);
        assert_eq!(
            bch::decode(&mut block),
            BlockStatus::Corrected(bit as u8),
            "bit {bit}"
        );
        assert_eq!(block, good);
    }
    // The filler bit is outside the code: flipping it is no error.
    let mut block = good;
    block[7] ^= 1;
    assert_eq!(bch::decode(&mut block), BlockStatus::Clean);
}

#[test]
fn every_double_bit_error_is_detected_never_miscorrected() {
    let info = [0xA5, 0x00, 0xFF, 0x3C, 0x81, 0x7E, 0x42];
    let good = bch::encode(&info);
    let mut pairs = 0;
    for a in 0..63 {
        for b in a + 1..63 {
            let mut block = good;
            block[a / 8] ^= 0x80 >> (a % 8);
            block[b / 8] ^= 0x80 >> (b % 8);
            assert_eq!(
                bch::decode(&mut block),
                BlockStatus::Uncorrectable,
                "bits {a},{b}"
            );
            pairs += 1;
        }
    }
    assert_eq!(pairs, 63 * 62 / 2);
}

#[test]
fn the_tail_never_decodes_even_with_one_bit_flipped() {
    for bit in 0..64 {
        let mut tail = cltu::TAIL;
        tail[bit / 8] ^= 0x80 >> (bit % 8);
        assert_eq!(
            bch::decode(&mut tail),
            BlockStatus::Uncorrectable,
            "bit {bit}"
        );
    }
}

#[test]
fn cltu_round_trip_with_fill_and_correctable_errors() {
    let frame = frame_bytes(40, 3);
    let mut out = [0u8; 128];
    let n = cltu::encode(&frame, &mut out).unwrap();
    assert_eq!(n, 2 + 6 * 8 + 8);
    assert_eq!(out[..2], [0xEB, 0x90]);
    assert_eq!(out[n - 8..n], cltu::TAIL);
    // One bit in error in every code block, in the tail too: all corrected, ends at the tail.
    let mut noisy = out[..n].to_vec();
    for block in 0..7 {
        noisy[2 + block * 8 + (block * 5) % 8] ^= 1 << (block % 8);
    }
    let mut dec = CltuDecoder::<256>::new();
    let mut stream = vec![0x00, 0x55, 0xEB];
    stream.extend_from_slice(&noisy);
    let got = decode_all(&mut dec, &stream);
    assert_eq!(got.len(), 1);
    let (data, end, corrected) = &got[0];
    assert_eq!(*end, CltuEnd::Tail);
    assert_eq!(*corrected, 6);
    assert_eq!(data[..40], frame[..]);
    assert_eq!(data[40..], [cltu::FILL, cltu::FILL]);
}

#[test]
fn two_errors_in_a_block_end_the_cltu_there() {
    let frame = frame_bytes(28, 9);
    let mut out = [0u8; 64];
    let n = cltu::encode(&frame, &mut out).unwrap();
    let mut noisy = out[..n].to_vec();
    // Block 2 (bytes 2+16..2+24) gets two errors: blocks 0 and 1 still come up, flagged.
    noisy[2 + 16] ^= 0x81;
    let mut dec = CltuDecoder::<64>::new();
    let got = decode_all(&mut dec, &noisy);
    assert_eq!(got, vec![(frame[..14].to_vec(), CltuEnd::Uncorrectable, 0)]);
    assert_eq!(dec.stats().uncorrectable, 1);
    // The decoder is back in search: the next CLTU decodes whole.
    let again = decode_all(&mut dec, &out[..n]);
    assert_eq!(again, vec![(frame.clone(), CltuEnd::Tail, 0)]);
}

#[test]
fn oversized_cltu_is_cut_not_overrun() {
    let frame = frame_bytes(30, 1);
    let mut out = [0u8; 64];
    let n = cltu::encode(&frame, &mut out).unwrap();
    let mut dec = CltuDecoder::<14>::new();
    let got = decode_all(&mut dec, &out[..n]);
    assert_eq!(got[0], (frame[..14].to_vec(), CltuEnd::Overflow, 0));
    assert_eq!(dec.stats().overflows, 1);
}

#[test]
fn encode_errors_are_typed() {
    let mut small = [0u8; 10];
    assert_eq!(
        cltu::encode(&[1; 8], &mut small),
        Err(cltu::EncodeError::BufferTooSmall {
            needed: cltu::encoded_len(8)
        })
    );
    assert_eq!(cltu::encode(&[], &mut small), Err(cltu::EncodeError::Empty));
}

const FRAME_LEN: usize = 48;

fn tm_stream(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut stream = Vec::new();
    let mut buf = [0u8; 4 + FRAME_LEN];
    for f in frames {
        let n = sync::frame_into(f, true, &mut buf).unwrap();
        stream.extend_from_slice(&buf[..n]);
    }
    stream
}

fn sync_all(s: &mut FrameSync<FRAME_LEN>, bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .iter()
        .filter_map(|&b| s.push(b).map(<[u8]>::to_vec))
        .collect()
}

#[test]
fn synchroniser_finds_frames_after_noise_and_derandomises() {
    let frames: Vec<Vec<u8>> = (0..5).map(|i| frame_bytes(FRAME_LEN, i)).collect();
    let stream = tm_stream(&frames);
    // Randomised on the wire, ASM in clear.
    assert_eq!(stream[..4], ASM);
    assert_ne!(stream[4..4 + FRAME_LEN], frames[0][..]);
    let mut noisy = vec![0x1A, 0xCF, 0x00, 0x37, 0x99];
    noisy.extend_from_slice(&stream);
    let mut s = FrameSync::<FRAME_LEN>::new(FRAME_LEN, true).unwrap();
    assert_eq!(sync_all(&mut s, &noisy), frames);
    assert_eq!(s.stats().locks, 1);
}

#[test]
fn synchroniser_follows_dropped_and_duplicated_bytes() {
    let frames: Vec<Vec<u8>> = (0..8).map(|i| frame_bytes(FRAME_LEN, 10 + i)).collect();
    let mut stream = tm_stream(&frames);
    let per = 4 + FRAME_LEN;
    // Frame 2 loses a byte, frame 5 gets one byte twice.
    let dup_at = 5 * per + 4 + 20;
    stream.insert(dup_at, stream[dup_at]);
    stream.remove(2 * per + 4 + 10);
    let mut s = FrameSync::<FRAME_LEN>::new(FRAME_LEN, true).unwrap();
    let got = sync_all(&mut s, &stream);
    assert_eq!(
        got.len(),
        8,
        "every frame is handed up, the slipped ones damaged"
    );
    for i in [0, 1, 3, 4, 6, 7] {
        assert_eq!(got[i], frames[i], "frame {i} after a slip elsewhere");
    }
    assert_ne!(got[2], frames[2]);
    assert_ne!(got[5], frames[5]);
    assert_eq!(s.stats().slips, 2);
    assert_eq!(s.stats().lock_losses, 0);
}

#[test]
fn synchroniser_accepts_asm_bit_errors_in_lock_and_relocks_after_garbage() {
    let frames: Vec<Vec<u8>> = (0..6).map(|i| frame_bytes(FRAME_LEN, 40 + i)).collect();
    let mut stream = tm_stream(&frames);
    let per = 4 + FRAME_LEN;
    stream[per] ^= 0x10; // one bit in frame 1's ASM: accepted in lock
    // Frame 3's ASM wiped out and 20 bytes of garbage spliced in: frame 3 is lost, frame 4
    // found again by search.
    for b in &mut stream[3 * per..3 * per + 4] {
        *b = 0;
    }
    let tail = stream.split_off(4 * per);
    stream.extend(std::iter::repeat_n(0xA7u8, 20));
    stream.extend(tail);
    let mut s = FrameSync::<FRAME_LEN>::new(FRAME_LEN, true).unwrap();
    let got = sync_all(&mut s, &stream);
    assert_eq!(got, [&frames[..3], &frames[4..]].concat());
    assert_eq!(s.stats().asm_bit_errors, 1);
    assert_eq!(s.stats().lock_losses, 1);
    assert_eq!(s.stats().locks, 2);
}

#[test]
fn synchroniser_rejects_impossible_lengths() {
    assert!(FrameSync::<16>::new(0, false).is_err());
    assert!(FrameSync::<16>::new(17, false).is_err());
}

#[test]
fn slips_up_to_the_allowance_are_followed_larger_ones_relock_at_the_next_asm() {
    let frames: Vec<Vec<u8>> = (0..6).map(|i| frame_bytes(FRAME_LEN, 70 + i)).collect();
    let per = 4 + FRAME_LEN;
    for slip in 1..=sync::MAX_SLIP + 1 {
        for dropped in [true, false] {
            let mut stream = tm_stream(&frames);
            let at = 2 * per + 4 + 7;
            if dropped {
                stream.drain(at..at + slip);
            } else {
                stream.splice(at..at, std::iter::repeat_n(0x3C, slip));
            }
            let mut s = FrameSync::<FRAME_LEN>::new(FRAME_LEN, true).unwrap();
            let got = sync_all(&mut s, &stream);
            let followed = slip <= sync::MAX_SLIP;
            let case = format!("slip {slip}, dropped {dropped}");
            // Frames before the slip and from frame 3 (followed) or 4 (re-searched) come out
            // intact; only frame 2 is damaged.
            assert_eq!(got[..2], frames[..2], "{case}");
            assert_ne!(got[2], frames[2], "{case}");
            let resumed = if followed { 3 } else { 4 };
            assert_eq!(
                got[got.len() - (6 - resumed)..],
                frames[resumed..],
                "{case}"
            );
            assert_eq!(s.stats().lock_losses, u32::from(!followed), "{case}");
        }
    }
}

#[test]
fn asm_with_three_bit_errors_loses_lock() {
    let frames: Vec<Vec<u8>> = (0..4).map(|i| frame_bytes(FRAME_LEN, 90 + i)).collect();
    let mut stream = tm_stream(&frames);
    let per = 4 + FRAME_LEN;
    stream[2 * per] ^= 0x07; // three bits in frame 2's ASM
    let mut s = FrameSync::<FRAME_LEN>::new(FRAME_LEN, true).unwrap();
    let got = sync_all(&mut s, &stream);
    assert_eq!(got, [&frames[..2], &frames[3..]].concat());
    assert_eq!((s.stats().lock_losses, s.stats().locks), (1, 2));
}
