//! Links the partition program at the start of the component window (`system::WINDOW_BASE`),
//! with the board's linker script; the freestanding flags are in .cargo/config.toml.
use std::{env, path::PathBuf};

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let script = dir.join("../link.ld");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    println!("cargo:rustc-link-arg-bins=-Wl,--defsym=IMAGE_BASE=0x10000000");
    println!("cargo:rerun-if-changed={}", script.display());
}
