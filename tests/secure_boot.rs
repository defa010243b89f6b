//! The sim board's secure boot stage, as `spacenode run` runs it: only images that verify against
//! the root of trust in OTP run, a trial image is counted and rolled back by boot control with no
//! help from the image, a slot that fails verification falls back or stops the board, and the
//! security counter floor refuses an older image. Real processes, the real slot flash; the
//! operator's keys and bundles come from the `upgrade` crate's builder. Waits are bounded.

mod common;
// The sim board's chunk size rule (the bundles here are signed with keys of their own).
#[path = "../src/boot/sim_release.rs"]
#[allow(dead_code)]
mod sim;

use board_sim::boot::BootFlash as SimFlash;
use board_sim::boot::{SIM_SLOT_LAYOUT, open_for_bootloader};
use common::one_board;
use hal::boot::{BootControl, Slot};
use hal::flash::NorFlash;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use upgrade::builder::{ManifestSpec, RootSpec, SecretKey, SignedDoc, assemble};
use upgrade::{Algorithm, Version};

/// An operator's root and release key (1 of 1 each), root version 1 signed.
struct Keys {
    root: SignedDoc,
    release: SecretKey,
}

fn keys() -> Keys {
    let root_key = SecretKey::generate(Algorithm::Ed25519).expect("key");
    let release = SecretKey::generate(Algorithm::Ed25519).expect("key");
    let spec = RootSpec {
        version: 1,
        root_threshold: 1,
        root_keys: vec![root_key.public()],
        release_threshold: 1,
        release_keys: vec![release.public()],
    };
    let mut root = SignedDoc::new(spec.body().expect("root"));
    root.sign(&root_key);
    Keys { root, release }
}

fn bundle(k: &Keys, image: &[u8], version: Version, counter: u32) -> Vec<u8> {
    let spec = ManifestSpec {
        board: b"sim".to_vec(),
        hardware: b"sim-1".to_vec(),
        version,
        security_counter: counter,
        expires: u64::MAX,
        chunk_log2: sim::SIM_CHUNK_LOG2,
    };
    let mut m = SignedDoc::new(spec.body(image).expect("manifest"));
    m.sign(&k.release);
    assemble(std::slice::from_ref(&k.root), &m, image).expect("bundle")
}

fn exe() -> Vec<u8> {
    std::fs::read(env!("CARGO_BIN_EXE_spacenode")).expect("spacenode executable")
}

/// Writes `bundle` into `slot` of the board's slot flash, as the upgrade agent would.
fn write_slot(state: &Path, slot: Slot, bundle: &[u8]) {
    let mut flash = SimFlash::open(&state.join("slot-flash.flash")).expect("slot flash");
    let l = SIM_SLOT_LAYOUT;
    let header_len = upgrade::header_len(bundle).expect("header");
    let start = l.slot_offset(slot);
    let end = (l.image_offset(slot) as usize + bundle.len() - header_len).next_multiple_of(4096);
    flash.erase(start, end as u32).expect("erase");
    let mut header = bundle[..header_len].to_vec();
    header.resize(header_len.next_multiple_of(4), 0xFF);
    flash.write(start, &header).expect("write header");
    let mut image = bundle[header_len..].to_vec();
    image.resize(image.len().next_multiple_of(4), 0xFF);
    flash
        .write(l.image_offset(slot), &image)
        .expect("write image");
}

/// Flips one bit of `slot`'s image, as radiation would.
fn flip_image_bit(state: &Path, slot: Slot) {
    let mut flash = SimFlash::open(&state.join("slot-flash.flash")).expect("slot flash");
    flash
        .flip_bit(u64::from(SIM_SLOT_LAYOUT.image_offset(slot)) + 100_000, 3)
        .expect("flip");
}

/// What `spacenode run` printed until `until` appeared (then SIGTERM) or it exited by itself.
struct Run {
    log: Vec<String>,
    exited: Option<std::process::ExitStatus>,
    stderr: String,
}

fn run_until(state: &Path, extra: &[&str], until: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(["run", "--radio-uplink", "127.0.0.1:0", "--ground"])
        .arg(common::free_addr().to_string())
        .arg("--state")
        .arg(state)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spacenode run");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut log = Vec::new();
    let mut exited = None;
    while !log.iter().any(|l: &String| l.contains(until)) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => log.push(l),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(st) = child.try_wait().expect("try_wait") {
                    exited = Some(st);
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("no `{until}` within 60 s:\n{}", log.join("\n"));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                exited = Some(child.wait().expect("wait"));
                break;
            }
        }
    }
    if exited.is_none() {
        let pid = rustix::process::Pid::from_child(&child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    child.wait().expect("wait");
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
        log.push(l);
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    Run {
        log,
        exited,
        stderr,
    }
}

fn has(run: &Run, what: &str) -> bool {
    run.log.iter().any(|l| l.contains(what)) || run.stderr.contains(what)
}

#[test]
fn a_fresh_board_runs_only_its_factory_image_and_a_corrupted_one_never() {
    let _b = one_board();
    let state = tempfile::tempdir().expect("tempdir");
    let first = run_until(state.path(), &[], "[comms] INFO  SA 2:");
    assert!(
        has(
            &first,
            "factory provisioning: slot A <- the running executable"
        ) && has(&first, "PUBLIC factory keys")
            && has(&first, "slot A (normal) verified: version 0.1.0"),
        "{}",
        first.log.join("\n")
    );
    flip_image_bit(state.path(), Slot::A);
    let second = run_until(state.path(), &[], "[monitor] power-on");
    let status = second.exited.expect("the boot stage stops by itself");
    assert_eq!(status.code(), Some(2), "{}", second.stderr);
    assert!(
        has(
            &second,
            "slot A refused: its image does not match the signed manifest"
        ) && has(&second, "no slot holds an image that verifies"),
        "{}\n{}",
        second.log.join("\n"),
        second.stderr
    );
    assert!(
        !has(&second, "[monitor]"),
        "nothing of the image ran:\n{}",
        second.log.join("\n")
    );
}

#[test]
fn a_trial_image_is_verified_run_and_rolled_back_when_it_dies_at_once() {
    let _b = one_board();
    let state = tempfile::tempdir().expect("tempdir");
    let k = keys();
    let factory = state.path().join("factory.bundle");
    std::fs::write(&factory, bundle(&k, &exe(), Version::new(1, 0, 0), 0)).expect("write");
    let f = factory.to_str().expect("utf-8 path");
    let first = run_until(
        state.path(),
        &["--factory-bundle", f],
        "[comms] INFO  SA 2:",
    );
    assert!(
        has(&first, "(your root of trust)") && has(&first, "version 1.0.0, security counter 0"),
        "{}",
        first.log.join("\n")
    );
    // A properly signed release whose image exits at once (`/bin/false`), set up for a trial
    // of 2 attempts: the boot stage runs it twice, and boot control then rolls back by itself.
    let broken = std::fs::read("/bin/false").expect("/bin/false");
    write_slot(
        state.path(),
        Slot::B,
        &bundle(&k, &broken, Version::new(2, 0, 0), 1),
    );
    {
        let mut bc = open_for_bootloader(&state.path().join("boot.flash")).expect("boot control");
        bc.request_trial(Slot::B, 2).expect("trial");
    }
    let second = run_until(state.path(), &[], "[comms] INFO  SA 2:");
    let log = second.log.join("\n");
    assert!(
        has(
            &second,
            "slot B (trial, 1 attempt(s) left) verified: version 2.0.0"
        ) && has(
            &second,
            "slot B (trial, 0 attempt(s) left) verified: version 2.0.0"
        ) && has(&second, "the image ended after")
            && has(&second, "slot A (rolled back) verified: version 1.0.0"),
        "{log}"
    );
    // A bundle under another root is never run, even on trial: the trial is cancelled.
    let stranger = keys();
    write_slot(
        state.path(),
        Slot::B,
        &bundle(&stranger, &exe(), Version::new(3, 0, 0), 1),
    );
    {
        let mut bc = open_for_bootloader(&state.path().join("boot.flash")).expect("boot control");
        bc.request_trial(Slot::B, 2).expect("trial");
    }
    let third = run_until(state.path(), &[], "[comms] INFO  SA 2:");
    assert!(
        has(&third, "slot B refused:")
            && has(&third, "trial of slot B cancelled")
            && has(
                &third,
                "slot A (fallback: slot B did not verify) verified: version 1.0.0"
            )
            && !has(&third, "verified: version 3.0.0"),
        "{}",
        third.log.join("\n")
    );
    // Boot control names the slot that ran (the agent's running slot), not the refused one.
    let st = open_for_bootloader(&state.path().join("boot.flash"))
        .expect("boot control")
        .state();
    assert_eq!(
        (st.booted, st.confirmed, st.reason, st.trial),
        (Slot::A, Slot::A, hal::boot::BootReason::RolledBack, None),
        "{}",
        third.log.join("\n")
    );
}

#[test]
fn an_image_below_the_confirmed_security_counter_never_runs() {
    let _b = one_board();
    let state = tempfile::tempdir().expect("tempdir");
    let k = keys();
    let factory = state.path().join("factory.bundle");
    std::fs::write(&factory, bundle(&k, &exe(), Version::new(1, 0, 0), 0)).expect("write");
    let f = factory.to_str().expect("utf-8 path");
    run_until(
        state.path(),
        &["--factory-bundle", f],
        "[comms] INFO  SA 2:",
    );
    // Version 2 with security counter 5 is tried and confirmed (as the agent does after its
    // health soak), which raises the floor to 5.
    write_slot(
        state.path(),
        Slot::B,
        &bundle(&k, &exe(), Version::new(2, 0, 0), 5),
    );
    let boot = state.path().join("boot.flash");
    {
        let mut bc = open_for_bootloader(&boot).expect("boot control");
        bc.request_trial(Slot::B, 1).expect("trial");
    }
    let trial = run_until(state.path(), &[], "[comms] INFO  SA 2:");
    assert!(has(
        &trial,
        "slot B (trial, 0 attempt(s) left) verified: version 2.0.0, security counter 5"
    ));
    {
        // The image is stopped; its trial is still the booted state on flash.
        let mut bc = store::FlashBootControl::open(
            board_sim::boot::BootFlash::open(&boot).expect("flash"),
            board_sim::boot::BOOT_LAYOUT,
        )
        .expect("open");
        bc.confirm(5).expect("confirm");
        assert_eq!(bc.state().security_counter, 5);
    }
    // Slot B is hit by radiation: the only other image (slot A, counter 0) is below the floor.
    flip_image_bit(state.path(), Slot::B);
    let after = run_until(state.path(), &[], "[monitor] power-on");
    assert_eq!(
        after.exited.and_then(|s| s.code()),
        Some(2),
        "{}",
        after.stderr
    );
    assert!(
        has(&after, "slot B refused: its image does not match")
            && has(&after, "slot A: ")
            && has(&after, "security counter 0")
            && !has(&after, "[monitor]"),
        "{}\n{}",
        after.log.join("\n"),
        after.stderr
    );
}

#[test]
fn a_killed_board_leaves_no_process_behind() {
    // SIGKILL of `spacenode run` is a power cut: the image dies by its parent-death signal and
    // every component by its own, also after switching to its own user (which clears that signal
    // unless the component sets it again).
    let _b = one_board();
    let state = tempfile::tempdir().expect("tempdir");
    let mut board = common::Board::boot(
        state.path(),
        "127.0.0.1:0".parse().expect("addr"),
        common::free_addr(),
        &[] as &[&str],
    );
    board.wait_for("[watchdog] INFO  watching");
    let pids: Vec<u32> = board
        .log
        .iter()
        .filter_map(|l| {
            l.split(" started (pid ")
                .nth(1)?
                .split(')')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(pids.len(), 4, "{}", board.log.join("\n"));
    board.kill();
    let deadline = Instant::now() + Duration::from_secs(10);
    let alive = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| !s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')))
    };
    while pids.iter().any(alive) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<&u32> = pids.iter().filter(|p| alive(p)).collect();
    for pid in &left {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(**pid as i32).expect("pid"),
            rustix::process::Signal::KILL,
        );
    }
    assert!(left.is_empty(), "components outlived the board: {left:?}");
}

/// The pid in the last "[monitor] NAME started|restarted (pid N)" line of `log`.
fn last_pid(log: &[String], name: &str) -> Option<i32> {
    log.iter().rev().find_map(|l| {
        let rest = l
            .strip_prefix(&format!("[monitor] {name} started (pid "))
            .or_else(|| l.strip_prefix(&format!("[monitor] {name} restarted (pid ")))?;
        rest.split(')').next()?.parse().ok()
    })
}

/// A fresh board factory-provisioned with the test root's 1.0.0 (the running executable), run
/// until comms is up once; its keys.
fn provisioned(state: &Path) -> Keys {
    let k = keys();
    let factory = state.join("factory.bundle");
    std::fs::write(&factory, bundle(&k, &exe(), Version::new(1, 0, 0), 0)).expect("write");
    let f = factory.to_str().expect("utf-8 path");
    run_until(state, &["--factory-bundle", f], "[comms] INFO  SA 2:");
    k
}

#[test]
fn a_trial_image_that_hangs_is_reset_by_the_board_watchdog_and_rolled_back() {
    let _b = one_board();
    let state = tempfile::tempdir().expect("tempdir");
    let k = provisioned(state.path());
    // A properly signed release that hangs at once (never starts a monitor, never kicks).
    let src = state.path().join("hang.c");
    let hang = state.path().join("hang");
    std::fs::write(
        &src,
        "#include <unistd.h>\nint main(void) { for (;;) pause(); }\n",
    )
    .expect("write");
    let cc = Command::new("cc")
        .arg(&src)
        .arg("-o")
        .arg(&hang)
        .output()
        .expect("cc (the C compiler Rust links with)");
    assert!(cc.status.success(), "{}", common::text(&cc));
    let image = std::fs::read(&hang).expect("hang");
    write_slot(
        state.path(),
        Slot::B,
        &bundle(&k, &image, Version::new(2, 0, 0), 1),
    );
    {
        let mut bc = open_for_bootloader(&state.path().join("boot.flash")).expect("boot control");
        bc.request_trial(Slot::B, 2).expect("trial");
    }
    let run = run_until(
        state.path(),
        &["--board-watchdog-ms", "3000"],
        "[comms] INFO  SA 2:",
    );
    let log = run.log.join("\n");
    let expired =
        "the image showed no sign of life for 3000 ms: the board's hardware watchdog resets it";
    assert_eq!(
        run.log.iter().filter(|l| l.contains(expired)).count(),
        2,
        "{log}"
    );
    assert!(
        has(
            &run,
            "slot B (trial, 1 attempt(s) left) verified: version 2.0.0"
        ) && has(
            &run,
            "slot B (trial, 0 attempt(s) left) verified: version 2.0.0"
        ) && has(&run, "slot A (rolled back) verified: version 1.0.0"),
        "{log}"
    );
    let st = open_for_bootloader(&state.path().join("boot.flash"))
        .expect("boot control")
        .state();
    assert_eq!(
        (st.booted, st.confirmed, st.trial),
        (Slot::A, Slot::A, None)
    );
    assert_eq!(
        st.clean_reboots, 0,
        "watchdog resets are no requested reboots"
    );
}

/// A provisioned board (1.0.0, security counter 0, in slot A) with the running executable as
/// 2.0.0 at security `counter` on trial in slot B, and boot control having counted the cap of
/// requested reboots already; started.
fn trial_at_the_reboot_cap(state: &Path, counter: u32) -> common::Board {
    let k = provisioned(state);
    write_slot(
        state,
        Slot::B,
        &bundle(&k, &exe(), Version::new(2, 0, 0), counter),
    );
    {
        let mut bc = open_for_bootloader(&state.join("boot.flash")).expect("boot control");
        bc.request_trial(Slot::B, 2).expect("trial");
        for _ in 0..hal::boot::MAX_CLEAN_REBOOTS {
            bc.count_clean_reboot().expect("count");
        }
    }
    common::Board::start(
        state,
        "127.0.0.1:0".parse().expect("addr"),
        common::free_addr(),
        &[] as &[&str],
    )
}

#[test]
fn a_trial_image_that_fails_its_health_soak_rolls_back_and_reboots_past_the_cap_count() {
    let _b = one_board();
    let state = tempfile::tempdir().expect("tempdir");
    // The agent's rollback reboot is one past the cap.
    let mut board = trial_at_the_reboot_cap(state.path(), 1);
    board.wait_for("[upgrade] INFO  trial boot of slot B");
    // The signer crashes during the soak (killed, as a fault would), again after each restart,
    // until the agent judges the trial.
    let judged = "trial image unhealthy (a component failed): cancelling the trial";
    let deadline = Instant::now() + common::BOUND;
    while !board.log.iter().any(|l| l.contains(judged)) {
        assert!(
            Instant::now() < deadline,
            "the agent never judged the trial:\n{}",
            board.log.join("\n")
        );
        if let Some(pid) = last_pid(&board.log, "signer").and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        std::thread::sleep(Duration::from_millis(300));
        board.drain();
    }
    board.wait_for("this boot counted as a reset by the boot stage");
    board.wait_for("[comms] INFO  SA 2:");
    board.drain();
    let log = board.log.join("\n");
    board.stop();
    let cap = hal::boot::MAX_CLEAN_REBOOTS;
    assert!(
        log.contains(&format!(
            "[boot] {} reboots requested without a confirm raising the security counter in between (cap {cap}): this one counts as a fault reset",
            cap + 1
        )) && log.contains("slot A (normal) verified: version 1.0.0")
            && log.contains("1 resets since the node was last healthy"),
        "{log}"
    );
    let st = open_for_bootloader(&state.path().join("boot.flash"))
        .expect("boot control")
        .state();
    assert_eq!(
        (st.booted, st.confirmed, st.trial, st.clean_reboots),
        (Slot::A, Slot::A, None, cap + 1)
    );
}

#[test]
fn a_confirm_that_keeps_the_security_counter_keeps_the_count_of_requested_reboots() {
    let _b = one_board();
    let state = tempfile::tempdir().expect("tempdir");
    // What a compromised agent would repeat, trial -> confirm -> trial between two signed
    // images: here the trial image is at the confirmed security counter (0).
    let mut board = trial_at_the_reboot_cap(state.path(), 0);
    let cap = hal::boot::MAX_CLEAN_REBOOTS;
    board.wait_for("trial image in slot B confirmed after its health soak; security counter 0");
    board.stop();
    let st = open_for_bootloader(&state.path().join("boot.flash"))
        .expect("boot control")
        .state();
    assert_eq!(
        (st.booted, st.confirmed, st.trial, st.security_counter),
        (Slot::B, Slot::B, None, 0)
    );
    assert_eq!(
        st.clean_reboots, cap,
        "a confirm that does not raise the security counter does not start the count over, so the next requested reboot counts as a fault reset"
    );
}
