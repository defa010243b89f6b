//! `spacenode demo`: the end-to-end demonstration on the sim board. Today it validates the shipped
//! system description against every board, shows the capabilities the monitor grants, exports
//! the flight SDF, then powers the node on in a fresh temporary state directory: every component
//! starts as its own sandboxed process, one is killed from outside, and the monitor reports the
//! fault while the others keep running. It grows as the components' logic and the ground side land.

use crate::failure::Failure;
use board_sim::monitor::{MonitorConfig, MonitorEvent, run_board};
use kernel_config::{graph, shipped};
use std::os::fd::AsFd;
use std::sync::mpsc;
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
    boot_and_fault()?;
    println!();
    println!("Not shown yet: co-signing over the lossy link, the watchdog restarting a frozen");
    println!(
        "component, and upgrades. Their logic exists as tested crates (signer, comms, watchdog)"
    );
    println!("and is being wired into the partitions.");
    Ok(())
}

/// Boots the sim board on a thread, kills the signer's process and shows the fault report.
fn boot_and_fault() -> Result<(), Failure> {
    let state = tempfile::tempdir()
        .map_err(|e| Failure::Usage(format!("cannot create a temporary state directory: {e}")))?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Usage(format!("cannot find the spacenode executable: {e}")))?;
    let board = shipped::board("sim")
        .ok_or_else(|| Failure::Usage("the sim board is missing from this build".into()))?;
    let config = MonitorConfig::new(
        shipped::description(),
        board,
        state.path().to_path_buf(),
        exe,
    );
    let stop = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC)
        .map_err(|e| Failure::Usage(format!("cannot create an eventfd: {e}")))?;
    let stop_for_board = rustix::io::fcntl_dupfd_cloexec(&stop, 0)
        .map_err(|e| Failure::Usage(format!("cannot duplicate a descriptor: {e}")))?;
    let (tx, rx) = mpsc::channel();
    let node = std::thread::spawn(move || {
        run_board(&config, stop_for_board.as_fd(), &mut |e| {
            let _ = tx.send(e);
        })
        .map_err(|e| e.to_string())
    });
    let result = drive(&rx);
    // Whatever happened, power the board off and wait for it.
    let _ = rustix::io::write(&stop, &1u64.to_ne_bytes());
    let stopped = node
        .join()
        .map_err(|_| Failure::Usage("the monitor thread panicked".into()))?;
    for e in rx.try_iter() {
        if matches!(e, MonitorEvent::Stopped { .. }) {
            println!("   {e}");
        }
    }
    stopped.map_err(|e| Failure::Usage(format!("the sim board failed: {e}")))?;
    result
}

/// Waits for an event matching `pred`, printing the ones worth showing; bounded in time.
fn wait(
    rx: &mpsc::Receiver<MonitorEvent>,
    what: &str,
    mut pred: impl FnMut(&MonitorEvent) -> bool,
) -> Result<MonitorEvent, Failure> {
    let deadline = Instant::now() + STEP_BOUND;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(e) => {
                if matches!(
                    e,
                    MonitorEvent::PowerOn { .. }
                        | MonitorEvent::Started { .. }
                        | MonitorEvent::Fault { .. }
                ) {
                    println!("   {}", short(&e));
                }
                if pred(&e) {
                    return Ok(e);
                }
            }
            Err(_) => {
                return Err(Failure::Usage(format!(
                    "the node did not show {what} within {}s",
                    STEP_BOUND.as_secs()
                )));
            }
        }
    }
}

/// An event on one line, with capability lists shortened to a count.
fn short(e: &MonitorEvent) -> String {
    match e {
        MonitorEvent::Started {
            component,
            pid,
            grants,
            ..
        } => format!(
            "{component} started as pid {pid} holding {} capabilities, sandboxed",
            grants.len()
        ),
        other => other.to_string(),
    }
}

fn drive(rx: &mpsc::Receiver<MonitorEvent>) -> Result<(), Failure> {
    let mut pids: Vec<(String, u32)> = Vec::new();
    wait(rx, "every component started", |e| {
        if let MonitorEvent::Started { component, pid, .. } = e {
            pids.push((component.clone(), *pid));
        }
        pids.len() == 4
    })?;
    let signer = pids
        .iter()
        .find(|(c, _)| c == "signer")
        .map(|(_, p)| *p)
        .unwrap_or(0);
    println!("   -> killing the signer's process (pid {signer}) from outside, as a crash would");
    let pid = rustix::process::Pid::from_raw(signer as i32)
        .ok_or_else(|| Failure::Usage("the signer has no pid".into()))?;
    rustix::process::kill_process(pid, rustix::process::Signal::KILL)
        .map_err(|e| Failure::Usage(format!("cannot kill the signer: {e}")))?;
    wait(
        rx,
        "the signer's fault report",
        |e| matches!(e, MonitorEvent::Fault { component, .. } if component == "signer"),
    )?;
    // The others are untouched: their processes are still there.
    let others: Vec<&(String, u32)> = pids.iter().filter(|(c, _)| c != "signer").collect();
    let gone: Vec<&str> = others
        .iter()
        .filter(|(_, p)| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .map(|(c, _)| c.as_str())
        .collect();
    if !gone.is_empty() {
        return Err(Failure::Usage(format!(
            "isolation failed: {} stopped when the signer was killed",
            gone.join(", ")
        )));
    }
    let names: Vec<&str> = others.iter().map(|(c, _)| c.as_str()).collect();
    println!(
        "   -> the monitor sent the fault notice to the watchdog's channel; {} are still running (checked in /proc)",
        names.join(", ")
    );
    Ok(())
}
