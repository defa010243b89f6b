//! `spacenode run --board qemu-x86`: boots the node's monitor and its watchdog, signer and
//! upgrade partitions on the real seL4 5.0 kernel under QEMU, through `boards/qemu-x86/boot`, which first builds what is
//! missing (the kernel from the `sel4-sys` crate's bundled source, the root task, the partition
//! program and the isolation probe). The kernel's, the monitor's and the partition's log, in
//! the sim board's `[name] message` format, go to standard output.
//!
//! The board is built from the source checkout this binary was compiled in (its path is fixed
//! at compile time); an installed binary without that checkout says so and stops.
//!
//! Avoids: duplicating the QEMU command line or the build steps (the board's script owns them).

use crate::failure::Failure;
use std::path::Path;
use std::process::Command;

/// The checkout this binary was built from.
const CHECKOUT: &str = env!("CARGO_MANIFEST_DIR");
/// QEMU's exit statuses for the monitor's verdict (isa-debug-exit: (value << 1) | 1).
const PASSED: i32 = 33;
const FAILED: i32 = 35;

pub fn run() -> Result<(), Failure> {
    let boot = Path::new(CHECKOUT).join("boards/qemu-x86/boot");
    if !boot.is_file() {
        return Err(Failure::Usage(format!(
            "--board qemu-x86 builds the seL4 image from the source checkout this binary was built in, and {} is missing; run `cargo run -- run --board qemu-x86` in a spacenode checkout",
            boot.display()
        )));
    }
    println!("spacenode run: qemu-x86 board (seL4 5.0.0 under QEMU), building what is missing");
    let status = Command::new(&boot)
        .status()
        .map_err(|e| Failure::Usage(format!("cannot run {}: {e}", boot.display())))?;
    match status.code() {
        Some(PASSED) => Ok(()),
        Some(FAILED) => Err(Failure::Usage(
            "the monitor on seL4 reported a failed check (its FAILED line above says which)".into(),
        )),
        _ => Err(Failure::Usage(format!(
            "{} ended with {status}: see its output above (a build step or QEMU failed)",
            boot.display()
        ))),
    }
}
