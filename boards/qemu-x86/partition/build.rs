//! Links the partition program as a static freestanding ELF at the start of the component window
//! (partition/link.ld).
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
}
