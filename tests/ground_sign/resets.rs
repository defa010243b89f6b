//! Points 2, 3, 5 and 6 of the module docs: an unreachable node, an upload cut by a reset, an
//! abandoned batch, safe mode, and a node gone for good.

use super::*;

#[test]
fn an_unreachable_node_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = World {
        ground: support::big_stack(|| {
            let s = support::boot(support::new_flash().0);
            support::Ground::new(&s, SERVER, Network::Regtest, ScriptType::Wsh, 3, 11)
        }),
        key_file: dir.path().join("k"),
        psbts: Vec::new(),
    };
    write_secret(&w.key_file, &support::hex(&w.ground.cert_key.to_bytes()));
    let p = dir.path().join("a.psbt");
    std::fs::write(
        &p,
        support::psbt(&w.ground, &support::Spend::simple(1_000_000, 1000, 100, 1)),
    )
    .expect("psbt");
    let w = World {
        psbts: vec![p],
        ..w
    };
    // Nothing listens at the node's address.
    let o = Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(["ground", "sign", "--timeout-ms", "100", "--attempts", "2"])
        .arg("--node")
        .arg(free_addr().to_string())
        .arg("--listen")
        .arg(free_addr().to_string())
        .arg("--state")
        .arg(dir.path().join("g"))
        .args(["--server", &SERVER.to_string()])
        .arg("--key")
        .arg(&w.key_file)
        .args(&w.psbts)
        .output()
        .expect("ground sign");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("node unreachable") && t.contains("2 attempts"),
        "{t}"
    );
}

#[test]
fn an_upload_cut_by_a_node_reset_resumes() {
    let _one = one_board();
    let s = setup(40);
    // A slow radio, so that the upload takes a while, on the default link (CCSDS frames).
    let kbps = 160;
    let node = s.boot(kbps);
    let mut ground = Running::start(&mut s.sign(&s.w.psbts, kbps));
    ground.wait_until("upload at 30 % or more", |l| {
        l.starts_with("upload") && number_after(l, "upload") >= 30
    });
    node.kill();
    let mut node = s.boot(kbps);
    node.wait_for("CFDP: resuming a transfer");
    let resumed = node
        .log
        .iter()
        .find(|l| l.contains("CFDP: resuming a transfer"))
        .cloned()
        .unwrap_or_default();
    assert!(number_after(&resumed, "transfer,") > 0, "{resumed}");

    let (status, all) = ground.finish();
    assert!(status.success(), "{all}");
    check_signed(&s.w, &s.out);
    // CFDP's resume: the ground re-sends what the node did not hold when it restarted, the
    // link's losses of that again, and the losses before the reset. The file goes on type-BD
    // frames (CFDP repairs its own losses): on type-AD frames, behind FOP-1's window and its
    // Set V(R) after the reboot, the node's next NAKs asked again for ranges still queued, and
    // the ground re-sent 30,228 bytes for 12,579 not held (bound 29,020).
    let file = number_after(&all, "up ");
    let held = number_after(&resumed, "transfer,");
    let resent = number_after(&all, "PDUs (");
    let bound = 2 * (file - held) + file / 8;
    assert!(
        resent <= bound,
        "re-sent {resent} of {file} with {held} held (bound {bound}):\n{all}"
    );
    eprintln!("{resumed}\n{all}\nre-sent {resent} bytes, bound {bound}");
    no_comms_restart(&mut node);
}

#[test]
fn a_batch_abandoned_by_a_reset_is_refused_and_signed_only_when_the_ground_sends_it_again() {
    let _one = one_board();
    let s = setup(80);
    let node = s.boot(2000);
    let mut ground = Running::start(&mut s.sign(&s.w.psbts, 2000));
    ground.wait_for("batch delivered");
    // The signer is at work on 80 PSBTs: cut the power now, with the ground still waiting.
    // The restarted node refuses the file it had not answered as abandoned (it does not feed
    // it to the signer on its own); the ground, still there, sends the identical batch again.
    node.kill();
    let mut node = s.boot(2000);
    node.wait_for("not answered before the reset: it is refused as abandoned");
    let (status, all) = ground.finish();
    eprintln!("{all}");
    assert!(status.success(), "{all}");
    check_signed(&s.w, &s.out);
    no_comms_restart(&mut node);
    node.stop();

    // Again, but the ground gives up before the node comes back: nothing signs it later.
    s.clear_out();
    let node = s.boot(2000);
    let mut ground = Running::start(&mut s.sign(&s.w.psbts, 2000));
    ground.wait_for("batch delivered");
    let _ = ground.child.kill();
    node.kill();
    let _ = ground.finish();
    for _ in 0..2 {
        let mut node = s.boot(2000);
        node.wait_for("[signer] INFO  keys");
        std::thread::sleep(Duration::from_secs(3));
        node.drain();
        let after = log_after(&node, "[comms] INFO  SA 2:");
        assert!(
            !after.iter().any(|l| l.contains("bytes received, signing")),
            "the abandoned batch went to the signer:\n{}",
            node.log.join("\n")
        );
        node.stop();
    }
    assert!(
        std::fs::read_dir(&s.out).expect("out").next().is_none(),
        "nothing written"
    );
}

#[test]
fn a_batch_for_a_node_in_safe_mode_is_refused_at_once_in_words() {
    let _one = one_board();
    let s = setup(1);
    // A power cut after a first boot, then `max-resets` more: the next boot is safe mode.
    let mut b = s.boot(2000);
    b.wait_for("every pinged component answered in time");
    b.kill();
    for _ in 0..max_resets() {
        let mut b = s.boot(2000);
        b.wait_for("counted as a reset");
        b.kill();
    }
    let mut node = s.boot(2000);
    node.wait_for("SAFE MODE: only safe-mode components start");
    let o = s.sign(&s.w.psbts, 2000).output().expect("ground sign");
    let t = text(&o);
    eprintln!("{t}");
    assert_eq!(o.status.code(), Some(1), "a refusal, not a timeout: {t}");
    assert!(
        t.contains("the signer cannot sign now (the node is in safe mode"),
        "{t}"
    );
    assert!(
        t.contains("the node refused batch"),
        "comms refused it, not the signer: {t}"
    );
    assert!(t.contains("nothing was signed"), "{t}");
    assert!(!t.contains("timed out"), "{t}");
    node.wait_for("refused at once, nothing signed: the node is in safe mode");
}

#[test]
fn a_node_gone_for_good_mid_upload_is_a_timeout_that_says_how_far_it_got() {
    let _one = one_board();
    let s = setup(40);
    let kbps = 64;
    let node = s.boot(kbps);
    let mut cmd = s.sign(&s.w.psbts, kbps);
    cmd.args(["--deadline-s", "4"]);
    let mut ground = Running::start(&mut cmd);
    ground.wait_until("node reached", |l| l.contains("node reached"));
    node.kill();
    let (status, all) = ground.finish();
    assert_eq!(status.code(), Some(2), "{all}");
    assert!(
        all.contains("timed out") && all.contains("bytes confirmed by the node"),
        "{all}"
    );
    eprintln!("{all}");
}
