//! `spacenode image` (hidden): what a verified image runs as, started by the boot stage from the
//! sealed memory it verified. It is the monitor (root task) of one power cycle: it boots the
//! system description compiled into **this** image, starts every component from this same image
//! (`/proc/self/exe`, the sealed memfd), runs until the power cycle ends, and reports why on the
//! descriptor the boot stage gave it ([`super::report`]).
//!
//! Run by hand it refuses (no report descriptor): use `spacenode run`.
//!
//! Avoids: locking the state directory or choosing a slot (the boot stage did both).

use super::report::{self, Ending};
use crate::failure::Failure;
use crate::run::RadioArgs;
use board_sim::monitor::{Monitor, MonitorConfig, PowerOff};
use clap::Args;
use kernel_config::shipped;
use std::io::Write;
use std::os::fd::{AsFd, FromRawFd};
use std::path::PathBuf;

#[derive(Args)]
pub struct ImageArgs {
    /// The board's persistent state
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// Power cycle number
    #[arg(long)]
    cycle: u32,
    /// The boot stage's account of the slot it verified
    #[arg(long)]
    boot: String,
    /// Why the previous power cycle ended (the boot stage's report line)
    #[arg(long)]
    after: Option<String>,
    /// The boot stage counts this boot as a fault reset although the last power cycle ended
    /// cleanly (past its cap on requested reboots): why
    #[arg(long, value_name = "WHY")]
    counts_as_reset: Option<String>,
    /// Where to report how this power cycle ended
    #[arg(long, value_name = "FD")]
    report_fd: i32,
    /// The board's hardware watchdog (kicked while this power cycle's monitor runs)
    #[arg(long, value_name = "FD")]
    kick_fd: i32,
    #[command(flatten)]
    radio: RadioArgs,
}

pub fn run(args: ImageArgs) -> Result<(), Failure> {
    // The boot stage passes the report descriptor (and a copy of the state lock, which the image
    // only holds), above the standard three.
    let open = |fd: i32| fd >= 3 && rustix::io::fcntl_getfd(unsafe_borrow(fd)).is_ok();
    if !open(args.report_fd) || !open(args.kick_fd) || args.kick_fd == args.report_fd {
        return Err(Failure::Usage(
            "`spacenode image` is started by the boot stage only; use `spacenode run`".into(),
        ));
    }
    // SAFETY: checked open above; the boot stage made it for this process alone.
    let mut report_to = unsafe { std::fs::File::from_raw_fd(args.report_fd) };
    // SAFETY: as above; a distinct descriptor, made for this process alone.
    let kick = unsafe { std::os::fd::OwnedFd::from_raw_fd(args.kick_fd) };
    // Never inherited by a component, and a kick never blocks the monitor.
    rustix::io::fcntl_setfd(&kick, rustix::io::FdFlags::CLOEXEC)
        .and_then(|()| rustix::fs::fcntl_setfl(&kick, rustix::fs::OFlags::NONBLOCK))
        .map_err(|e| Failure::Usage(format!("the board's kick descriptor: {e}")))?;
    let board = shipped::board("sim")
        .ok_or_else(|| Failure::Usage("the sim board is missing from this image".into()))?;
    let mut config = MonitorConfig::new(
        shipped::description(),
        board,
        args.state,
        PathBuf::from("/proc/self/exe"),
    );
    args.radio.apply(&mut config)?;
    config.booted_by_stage = Some(args.boot);
    config.counts_as_reset = args.counts_as_reset;
    config.board_kick = Some(std::sync::Arc::new(kick));
    let after = args.after.as_deref().and_then(report::decode_cause);
    let stop = crate::run::stop_signals()?;
    let usage = |e: board_sim::monitor::MonitorError| match e {
        board_sim::monitor::MonitorError::Description(text) => Failure::Rejected(text),
        other => Failure::Usage(other.to_string()),
    };
    let mut m =
        Monitor::power_on(&config, args.cycle, after, &mut crate::run::print).map_err(usage)?;
    let ending = match m.run(stop.as_fd(), &mut crate::run::print).map_err(usage)? {
        PowerOff::Stopped => Ending::Stopped,
        PowerOff::Reset(cause) => Ending::Reset(cause),
    };
    drop(m);
    let _ = writeln!(report_to, "{}", report::encode(&ending));
    Ok(())
}

fn unsafe_borrow<'a>(fd: i32) -> std::os::fd::BorrowedFd<'a> {
    // SAFETY: only used for an fcntl probe of whether `fd` is open; a closed descriptor makes
    // the probe fail with EBADF, which is all we ask of it.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}
