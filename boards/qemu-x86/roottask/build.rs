//! Links the root task as a static freestanding ELF, embeds the probe's ELF (built first by
//! `boards/qemu-x86/build-roottask`, path in `SPACENODE_PROBE_ELF`), and turns the shipped system
//! description into the monitor's static tables (`system.rs` in OUT_DIR): the same description,
//! through the same validating loader (`kernel_config::load`), that the sim board boots from.
use std::fmt::Write as _;
use std::{env, fs, path::PathBuf};

/// The board file whose validation the description is loaded against. qemu-x86 has no board
/// file of its own yet (its devices are not modelled), so the sim board's is used; the monitor
/// uses only components and channels from it.
const BOARD: &str = "sim";

fn system_tables() -> String {
    let board = kernel_config::shipped::board(BOARD).expect("the sim board file is shipped");
    let system = kernel_config::load(&kernel_config::shipped::description(), &board)
        .unwrap_or_else(|d| panic!("the shipped system description does not load: {d}"));
    let mut out = String::new();
    writeln!(
        out,
        "pub static COMPONENTS: [ComponentDesc; {}] = [",
        system.components.len()
    )
    .unwrap();
    for c in &system.components {
        writeln!(
            out,
            "    ComponentDesc {{ name: {:?}, priority: {}, root: {} }},",
            c.name, c.priority, c.root
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();
    writeln!(
        out,
        "pub static CHANNELS: [ChannelDesc; {}] = [",
        system.channels.len()
    )
    .unwrap();
    for ch in &system.channels {
        writeln!(
            out,
            "    ChannelDesc {{ name: {:?}, sender: {}, receiver: {}, ring_bytes: {} }},",
            ch.name,
            ch.sender,
            ch.receiver,
            ch.ring_bytes()
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();
    out
}

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-no-pie",
        "-Wl,--build-id=none",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!(
        "cargo:rustc-link-arg-bins=-Wl,-T,{}",
        dir.join("link.ld").display()
    );
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo:rerun-if-env-changed=SPACENODE_PROBE_ELF");
    let probe = env::var("SPACENODE_PROBE_ELF")
        .expect("SPACENODE_PROBE_ELF is not set: build with boards/qemu-x86/build-roottask");
    println!("cargo:rerun-if-changed={probe}");
    println!("cargo:rustc-env=SPACENODE_PROBE_ELF={probe}");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("system.rs"), system_tables()).expect("OUT_DIR is writable");
}
