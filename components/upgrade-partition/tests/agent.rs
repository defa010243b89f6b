//! The agent on sim flash and the real boot record: transfers, adaptive copies, refusals,
//! resets mid-transfer, trial boots that confirm or roll back, damaged records and slots.

mod common;

use common::*;
use hal::boot::{BootControl, BootReason, Slot};
use protocol::{Refusal, UpgradeError, UpgradeState};
use upgrade_partition::Health;
use upgrade_partition::agent::Reboot;

const HEALTHY: Health = Health {
    uptime_ms: 5_000,
    healthy_for_ms: 5_000,
    failed: None,
    safe_mode: false,
};

fn v1_board(img: &[u8]) -> Board {
    Board::new(&bundle(img, (1, 0, 0), 1))
}

/// Transfers `b` completely and returns the agent after its trial request.
fn install(board: &Board, id: u64, b: &[u8]) -> (TestAgent, Uplink) {
    let mut a = board.boot();
    let up = uplink(&mut a, id, b, 10_000);
    assert_eq!(up.last.state, UpgradeState::Written, "{:?}", up.last);
    assert_eq!(a.take_reboot(), Some(Reboot::Trial));
    (a, up)
}

#[test]
fn the_same_image_as_version_2_is_copied_on_board_trial_booted_and_confirmed() {
    let img = image(40_000, 1);
    let board = v1_board(&img);
    let v2 = bundle(&img, (2, 0, 0), 2);
    let header = upgrade::header_len(&v2).unwrap();
    let (a, up) = install(&board, 7, &v2);
    let s = a.status();
    assert_eq!(s.bytes_copied, 40_000, "every chunk copied on board");
    // Only the header went up (plus the part of its last message that overlaps the image).
    assert!(
        up.bytes < (header + PIECE) as u64,
        "{} bytes uplinked",
        up.bytes
    );
    assert_eq!(s.slots[1].version, [2, 0, 0]);
    drop(a);

    // The trial boot: soaking, then confirmed with the manifest's counter.
    let mut a = board.boot();
    let st = board.state();
    assert_eq!((st.booted, st.reason), (Slot::B, BootReason::Trial));
    assert_eq!(a.status().state, UpgradeState::TrialBoot);
    assert!(!a.on_health(&Health {
        healthy_for_ms: 200,
        ..HEALTHY
    }));
    assert!(a.on_health(&HEALTHY));
    let st = board.state();
    assert_eq!(st.confirmed, Slot::B);
    assert_eq!(st.security_counter, 2, "counter raised with the confirm");
    assert_eq!(a.status().state, UpgradeState::Confirmed);
    drop(a);
    let a = board.boot();
    assert_eq!(a.status().state, UpgradeState::Confirmed);
    assert_eq!(a.status().security_counter, 2);
}

#[test]
fn only_changed_chunks_are_uplinked_and_a_reset_resumes_at_the_first_missing_chunk() {
    let old = image(40_000, 1);
    let mut new = old.clone();
    for at in [5_000, 21_000, 39_000] {
        new[at] ^= 0x55; // chunks 1, 5 and 9 differ
    }
    let board = v1_board(&old);
    let v2 = bundle(&new, (1, 1, 0), 1);
    let mut a = board.boot();
    // Header and the first changed chunk, then the partition is reset mid-transfer.
    let first = uplink(&mut a, 9, &v2, 8);
    assert_eq!(first.last.state, UpgradeState::Receiving);
    let before = a.status();
    drop(a);
    let mut a = board.agent();
    settle(&mut a);
    let resumed = a.status();
    assert_eq!(resumed.bundle_id, 9);
    assert_eq!(resumed.chunks_done, before.chunks_done, "{resumed:?}");
    assert!(resumed.chunks_done >= 7, "{resumed:?}");
    let rest = uplink(&mut a, 9, &v2, 10_000);
    assert_eq!(rest.last.state, UpgradeState::Written, "{:?}", rest.last);
    let s = a.status();
    assert_eq!(
        s.bytes_copied,
        40_000 - 2 * 4096 - 3_136,
        "chunks 1, 5, 9 uplinked"
    );
    let header = upgrade::header_len(&v2).unwrap() as u64;
    let sent = first.bytes + rest.bytes;
    assert!(
        sent < header + 3 * 4096 + 4 * PIECE as u64,
        "{sent} bytes uplinked for 3 changed chunks"
    );
}

#[test]
fn bundles_are_refused_before_any_image_byte_with_their_reason() {
    let img = image(20_000, 3);
    let board = v1_board(&img);
    let cases = [
        (bundle(&img, (1, 0, 0), 1), UpgradeError::Downgrade),
        (bundle(&img, (0, 9, 0), 1), UpgradeError::Downgrade),
        (bundle(&img, (2, 0, 0), 0), UpgradeError::CounterRollback),
        (bundle(&img, (99, 0, 0), 1), UpgradeError::StepTooLarge),
        (
            bundle_for(&img, (2, 0, 0), 1, b"sim-2"),
            UpgradeError::WrongTarget,
        ),
    ];
    let mut a = board.boot();
    for (i, (b, why)) in cases.iter().enumerate() {
        let up = uplink(&mut a, 100 + i as u64, b, 1000);
        assert_eq!(
            up.last.state,
            UpgradeState::Failed { reason: *why },
            "case {i}"
        );
        assert_eq!(a.status().last_refusal.map(|r| r.reason), Some(*why));
        let mut head = [0u8; 64];
        board
            .slot_flash()
            .peek(u64::from(LAYOUT.slot_offset(Slot::B)), &mut head)
            .unwrap();
        assert_eq!(head, [0xFF; 64], "case {i}: slot B untouched");
    }
    // A bundle signed by an unknown release key.
    let mut forged = bundle(&img, (2, 0, 0), 1);
    let h = upgrade::Header::parse(&forged).unwrap();
    let sig_end = h.len;
    forged[sig_end - 1] ^= 1; // last signature byte
    let up = uplink(&mut a, 200, &forged, 1000);
    assert_eq!(
        up.last.state,
        UpgradeState::Failed {
            reason: UpgradeError::BadSignature
        }
    );
    // The refusal survives a reset.
    drop(a);
    let a = board.agent();
    assert_eq!(
        a.status().last_refusal.map(|r| r.reason),
        Some(UpgradeError::BadSignature)
    );
}

#[test]
fn a_damaged_chunk_is_dropped_and_asked_for_again() {
    let old = image(20_000, 4);
    let new = image(20_000, 5);
    let board = v1_board(&old);
    let v2 = bundle(&new, (2, 0, 0), 1);
    let mut a = board.boot();
    let _ = uplink(&mut a, 1, &v2, 4); // header and a little image
    let need = a.status().next_chunk;
    let mut bad = piece(1, &v2, need).data.to_vec();
    bad[0] ^= 0xFF;
    let mut p = piece(1, &v2, need);
    p.data = &bad;
    // Feed the damaged message then the rest of its chunk: the chunk fails its hash.
    let mut s = a.on_piece(&p);
    let mut i = need + 1;
    while !matches!(s.state, UpgradeState::Failed { .. }) {
        s = a.on_piece(&piece(1, &v2, i));
        i += 1;
    }
    assert_eq!(
        s.state,
        UpgradeState::Failed {
            reason: UpgradeError::BadHash
        }
    );
    let chunk_start =
        upgrade::header_len(&v2).unwrap() as u32 + (s.last_refusal.unwrap().detail << CHUNK_LOG2);
    assert_eq!(
        s.next_chunk,
        chunk_start / PIECE as u32,
        "asked for again from the chunk's start: {s:?}"
    );
    let up = uplink(&mut a, 1, &v2, 10_000);
    assert_eq!(up.last.state, UpgradeState::Written);
}

#[test]
fn an_unhealthy_trial_is_cancelled_and_the_board_rolls_back_with_the_reason() {
    let img = image(20_000, 6);
    let board = v1_board(&img);
    let (a, _) = install(&board, 3, &bundle(&image(20_000, 7), (2, 0, 0), 3));
    drop(a);
    let mut a = board.boot();
    assert!(a.on_health(&Health {
        healthy_for_ms: 0,
        failed: Some(2),
        ..HEALTHY
    }));
    assert_eq!(a.take_reboot(), Some(Reboot::Rollback));
    drop(a);
    let a = board.boot();
    let st = board.state();
    assert_eq!((st.booted, st.confirmed), (Slot::A, Slot::A));
    assert_eq!(st.security_counter, 0, "no confirm, no counter");
    let s = a.status();
    assert_eq!(s.state, UpgradeState::RolledBack);
    assert_eq!(
        s.last_refusal,
        Some(Refusal {
            reason: UpgradeError::TrialUnhealthy,
            detail: 2
        })
    );
}

#[test]
fn a_trial_that_never_confirms_rolls_back_when_its_attempts_are_used_up() {
    let img = image(20_000, 8);
    let board = v1_board(&img);
    let (a, _) = install(&board, 4, &bundle(&image(20_000, 9), (2, 0, 0), 1));
    drop(a);
    // The trial image hangs or crashes: each power-on uses an attempt, nobody confirms.
    for _ in 0..CONFIG.trial_attempts {
        assert_eq!(board.power_on().booted, Slot::B);
    }
    let a = board.boot();
    assert_eq!(board.state().booted, Slot::A);
    let s = a.status();
    assert_eq!(s.state, UpgradeState::RolledBack);
    assert_eq!(
        s.last_refusal.map(|r| r.reason),
        Some(UpgradeError::TrialNotConfirmed)
    );
    // And the agent takes a new bundle afterwards.
    drop(a);
    let (_a, _) = install(&board, 5, &bundle(&image(20_000, 10), (2, 0, 1), 1));
}

#[test]
fn a_soak_that_never_ends_is_cancelled_at_the_deadline() {
    let board = v1_board(&image(20_000, 11));
    let (a, _) = install(&board, 6, &bundle(&image(20_000, 12), (2, 0, 0), 1));
    drop(a);
    let mut a = board.boot();
    assert!(!a.on_health(&Health {
        uptime_ms: 9_000,
        healthy_for_ms: 0,
        ..HEALTHY
    }));
    assert!(a.on_health(&Health {
        uptime_ms: 10_000,
        healthy_for_ms: 0,
        ..HEALTHY
    }));
    assert_eq!(a.take_reboot(), Some(Reboot::Rollback));
}

#[test]
fn a_lost_progress_record_is_reported_and_the_transfer_starts_again() {
    let board = v1_board(&image(20_000, 13));
    let v2 = bundle(&image(20_000, 14), (2, 0, 0), 1);
    let mut a = board.boot();
    let _ = uplink(&mut a, 8, &v2, 20);
    drop(a);
    // A bit flip in each copy of the record.
    let mut f = board.slot_flash();
    let base = u64::from(LAYOUT.progress_offset());
    f.flip_bit(base + 40, 3).unwrap();
    f.flip_bit(base + u64::from(LAYOUT.progress_len / 2) + 40, 3)
        .unwrap();
    drop(f);
    let mut a = board.agent();
    let s = a.status();
    assert_eq!(s.state, UpgradeState::Idle);
    assert_eq!(
        s.last_refusal.map(|r| r.reason),
        Some(UpgradeError::ProgressLost)
    );
    let up = uplink(&mut a, 8, &v2, 10_000);
    assert_eq!(up.last.state, UpgradeState::Written);
    // The next start does not report the loss again.
    drop(a);
    let a = board.agent();
    assert_eq!(a.status().state, UpgradeState::Written);
}

#[test]
fn a_chunk_damaged_on_flash_before_the_final_check_is_asked_for_again() {
    let board = v1_board(&image(20_000, 15));
    let v2 = bundle(&image(20_000, 16), (2, 0, 0), 1);
    let mut a = board.boot();
    // Everything but the last message.
    let count = v2.len().div_ceil(PIECE) as u32;
    let mut i = 0;
    while i + 1 < count {
        let s = a.on_piece(&piece(2, &v2, i));
        settle(&mut a);
        i = s.next_chunk.max(i + 1);
    }
    drop(a);
    // Radiation hits chunk 1 in slot B, then the partition restarts and the transfer ends.
    let mut f = board.slot_flash();
    f.flip_bit(u64::from(LAYOUT.image_offset(Slot::B)) + 4096 + 10, 0)
        .unwrap();
    drop(f);
    let mut a = board.agent();
    settle(&mut a);
    let up = uplink(&mut a, 2, &v2, 10_000);
    assert_eq!(up.last.state, UpgradeState::Written, "{:?}", up.last);
    assert!(
        up.messages > 4,
        "chunk 1 went up again ({} messages)",
        up.messages
    );
}

#[test]
fn a_late_message_of_a_finished_transfer_is_ignored_not_refused() {
    let board = v1_board(&image(20_000, 17));
    let v2 = bundle(&image(20_000, 18), (2, 0, 0), 1);
    let (mut a, _) = install(&board, 11, &v2);
    let s = a.on_piece(&piece(11, &v2, 3));
    assert_eq!(s.state, UpgradeState::Written, "{s:?}");
    drop(a);
    let mut a = board.boot();
    let s = a.on_piece(&piece(11, &v2, 3));
    assert_eq!(s.state, UpgradeState::TrialBoot, "{s:?}");
    let other = bundle(&image(20_000, 19), (3, 0, 0), 1);
    let s = a.on_piece(&piece(12, &other, 0));
    assert_eq!(
        s.state,
        UpgradeState::Failed {
            reason: UpgradeError::Busy
        },
        "another bundle on trial"
    );
    assert_eq!(
        s.last_refusal, None,
        "a busy message is not the bundle's refusal"
    );
    assert!(a.on_health(&HEALTHY));
    let s = a.on_piece(&piece(11, &v2, 3));
    assert_eq!(s.state, UpgradeState::Confirmed, "{s:?}");
}

#[test]
fn after_a_refused_trial_boot_control_names_the_confirmed_slot_as_running() {
    let board = v1_board(&image(20_000, 23));
    // A trial of slot B selected, refused by the boot stage (slot B did not verify), which
    // records its fallback to slot A before slot A's image runs.
    board.boot_control().request_trial(Slot::B, 2).unwrap();
    let st = board.power_on_refusing_selected();
    assert_eq!(
        (st.booted, st.confirmed, st.reason, st.trial),
        (Slot::A, Slot::A, BootReason::RolledBack, None)
    );
    let mut a = board.agent();
    let s = a.status();
    assert_eq!(
        (s.active_slot, s.confirmed_slot),
        (protocol::Slot::A, protocol::Slot::A)
    );
    assert_eq!(
        s.slots[0].version,
        [1, 0, 0],
        "the anchor is slot A's header"
    );
    let up = uplink(
        &mut a,
        13,
        &bundle(&image(20_000, 24), (2, 0, 0), 1),
        10_000,
    );
    assert_eq!(up.last.state, UpgradeState::Written, "{:?}", up.last);
}

#[test]
fn after_a_refused_confirmed_slot_the_other_one_runs_and_the_upgrade_goes_over_the_damaged_one() {
    let board = v1_board(&image(20_000, 25));
    // Slot B holds an older signed image; slot A (confirmed) is refused at power-on.
    write_slot(
        &mut board.slot_flash(),
        Slot::B,
        &bundle(&image(20_000, 26), (0, 9, 0), 1),
    );
    let st = board.power_on_refusing_selected();
    assert_eq!(
        (st.booted, st.confirmed, st.reason, st.trial),
        (Slot::B, Slot::B, BootReason::Fallback, None)
    );
    let mut a = board.agent();
    let s = a.status();
    assert_eq!(
        (s.active_slot, s.confirmed_slot, s.slots[1].version),
        (protocol::Slot::B, protocol::Slot::B, [0, 9, 0])
    );
    // The next release is written into slot A (the damaged one), never over the running image.
    let up = uplink(
        &mut a,
        14,
        &bundle(&image(20_000, 27), (1, 1, 0), 1),
        10_000,
    );
    assert_eq!(up.last.state, UpgradeState::Written, "{:?}", up.last);
    assert_eq!(a.take_reboot(), Some(Reboot::Trial));
    let st = board.state();
    assert_eq!(
        st.trial.map(|t| t.slot),
        Some(Slot::A),
        "the trial is of slot A"
    );
    drop(a);
    assert_eq!(board.power_on().booted, Slot::A);
}
