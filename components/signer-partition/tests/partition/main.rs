//! The signer partition with real processes: the monitor runs in this process (on a thread);
//! the `signer` is this executable started by the monitor as `EXE pd signer` running the real
//! [`signer_partition::SignerPd`] on the sim board's drivers (sandbox and seccomp as shipped),
//! and `comms` is a test partition (`comms.rs`) that sends batches on the real channels.
//!
//! Tests:
//! - `a_batch_sent_in_chunks_is_cosigned_and_verifies`: first boot provisions from the inbox;
//!   an 8-PSBT batch (several chunks) is signed, every node signature verifies with
//!   rust-bitcoin + libsecp256k1, the receipt verifies; a replay is refused with code 6; a
//!   chunk that does not start its batch is refused as bad chunking and the signer carries on.
//! - `no_channel_slot_ever_holds_the_seed_or_a_private_key`: after that run, every channel
//!   region's bytes (mapped by the monitor in this process) are scanned for the seed, decrypted
//!   from the key flash image with the sim board's seal secret, and for the master, account and
//!   leaf private keys derived from it; a positive control shows the scan sees the batch.
//!
//! Each wait is bounded to 60 s so a broken build fails instead of hanging; nothing asserts
//! how fast things happen.

mod comms;
#[path = "../../../signer/tests/support/mod.rs"]
mod support;
mod world;

use board_sim::flash::SimFlash;
use board_sim::monitor::devices::FLASH_IMAGE_SIZE;
use board_sim::monitor::{MonitorConfig, MonitorEvent, run_board};
use board_sim::partition::{EXIT_LOOP_STOPPED, EXIT_START_FAILED, Partition, logger};
use hmac::{Hmac, Mac};
use kernel_config::Source;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

const SYSTEM: &str = include_str!("system.toml");
const BOUND: Duration = Duration::from_secs(60);

fn pd(name: &str) -> ExitCode {
    logger::init(log::LevelFilter::Info);
    if name == "comms" {
        // Rebuild the deterministic world before the sandbox (it needs a big stack and memfds).
        let w = support::big_stack(|| {
            let s = world::boot_on(SimFlash::anonymous(FLASH_IMAGE_SIZE).expect("memfd"));
            world::build(&s)
        });
        let _ = comms::WORLD.set(w);
    }
    let p = match Partition::enter(name) {
        Ok(p) => p,
        Err(e) => {
            log::error!("cannot start: {e}");
            return ExitCode::from(EXIT_START_FAILED as u8);
        }
    };
    let err = match name {
        "signer" => p.run::<signer_partition::SignerPd<board_sim::drivers::SimDrivers>>(),
        _ => p.run::<comms::Comms>(),
    };
    log::error!("loop stopped: {err}");
    ExitCode::from(EXIT_LOOP_STOPPED as u8)
}

struct Node {
    stop: OwnedFd,
    events: mpsc::Receiver<MonitorEvent>,
    seen: Vec<MonitorEvent>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl Node {
    fn boot(state: &std::path::Path) -> Node {
        let config = MonitorConfig::new(
            Source::new(
                "components/signer-partition/tests/partition/system.toml",
                SYSTEM,
            ),
            kernel_config::shipped::board("sim").expect("sim"),
            state.to_path_buf(),
            std::env::current_exe().expect("exe"),
        );
        let stop =
            rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).expect("eventfd");
        let stop_for_thread = rustix::io::fcntl_dupfd_cloexec(&stop, 0).expect("dup");
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            run_board(&config, stop_for_thread.as_fd(), &mut |e| {
                let _ = tx.send(e);
            })
            .map_err(|e| e.to_string())
        });
        Node {
            stop,
            events: rx,
            seen: Vec::new(),
            thread: Some(thread),
        }
    }

    fn log_line(&mut self, component: &str, contains: &str) -> String {
        let hit = |e: &MonitorEvent| matches!(e, MonitorEvent::Log { component: c, line } if c == component && line.contains(contains));
        let line_of = |e: &MonitorEvent| match e {
            MonitorEvent::Log { line, .. } => line.clone(),
            _ => String::new(),
        };
        if let Some(e) = self.seen.iter().find(|e| hit(e)) {
            return line_of(e);
        }
        let deadline = std::time::Instant::now() + BOUND;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => {
                    let h = hit(&e);
                    self.seen.push(e.clone());
                    if h {
                        return line_of(&e);
                    }
                }
                Err(_) => {
                    for e in &self.seen {
                        eprintln!("  seen: {e}");
                    }
                    panic!("never saw [{component}] ...{contains}...");
                }
            }
        }
    }

    fn stop(mut self) {
        let _ = rustix::io::write(&self.stop, &1u64.to_ne_bytes());
        if let Some(t) = self.thread.take() {
            assert_eq!(t.join().expect("monitor thread"), Ok(()));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = rustix::io::write(&self.stop, &1u64.to_ne_bytes());
            let _ = t.join();
        }
    }
}

/// The clean room: the key flash image with the node's keys (first boot with the test RNG) and
/// the provisioning file in its inbox, not yet provisioned.
fn prepare_state(state: &std::path::Path) -> world::World {
    let path = state.join("key-flash.flash");
    support::big_stack(move || {
        let flash = SimFlash::open_or_create(&path, FLASH_IMAGE_SIZE).expect("image");
        let s = world::boot_on(flash);
        let w = world::build(&s);
        assert!(!s.is_provisioned());
        let mut flash = s.into_flash();
        signer_partition::inbox::write(&mut flash, &w.provisioning).expect("inbox");
        w
    })
}

fn run_batches(state: &std::path::Path) -> Node {
    let mut node = Node::boot(state);
    let l = node.log_line("signer", "provisioned from the inbox");
    assert!(l.contains("1 servers"), "{l}");
    let l = node.log_line("comms", "RESULT batch 100");
    assert!(l.contains("Rejected { reason: BadChunking }"), "{l}");
    let l = node.log_line("comms", "RESULT batch 101");
    assert!(
        l.contains("signed psbts=8 node-signatures=10 receipt-verified=true signed-status=0"),
        "{l}"
    );
    let l = node.log_line("comms", "RESULT batch 102");
    assert!(l.contains("rejected reason=Replay class=1 code=6"), "{l}");
    node.log_line("comms", "RESULT all batches answered");
    node
}

fn a_batch_sent_in_chunks_is_cosigned_and_verifies() {
    let state = tempfile::tempdir().expect("tempdir");
    let w = prepare_state(state.path());
    assert!(
        w.batches[0].1.len() > protocol::CHUNK_MAX,
        "the batch spans several chunks"
    );
    run_batches(state.path()).stop();
}

fn hmac256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("hmac");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// The seed, decrypted from the key flash image with the sim board's seal secret
/// (`signer::keys` documents the record).
fn seed_from_image(path: &std::path::Path) -> [u8; 32] {
    let mut flash: SimFlash = SimFlash::open(path).expect("image");
    let layout = signer::persist::SignerLayout::contiguous(0);
    let mut store = store::RecordStore::mount(&mut flash, layout.keys).expect("mount");
    let mut rec = [0u8; 256];
    let n = store
        .read(&mut flash, &mut rec)
        .expect("read")
        .expect("present");
    assert_eq!(&rec[..4], b"SNSD");
    assert!(n >= 53);
    let seal = board_sim::drivers::SIM_SEAL_SECRET;
    let k_enc = hmac256(&seal, b"spacenode/seed/enc/v1");
    let pad = hmac256(&k_enc, &rec[5..21]);
    let mut seed = [0u8; 32];
    for i in 0..32 {
        seed[i] = rec[21 + i] ^ pad[i];
    }
    // Check it is the real seed: it gives the fingerprint the record stores.
    let master = bitcoin::bip32::Xpriv::new_master(bitcoin::NetworkKind::Test, &seed).expect("m");
    let secp = bitcoin::secp256k1::Secp256k1::new();
    assert_eq!(master.fingerprint(&secp).as_bytes(), &rec[86..90]);
    seed
}

/// Every channel region mapped in this process (the monitor maps each), as bytes.
fn channel_regions() -> Vec<(String, Vec<u8>)> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    let mem = std::fs::File::open("/proc/self/mem").expect("mem");
    let mut out = Vec::new();
    for l in maps.lines().filter(|l| l.contains("/memfd:spacenode-ch:")) {
        let (a, b) = board_sim::partition::sandbox::maps_range(l).expect("a maps range");
        let mut buf = vec![0u8; (b - a) as usize];
        mem.read_exact_at(&mut buf, a).expect("read region");
        let name = l
            .split("/memfd:spacenode-ch:")
            .nth(1)
            .unwrap_or("")
            .to_string();
        out.push((name, buf));
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn no_channel_slot_ever_holds_the_seed_or_a_private_key() {
    let state = tempfile::tempdir().expect("tempdir");
    let w = prepare_state(state.path());
    let node = run_batches(state.path());
    let seed = seed_from_image(&state.path().join("key-flash.flash"));
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let master = bitcoin::bip32::Xpriv::new_master(bitcoin::NetworkKind::Test, &seed).expect("m");
    let account_path: bitcoin::bip32::DerivationPath = "m/48'/1'/3'/2'".parse().expect("path");
    let account = master.derive_priv(&secp, &account_path).expect("account");
    let mut needles: Vec<(String, Vec<u8>)> = vec![
        ("seed".into(), seed.to_vec()),
        (
            "master key".into(),
            master.private_key.secret_bytes().to_vec(),
        ),
        (
            "master chain code".into(),
            master.chain_code.as_bytes().to_vec(),
        ),
        (
            "account key".into(),
            account.private_key.secret_bytes().to_vec(),
        ),
        (
            "account chain code".into(),
            account.chain_code.as_bytes().to_vec(),
        ),
    ];
    for branch in 0..2u32 {
        for index in 0..8u32 {
            let p: bitcoin::bip32::DerivationPath =
                format!("m/{branch}/{index}").parse().expect("leaf");
            let k = account.derive_priv(&secp, &p).expect("leaf");
            needles.push((
                format!("leaf key {branch}/{index}"),
                k.private_key.secret_bytes().to_vec(),
            ));
        }
    }
    // The account xpub derived here is the node's cosigner in the ground's wallet.
    let xpub = bitcoin::bip32::Xpub::from_priv(&secp, &account);
    assert_eq!(
        xpub.public_key.serialize(),
        w.ground.cosigners[w.ground.node_index]
            .xpub
            .public_key_bytes()
    );
    let regions = channel_regions();
    let names: Vec<&str> = regions.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().any(|n| n.starts_with("sign-requests")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("sign-responses")),
        "{names:?}"
    );
    // Positive control: the scan does see what crossed the channels.
    let cert = &w.batches[1].1[..99];
    assert!(
        regions.iter().any(|(_, b)| contains(b, &cert[..64])),
        "the scan finds the last batch's certificate in a ring"
    );
    for (what, needle) in &needles {
        for (name, bytes) in &regions {
            assert!(
                !contains(bytes, needle),
                "{what} found in channel region {name}"
            );
        }
    }
    node.stop();
}

const TESTS: &[(&str, fn())] = &[
    (
        "a_batch_sent_in_chunks_is_cosigned_and_verifies",
        a_batch_sent_in_chunks_is_cosigned_and_verifies,
    ),
    (
        "no_channel_slot_ever_holds_the_seed_or_a_private_key",
        no_channel_slot_ever_holds_the_seed_or_a_private_key,
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("pd") {
        return pd(args.get(2).map(String::as_str).unwrap_or(""));
    }
    if args.iter().any(|a| a == "--list") {
        for (name, _) in TESTS {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut ran, mut failed) = (0, 0);
    for (name, test) in TESTS {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        print!("test {name} ... ");
        match std::panic::catch_unwind(test) {
            Ok(()) => println!("ok"),
            Err(_) => {
                println!("FAILED");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        ran - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
