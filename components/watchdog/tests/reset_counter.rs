//! The reset counter on the sim flash: counting, safe mode past the cap, clearing, a lost
//! record, and a power cut at every flash operation of every update, which never loses or
//! invents a reset.

use board_sim::flash::{PowerCut, SimFlash};
use protocol::{ComponentId, Escalation, FaultKind, NodeMode};
use store::StoreLayout;
use watchdog::reset_counter::{Found, RESET_COUNTER_TAG};
use watchdog::{BootInfo, ResetCounter, ResetCounterError, ResetRecord};

type Flash = SimFlash<4, 4096>;
const CAP: usize = 4 * 4096;
const LAYOUT: StoreLayout = StoreLayout::new(4096, 4096, RESET_COUNTER_TAG);
const MAX_RESETS: u32 = 3;

fn esc(c: u8) -> Escalation {
    Escalation {
        component: ComponentId(c),
        fault: FaultKind::MissedPings,
    }
}

fn reopen(flash: &mut Flash) -> ResetCounter {
    flash.power_cycle();
    ResetCounter::open(flash, LAYOUT).expect("open")
}

#[test]
fn resets_past_the_cap_boot_safe_mode_until_it_is_left() {
    let mut flash = Flash::anonymous(CAP).unwrap();
    let mut rc = ResetCounter::open(&mut flash, LAYOUT).unwrap();
    assert_eq!(rc.found(), Found::Nothing);
    let mut modes = Vec::new();
    for _ in 0..6 {
        let boot = rc.boot(&mut flash, MAX_RESETS, false).unwrap();
        modes.push((boot.mode, boot.resets));
        rc.record_escalation(&mut flash, esc(2)).unwrap();
        rc = reopen(&mut flash);
    }
    use NodeMode::*;
    assert_eq!(
        modes,
        [
            (Normal, 0),
            (Normal, 1),
            (Normal, 2),
            (Normal, 3),
            (Safe, 4),
            (Safe, 5)
        ]
    );
    let boot = rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    assert_eq!(boot.last_escalation, Some(esc(2)));
    // Safe mode is not cleared by a healthy period...
    assert!(matches!(
        rc.mark_healthy(&mut flash),
        Err(ResetCounterError::SafeMode)
    ));
    // ...only by leaving it (the ground's command or decay), which also marks the reboot
    // that follows as clean.
    rc.leave_safe_mode(&mut flash).unwrap();
    let mut rc = reopen(&mut flash);
    let boot = rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    assert_eq!((boot.mode, boot.resets), (Normal, 0));
    assert_eq!(rc.counted(), Some(false));
    assert_eq!(rc.record().total_boots, 8);
    assert_eq!(rc.record().escalations, 6);
}

/// Issue 13 finding 3: four ordinary stop/starts within ten minutes put the node in safe mode.
/// A clean power-off (operator stop, commanded reboot) and a reset during a trial boot are not
/// faults; every other reset still counts, and the mark is used once.
#[test]
fn clean_power_offs_and_trial_boots_do_not_count_but_fault_resets_still_do() {
    let mut flash = Flash::anonymous(CAP).unwrap();
    let mut rc = ResetCounter::open(&mut flash, LAYOUT).unwrap();
    rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    for _ in 0..10 {
        rc.mark_clean_power_off(&mut flash).unwrap();
        rc = reopen(&mut flash);
        let boot = rc.boot(&mut flash, MAX_RESETS, false).unwrap();
        assert_eq!((boot.mode, boot.resets), (NodeMode::Normal, 0));
        assert_eq!(rc.counted(), Some(false));
        assert!(!rc.record().clean_power_off, "the mark is used once");
    }
    // Resets while a trial runs are boot control's to count.
    for _ in 0..10 {
        rc = reopen(&mut flash);
        let boot = rc.boot(&mut flash, MAX_RESETS, true).unwrap();
        assert_eq!((boot.mode, boot.resets), (NodeMode::Normal, 0));
    }
    // Fault resets (no mark) still count, and reach safe mode past the cap.
    let mut modes = Vec::new();
    for _ in 0..4 {
        rc = reopen(&mut flash);
        let boot = rc.boot(&mut flash, MAX_RESETS, false).unwrap();
        assert_eq!(rc.counted(), Some(true));
        modes.push((boot.mode, boot.resets));
    }
    use NodeMode::*;
    assert_eq!(modes, [(Normal, 1), (Normal, 2), (Normal, 3), (Safe, 4)]);
    // A clean stop in safe mode does not count either, and does not leave safe mode.
    rc.mark_clean_power_off(&mut flash).unwrap();
    rc = reopen(&mut flash);
    let boot = rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    assert_eq!((boot.mode, boot.resets), (Safe, 4));
    assert_eq!(rc.record().total_boots, 26);
    // A lost record is never taken as cleanly powered off.
    rc.mark_clean_power_off(&mut flash).unwrap();
    flash.flip_bit(4096 + 30, 1).unwrap();
    flash.flip_bit(8192 + 30, 1).unwrap();
    let mut rc = reopen(&mut flash);
    assert_eq!(rc.found(), Found::Lost);
    rc.mark_clean_power_off(&mut flash).unwrap();
    let boot = rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    assert_eq!(rc.counted(), Some(true));
    assert_eq!((boot.mode, boot.resets), (Normal, 3));
}

#[test]
fn a_healthy_period_clears_the_count_in_normal_mode() {
    let mut flash = Flash::anonymous(CAP).unwrap();
    let mut rc = ResetCounter::open(&mut flash, LAYOUT).unwrap();
    for _ in 0..3 {
        rc.boot(&mut flash, MAX_RESETS, false).unwrap();
        rc = reopen(&mut flash);
    }
    let boot = rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    assert_eq!((boot.mode, boot.resets), (NodeMode::Normal, 3));
    rc.mark_healthy(&mut flash).unwrap();
    let mut rc = reopen(&mut flash);
    assert_eq!(rc.record().boots_since_healthy, 1);
    let boot = rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    assert_eq!((boot.mode, boot.resets), (NodeMode::Normal, 1));
}

#[test]
fn a_lost_record_is_taken_as_at_the_cap() {
    let mut flash = Flash::anonymous(CAP).unwrap();
    let mut rc = ResetCounter::open(&mut flash, LAYOUT).unwrap();
    rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    // Radiation hits both copies (write_mirrored keeps two).
    flash.flip_bit(4096 + 30, 1).unwrap();
    flash.flip_bit(8192 + 30, 1).unwrap();
    let mut rc = reopen(&mut flash);
    assert_eq!(rc.found(), Found::Lost);
    let boot = rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    assert_eq!((boot.mode, boot.resets), (NodeMode::Normal, 3));
    let mut rc = reopen(&mut flash);
    let boot = rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    assert_eq!(
        boot.mode,
        NodeMode::Safe,
        "one more reset without a healthy period"
    );
}

#[test]
fn one_flipped_copy_loses_nothing() {
    let mut flash = Flash::anonymous(CAP).unwrap();
    let mut rc = ResetCounter::open(&mut flash, LAYOUT).unwrap();
    rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    flash.flip_bit(4096 + 25, 0).unwrap();
    let rc = reopen(&mut flash);
    assert_eq!(rc.found(), Found::Record);
    assert_eq!(rc.record().boots_since_healthy, 2);
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Boot,
    Escalate(u8),
    Healthy,
    Clear,
    CleanOff,
    TrialBoot,
}

fn apply(rc: &mut ResetCounter, flash: &mut Flash, op: Op) -> Result<(), String> {
    match op {
        Op::Boot => rc.boot(flash, MAX_RESETS, false).map(|_| ()),
        Op::Escalate(c) => rc.record_escalation(flash, esc(c)),
        Op::Healthy => rc.mark_healthy(flash),
        Op::Clear => rc.leave_safe_mode(flash),
        Op::CleanOff => rc.mark_clean_power_off(flash),
        Op::TrialBoot => rc.boot(flash, MAX_RESETS, true).map(|_| ()),
    }
    .map_err(|e| format!("{e:?}"))
}

/// Every flash operation of every update, cut with a few landing sizes: after the reboot the
/// record is exactly the one before the cut update or the one after it.
#[test]
fn a_power_cut_at_every_flash_operation_never_loses_or_invents_a_reset() {
    let script = [
        Op::Boot,
        Op::Escalate(2),
        Op::Boot,
        Op::Boot,
        Op::Healthy,
        Op::Boot,
        Op::Escalate(0),
        Op::Boot,
        Op::Clear,
        Op::Boot,
        Op::CleanOff,
        Op::Boot,
        Op::TrialBoot,
    ];
    // Records after each step, without cuts.
    let mut flash = Flash::anonymous(CAP).unwrap();
    let mut rc = ResetCounter::open(&mut flash, LAYOUT).unwrap();
    let mut records = vec![rc.record()];
    let mut ops_after = vec![0u64];
    for op in script {
        apply(&mut rc, &mut flash, op).unwrap();
        records.push(rc.record());
        ops_after.push(flash.ops());
    }
    let total_ops = *ops_after.last().unwrap();
    // Mirrored writes: erase + one write of 40 bytes, twice per update.
    assert_eq!(total_ops, 4 * script.len() as u64);

    let mut cases = 0;
    for at in 0..total_ops {
        for landed in [0usize, 1, 4, 20, 39, 40, 4096] {
            let mut flash = Flash::anonymous(CAP).unwrap();
            let mut rc = ResetCounter::open(&mut flash, LAYOUT).unwrap();
            flash.cut_power(PowerCut { at_op: at, landed });
            let step = ops_after.iter().position(|&n| n > at).unwrap() - 1;
            for op in &script[..=step] {
                if apply(&mut rc, &mut flash, *op).is_err() {
                    break;
                }
            }
            let rc = reopen(&mut flash);
            let got = rc.record();
            let (old, new) = (records[step], records[step + 1]);
            assert!(
                got == old || got == new,
                "cut at op {at} landing {landed}: {got:?} is neither {old:?} nor {new:?}"
            );
            assert_ne!(rc.found(), Found::Lost);
            cases += 1;
        }
    }
    assert_eq!(cases, 4 * script.len() * 7);
}

#[test]
fn a_cut_first_write_is_a_first_boot() {
    let mut flash = Flash::anonymous(CAP).unwrap();
    let mut rc = ResetCounter::open(&mut flash, LAYOUT).unwrap();
    flash.cut_power(PowerCut {
        at_op: 1,
        landed: 8,
    });
    assert!(rc.boot(&mut flash, MAX_RESETS, false).is_err());
    let mut rc = reopen(&mut flash);
    assert_eq!(rc.found(), Found::Nothing);
    assert_eq!(rc.record(), ResetRecord::default());
    let boot = rc.boot(&mut flash, MAX_RESETS, false).unwrap();
    assert_eq!(boot, BootInfo::FIRST);
}
