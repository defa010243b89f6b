//! Boot control on the sim flash: the trial/confirm/rollback model, refusals, and a power cut
//! at every write and erase of a full upgrade scenario.

use board_sim::boot::{
    BOOT_FLASH_SIZE, BOOT_LAYOUT, BootFlash, open_for_bootloader, open_from_file,
};
use board_sim::flash::{PowerCut, SimFlashError};
use hal::boot::{BootControl, BootControlError, BootReason, BootState, Slot, Trial};
use store::boot::BOOT_RECORD_LEN;
use store::{FlashBootControl, RecordStore, StoreError};

type Bc<'a> = FlashBootControl<&'a mut BootFlash>;

#[derive(Debug, Clone, Copy)]
enum Step {
    /// Power-on: open (as the bootloader) and select the slot.
    Boot,
    Request(Slot, u8),
    /// Confirm the running trial with this security counter.
    Confirm(u64),
    Cancel,
    /// The bootloader counts a clean reboot the software asked for.
    CleanReboot,
}

fn scenario() -> Vec<(Step, Option<(Slot, BootReason)>)> {
    use BootReason::*;
    use Slot::*;
    vec![
        (Step::Boot, Some((A, Normal))),
        (Step::Request(B, 2), None),
        (Step::CleanReboot, None),
        (Step::Boot, Some((B, Trial))),
        (Step::Boot, Some((B, Trial))), // crashed without confirming
        (Step::Boot, Some((A, RolledBack))),
        (Step::Request(B, 3), None),
        (Step::CleanReboot, None),
        (Step::Boot, Some((B, Trial))),
        (Step::Confirm(7), None),
        (Step::Boot, Some((B, Normal))),
        (Step::Request(A, 1), None),
        (Step::Boot, Some((A, Trial))),
        (Step::Cancel, None),
        (Step::CleanReboot, None),
        (Step::Boot, Some((B, Normal))),
        // A confirm at the same security counter keeps the count of requested reboots.
        (Step::Request(A, 1), None),
        (Step::CleanReboot, None),
        (Step::Boot, Some((A, Trial))),
        (Step::Confirm(7), None),
        (Step::Boot, Some((A, Normal))),
    ]
}

type StepErr = BootControlError<StoreError<SimFlashError>>;

/// Run one step. `bc` is the boot control of the current power cycle (re-opened by `Boot`).
fn run_step<'a>(
    flash: &'a mut BootFlash,
    step: Step,
    state: &mut BootState,
) -> Result<Option<Slot>, StepErr> {
    let mut bc: Bc<'a> = match FlashBootControl::open_or_recover(flash, BOOT_LAYOUT) {
        Ok(bc) => bc,
        Err(e) => panic!("open failed: {e:?}"),
    };
    let r = match step {
        Step::Boot => bc.select_boot().map(Some),
        Step::Request(s, n) => bc.request_trial(s, n).map(|_| None),
        Step::Confirm(c) => bc.confirm(c).map(|_| None),
        Step::Cancel => bc.cancel_trial().map(|_| None),
        Step::CleanReboot => bc.count_clean_reboot().map(|_| None),
    };
    *state = bc.state();
    r
}

#[test]
fn the_upgrade_scenario_boots_tries_rolls_back_and_confirms() {
    let mut flash = BootFlash::anonymous(BOOT_FLASH_SIZE).expect("flash");
    let mut state = BootState::FACTORY;
    for (i, (step, want)) in scenario().into_iter().enumerate() {
        let booted = run_step(&mut flash, step, &mut state).expect("step");
        if let Some((slot, reason)) = want {
            assert_eq!(booted, Some(slot), "step {i}");
            assert_eq!((state.booted, state.reason), (slot, reason), "step {i}");
        }
    }
    assert_eq!(state.confirmed, Slot::A);
    assert_eq!(state.trial, None);
    assert_eq!(state.boot_count, 10);
    assert_eq!(state.security_counter, 7, "raised by the first confirm");
    assert_eq!(
        state.clean_reboots, 2,
        "two counted, cleared by the confirm that raised the counter, two more kept by the one that did not"
    );
}

#[test]
fn clean_reboots_are_counted_until_a_confirm_raises_the_counter_and_saturate() {
    let mut flash = BootFlash::anonymous(BOOT_FLASH_SIZE).expect("flash");
    let mut bc = FlashBootControl::open(&mut flash, BOOT_LAYOUT).expect("open");
    for n in 1..=300u32 {
        let got = bc.count_clean_reboot().expect("count");
        assert_eq!(u32::from(got), n.min(255));
    }
    let _ = bc.into_inner();
    let mut bc = FlashBootControl::open_or_recover(&mut flash, BOOT_LAYOUT).expect("reopen");
    assert_eq!(bc.state().clean_reboots, 255, "persisted");
    bc.request_trial(Slot::B, 1).expect("request");
    bc.select_boot().expect("trial boot");
    bc.cancel_trial().expect("a cancel is no confirm");
    assert_eq!(bc.state().clean_reboots, 255);
    let _ = bc.into_inner();
    let mut bc = FlashBootControl::open_or_recover(&mut flash, BOOT_LAYOUT).expect("reopen");
    bc.select_boot().expect("boot");
    bc.request_trial(Slot::B, 1).expect("request");
    let _ = bc.into_inner();
    // Trial -> confirm -> trial between the two slots at the same security counter (what a
    // compromised agent could repeat): the count is kept.
    for slot in [Slot::B, Slot::A, Slot::B] {
        let mut bc = FlashBootControl::open_or_recover(&mut flash, BOOT_LAYOUT).expect("reopen");
        bc.select_boot().expect("trial boot");
        assert_eq!(bc.state().booted, slot);
        bc.confirm(0).expect("confirm");
        assert_eq!(
            bc.state().clean_reboots,
            255,
            "a confirm at the same counter does not start over"
        );
        bc.request_trial(slot.other(), 1).expect("request");
        let _ = bc.into_inner();
    }
    let mut bc = FlashBootControl::open_or_recover(&mut flash, BOOT_LAYOUT).expect("reopen");
    bc.select_boot().expect("trial boot");
    bc.confirm(1).expect("confirm");
    assert_eq!(
        bc.state().clean_reboots,
        0,
        "a confirm that raises the counter starts over"
    );
    let _ = bc.into_inner();
    let bc = FlashBootControl::open_or_recover(&mut flash, BOOT_LAYOUT).expect("reopen");
    assert_eq!(
        (bc.state().clean_reboots, bc.state().security_counter),
        (0, 1)
    );
}

#[test]
fn the_security_counter_rises_only_with_a_confirm_and_never_falls() {
    let mut flash = BootFlash::anonymous(BOOT_FLASH_SIZE).expect("flash");
    let mut st = BootState::FACTORY;
    run_step(&mut flash, Step::Request(Slot::B, 2), &mut st).expect("request");
    run_step(&mut flash, Step::Boot, &mut st).expect("trial boot");
    assert_eq!(st.security_counter, 0, "a trial does not raise it");
    run_step(&mut flash, Step::Confirm(9), &mut st).expect("confirm");
    assert_eq!((st.confirmed, st.security_counter), (Slot::B, 9));
    run_step(&mut flash, Step::Boot, &mut st).expect("boot");
    run_step(&mut flash, Step::Request(Slot::A, 1), &mut st).expect("request");
    run_step(&mut flash, Step::Boot, &mut st).expect("trial boot");
    run_step(&mut flash, Step::Confirm(3), &mut st).expect("confirm a lower counter");
    assert_eq!(
        (st.confirmed, st.security_counter),
        (Slot::A, 9),
        "never lowered"
    );
    assert!(matches!(
        run_step(&mut flash, Step::Confirm(12), &mut st),
        Err(BootControlError::NotInTrial)
    ));
    assert_eq!(st.security_counter, 9, "a refused confirm raises nothing");
}

#[test]
fn attempts_are_counted_before_the_trial_image_runs() {
    let mut flash = BootFlash::anonymous(BOOT_FLASH_SIZE).expect("flash");
    let mut st = BootState::FACTORY;
    run_step(&mut flash, Step::Request(Slot::B, 3), &mut st).expect("request");
    for left in [2u8, 1, 0] {
        assert_eq!(
            run_step(&mut flash, Step::Boot, &mut st).expect("boot"),
            Some(Slot::B)
        );
        assert_eq!(
            st.trial,
            Some(Trial {
                slot: Slot::B,
                attempts_left: left
            })
        );
        assert!(st.trial_running());
    }
    assert_eq!(
        run_step(&mut flash, Step::Boot, &mut st).expect("boot"),
        Some(Slot::A)
    );
    assert_eq!(
        (st.reason, st.trial, st.confirmed),
        (BootReason::RolledBack, None, Slot::A)
    );
}

#[test]
fn refusals_are_typed_and_change_nothing() {
    let mut flash = BootFlash::anonymous(BOOT_FLASH_SIZE).expect("flash");
    let mut bc = FlashBootControl::open(&mut flash, BOOT_LAYOUT).expect("open");
    assert_eq!(bc.state(), BootState::FACTORY);
    assert!(matches!(
        bc.request_trial(Slot::A, 1),
        Err(BootControlError::SlotIsConfirmed(Slot::A))
    ));
    assert!(matches!(
        bc.request_trial(Slot::B, 0),
        Err(BootControlError::InvalidAttempts(0))
    ));
    assert!(matches!(
        bc.request_trial(Slot::B, 17),
        Err(BootControlError::InvalidAttempts(17))
    ));
    assert!(matches!(bc.confirm(1), Err(BootControlError::NotInTrial)));
    bc.cancel_trial().expect("cancel without trial is a no-op");
    assert!(matches!(bc.select_boot(), Ok(Slot::A)));
    assert!(matches!(
        bc.select_boot(),
        Err(BootControlError::AlreadySelected)
    ));
    bc.request_trial(Slot::B, 1).expect("request");
    assert!(
        matches!(bc.confirm(1), Err(BootControlError::NotInTrial)),
        "pending, not running"
    );
    let _ = bc.into_inner();
    let mut bc = FlashBootControl::open(&mut flash, BOOT_LAYOUT).expect("reopen");
    assert!(matches!(bc.select_boot(), Ok(Slot::B)));
    assert!(matches!(
        bc.request_trial(Slot::A, 1),
        Err(BootControlError::SlotIsConfirmed(Slot::A))
    ));
    // While B runs on trial, the confirmed slot is still A; asking for a trial of B again is
    // refused because B is running on trial already.
    assert!(matches!(
        bc.request_trial(Slot::B, 1),
        Err(BootControlError::TrialRunning)
    ));
    let before = bc.state();
    let _ = bc.into_inner();
    let bc = FlashBootControl::open(&mut flash, BOOT_LAYOUT).expect("reopen");
    assert_eq!(bc.state(), before);
}

#[test]
fn power_cut_at_every_write_and_erase_leaves_the_state_before_or_after_each_step() {
    // Reference run: state after each step, and flash operations per step.
    let steps = scenario();
    let mut flash = BootFlash::anonymous(BOOT_FLASH_SIZE).expect("flash");
    let mut states = vec![BootState::FACTORY];
    let mut op_end = vec![];
    let mut st = BootState::FACTORY;
    for (step, _) in &steps {
        run_step(&mut flash, *step, &mut st).expect("reference step");
        states.push(st);
        op_end.push(flash.ops());
    }
    let total = *op_end.last().expect("steps");
    let mut saw_after = 0;
    let mut cases = 0;
    for at in 0..total {
        for landed in [0usize, 8, 20, 64, 4096] {
            let mut flash = BootFlash::anonymous(BOOT_FLASH_SIZE).expect("flash");
            flash.cut_power(PowerCut { at_op: at, landed });
            let mut st = BootState::FACTORY;
            let mut cut_step = None;
            for (j, (step, _)) in steps.iter().enumerate() {
                match run_step(&mut flash, *step, &mut st) {
                    Ok(_) if !flash.powered() => {
                        // The cut hit the mirror copy: the first copy had committed, so the call
                        // reports success, and the board is dead from here on.
                        assert_eq!(st, states[j + 1], "step {j} committed before the cut");
                        cut_step = Some(j);
                        break;
                    }
                    Ok(_) => assert_eq!(st, states[j + 1], "step {j} before the cut"),
                    Err(BootControlError::Storage(StoreError::Flash(SimFlashError::PowerLost))) => {
                        // A failed call changes nothing in memory.
                        assert_eq!(st, states[j], "in-memory state after the failed step {j}");
                        cut_step = Some(j);
                        break;
                    }
                    Err(e) => panic!("step {j}: {e:?}"),
                }
            }
            let j = cut_step.expect("the cut fired");
            assert!(at < op_end[j] && (j == 0 || at >= op_end[j - 1]));
            flash.power_cycle();
            let bc =
                FlashBootControl::open(&mut flash, BOOT_LAYOUT).expect("state readable after cut");
            let got = bc.state();
            assert!(
                got == states[j] || got == states[j + 1],
                "cut at {at}/{landed} in step {j}: {got:?}"
            );
            if got == states[j + 1] {
                saw_after += 1;
            }
            let _ = bc.into_inner();
            // And the board boots on.
            let mut bc = FlashBootControl::open_or_recover(&mut flash, BOOT_LAYOUT).expect("open");
            bc.select_boot().expect("boot after the cut");
            cases += 1;
        }
    }
    assert!(cases > 100, "{cases}");
    assert!(saw_after > 0 && saw_after < cases, "{saw_after} of {cases}");
}

#[test]
fn a_flip_in_one_copy_loses_nothing_and_a_lost_state_recovers_to_slot_a() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("boot.flash");
    {
        let mut bc = open_for_bootloader(&path).expect("create");
        assert!(matches!(bc.select_boot(), Ok(Slot::A)));
        bc.request_trial(Slot::B, 2).expect("request");
    }
    let want = {
        let mut f = BootFlash::open(&path).expect("open");
        f.flip_bit(13, 2).expect("flip in copy A");
        let bc = FlashBootControl::open(&mut f, BOOT_LAYOUT).expect("open");
        bc.state()
    };
    assert_eq!(
        want.trial,
        Some(Trial {
            slot: Slot::B,
            attempts_left: 2
        })
    );
    // The upgrade agent's view through a granted descriptor.
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .open(&path)
        .expect("file");
    assert_eq!(open_from_file(file).expect("agent open").state(), want);
    // Both copies hit: the agent is told, the bootloader recovers to the factory state.
    {
        let mut f = BootFlash::open(&path).expect("open");
        f.flip_bit(4096 + 13, 2).expect("flip in copy B");
    }
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .open(&path)
        .expect("file");
    assert!(open_from_file(file).is_err());
    let mut bc = open_for_bootloader(&path).expect("bootloader open");
    assert!(matches!(bc.select_boot(), Ok(Slot::A)));
    assert_eq!(bc.state().reason, BootReason::Recovered);
    let _ = bc.into_inner();
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .open(&path)
        .expect("file");
    let st = open_from_file(file).expect("agent open").state();
    assert_eq!(
        (st.confirmed, st.reason, st.trial),
        (Slot::A, BootReason::Recovered, None)
    );
}

#[test]
fn a_version_1_record_reads_as_security_counter_0_and_is_rewritten_as_version_3() {
    let mut flash = BootFlash::anonymous(BOOT_FLASH_SIZE).expect("flash");
    // Written by a build from before security counters: B confirmed and booted, 5 boots.
    let v1 = [1u8, 1, 1, 0, 0xFF, 0, 0, 0, 5, 0, 0, 0];
    let mut store = RecordStore::mount(&mut flash, BOOT_LAYOUT).expect("mount");
    store.write_mirrored(&mut flash, &v1).expect("write v1");
    let mut bc = FlashBootControl::open(&mut flash, BOOT_LAYOUT).expect("open v1");
    let want = BootState {
        confirmed: Slot::B,
        booted: Slot::B,
        reason: BootReason::Normal,
        trial: None,
        boot_count: 5,
        security_counter: 0,
        clean_reboots: 0,
    };
    assert_eq!(bc.state(), want);
    bc.select_boot().expect("boot");
    let _ = bc.into_inner();
    let mut store = RecordStore::mount(&mut flash, BOOT_LAYOUT).expect("mount");
    let mut buf = [0u8; BOOT_RECORD_LEN];
    assert_eq!(
        store.read(&mut flash, &mut buf).expect("read"),
        Some(BOOT_RECORD_LEN)
    );
    assert_eq!(buf[0], 3, "rewritten as version 3");
}

#[test]
fn a_refused_slot_is_recorded_as_the_fallback_before_its_image_runs() {
    let mut flash = BootFlash::anonymous(BOOT_FLASH_SIZE).expect("flash");
    let mut bc = FlashBootControl::open(&mut flash, BOOT_LAYOUT).expect("open");
    assert!(matches!(
        bc.record_fallback(Slot::B),
        Err(BootControlError::NotSelected)
    ));
    bc.request_trial(Slot::B, 2).expect("request");
    let _ = bc.into_inner();
    // The trial slot is selected and refused: the confirmed slot boots, the trial is dropped.
    let mut bc = FlashBootControl::open_or_recover(&mut flash, BOOT_LAYOUT).expect("open");
    assert_eq!(bc.select_boot().expect("select"), Slot::B);
    bc.record_fallback(Slot::A).expect("fallback");
    let after_trial = bc.state();
    assert_eq!(
        (
            after_trial.booted,
            after_trial.confirmed,
            after_trial.reason
        ),
        (Slot::A, Slot::A, BootReason::RolledBack)
    );
    assert_eq!((after_trial.trial, after_trial.boot_count), (None, 1));
    let _ = bc.into_inner();
    let ops = flash.ops();
    let mut bc = FlashBootControl::open_or_recover(&mut flash, BOOT_LAYOUT).expect("open");
    assert_eq!(bc.state(), after_trial, "persisted");
    // The confirmed slot is selected and refused: the other one boots and becomes confirmed.
    assert_eq!(bc.select_boot().expect("select"), Slot::A);
    bc.record_fallback(Slot::B).expect("fallback");
    let st = bc.state();
    assert_eq!(
        (st.booted, st.confirmed, st.reason, st.trial),
        (Slot::B, Slot::B, BootReason::Fallback, None)
    );
    let _ = bc.into_inner();
    assert!(flash.ops() > ops);
    // The fallback is one mirrored record write after the select: a power cut at any of its
    // operations (whole or torn) leaves the state as selected (the next power-on selects,
    // refuses and falls back again) or as fallen back, never anything else.
    let power_on = |fallback: bool| {
        let mut flash = BootFlash::anonymous(BOOT_FLASH_SIZE).expect("flash");
        let mut bc = FlashBootControl::open_or_recover(&mut flash, BOOT_LAYOUT).expect("open");
        bc.select_boot().expect("select");
        if fallback {
            bc.record_fallback(Slot::B).expect("fallback");
        }
        let st = bc.state();
        let _ = bc.into_inner();
        (st, flash.ops())
    };
    let ((selected, start), (fallen_back, end)) = (power_on(false), power_on(true));
    assert!(end > start);
    let mut saw = [0usize; 2];
    for at in start..end {
        for landed in [0usize, 8, 20, 64] {
            let mut flash = BootFlash::anonymous(BOOT_FLASH_SIZE).expect("flash");
            flash.cut_power(PowerCut { at_op: at, landed });
            let mut bc = FlashBootControl::open_or_recover(&mut flash, BOOT_LAYOUT).expect("open");
            bc.select_boot().expect("the select lands before the cut");
            let _ = bc.record_fallback(Slot::B);
            let _ = bc.into_inner();
            assert!(!flash.powered(), "the cut at {at} fired");
            flash.power_cycle();
            let got = FlashBootControl::open(&mut flash, BOOT_LAYOUT)
                .expect("readable after the cut")
                .state();
            assert!(
                got == selected || got == fallen_back,
                "cut at {at}/{landed}: {got:?}"
            );
            saw[usize::from(got == fallen_back)] += 1;
        }
    }
    assert!(saw[0] > 0 && saw[1] > 0, "{saw:?}");
}
