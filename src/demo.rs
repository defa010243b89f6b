//! `spacenode demo`: the end-to-end demonstration on the sim board. Today it validates the shipped
//! system description against every board, shows the capabilities the monitor grants, exports
//! the flight SDF, then powers the node on in a fresh temporary state directory: every component
//! starts as its own sandboxed process, one is frozen from outside (`SIGSTOP`, as a hung handler
//! would be), the watchdog detects it from its missed pings and has it restarted, and the other
//! components keep working (their progress counters move, none is restarted). It grows as the
//! components' logic and the ground side land; each step is its own function.

use crate::failure::Failure;
use board_sim::monitor::{MonitorConfig, MonitorEvent};
use board_sim::testing::{TestBoard, progress_of};
use kernel_config::{graph, shipped};
use std::time::{Duration, Instant};

/// How long the demo waits for any one thing on the running node before it gives up.
const STEP_BOUND: Duration = Duration::from_secs(20);

pub fn run() -> Result<(), Failure> {
    println!("spacenode demo");
    println!("==============");
    println!();
    println!(
        "1. The system description (kernel-config/spacenode.toml) against every shipped board:"
    );
    let description = shipped::description();
    let mut sim = None;
    for name in shipped::BOARDS {
        let board = shipped::board(name).ok_or_else(|| {
            Failure::Usage(format!("shipped board `{name}` is missing from this build"))
        })?;
        let s = kernel_config::load(&description, &board)
            .map_err(|d| Failure::Rejected(d.to_string()))?;
        println!("   ok: {}", crate::config::summary(&s));
        if name == "sim" {
            sim = Some(s);
        }
    }
    let sim =
        sim.ok_or_else(|| Failure::Usage("the sim board is missing from this build".into()))?;
    println!();
    println!("2. The capabilities the monitor grants on the sim board:");
    println!();
    print!("{}", graph::matrix(&sim));
    println!();
    println!("3. The Microkit SDF for the flight computer:");
    let flight = kernel_config::load(
        &description,
        &shipped::board("flight")
            .ok_or_else(|| Failure::Usage("the flight board is missing from this build".into()))?,
    )
    .map_err(|d| Failure::Rejected(d.to_string()))?;
    match kernel_config::sdf::export(&flight) {
        Ok(xml) => println!(
            "   generated and checked against Microkit's rules: {} lines (write it with `spacenode config sdf --board flight`)",
            xml.lines().count()
        ),
        Err(errs) => {
            return Err(Failure::Rejected(format!(
                "error: the flight SDF breaks Microkit's rules:\n  - {}\n",
                errs.join("\n  - ")
            )));
        }
    }
    println!();
    println!("4. The node on the sim board: every component in its own sandboxed process.");
    let state = tempfile::tempdir()
        .map_err(|e| Failure::Usage(format!("cannot create a temporary state directory: {e}")))?;
    let mut board = power_on(state.path())?;
    let result = fault_step(&mut board, &sim);
    // Whatever happened, power the board off and wait for it.
    let events = board
        .stop()
        .map_err(|e| Failure::Usage(format!("the sim board failed: {e}")))?;
    if let Some((_, e)) = events
        .iter()
        .find(|(_, e)| matches!(e, MonitorEvent::Stopped { .. }))
    {
        println!("   {e}");
    }
    result?;
    println!();
    println!("Not shown yet: co-signing over the lossy link and upgrades. Their logic exists as");
    println!("tested crates (signer, comms) and is being wired into the partitions.");
    Ok(())
}

/// Powers the sim board on, on a thread, from the shipped description in `state`.
fn power_on(state: &std::path::Path) -> Result<TestBoard, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Usage(format!("cannot find the spacenode executable: {e}")))?;
    let board = shipped::board("sim")
        .ok_or_else(|| Failure::Usage("the sim board is missing from this build".into()))?;
    let config = MonitorConfig::new(shipped::description(), board, state.to_path_buf(), exe);
    TestBoard::boot(config).map_err(|e| Failure::Usage(format!("cannot start the sim board: {e}")))
}

/// An event on one line, with capability lists shortened to a count.
fn short(e: &MonitorEvent) -> String {
    match e {
        MonitorEvent::Started {
            component,
            pid,
            grants,
            restart,
        } => format!(
            "[monitor] {component} {} as pid {pid} holding {} capabilities, sandboxed",
            if *restart == 0 {
                "started"
            } else {
                "restarted"
            },
            grants.len()
        ),
        other => other.to_string(),
    }
}

/// Whether the demo shows this event.
fn worth_showing(e: &MonitorEvent) -> bool {
    match e {
        MonitorEvent::PowerOn { .. }
        | MonitorEvent::Mode { .. }
        | MonitorEvent::Started { .. }
        | MonitorEvent::Fault { .. }
        | MonitorEvent::Restarted { .. }
        | MonitorEvent::RestartRefused { .. }
        | MonitorEvent::Reset(_) => true,
        MonitorEvent::Log { component, .. } => component == "watchdog",
        _ => false,
    }
}

/// Waits for an event matching `pred` after the cursor, printing the ones worth showing up to
/// it that were not printed yet (`shown` is how far events were printed).
fn wait(
    board: &mut TestBoard,
    shown: &mut usize,
    what: &str,
    pred: impl Fn(&MonitorEvent) -> bool,
) -> Result<(Instant, MonitorEvent), Failure> {
    let hit = board.wait_for(what, STEP_BOUND, pred).map_err(|_| {
        Failure::Usage(format!(
            "the node did not show {what} within {}s",
            STEP_BOUND.as_secs()
        ))
    })?;
    let to = board.mark();
    for (_, e) in board.events().get(*shown..to).unwrap_or(&[]) {
        if worth_showing(e) {
            println!("   {}", short(e));
        }
    }
    *shown = (*shown).max(to);
    Ok(hit)
}

fn watchdog_says<'a>(contains: &'a str) -> impl Fn(&MonitorEvent) -> bool + 'a {
    move |e| matches!(e, MonitorEvent::Log { component, line } if component == "watchdog" && line.contains(contains))
}

fn line_of(e: &MonitorEvent) -> String {
    match e {
        MonitorEvent::Log { line, .. } => line.clone(),
        other => other.to_string(),
    }
}

/// The fault step: freeze the signer, show the watchdog detecting it and the restart, and show
/// the other components kept working.
fn fault_step(board: &mut TestBoard, sim: &kernel_config::System) -> Result<(), Failure> {
    let victim = "signer";
    let health = sim
        .component(victim)
        .and_then(|c| c.health)
        .ok_or_else(|| Failure::Usage(format!("{victim} is not pinged in this description")))?;
    let mut shown = 0;
    let (_, first) = wait(
        board,
        &mut shown,
        "every component answering the watchdog",
        watchdog_says("every pinged component answered in time"),
    )?;
    let before = progress_of(&line_of(&first));
    let pid = board.pid(victim).unwrap_or(0);
    println!();
    println!(
        "   -> freezing the {victim} (pid {pid}) with SIGSTOP, as a hung handler would be: it stops answering pings"
    );
    println!(
        "      (the watchdog pings it every {} ms and declares it failed after {} missed pings)",
        health.ping_period_ms, health.fatal_after
    );
    let frozen_at = Instant::now();
    board
        .signal(victim, rustix::process::Signal::STOP)
        .map_err(Failure::Usage)?;
    let (failed_at, _) = wait(
        board,
        &mut shown,
        "the watchdog detecting the frozen component",
        watchdog_says(&format!("FAILED {victim}")),
    )?;
    let restarted_mark = board.mark();
    wait(
        board,
        &mut shown,
        "the restart",
        |e| matches!(e, MonitorEvent::Restarted { component, .. } if component == victim),
    )?;
    let (answered_at, _) = wait(
        board,
        &mut shown,
        "the restarted component answering",
        watchdog_says(&format!(
            "{victim} answered its first ping since its restart"
        )),
    )?;
    // The status line may come before or after the first answer: look from the restart on.
    board.rewind(restarted_mark);
    let (_, status) = wait(
        board,
        &mut shown,
        "a health status line after the restart",
        |e| watchdog_says("health #")(e) && watchdog_says(&format!("| {victim} ok"))(e),
    )?;
    let after = progress_of(&line_of(&status));
    println!();
    println!(
        "   -> detected {} ms after the freeze (configured bound {} ms), answering again {} ms after detection",
        failed_at.saturating_duration_since(frozen_at).as_millis(),
        u64::from(health.ping_period_ms) * u64::from(health.fatal_after + 1),
        answered_at.saturating_duration_since(failed_at).as_millis()
    );
    let mut others = Vec::new();
    for (name, n) in &before {
        if name == victim {
            continue;
        }
        let m = after.get(name).copied().unwrap_or(0);
        if m <= *n {
            return Err(Failure::Usage(format!(
                "{name} made no progress while the {victim} was frozen ({n} -> {m})"
            )));
        }
        others.push(format!("{name} {n} -> {m}"));
    }
    others.sort();
    let restarted_others: Vec<String> = board
        .events()
        .iter()
        .filter_map(|(_, e)| match e {
            MonitorEvent::Restarted { component, .. } if component != victim => {
                Some(component.clone())
            }
            _ => None,
        })
        .collect();
    if !restarted_others.is_empty() {
        return Err(Failure::Usage(format!(
            "isolation failed: {} restarted too",
            restarted_others.join(", ")
        )));
    }
    println!(
        "   -> the others kept working, none restarted; their event-loop progress: {}",
        others.join(", ")
    );
    Ok(())
}
