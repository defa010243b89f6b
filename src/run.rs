//! `spacenode run`: power the node on, on the sim board, and run it until Ctrl-C or SIGTERM.
//!
//! Opens (or creates) the board's persistent state in `--state DIR` (default: see
//! [`default_state_dir`]), boots the shipped system description with `board_sim`'s monitor,
//! prints the boot log (power-on, devices, each component with its pid and capabilities, and
//! whether it has application logic yet), the reset count and the boot mode (normal, or safe mode
//! past the reset cap), then every component's log line prefixed with its name, every fault,
//! restart and reset. The watchdog logs one compact health status line per change (state,
//! restarts, last fault per component, mode and resets; round trips and uptime alone never
//! trigger one), so a healthy node prints nothing while it runs:
//!
//! ```text
//! [watchdog] INFO  health #2 up 2.8s normal resets 0 | monitor ok 319us | watchdog ok 0us | comms ok 319us | signer ok 135us r1 missed-pings | upgrade ok 319us ; progress monitor 290 comms 30 signer 5 upgrade 15
//! ``` A reset (reboot request, hardware watchdog) powers on
//! again from the top. SIGINT and SIGTERM stop every component and exit 0.
//!
//! Avoids: running anything but the sim board here (the others are cross-built images).

use crate::failure::Failure;
use board_sim::monitor::{MonitorConfig, MonitorEvent, run_board};
use clap::Args;
use kernel_config::shipped;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

#[derive(Args)]
pub struct RunArgs {
    /// Directory of the board's persistent state (flash images, boot control)
    /// [default: $XDG_STATE_HOME/spacenode/sim, else ~/.local/state/spacenode/sim]
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Board to run on; only `sim` runs on a host machine
    #[arg(long, value_name = "NAME", default_value = "sim")]
    board: String,
}

/// `$XDG_STATE_HOME/spacenode/sim`, else `$HOME/.local/state/spacenode/sim`, else
/// `./spacenode-state/sim`.
pub fn default_state_dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        });
    match base {
        Some(b) => b.join("spacenode").join("sim"),
        None => PathBuf::from("spacenode-state").join("sim"),
    }
}

/// Blocks SIGINT and SIGTERM and returns a signalfd that becomes readable when one arrives.
/// (Component processes start with an empty signal mask: `std::process::Command` resets it.)
fn stop_signals() -> Result<OwnedFd, Failure> {
    // SAFETY: plain libc calls on a local sigset; the returned descriptor is checked and owned.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(Failure::Usage("cannot block SIGINT/SIGTERM".into()));
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(Failure::Usage(format!(
                "cannot create a signalfd: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

fn print(event: MonitorEvent) {
    let mut out = std::io::stdout().lock();
    let _ = match &event {
        MonitorEvent::Started { component, .. } if !crate::pd::has_logic(component) => writeln!(
            out,
            "{event}; no application logic yet (its partition runs the event loop, answering pings if it is pinged)"
        ),
        _ => writeln!(out, "{event}"),
    };
    let _ = out.flush();
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    if args.board != "sim" {
        return Err(Failure::Usage(format!(
            "board `{}` cannot run on this machine: only `--board sim` runs here (devboard and flight are built as seL4 images; see `spacenode config sdf`)",
            args.board
        )));
    }
    let board = shipped::board("sim")
        .ok_or_else(|| Failure::Usage("the sim board is missing from this build".into()))?;
    let state = args.state.unwrap_or_else(default_state_dir);
    let exe = std::env::current_exe().map_err(|e| {
        Failure::Usage(format!(
            "cannot find the spacenode executable to start components from: {e}"
        ))
    })?;
    let config = MonitorConfig::new(shipped::description(), board, state.clone(), exe);
    let stop = stop_signals()?;
    println!(
        "spacenode run: sim board, state in {} (Ctrl-C stops the node)",
        state.display()
    );
    run_board(&config, std::os::fd::AsFd::as_fd(&stop), &mut print).map_err(|e| match e {
        board_sim::monitor::MonitorError::Description(text) => Failure::Rejected(text),
        other => Failure::Usage(other.to_string()),
    })
}
