//! The sim board's secure boot stage: what `spacenode run` is, the stand-in for the boot ROM
//! and bootloader that run at every power-on before any image code.
//!
//! At start it takes the state directory's lock for the whole run and, on a fresh board, does the
//! factory provisioning ([`factory`]: slot A and the OTP root of trust). Then, at every power-on:
//!
//! 1. boot control's `select_boot` picks the slot (a pending trial counts its attempt on flash
//!    first; a trial out of attempts rolls back);
//! 2. the slot is verified ([`slot::load`]): header against the root hash in OTP ([`otp`]),
//!    release threshold, board, hardware, security counter at least the confirmed one, then the
//!    image's bytes in the sealed memory they will run from;
//! 3. a slot that fails is never run: a trial is cancelled and the confirmed slot tried; a
//!    confirmed slot that fails falls back to the other slot; if neither verifies the boot stage
//!    stops with the reasons (no unsigned code ever runs);
//! 4. the verified image runs (`fexecve` of the sealed memfd) as `spacenode image`: the monitor of
//!    this power cycle, which starts every component from the same image ([`image`]);
//! 5. when the image's power cycle ends it reports why ([`report`]): stopped (the boot stage exits)
//!    or a reset (the next power-on begins). An image that ends without a report (it crashed or
//!    exited at once) is treated as hardware treats a dead image: the watchdog resets the board.
//!
//! Avoids: running anything from the slot flash that was not verified in the memory it runs
//! from, and holding boot control open while an image runs (the upgrade agent owns it then).

pub mod factory;
pub mod image;
pub mod otp;
pub mod report;
pub mod sim_release;
pub mod slot;

use crate::failure::Failure;
use board_sim::boot::{SIM_SLOT_LAYOUT, open_for_bootloader};
use board_sim::flash::SimFlash;
use board_sim::monitor::ResetCause;
use hal::boot::{BootControl, Slot};
use report::Ending;
use rustix::event::{PollFd, PollFlags};
use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The slot flash's file in the state directory (the `slot-flash` device's image).
pub const SLOT_FLASH_FILE: &str = "slot-flash.flash";

/// What the boot stage needs besides the state directory.
#[derive(Debug)]
pub struct BootOptions {
    /// The board's persistent state.
    pub state: PathBuf,
    /// An operator's bundle for factory provisioning of a fresh board.
    pub factory_bundle: Option<PathBuf>,
    /// Arguments passed through to every image (the radio's settings).
    pub image_args: Vec<OsString>,
}

/// Runs the board until stopped: factory provisioning if fresh, then one verified image per
/// power cycle. Prints its own lines with `out`.
pub fn run(
    opts: &BootOptions,
    stop: BorrowedFd<'_>,
    out: &mut dyn FnMut(&str),
) -> Result<(), Failure> {
    let lock = take_lock(&opts.state)?;
    let anchor = match otp::read(&opts.state).map_err(|e| Failure::Usage(e.to_string()))? {
        Some(a) => a,
        None => factory_provision(opts, out)?,
    };
    let mut after: Option<ResetCause> = None;
    let mut cycle = 0u32;
    loop {
        cycle = cycle.saturating_add(1);
        let (image, line) = select_and_verify(&opts.state, &anchor, out)?;
        out(&format!("[boot] power-on #{cycle}: {line}; running it"));
        let started = Instant::now();
        match run_image(opts, &lock, image, cycle, &line, after.as_ref(), stop)? {
            Some(Ending::Stopped) => return Ok(()),
            Some(Ending::Reset(cause)) => after = Some(cause),
            None => {
                let at_ms = started.elapsed().as_millis() as u64;
                out(&format!(
                    "[boot] the image ended after {at_ms} ms without saying why its power cycle ended: as on hardware, nothing kicks the watchdog and it resets the board"
                ));
                after = Some(ResetCause::HardwareWatchdog { at_ms });
                // The hardware watchdog's timeout: no hot loop when an image dies at once.
                std::thread::sleep(Duration::from_millis(300));
            }
        }
    }
}

/// The state directory's lock. A board that was just killed holds it until its image has gone
/// down (a moment after its boot stage), so a lock still held is retried for a few seconds
/// before the directory is reported in use by another node.
fn take_lock(state: &Path) -> Result<std::fs::File, Failure> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match board_sim::monitor::lock_state(state) {
            Ok(f) => return Ok(f),
            Err(board_sim::monitor::MonitorError::Locked(_)) if Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(Failure::Usage(e.to_string())),
        }
    }
}

fn factory_provision(opts: &BootOptions, out: &mut dyn FnMut(&str)) -> Result<[u8; 32], Failure> {
    let usage = |e: String| Failure::Usage(e);
    let path = opts.state.join(SLOT_FLASH_FILE);
    // A fresh board (or one from before secure boot): its slot flash is formatted anew.
    let mut flash = SimFlash::create(&path, SIM_SLOT_LAYOUT.flash_len() as usize)
        .map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let exe = std::env::current_exe()
        .map_err(|e| usage(format!("cannot find the running executable: {e}")))?;
    let bundle;
    let source = match &opts.factory_bundle {
        Some(p) => {
            bundle = std::fs::read(p).map_err(|e| usage(format!("{}: {e}", p.display())))?;
            factory::Source::Bundle(p, bundle)
        }
        None => factory::Source::SimKeys(&exe),
    };
    let line = factory::provision(&opts.state, &mut flash, &SIM_SLOT_LAYOUT, source).map_err(
        |e| match e {
            factory::FactoryError::Bundle(..) => Failure::Rejected(format!("error: {e}\n")),
            factory::FactoryError::Io(_) => usage(e.to_string()),
        },
    )?;
    out(&format!("[boot] {line}"));
    otp::read(&opts.state)
        .map_err(|e| usage(e.to_string()))?
        .ok_or_else(|| usage("OTP was not burnt by factory provisioning".into()))
}

/// Boot control's choice, verified; falls back as the module docs say.
fn select_and_verify(
    state: &Path,
    anchor: &[u8; 32],
    out: &mut dyn FnMut(&str),
) -> Result<(slot::LoadedImage, String), Failure> {
    let usage = |e: String| Failure::Usage(e);
    let boot_path = state.join("boot.flash");
    // Boot control cut short is read as far as it goes (the rest erased): a lost record then
    // recovers the factory state instead of refusing to boot the board.
    board_sim::monitor::devices::grow_image(&boot_path, board_sim::boot::BOOT_FLASH_SIZE)
        .map_err(|e| usage(format!("{}: {e}", boot_path.display())))?;
    let mut bc = open_for_bootloader(&boot_path)
        .map_err(|e| usage(format!("{}: {e}", boot_path.display())))?;
    let selected = match bc.select_boot() {
        Ok(s) => s,
        Err(e) => {
            out(&format!(
                "[boot] select_boot failed ({e}); booting the confirmed slot"
            ));
            bc.state().confirmed
        }
    };
    let st = bc.state();
    let flash_path = state.join(SLOT_FLASH_FILE);
    // An image cut short (a sim-only damage: flash does not shrink) is read as far as it goes,
    // the rest erased, as the monitor does for boot control: verification then decides.
    board_sim::monitor::devices::grow_image(&flash_path, SIM_SLOT_LAYOUT.flash_len() as usize)
        .map_err(|e| usage(format!("{}: {e}", flash_path.display())))?;
    let mut flash = SimFlash::open(&flash_path).map_err(|e| {
        usage(format!(
            "{}: {e}; the slot flash holds the only images this board may run, so nothing runs",
            flash_path.display()
        ))
    })?;
    let floor = st.security_counter;
    let first = match slot::load(&mut flash, &SIM_SLOT_LAYOUT, selected, anchor, floor) {
        Ok(img) => {
            let why = match st.trial {
                Some(t) if st.trial_running() => {
                    format!("trial, {} attempt(s) left", t.attempts_left)
                }
                _ => format!("{:?}", st.reason),
            };
            let line = boot_line(&img, selected, &why, st.security_counter);
            return Ok((img, line));
        }
        Err(e) => e,
    };
    out(&format!("[boot] slot {selected:?} refused: {first}"));
    let other = if st.trial_running() {
        match bc.cancel_trial() {
            Ok(()) => out(&format!(
                "[boot] trial of slot {selected:?} cancelled; the confirmed slot {:?} boots",
                st.confirmed
            )),
            Err(e) => out(&format!("[boot] cancelling the trial failed: {e}")),
        }
        st.confirmed
    } else {
        selected.other()
    };
    match slot::load(&mut flash, &SIM_SLOT_LAYOUT, other, anchor, floor) {
        Ok(img) => {
            let why = format!("fallback: slot {selected:?} did not verify");
            let line = boot_line(&img, other, &why, st.security_counter);
            Ok((img, line))
        }
        Err(second) => Err(Failure::Usage(format!(
            "no slot holds an image that verifies against the root of trust in OTP, so nothing runs (no unsigned code ever runs): slot {selected:?}: {first}; slot {other:?}: {second}. Re-provision the board: a fresh --state directory, with --factory-bundle for your own root"
        ))),
    }
}

fn boot_line(img: &slot::LoadedImage, slot: Slot, why: &str, floor: u64) -> String {
    format!(
        "slot {slot:?} ({why}) verified: version {}, security counter {} (confirmed floor {}), {:.1} MB, root v{}",
        img.version,
        img.security_counter,
        floor,
        img.len as f64 / 1e6,
        img.root_version
    )
}

/// Runs `image` for one power cycle and returns its report (`None`: it ended without one).
///
/// The image inherits the state directory's lock (the same open file, so the same `flock`): the
/// board counts as powered until its last process holding it is gone. A boot stage killed outright
/// takes its image down a moment later (`PR_SET_PDEATHSIG`), and until then no new boot stage can
/// start on this state and find an old monitor or watchdog still writing to its flash.
fn run_image(
    opts: &BootOptions,
    lock: &std::fs::File,
    image: slot::LoadedImage,
    cycle: u32,
    line: &str,
    after: Option<&ResetCause>,
    stop: BorrowedFd<'_>,
) -> Result<Option<Ending>, Failure> {
    let usage = |e: String| Failure::Usage(e);
    let (report_rx, report_tx) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| usage(format!("pipe: {e}")))?;
    let mut cmd = std::process::Command::new(format!("/proc/self/fd/{}", image.memfd.as_raw_fd()));
    cmd.arg0("spacenode")
        .arg("image")
        .arg("--state")
        .arg(&opts.state)
        .arg("--cycle")
        .arg(cycle.to_string())
        .arg("--boot")
        .arg(line)
        .arg("--report-fd")
        .arg(report_tx.as_raw_fd().to_string())
        .args(&opts.image_args);
    if let Some(c) = after {
        cmd.arg("--after").arg(report::encode_cause(c));
    }
    // The report pipe's write end and a copy of the lock are the descriptors the image inherits.
    let lock_copy =
        rustix::io::fcntl_dupfd_cloexec(lock, 3).map_err(|e| usage(format!("dup: {e}")))?;
    for fd in [&report_tx, &lock_copy] {
        rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())
            .map_err(|e| usage(format!("fcntl: {e}")))?;
    }
    // SAFETY: runs in the forked child before exec and makes one async-signal-safe call. The
    // image (the monitor of this power cycle, and through it every component) dies with the
    // boot stage, as everything on a board stops when its power does.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    drop(report_tx);
    drop(lock_copy);
    let mut child = spawned.map_err(|e| usage(format!("running the verified image: {e}")))?;
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_child(&child),
        rustix::process::PidfdFlags::empty(),
    )
    .map_err(|e| usage(format!("pidfd_open: {e}")))?;
    wait_or_stop(&mut child, &pidfd, stop)?;
    let mut text = String::new();
    let _ = std::fs::File::from(report_rx).read_to_string(&mut text);
    Ok(report::decode(&text))
}

/// Waits for the image to exit; on `stop`, asks it to stop (SIGTERM) and waits.
fn wait_or_stop(
    child: &mut std::process::Child,
    pidfd: &OwnedFd,
    stop: BorrowedFd<'_>,
) -> Result<(), Failure> {
    let mut fds = [
        PollFd::new(pidfd, PollFlags::IN),
        PollFd::from_borrowed_fd(stop, PollFlags::IN),
    ];
    loop {
        match rustix::event::poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Failure::Usage(format!("poll: {e}"))),
        }
        if fds[1].revents().contains(PollFlags::IN) {
            let _ =
                rustix::process::pidfd_send_signal(pidfd.as_fd(), rustix::process::Signal::TERM);
        }
        if fds[0].revents().contains(PollFlags::IN) || fds[1].revents().contains(PollFlags::IN) {
            child
                .wait()
                .map_err(|e| Failure::Usage(format!("waiting for the image: {e}")))?;
            return Ok(());
        }
    }
}
