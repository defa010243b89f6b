//! `spacenode run --board qemu-x86`: boots the node's monitor and its watchdog, signer, comms
//! and upgrade partitions on the real seL4 5.0 kernel under QEMU, through
//! `boards/qemu-x86/boot`, which first builds what is missing (the kernel from the `sel4-sys`
//! crate's bundled source, the root task, the partition program and the isolation probe). The
//! kernel's, the monitor's and the partitions' log, in the sim board's `[name] message` format,
//! go to standard output.
//!
//! Comms' link keys: for each boot this command makes a fresh SDLS provisioning file with
//! `spacenode provision-link --generate` in [`LINK_DIR`] of the checkout (the files of the
//! previous boot are removed first: its keys died with its volatile flash) and hands it to
//! `boot`, which passes it to the guest through QEMU's fw_cfg. So the keys pass through the
//! host, which is what lets the ground on this host use them. When QEMU says where comms'
//! standby line (COM2) is on the host, this command prints the pty and the `spacenode ground`
//! options that reach it (`--link serial:PTY --provisioning ... --state ...`).
//!
//! The node serves until Ctrl-C stops QEMU, or for `SPACENODE_QEMU_SERVE_S` seconds after the
//! monitor's checks (CI). Exit status: 0 when the monitor ended the run with every check
//! passed, or when QEMU was stopped (Ctrl-C) after the monitor said "all checks passed"; an
//! error otherwise.
//!
//! The board is built from the source checkout this binary was compiled in (its path is fixed
//! at compile time); an installed binary without that checkout says so and stops.
//!
//! Avoids: duplicating the QEMU command line or the build steps (the board's script owns them).

use crate::failure::Failure;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The checkout this binary was built from.
const CHECKOUT: &str = env!("CARGO_MANIFEST_DIR");
/// Where each boot's link keys and the ground's state for it are kept (in the checkout).
pub const LINK_DIR: &str = "target/sel4/link";
/// QEMU's exit statuses for the monitor's verdict (isa-debug-exit: (value << 1) | 1).
const PASSED: i32 = 33;
const FAILED: i32 = 35;
/// What QEMU prints when it made the pty of a `-chardev pty` (the second serial port: `com2`).
const PTY_PREFIX: &str = "char device redirected to ";
const PTY_SUFFIX: &str = " (label com2)";
/// The monitor's line when its checks passed (the node then serves on).
const CHECKS_PASSED: &str = "[monitor] all checks passed";

pub fn run() -> Result<(), Failure> {
    let boot = Path::new(CHECKOUT).join("boards/qemu-x86/boot");
    if !boot.is_file() {
        return Err(Failure::Usage(format!(
            "--board qemu-x86 builds the seL4 image from the source checkout this binary was built in, and {} is missing; run `cargo run -- run --board qemu-x86` in a spacenode checkout",
            boot.display()
        )));
    }
    println!("spacenode run: qemu-x86 board (seL4 5.0.0 under QEMU), building what is missing");
    let link = Path::new(CHECKOUT).join(LINK_DIR);
    let keys = fresh_link_keys(&link)?;
    let mut child = Command::new(&boot)
        .env("SPACENODE_LINK_KEYS", &keys)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::Usage(format!("cannot run {}: {e}", boot.display())))?;
    // Ctrl-C is for QEMU (it exits 0 on it): once the child runs (with the default action),
    // this process ignores SIGINT, so it lives to report how the run ended.
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let mut checks_passed = false;
    if let Some(out) = child.stdout.take() {
        let mut stdout = std::io::stdout().lock();
        for line in BufReader::new(out).split(b'\n') {
            let Ok(line) = line else { break };
            let _ = stdout.write_all(&line);
            let _ = stdout.write_all(b"\n");
            // The guest's console starts each line with a carriage return.
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_matches('\r');
            checks_passed |= text.starts_with(CHECKS_PASSED);
            if let Some(pty) = text
                .strip_prefix(PTY_PREFIX)
                .and_then(|t| t.strip_suffix(PTY_SUFFIX))
            {
                let _ = writeln!(stdout, "{}", ground_hint(pty, &keys, &link));
            }
            let _ = stdout.flush();
        }
    }
    let status = child
        .wait()
        .map_err(|e| Failure::Usage(format!("waiting for {}: {e}", boot.display())))?;
    match status.code() {
        Some(PASSED) => Ok(()),
        Some(FAILED) => Err(Failure::Usage(
            "the monitor on seL4 reported a failed check (its FAILED line above says which)".into(),
        )),
        // QEMU stopped by Ctrl-C (or another signal) exits 0.
        Some(0) if checks_passed => Ok(()),
        Some(0) => Err(Failure::Usage(
            "QEMU was stopped before the monitor's checks had passed".into(),
        )),
        _ => Err(Failure::Usage(format!(
            "{} ended with {status}: see its output above (a build step or QEMU failed)",
            boot.display()
        ))),
    }
}

/// Makes this boot's provisioning file in `dir` (removing the previous boot's files and the
/// ground's state for them) with `spacenode provision-link --generate`; returns its path.
fn fresh_link_keys(dir: &Path) -> Result<PathBuf, Failure> {
    let io =
        |what: &str, e: std::io::Error| Failure::Usage(format!("{what} {}: {e}", dir.display()));
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("cannot remove the previous boot's link keys in", e)),
    }
    std::fs::create_dir_all(dir).map_err(|e| io("cannot create", e))?;
    let keys = dir.join("link-keys");
    let me = std::env::current_exe().map_err(|e| {
        Failure::Usage(format!(
            "cannot find this program to run provision-link: {e}"
        ))
    })?;
    let made = Command::new(&me)
        .arg("provision-link")
        .arg("--generate")
        .arg(&keys)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| Failure::Usage(format!("cannot run {} provision-link: {e}", me.display())))?;
    if !made.success() {
        return Err(Failure::Usage(format!(
            "spacenode provision-link --generate {} failed ({made}): see above",
            keys.display()
        )));
    }
    println!(
        "spacenode run: comms' link keys for this boot: {} (new at every boot: the board's flash is RAM); they pass through this host to the guest",
        keys.display()
    );
    Ok(keys)
}

/// The line that tells the operator how the ground reaches comms' standby line.
fn ground_hint(pty: &str, keys: &Path, dir: &Path) -> String {
    format!(
        "spacenode run: comms' standby link (COM2, PPP), serial line, ground side at {pty}: spacenode ground ping --link serial:{pty} --provisioning {} --state {}",
        keys.display(),
        dir.join("ground").display()
    )
}
