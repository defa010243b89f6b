//! What every test here builds on: the lossy radio, a provisioned node's world, the `ground`
//! commands with the tests' link flags, and a `ground sign` running in the background.

use super::*;

/// The sim radio of these tests: 10 % loss each way (seed 7), 2 ms latency, `kbps`.
pub(crate) fn radio(kbps: u32) -> Vec<String> {
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
pub(crate) struct World {
    pub(crate) ground: support::Ground,
    pub(crate) key_file: PathBuf,
    pub(crate) psbts: Vec<PathBuf>,
}

pub(crate) fn provision(state: &Path, dir: &Path, count: u32) -> World {
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

/// A test's directories (the node's state, the ground's state, the output), its
/// provisioned world with `count` PSBTs ([`provision`]) and the radio's two addresses.
pub(crate) struct Setup {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) state: PathBuf,
    pub(crate) ground_state: PathBuf,
    pub(crate) out: PathBuf,
    pub(crate) w: World,
    /// Where the node's radio listens.
    pub(crate) uplink: SocketAddr,
    /// Where the ground listens for the downlink.
    pub(crate) listen: SocketAddr,
}

pub(crate) fn setup(count: u32) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, ground_state, out) = (
        dir.path().join("node"),
        dir.path().join("ground"),
        dir.path().join("out"),
    );
    std::fs::create_dir_all(&out).expect("out");
    let w = provision(&state, dir.path(), count);
    Setup {
        dir,
        state,
        ground_state,
        out,
        w,
        uplink: free_addr(),
        listen: free_addr(),
    }
}

impl Setup {
    /// Boots the node on the tests' [`radio`] at `kbps`.
    pub(crate) fn boot(&self, kbps: u32) -> Board {
        Board::boot(&self.state, self.uplink, self.listen, &radio(kbps))
    }

    /// `ground sign` of `psbts` at `kbps` ([`sign_cmd`]) into this test's output directory.
    pub(crate) fn sign(&self, psbts: &[PathBuf], kbps: u32) -> Command {
        sign_cmd(
            self.uplink,
            self.listen,
            &self.ground_state,
            &self.w.key_file,
            psbts,
            &self.out,
            kbps,
        )
    }

    /// Empties the output directory, for a second run of the same batch.
    pub(crate) fn clear_out(&self) {
        std::fs::remove_dir_all(&self.out).expect("clear");
        std::fs::create_dir_all(&self.out).expect("out");
    }
}

/// `ground sign` with certificates that never expire (the registry allows it): these tests
/// are about the link; mission time has its own test below.
pub(crate) fn sign_cmd(
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

pub(crate) fn check_signed(w: &World, out: &Path) {
    for p in &w.psbts {
        let name = format!(
            "{}.signed.psbt",
            p.file_stem().expect("stem").to_string_lossy()
        );
        let signed = std::fs::read(out.join(&name)).expect("co-signed PSBT written");
        assert_eq!(support::verify_node_signatures(&w.ground, &signed), 1);
    }
}

/// The watchdog never had to restart comms: its handler kept answering pings throughout.
pub(crate) fn no_comms_restart(node: &mut Board) {
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

/// A `ground sign` of `w`'s PSBTs running in the background, and its stdout lines.
pub(crate) struct Running {
    pub(crate) child: std::process::Child,
    pub(crate) lines: mpsc::Receiver<String>,
    pub(crate) seen: Vec<String>,
}

impl Running {
    pub(crate) fn start(c: &mut Command) -> Running {
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
    pub(crate) fn wait_for(&mut self, what: &str) {
        self.wait_until(what, |l| l.starts_with(what));
    }

    /// Waits (bounded) for a line that `ok` accepts; `what` names it in the panic.
    pub(crate) fn wait_until(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + BOUND;
        loop {
            if let Some(l) = self.seen.iter().find(|l| ok(l)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no `{what}`:\n{}", self.seen.join("\n")));
            self.seen.push(line);
        }
    }

    /// Its exit status and everything it printed.
    pub(crate) fn finish(mut self) -> (std::process::ExitStatus, String) {
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
pub(crate) fn log_after<'a>(node: &'a Board, mark: &str) -> &'a [String] {
    let at = node.log.iter().rposition(|l| l.contains(mark)).unwrap_or(0);
    &node.log[at..]
}

/// `spacenode ground ARGS` with the test's link flags (patient: the machine may be loaded).
pub(crate) fn ground_cmd(
    uplink: SocketAddr,
    listen: SocketAddr,
    state: &Path,
    args: &[&str],
) -> Command {
    let mut all = args.to_vec();
    all.extend(["--timeout-ms", "1000", "--attempts", "10"]);
    common::ground_command(&all, uplink, listen, state)
}

pub(crate) fn ground_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}
