//! Issue 14 point 4: the SDLS link keys live sealed on comms' own flash, not in the image.
//!
//! Against the real `spacenode run` (real partitions, real seccomp):
//! - a fresh sim board runs on the public default keys and says so: a WARN line from comms at
//!   every start, and a WARN line first in `ground status`;
//! - keys made with `provision-link --generate` and written with `provision-link` are sealed at
//!   the first boot, the inbox is erased, no key byte is left in clear on the flash, only those
//!   keys reach the node (the public default no longer does), and no WARN is printed;
//! - `ground keys verify` (130,4 challenge/response) succeeds for each association with the
//!   operator's file and reports a mismatch for a file holding another key for SA 2;
//! - sealed keys damaged or erased on a node that has run leave comms DEGRADED with an ERROR
//!   line, reachable under neither the operator's keys nor the public default: never a silent
//!   new key (the whole sweep of damage kinds is `store_damage`'s `comms-keys` store).

mod common;

use common::{Board, free_addr, holds_in_clear, master_keys, one_board, spacenode, text};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const PUBLIC_WARN: &str = "[comms] WARN  SDLS keys: the sim board's PUBLIC default keys";

/// `ground CMD` with `--provisioning FILE` if given.
fn ground(
    cmd: &str,
    b: (std::net::SocketAddr, std::net::SocketAddr),
    state: &Path,
    keys: Option<&Path>,
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spacenode"));
    c.args(["ground", cmd, "--timeout-ms", "400", "--attempts", "3"])
        .arg("--node")
        .arg(b.0.to_string())
        .arg("--listen")
        .arg(b.1.to_string())
        .arg("--state")
        .arg(state);
    if let Some(k) = keys {
        c.arg("--provisioning").arg(k);
    }
    c.output().expect("spacenode ground")
}

fn ground_keys_verify(
    b: (std::net::SocketAddr, std::net::SocketAddr),
    state: &Path,
    keys: &Path,
    target: &str,
) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args([
            "ground",
            "keys",
            "verify",
            "--timeout-ms",
            "400",
            "--attempts",
            "3",
        ])
        .args(["--target", target, "--node", &b.0.to_string()])
        .args(["--listen", &b.1.to_string()])
        .arg("--state")
        .arg(state)
        .arg("--provisioning")
        .arg(keys)
        .output()
        .expect("spacenode ground keys verify")
}

/// The provisioning file `bytes` with association `spi`'s master key replaced.
fn with_other_key(bytes: &[u8], spi: u16) -> Vec<u8> {
    use comms::sdls::{Key, Provisioning};
    let sas: Vec<_> = Provisioning::parse(bytes)
        .unwrap()
        .associations()
        .map(|sa| {
            let mut sa = sa.clone();
            if sa.spi == spi {
                sa.master = Key::from_bytes([0x5A; 32]);
            }
            sa
        })
        .collect();
    let mut out = vec![0u8; Provisioning::encoded_len(sas.len())];
    Provisioning::encode(&sas, &mut out).unwrap();
    out
}

#[test]
fn the_public_default_is_announced_at_every_start_and_in_ground_status() {
    let _one = one_board();
    let state = tempfile::tempdir().unwrap();
    let none: [&str; 0] = [];
    for boot in 0..2 {
        let addrs = (free_addr(), free_addr());
        let b = Board::boot(state.path(), addrs.0, addrs.1, &none);
        assert!(
            b.log.iter().any(|l| l.starts_with(PUBLIC_WARN)),
            "boot {boot}: no WARN about the public keys:\n{}",
            b.log.join("\n")
        );
        let o = ground("status", addrs, &state.path().join("ground"), None);
        assert!(o.status.success(), "{}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.starts_with("WARN: the node answered under the sim board's PUBLIC default"),
            "{out}"
        );
        b.stop();
    }
}

#[test]
fn provisioned_keys_are_sealed_and_only_they_reach_the_node() {
    let _one = one_board();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("node");
    let file = dir.path().join("link.keys");
    let o = spacenode(&["provision-link", "--generate"], &[&file]);
    assert!(o.status.success(), "{}", text(&o));
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let again = spacenode(&["provision-link", "--generate"], &[&file]);
    assert!(
        !again.status.success(),
        "an existing key file is never replaced"
    );
    let keys = master_keys(&file);
    let o = spacenode(&["provision-link", "--state"], &[&state, &file]);
    assert!(o.status.success(), "{}", text(&o));
    let image = state.join("comms-flash.flash");
    assert!(holds_in_clear(&image, &keys), "the inbox holds the file");

    let addrs = (free_addr(), free_addr());
    let none: [&str; 0] = [];
    let mut b = Board::boot(&state, addrs.0, addrs.1, &none);
    b.wait_for("[comms] INFO  SDLS keys: provisioned from the inbox, sealed on comms-flash");
    assert!(
        !b.log.iter().any(|l| l.contains("PUBLIC default")),
        "{}",
        b.log.join("\n")
    );
    let gs = dir.path().join("ground");
    let o = ground("ping", addrs, &gs, Some(&file));
    assert!(o.status.success(), "{}", text(&o));
    let o = ground("status", addrs, &gs, Some(&file));
    assert!(o.status.success(), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("WARN"));
    // Key verification (130,4): the node answers with the MAC our copy of the key gives...
    for target in ["1", "2"] {
        let o = ground_keys_verify(addrs, &gs, &file, target);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(&format!(
                "SA {target}: the node holds the same key as our provisioning file (epoch 0"
            )),
            "{}",
            text(&o)
        );
    }
    // ...and not the one a different key for SA 2 gives (SA 1, which carries it, unchanged).
    let wrong = dir.path().join("wrong.keys");
    std::fs::write(&wrong, with_other_key(&std::fs::read(&file).unwrap(), 2)).unwrap();
    let o = ground_keys_verify(addrs, &gs, &wrong, "2");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("SA 2: the node's answer does not match our key at epoch 0"),
        "{}",
        text(&o)
    );
    let o = ground("ping", addrs, &dir.path().join("ground-public"), None);
    assert!(
        !o.status.success(),
        "the public default keys reached a provisioned node:\n{}",
        text(&o)
    );
    b.stop();
    assert!(
        !holds_in_clear(&image, &keys),
        "a master key lies in clear on comms-flash after the first boot"
    );
    // Sealed keys are never replaced through the inbox.
    let other = dir.path().join("other.keys");
    assert!(
        spacenode(&["provision-link", "--generate"], &[&other])
            .status
            .success()
    );
    let o = spacenode(&["provision-link", "--state"], &[&state, &other]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("already holds sealed SDLS keys"),
        "{}",
        text(&o)
    );
}

#[test]
fn erased_sealed_keys_leave_comms_degraded_and_reachable_by_no_key() {
    let _one = one_board();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("node");
    let file = dir.path().join("link.keys");
    assert!(
        spacenode(&["provision-link", "--generate"], &[&file])
            .status
            .success()
    );
    assert!(
        spacenode(&["provision-link", "--state"], &[&state, &file])
            .status
            .success()
    );
    let none: [&str; 0] = [];
    let addrs = (free_addr(), free_addr());
    let b = Board::boot(&state, addrs.0, addrs.1, &none);
    b.stop();
    // Erase the sealed key record (both copies, 32..48 KiB), as a worn-out sector would.
    let image = state.join("comms-flash.flash");
    let mut flash = std::fs::read(&image).unwrap();
    flash[32 * 1024..48 * 1024].fill(0xFF);
    std::fs::write(&image, flash).unwrap();

    let addrs = (free_addr(), free_addr());
    let mut b = Board::start(&state, addrs.0, addrs.1, &none);
    b.wait_for("[comms] ERROR the sealed SDLS keys on comms-flash are lost");
    b.wait_for("comms DEGRADED");
    for keys in [Some(file.as_path()), None] {
        let o = ground("ping", addrs, &dir.path().join("g"), keys);
        assert!(
            !o.status.success(),
            "comms answered with lost keys ({keys:?}):\n{}",
            text(&o)
        );
    }
    b.drain();
    assert!(
        !b.log.iter().any(|l| l.contains("PUBLIC default")),
        "{}",
        b.log.join("\n")
    );
    b.stop();
}
