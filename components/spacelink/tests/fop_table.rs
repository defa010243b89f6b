//! FOP-1 against the state table of CCSDS 232.1 §5 (Table 5-2): each CLCW event (E1-E14,
//! E101-E103) and timer event (E16-E18, E104) in the states where the table gives it an
//! effect, and the directives (E19-E39) in and out of S6.

use spacelink::clcw::Clcw;
use spacelink::fop::{Alert, Directive, Fop, FopReject, FopState, Output, TimeoutType};

const VC: u8 = 2;
type F = Fop<8, 16>;

fn clcw(nr: u8, lockout: bool, wait: bool, retransmit: bool) -> Clcw {
    Clcw {
        status: 0,
        vcid: VC,
        no_rf_available: false,
        no_bit_lock: false,
        lockout,
        wait,
        retransmit,
        farm_b_counter: 0,
        report_value: nr,
    }
}

fn ok(nr: u8) -> Clcw {
    clcw(nr, false, false, false)
}

/// S1 with V(S) = NN(R) = `vs`, limit 3, TT 0.
fn active(vs: u8) -> F {
    let mut f = F::new(VC, 4, 3, TimeoutType::Alert).unwrap();
    f.set_vs(vs).unwrap();
    f.initiate_without_clcw_check().unwrap();
    assert_eq!(f.state(), FopState::Active);
    f
}

/// Sends `n` new frames; returns their N(S).
fn send(f: &mut F, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| {
            f.transfer_ad(&[i as u8]).unwrap();
            match f.next_output() {
                Some(Output::Ad { ns, .. }) => ns,
                other => panic!("expected an AD frame, got {other:?}"),
            }
        })
        .collect()
}

/// S1 with V(S) = 13, NN(R) = 10 (three outstanding).
fn three_out() -> F {
    let mut f = active(10);
    assert_eq!(send(&mut f, 3), [10, 11, 12]);
    assert_eq!(f.outstanding(), 3);
    f
}

/// S2: three out, FARM asked for retransmission (E10).
fn retransmitting() -> F {
    let mut f = three_out();
    f.clcw(&clcw(10, false, false, true)).unwrap();
    assert_eq!(
        (f.last_event(), f.state()),
        (10, FopState::RetransmitWithoutWait)
    );
    f
}

/// S3: three out, retransmission asked for with Wait (E11).
fn waiting() -> F {
    let mut f = three_out();
    f.clcw(&clcw(10, false, true, true)).unwrap();
    assert_eq!(
        (f.last_event(), f.state()),
        (11, FopState::RetransmitWithWait)
    );
    f
}

fn alerted(f: &F, alert: Alert) {
    assert_eq!(f.state(), FopState::Initial);
    assert_eq!(f.alert(), Some(alert));
    assert_eq!(f.outstanding(), 0, "sent queue purged");
    assert!(!f.waiting(), "wait queue purged");
    assert_eq!(f.timer(), None);
}

#[test]
fn e1_e2_acknowledgement_of_everything() {
    let mut f = three_out();
    assert_eq!(f.clcw(&ok(13)), Ok(3));
    assert_eq!(
        (f.last_event(), f.state(), f.timer()),
        (2, FopState::Active, None)
    );
    assert_eq!(f.clcw(&ok(13)), Ok(0));
    assert_eq!((f.last_event(), f.state()), (1, FopState::Active));
    // E5 in S2: the FARM acknowledges nothing new yet no longer asks for retransmission.
    let mut f = retransmitting();
    f.clcw(&ok(10)).unwrap();
    assert_eq!(f.last_event(), 5);
    alerted(&f, Alert::Synch);
    // E2 in S2 and S3: everything acknowledged, back to S1.
    for mut f in [retransmitting(), waiting()] {
        assert_eq!(f.clcw(&ok(13)), Ok(3));
        assert_eq!((f.last_event(), f.state()), (2, FopState::Active));
    }
}

#[test]
fn e3_e4_flags_inconsistent_with_nothing_outstanding() {
    let mut f = three_out();
    f.clcw(&clcw(13, false, true, false)).unwrap();
    assert_eq!(f.last_event(), 3);
    alerted(&f, Alert::Clcw);
    let mut f = three_out();
    f.clcw(&clcw(13, false, false, true)).unwrap();
    assert_eq!(f.last_event(), 4);
    alerted(&f, Alert::Synch);
}

#[test]
fn e5_e6_e7_partial_acknowledgement() {
    let mut f = three_out();
    assert_eq!(f.clcw(&ok(10)), Ok(0));
    assert_eq!((f.last_event(), f.state()), (5, FopState::Active));
    assert_eq!(f.clcw(&ok(12)), Ok(2));
    assert_eq!(
        (f.last_event(), f.state(), f.nnr()),
        (6, FopState::Active, 12)
    );
    assert!(
        f.timer().is_some(),
        "one frame still out: the timer keeps running"
    );
    let mut f = waiting();
    f.clcw(&ok(10)).unwrap();
    assert_eq!(f.last_event(), 5);
    alerted(&f, Alert::Synch);
    let mut f = three_out();
    f.clcw(&clcw(11, false, true, false)).unwrap();
    assert_eq!(f.last_event(), 7);
    alerted(&f, Alert::Clcw);
}

#[test]
fn e8_e9_new_acknowledgement_with_retransmit() {
    let mut f = three_out();
    assert_eq!(f.clcw(&clcw(11, false, false, true)), Ok(1));
    assert_eq!(
        (f.last_event(), f.state()),
        (8, FopState::RetransmitWithoutWait)
    );
    assert_eq!(
        f.transmission_count(),
        2,
        "reset to 1 by the ack, then one retransmission"
    );
    // The two unacknowledged frames go out again, in order, then nothing.
    let again: Vec<u8> = std::iter::from_fn(|| match f.next_output() {
        Some(Output::Ad { ns, .. }) => Some(ns),
        _ => None,
    })
    .collect();
    assert_eq!(again, [11, 12]);
    let mut f = three_out();
    assert_eq!(f.clcw(&clcw(12, false, true, true)), Ok(2));
    assert_eq!(
        (f.last_event(), f.state()),
        (9, FopState::RetransmitWithWait)
    );
    assert_eq!(f.next_output(), None, "nothing is sent in S3");
}

#[test]
fn e10_e11_e12_e103_retransmit_without_new_acknowledgement() {
    // E10 in S2 is ignored (already retransmitting); in S3 it restarts retransmission.
    let mut f = retransmitting();
    f.clcw(&clcw(10, false, false, true)).unwrap();
    assert_eq!((f.last_event(), f.transmission_count()), (10, 2));
    let mut f = waiting();
    f.clcw(&clcw(10, false, false, true)).unwrap();
    assert_eq!(
        (f.last_event(), f.state()),
        (10, FopState::RetransmitWithoutWait)
    );
    // E11 in S2 goes to S3.
    let mut f = retransmitting();
    f.clcw(&clcw(10, false, true, true)).unwrap();
    assert_eq!(
        (f.last_event(), f.state()),
        (11, FopState::RetransmitWithWait)
    );
    // Count at the limit (3): E12 without Wait to S2 (no new round), E103 with Wait to S3.
    let mut f = retransmitting();
    f.timer_expired(f.timer().unwrap());
    assert_eq!((f.last_event(), f.transmission_count()), (16, 3));
    f.clcw(&clcw(10, false, false, true)).unwrap();
    assert_eq!(
        (f.last_event(), f.state()),
        (12, FopState::RetransmitWithoutWait)
    );
    f.clcw(&clcw(10, false, true, true)).unwrap();
    assert_eq!(
        (f.last_event(), f.state()),
        (103, FopState::RetransmitWithWait)
    );
    f.clcw(&clcw(10, false, false, true)).unwrap();
    assert_eq!(
        (f.last_event(), f.state()),
        (12, FopState::RetransmitWithoutWait)
    );
}

#[test]
fn e101_e102_transmission_limit_one() {
    let mut f = three_out();
    f.set_transmission_limit(1).unwrap();
    assert_eq!(f.clcw(&clcw(11, false, false, true)), Ok(1));
    assert_eq!(f.last_event(), 101);
    alerted(&f, Alert::Limit);
    let mut f = three_out();
    f.set_transmission_limit(1).unwrap();
    f.clcw(&clcw(10, false, false, true)).unwrap();
    assert_eq!(f.last_event(), 102);
    alerted(&f, Alert::Limit);
}

#[test]
fn e13_e14_invalid_n_r_and_lockout() {
    for nr in [9, 14, 200] {
        let mut f = three_out();
        f.clcw(&ok(nr)).unwrap();
        assert_eq!(f.last_event(), 13, "N(R) {nr} outside 10..=13");
        alerted(&f, Alert::NnR);
    }
    let mut f = waiting();
    f.clcw(&clcw(10, true, false, false)).unwrap();
    assert_eq!(f.last_event(), 14);
    alerted(&f, Alert::Lockout);
    // A CLCW of another virtual channel is not this FOP's.
    let mut f = three_out();
    let other = Clcw { vcid: 5, ..ok(13) };
    assert!(f.clcw(&other).is_err());
    assert_eq!(f.outstanding(), 3);
}

#[test]
fn s6_ignores_every_clcw() {
    let mut f = F::new(VC, 4, 3, TimeoutType::Alert).unwrap();
    for c in [
        ok(0),
        ok(5),
        clcw(0, true, true, true),
        clcw(3, false, true, false),
    ] {
        assert_eq!(f.clcw(&c), Ok(0));
        assert_eq!((f.state(), f.alert()), (FopState::Initial, None));
    }
}

#[test]
fn e16_e17_timer_with_timeout_type_alert() {
    let mut f = three_out();
    let epoch = f.timer().unwrap();
    f.timer_expired(epoch.wrapping_sub(1));
    assert_eq!(f.timer(), Some(epoch), "a stale epoch is ignored");
    f.timer_expired(epoch);
    assert_eq!(
        (f.last_event(), f.state(), f.transmission_count()),
        (16, FopState::Active, 2)
    );
    let mut resent = Vec::new();
    while let Some(Output::Ad { ns, .. }) = f.next_output() {
        resent.push(ns);
    }
    assert_eq!(resent, [10, 11, 12]);
    f.timer_expired(f.timer().unwrap());
    assert_eq!(f.transmission_count(), 3);
    while f.next_output().is_some() {}
    f.timer_expired(f.timer().unwrap());
    assert_eq!(f.last_event(), 17);
    alerted(&f, Alert::T1);
    // In S3 the timer is ignored while below the limit.
    let mut f = waiting();
    f.timer_expired(f.timer().unwrap());
    assert_eq!(
        (f.last_event(), f.state()),
        (16, FopState::RetransmitWithWait)
    );
}

#[test]
fn e104_e18_timer_with_timeout_type_suspend_then_resume() {
    let mut f = three_out();
    f.set_timeout_type(TimeoutType::Suspend);
    f.timer_expired(f.timer().unwrap());
    assert_eq!(f.last_event(), 104);
    while f.next_output().is_some() {}
    f.timer_expired(f.timer().unwrap());
    while f.next_output().is_some() {}
    f.timer_expired(f.timer().unwrap());
    assert_eq!(f.last_event(), 18);
    assert_eq!(
        (f.state(), f.suspend_state(), f.alert()),
        (FopState::Initial, 1, None)
    );
    assert_eq!(f.outstanding(), 3, "suspension keeps the queues");
    assert_eq!(
        f.set_vs(0),
        Err(FopReject::NotInitial),
        "no Set V(S) while suspended"
    );
    f.resume().unwrap();
    assert_eq!(
        (f.last_event(), f.state(), f.suspend_state()),
        (31, FopState::Active, 0)
    );
    assert!(f.timer().is_some());
    assert_eq!(f.resume(), Err(FopReject::NotSuspended));
    assert_eq!(f.last_event(), 30);
}

#[test]
fn s4_initialising_with_clcw_check() {
    let mut f = F::new(VC, 4, 3, TimeoutType::Alert).unwrap();
    f.set_vs(40).unwrap();
    f.initiate_with_clcw_check().unwrap();
    assert_eq!(
        (f.last_event(), f.state()),
        (24, FopState::InitialisingWithoutBc)
    );
    assert_eq!(f.transfer_ad(b"x"), Err(FopReject::NotRunning));
    assert_eq!(f.next_output(), None);
    f.clcw(&ok(40)).unwrap();
    assert_eq!(
        (f.last_event(), f.state(), f.timer()),
        (1, FopState::Active, None)
    );
    // A CLCW with another N(R) is E13 in S4; the timer alone is an alert (TT 0) or a
    // suspension in S4 (TT 1).
    let mut f = F::new(VC, 4, 3, TimeoutType::Alert).unwrap();
    f.initiate_with_clcw_check().unwrap();
    f.clcw(&ok(7)).unwrap();
    assert_eq!(f.last_event(), 13);
    alerted(&f, Alert::NnR);
    let mut f = F::new(VC, 4, 3, TimeoutType::Suspend).unwrap();
    f.initiate_with_clcw_check().unwrap();
    f.timer_expired(f.timer().unwrap());
    assert_eq!(
        (f.last_event(), f.state(), f.suspend_state()),
        (104, FopState::Initial, 4)
    );
    f.resume().unwrap();
    assert_eq!(
        (f.last_event(), f.state()),
        (34, FopState::InitialisingWithoutBc)
    );
}

#[test]
fn s5_unlock_and_set_vr_with_bc_retransmission() {
    let mut f = F::new(VC, 4, 2, TimeoutType::Alert).unwrap();
    f.initiate_with_set_vr(77).unwrap();
    assert_eq!(
        (f.last_event(), f.state(), f.vs(), f.nnr()),
        (27, FopState::InitialisingWithBc, 77, 77)
    );
    assert_eq!(f.next_output(), Some(Output::Bc(Directive::SetVr(77))));
    assert_eq!(
        f.next_output(),
        None,
        "sent once until the timer says otherwise"
    );
    // Lockout and an N(R) not yet V(S) are ignored in S5 (the directive is on its way).
    f.clcw(&clcw(3, true, false, false)).unwrap();
    f.clcw(&ok(3)).unwrap();
    assert_eq!(f.state(), FopState::InitialisingWithBc);
    f.timer_expired(f.timer().unwrap());
    assert_eq!(f.next_output(), Some(Output::Bc(Directive::SetVr(77))));
    f.clcw(&ok(77)).unwrap();
    assert_eq!(
        (f.last_event(), f.state(), f.timer()),
        (1, FopState::Active, None)
    );
    // Unlock whose effect never shows: T1 at the limit.
    let mut f = F::new(VC, 4, 2, TimeoutType::Suspend).unwrap();
    f.initiate_with_unlock().unwrap();
    assert_eq!(f.next_output(), Some(Output::Bc(Directive::Unlock)));
    f.timer_expired(f.timer().unwrap());
    assert_eq!(f.next_output(), Some(Output::Bc(Directive::Unlock)));
    f.timer_expired(f.timer().unwrap());
    assert_eq!(f.last_event(), 18);
    alerted(&f, Alert::T1);
}

#[test]
fn directives_outside_s6_are_rejected_and_bd_goes_out_in_any_state() {
    let mut f = three_out();
    assert_eq!(f.initiate_without_clcw_check(), Err(FopReject::NotInitial));
    assert_eq!(f.initiate_with_unlock(), Err(FopReject::NotInitial));
    assert_eq!(f.set_vs(3), Err(FopReject::NotInitial));
    assert_eq!(f.outstanding(), 3, "a rejected directive changes nothing");
    f.transfer_ad(b"a").unwrap();
    assert_eq!(f.transfer_ad(b"b"), Err(FopReject::WaitQueueFull));
    assert_eq!(f.last_event(), 20);
    f.transfer_bd(b"bd").unwrap();
    assert_eq!(f.transfer_bd(b"bd2"), Err(FopReject::OutNotReady));
    assert_eq!(f.next_output(), Some(Output::Bd(b"bd")));
    // The window (4) allows one more AD frame.
    assert_eq!(f.next_output(), Some(Output::Ad { ns: 13, data: b"a" }));
    f.transfer_ad(b"c").unwrap();
    assert_eq!(f.next_output(), None, "window full");
    f.terminate();
    assert_eq!(f.last_event(), 29);
    alerted(&f, Alert::Term);
    f.transfer_bd(b"in S6").unwrap();
    assert_eq!(f.next_output(), Some(Output::Bd(b"in S6")));
    assert_eq!(f.transfer_ad(&[0; 17]), Err(FopReject::Length(17)));
    assert!(f.set_window(0).is_err() && f.set_window(9).is_err());
    assert!(f.set_transmission_limit(0).is_err());
}

#[test]
fn lower_layer_failure_is_an_alert() {
    let mut f = three_out();
    f.lower_layer_failed();
    alerted(&f, Alert::Llif);
}
