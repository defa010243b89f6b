//! Generates the comms partition's standby-link settings from the shipped system description
//! (`kernel-config/spacenode.toml` with the sim board, `[standby-link]`, validated by
//! kernel-config with file:line:col errors) as Rust source in `$OUT_DIR/standby.rs`. A
//! description that does not load fails the build with its diagnostics.
//!
//! Build time, as for the watchdog's table: the flight image is built for one description and
//! reads no configuration at run time.

use std::fmt::Write as _;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../kernel-config/spacenode.toml");
    println!("cargo:rerun-if-changed=../../kernel-config/boards/sim.toml");
    let description = kernel_config::shipped::description();
    let board = kernel_config::shipped::board("sim").expect("the sim board is shipped");
    let system = match kernel_config::load(&description, &board) {
        Ok(s) => s,
        Err(d) => panic!("the shipped description does not load:\n{d}"),
    };
    let s = system.standby;
    let mut out = String::new();
    writeln!(
        out,
        "/// The description's `[standby-link]` (kernel-config's defaults where it says nothing)."
    )
    .unwrap();
    writeln!(
        out,
        "pub const STANDBY: runtime::StandbyLink = runtime::StandbyLink {{ node_ip: {:?}, ground_ip: {:?}, echo_interval_ms: {}, echo_failure: {}, restart_ms: {}, max_configure: {}, max_terminate: {}, max_failure: {} }};",
        s.node_ip,
        s.ground_ip,
        s.echo_interval_ms,
        s.echo_failure,
        s.restart_ms,
        s.max_configure,
        s.max_terminate,
        s.max_failure
    )
    .unwrap();
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("standby.rs");
    std::fs::write(path, out).expect("write standby.rs");
}
