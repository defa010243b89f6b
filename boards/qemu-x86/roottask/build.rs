//! Links the root task as a static freestanding ELF and embeds the ELFs of the probe and of the
//! partition program (built first by `boards/qemu-x86/build-roottask`, paths in
//! `SPACENODE_PROBE_ELF` and `SPACENODE_PARTITION_ELF`).
use std::{env, path::PathBuf};

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
    println!("cargo:rerun-if-env-changed=SPACENODE_PARTITION_ELF");
    let partition = env::var("SPACENODE_PARTITION_ELF")
        .expect("SPACENODE_PARTITION_ELF is not set: build with boards/qemu-x86/build-roottask");
    println!("cargo:rerun-if-changed={partition}");
    println!("cargo:rustc-env=SPACENODE_PARTITION_ELF={partition}");
}
