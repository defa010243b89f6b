//! Watchdog figures on the sim board with real processes (the shipped description, the real
//! watchdog partition, every other component `runtime::Idle` answering pings):
//!
//! 1. **Detection latency**: a component frozen with `SIGSTOP` at a random phase of its ping
//!    period, until the watchdog logs it failed; against the configured bound
//!    `(fatal-after + 1) x period`.
//! 2. **Restart time**: from that detection to the new process answering its first ping (the
//!    configured back-off, the monitor's kill and spawn, the partition's sandboxed start-up).
//! 3. **CPU cost** of the watchdog partition over a window with every component answering,
//!    from `/proc/PID/schedstat` (nanoseconds on CPU), with idle partitions measured over the
//!    same window as the baseline.
//!
//! `harness = false`: run with `cargo bench -p board-sim --bench watchdog` (about 90 s). Under
//! `cargo test` (no `--bench` argument) it only says so and exits, so CI does not run it.
//! Environment: `WATCHDOG_BENCH_TRIALS` (default 20), `WATCHDOG_BENCH_CPU_S` (default 20).

use board_sim::drivers::SimDrivers;
use board_sim::monitor::{MonitorConfig, MonitorEvent};
use board_sim::partition::{EXIT_LOOP_STOPPED, EXIT_START_FAILED, Partition, logger};
use board_sim::testing::TestBoard;
use rustix::process::Signal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(20);
/// Freezes per boot of the board: under the signer's restart budget (5 in 600 s).
const TRIALS_PER_BOOT: usize = 4;

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

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("getrandom");
    u64::from_le_bytes(b) % n.max(1)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn summary(name: &str, v: &mut [f64]) -> String {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return format!("{name}: no samples");
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let p = |q: f64| v[((n - 1) as f64 * q).round() as usize];
    format!(
        "{name}: n {n}, min {:.1} ms, median {:.1} ms, mean {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        v[0],
        p(0.5),
        mean,
        p(0.9),
        v[n - 1]
    )
}

/// CPU nanoseconds of `pid` so far.
fn cpu_ns(pid: u32) -> Result<u64, String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).map_err(|e| e.to_string())?;
    s.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("unreadable schedstat of {pid}: {s}"))
}

fn latency_trials(trials: usize) -> Result<(), String> {
    let system = kernel_config::load(
        &kernel_config::shipped::description(),
        &kernel_config::shipped::board("sim").ok_or("no sim board")?,
    )
    .map_err(|d| d.to_string())?;
    let victim = "signer";
    let h = system
        .component(victim)
        .and_then(|c| c.health)
        .ok_or("signer not pinged")?;
    let period = Duration::from_millis(u64::from(h.ping_period_ms));
    let bound = period * (h.fatal_after + 1);
    let min_run = match system.component(victim).and_then(|c| c.restart.clone()) {
        Some(kernel_config::model::RestartPolicy::Restart {
            min_run_ms,
            backoff_ms,
            ..
        }) => {
            println!(
                "{victim}: ping period {} ms, fatal after {}, bound {} ms, back-off {backoff_ms} ms, min run {min_run_ms} ms",
                h.ping_period_ms,
                h.fatal_after,
                bound.as_millis()
            );
            Duration::from_millis(u64::from(min_run_ms))
        }
        _ => return Err("signer has no restart policy".into()),
    };
    let mut detection = Vec::new();
    let mut restart = Vec::new();
    let mut over_bound = 0;
    while detection.len() < trials {
        let state = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut board = boot(state.path())?;
        board.wait_log("watchdog", "every pinged component answered in time", BOUND)?;
        for _ in 0..TRIALS_PER_BOOT.min(trials - detection.len()) {
            // A random phase of the ping period.
            std::thread::sleep(Duration::from_micros(random_below(
                period.as_micros() as u64
            )));
            let frozen_at = Instant::now();
            board.signal(victim, Signal::STOP)?;
            let (failed_at, _) = board.wait_log("watchdog", &format!("FAILED {victim}"), BOUND)?;
            let (answered_at, _) = board.wait_log(
                "watchdog",
                &format!("{victim} answered its first ping since its restart"),
                BOUND,
            )?;
            let d = failed_at.saturating_duration_since(frozen_at);
            if d > bound {
                over_bound += 1;
            }
            detection.push(ms(d));
            restart.push(ms(answered_at.saturating_duration_since(failed_at)));
            // Past the minimum run time, so the next failure starts the back-off over.
            std::thread::sleep(min_run + period);
        }
        let events = board.stop()?;
        let others: Vec<String> = events
            .iter()
            .filter_map(|(_, e)| match e {
                MonitorEvent::Restarted { component, .. } if component != victim => {
                    Some(component.clone())
                }
                _ => None,
            })
            .collect();
        if !others.is_empty() {
            return Err(format!("other components restarted: {others:?}"));
        }
    }
    println!(
        "{} (bound {} ms; {over_bound} of {} over it)",
        summary(
            "detection (SIGSTOP -> watchdog logs FAILED)",
            &mut detection
        ),
        bound.as_millis(),
        detection.len()
    );
    println!(
        "{}",
        summary(
            "restart (FAILED -> new process answers its first ping)",
            &mut restart
        )
    );
    Ok(())
}

fn cpu_cost(window: Duration) -> Result<(), String> {
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut board = boot(state.path())?;
    board.wait_log("watchdog", "every pinged component answered in time", BOUND)?;
    let names = ["watchdog", "comms", "signer", "upgrade"];
    let pids: Vec<(&str, u32)> = names
        .iter()
        .map(|n| Ok((*n, board.pid(n).ok_or(format!("{n} not started"))?)))
        .collect::<Result<_, String>>()?;
    let before: Vec<u64> = pids
        .iter()
        .map(|(_, p)| cpu_ns(*p))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    std::thread::sleep(window);
    let after: Vec<u64> = pids
        .iter()
        .map(|(_, p)| cpu_ns(*p))
        .collect::<Result<_, _>>()?;
    let elapsed = started.elapsed();
    println!(
        "CPU over {:.1} s with every component answering (shipped periods: monitor, comms, signer 100 ms; upgrade 200 ms; watchdog tick 10 ms):",
        elapsed.as_secs_f64()
    );
    for (((name, _), b), a) in pids.iter().zip(&before).zip(&after) {
        let ns = a.saturating_sub(*b);
        println!(
            "  {name:<9} {:>8.1} ms CPU = {:.3} % of one core{}",
            ns as f64 / 1e6,
            ns as f64 / elapsed.as_nanos() as f64 * 100.0,
            if *name == "watchdog" {
                " (watchdog partition)"
            } else {
                " (idle partition answering pings: baseline)"
            }
        );
    }
    let events = board.stop()?;
    if events.iter().any(|(_, e)| {
        matches!(
            e,
            MonitorEvent::Restarted { .. } | MonitorEvent::Fault { .. }
        )
    }) {
        return Err("a fault or restart happened during the CPU window".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("pd") {
        return pd(args.get(2).map(String::as_str).unwrap_or(""));
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("watchdog bench: run with `cargo bench -p board-sim --bench watchdog`");
        return ExitCode::SUCCESS;
    }
    let trials = env_num("WATCHDOG_BENCH_TRIALS", 20) as usize;
    let window = Duration::from_secs(env_num("WATCHDOG_BENCH_CPU_S", 20));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load.trim());
    let r = latency_trials(trials).and_then(|()| cpu_cost(window));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after: {}", load.trim());
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("watchdog bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}
