//! Reboot persistence of the anti-replay state on the sim flash, with a power cut swept over
//! every flash write and erase of a scenario (and several landed lengths for each): after the
//! reboot no uplink unit accepted before the cut is accepted again, no downlink ARSN is reused,
//! and the ground gets back in by continuing above the reported floor.

mod common;

use board_sim::flash::{PowerCut, SimFlash};
use common::*;
use comms::sdls::{FlashPersist, SecurityEngine, StatePersist, UplinkReject, state::TAG};
use store::StoreLayout;

type Flash = SimFlash<4, 4096>;
const BLOCK: u64 = 3;
const PKT: &[u8] = b"\x18\x01\xc0\x00\x00\x00x";

fn layout() -> StoreLayout {
    StoreLayout::new(0, 4096, TAG)
}

struct Run {
    accepted: Vec<Vec<u8>>,
    sent: Vec<u64>,
    flash: Flash,
}

/// Boot on `flash`, then interleave 10 uplink units (ARSN 1..=10) and 6 downlink units,
/// stopping at the first flash failure (the power is gone).
fn scenario(flash: Flash, cut: Option<PowerCut>) -> Run {
    let mut persist = FlashPersist::mount(flash, layout()).unwrap();
    if let Some(c) = cut {
        persist.flash_mut().cut_power(c);
    }
    let mut engine = SecurityEngine::boot(&provisioning(), &mut persist, BLOCK).unwrap();
    let mut accepted = Vec::new();
    let mut sent = Vec::new();
    let mut out = [0u8; 64];
    'run: for arsn in 1..=10u64 {
        let u = uplink(OPS, arsn, PKT);
        match engine.process(&u, &mut persist) {
            Ok(_) => accepted.push(u),
            Err(UplinkReject::PersistFailed { .. }) => break 'run,
            Err(e) => panic!("unexpected refusal {e:?}"),
        }
        if arsn % 2 == 0 {
            match engine.protect(OPS, PKT, &mut out, &mut persist) {
                Ok(_) => sent.push(u64::from_be_bytes(out[2..10].try_into().unwrap())),
                Err(_) => break 'run,
            }
        }
    }
    Run {
        accepted,
        sent,
        flash: persist.into_flash(),
    }
}

fn check_after_reboot(mut run: Run, what: &str) {
    run.flash.power_cycle();
    let mut persist = FlashPersist::mount(run.flash, layout()).unwrap();
    let mut engine = SecurityEngine::boot(&provisioning(), &mut persist, BLOCK)
        .unwrap_or_else(|e| panic!("{what}: boot failed: {e:?}"));
    for u in &run.accepted {
        let r = engine.process(u, &mut persist);
        assert!(
            matches!(r, Err(UplinkReject::Replay { .. })),
            "{what}: a unit accepted before the cut was not refused: {r:?}"
        );
    }
    let floor = engine.status(OPS).unwrap().rx_last;
    let top = run.accepted.len() as u64;
    assert!(floor >= top, "{what}: floor {floor} below accepted {top}");
    // The reservation for the unit that was being accepted may have landed: at most
    // one unit plus one block ahead.
    assert!(
        floor <= top + 1 + BLOCK,
        "{what}: floor {floor} more than a block ahead"
    );
    let next = uplink(OPS, floor + 1, PKT);
    engine
        .process(&next, &mut persist)
        .unwrap_or_else(|e| panic!("{what}: the ground cannot resume: {e:?}"));
    let mut out = [0u8; 64];
    engine.protect(OPS, PKT, &mut out, &mut persist).unwrap();
    let t = u64::from_be_bytes(out[2..10].try_into().unwrap());
    assert!(
        run.sent.iter().all(|&s| s < t),
        "{what}: downlink ARSN {t} reused (sent before: {:?})",
        run.sent
    );
}

#[test]
fn a_power_cut_at_every_flash_operation_never_reaccepts_an_old_sequence_number() {
    let clean = scenario(Flash::anonymous(4 * 4096).unwrap(), None);
    assert_eq!(clean.accepted.len(), 10);
    assert_eq!(clean.sent.len(), 5);
    let total_ops = clean.flash.ops();
    assert!(
        total_ops >= 16,
        "scenario wrote too little to be a sweep: {total_ops}"
    );
    check_after_reboot(clean, "no cut");
    let mut cases = 0;
    for at_op in 0..total_ops {
        for landed in [0usize, 1, 4, 100, 2048, usize::MAX] {
            let run = scenario(
                Flash::anonymous(4 * 4096).unwrap(),
                Some(PowerCut { at_op, landed }),
            );
            check_after_reboot(run, &format!("cut at op {at_op}, {landed} bytes landed"));
            cases += 1;
        }
    }
    assert_eq!(cases as u64, total_ops * 6);
}

#[test]
fn a_bit_flip_in_one_copy_does_not_roll_the_floor_back() {
    let mut run = scenario(Flash::anonymous(4 * 4096).unwrap(), None);
    // Flip a payload bit in copy A; mirrored writes keep copy B identical.
    run.flash.flip_bit(40, 3).unwrap();
    check_after_reboot(run, "bit flip in copy A");
}

#[test]
fn a_lost_record_fails_closed() {
    let mut run = scenario(Flash::anonymous(4 * 4096).unwrap(), None);
    run.flash.flip_bit(40, 3).unwrap();
    run.flash.flip_bit(4096 + 40, 3).unwrap();
    run.flash.power_cycle();
    let mut persist = FlashPersist::mount(run.flash, layout()).unwrap();
    assert!(persist.load().is_err());
    assert!(SecurityEngine::boot(&provisioning(), &mut persist, BLOCK).is_err());
}

/// The record written by a link recovery (`SecurityEngine::restore`, comms' recovery-only mode)
/// over a lost one, with a power cut swept over each of its flash operations, whole and torn:
/// after the reboot the record is either still unreadable (lost or blank: comms starts in
/// recovery-only mode again) or exactly the recovered floors, never a record with other floors.
#[test]
fn a_power_cut_at_every_write_of_a_recovered_record_leaves_it_lost_or_recovered() {
    let lost = || {
        let mut run = scenario(Flash::anonymous(4 * 4096).unwrap(), None);
        run.flash.flip_bit(40, 3).unwrap();
        run.flash.flip_bit(4096 + 40, 3).unwrap();
        run.flash.power_cycle();
        run.flash
    };
    let floors = |spi: u16| {
        Some(comms::sdls::SaState {
            spi,
            epoch: 0,
            rx_reserved: 500 + u64::from(spi),
            tx_reserved: 900,
        })
    };
    let recover = |flash: Flash, cut: Option<PowerCut>| {
        let mut persist = FlashPersist::mount(flash, layout()).unwrap();
        assert!(persist.load().is_err(), "the record starts lost");
        // A cut counts operations since the power cycle: mounting wrote none.
        let before = persist.flash_mut().ops();
        assert_eq!(before, 0);
        if let Some(c) = cut {
            persist.flash_mut().cut_power(c);
        }
        let mut engine = SecurityEngine::boot_lost(&provisioning(), BLOCK).unwrap();
        let r = engine.restore(floors, &mut persist);
        let mut flash = persist.into_flash();
        let used = flash.ops() - before;
        flash.power_cycle();
        (r, flash, used)
    };
    let (r, flash, total_ops) = recover(lost(), None);
    assert_eq!(r, Ok(()));
    assert!(total_ops >= 2, "a mirrored write: {total_ops} operations");
    let check = |flash: Flash, what: &str| {
        let mut persist = FlashPersist::mount(flash, layout()).unwrap();
        match persist.load() {
            Err(_) | Ok(comms::sdls::Loaded::Fresh) => false,
            Ok(comms::sdls::Loaded::Record(r)) => {
                for spi in [OPS, PING_ONLY] {
                    assert_eq!(r.get(spi), floors(spi), "{what}: SA {spi}");
                }
                true
            }
        }
    };
    assert!(check(flash, "no cut"));
    let (mut recovered, mut still_lost) = (0, 0);
    for at_op in 0..total_ops {
        for landed in [0usize, 1, 4, 100, 2048, usize::MAX] {
            let what = format!("cut at op {at_op} of the recovery, {landed} bytes landed");
            let (_, flash, _) = recover(lost(), Some(PowerCut { at_op, landed }));
            if check(flash, &what) {
                recovered += 1;
            } else {
                still_lost += 1;
            }
        }
    }
    // Both outcomes occur: the sweep reaches before and after the commit point.
    assert!(
        recovered > 0 && still_lost > 0,
        "{recovered} recovered, {still_lost} lost"
    );
}
