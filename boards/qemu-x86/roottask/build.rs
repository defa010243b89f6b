//! Links the root task where seL4's loader expects user images (0x400000), with the board's
//! linker script (the freestanding flags are in .cargo/config.toml), and embeds the ELFs of the
//! probe and of the partition program (built first by `boards/qemu-x86/build-roottask`, paths
//! in `SPACENODE_PROBE_ELF` and `SPACENODE_PARTITION_ELF`).
use std::{env, path::PathBuf};

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let script = dir.join("../link.ld");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    println!("cargo:rustc-link-arg-bins=-Wl,--defsym=IMAGE_BASE=0x400000");
    println!("cargo:rerun-if-changed={}", script.display());
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
