//! Point 4 of the module docs: certificates expire on mission time, which survives a restart.

use super::*;

#[test]
fn certificates_expire_on_mission_time_which_survives_a_node_restart() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, gs, out) = (
        dir.path().join("node"),
        dir.path().join("ground"),
        dir.path().join("out"),
    );
    std::fs::create_dir_all(&out).expect("out");
    let w = provision(&state, dir.path(), 4);
    let (uplink, listen) = (free_addr(), free_addr());
    // The fixture's registry has one admin (1-of-1), `support::clock_admin`.
    let admin = dir.path().join("admin.key");
    write_secret(
        &admin,
        &(support::hex(&support::clock_admin().to_bytes()) + "\n"),
    );
    let o = Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(["ground", "admin", "identity", "--state"])
        .arg(&state)
        .output()
        .expect("identity");
    assert!(o.status.success(), "{}", text(&o));
    let identity = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let admin_arg = format!("0={}", admin.display());
    let time = |at: Option<u64>| {
        let mut args = vec!["time", "--identity", &identity, "--admin-key", &admin_arg];
        let at = at.map(|t| t.to_string());
        if let Some(t) = &at {
            args.extend(["--at-ms", t]);
        }
        ground_cmd(uplink, listen, &gs, &args)
            .output()
            .expect("ground time")
    };
    let sign = |psbt: usize, expiry: &[&str]| {
        let mut args = vec!["sign", "--server", "7", "--key"];
        let key = w.key_file.display().to_string();
        let out = out.display().to_string();
        let p = w.psbts[psbt].display().to_string();
        args.extend([key.as_str(), "--out", out.as_str()]);
        args.extend(expiry);
        args.push(p.as_str());
        ground_cmd(uplink, listen, &gs, &args)
            .output()
            .expect("ground sign")
    };
    let mut node = Board::boot(&state, uplink, listen, &radio(2000));
    node.wait_for("no mission time: the ground has never correlated this node");

    // 1. Never correlated: the default certificate (one hour) is refused, and nothing is
    //    consumed.
    let o = sign(0, &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("the node has no mission time yet"), "{t}");
    let status = || {
        let o = ground_cmd(uplink, listen, &gs, &["status"])
            .output()
            .expect("status");
        text(&o)
    };
    let t = status();
    assert!(t.contains("mission time: NOT SET"), "{t}");

    // 2. Correlated from the ground's clock.
    let t0 = ground_ms();
    let o = time(Some(t0));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("applied: the node's mission time is now"),
        "{}",
        text(&o)
    );
    // 3. The same correlation again (a new envelope, a new TC): a replay.
    let o = time(Some(t0));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("not above the last one the signer accepted"),
        "{t}"
    );
    // 4. Above the last correlation but below the node's clock, which has run on since t0.
    std::thread::sleep(Duration::from_millis(20));
    let o = time(Some(t0 + 1));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("below the node's mission time"), "{t}");

    // 5. Expiry on mission time: already past is refused; the default lifetime signs.
    let past = (t0 - 1).to_string();
    let o = sign(0, &["--expiry-ms", &past]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("certificate expired"), "{t}");
    let o = sign(1, &[]);
    assert!(o.status.success(), "{}", text(&o));

    // 6. The node stops and starts again (a new power cycle: its board clock restarts at 0).
    //    The signer resumes its mission clock from the flash mark, so a certificate that
    //    expired at t0 + 1 ms is still expired; on the old clock (time since power-on,
    //    frozen at the ledger's mark) it would have been valid again.
    node.stop();
    let mut node = Board::boot(&state, uplink, listen, &radio(2000));
    node.wait_for("mission time ");
    let soon = (t0 + 1).to_string();
    let o = sign(2, &["--expiry-ms", &soon]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("certificate expired"), "{t}");
    // The first correlation is still a replay after the restart.
    let o = time(Some(t0));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // 7. A new correlation from the ground's clock (ahead of the resumed lower bound), then
    //    the default lifetime signs again, and status shows the correlation.
    let o = time(None);
    assert!(o.status.success(), "{}", text(&o));
    let o = sign(3, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let t = status();
    assert!(
        t.contains("accepted this ground's correlation to 20"),
        "{t}"
    );
    let line = t
        .lines()
        .find(|l| l.starts_with("mission time: 20"))
        .unwrap_or_else(|| panic!("no mission time in:\n{t}"));
    assert!(
        line.contains("s from the ground's clock); last correlation 20"),
        "{line}"
    );
    no_comms_restart(&mut node);
}
