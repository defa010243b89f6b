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
//! 3. a slot that fails is never run: a trial falls back to the confirmed slot; a confirmed slot
//!    that fails falls back to the other slot; the slot that then boots is recorded in boot
//!    control (`record_fallback`: booted, and confirmed, since it is the only one that verified)
//!    before it runs; if neither verifies the boot stage stops with the reasons (no unsigned code
//!    ever runs);
//! 4. the verified image runs (`fexecve` of the sealed memfd) as `spacenode image`: the monitor of
//!    this power cycle, which starts every component from the same image ([`image`]);
//!    When the last power cycle ended with a clean reboot that software asked for, boot control
//!    counts it first (`count_clean_reboot`; a confirm that raises the security counter starts
//!    the count over); past
//!    `hal::boot::MAX_CLEAN_REBOOTS` the image is told to count this boot as a fault reset
//!    (`--counts-as-reset`), so requested reboots cannot loop forever unseen by the reset cap;
//! 5. when the image's power cycle ends it reports why ([`report`]): stopped (the boot stage exits)
//!    or a reset (the next power-on begins). An image that ends without a report (it crashed or
//!    exited at once) is treated as hardware treats a dead image: the watchdog resets the board.
//!    The board's own hardware watchdog runs outside the image: the image's monitor kicks it
//!    (a byte on `--kick-fd`) while its loop runs and its own watchdog model has not expired; an
//!    image that shows no sign of life for [`BootOptions::board_watchdog`] (it hangs as a whole)
//!    is killed with its components and the board resets.
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
use hal::boot::{BootControl, MAX_CLEAN_REBOOTS, Slot};
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
    /// The board's hardware watchdog timeout: an image that shows no sign of life (no kick on
    /// its kick descriptor) for this long is reset, as a hung board is by its watchdog timer.
    pub board_watchdog: Duration,
}

/// Runs the board until stopped: factory provisioning if fresh, then one verified image per
/// power cycle. Prints its own lines with `out`.
pub fn run(
    opts: &BootOptions,
    stop: BorrowedFd<'_>,
    out: &mut dyn FnMut(&str),
) -> Result<(), Failure> {
    let (lock, anchor) = provisioned(&opts.state, opts.factory_bundle.as_deref(), out)?;
    let mut after: Option<ResetCause> = None;
    let mut cycle = 0u32;
    loop {
        cycle = cycle.saturating_add(1);
        let requested = after
            .as_ref()
            .is_some_and(|c| c.is_clean() && matches!(c, ResetCause::RebootRequest { .. }));
        let (image, line, fault) = select_and_verify(&opts.state, &anchor, requested, out)?;
        out(&format!("[boot] power-on #{cycle}: {line}; running it"));
        let started = Instant::now();
        let ran = Ran {
            cycle,
            line: &line,
            after: after.as_ref(),
            fault: fault.as_deref(),
        };
        match run_image(opts, &lock, image, &ran, stop, out)? {
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

/// Takes the state directory's lock and, on a fresh board, does the factory provisioning; the
/// lock and the root of trust in OTP. What `run` does first; the demo calls it ahead of time so
/// that its second node's provisioning does not wait in front of the chapter that uses it.
pub fn provisioned(
    state: &Path,
    factory_bundle: Option<&Path>,
    out: &mut dyn FnMut(&str),
) -> Result<(std::fs::File, [u8; 32]), Failure> {
    let lock = take_lock(state)?;
    let anchor = match otp::read(state).map_err(|e| Failure::Usage(e.to_string()))? {
        Some(a) => a,
        None => factory_provision(state, factory_bundle, out)?,
    };
    Ok((lock, anchor))
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

fn factory_provision(
    state: &Path,
    factory_bundle: Option<&Path>,
    out: &mut dyn FnMut(&str),
) -> Result<[u8; 32], Failure> {
    let usage = |e: String| Failure::Usage(e);
    let path = state.join(SLOT_FLASH_FILE);
    // A fresh board (or one from before secure boot): its slot flash is formatted anew.
    let mut flash = SimFlash::create(&path, SIM_SLOT_LAYOUT.flash_len() as usize)
        .map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let exe = std::env::current_exe()
        .map_err(|e| usage(format!("cannot find the running executable: {e}")))?;
    let bundle;
    let source = match factory_bundle {
        Some(p) => {
            bundle = std::fs::read(p).map_err(|e| usage(format!("{}: {e}", p.display())))?;
            factory::Source::Bundle(p, bundle)
        }
        None => factory::Source::SimKeys(&exe),
    };
    let line =
        factory::provision(state, &mut flash, &SIM_SLOT_LAYOUT, source).map_err(|e| match e {
            factory::FactoryError::Bundle(..) => Failure::Rejected(format!("error: {e}\n")),
            factory::FactoryError::Io(_) => usage(e.to_string()),
        })?;
    out(&format!("[boot] {line}"));
    otp::read(state)
        .map_err(|e| usage(e.to_string()))?
        .ok_or_else(|| usage("OTP was not burnt by factory provisioning".into()))
}

/// Boot control's choice, verified; falls back as the module docs say. `requested`: the last
/// power cycle ended with a clean reboot that software asked for, which boot control counts
/// first; past [`MAX_CLEAN_REBOOTS`] the third value says why this boot counts as a fault reset.
fn select_and_verify(
    state: &Path,
    anchor: &[u8; 32],
    requested: bool,
    out: &mut dyn FnMut(&str),
) -> Result<(slot::LoadedImage, String, Option<String>), Failure> {
    let usage = |e: String| Failure::Usage(e);
    let boot_path = state.join("boot.flash");
    // Boot control cut short is read as far as it goes (the rest erased): a lost record then
    // recovers the factory state instead of refusing to boot the board.
    board_sim::monitor::devices::grow_image(&boot_path, board_sim::boot::BOOT_FLASH_SIZE)
        .map_err(|e| usage(format!("{}: {e}", boot_path.display())))?;
    let mut bc = open_for_bootloader(&boot_path)
        .map_err(|e| usage(format!("{}: {e}", boot_path.display())))?;
    let fault = if requested {
        count_clean_reboot(&mut bc, out)
    } else {
        None
    };
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
                _ => st.reason.to_string(),
            };
            let line = boot_line(&img, selected, &why, st.security_counter);
            return Ok((img, line, fault));
        }
        Err(e) => e,
    };
    out(&format!("[boot] slot {selected} refused: {first}"));
    // A refused trial falls back to the confirmed slot; a refused confirmed slot to the other.
    let other = if st.trial_running() {
        st.confirmed
    } else {
        selected.other()
    };
    match slot::load(&mut flash, &SIM_SLOT_LAYOUT, other, anchor, floor) {
        Ok(img) => {
            record_fallback(&mut bc, selected, other, out);
            let why = format!("fallback: slot {selected} did not verify");
            let line = boot_line(&img, other, &why, st.security_counter);
            Ok((img, line, fault))
        }
        Err(second) => Err(Failure::Usage(format!(
            "no slot holds an image that verifies against the root of trust in OTP, so nothing runs (no unsigned code ever runs): slot {selected}: {first}; slot {other}: {second}. Re-provision the board: a fresh --state directory, with --factory-bundle for your own root"
        ))),
    }
}

/// Counts a requested clean reboot in boot control; past the cap, why this boot is a fault reset.
/// A count that cannot be written is a fault reset too (the cap could not be enforced).
fn count_clean_reboot(
    bc: &mut board_sim::boot::SimBootControl,
    out: &mut dyn FnMut(&str),
) -> Option<String> {
    match bc.count_clean_reboot() {
        Ok(n) if n > MAX_CLEAN_REBOOTS => {
            let why = format!(
                "{n} reboots requested without a confirm raising the security counter in between (cap {MAX_CLEAN_REBOOTS})"
            );
            out(&format!(
                "[boot] {why}: this one counts as a fault reset, towards safe mode"
            ));
            Some(why)
        }
        Ok(_) => None,
        Err(e) => {
            let why = format!("the requested reboot could not be counted in boot control ({e})");
            out(&format!("[boot] {why}: it counts as a fault reset"));
            Some(why)
        }
    }
}

/// Records in boot control that `slot` boots instead of the refused `selected` (before its image
/// runs), so that the agent of that image reads the slot it runs from.
fn record_fallback(
    bc: &mut board_sim::boot::SimBootControl,
    selected: Slot,
    slot: Slot,
    out: &mut dyn FnMut(&str),
) {
    let was_trial = bc.state().trial_running();
    match bc.record_fallback(slot) {
        Ok(()) if was_trial => out(&format!(
            "[boot] trial of slot {selected} cancelled; the confirmed slot {slot} boots"
        )),
        Ok(()) => out(&format!(
            "[boot] slot {slot}, the only one that verifies, is now the confirmed slot"
        )),
        // The image still boots (it verified); boot control keeps the refused slot as booted
        // until the next power-on selects and refuses it again.
        Err(e) => out(&format!(
            "[boot] recording the fallback to slot {slot} in boot control failed: {e}"
        )),
    }
}

fn boot_line(img: &slot::LoadedImage, slot: Slot, why: &str, floor: u64) -> String {
    format!(
        "slot {slot} ({why}) verified: version {}, security counter {} (confirmed floor {}), {:.1} MB, root v{}",
        img.version,
        img.security_counter,
        floor,
        img.len as f64 / 1e6,
        img.root_version
    )
}

/// What the boot stage tells the image of one power cycle.
struct Ran<'a> {
    cycle: u32,
    /// The boot stage's account of the slot it verified.
    line: &'a str,
    /// Why the previous power cycle ended.
    after: Option<&'a ResetCause>,
    /// Why this boot counts as a fault reset although the last cycle ended cleanly.
    fault: Option<&'a str>,
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
    ran: &Ran<'_>,
    stop: BorrowedFd<'_>,
    out: &mut dyn FnMut(&str),
) -> Result<Option<Ending>, Failure> {
    let usage = |e: String| Failure::Usage(e);
    let (report_rx, report_tx) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| usage(format!("pipe: {e}")))?;
    let (kick_rx, kick_tx) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| usage(format!("pipe: {e}")))?;
    let mut cmd = image_command(opts, &image, ran, &report_tx, &kick_tx);
    // The report and kick pipes' write ends and a copy of the lock are the descriptors the
    // image inherits.
    let lock_copy =
        rustix::io::fcntl_dupfd_cloexec(lock, 3).map_err(|e| usage(format!("dup: {e}")))?;
    for fd in [&report_tx, &kick_tx, &lock_copy] {
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
    drop(kick_tx);
    drop(lock_copy);
    let mut child = spawned.map_err(|e| usage(format!("running the verified image: {e}")))?;
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_child(&child),
        rustix::process::PidfdFlags::empty(),
    )
    .map_err(|e| usage(format!("pidfd_open: {e}")))?;
    let started = Instant::now();
    if let Waited::Expired = wait_or_stop(&mut child, &pidfd, &kick_rx, opts.board_watchdog, stop)?
    {
        let at_ms = started.elapsed().as_millis() as u64;
        out(&format!(
            "[boot] the image showed no sign of life for {} ms: the board's hardware watchdog resets it",
            opts.board_watchdog.as_millis()
        ));
        return Ok(Some(Ending::Reset(ResetCause::HardwareWatchdog { at_ms })));
    }
    let mut text = String::new();
    let _ = std::fs::File::from(report_rx).read_to_string(&mut text);
    Ok(report::decode(&text))
}

/// `spacenode image` from the sealed memfd, with this power cycle's arguments and the write ends
/// of its report and kick pipes.
fn image_command(
    opts: &BootOptions,
    image: &slot::LoadedImage,
    ran: &Ran<'_>,
    report_tx: &OwnedFd,
    kick_tx: &OwnedFd,
) -> std::process::Command {
    let mut cmd = std::process::Command::new(format!("/proc/self/fd/{}", image.memfd.as_raw_fd()));
    cmd.arg0("spacenode")
        .arg("image")
        .arg("--state")
        .arg(&opts.state)
        .arg("--cycle")
        .arg(ran.cycle.to_string())
        .arg("--boot")
        .arg(ran.line)
        .arg("--report-fd")
        .arg(report_tx.as_raw_fd().to_string())
        .arg("--kick-fd")
        .arg(kick_tx.as_raw_fd().to_string())
        .args(&opts.image_args);
    if let Some(c) = ran.after {
        cmd.arg("--after").arg(report::encode_cause(c));
    }
    if let Some(why) = ran.fault {
        cmd.arg("--counts-as-reset").arg(why);
    }
    cmd
}

/// How waiting for an image ended.
enum Waited {
    /// It exited (by itself, or stopped on request).
    Exited,
    /// It did not kick the board's watchdog in time and was killed.
    Expired,
}

/// Waits for the image to exit; on `stop`, asks it to stop (SIGTERM) and waits. The image must
/// kick (write to its kick pipe) at least every `timeout`; if it does not, it is killed
/// (SIGKILL; its components die with it) and the wait ends [`Waited::Expired`].
fn wait_or_stop(
    child: &mut std::process::Child,
    pidfd: &OwnedFd,
    kicks: &OwnedFd,
    timeout: Duration,
    stop: BorrowedFd<'_>,
) -> Result<Waited, Failure> {
    let os = |what: &str, e: std::io::Error| Failure::Usage(format!("{what}: {e}"));
    let mut deadline = Instant::now() + timeout;
    let mut stopping = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [
            PollFd::new(pidfd, PollFlags::IN),
            PollFd::from_borrowed_fd(stop, PollFlags::IN),
            PollFd::new(kicks, PollFlags::IN),
        ];
        let wait = rustix::time::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        match rustix::event::poll(&mut fds, (!stopping).then_some(&wait)) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Failure::Usage(format!("poll: {e}"))),
        }
        let [exited, stopped, kicked] = fds.map(|f| f.revents());
        if stopped.contains(PollFlags::IN) && !stopping {
            let _ =
                rustix::process::pidfd_send_signal(pidfd.as_fd(), rustix::process::Signal::TERM);
            stopping = true;
        }
        if exited.contains(PollFlags::IN) {
            child.wait().map_err(|e| os("waiting for the image", e))?;
            return Ok(Waited::Exited);
        }
        if !kicked.is_empty() {
            // Drained whole; a closed write end (the image closing it) reads as 0 and
            // leaves the timer running out.
            let mut buf = [0u8; 256];
            if matches!(rustix::io::read(kicks, &mut buf), Ok(n) if n > 0) {
                deadline = Instant::now() + timeout;
            } else {
                // Closed: poll reports it at once from now on, so pace the loop instead.
                std::thread::sleep(left.clamp(Duration::from_millis(1), Duration::from_millis(20)));
            }
        }
        if !stopping && Instant::now() >= deadline {
            let _ =
                rustix::process::pidfd_send_signal(pidfd.as_fd(), rustix::process::Signal::KILL);
            child.wait().map_err(|e| os("waiting for the image", e))?;
            return Ok(Waited::Expired);
        }
    }
}
