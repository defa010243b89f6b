//! The fault step: freeze one component from outside (`SIGSTOP`, as a hung handler would be),
//! show the watchdog detecting it from its missed pings and having it restarted, and show that
//! every other component kept working (their event-loop progress moved, none was restarted).
//!
//! Avoids: asserting how fast detection is (the measured time is printed next to the bound the
//! description gives).

use super::board::{Node, line_of, watchdog_says};
use crate::failure::Failure;
use board_sim::monitor::MonitorEvent;
use board_sim::testing::progress_of;
use std::time::{Duration, Instant};

/// What the fault step measured.
pub struct Freeze {
    /// From the freeze to the watchdog declaring the component failed.
    pub detected: Duration,
    /// The description's bound for that.
    pub bound: Duration,
    /// From detection to the restarted component answering its first ping.
    pub back: Duration,
}

/// Freezes `victim` and follows it through detection and restart.
pub fn freeze(
    node: &mut Node,
    sim: &kernel_config::System,
    victim: &str,
) -> Result<Freeze, Failure> {
    let health = sim
        .component(victim)
        .and_then(|c| c.health)
        .ok_or_else(|| Failure::Usage(format!("{victim} is not pinged in this description")))?;
    let (_, first) = node.wait(
        "every component answering the watchdog",
        watchdog_says("every pinged component answered in time"),
    )?;
    let before = progress_of(&line_of(&first));
    let pid = node.board.pid(victim).unwrap_or(0);
    println!(
        "   -> freezing the {victim} (pid {pid}) with SIGSTOP, as a hung handler would be: it stops answering pings"
    );
    println!(
        "      (the watchdog pings it every {} ms and declares it failed after {} missed pings)",
        health.ping_period_ms, health.fatal_after
    );
    let frozen_at = Instant::now();
    node.board
        .signal(victim, rustix::process::Signal::STOP)
        .map_err(Failure::Usage)?;
    let (failed_at, _) = node.wait(
        "the watchdog detecting the frozen component",
        watchdog_says(&format!("FAILED {victim}")),
    )?;
    let restarted_mark = node.board.mark();
    node.wait(
        "the restart",
        |e| matches!(e, MonitorEvent::Restarted { component, .. } if component == victim),
    )?;
    let (answered_at, _) = node.wait(
        "the restarted component answering",
        watchdog_says(&format!(
            "{victim} answered its first ping since its restart"
        )),
    )?;
    // The status line may come before or after the first answer: look from the restart on.
    node.board.rewind(restarted_mark);
    let (_, status) = node.wait("a health status line after the restart", |e| {
        watchdog_says("health #")(e) && watchdog_says(&format!("| {victim} ok"))(e)
    })?;
    let after = progress_of(&line_of(&status));
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
    let restarted_others: Vec<String> = node
        .board
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
    let out = Freeze {
        detected: failed_at.saturating_duration_since(frozen_at),
        bound: Duration::from_millis(
            u64::from(health.ping_period_ms) * u64::from(health.fatal_after + 1),
        ),
        back: answered_at.saturating_duration_since(failed_at),
    };
    println!(
        "   -> detected {} ms after the freeze (configured bound {} ms), answering again {} ms after detection",
        out.detected.as_millis(),
        out.bound.as_millis(),
        out.back.as_millis()
    );
    println!(
        "   -> the others kept working, none restarted; their event-loop progress: {}",
        others.join(", ")
    );
    Ok(out)
}
