//! Goodput of `spacenode ground sign` on the standby serial line (issue 16, item 6): a node under
//! `spacenode run` with the sim line model at 115,200 baud 8N1 and a 1e-5 bit error rate
//! (`--serial-baud 115200 --serial-ber 1e-5`), its signer provisioned as in
//! `tests/ground_sign`, and `spacenode ground sign --link serial:PTY` co-signing a batch of
//! PSBTs over PPP. Measured: from the ground's `batch ...: N bytes` line (the batch is built and
//! its uplink starts) to its `batch delivered` line (every byte confirmed by the node's CFDP
//! receiver): N batch bytes in that time is the goodput.
//!
//! Baseline, measured in the same run (`line_alone`): the same N bytes written into a clean
//! `board_sim::serial_line::SerialLine` at 115,200 baud and read at the far end; that is the
//! line model's own time for the bytes, to compare with the ideal N * 10 / 115,200 s.
//!
//!     cargo bench --bench serial_goodput -- --warm-up-time 1 --measurement-time 3
//!
//! The node boots once (outside the measured time); each sample is one `ground sign` (its PPP
//! set-up is outside the measured span). Not run by CI.

#[path = "../components/signer/tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

#[path = "../tests/common/mod.rs"]
mod common;

/// `provision` (the node's signer and the ground's wallet, key and PSBTs), shared with the
/// whole-system tests.
#[path = "../tests/ground_sign/setup.rs"]
#[allow(dead_code)]
mod setup;

use board_sim::flash::SimFlash;
use board_sim::monitor::devices::FLASH_IMAGE_SIZE;
use board_sim::serial_line::{LineConfig, SerialLine};
use common::{BOUND, Board, free_addr, write_secret};
use criterion::{Criterion, criterion_group, criterion_main};
use setup::provision;
use signer::descriptor::ScriptType;
use signer::keys::SealKey;
use signer::node::Signer;
use signer::wallet::Network;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BAUD: u32 = 115_200;
const SERVER: u32 = 7;
const RULES: &str = "rule allow max-amount=5000000 max-fee=50000\nrule deny";
/// PSBTs in one batch.
const BATCH: u32 = 8;

/// One `ground sign` over the serial line: (batch bytes, upload time).
fn sign_once(
    pty: &Path,
    state: &Path,
    key: &Path,
    psbts: &[PathBuf],
    out: &Path,
) -> (u64, Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(["ground", "sign", "--no-expiry", "--rate-kbps", "0"])
        .arg("--link")
        .arg(format!("serial:{}", pty.display()))
        .arg("--state")
        .arg(state)
        .args(["--server", &SERVER.to_string()])
        .arg("--key")
        .arg(key)
        .arg("--out")
        .arg(out)
        .args(psbts)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ground sign");
    let stdout = child.stdout.take().expect("stdout");
    let (mut start, mut bytes, mut delivered) = (None, 0u64, None);
    let mut log = Vec::new();
    for l in BufReader::new(stdout).lines().map_while(Result::ok) {
        if start.is_none() && l.starts_with("batch 0x") && l.contains(" bytes, uplink by CFDP") {
            start = Some(Instant::now());
            bytes = l
                .split(": ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .expect("batch size");
        }
        if delivered.is_none() && l.starts_with("batch delivered:") {
            delivered = Some(Instant::now());
        }
        log.push(l);
    }
    let status = child.wait().expect("ground sign");
    assert!(status.success(), "ground sign failed:\n{}", log.join("\n"));
    let (Some(s), Some(d)) = (start, delivered) else {
        panic!("no batch/delivered lines:\n{}", log.join("\n"));
    };
    (bytes, d - s)
}

/// `n` bytes through a clean line at [`BAUD`], written at the node end, read at the ground's.
fn line_alone(n: usize) -> Duration {
    let (mut node, path, _line) = SerialLine::pair(LineConfig::clean(Some(BAUD))).expect("line");
    let mut ground = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("ground pty");
    rustix::termios::tcsetattr(&ground, rustix::termios::OptionalActions::Now, &{
        let mut t = rustix::termios::tcgetattr(&ground).expect("tcgetattr");
        t.make_raw();
        t
    })
    .expect("raw");
    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + BOUND;
        while got < n && Instant::now() < deadline {
            got += ground.read(&mut buf).expect("read");
        }
        (got, Instant::now())
    });
    let start = Instant::now();
    for chunk in data.chunks(512) {
        let mut rest = chunk;
        while !rest.is_empty() {
            match hal::serial::Write::write(&mut node, rest) {
                Ok(k) => rest = &rest[k..],
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
    let (got, end) = reader.join().expect("reader");
    assert_eq!(got, n, "the clean line lost bytes");
    end - start
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, ground_state, out) = (
        dir.path().join("node"),
        dir.path().join("ground"),
        dir.path().join("out"),
    );
    std::fs::create_dir_all(&out).expect("out");
    let world = provision(&state, dir.path(), BATCH);
    let (key, psbts) = (world.key_file, world.psbts);
    let line = [
        "--serial-baud",
        "115200",
        "--serial-ber",
        "1e-5",
        "--serial-seed",
        "5",
    ];
    let mut node = Board::boot(&state, free_addr(), free_addr(), &line);
    node.wait_for("serial line, ground side at ");
    let pty = common::standby::pty_path(&node.log);

    let mut g = c.benchmark_group("serial_goodput");
    g.sample_size(10);
    let mut batch_bytes = 0;
    g.bench_function("ground_sign_115200_ber1e-5", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (bytes, t) = sign_once(&pty, &ground_state, &key, &psbts, &out);
                batch_bytes = bytes;
                total += t;
            }
            total
        })
    });
    let n = usize::try_from(batch_bytes).expect("size");
    g.bench_function("line_alone", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| line_alone(n)).sum())
    });
    g.finish();
    println!(
        "batch {batch_bytes} bytes; ideal at {BAUD} baud 8N1: {:.3} s ({} bytes/s)",
        batch_bytes as f64 * 10.0 / f64::from(BAUD),
        BAUD / 10
    );
    node.stop();
}

criterion_group!(benches, bench);
criterion_main!(benches);
