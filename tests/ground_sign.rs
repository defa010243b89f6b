//! Whole-system test of `spacenode ground sign`: real `spacenode run` processes on the sim board,
//! the radio through the link emulator at 10 % seeded loss each way, real UDP, and the signer
//! provisioned through its inbox (as `spacenode provision` does) with a ground server and a
//! 2-of-3 wallet built from the node's own exported key (the signer's test fixture).
//!
//! 1. A batch of 3 PSBTs is co-signed end to end; each output carries a valid signature by the
//!    node's key (checked with rust-bitcoin and libsecp256k1); the same certificate sequence
//!    sent again is refused with the signer's replay reason, what happened and how to recover;
//!    `--next-sequence` recovers a lost ground state, and is refused backwards or past the
//!    node's step bound, which the node enforces itself too.
//! 2. With no node, the tool says the node is unreachable (after its ping attempts).
//! 3. The node is killed mid-upload and started again on the same state: the upload resumes
//!    from the receiver's journal (fewer bytes re-sent than the file) and the batch is signed.
//! 4. Mission time (issue 14 point 1) in the real partitions: a node never correlated refuses a
//!    certificate that expires; `ground time` correlates it; a replayed or backwards
//!    correlation is refused; expiry is checked on mission time, which resumes from flash after
//!    the node is stopped and started again.
//! 5. The node is killed after the upload, before its answer (issue 13 finding 4): restarted,
//!    it refuses the unanswered batch as abandoned instead of signing it on its own; a ground
//!    still waiting sends it again and gets it co-signed; with the ground gone, two more boots
//!    never feed it to the signer.
//! 6. In safe mode (the signer off) a batch is refused at once, in words, with exit 1 (a
//!    refusal), not a timeout.
//!
//! Every wait is bounded; nothing asserts how fast anything happens.

#[path = "../components/signer/tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

mod common;

use board_sim::flash::SimFlash;
use board_sim::monitor::devices::FLASH_IMAGE_SIZE;
use common::{BOUND, Board, free_addr, max_resets, number_after, one_board, text, write_secret};
use signer::descriptor::ScriptType;
use signer::keys::SealKey;
use signer::node::Signer;
use signer::wallet::Network;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SERVER: u32 = 7;
/// The documented pattern: allow within limits, deny the rest.
const RULES: &str = "rule allow max-amount=5000000 max-fee=50000\nrule deny";

/// The sim radio of these tests: 10 % loss each way (seed 7), 2 ms latency, `kbps`.
fn radio(kbps: u32) -> Vec<String> {
    [
        "--radio-loss",
        "0.1",
        "--radio-seed",
        "7",
        "--radio-latency-ms",
        "2",
        "--radio-kbps",
    ]
    .iter()
    .map(ToString::to_string)
    .chain([kbps.to_string()])
    .collect()
}

/// The signer's keys on the node's key flash, its provisioning in the inbox, and the ground's
/// wallet, key file and PSBTs (`count` of them) in `dir`.
struct World {
    ground: support::Ground,
    key_file: PathBuf,
    psbts: Vec<PathBuf>,
}

fn provision(state: &Path, dir: &Path, count: u32) -> World {
    std::fs::create_dir_all(state).expect("state dir");
    let image = state.join("key-flash.flash");
    let (ground, text) = {
        let image = image.clone();
        support::big_stack(move || {
            let flash = SimFlash::open_or_create(&image, FLASH_IMAGE_SIZE).expect("key flash");
            let s = Signer::boot(
                flash,
                signer::persist::SignerLayout::contiguous(0),
                &SealKey::new(board_sim::drivers::SIM_SEAL_SECRET),
                &mut support::TestRng(0x5eed_0001),
            )
            .expect("signer first boot")
            .0;
            let g = support::Ground::new(&s, SERVER, Network::Regtest, ScriptType::Wsh, 3, 11);
            let text = support::provisioning(&[], 0, &[(&g, RULES)]);
            (g, text)
        })
    };
    let mut flash: SimFlash = SimFlash::open_or_create(&image, FLASH_IMAGE_SIZE).expect("reopen");
    signer_partition::inbox::write(&mut flash, &text).expect("inbox");
    let key_file = dir.join("server.key");
    write_secret(
        &key_file,
        &(support::hex(&ground.cert_key.to_bytes()) + "\n"),
    );
    let psbts = (0..count)
        .map(|i| {
            let p = support::psbt(
                &ground,
                &support::Spend::simple(1_000_000 + u64::from(i), 400_000, 1_000, 20 + i),
            );
            let path = dir.join(format!("tx{i}.psbt"));
            std::fs::write(&path, p).expect("psbt");
            path
        })
        .collect();
    World {
        ground,
        key_file,
        psbts,
    }
}

/// `ground sign` with certificates that never expire (the registry allows it): these tests
/// are about the link; mission time has its own test below.
fn sign_cmd(
    uplink: SocketAddr,
    ground: SocketAddr,
    state: &Path,
    key: &Path,
    psbts: &[PathBuf],
    out: &Path,
    kbps: u32,
) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spacenode"));
    c.args([
        "ground",
        "sign",
        "--no-expiry",
        "--timeout-ms",
        "500",
        "--attempts",
        "8",
    ])
    .arg("--node")
    .arg(uplink.to_string())
    .arg("--listen")
    .arg(ground.to_string())
    .arg("--state")
    .arg(state)
    .args(["--server", &SERVER.to_string()])
    .arg("--key")
    .arg(key)
    .arg("--out")
    .arg(out)
    .args(["--rate-kbps", &kbps.to_string()])
    .args(psbts);
    c
}

fn check_signed(w: &World, out: &Path) {
    for p in &w.psbts {
        let name = format!(
            "{}.signed.psbt",
            p.file_stem().expect("stem").to_string_lossy()
        );
        let signed = std::fs::read(out.join(&name)).expect("co-signed PSBT written");
        assert_eq!(support::verify_node_signatures(&w.ground, &signed), 1);
    }
}

#[test]
fn a_batch_is_co_signed_over_a_lossy_link_and_its_replay_refused() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, ground_state, out) = (
        dir.path().join("node"),
        dir.path().join("ground"),
        dir.path().join("out"),
    );
    std::fs::create_dir_all(&out).expect("out");
    let w = provision(&state, dir.path(), 3);
    let (uplink, listen) = (free_addr(), free_addr());
    let mut node = Board::boot(&state, uplink, listen, &radio(2000));

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
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("node reached") && t.contains("batch delivered"),
        "{t}"
    );
    assert!(t.contains("co-signed in"), "{t}");
    check_signed(&w, &out);
    eprintln!("{t}");

    // The identical batch again (same sequence, same PSBTs) is a resubmission: the signer
    // answers with the same signatures.
    std::fs::write(ground_state.join(format!("server-{SERVER}.seq")), "0\n").expect("seq");
    std::fs::remove_dir_all(&out).expect("clear");
    std::fs::create_dir_all(&out).expect("out");
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
    assert!(o.status.success(), "{}", text(&o));
    check_signed(&w, &out);

    // The same certificate sequence on other contents: a replay, refused with the reason.
    std::fs::write(ground_state.join(format!("server-{SERVER}.seq")), "0\n").expect("seq");
    let o = sign_cmd(
        uplink,
        listen,
        &ground_state,
        &w.key_file,
        &w.psbts[..2],
        &out,
        2000,
    )
    .output()
    .expect("ground sign");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("replayed sequence number"), "{t}");
    assert!(
        t.contains("this ground's record of its last sequence"),
        "{t}"
    );
    assert!(t.contains("--next-sequence N"), "{t}");
    recover_the_certificate_sequence(&w, uplink, listen, &ground_state, &out);

    // A payment above the server's max-amount: refused by policy, and the tool says so.
    let big = dir.path().join("big.psbt");
    std::fs::write(
        &big,
        support::psbt(
            &w.ground,
            &support::Spend::simple(7_000_000, 6_000_000, 1_000, 40),
        ),
    )
    .expect("psbt");
    let o = sign_cmd(
        uplink,
        listen,
        &ground_state,
        &w.key_file,
        std::slice::from_ref(&big),
        &out,
        2000,
    )
    .output()
    .expect("ground sign");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    // The deny rule decided; the refusal names the limit of the allow rule above it, the
    // PSBT's file and what to do.
    assert!(
        t.contains(&format!(
            "policy: rule 1 (a deny rule) decided; the nearest allow rule, rule 0, failed: the outflow (payments plus fee) is over its max-amount; PSBT 0 ({}). What to do: keep the transaction within that limit",
            big.display()
        )),
        "{t}"
    );

    // Issue 15 point 7: nothing the operator reads, from the ground or in the node's log of
    // all the above (boot, batches, a replay, a policy refusal), is Rust debug formatting.
    let mut ground_out = String::from_utf8_lossy(&o.stdout).into_owned();
    ground_out.push_str(&String::from_utf8_lossy(&o.stderr));
    for cmd in ["ping", "status"] {
        let o = common::ground_cli(cmd, uplink, listen, &ground_state);
        assert!(o.status.success(), "{}", text(&o));
        ground_out.push_str(&String::from_utf8_lossy(&o.stdout));
        ground_out.push_str(&String::from_utf8_lossy(&o.stderr));
    }
    no_comms_restart(&mut node);
    common::assert_no_debug_formatting("spacenode ground", ground_out.lines());
    common::assert_no_debug_formatting("the node's log", node.log.iter().map(String::as_str));
    // One format for batch ids: hex, as the ground prints them (`batch 0x700000001`).
    let decimal_id = |l: &&String| {
        l.split("batch ")
            .skip(1)
            .any(|r| r.starts_with(|c: char| c.is_ascii_digit()) && !r.starts_with("0x"))
    };
    let decimal: Vec<&String> = node.log.iter().filter(decimal_id).collect();
    assert!(decimal.is_empty(), "decimal batch ids: {decimal:#?}");
}

/// Issue 15 point 4 and issue 13 finding 5 for certificate sequences, on the node of the first
/// test (its last accepted sequence for the server is 1, the ground's record 1):
/// `--next-sequence` going backwards or past the node's step bound is refused before anything
/// is sent; a sequence far above the node's last (a hand-edited record) is refused by the node
/// with its own reason; a ground whose state was lost is told how to recover and recovers with
/// `--next-sequence`.
fn recover_the_certificate_sequence(
    w: &World,
    uplink: SocketAddr,
    listen: SocketAddr,
    ground_state: &Path,
    out: &Path,
) {
    let sign = |extra: &[String]| {
        let o = sign_cmd(
            uplink,
            listen,
            ground_state,
            &w.key_file,
            &w.psbts[..1],
            out,
            2000,
        )
        .args(extra)
        .output()
        .expect("ground sign");
        (o.status.code(), text(&o))
    };
    let next = |n: u64| vec!["--next-sequence".to_string(), n.to_string()];
    let step = signer::cert::MAX_SEQUENCE_STEP;
    let (code, t) = sign(&next(1));
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("would go backwards"), "{t}");
    assert!(!t.contains("node reached"), "nothing sent: {t}");
    let (code, t) = sign(&next(2 + step));
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("the node refuses such a step"), "{t}");
    assert!(!t.contains("node reached"), "nothing sent: {t}");
    let record = ground_state.join(format!("server-{SERVER}.seq"));
    assert_eq!(std::fs::read_to_string(&record).expect("record"), "1\n");

    // A hand-edited record far ahead: the node refuses the step itself.
    std::fs::write(&record, format!("{}\n", 1 + step)).expect("seq");
    let (code, t) = sign(&[]);
    assert_eq!(code, Some(1), "{t}");
    assert!(
        t.contains("more than 2^20 above the last one accepted"),
        "{t}"
    );

    // A step within the bound is taken.
    std::fs::write(&record, "1\n").expect("seq");
    let (code, t) = sign(&next(5));
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("(certificate sequence 5)"), "{t}");

    // The ground's state is lost: replayed, with the way out, which works.
    std::fs::remove_file(&record).expect("lose the record");
    let (code, t) = sign(&[]);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("replayed sequence number"), "{t}");
    assert!(t.contains("to recover:"), "{t}");
    let (code, t) = sign(&next(6));
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("(certificate sequence 6)"), "{t}");
}

/// The watchdog never had to restart comms: its handler kept answering pings throughout.
fn no_comms_restart(node: &mut Board) {
    node.drain();
    assert!(
        !node
            .log
            .iter()
            .any(|l| l.contains("requesting restart of comms")),
        "{}",
        node.log.join("\n")
    );
}

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
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, ground_state, out) = (
        dir.path().join("node"),
        dir.path().join("ground"),
        dir.path().join("out"),
    );
    std::fs::create_dir_all(&out).expect("out");
    let w = provision(&state, dir.path(), 40);
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
fn a_large_batch_crosses_while_comms_keeps_answering_and_a_wrong_key_is_named() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, ground_state, out) = (
        dir.path().join("node"),
        dir.path().join("ground"),
        dir.path().join("out"),
    );
    std::fs::create_dir_all(&out).expect("out");
    let w = provision(&state, dir.path(), 1);
    // The largest count a certificate takes, signed with a key the signer does not know.
    let psbts = vec![w.psbts[0].clone(); signer::cert::MAX_PSBTS];
    let wrong = dir.path().join("wrong.key");
    write_secret(&wrong, &support::hex(&support::p256_key(99).to_bytes()));
    let (uplink, listen) = (free_addr(), free_addr());
    let mut node = Board::boot(&state, uplink, listen, &radio(2000));
    let o = sign_cmd(uplink, listen, &ground_state, &wrong, &psbts, &out, 2000)
        .output()
        .expect("ground sign");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("does not match the server's key (wrong --key?)"),
        "{t}"
    );
    let size = number_after(&t, "batch 0x700000001:");
    assert!(size > 700 * 1024, "{t}");
    eprintln!("{t}");
    no_comms_restart(&mut node);
}

/// A `ground sign` of `w`'s PSBTs running in the background, and its stdout lines.
struct Running {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(c: &mut Command) -> Running {
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ground sign");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) for a line starting with `what`.
    fn wait_for(&mut self, what: &str) {
        let deadline = Instant::now() + BOUND;
        while !self.seen.iter().any(|l| l.starts_with(what)) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no `{what}`:\n{}", self.seen.join("\n")));
            self.seen.push(line);
        }
    }

    /// Its exit status and everything it printed.
    fn finish(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().expect("ground sign");
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(1)) {
            self.seen.push(l);
        }
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        (status, format!("{}\n{err}", self.seen.join("\n")))
    }
}

/// The node's log lines after the last line containing `mark`.
fn log_after<'a>(node: &'a Board, mark: &str) -> &'a [String] {
    let at = node.log.iter().rposition(|l| l.contains(mark)).unwrap_or(0);
    &node.log[at..]
}

#[test]
fn a_batch_abandoned_by_a_reset_is_refused_and_signed_only_when_the_ground_sends_it_again() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, ground_state, out) = (
        dir.path().join("node"),
        dir.path().join("ground"),
        dir.path().join("out"),
    );
    std::fs::create_dir_all(&out).expect("out");
    let w = provision(&state, dir.path(), 80);
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
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, ground_state, out) = (
        dir.path().join("node"),
        dir.path().join("ground"),
        dir.path().join("out"),
    );
    std::fs::create_dir_all(&out).expect("out");
    let w = provision(&state, dir.path(), 1);
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
    assert!(t.contains("nothing was signed"), "{t}");
    assert!(!t.contains("timed out"), "{t}");
    node.wait_for("refused at once, nothing signed: the node is in safe mode");
}

#[test]
fn a_node_gone_for_good_mid_upload_is_a_timeout_that_says_how_far_it_got() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, ground_state, out) = (
        dir.path().join("node"),
        dir.path().join("ground"),
        dir.path().join("out"),
    );
    std::fs::create_dir_all(&out).expect("out");
    let w = provision(&state, dir.path(), 40);
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

/// `spacenode ground ARGS` with the test's link flags (patient: the machine may be loaded).
fn ground_cmd(uplink: SocketAddr, listen: SocketAddr, state: &Path, args: &[&str]) -> Command {
    let mut all = args.to_vec();
    all.extend(["--timeout-ms", "1000", "--attempts", "10"]);
    common::ground_command(&all, uplink, listen, state)
}

fn ground_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

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
            "node `sat1` ({}): uplink {uplink}, downlink {listen}, state {}",
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
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, ground_state, out) = (
        dir.path().join("node"),
        dir.path().join("ground"),
        dir.path().join("out"),
    );
    std::fs::create_dir_all(&out).expect("out");
    let w = provision(&state, dir.path(), 40);
    let (uplink, listen) = (free_addr(), free_addr());
    let mut node = Board::boot(&state, uplink, listen, &radio(2000));
    let mut first = sign_cmd(
        uplink,
        listen,
        &ground_state,
        &w.key_file,
        &w.psbts[..5],
        &out,
        2000,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("ground sign");
    let stdout = first.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    // The signer is at work on 5 PSBTs: the operator gives up (the ground is gone), and
    // sends a large batch at 100 kbit/s, whose upload takes seconds: the first batch's
    // result comes down meanwhile.
    assert!(
        lines.any(|l| l.starts_with("batch delivered")),
        "the first batch was never delivered"
    );
    let _ = first.kill();
    let _ = first.wait();
    let o = sign_cmd(
        uplink,
        listen,
        &ground_state,
        &w.key_file,
        &w.psbts[5..],
        &out,
        100,
    )
    .output()
    .expect("ground sign");
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

/// `spacenode ground ARGS` on the standby serial line `pty` (PPP), with the state of the radio
/// commands (one ground, one sequence of ARSNs across both links).
fn serial_cmd(pty: &Path, state: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spacenode"));
    c.arg("ground")
        .args(args)
        .arg("--link")
        .arg(format!("serial:{}", pty.display()))
        .arg("--state")
        .arg(state)
        .args(["--timeout-ms", "1000", "--attempts", "4"]);
    c
}

/// The `links: active ...` line of `ground status` output.
fn active_link(t: &str) -> &str {
    t.lines()
        .find(|l| l.starts_with("links: active"))
        .unwrap_or("no links line")
}

#[test]
fn with_the_radio_cut_a_batch_is_co_signed_over_ppp_and_the_node_fails_back_when_it_returns() {
    use common::standby::{RadioRelay, pty_path};
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, ground_state, out) = (
        dir.path().join("node"),
        dir.path().join("ground"),
        dir.path().join("out"),
    );
    std::fs::create_dir_all(&out).expect("out");
    let w = provision(&state, dir.path(), 2);
    let (node_radio, listen) = (free_addr(), free_addr());
    let relay = RadioRelay::start(node_radio, listen);
    let no_args: [&str; 0] = [];
    let mut node = Board::boot(&state, node_radio, relay.downlink, &no_args);
    node.wait_for("serial line, ground side at ");
    let pty = pty_path(&node.log);
    let radio = |args: &[&str]| {
        ground_cmd(relay.uplink, listen, &ground_state, args)
            .output()
            .expect("ground on the radio")
    };
    let serial = |args: &[&str]| {
        serial_cmd(&pty, &ground_state, args)
            .output()
            .expect("ground on the serial line")
    };

    // The radio works: a ping on it makes it the active link.
    let o = radio(&["ping"]);
    assert!(o.status.success(), "{}", text(&o));

    // Radio cut: the radio is dead both ways...
    relay.set_cut(true);
    let o = ground_cmd(relay.uplink, listen, &ground_state, &["ping"])
        .args(["--attempts", "1"])
        .output()
        .expect("ground ping");
    assert!(!o.status.success(), "{}", text(&o));
    // ...and the batch is co-signed over PPP on the standby line.
    let o = serial_cmd(&pty, &ground_state, &["sign", "--no-expiry"])
        .args(["--server", &SERVER.to_string()])
        .arg("--key")
        .arg(&w.key_file)
        .arg("--out")
        .arg(&out)
        .args(&w.psbts)
        .output()
        .expect("ground sign over the serial line");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("standby serial line") && t.contains("(PPP)"),
        "{t}"
    );
    assert!(t.contains("co-signed in"), "{t}");
    check_signed(&w, &out);

    // The node fails over to the standby link once the radio has been silent long enough
    // (10 s): asked on the serial line, answered on it.
    let deadline = Instant::now() + BOUND;
    let mut t = String::new();
    while Instant::now() < deadline {
        let o = serial(&["status"]);
        t = text(&o);
        assert!(o.status.success(), "{t}");
        if active_link(&t).starts_with("links: active standby") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(active_link(&t).starts_with("links: active standby"), "{t}");

    // Radio back: commands on it are answered on it at once, while the standby stays active
    // until the radio has been up for the hysteresis (30 s); then the node switches back. The
    // ground keeps using the standby line meanwhile (a ping on it, answered on it, each round),
    // so the standby never falls silent, which would be a reason to switch back at once.
    relay.set_cut(false);
    let back = Instant::now();
    let deadline = back + Duration::from_secs(90);
    let mut switched = None;
    let mut t = String::new();
    while Instant::now() < deadline {
        let o = serial(&["ping"]);
        assert!(o.status.success(), "{}", text(&o));
        let o = radio(&["status"]);
        t = text(&o);
        assert!(o.status.success(), "{t}");
        if active_link(&t).starts_with("links: active primary") {
            switched = Some(back.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let Some(switched) = switched else {
        panic!("the node did not switch back to the radio within 90 s:\n{t}");
    };
    assert!(
        switched >= Duration::from_secs(25),
        "back after {switched:?}"
    );
    // A command on the standby line is still answered on it while the radio is active.
    let o = serial(&["ping"]);
    assert!(o.status.success(), "{}", text(&o));
    eprintln!("switched back to the radio {switched:?} after it returned");
    no_comms_restart(&mut node);
    node.stop();
}
