//! What the whole-system tests share: a real `spacenode run` (the release candidate binary, its
//! own processes, real UDP on loopback) on a temporary state directory, its log read line by
//! line with bounded waits, free loopback ports, and the text of a finished command.
//!
//! Each test binary compiles its own copy (`mod common;`), so not every item is used by each.
#![allow(dead_code)]

pub mod standby;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest wait for any one line of the node's log.
pub const BOUND: Duration = Duration::from_secs(30);

/// One board at a time per test binary: the tests share two CPU cores with everything else in
/// CI.
static ONE_BOARD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds the board lock for a test.
pub fn one_board() -> std::sync::MutexGuard<'static, ()> {
    ONE_BOARD.lock().unwrap_or_else(|e| e.into_inner())
}

/// A loopback UDP address nobody listens on right now.
pub fn free_addr() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr")
}

/// Write a secret key file as an operator keeps one: mode 0600 (the ground refuses others).
pub fn write_secret(path: &Path, contents: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(contents.as_bytes()))
        .expect("write key file");
}

/// Status, stdout and stderr of a finished command, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `spacenode ground CMD` against the node at `uplink`/`ground` with the ground state in
/// `state` (short timeouts, several attempts).
pub fn ground_cli(cmd: &str, uplink: SocketAddr, ground: SocketAddr, state: &Path) -> Output {
    ground_command(
        &[cmd, "--timeout-ms", "500", "--attempts", "8"],
        uplink,
        ground,
        state,
    )
    .output()
    .expect("spacenode ground")
}

/// `spacenode ground ARGS --node UPLINK --listen GROUND --state STATE`.
pub fn ground_command(
    args: &[&str],
    uplink: SocketAddr,
    ground: SocketAddr,
    state: &Path,
) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spacenode"));
    c.arg("ground")
        .args(args)
        .arg("--node")
        .arg(uplink.to_string())
        .arg("--listen")
        .arg(ground.to_string())
        .arg("--state")
        .arg(state);
    c
}

/// A running `spacenode run`. Dropping it stops it (SIGTERM, then waits).
pub struct Board {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every log line read so far.
    pub log: Vec<String>,
}

impl Board {
    /// Boots the node on `state` with its radio at `uplink` and the ground at `ground`, the
    /// radio emulator flags in `radio` (e.g. `["--radio-loss", "0.1"]`), and waits until comms
    /// has restored its security state.
    pub fn boot<S: AsRef<std::ffi::OsStr>>(
        state: &Path,
        uplink: SocketAddr,
        ground: SocketAddr,
        radio: &[S],
    ) -> Board {
        let mut b = Board::start(state, uplink, ground, radio);
        b.wait_for("[comms] INFO  SA 2:");
        b
    }

    /// Like [`Board::boot`] without waiting for comms (which may not come up normally).
    pub fn start<S: AsRef<std::ffi::OsStr>>(
        state: &Path,
        uplink: SocketAddr,
        ground: SocketAddr,
        radio: &[S],
    ) -> Board {
        let mut child = Command::new(env!("CARGO_BIN_EXE_spacenode"))
            .arg("run")
            .arg("--state")
            .arg(state)
            .args(radio)
            .arg("--radio-uplink")
            .arg(uplink.to_string())
            .arg("--ground")
            .arg(ground.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn spacenode run");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Board {
            child,
            lines: rx,
            log: Vec::new(),
        }
    }

    /// Waits (at most [`BOUND`]) until a log line contains `what`; panics with the log if none
    /// does.
    pub fn wait_for(&mut self, what: &str) {
        let deadline = Instant::now() + BOUND;
        while !self.log.iter().any(|l| l.contains(what)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.log.push(l),
                Err(_) => panic!("no `{what}` in the node's log:\n{}", self.log.join("\n")),
            }
        }
    }

    /// Takes the lines that arrived so far.
    pub fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.log.push(l);
        }
    }

    /// SIGKILL: no chance to tidy anything (a power cut for the node's processes).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.drain();
    }

    /// SIGTERM, and waits for the node to stop.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id())
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The node's account key for a 2-of-3 `wsh(sortedmulti)` with two ground keys, as a
/// `server` line with a rule.
pub fn server_lines(node_key: &str, cert_public: &[u8; 33]) -> String {
    use hex_conservative::DisplayHex;
    format!(
        "server id=1 key={} network=regtest account=0 descriptor={} no-expiry\nrule allow max-amount=5000000 max-fee=50000\n",
        cert_public.as_hex(),
        wallet_descriptor(node_key, [0x41, 0x42])
    )
}

/// A regtest 2-of-3 `wsh(sortedmulti)` descriptor with its checksum: `node_key` (as `node-key`
/// or `export-xpub` print it) and two ground keys made from `seeds`.
pub fn wallet_descriptor(node_key: &str, seeds: [u8; 2]) -> String {
    use hex_conservative::DisplayHex;
    use signer::bip32::{HARDENED, Xpriv};
    use signer::descriptor::ScriptType;
    use signer::wallet::{AccountKey, Network};
    let mut keys = vec![format!("{node_key}/<0;1>/*")];
    for seed in seeds {
        let master = Xpriv::new_master(&[seed; 32], Network::Regtest.key_network()).unwrap();
        let acct = AccountKey::derive(&master, Network::Regtest, ScriptType::Wsh, 0).unwrap();
        let path: String = acct
            .path()
            .as_slice()
            .iter()
            .map(|c| format!("/{}h", c & !HARDENED))
            .collect();
        keys.push(format!(
            "[{}{path}]{}/<0;1>/*",
            acct.master_fingerprint().as_hex(),
            acct.xpub().encode().unwrap().as_str()
        ));
    }
    let body = format!("wsh(sortedmulti(2,{}))", keys.join(","));
    let sum = signer::descriptor::checksum(&body).unwrap();
    format!("{body}#{}", std::str::from_utf8(&sum).unwrap())
}

/// The number after `label` in `s` (a figure in a command's output).
pub fn number_after(s: &str, label: &str) -> u64 {
    let rest = s
        .split(label)
        .nth(1)
        .unwrap_or_else(|| panic!("no `{label}` in:\n{s}"));
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after `{label}` in:\n{s}"))
}

/// The `max-resets` of the shipped description.
pub fn max_resets() -> u32 {
    kernel_config::load(
        &kernel_config::shipped::description(),
        &kernel_config::shipped::board("sim").expect("sim"),
    )
    .expect("shipped description")
    .max_resets
}

/// `spacenode run`'s radio flags: `loss` each way with `seed`, 2 ms latency, 2 Mbit/s.
pub fn lossy_radio<'a>(loss: &'a str, seed: &'a str) -> [&'a str; 8] {
    [
        "--radio-loss",
        loss,
        "--radio-seed",
        seed,
        "--radio-latency-ms",
        "2",
        "--radio-kbps",
        "2000",
    ]
}

/// [`lossy_radio`] with the radio speaking comms' own units (`--radio-link units`), for tests
/// of the units' own behaviour (raw units sent, their sequence numbers and retries); the
/// ground then needs `--link units` ([`UNITS`]).
pub fn units_radio<'a>(loss: &'a str, seed: &'a str) -> [&'a str; 10] {
    let r = lossy_radio(loss, seed);
    [
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        "--radio-link",
        "units",
    ]
}

/// `spacenode ground`'s flags for a node run with `--radio-link units`.
pub const UNITS: [&str; 2] = ["--link", "units"];

/// [`ground_cli`] over a radio speaking units ([`units_radio`]).
pub fn ground_cli_units(cmd: &str, uplink: SocketAddr, ground: SocketAddr, state: &Path) -> Output {
    ground_command(
        &[
            cmd,
            UNITS[0],
            UNITS[1],
            "--timeout-ms",
            "500",
            "--attempts",
            "8",
        ],
        uplink,
        ground,
        state,
    )
    .output()
    .expect("spacenode ground")
}

/// The Rust debug formatting an operator must never read (issue 15 point 7), if `line` has
/// some: `Some(..)`, `Ok(..)`, `Err(..)`, a byte or number array (`[f8, 65, ...]`), or a
/// struct (`Name { field: ...`).
pub fn debug_formatting(line: &str) -> Option<&'static str> {
    for (needle, what) in [
        ("Some(", "Some(..)"),
        ("Ok(", "Ok(..)"),
        ("Err(", "Err(..)"),
    ] {
        if line.contains(needle) {
            return Some(what);
        }
    }
    let b = line.as_bytes();
    for (i, _) in line.match_indices('[') {
        // `[` then a number, `, `, another number.
        let rest = &b[i + 1..];
        let n = rest.iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if (1..=3).contains(&n)
            && rest.get(n..n + 2) == Some(b", ")
            && rest.get(n + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            return Some("[a, b, ...] array");
        }
    }
    for (i, _) in line.match_indices(" { ") {
        let rest = &line[i + 3..];
        let ident = rest
            .bytes()
            .take_while(|c| c.is_ascii_lowercase() || *c == b'_')
            .count();
        let before = line[..i]
            .bytes()
            .last()
            .is_some_and(|c| c.is_ascii_alphabetic());
        if ident > 0 && before && rest[ident..].starts_with(": ") {
            return Some("Struct { field: .. }");
        }
    }
    None
}

/// Panics naming every line of `lines` (from `source`) with debug formatting.
pub fn assert_no_debug_formatting<'a>(source: &str, lines: impl IntoIterator<Item = &'a str>) {
    let bad: Vec<String> = lines
        .into_iter()
        .filter_map(|l| debug_formatting(l).map(|w| format!("  {w}: {l}")))
        .collect();
    assert!(
        bad.is_empty(),
        "{source}: Rust debug formatting in what an operator reads:\n{}",
        bad.join("\n")
    );
}

/// The master keys (and the key-encryption key, if any) of the SDLS provisioning file at
/// `file`.
pub fn master_keys(file: &Path) -> Vec<[u8; 32]> {
    let bytes = std::fs::read(file).unwrap();
    let p = comms::sdls::Provisioning::parse(&bytes).unwrap();
    p.associations()
        .map(|sa| *sa.master.as_bytes())
        .chain(p.kek().map(|k| *k.key.as_bytes()))
        .collect()
}

/// Whether any of `keys` lies in clear in the flash image at `image`.
pub fn holds_in_clear(image: &Path, keys: &[[u8; 32]]) -> bool {
    let flash = std::fs::read(image).unwrap();
    keys.iter().any(|k| flash.windows(32).any(|w| w == k))
}

/// `spacenode ARGS PATHS...`, run to completion.
pub fn spacenode(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spacenode"));
    c.args(args);
    for p in paths {
        c.arg(p);
    }
    c.output().expect("spacenode")
}
