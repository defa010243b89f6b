//! Safe mode end to end (issue 13 finding 3), with the real `spacenode run` and the real ground
//! tool over loopback UDP:
//!
//! 1. ordinary stop/starts (SIGTERM, as Ctrl-C) are clean power-offs: `max-resets + 1` of them
//!    leave the node in normal mode with 0 resets, and `ground status` says so;
//! 2. `ground leave-safe-mode` on a node in normal mode is refused and changes nothing;
//! 3. uncontrolled ends (SIGKILL of the whole node, a power cut) count: past the cap the node
//!    boots in safe mode, and `ground status` shows the mode, the resets and why;
//! 4. `ground leave-safe-mode` takes it out: the watchdog clears the counter and marks a clean
//!    power-off, the hardware watchdog resets the board, and it boots normally with 0 resets.

mod common;

use common::{Board, free_addr, ground_cli, max_resets, one_board, text};
use std::net::SocketAddr;
use std::path::Path;

/// `ground status` once the watchdog has reported (structure 1 is refused until then).
fn status(uplink: SocketAddr, ground: SocketAddr, state: &Path) -> String {
    for _ in 0..40 {
        let o = ground_cli("status", uplink, ground, state);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        if o.status.success() && out.contains("health: mode") {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    panic!("no health report from the node");
}

#[test]
fn stops_do_not_count_fault_resets_do_and_the_ground_leaves_safe_mode() {
    let _one = one_board();
    let node = tempfile::tempdir().expect("tempdir");
    let gs = tempfile::tempdir().expect("tempdir");
    let (uplink, ground) = (free_addr(), free_addr());
    let none: [&str; 0] = [];
    let cap = max_resets();

    // 1. Stop/starts are not faults.
    for _ in 0..=cap + 1 {
        let mut b = Board::boot(node.path(), uplink, ground, &none);
        b.wait_for("normal boot");
        b.stop();
    }
    let mut b = Board::boot(node.path(), uplink, ground, &none);
    b.wait_for("not counted: the last power cycle ended cleanly");
    let s = status(uplink, ground, gs.path());
    assert!(s.contains("health: mode normal, board resets 0"), "{s}");

    // 2. Refused outside safe mode.
    let o = ground_cli("leave-safe-mode", uplink, ground, gs.path());
    assert!(!o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("code 0x0501"), "{out}");
    assert!(out.contains("the node is not in safe mode"), "{out}");
    b.kill();

    // 3. Uncontrolled ends count; the boot past the cap is safe mode.
    for _ in 0..cap {
        let mut b = Board::boot(node.path(), uplink, ground, &none);
        b.wait_for("counted as a reset");
        b.kill();
    }
    let mut b = Board::boot(node.path(), uplink, ground, &none);
    b.wait_for("SAFE MODE: only safe-mode components start");
    let s = status(uplink, ground, gs.path());
    assert!(
        s.contains(&format!("health: mode SAFE, board resets {}", cap + 1)),
        "{s}"
    );
    assert!(s.contains("SAFE MODE: too many fault resets"), "{s}");
    assert!(s.contains("inactive (safe mode)"), "{s}");

    // 4. The ground's command leaves it: a clean reset into a normal boot, counter cleared.
    let o = ground_cli("leave-safe-mode", uplink, ground, gs.path());
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1,7 ok"), "{}", text(&o));
    b.wait_for("LEAVING SAFE MODE (commanded by the ground)");
    b.wait_for("hardware watchdog expired");
    b.wait_for("not counted: the last power cycle ended cleanly");
    let s = status(uplink, ground, gs.path());
    assert!(s.contains("health: mode normal, board resets 0"), "{s}");
    assert!(!s.contains("inactive (safe mode)"), "{s}");
    b.stop();
}
