//! Issue 14 point 4: SDLS key states (CCSDS 355.1 pre-activation, active, deactivated) over
//! the air, against the real `spacenode run` (real partitions, real seccomp, comms' real flash
//! image):
//! - `provision-link --generate --spare` adds SA 3 in pre-activation: the node refuses it;
//! - `ground keys activate --target 3` (under SA 1) makes it usable; activating it again is
//!   refused with the reason;
//! - `ground keys deactivate --target 3` under SA 3 itself is refused (the key in use);
//!   `--target 1` under SA 3 retires SA 1 for good and telemetry moves to SA 3;
//! - after a restart the sealed record (now generation 3, no key in clear on the flash) still
//!   says so: SA 1 refused, SA 3 works.
//!
//!
//! And over-the-air rekeying (TC 130,6 under the key-encryption key of the version 2 file):
//! `ground keys rekey --target 3 --retire 1` replaces a compromised SA 1 with a fresh SA 3 key
//! the ground made, the ground's file follows only once the node holds it, a rekey into an
//! active key is refused, the retired SA 1 gets a fresh key in turn, `keys rotate` moves an
//! epoch, and all of it holds after a restart.
//!
//! The engine-level cases (replay, a failed write, every refusal code) are
//! `comms/tests/key_states.rs`; a power cut at every flash write of a reseal is
//! `comms_partition::keys`'s sweep.

mod common;

use common::{Board, free_addr, holds_in_clear, master_keys, one_board, spacenode, text};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

/// `spacenode ground ARGS` with the link options, the ground's state and our key file.
fn ground(args: &[&str], spi: u16, b: (SocketAddr, SocketAddr), dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .arg("ground")
        .args(args)
        .args(["--timeout-ms", "400", "--attempts", "3"])
        .args(["--spi", &spi.to_string()])
        .args(["--node", &b.0.to_string(), "--listen", &b.1.to_string()])
        .arg("--state")
        .arg(dir.join("ground"))
        .arg("--provisioning")
        .arg(dir.join("link.keys"))
        .output()
        .expect("spacenode ground")
}

#[test]
fn a_spare_key_is_activated_and_the_old_one_retired_over_the_air() {
    let _one = one_board();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("node");
    let file = d.join("link.keys");
    let o = spacenode(&["provision-link", "--generate", "--spare"], &[&file]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("SPI 3 (all permissions, key in pre-activation, AES-256-GCM, key id 4)")
    );
    let o = spacenode(&["provision-link", "--state"], &[&state, &file]);
    assert!(o.status.success(), "{}", text(&o));

    let none: [&str; 0] = [];
    let addrs = (free_addr(), free_addr());
    let b = Board::boot(&state, addrs.0, addrs.1, &none);
    let o = ground(&["ping"], 3, addrs, d);
    assert!(!o.status.success(), "a pre-activation key reached the node");
    let o = ground(&["keys", "activate", "--target", "3"], 1, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("SA 3: key active"), "{}", text(&o));
    let o = ground(&["ping"], 3, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    let o = ground(&["keys", "activate", "--target", "3"], 1, addrs, d);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("its key is active and cannot become active"),
        "{}",
        text(&o)
    );
    let o = ground(&["keys", "deactivate", "--target", "3"], 3, addrs, d);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("SA 3 is the association this command came under"),
        "{}",
        text(&o)
    );
    let o = ground(&["keys", "deactivate", "--target", "1"], 3, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("SA 1: key deactivated"), "{}", text(&o));
    let o = ground(&["ping"], 1, addrs, d);
    assert!(!o.status.success(), "a deactivated key reached the node");
    // Destroyed (CCSDS 355.1): its bytes erased on the node and in the ground's file.
    let o = ground(&["keys", "destroy", "--target", "1"], 3, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("SA 1: key destroyed"), "{}", text(&o));
    let kept = std::fs::read(d.join("link.keys")).unwrap();
    let p = comms::sdls::Provisioning::parse(&kept).unwrap();
    let sa1 = p.associations().find(|s| s.spi == 1).unwrap();
    assert_eq!(sa1.state, comms::sdls::KeyState::Destroyed);
    assert!(sa1.master.is_zero(), "the ground's copy is erased too");
    let o = ground(&["keys", "destroy", "--target", "1"], 3, addrs, d);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("its key is destroyed"), "{}", text(&o));
    // Housekeeping (and so telemetry) under the key now in service; the states as the node
    // holds them.
    let o = ground(&["status"], 3, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("key destroyed"), "{}", text(&o));
    b.stop();
    assert!(
        !holds_in_clear(&state.join("comms-flash.flash"), &master_keys(&file)),
        "a master key lies in clear on comms-flash after the reseals"
    );

    let addrs = (free_addr(), free_addr());
    let mut b = Board::boot(&state, addrs.0, addrs.1, &none);
    b.wait_for("[comms] INFO  SDLS keys: sealed on comms-flash (generation 4)");
    let o = ground(&["ping"], 3, addrs, d);
    b.drain();
    assert!(o.status.success(), "{}\n{}", text(&o), b.log.join("\n"));
    let o = ground(&["ping"], 1, addrs, d);
    assert!(!o.status.success(), "SA 1 came back after a restart");
    b.stop();
}

/// The provisioning file `bytes` with association `spi`'s key marked deactivated.
fn with_state(bytes: &[u8], spi: u16) -> Vec<u8> {
    use comms::sdls::{KeyState, ProvisionedSa, Provisioning};
    let p = Provisioning::parse(bytes).unwrap();
    let sas: Vec<ProvisionedSa> = p
        .associations()
        .cloned()
        .map(|mut s| {
            if s.spi == spi {
                s.state = KeyState::Deactivated;
            }
            s
        })
        .collect();
    let mut out = vec![0u8; Provisioning::encoded_len_kek(sas.len())];
    let n = Provisioning::encode_file(&sas, p.kek(), &mut out).unwrap();
    out.truncate(n);
    out
}

fn sa_key(file: &Path, spi: u16) -> [u8; 32] {
    let p = comms::sdls::Provisioning::parse(&std::fs::read(file).unwrap()).unwrap();
    *p.associations()
        .find(|s| s.spi == spi)
        .unwrap()
        .master
        .as_bytes()
}

#[test]
fn a_compromised_key_is_replaced_by_a_fresh_one_sent_over_the_air() {
    let _one = one_board();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("node");
    let file = d.join("link.keys");
    let next = d.join("link.keys.next");
    let o = spacenode(&["provision-link", "--generate", "--spare"], &[&file]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("a key-encryption key (MKID 1"),
        "{}",
        text(&o)
    );
    let o = spacenode(&["provision-link", "--state"], &[&state, &file]);
    assert!(o.status.success(), "{}", text(&o));
    let provisioned = master_keys(&file);
    let spare_before = sa_key(&file, 3);

    let none: [&str; 0] = [];
    let addrs = (free_addr(), free_addr());
    let mut b = Board::boot(&state, addrs.0, addrs.1, &none);
    let o = ground(&["ping"], 1, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    // SA 1 is compromised: a fresh key for SA 3, activated, then SA 1 retired under it.
    let o = ground(
        &["keys", "rekey", "--target", "3", "--retire", "1"],
        1,
        addrs,
        d,
    );
    b.drain();
    assert!(o.status.success(), "{}\n{}", text(&o), b.log.join("\n"));
    for line in [
        "SA 3: the node holds a new master key (key id 5, in pre-activation)",
        "SA 3: key active (under SA 1)",
        "SA 1: key deactivated (under SA 3)",
    ] {
        assert!(text(&o).contains(line), "{line}:\n{}", text(&o));
    }
    assert_ne!(
        sa_key(&file, 3),
        spare_before,
        "the ground's file kept the old key"
    );
    assert!(!next.exists());
    let o = ground(&["ping"], 3, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    let o = ground(&["keys", "verify", "--target", "3"], 3, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    let o = ground(&["ping"], 1, addrs, d);
    assert!(!o.status.success(), "the retired SA 1 reached the node");
    // Housekeeping says each key's state, and where telemetry goes now.
    let o = ground(&["status"], 3, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    for (sa, state) in [
        ("SA 1:", "; key deactivated"),
        ("SA 2:", "; key active"),
        ("SA 3:", "; key active, telemetry"),
    ] {
        let t = text(&o);
        let line = t.lines().find(|l| l.trim_start().starts_with(sa));
        assert!(
            line.is_some_and(|l| l.ends_with(state)),
            "{sa} {state}:\n{t}"
        );
    }
    // Into the active key in use: refused in words (by the ground, whose file follows the
    // node's states; the node's own refusal is comms' test), the file unchanged, nothing left
    // behind.
    let in_use = std::fs::read(&file).unwrap();
    let o = ground(&["keys", "rekey", "--target", "3"], 3, addrs, d);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the key of SA 3 is active"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(&file).unwrap(), in_use);
    assert!(!next.exists());
    // The node's own refusal, in the real partition: a stale ground file that says SA 2's
    // key is deactivated. The node refuses (0x0310), the tool says so and keeps no FILE.next.
    let stale = d.join("stale.keys");
    std::fs::write(&stale, with_state(&std::fs::read(&file).unwrap(), 2)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(["ground", "keys", "rekey", "--target", "2", "--spi", "3"])
        .args(["--timeout-ms", "400", "--attempts", "3"])
        .args([
            "--node",
            &addrs.0.to_string(),
            "--listen",
            &addrs.1.to_string(),
        ])
        .arg("--state")
        .arg(d.join("ground"))
        .arg("--provisioning")
        .arg(&stale)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "the node refused the new key of SA 2: the key of SA 2 is active on the node"
        ),
        "{}",
        text(&o)
    );
    assert!(!d.join("stale.keys.next").exists());
    // The retired SA 1 gets a fresh key in turn (key id 6: above the KEK's last KID and every key id in the file), under SA 3, and works again.
    let o = ground(&["keys", "rekey", "--target", "1"], 3, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("(key id 6, in pre-activation)"),
        "{}",
        text(&o)
    );
    let o = ground(&["ping"], 1, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    // A new epoch for SA 1 (under SA 3): both ends follow.
    let o = ground(
        &["keys", "rotate", "--target", "1", "--epoch", "1"],
        3,
        addrs,
        d,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = ground(&["keys", "verify", "--target", "1"], 1, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("(epoch 1;"), "{}", text(&o));
    // SA 3 under SA 3 itself: the node answers under the old epoch, then both ends are at the
    // new one (commands and telemetry under SA 3 go on).
    let o = ground(
        &["keys", "rotate", "--target", "3", "--epoch", "2"],
        3,
        addrs,
        d,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("SA 3: key epoch 2"), "{}", text(&o));
    let o = ground(&["keys", "verify", "--target", "3"], 3, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("(epoch 2;"), "{}", text(&o));
    let o = ground(&["status"], 3, addrs, d);
    assert!(o.status.success(), "{}", text(&o));
    b.stop();
    let flash = state.join("comms-flash.flash");
    for keys in [&provisioned, &master_keys(&file)] {
        assert!(
            !holds_in_clear(&flash, keys),
            "a key lies in clear on comms-flash"
        );
    }

    let addrs = (free_addr(), free_addr());
    let mut b = Board::boot(&state, addrs.0, addrs.1, &none);
    // Generations: 1 sealed, then OTAR, activate, deactivate, OTAR, activate.
    b.wait_for("[comms] INFO  SDLS keys: sealed on comms-flash (generation 6)");
    b.wait_for("SDLS key-encryption key (MKID 1): new keys can come over the air (TC 130,6), above key id 6");
    for spi in [3, 1] {
        let o = ground(&["ping"], spi, addrs, d);
        b.drain();
        assert!(
            o.status.success(),
            "SA {spi}: {}\n{}",
            text(&o),
            b.log.join("\n")
        );
    }
    b.stop();
}
