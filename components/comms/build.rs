//! Build-time key provisioning: when `SPACENODE_COMMS_PROVISIONING` names a provisioning file
//! (format in `src/sdls/provision.rs`), copy it into `OUT_DIR` and set `cfg(comms_provisioned)` so
//! `comms::sdls::provision::BUILD_TIME` embeds it. Without the variable nothing is embedded and the
//! node must be given its provisioning at run time. No key is ever written in source code.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(comms_provisioned)");
    println!("cargo::rerun-if-env-changed=SPACENODE_COMMS_PROVISIONING");
    let Some(path) = std::env::var_os("SPACENODE_COMMS_PROVISIONING") else {
        return;
    };
    let path = PathBuf::from(path);
    println!("cargo::rerun-if-changed={}", path.display());
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            println!(
                "cargo::error=SPACENODE_COMMS_PROVISIONING={}: cannot read: {e}",
                path.display()
            );
            return;
        }
    };
    let Some(out) = std::env::var_os("OUT_DIR") else {
        println!("cargo::error=OUT_DIR is not set");
        return;
    };
    let dest = PathBuf::from(out).join("provisioning.bin");
    if let Err(e) = std::fs::write(&dest, bytes) {
        println!("cargo::error=cannot write {}: {e}", dest.display());
        return;
    }
    println!("cargo::rustc-cfg=comms_provisioned");
}
