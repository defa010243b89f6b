//! Turns the shipped system description into static tables (`system.rs` in OUT_DIR): the same
//! description, through the same validating loader (`kernel_config::load`), that the sim board
//! boots from.
use kernel_config::model::{Channel, Integrity};
use std::fmt::Write as _;
use std::{env, fs, path::PathBuf};

/// The board file whose validation the description is loaded against. qemu-x86 has no board
/// file of its own yet, so the sim board's is used: the monitor takes components, channels and
/// the owners and kinds of the flash, rng and watchdog devices from it (what this board makes
/// of each kind is in boards/qemu-x86/README.md).
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
            "    ComponentDesc {{ name: {:?}, priority: {}, root: {}, stack_size: {:#x} }},",
            c.name, c.priority, c.root, c.stack_size
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
            "    ChannelDesc {{ name: {:?}, sender: {}, receiver: {}, spec: spec({:?}, {}, {}), copy_in: {} }},",
            ch.name,
            ch.sender,
            ch.receiver,
            ch.spec.kind(),
            ch.spec.slot_count(),
            ch.spec.slot_size(),
            copy_in(&system, ch)
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();
    let devices: Vec<_> = system
        .board
        .devices
        .iter()
        .filter_map(|d| Some((d, d.owner?)))
        .filter(|(d, _)| matches!(d.kind.as_str(), "flash" | "rng" | "watchdog" | "uart"))
        .collect();
    writeln!(
        out,
        "pub static DEVICES: [DeviceDesc; {}] = [",
        devices.len()
    )
    .unwrap();
    for (d, owner) in devices {
        let owner = system
            .components
            .iter()
            .position(|c| c.id == owner)
            .expect("kernel_config checked every owner is a component");
        writeln!(
            out,
            "    DeviceDesc {{ name: {:?}, kind: {:?}, owner: {owner} }},",
            d.name,
            d.kind.as_str()
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();
    out
}

/// Whether the receiver copies slots in: the description asks for it, or the sender is of
/// lower integrity than the receiver (the sim board's rule, `board_sim::grants`).
fn copy_in(system: &kernel_config::System, ch: &Channel) -> bool {
    let integrity = |c: usize| system.components[c].integrity;
    ch.copy_in
        || matches!(
            (integrity(ch.sender), integrity(ch.receiver)),
            (Integrity::Low, Integrity::High)
        )
}

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("system.rs"), system_tables()).expect("OUT_DIR is writable");
}
