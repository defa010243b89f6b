//! Whole-system watchdog tests on the sim board with real processes: the shipped system
//! description, the monitor on a thread of this process, the real watchdog partition
//! (`watchdog_partition::WatchdogPd` on the sim drivers) and every other component as this same
//! executable running `runtime::Idle` (it answers pings from its event loop, which is all the
//! watchdog sees of a component). Faults are injected from outside with signals:
//!
//! - `SIGSTOP` a component: detected as fatal after exactly `fatal-after` missed pings, within
//!   the configured bound, restarted; the others are never restarted and keep answering;
//! - `SIGKILL` a component: the monitor's fault notice makes the watchdog restart it at once
//!   (after its back-off), without waiting for missed pings;
//! - `SIGSTOP` the watchdog: the hardware watchdog expires, the board power-cycles and the reset
//!   counter counts it; past `max-resets` the node boots in safe mode (only the `safe-mode`
//!   components start) and the watchdog's health report says so.
//!
//! Timing: every wait is for an event, bounded by [`BOUND`] so a broken build fails instead of
//! hanging. Latencies are measured and printed; the only timing assertion is detection within
//! the configured protocol bound, `(fatal-after + 1) x period`, plus [`LOAD_ALLOWANCE`] for a
//! loaded 2-core CI machine (a starved watchdog legitimately detects later: it never counts
//! more than one miss per ping it sent). What must hold exactly (the missed-ping count, who is
//! restarted, the reset count, the mode) is asserted exactly.
//!
//! A custom `main` (harness = false) because the executable must also be the components.
//! Run: `cargo test -p board-sim --test watchdog_system` (add a test name to run one).

use board_sim::drivers::SimDrivers;
use board_sim::monitor::{MonitorConfig, MonitorEvent, ResetCause};
use board_sim::partition::{EXIT_LOOP_STOPPED, EXIT_START_FAILED, Partition, logger};
use board_sim::testing::{TestBoard, progress_of};
use kernel_config::System;
use protocol::NodeMode;
use rustix::process::Signal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Longest wait for any one event.
const BOUND: Duration = Duration::from_secs(20);
/// Extra time allowed on top of a protocol bound for a loaded CI machine.
const LOAD_ALLOWANCE: Duration = Duration::from_millis(1500);

type TestResult = Result<(), String>;

fn pd(name: &str) -> ExitCode {
    logger::init(log::LevelFilter::Info);
    let p = match Partition::enter(name) {
        Ok(p) => p,
        Err(e) => {
            log::error!("cannot start: {e}");
            return ExitCode::from(EXIT_START_FAILED as u8);
        }
    };
    let err = match name {
        "watchdog" => p.run::<watchdog_partition::WatchdogPd<SimDrivers>>(),
        _ => p.run::<runtime::Idle>(),
    };
    log::error!("loop stopped: {err}");
    ExitCode::from(EXIT_LOOP_STOPPED as u8)
}

fn system() -> System {
    kernel_config::load(
        &kernel_config::shipped::description(),
        &kernel_config::shipped::board("sim").expect("sim board"),
    )
    .expect("shipped description loads")
}

fn boot(state: &std::path::Path) -> Result<TestBoard, String> {
    let config = MonitorConfig::new(
        kernel_config::shipped::description(),
        kernel_config::shipped::board("sim").ok_or("no sim board")?,
        state.to_path_buf(),
        std::env::current_exe().map_err(|e| e.to_string())?,
    );
    TestBoard::boot(config).map_err(|e| e.to_string())
}

fn check(cond: bool, what: impl FnOnce() -> String) -> TestResult {
    if cond { Ok(()) } else { Err(what()) }
}

/// Fatal detection bound of `name` from the description: `(fatal-after + 1) x period`.
fn bound_of(s: &System, name: &str) -> (u32, Duration) {
    let h = s
        .component(name)
        .and_then(|c| c.health)
        .expect("pinged component");
    (
        h.fatal_after,
        Duration::from_millis(u64::from(h.ping_period_ms) * u64::from(h.fatal_after + 1)),
    )
}

fn backoff_of(s: &System, name: &str) -> u32 {
    match s.component(name).and_then(|c| c.restart.clone()) {
        Some(kernel_config::model::RestartPolicy::Restart { backoff_ms, .. }) => backoff_ms,
        _ => 0,
    }
}

fn restarted(e: &MonitorEvent, who: &str) -> bool {
    matches!(e, MonitorEvent::Restarted { component, .. } if component == who)
}

/// One freeze: returns (detection latency, restart time) measured on the test's clock.
pub fn freeze_and_recover(
    board: &mut TestBoard,
    victim: &str,
    fatal_after: u32,
) -> Result<(Duration, Duration), String> {
    let frozen_at = Instant::now();
    board.signal(victim, Signal::STOP)?;
    let (failed_at, line) = board.wait_log("watchdog", &format!("FAILED {victim}"), BOUND)?;
    check(
        line.contains(&format!("missed pings: {fatal_after};")),
        || format!("not detected after exactly {fatal_after} missed pings: {line}"),
    )?;
    board.wait_for(&format!("{victim} restarted"), BOUND, |e| {
        restarted(e, victim)
    })?;
    let (answered_at, _) = board.wait_log(
        "watchdog",
        &format!("{victim} answered its first ping since its restart"),
        BOUND,
    )?;
    Ok((
        failed_at.saturating_duration_since(frozen_at),
        answered_at.saturating_duration_since(failed_at),
    ))
}

fn a_frozen_component_is_detected_in_bound_restarted_and_nobody_else_notices() -> TestResult {
    let s = system();
    let (fatal_after, bound) = bound_of(&s, "signer");
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut board = boot(state.path())?;
    let (_, before) =
        board.wait_log("watchdog", "every pinged component answered in time", BOUND)?;
    let progress0 = progress_of(&before);
    let old_pid = board.pid("signer").ok_or("signer never started")?;

    let mark = board.mark();
    let (latency, restart) = freeze_and_recover(&mut board, "signer", fatal_after)?;
    println!(
        "    freeze -> fatal {:.0} ms (bound {} ms = (fatal-after {fatal_after} + 1) x period); fatal -> first ping answered {:.0} ms",
        latency.as_secs_f64() * 1e3,
        bound.as_millis(),
        restart.as_secs_f64() * 1e3
    );
    check(latency <= bound + LOAD_ALLOWANCE, || {
        format!("detection took {latency:?}, bound {bound:?} (+{LOAD_ALLOWANCE:?} for load)")
    })?;
    let new_pid = board.pid("signer").ok_or("no signer pid")?;
    check(new_pid != old_pid, || "the signer was not replaced".into())?;
    check(
        !std::path::Path::new(&format!("/proc/{old_pid}")).exists(),
        || "the frozen signer process is still there".into(),
    )?;
    // A status line after the restart: the signer is back and the others kept answering with
    // progress.
    board.rewind(mark);
    let (_, e) = board.wait_for("a status line with the signer back", BOUND, |e| {
        matches!(e, MonitorEvent::Log { component, line } if component == "watchdog"
            && line.contains("health #") && line.contains("| signer ok")
            && line.contains(" r1 missed-pings"))
    })?;
    let after = e.to_string();
    let progress1 = progress_of(&after);
    for other in ["monitor", "comms", "upgrade"] {
        let (a, b) = (progress0.get(other), progress1.get(other));
        check(matches!((a, b), (Some(a), Some(b)) if b > a), || {
            format!("{other} made no progress: {a:?} -> {b:?}\n before: {before}\n after: {after}")
        })?;
        check(after.contains(&format!("| {other} ok")), || {
            format!("{other} not ok after the signer's restart: {after}")
        })?;
    }
    check(
        after.contains("signer ok") && after.contains(" r1 missed-pings"),
        || format!("the status line does not show the restart: {after}"),
    )?;
    let events = board.stop()?;
    for (_, e) in &events {
        if let MonitorEvent::Restarted { component, .. } = e {
            check(component == "signer", || {
                format!("{component} was restarted too")
            })?;
        }
        check(
            !matches!(e, MonitorEvent::Fault { .. } | MonitorEvent::Reset(_)),
            || format!("unexpected: {e}"),
        )?;
    }
    Ok(())
}

fn a_killed_component_is_restarted_on_the_fault_notice_without_waiting_for_pings() -> TestResult {
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut board = boot(state.path())?;
    board.wait_log("watchdog", "every pinged component answered in time", BOUND)?;
    let killed_at = Instant::now();
    board.signal("upgrade", Signal::KILL)?;
    board.wait_for("the monitor's fault report", BOUND, |e| {
        matches!(e, MonitorEvent::Fault { component, notified: true, .. } if component == "upgrade")
    })?;
    let (_, failed) = board.wait_log("watchdog", "FAILED upgrade", BOUND)?;
    check(failed.contains("killed by signal 9"), || {
        format!("not acted on the fault notice: {failed}")
    })?;
    let (_, request) = board.wait_log("watchdog", "requesting restart of upgrade", BOUND)?;
    check(request.contains("killed by signal 9"), || {
        format!("restart not for the kill: {request}")
    })?;
    let (restarted_at, _) =
        board.wait_for("upgrade restarted", BOUND, |e| restarted(e, "upgrade"))?;
    board.wait_log(
        "watchdog",
        "upgrade answered its first ping since its restart",
        BOUND,
    )?;
    let (_, missed_bound) = bound_of(&system(), "upgrade");
    let took = restarted_at.saturating_duration_since(killed_at);
    println!(
        "    kill -> restarted {:.0} ms (upgrade's first back-off {} ms; missed-ping detection alone could take up to {} ms)",
        took.as_secs_f64() * 1e3,
        backoff_of(&system(), "upgrade"),
        missed_bound.as_millis()
    );
    let events = board.stop()?;
    for (_, e) in &events {
        if let MonitorEvent::Restarted { component, .. } = e {
            check(component == "upgrade", || {
                format!("{component} was restarted too")
            })?;
        }
    }
    Ok(())
}

fn mode_of(e: &MonitorEvent) -> Option<(NodeMode, Option<u16>, Vec<String>)> {
    match e {
        MonitorEvent::Mode {
            mode,
            resets,
            not_started,
            ..
        } => Some((*mode, *resets, not_started.clone())),
        _ => None,
    }
}

fn a_frozen_watchdog_resets_the_board_and_resets_past_the_cap_boot_safe_mode() -> TestResult {
    let s = system();
    let cap = s.max_resets;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut board = boot(state.path())?;
    for reset in 0..=cap {
        let (_, e) = board.wait_for("the boot mode", BOUND, |e| mode_of(e).is_some())?;
        let (mode, resets, _) = mode_of(&e).ok_or("no mode")?;
        check(
            mode == NodeMode::Normal && resets == Some(reset as u16),
            || format!("boot {reset}: {e}"),
        )?;
        // The watchdog armed the hardware timer and is kicking it.
        board.wait_log("watchdog", "every pinged component answered in time", BOUND)?;
        let frozen_at = Instant::now();
        board.signal("watchdog", Signal::STOP)?;
        let (reset_at, e) = board.wait_for("a hardware watchdog reset", BOUND, |e| {
            matches!(e, MonitorEvent::Reset(_))
        })?;
        check(
            matches!(e, MonitorEvent::Reset(ResetCause::HardwareWatchdog { .. })),
            || format!("reset {reset} was not the hardware watchdog: {e}"),
        )?;
        println!(
            "    reset {}: watchdog frozen -> board reset {:.0} ms (hardware watchdog timeout {} ms)",
            reset + 1,
            reset_at.saturating_duration_since(frozen_at).as_secs_f64() * 1e3,
            watchdog_partition::HW_TIMEOUT.as_millis()
        );
    }
    let (_, e) = board.wait_for("the safe-mode boot", BOUND, |e| mode_of(e).is_some())?;
    let (mode, resets, not_started) = mode_of(&e).ok_or("no mode")?;
    check(
        mode == NodeMode::Safe && resets == Some(cap as u16 + 1),
        || format!("after {} resets: {e}", cap + 1),
    )?;
    let mut expected: Vec<String> = s
        .components
        .iter()
        .filter(|c| !c.safe_mode)
        .map(|c| c.name.clone())
        .collect();
    expected.sort();
    let mut got = not_started.clone();
    got.sort();
    check(got == expected, || {
        format!("not started {got:?}, expected {expected:?}")
    })?;
    let (_, warn) = board.wait_log("watchdog", "SAFE MODE", BOUND)?;
    check(warn.contains(&format!("{} resets", cap + 1)), || {
        warn.clone()
    })?;
    let (_, status) = board.wait_log("watchdog", "health #", BOUND)?;
    check(
        status.contains("SAFE MODE")
            && status.contains(&format!("resets {}", cap + 1))
            && status.contains("signer off")
            && status.contains("upgrade off")
            && status.contains("comms ok"),
        || format!("the health report does not tell the ground: {status}"),
    )?;
    let events = board.stop()?;
    // In the last power cycle only safe-mode components started.
    let last_power_on = events
        .iter()
        .rposition(|(_, e)| matches!(e, MonitorEvent::PowerOn { .. }))
        .ok_or("no power-on")?;
    for (_, e) in &events[last_power_on..] {
        if let MonitorEvent::Started { component, .. } = e {
            check(!expected.contains(component), || {
                format!("{component} started in safe mode")
            })?;
        }
    }
    // The counter on flash says the same.
    let mut flash =
        board_sim::flash::SimFlash::<4, 4096>::open(&state.path().join("health-flash.flash"))
            .map_err(|e| e.to_string())?;
    let counter =
        watchdog::ResetCounter::open(&mut flash, watchdog::reset_counter::HEALTH_FLASH_LAYOUT)
            .map_err(|e| e.to_string())?;
    check(counter.record().resets() == cap as u16 + 1, || {
        format!("reset counter on flash: {:?}", counter.record())
    })?;
    Ok(())
}

fn note_of(e: &MonitorEvent) -> String {
    match e {
        MonitorEvent::Mode { note, .. } => note.clone(),
        _ => String::new(),
    }
}

/// Waits for this power cycle's mode; checks it is normal with `resets` and a note saying
/// `why`. Returns the boot control line of the power-on before it.
fn expect_boot(board: &mut TestBoard, resets: u16, why: &str) -> Result<String, String> {
    let (_, on) = board.wait_for("a power-on", BOUND, |e| {
        matches!(e, MonitorEvent::PowerOn { .. })
    })?;
    let (_, e) = board.wait_for("the boot mode", BOUND, |e| mode_of(e).is_some())?;
    let (mode, got, _) = mode_of(&e).ok_or("no mode")?;
    check(
        mode == NodeMode::Normal && got == Some(resets) && note_of(&e).contains(why),
        || format!("expected a normal boot with {resets} resets ({why}): {e}"),
    )?;
    Ok(match on {
        MonitorEvent::PowerOn { boot, .. } => boot,
        _ => String::new(),
    })
}

/// Freezes the watchdog and waits for the hardware watchdog reset.
fn hardware_reset(board: &mut TestBoard) -> TestResult {
    board.wait_log("watchdog", "every pinged component answered in time", BOUND)?;
    board.signal("watchdog", Signal::STOP)?;
    let (_, e) = board.wait_for("a hardware watchdog reset", BOUND, |e| {
        matches!(e, MonitorEvent::Reset(_))
    })?;
    check(
        matches!(e, MonitorEvent::Reset(ResetCause::HardwareWatchdog { .. })),
        || format!("not a hardware watchdog reset: {e}"),
    )
}

/// Issue 13 finding 3: every boot counted toward `max-resets`, so `max-resets + 1` ordinary
/// stop/starts put the node in safe mode for good. A stop is a clean power-off now; a fault
/// reset still counts; resets while boot control runs a trial are the upgrade's (boot control
/// counts those and rolls back) and do not count.
fn stops_and_trial_boots_do_not_count_toward_safe_mode_but_fault_resets_do() -> TestResult {
    let s = system();
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    for i in 0..s.max_resets + 3 {
        let mut board = boot(state.path())?;
        expect_boot(
            &mut board,
            0,
            if i == 0 {
                "first boot"
            } else {
                "ended cleanly"
            },
        )?;
        board.wait_log("watchdog", "every pinged component answered in time", BOUND)?;
        let events = board.stop()?;
        check(
            events.iter().any(|(_, e)| {
                matches!(e, MonitorEvent::Log { line, .. } if line.contains("clean power-off marked"))
            }),
            || "the stop did not mark a clean power-off".into(),
        )?;
    }
    let mut board = boot(state.path())?;
    expect_boot(&mut board, 0, "ended cleanly")?;
    // The upgrade agent asks for a trial of slot B with two attempts.
    {
        use hal::boot::BootControl;
        let mut bc = board_sim::boot::open_for_bootloader(&state.path().join("boot.flash"))
            .map_err(|e| e.to_string())?;
        bc.request_trial(hal::boot::Slot::B, 2)
            .map_err(|e| e.to_string())?;
    }
    // A fault reset before the trial runs counts.
    hardware_reset(&mut board)?;
    let line = expect_boot(&mut board, 1, "counted as a reset")?;
    check(line.contains("(trial)"), || {
        format!("not a trial boot: {line}")
    })?;
    // The trial image hangs twice: boot control uses up its attempts and rolls back; neither
    // reset counts toward safe mode.
    hardware_reset(&mut board)?;
    let line = expect_boot(&mut board, 1, "trial boot")?;
    check(line.contains("(trial)"), || {
        format!("not a trial boot: {line}")
    })?;
    hardware_reset(&mut board)?;
    let line = expect_boot(&mut board, 1, "trial boot")?;
    check(line.contains("(rolled back)"), || {
        format!("not rolled back: {line}")
    })?;
    // Past the trial, fault resets count again.
    hardware_reset(&mut board)?;
    expect_boot(&mut board, 2, "counted as a reset")?;
    board.stop()?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("pd") {
        return pd(args.get(2).map(String::as_str).unwrap_or(""));
    }
    type Test = (&'static str, fn() -> TestResult);
    let tests: [Test; 4] = [
        (
            "a_frozen_component_is_detected_in_bound_restarted_and_nobody_else_notices",
            a_frozen_component_is_detected_in_bound_restarted_and_nobody_else_notices,
        ),
        (
            "a_killed_component_is_restarted_on_the_fault_notice_without_waiting_for_pings",
            a_killed_component_is_restarted_on_the_fault_notice_without_waiting_for_pings,
        ),
        (
            "a_frozen_watchdog_resets_the_board_and_resets_past_the_cap_boot_safe_mode",
            a_frozen_watchdog_resets_the_board_and_resets_past_the_cap_boot_safe_mode,
        ),
        (
            "stops_and_trial_boots_do_not_count_toward_safe_mode_but_fault_resets_do",
            stops_and_trial_boots_do_not_count_toward_safe_mode_but_fault_resets_do,
        ),
    ];
    let filters: Vec<&String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = 0;
    let mut ran = 0;
    for (name, test) in tests {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        println!("test {name} ...");
        match test() {
            Ok(()) => println!("test {name} ... ok"),
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED\n{e}");
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        ran - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
