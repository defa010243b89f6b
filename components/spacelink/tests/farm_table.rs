//! FARM-1 against the state table of CCSDS 232.1 §6 (Table 6-1), event by event in each of the
//! three states, including the Wait state that `ccsds-cop` (the Python peer in `peer.rs`) does
//! not model: its E2 sets the flags but stays Open.

use spacelink::farm::{DiscardReason, Farm, FarmAction, FarmState};
use spacelink::tc::{FrameType, TcFrame, TcHeader};

const VC: u8 = 2;
/// W = 10: positive and negative window halves of 5.
const W: u8 = 10;

fn frame(frame_type: FrameType, seq: u8, data: &[u8]) -> TcFrame<'_> {
    TcFrame {
        header: TcHeader {
            frame_type,
            scid: 5,
            vcid: VC,
            seq,
        },
        segment: None,
        data,
    }
}

fn ad(f: &mut Farm, ns: u8) -> FarmAction {
    f.frame(&frame(FrameType::Ad, ns, b"x"), true)
}

fn ad_no_buffer(f: &mut Farm, ns: u8) -> FarmAction {
    f.frame(&frame(FrameType::Ad, ns, b"x"), false)
}

fn bd(f: &mut Farm) -> FarmAction {
    f.frame(&frame(FrameType::Bd, 0, b"x"), true)
}

fn unlock(f: &mut Farm) -> FarmAction {
    f.frame(&frame(FrameType::Bc, 0, &[0x00]), true)
}

fn set_vr(f: &mut Farm, vr: u8) -> FarmAction {
    f.frame(&frame(FrameType::Bc, 0, &[0x82, 0x00, vr]), true)
}

/// A FARM in Open with V(R) = 10.
fn open() -> Farm {
    let mut f = Farm::new(VC, W).unwrap();
    assert_eq!(set_vr(&mut f, 10), FarmAction::AcceptControl);
    f
}

/// A FARM in Wait with V(R) = 10 (E2 in Open).
fn wait() -> Farm {
    let mut f = open();
    assert_eq!(
        ad_no_buffer(&mut f, 10),
        FarmAction::Discard(DiscardReason::NoBuffer)
    );
    assert_eq!(f.state(), FarmState::Wait);
    f
}

/// A FARM in Lockout with V(R) = 10 (E5 in Open).
fn lockout() -> Farm {
    let mut f = open();
    assert_eq!(
        ad(&mut f, 100),
        FarmAction::Discard(DiscardReason::OutsideWindow)
    );
    assert_eq!(f.state(), FarmState::Lockout);
    f
}

fn flags(f: &Farm) -> (bool, bool, bool, u8, u8) {
    let c = f.clcw();
    (
        c.lockout,
        c.wait,
        c.retransmit,
        c.farm_b_counter,
        c.report_value,
    )
}

#[test]
fn e1_in_sequence_with_buffer() {
    let mut f = open();
    assert_eq!(ad(&mut f, 10), FarmAction::AcceptData);
    assert_eq!(
        (f.state(), flags(&f)),
        (FarmState::Open, (false, false, false, 1, 11))
    );
    let mut f = lockout();
    assert_eq!(ad(&mut f, 10), FarmAction::Discard(DiscardReason::Lockout));
    assert_eq!((f.state(), f.vr()), (FarmState::Lockout, 10));
}

#[test]
fn e2_in_sequence_without_buffer() {
    let f = wait();
    assert_eq!(flags(&f), (false, true, true, 1, 10));
    let mut f = wait();
    assert_eq!(
        ad_no_buffer(&mut f, 10),
        FarmAction::Discard(DiscardReason::NoBuffer)
    );
    assert_eq!(f.state(), FarmState::Wait);
    let mut f = lockout();
    assert_eq!(
        ad_no_buffer(&mut f, 10),
        FarmAction::Discard(DiscardReason::Lockout)
    );
    assert_eq!((f.state(), flags(&f).1), (FarmState::Lockout, false));
}

#[test]
fn e3_positive_window_asks_retransmission_in_open_only() {
    let mut f = open();
    assert_eq!(ad(&mut f, 14), FarmAction::Discard(DiscardReason::Gap));
    assert_eq!(
        (f.state(), flags(&f)),
        (FarmState::Open, (false, false, true, 1, 10))
    );
    let mut f = wait();
    assert_eq!(ad(&mut f, 11), FarmAction::Discard(DiscardReason::Gap));
    assert_eq!(f.state(), FarmState::Wait);
    let mut f = lockout();
    assert_eq!(ad(&mut f, 11), FarmAction::Discard(DiscardReason::Gap));
    assert_eq!((f.state(), flags(&f).2), (FarmState::Lockout, false));
}

#[test]
fn e4_negative_window_is_a_duplicate() {
    for mut f in [open(), wait(), lockout()] {
        let before = (f.state(), flags(&f));
        assert_eq!(ad(&mut f, 5), FarmAction::Discard(DiscardReason::Duplicate));
        assert_eq!(ad(&mut f, 9), FarmAction::Discard(DiscardReason::Duplicate));
        assert_eq!((f.state(), flags(&f)), before);
    }
}

#[test]
fn e5_outside_the_window_locks_out_keeping_the_wait_flag() {
    let mut f = open();
    assert_eq!(
        ad(&mut f, 15),
        FarmAction::Discard(DiscardReason::OutsideWindow)
    );
    assert_eq!(
        (f.state(), flags(&f)),
        (FarmState::Lockout, (true, false, false, 1, 10))
    );
    let mut f = open();
    assert_eq!(
        ad(&mut f, 4),
        FarmAction::Discard(DiscardReason::OutsideWindow)
    );
    let mut f = wait();
    assert_eq!(
        ad(&mut f, 200),
        FarmAction::Discard(DiscardReason::OutsideWindow)
    );
    assert_eq!(
        (f.state(), flags(&f)),
        (FarmState::Lockout, (true, true, true, 1, 10))
    );
    let mut f = lockout();
    assert_eq!(
        ad(&mut f, 200),
        FarmAction::Discard(DiscardReason::OutsideWindow)
    );
    assert_eq!(f.state(), FarmState::Lockout);
}

#[test]
fn e6_type_bd_is_accepted_in_every_state() {
    for mut f in [open(), wait(), lockout()] {
        let state = f.state();
        let b = flags(&f).3;
        assert_eq!(bd(&mut f), FarmAction::AcceptData);
        assert_eq!((f.state(), flags(&f).3), (state, (b + 1) & 3));
    }
}

#[test]
fn e7_unlock_returns_every_state_to_open() {
    for mut f in [open(), wait(), lockout()] {
        assert_eq!(unlock(&mut f), FarmAction::AcceptControl);
        assert_eq!(
            (f.state(), flags(&f)),
            (FarmState::Open, (false, false, false, 2, 10))
        );
    }
}

#[test]
fn e8_set_vr_in_open_and_wait_not_in_lockout() {
    let mut f = open();
    assert_eq!(ad(&mut f, 12), FarmAction::Discard(DiscardReason::Gap));
    assert_eq!(set_vr(&mut f, 77), FarmAction::AcceptControl);
    assert_eq!(
        (f.state(), flags(&f)),
        (FarmState::Open, (false, false, false, 2, 77))
    );
    let mut f = wait();
    assert_eq!(set_vr(&mut f, 77), FarmAction::AcceptControl);
    assert_eq!(
        (f.state(), flags(&f)),
        (FarmState::Open, (false, false, false, 2, 77))
    );
    let mut f = lockout();
    assert_eq!(set_vr(&mut f, 77), FarmAction::AcceptControl);
    assert_eq!(
        (f.state(), flags(&f)),
        (FarmState::Lockout, (true, false, false, 2, 10))
    );
}

#[test]
fn e9_invalid_frames_change_nothing() {
    for mut f in [open(), wait(), lockout()] {
        let before = (f.state(), flags(&f));
        let bad = [&[0x01][..], &[0x82, 0x01, 5], &[0x82, 0x00], &[]];
        for data in bad {
            assert_eq!(
                f.frame(&frame(FrameType::Bc, 0, data), true),
                FarmAction::Discard(DiscardReason::Invalid)
            );
        }
        let other_vc = TcFrame {
            header: TcHeader {
                frame_type: FrameType::Ad,
                scid: 5,
                vcid: VC + 1,
                seq: 10,
            },
            segment: None,
            data: b"x",
        };
        assert_eq!(
            f.frame(&other_vc, true),
            FarmAction::Discard(DiscardReason::Invalid)
        );
        f.invalid();
        assert_eq!((f.state(), flags(&f)), before);
        assert_eq!(f.stats().invalid, 6);
    }
}

#[test]
fn e10_buffer_release() {
    let mut f = open();
    f.buffer_release();
    assert_eq!(f.state(), FarmState::Open);
    let mut f = wait();
    f.buffer_release();
    assert_eq!((f.state(), flags(&f).1), (FarmState::Open, false));
    // Retransmit stays on until the frame arrives again (E1 clears it).
    assert!(flags(&f).2);
    assert_eq!(ad(&mut f, 10), FarmAction::AcceptData);
    assert!(!flags(&f).2);
    // In Lockout reached from Wait, E10 clears the Wait flag but stays in Lockout.
    let mut f = wait();
    ad(&mut f, 200);
    f.buffer_release();
    assert_eq!(
        (f.state(), flags(&f).0, flags(&f).1),
        (FarmState::Lockout, true, false)
    );
}

#[test]
fn window_wraps_at_256_and_bad_widths_are_refused() {
    let mut f = Farm::new(VC, W).unwrap();
    set_vr(&mut f, 254);
    for ns in [254, 255, 0, 1] {
        assert_eq!(ad(&mut f, ns), FarmAction::AcceptData);
    }
    assert_eq!(
        ad(&mut f, 254),
        FarmAction::Discard(DiscardReason::Duplicate)
    );
    assert_eq!(ad(&mut f, 5), FarmAction::Discard(DiscardReason::Gap));
    for w in [0, 1, 3, 255] {
        assert!(Farm::new(0, w).is_err(), "W {w}");
    }
    assert!(Farm::new(64, 10).is_err());
}
