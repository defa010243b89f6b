//! The corruption sweep (issue 13 finding 1): every flash store of every component, and boot
//! control, damaged in every way while the node was off (truncated, zero-filled, 0xFF-filled
//! i.e. erased, random-filled, deleted, bit flips), then the real `spacenode run` boots on it:
//! the real partitions, their real seccomp filters, their real error paths.
//!
//! After each case, for a bounded time:
//! - no component was killed (seccomp or otherwise), exited, or restarted, and the board did not
//!   reset: no crash loop;
//! - the node is honest: the watchdog's health report lists every component as `ok`, or as
//!   `DEGRADED` only if it owns the damaged store (and then its log says why, at ERROR);
//! - lost state is never taken for new (issue 13 finding 2): comms' anti-replay state and the
//!   signer's keys erased or deleted leave their owner DEGRADED, never running on floors at 0 or
//!   a new seed; comms' sealed SDLS keys (`comms-keys`, the key record alone) damaged in any way
//!   leave comms DEGRADED, never on new (or public default) keys;
//! - the node is reachable from the ground (`ground ping` answered) after every case, with no
//!   exception: when the damaged store is comms' own, after the recovery its log asks for, over
//!   the link. With its anti-replay state lost comms runs in recovery-only mode and takes only
//!   `ground admin recover-link` (M-of-N admin signatures checked by the signer; end to end in
//!   [`an_erased_sdls_state_is_recovered_by_the_admins_over_the_link`]); with its sealed keys
//!   lost it runs on the recovery association (the link recovery key burnt into the board's
//!   write-once memory at provisioning, apart from comms' flash) and takes only
//!   `recover-link --new-keys`, which installs fresh keys (end to end in
//!   [`lost_sdls_keys_are_replaced_over_the_link_with_the_recovery_key_and_the_admins`]). The
//!   golden node is provisioned as in service: admins, its own link keys, the recovery key;
//! - the mode is never safe mode (a damaged store is not a reason to reset);
//! - the slot flash holds the only signed image: when its damage destroys that image the secure
//!   boot stage stops with its reason (exit status 2) and nothing of the image runs; a truncated
//!   one is grown back, erased, and boots.
//!
//! `SPACENODE_STORE_SWEEP=N` limits the sweep to the first N cases (CI runs them all, two side by
//! side: [`SIDE_BY_SIDE`]); the cases print as a table, in the order they end.

#[path = "../components/signer/tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

mod common;

use common::{Board, free_addr, one_board, text, write_secret};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Flash stores and the component that owns each (`boot` is the monitor's boot control).
/// `comms-keys` is the sealed SDLS key record alone (bytes [`KEYS_REGION`] of `comms-flash`).
const STORES: [(&str, &str); 6] = [
    ("comms-flash", "comms"),
    ("comms-keys", "comms"),
    ("key-flash", "signer"),
    ("health-flash", "watchdog"),
    ("slot-flash", "upgrade"),
    ("boot", "monitor"),
];

const KINDS: [&str; 6] = [
    "truncated",
    "zero-filled",
    "erased",
    "random",
    "deleted",
    "bit-flips",
];

/// Where `comms-keys` lies in `comms-flash` (`comms_partition::flash_map::keys_layout`).
const KEYS_REGION: std::ops::Range<usize> = 32 * 1024..48 * 1024;

/// How long the node runs on the damaged store before the verdict.
const SETTLE: Duration = Duration::from_millis(2500);

/// A small deterministic generator (xorshift64*) for the random fill and the flipped bits.
struct Xs(u64);
impl Xs {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Damage only the sealed key record of `comms-flash`.
fn damage_keys(path: &Path, kind: &str, seed: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let region = &mut bytes[KEYS_REGION];
    let mut rng = Xs(seed | 1);
    match kind {
        "zero-filled" => region.fill(0),
        "erased" => region.fill(0xFF),
        "random" => region.iter_mut().for_each(|b| *b = rng.next() as u8),
        "bit-flips" => {
            // One flip in the first 64 bytes of each copy (record header and sealed payload).
            for copy in [0, 8 * 1024] {
                region[copy + (rng.next() % 64) as usize] ^= 1 << (rng.next() % 8);
            }
        }
        other => panic!("unknown damage {other}"),
    }
    std::fs::write(path, bytes).unwrap();
}

fn damage(path: &Path, kind: &str, seed: u64) {
    let len = std::fs::metadata(path).expect("store image").len() as usize;
    let mut rng = Xs(seed | 1);
    match kind {
        "truncated" => {
            let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            f.set_len((len / 3) as u64).unwrap();
        }
        "zero-filled" => std::fs::write(path, vec![0u8; len]).unwrap(),
        "erased" => std::fs::write(path, vec![0xFFu8; len]).unwrap(),
        "random" => {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            std::fs::write(path, bytes).unwrap();
        }
        "deleted" => std::fs::remove_file(path).unwrap(),
        "bit-flips" => {
            // One flip in every written 4 KiB sector's first 64 bytes (where record headers
            // and payloads live), plus 64 anywhere.
            let mut bytes = std::fs::read(path).unwrap();
            for sector in 0..len / 4096 {
                let base = sector * 4096;
                if bytes[base..base + 64].iter().any(|b| *b != 0xFF) {
                    let at = base + (rng.next() % 64) as usize;
                    bytes[at] ^= 1 << (rng.next() % 8);
                }
            }
            for _ in 0..64 {
                let at = (rng.next() % len as u64) as usize;
                bytes[at] ^= 1 << (rng.next() % 8);
            }
            std::fs::write(path, bytes).unwrap();
        }
        other => panic!("unknown damage {other}"),
    }
}

fn copy_state(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() && e.file_name() != "lock" {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// `spacenode ground ARGS` to the node at `(uplink, listen)` with ground state `state` and
/// link keys `keys`.
fn ground_cmd(
    args: &[&str],
    (uplink, listen): (std::net::SocketAddr, std::net::SocketAddr),
    state: &Path,
    keys: &Path,
    attempts: &str,
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .arg("ground")
        .args(args)
        .args([
            "--node",
            &uplink.to_string(),
            "--listen",
            &listen.to_string(),
        ])
        .arg("--provisioning")
        .arg(keys)
        .arg("--state")
        .arg(state)
        .args(["--timeout-ms", "1500", "--attempts", attempts])
        .output()
        .unwrap()
}

/// `spacenode provision-link --generate FILE`, then FILE (and its recovery key) into `state`.
fn provision_link(state: &Path, file: &Path) {
    generate_link_keys(file);
    let o = spacenode(&[
        "provision-link".as_ref(),
        "--state".as_ref(),
        state.as_os_str(),
        file.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("burnt the link recovery key"),
        "{}",
        text(&o)
    );
}

/// Whether the ground reaches a damaged node of `world` (case state directory `dir`): first the
/// recovery its log asks for (`Some((keys lost, recovery key))`: `ground admin recover-link`
/// signed by two admins, with new keys if the keys were lost), then a ping.
fn reach(
    world: &World,
    addrs: (std::net::SocketAddr, std::net::SocketAddr),
    dir: &Path,
    link_file: &Path,
    recovery: Option<(bool, &Path)>,
) -> Result<(), String> {
    let ground = dir.join("ground");
    let mut keys = link_file.to_path_buf();
    if let Some((keys_lost, recovery_key)) = recovery {
        let (k0, k2) = (&world.admin_files[0], &world.admin_files[2]);
        let mut args = vec!["admin", "recover-link", "--identity", &world.identity];
        args.extend(["--admin-key", k0, "--admin-key", k2]);
        let new = dir.join("new-link.bin");
        let (new_s, rk) = (new.to_str().unwrap(), recovery_key.to_str().unwrap());
        if keys_lost {
            generate_link_keys(&new);
            args.extend(["--new-keys", new_s, "--recovery-key", rk]);
        }
        let o = ground_cmd(&args, addrs, &ground, &keys, "3");
        if !o.status.success() {
            return Err(format!("the recovery failed:\n{}", text(&o)));
        }
        if keys_lost {
            keys = new;
        }
    }
    let o = ground_cmd(&["ping"], addrs, &ground, &keys, "4");
    o.status.success().then_some(()).ok_or_else(|| text(&o))
}

/// The component names and states of the last watchdog health line: `comms ok 245us` ->
/// ("comms", "ok").
fn states(line: &str) -> Vec<(String, String)> {
    line.split('|')
        .skip(1)
        .filter_map(|part| {
            let part = part.split(';').next()?;
            let mut w = part.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}

/// How many cases of the sweep run side by side. Each is its own node on its own state copy,
/// ports and ground state, and a node on a damaged store mostly waits (the settle time, the
/// ground's bounded tries), so two at a time halve the sweep on CI's two cores.
const SIDE_BY_SIDE: usize = 2;

#[test]
fn every_store_damaged_every_way_leaves_the_node_up_honest_and_reachable() {
    let _one = one_board();
    let limit: usize = std::env::var("SPACENODE_STORE_SWEEP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let none: [&str; 0] = [];
    // One node that ran once: every store written as in service. Provisioned as in service
    // too: admins (for the recoveries), its own link keys and the link recovery key.
    let golden = tempfile::tempdir().unwrap();
    let world = provisioned(golden.path());
    let link_file = golden.path().join("link.bin");
    provision_link(&world.state, &link_file);
    let recovery_key = golden.path().join("link.bin.recovery");
    {
        let (uplink, listen) = (free_addr(), free_addr());
        let mut b = Board::boot(&world.state, uplink, listen, &none);
        b.wait_for("every pinged component answered in time");
        let o = ground_cmd(
            &["ping"],
            (uplink, listen),
            &golden.path().join("ground"),
            &link_file,
            "3",
        );
        assert!(o.status.success(), "{}", text(&o));
        b.stop();
    }
    let cases: Vec<Case> = STORES
        .iter()
        .flat_map(|&(store, owner)| KINDS.iter().map(move |&kind| (store, owner, kind)))
        // A region is not truncated or deleted on its own: the whole file's cases cover those.
        .filter(|&(store, _, kind)| {
            store != "comms-keys" || !matches!(kind, "truncated" | "deleted")
        })
        .take(limit)
        .collect();
    assert!(!cases.is_empty());
    let sweep = Sweep {
        world: &world,
        link_file: &link_file,
        recovery_key: &recovery_key,
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..SIDE_BY_SIDE {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(&case) = cases.get(i) else { break };
                    let (line, failure) = sweep.run(i, case);
                    println!("{line}");
                    failures.lock().unwrap().extend(failure);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// A store, its owner and a kind of damage.
type Case = (&'static str, &'static str, &'static str);

/// What every case of the sweep starts from.
struct Sweep<'a> {
    world: &'a World,
    link_file: &'a Path,
    recovery_key: &'a Path,
}

impl Sweep<'_> {
    /// Case number `n`: the golden state damaged as it says, the node booted on it. Its table
    /// line, and why it failed if it did.
    fn run(&self, n: usize, (store, owner, kind): Case) -> (String, Option<String>) {
        let state = tempfile::tempdir().unwrap();
        copy_state(&self.world.state, state.path());
        if store == "comms-keys" {
            damage_keys(&state.path().join("comms-flash.flash"), kind, n as u64 + 1);
        } else {
            damage(
                &state.path().join(format!("{store}.flash")),
                kind,
                n as u64 + 1,
            );
        }
        let (verdict, why) = if store == "slot-flash" && kind != "truncated" {
            nothing_runs(state.path())
        } else {
            self.on_node(state.path(), store, owner, kind)
        };
        let line = format!("{store:<13} {kind:<12} {verdict}");
        let failure = why.map(|w| format!("{store} {kind}:\n  {w}"));
        (line, failure)
    }

    /// The node booted on the damaged `state`, left to settle, then reached from the ground
    /// (after the recovery its log asks for): the verdict, and why it is wrong if it is.
    fn on_node(
        &self,
        state: &Path,
        store: &str,
        owner: &str,
        kind: &str,
    ) -> (String, Option<String>) {
        let none: [&str; 0] = [];
        let (uplink, ground) = (free_addr(), free_addr());
        let mut b = Board::start(state, uplink, ground, &none);
        b.wait_for("[watchdog] INFO  health #");
        let until = Instant::now() + SETTLE;
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(100));
            b.drain();
        }
        // The node as the damage left it (before any recovery).
        b.drain();
        let health = b
            .log
            .iter()
            .rev()
            .find(|l| l.contains("[watchdog] INFO  health #"))
            .cloned()
            .unwrap_or_default();
        let lost = |what: &str| b.log.iter().any(|l| l.contains(what));
        let recovery = if lost("[comms] ERROR SDLS keys LOST") {
            Some("keys recovered")
        } else if lost("[comms] ERROR SDLS anti-replay state LOST") {
            Some("state recovered")
        } else {
            None
        };
        let reachable = reach(
            self.world,
            (uplink, ground),
            state,
            self.link_file,
            recovery.map(|r| (r == "keys recovered", self.recovery_key)),
        );
        b.drain();
        let log = b.log.clone();
        b.stop();
        let mut why = Vec::new();
        for bad in ["FAULT", "RESET", "seccomp", "panicked", "SAFE MODE"] {
            if let Some(l) = log.iter().find(|l| l.contains(bad)) {
                why.push(format!("`{bad}`: {l}"));
            }
        }
        let mut degraded = Vec::new();
        for (c, s) in states(&health) {
            match s.as_str() {
                "ok" => {}
                "DEGRADED" if c == owner => degraded.push(c),
                _ => why.push(format!("{c} is {s} in: {health}")),
            }
        }
        // Sealed keys damaged in any way: no copy verifies, and comms must not run on new ones
        // (the golden node's keys are the sim default, so running on "new" keys would look
        // exactly like running normally).
        let must_degrade = store == "comms-keys"
            || matches!(store, "comms-flash" | "key-flash") && matches!(kind, "erased" | "deleted");
        if must_degrade && degraded.is_empty() {
            why.push(format!(
                "{owner} runs as if its {store} were new: lost state taken for never used"
            ));
        }
        if !degraded.is_empty()
            && !log
                .iter()
                .any(|l| l.starts_with(&format!("[{owner}] ERROR")))
        {
            why.push(format!(
                "{owner} is degraded without an ERROR line saying why"
            ));
        }
        if let Err(e) = &reachable {
            why.push(format!("ground not served:\n{e}"));
        }
        let verdict = format!(
            "{}{}{}",
            if degraded.is_empty() {
                "all ok".to_string()
            } else {
                format!("{owner} DEGRADED")
            },
            recovery.map_or(String::new(), |r| format!(", {r}")),
            if reachable.is_ok() {
                ", ping answered"
            } else {
                ", ping NOT answered"
            }
        );
        let why = (!why.is_empty())
            .then(|| format!("{}\n--- log:\n{}", why.join("\n  "), log.join("\n")));
        (verdict, why)
    }
}

/// The slot flash holds the only signed image: destroyed, nothing may run. The boot stage must
/// stop with its reason, never run an unverified image, never loop.
fn nothing_runs(state: &Path) -> (String, Option<String>) {
    let o = Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(["run", "--radio-uplink", "127.0.0.1:0", "--ground"])
        .arg(free_addr().to_string())
        .arg("--state")
        .arg(state)
        .output()
        .unwrap();
    let out = text(&o);
    if o.status.code() == Some(2)
        && !out.contains("[monitor]")
        && (out.contains("no slot holds an image that verifies") || out.contains("so nothing runs"))
    {
        ("boot stage refused, nothing ran".into(), None)
    } else {
        ("WRONG".into(), Some(out))
    }
}

/// A node on `dir/node` provisioned with three admin keys (2 needed) and one ground server
/// (`SERVER`, batches without expiry allowed); the admins' and the server's key files and two
/// PSBTs of that server in `dir`.
struct World {
    state: std::path::PathBuf,
    identity: String,
    admin_files: Vec<String>,
    ground: support::Ground,
    cert_file: std::path::PathBuf,
    psbts: Vec<std::path::PathBuf>,
}

const SERVER: u32 = 7;

fn provisioned(dir: &Path) -> World {
    let state = dir.join("node");
    std::fs::create_dir_all(&state).unwrap();
    let image = state.join("key-flash.flash");
    let admins: Vec<p256::SecretKey> = (1..=3u8)
        .map(|b| p256::SecretKey::from_slice(&[b; 32]).unwrap())
        .collect();
    let (ground, text, identity) = {
        let (image, admins) = (image.clone(), admins.clone());
        support::big_stack(move || {
            let flash = board_sim::flash::SimFlash::open_or_create(
                &image,
                board_sim::monitor::devices::FLASH_IMAGE_SIZE,
            )
            .unwrap();
            let s = signer::node::Signer::boot(
                flash,
                signer::persist::SignerLayout::contiguous(0),
                &signer::keys::SealKey::new(board_sim::drivers::SIM_SEAL_SECRET),
                &mut support::TestRng(0x5eed_0013),
            )
            .unwrap()
            .0;
            let g = support::Ground::new(
                &s,
                SERVER,
                signer::wallet::Network::Regtest,
                signer::descriptor::ScriptType::Wsh,
                3,
                11,
            );
            let rules = "rule allow max-amount=5000000 max-fee=50000\nrule deny";
            let text = support::provisioning(&admins, 2, &[(&g, rules)]);
            (g, text, support::hex(&s.identity_public_key()))
        })
    };
    let mut flash: board_sim::flash::SimFlash = board_sim::flash::SimFlash::open_or_create(
        &image,
        board_sim::monitor::devices::FLASH_IMAGE_SIZE,
    )
    .unwrap();
    signer_partition::inbox::write(&mut flash, &text).unwrap();
    let admin_files = admins
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let f = dir.join(format!("admin{i}.key"));
            write_secret(&f, &support::hex(&a.to_bytes()));
            format!("{i}={}", f.display())
        })
        .collect();
    let cert_file = dir.join("server.key");
    write_secret(
        &cert_file,
        &(support::hex(&ground.cert_key.to_bytes()) + "\n"),
    );
    let psbts = (0..2u32)
        .map(|i| {
            let spend = support::Spend::simple(1_000_000 + u64::from(i), 400_000, 1_000, 20 + i);
            let path = dir.join(format!("tx{i}.psbt"));
            std::fs::write(&path, support::psbt(&ground, &spend)).unwrap();
            path
        })
        .collect();
    World {
        state,
        identity,
        admin_files,
        ground,
        cert_file,
        psbts,
    }
}

/// Issue 13 / issue 14 point 2 for comms: both copies of comms' SDLS anti-replay state record
/// of a provisioned node erased while it was off. Comms boots in recovery-only mode, DEGRADED,
/// and says why; an ordinary command is not taken; `ground admin recover-link` signed by one
/// admin of the 2-of-3 is refused with the signer's code, signed by two it restores the state
/// above the ground's records, after which the ground commands the node again, a unit at an
/// uplink ARSN the ground used before the loss is refused (a ground on the old record gets no
/// answer, then learns the floor from the node's sequence event and gets through above it), a
/// batch is co-signed, and the new record is on flash (the next boot is a normal one, where
/// `recover-link` gets no answer and says why).
#[test]
fn an_erased_sdls_state_is_recovered_by_the_admins_over_the_link() {
    let _one = one_board();
    let dir = tempfile::tempdir().unwrap();
    let p = provisioned(dir.path());
    let ground_state = dir.path().join("ground");
    let (uplink, listen) = (free_addr(), free_addr());
    let radio = ["--radio-latency-ms", "1", "--radio-kbps", "4000"];
    let cli = |args: &[&str], state: &Path, attempts: &str| {
        Command::new(env!("CARGO_BIN_EXE_spacenode"))
            .args(["ground"])
            .args(args)
            .args([
                "--node",
                &uplink.to_string(),
                "--listen",
                &listen.to_string(),
            ])
            .arg("--state")
            .arg(state)
            .args(["--timeout-ms", "1500", "--attempts", attempts])
            .output()
            .unwrap()
    };
    let ping = |state: &Path, attempts: &str| cli(&["ping"], state, attempts);
    let mut board = Board::boot(&p.state, uplink, listen, &radio);
    board.wait_for("every pinged component answered in time");
    for _ in 0..3 {
        let o = ping(&ground_state, "3");
        assert!(o.status.success(), "{}", text(&o));
    }
    board.stop();
    // The ground's record as it was: its next unit carries an ARSN the node accepted before.
    let old_ground = dir.path().join("ground-before");
    std::fs::create_dir_all(&old_ground).unwrap();
    copy_state(&ground_state, &old_ground);

    // Both copies of the SDLS state record erased, keys intact.
    let flash = p.state.join("comms-flash.flash");
    let mut image = std::fs::read(&flash).unwrap();
    image[..KEYS_REGION.start].fill(0xFF);
    std::fs::write(&flash, &image).unwrap();

    let mut board = Board::start(&p.state, uplink, listen, &radio);
    board.wait_for("[comms] ERROR SDLS anti-replay state LOST on a node that has run");
    board.wait_for("comms DEGRADED");
    let o = ping(&ground_state, "1");
    assert!(
        !o.status.success(),
        "a ping in recovery-only mode: {}",
        text(&o)
    );
    let recover = |keys: &[&str]| {
        let mut args = vec!["admin", "recover-link", "--identity", &p.identity];
        for k in keys {
            args.extend_from_slice(&["--admin-key", k]);
        }
        cli(&args, &ground_state, "3")
    };
    let (k0, k2) = (&p.admin_files[0], &p.admin_files[2]);
    let o = recover(&[k0]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("comms' SDLS state is lost; link-recovery challenge"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("code 0x1307"), "{}", text(&o));
    let o = recover(&[k0, k2]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("link recovered: SA 1: uplink floor"),
        "{}",
        text(&o)
    );
    board.wait_for("[comms] INFO  SDLS state recovered (recover-link, verified by the signer)");
    let o = ping(&ground_state, "3");
    assert!(o.status.success(), "after the recovery: {}", text(&o));
    // A batch signs again.
    co_signs(&p, dir.path(), &|sign| cli(sign, &ground_state, "8"));
    // A unit at an ARSN used before the loss is refused (below the new floor); the node's
    // sequence event tells that ground where the floor is, and its next attempt goes above it.
    let o = ping(&old_ground, "1");
    assert!(
        !o.status.success(),
        "an old ARSN after the recovery: {}",
        text(&o)
    );
    let o = ping(&old_ground, "3");
    assert!(
        o.status.success(),
        "above the floor the event gave: {}",
        text(&o)
    );
    board.stop();

    // The new record is on flash: a normal boot, commands taken.
    let mut board = Board::boot(&p.state, uplink, listen, &radio);
    board.wait_for("every pinged component answered in time");
    let o = ping(&ground_state, "3");
    assert!(o.status.success(), "after a reboot: {}", text(&o));
    // Nothing to recover now: the tool says why it gets no answer.
    let o = recover(&[k0, k2]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("nothing to recover"), "{}", text(&o));
    board.drain();
    assert!(
        !board
            .log
            .iter()
            .any(|l| l.contains("SDLS anti-replay state LOST")),
        "{}",
        board.log.join("\n")
    );
    board.stop();
}

/// `ground sign` of `world`'s two PSBTs (through `run`, which adds the link): the node co-signs
/// both, and its signatures verify.
fn co_signs(world: &World, dir: &Path, run: &dyn Fn(&[&str]) -> std::process::Output) {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut sign = vec!["sign", "--no-expiry", "--server", "7", "--key"];
    sign.push(world.cert_file.to_str().unwrap());
    sign.extend(["--out", out.to_str().unwrap()]);
    sign.extend(world.psbts.iter().map(|p| p.to_str().unwrap()));
    let o = run(&sign);
    assert!(
        o.status.success(),
        "a batch after the recovery: {}",
        text(&o)
    );
    for i in 0..2 {
        let signed = std::fs::read(out.join(format!("tx{i}.signed.psbt"))).unwrap();
        assert_eq!(support::verify_node_signatures(&world.ground, &signed), 1);
    }
}

/// Runs `spacenode ARGS`.
fn spacenode(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(args)
        .output()
        .unwrap()
}

/// `spacenode provision-link --generate FILE` (with FILE.recovery beside it).
fn generate_link_keys(file: &Path) {
    let o = spacenode(&[
        "provision-link".as_ref(),
        "--generate".as_ref(),
        file.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn lost_sdls_keys_are_replaced_over_the_link_with_the_recovery_key_and_the_admins() {
    let _one = one_board();
    let dir = tempfile::tempdir().unwrap();
    let p = provisioned(dir.path());
    let ground_state = dir.path().join("ground");
    let (uplink, listen) = (free_addr(), free_addr());
    let radio = ["--radio-latency-ms", "1", "--radio-kbps", "4000"];
    // The link provisioned with its own keys and a recovery key burnt into the board.
    let first = dir.path().join("link0.bin");
    provision_link(&p.state, &first);
    let recovery_key = dir.path().join("link0.bin.recovery");
    let cli = |args: &[&str], keys: &Path, attempts: &str| {
        ground_cmd(args, (uplink, listen), &ground_state, keys, attempts)
    };
    let mut board = Board::boot(&p.state, uplink, listen, &radio);
    board.wait_for("every pinged component answered in time");
    for _ in 0..3 {
        let o = cli(&["ping"], &first, "3");
        assert!(o.status.success(), "{}", text(&o));
    }
    board.stop();
    let flash = p.state.join("comms-flash.flash");
    let mut keys = first.clone();
    for (i, kind) in ["erased", "zero-filled", "truncated", "random", "bit-flips"]
        .into_iter()
        .enumerate()
    {
        if kind == "truncated" {
            // Cut inside the first copy of the key record: both copies are gone (the board
            // grows the image back erased).
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&flash)
                .unwrap();
            f.set_len((KEYS_REGION.start + 100) as u64).unwrap();
        } else {
            damage_keys(&flash, kind, 0x4b45_5952 + i as u64);
        }
        let next = dir.path().join(format!("link{}.bin", i + 1));
        generate_link_keys(&next);
        let mut board = Board::start(&p.state, uplink, listen, &radio);
        board.wait_for("[comms] ERROR SDLS keys LOST: key recovery mode");
        board.wait_for("comms DEGRADED");
        let o = cli(&["ping"], &keys, "1");
        assert!(
            !o.status.success(),
            "{kind}: a ping on lost keys: {}",
            text(&o)
        );
        let recover = |admins: &[&str], rk: &Path| {
            let mut args = vec!["admin", "recover-link", "--identity", &p.identity];
            for k in admins {
                args.extend_from_slice(&["--admin-key", k]);
            }
            let (new, rk) = (next.to_str().unwrap(), rk.to_str().unwrap());
            args.extend_from_slice(&["--new-keys", new, "--recovery-key", rk]);
            cli(&args, &keys, "3")
        };
        let (k0, k2) = (&p.admin_files[0], &p.admin_files[2]);
        if i == 0 {
            // A wrong recovery key: nothing it sends authenticates; the tool says why.
            let wrong = dir.path().join("wrong.recovery");
            std::fs::write(&wrong, [0x42u8; 32]).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
            let o = recover(&[k0, k2], &wrong);
            assert!(!o.status.success(), "{}", text(&o));
            assert!(
                text(&o).contains("is not the key burnt into this board"),
                "{}",
                text(&o)
            );
            // One admin is not enough, even with the right recovery key.
            let o = recover(&[k0], &recovery_key);
            assert!(!o.status.success(), "{}", text(&o));
            assert!(
                text(&o).contains("comms' SDLS keys are lost"),
                "{}",
                text(&o)
            );
            assert!(text(&o).contains("code 0x1307"), "{}", text(&o));
        }
        let o = recover(&[k0, k2], &recovery_key);
        assert!(o.status.success(), "{kind}: {}", text(&o));
        assert!(text(&o).contains("keys recovered"), "{}", text(&o));
        board.wait_for("[comms] INFO  SDLS keys recovered");
        // The old keys are gone; the new ones work.
        let o = cli(&["ping"], &keys, "1");
        assert!(!o.status.success(), "{kind}: the lost keys: {}", text(&o));
        keys = next;
        let o = cli(&["ping"], &keys, "3");
        assert!(
            o.status.success(),
            "{kind}: after the recovery: {}",
            text(&o)
        );
        if i == 0 {
            // A batch is co-signed under the new keys.
            co_signs(&p, dir.path(), &|sign| cli(sign, &keys, "8"));
        }
        board.stop();
    }
    // The last keys are sealed: a normal boot, no key recovery, commands taken; the recovery
    // key is refused now (comms no longer listens on it).
    let mut board = Board::boot(&p.state, uplink, listen, &radio);
    board.wait_for("every pinged component answered in time");
    let o = cli(&["ping"], &keys, "3");
    assert!(o.status.success(), "after a reboot: {}", text(&o));
    board.drain();
    assert!(
        !board.log.iter().any(|l| l.contains("SDLS keys LOST")),
        "{}",
        board.log.join("\n")
    );
    board.stop();
}
