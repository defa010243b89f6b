//! Issue 15's node profiles and `ground batch`, and issue 13 finding 8's stale result.

use super::*;

/// Issue 15 points 5 and 6: a `[node.NAME]` profile in `$XDG_CONFIG_HOME/spacenode/ground.toml`
/// gives the addresses, state, server and key; `ground batch --node NAME` builds a batch file
/// offline and `ground sign --batch FILE` (profile from `SPACENODE_NODE`) sends it later. Both
/// say which node they use; a flag overrides the profile; a bad file is reported at its place.
#[test]
fn a_batch_file_built_earlier_is_co_signed_through_a_named_node_profile() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, out, xdg) = (
        dir.path().join("node"),
        dir.path().join("out"),
        dir.path().join("xdg"),
    );
    std::fs::create_dir_all(&out).expect("out");
    std::fs::create_dir_all(xdg.join("spacenode")).expect("xdg");
    let w = provision(&state, dir.path(), 2);
    let (uplink, listen) = (free_addr(), free_addr());
    let toml = xdg.join("spacenode/ground.toml");
    std::fs::write(
        &toml,
        format!(
            "[node.sat1]\nuplink = \"{uplink}\"\nlisten = \"{listen}\"\nstate = \"ground-sat1\"\nserver = {SERVER}\nkey = \"{}\"\n",
            w.key_file.display()
        ),
    )
    .expect("ground.toml");
    let spacenode = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_spacenode"));
        c.env("XDG_CONFIG_HOME", &xdg)
            .env_remove("SPACENODE_NODE")
            .args(args);
        c
    };
    // Built offline, before the node is even up (the test node is never correlated, and its
    // registry lets this server sign without an expiry).
    let batch = dir.path().join("payday.snbc");
    let o = spacenode(&["ground", "batch", "--node", "sat1", "--no-expiry", "--out"])
        .arg(&batch)
        .args(&w.psbts)
        .output()
        .expect("ground batch");
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        xdg.join("spacenode/ground-sat1/server-7.seq").is_file(),
        "the profile's state directory (relative to ground.toml) holds the sequence"
    );
    // Issue 13 finding 8: a right-to-left override in a file name is printed escaped.
    let o = spacenode(&["ground", "batch", "--node", "sat1", "--out"])
        .arg(dir.path().join("pay\u{202E}fdp.snbc"))
        .arg(&w.psbts[0])
        .output()
        .expect("ground batch");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("pay\\u{202e}fdp.snbc") && !t.contains('\u{202E}'),
        "{t}"
    );

    let mut node = Board::boot(&state, uplink, listen, &radio(2000));
    let o = spacenode(&["ground", "sign", "--timeout-ms", "500", "--attempts", "8"])
        .env("SPACENODE_NODE", "sat1")
        .arg("--batch")
        .arg(&batch)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("ground sign --batch");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains(&format!(
            "node `sat1` ({}): uplink {uplink}, downlink {listen}, CCSDS space link (description), state {}",
            toml.display(),
            xdg.join("spacenode/ground-sat1").display()
        )),
        "{t}"
    );
    assert!(t.contains("batch 0x700000001"), "{t}");
    for i in 0..2 {
        let signed = std::fs::read(out.join(format!("payday-{i}.signed.psbt")))
            .expect("co-signed PSBT named after the batch file");
        assert_eq!(support::verify_node_signatures(&w.ground, &signed), 1);
    }

    // A flag overrides the profile: --listen elsewhere, and nothing answers there.
    let o = spacenode(&["ground", "ping", "--node", "sat1", "--attempts", "1"])
        .args(["--listen", &free_addr().to_string()])
        .output()
        .expect("ground ping");
    assert!(!o.status.success(), "{}", text(&o));
    // An unknown profile names the ones there are; a bad file says where.
    let o = spacenode(&["ground", "status", "--node", "sat9"])
        .output()
        .expect("ground status");
    assert!(text(&o).contains("no node profile `sat9`") && text(&o).contains("it has: sat1"));
    std::fs::write(&toml, "[node.sat1]\nuplink = 47101\n").expect("bad toml");
    let o = spacenode(&["ground", "status", "--node", "sat1"])
        .output()
        .expect("ground status");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("{}:2:10", toml.display())),
        "{}",
        text(&o)
    );
    no_comms_restart(&mut node);
}

/// Issue 13 finding 8: a run that gave up after delivering its batch leaves its result on
/// the way down; the next run's receiver gets it first. That result is named as another
/// batch's, and only this batch's result is reported as received (the old tool printed a
/// stale "result received" line in the middle of the later upload).
#[test]
fn an_abandoned_run_s_result_is_not_reported_as_the_next_batch_s() {
    let _one = one_board();
    let s = setup(40);
    let mut node = s.boot(2000);
    let mut first = Running::start(&mut s.sign(&s.w.psbts[..5], 2000));
    // The signer is at work on 5 PSBTs: the operator gives up (the ground is gone), and
    // sends a large batch at 100 kbit/s, whose upload takes seconds: the first batch's
    // result comes down meanwhile.
    first.wait_for("batch delivered");
    let _ = first.child.kill();
    let _ = first.finish();
    let o = s.sign(&s.w.psbts[5..], 100).output().expect("ground sign");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    node.drain();
    let t = format!("{t}\nnode:\n{}", node.log.join("\n"));
    assert!(
        t.contains("a result of batch 0x700000001 (an earlier run) came down; still waiting"),
        "the first batch's result came down during the second run:\n{t}"
    );
    assert_eq!(t.matches("result received").count(), 1, "{t}");
    assert!(
        t.contains("batch 0x700000002 (certificate sequence 2) co-signed"),
        "{t}"
    );
    no_comms_restart(&mut node);
}
