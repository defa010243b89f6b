//! Power cuts at every flash write and erase of a whole upgrade (the agent's header, chunks and
//! progress records on the slot flash; the trial request and the confirm with its counter on
//! the boot record flash), whole and torn (a prefix of the operation lands), with a second cut
//! during the recovery for a sample; and single bit flips in the progress record.
//!
//! After every power-on the board must boot a slot whose header and image verify, boot control
//! must be one legal outcome (old confirmed, new on trial, or new confirmed), and the security
//! counter must be raised exactly when the new image is confirmed. No state may need the ground:
//! each run ends confirmed with the ground doing nothing but send the messages the agent asks for.
//!
//! The whole campaign runs on three slot flash geometries, those of the boards' parts (the sim
//! board's 4-byte writes and 4 KiB sectors; the SPI NOR's 1-byte writes and 4 KiB sectors; the
//! I2C FRAM's 1-byte writes and 256-byte sectors), each with erased value `0xFF` and `0x00`.
//!
//! `cargo test` runs a sample: every 3rd operation on the sim board's own flash, every 12th on the
//! five others; `AGENT_SWEEP_STRIDE=N` runs every N-th on all six (`scripts/agent-power-sweep`).

mod common;

use board_sim::flash::PowerCut;
use common::*;
use hal::boot::{BootState, Slot};
use protocol::UpgradeState;
use sha2::{Digest, Sha256};
use upgrade::{Floor, Policy, Rule, Trust, Version};
use upgrade_partition::Health;

const HEALTHY: Health = Health {
    uptime_ms: 5_000,
    healthy_for_ms: 5_000,
    failed: None,
    safe_mode: false,
};

/// Every how many operations a cut is tried: `AGENT_SWEEP_STRIDE`, else `sample`.
fn stride(sample: u64) -> u64 {
    std::env::var("AGENT_SWEEP_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(sample)
}

struct Case {
    v1: Vec<u8>,
    v2: Vec<u8>,
}

fn case() -> Case {
    let old = image(24_000, 21);
    let mut new = old.clone();
    new[9_000] ^= 1; // chunk 2 differs: the rest is copied on board
    new[23_000] ^= 1; // and the last one
    Case {
        v1: bundle(&old, (1, 0, 0), 1),
        v2: bundle(&new, (2, 0, 0), 2),
    }
}

/// The booted slot verifies (header against the factory root, image against its manifest).
fn check_booted<F: SlotFlash>(board: &Board<F>, st: &BootState, c: &Case) {
    let root1 = upgrade::Header::parse(&c.v1).unwrap().roots()[0].body;
    let anchor: [u8; 32] = Sha256::digest(root1).into();
    let mut buf = vec![0u8; LAYOUT.slot_size as usize];
    board
        .slot_flash()
        .peek(u64::from(LAYOUT.slot_offset(st.booted)), &mut buf);
    let policy = Policy {
        trust: Trust::Anchor(&anchor),
        board: b"sim",
        hardware: b"sim-1",
        version: Floor {
            current: Version::new(0, 0, 0),
            rule: Rule::AtLeast,
        },
        security_counter: Floor {
            current: st.security_counter as u32,
            rule: Rule::AtLeast,
        },
        max_image_len: u64::from(LAYOUT.max_image_len()),
        now: None,
    };
    let v = upgrade::verify(&buf, &policy)
        .unwrap_or_else(|e| panic!("booted slot {:?} does not verify: {e}", st.booted));
    let at = LAYOUT.header_area as usize;
    let mut iv = v.manifest.image_verifier();
    iv.update(&buf[at..at + v.manifest.image_len as usize])
        .and_then(|()| iv.finish())
        .unwrap_or_else(|e| panic!("booted slot {:?}'s image: {e}", st.booted));
}

/// One legal outcome, and the counter raised exactly with the confirm of the new image.
fn check_legal(st: &BootState, what: &str) {
    match st.confirmed {
        Slot::A => assert_eq!(
            st.security_counter, 0,
            "{what}: counter without confirm {st:?}"
        ),
        Slot::B => assert_eq!(
            st.security_counter, 2,
            "{what}: confirmed without counter {st:?}"
        ),
    }
    if let Some(t) = st.trial {
        assert_eq!((t.slot, st.confirmed), (Slot::B, Slot::A), "{what}: {st:?}");
    }
}

/// Runs power cycles until the new image is confirmed; `cuts[i]` is armed in cycle `i` (slot
/// flash, boot flash). Returns whether an armed cut fired (an agent saw its flash fail).
fn run<F: SlotFlash>(c: &Case, cuts: &[(Option<PowerCut>, Option<PowerCut>)], what: &str) -> bool {
    let board = Board::<F>::new(&c.v1);
    let mut fired = false;
    for cycle in 0..12 {
        let st = board.power_on();
        check_legal(&st, what);
        check_booted(&board, &st, c);
        let (sc, bc) = cuts.get(cycle).copied().unwrap_or((None, None));
        let mut a = board.agent_with(sc, bc);
        settle(&mut a);
        if cuts.is_empty() {
            // Without a cut the progress record is never found lost: blank flash is recognised
            // as blank on this geometry's erased value.
            assert_eq!(a.status().last_refusal, None, "{what}: cycle {cycle}");
        }
        match a.status().state {
            UpgradeState::Confirmed if st.booted == Slot::B => {
                assert_eq!(a.status().slots[1].version, [2, 0, 0], "{what}");
                return fired || a.flash_errors() > 0;
            }
            UpgradeState::TrialBoot => {
                a.on_health(&HEALTHY);
            }
            _ => {
                let _ = uplink(&mut a, 5, &c.v2, 200);
            }
        }
        fired |= a.flash_errors() > 0;
        // The agent asked for a reboot, or the power was cut: the next cycle begins.
    }
    panic!("{what}: not confirmed after 12 power cycles");
}

/// Cut indices swept (a transfer cycle of this case has fewer mutating operations).
const MAX_OPS: u64 = 64;

fn cuts<F: SlotFlash>(sample: u64) {
    let c = case();
    assert!(!run::<F>(&c, &[], "clean"), "no flash error without a cut");
    let s = stride(sample);
    let (mut runs, mut fired) = (0usize, 0usize);
    let mut count = |f: bool| {
        runs += 1;
        fired += usize::from(f);
    };
    for k in (0..MAX_OPS).step_by(s as usize) {
        for landed in [0, 2, 64] {
            let cut = PowerCut { at_op: k, landed };
            // The slot flash in the transfer cycle, then in the trial cycle.
            let f = run::<F>(
                &c,
                &[(Some(cut), None)],
                &format!("slot op {k} landed {landed}"),
            );
            assert!(f || k >= 20, "a cut at slot op {k} did not fire");
            count(f);
            count(run::<F>(
                &c,
                &[(None, None), (Some(cut), None)],
                &format!("trial slot op {k}"),
            ));
            // The boot record: the trial request, then the confirm with its counter.
            if k < 8 {
                count(run::<F>(
                    &c,
                    &[(None, Some(cut))],
                    &format!("boot op {k} landed {landed}"),
                ));
                count(run::<F>(
                    &c,
                    &[(None, None), (None, Some(cut))],
                    &format!("confirm op {k} landed {landed}"),
                ));
            }
        }
    }
    println!(
        "{}: {runs} runs, {fired} with a cut that fired",
        std::any::type_name::<F>()
    );
}

fn second_cuts<F: SlotFlash>(sample: u64) {
    let c = case();
    let s = stride(sample) * 3;
    for k in (0..MAX_OPS).step_by(s as usize) {
        for j in [0u64, 1, 3, 7, 20] {
            let first = PowerCut {
                at_op: k,
                landed: 2,
            };
            let second = PowerCut {
                at_op: j,
                landed: 0,
            };
            run::<F>(
                &c,
                &[(Some(first), None), (Some(second), Some(second))],
                &format!("cut at {k}, again at {j}"),
            );
        }
    }
}

fn flips<F: SlotFlash>(sample: u64) {
    let c = case();
    let board = Board::<F>::new(&c.v1);
    let mut a = board.boot();
    let _ = uplink(&mut a, 5, &c.v2, 6); // part way: a record with chunks in place
    drop(a);
    let base = u64::from(LAYOUT.progress_offset());
    let record = 24 + 194 + 300; // header, fixed part and the root body, generously
    for copy in [0u64, u64::from(LAYOUT.progress_len / 2)] {
        for byte in (0..record).step_by(stride(sample) as usize) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("slot.flash");
            // A copy of the board's slot flash with one flipped bit.
            let mut bytes = vec![0u8; LAYOUT.flash_len() as usize];
            board.slot_flash().peek(0, &mut bytes);
            bytes[(base + copy + byte) as usize] ^= 1 << (byte % 8);
            std::fs::write(&path, &bytes).unwrap();
            let boot_path = dir.path().join("boot.flash");
            let mut boot = vec![0u8; board_sim::boot::BOOT_FLASH_SIZE];
            board_sim::boot::BootFlash::from_file(board.boot.try_clone().unwrap())
                .unwrap()
                .peek(0, &mut boot)
                .unwrap();
            std::fs::write(&boot_path, &boot).unwrap();
            let open = |p: &std::path::Path| {
                std::fs::File::options()
                    .read(true)
                    .write(true)
                    .open(p)
                    .unwrap()
            };
            let b2 = Board::<F> {
                slot: open(&path),
                boot: open(&boot_path),
                geometry: std::marker::PhantomData,
            };
            let mut a = b2.agent();
            settle(&mut a);
            let up = uplink(&mut a, 5, &c.v2, 400);
            assert_eq!(
                up.last.state,
                UpgradeState::Written,
                "flip in copy {copy} byte {byte}: {:?}",
                up.last
            );
        }
    }
}

/// The campaign's tests on one slot flash geometry, with the `cargo test` sample stride.
macro_rules! geometry {
    ($name:ident, $write:literal, $sector:literal, $erased:literal, $sample:literal) => {
        mod $name {
            type F = board_sim::flash::SimFlash<$write, $sector, $erased>;

            #[test]
            fn a_cut_at_any_write_or_erase_never_leaves_an_unbootable_or_illegal_state() {
                super::cuts::<F>($sample);
            }

            #[test]
            fn a_second_cut_during_the_recovery_is_survived_too() {
                super::second_cuts::<F>($sample);
            }

            #[test]
            fn a_bit_flip_anywhere_in_the_progress_record_is_survived() {
                super::flips::<F>($sample);
            }
        }
    };
}

// The sim board's flash (boards/sim): 4-byte writes, 4 KiB sectors.
geometry!(sim_erased_ff, 4, 4096, 0xFF, 3);
geometry!(sim_erased_00, 4, 4096, 0x00, 12);
// The SPI NOR (boards/spi-nor): 1-byte writes (256-byte pages), 4 KiB sectors.
geometry!(spi_nor_erased_ff, 1, 4096, 0xFF, 12);
geometry!(spi_nor_erased_00, 1, 4096, 0x00, 12);
// The I2C FRAM kept as NOR (boards/i2c-fram): 1-byte writes, 256-byte sectors.
geometry!(i2c_fram_erased_ff, 1, 256, 0xFF, 12);
geometry!(i2c_fram_erased_00, 1, 256, 0x00, 12);
