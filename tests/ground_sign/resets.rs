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
    let Setup {
        dir: _dir,
        state,
        ground_state,
        out,
        w,
    } = setup(40);
    let (uplink, listen) = (free_addr(), free_addr());
    // A slow radio, so that the upload takes a while.
    let kbps = 160;
    let node = Board::boot(&state, uplink, listen, &radio(kbps));

    let mut ground = sign_cmd(
        uplink,
        listen,
        &ground_state,
        &w.key_file,
        &w.psbts,
        &out,
        kbps,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("ground sign");
    let stdout = ground.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + BOUND;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no upload progress:\n{}", seen.join("\n")));
        seen.push(line.clone());
        if line.starts_with("upload") && number_after(&line, "upload") >= 30 {
            break;
        }
    }
    node.kill();
    let mut node = Board::boot(&state, uplink, listen, &radio(kbps));
    node.wait_for("CFDP: resuming a transfer");
    let resumed = node
        .log
        .iter()
        .find(|l| l.contains("CFDP: resuming a transfer"))
        .cloned()
        .unwrap_or_default();
    assert!(number_after(&resumed, "transfer,") > 0, "{resumed}");

    let status = ground.wait().expect("ground sign");
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(1)) {
        seen.push(l);
    }
    let mut err = String::new();
    if let Some(mut e) = ground.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    let all = format!("{}\n{err}", seen.join("\n"));
    assert!(status.success(), "{all}");
    check_signed(&w, &out);
    let file = number_after(&all, "up ");
    let resent = number_after(&all, "PDUs (");
    assert!(resent < file, "re-sent {resent} of {file}:\n{all}");
    eprintln!("{resumed}\n{all}");
    no_comms_restart(&mut node);
}

#[test]
fn a_batch_abandoned_by_a_reset_is_refused_and_signed_only_when_the_ground_sends_it_again() {
    let _one = one_board();
    let Setup {
        dir: _dir,
        state,
        ground_state,
        out,
        w,
    } = setup(80);
    let (uplink, listen) = (free_addr(), free_addr());
    let node = Board::boot(&state, uplink, listen, &radio(2000));
    let mut ground = Running::start(&mut sign_cmd(
        uplink,
        listen,
        &ground_state,
        &w.key_file,
        &w.psbts,
        &out,
        2000,
    ));
    ground.wait_for("batch delivered");
    // The signer is at work on 80 PSBTs: cut the power now, with the ground still waiting.
    // The restarted node refuses the file it had not answered as abandoned (it does not feed
    // it to the signer on its own); the ground, still there, sends the identical batch again.
    node.kill();
    let mut node = Board::boot(&state, uplink, listen, &radio(2000));
    node.wait_for("not answered before the reset: it is refused as abandoned");
    let (status, all) = ground.finish();
    eprintln!("{all}");
    assert!(status.success(), "{all}");
    check_signed(&w, &out);
    no_comms_restart(&mut node);
    node.stop();

    // Again, but the ground gives up before the node comes back: nothing signs it later.
    std::fs::remove_dir_all(&out).expect("clear");
    std::fs::create_dir_all(&out).expect("out");
    let node = Board::boot(&state, uplink, listen, &radio(2000));
    let mut ground = Running::start(&mut sign_cmd(
        uplink,
        listen,
        &ground_state,
        &w.key_file,
        &w.psbts,
        &out,
        2000,
    ));
    ground.wait_for("batch delivered");
    let _ = ground.child.kill();
    node.kill();
    let _ = ground.finish();
    for _ in 0..2 {
        let mut node = Board::boot(&state, uplink, listen, &radio(2000));
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
        std::fs::read_dir(&out).expect("out").next().is_none(),
        "nothing written"
    );
}

#[test]
fn a_batch_for_a_node_in_safe_mode_is_refused_at_once_in_words() {
    let _one = one_board();
    let Setup {
        dir: _dir,
        state,
        ground_state,
        out,
        w,
    } = setup(1);
    let (uplink, listen) = (free_addr(), free_addr());
    // A power cut after a first boot, then `max-resets` more: the next boot is safe mode.
    let mut b = Board::boot(&state, uplink, listen, &radio(2000));
    b.wait_for("every pinged component answered in time");
    b.kill();
    for _ in 0..max_resets() {
        let mut b = Board::boot(&state, uplink, listen, &radio(2000));
        b.wait_for("counted as a reset");
        b.kill();
    }
    let mut node = Board::boot(&state, uplink, listen, &radio(2000));
    node.wait_for("SAFE MODE: only safe-mode components start");
    let o = sign_cmd(
        uplink,
        listen,
        &ground_state,
        &w.key_file,
        &w.psbts,
        &out,
        2000,
    )
    .output()
    .expect("ground sign");
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
    let Setup {
        dir: _dir,
        state,
        ground_state,
        out,
        w,
    } = setup(40);
    let (uplink, listen) = (free_addr(), free_addr());
    let kbps = 64;
    let node = Board::boot(&state, uplink, listen, &radio(kbps));
    let mut cmd = sign_cmd(
        uplink,
        listen,
        &ground_state,
        &w.key_file,
        &w.psbts,
        &out,
        kbps,
    );
    cmd.args(["--deadline-s", "4"]);
    let mut ground = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ground sign");
    let stdout = ground.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("no output"));
    assert!(first.contains("node reached"), "{first}");
    node.kill();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = ground.wait().expect("ground sign");
    let mut err = String::new();
    if let Some(mut e) = ground.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    let all = format!("{first}\n{}\n{err}", rest.join("\n"));
    assert_eq!(status.code(), Some(2), "{all}");
    assert!(
        err.contains("timed out") && err.contains("bytes confirmed by the node"),
        "{all}"
    );
    eprintln!("{all}");
}
