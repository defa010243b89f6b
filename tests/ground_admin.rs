//! Whole-system test of the signer's registry administration over the link, with real
//! processes: a node provisioned with one ground server and three admin keys (2-of-3) runs under
//! `spacenode run`, and `spacenode ground admin` talks to it over the sim radio:
//!
//! 0. with the node not running yet, `export-xpub` says the node is unreachable;
//! 1. `export-xpub --server 1` prints the server's account key, verified against the node's
//!    identity key, and it is the key `spacenode node-key` gave before provisioning; the same
//!    export checked against another identity key is refused;
//! 2. a revoke signed by one admin only is refused with the signer's code
//!    (`AdminNotEnoughSignatures`);
//! 3. a 2-of-3 signed policy change applies, then a 2-of-3 signed revoke; after the run, the signer core booted in process from the
//!    node's own key flash refuses a batch of that server as revoked (receipt class 1, code 3),
//!    where the same batch on a copy of the flash taken before the revoke got past the
//!    certificate. (Over the link the verdict of a complete batch comes down in the CFDP result
//!    file, not in the chunk's verification report, so the batch is run in process.)
//! 4. the same command again with the same counter (a replay) is refused (`AdminReplayed`);
//! 5. an add-server too large for one radio unit travels in chunks and is refused by the
//!    registry for what it says (not for its size or chunking).
//!
//! And `add-wallet` (issue 20): a wallet on the node's account 5, its key from `export-xpub
//! --account 5`, is added to server 1 with 2 of 3 admin signatures; the same account again is
//! refused with the signer's code and words (0x1334).
//!
//! Every wait is bounded; nothing asserts how fast anything happens.

mod common;

use common::{Board, free_addr, server_lines, text, wallet_descriptor, write_secret};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A receipt's error for a revoked server: certificate class (1), `RevokedServer` (3).
const REVOKED: (u8, u8) = (1, 3);

fn hex(b: &[u8]) -> String {
    hex_conservative::DisplayHex::to_lower_hex_string(b)
}

fn spacenode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(args)
        .output()
        .expect("spacenode")
}

/// A batch for server 1 (certificate sequence `seq`, one placeholder PSBT) run by the signer
/// core booted in process on a copy of the node's key flash `image`: the receipt's error
/// (class, code). Class 1 is the certificate, code 3 `RevokedServer` (`signer::cert`).
fn batch_verdict(image: &Path, identity: &str, cert: &p256::SecretKey, seq: u64) -> (u8, u8) {
    let image = image.to_path_buf();
    let cert = cert.clone();
    let identity = identity.to_string();
    // The signer keeps its registry by value: unoptimised builds need a big stack.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let flash: board_sim::flash::SimFlash =
                board_sim::flash::SimFlash::open(&image).expect("key flash copy");
            let seal = signer::keys::SealKey::new(board_sim::drivers::SIM_SEAL_SECRET);
            let (mut s, _) = signer::node::Signer::boot(
                flash,
                signer::persist::SignerLayout::contiguous(0),
                &seal,
                &mut board_sim::rng::OsRng,
            )
            .expect("signer boot");
            assert_eq!(hex(&s.identity_public_key()), identity);
            assert!(s.registry().server(1).is_some(), "server 1 is registered");
            let psbt = b"psbt\xff\x00 placeholder: the certificate is checked first".to_vec();
            let mut batch = vec![0u8; 99 + 32];
            let n = signer::cert::build(&mut batch, &cert, 1, seq, u64::MAX, &[&psbt]).unwrap();
            batch.truncate(n);
            batch.extend_from_slice(&(psbt.len() as u32).to_be_bytes());
            batch.extend_from_slice(&psbt);
            let mut job = s.begin_batch(&batch, hal::time::Instant::ZERO);
            let mut out = vec![0u8; signer::batch::MAX_SIGNED_PSBT];
            for _ in 0..1_000_000 {
                if let signer::batch::Step::Done(r) = job.step(&mut s, &mut out) {
                    assert!(r.verify(&s.identity_public_key()), "receipt signature");
                    return (r.class(), r.code());
                }
            }
            panic!("the batch does not finish");
        })
        .expect("thread")
        .join()
        .expect("signer thread")
}

/// A node on `dir/node` provisioned (through the inbox, as `spacenode provision` does) with
/// three admin keys (2 needed, their key files in `dir`) and one ground server (certificate key
/// `[9; 32]`), before its first run.
struct Provisioned {
    state: PathBuf,
    node_key: String,
    identity: String,
    admins: Vec<p256::SecretKey>,
    key_files: Vec<String>,
    prov_file: PathBuf,
    cert: p256::SecretKey,
}

fn provisioned(dir: &Path) -> Provisioned {
    let state = dir.join("node");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    // The node's key and identity, before provisioning (first boot of the signer's seed).
    let o = spacenode(&["node-key", "--state", &s(&state)]);
    assert!(o.status.success(), "{}", text(&o));
    let node_key = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let o = spacenode(&["ground", "admin", "identity", "--state", &s(&state)]);
    assert!(o.status.success(), "{}", text(&o));
    let identity = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(identity.len(), 66, "{identity}");

    // Three admin keys (2 needed), one server.
    let admins: Vec<p256::SecretKey> = (1..=3u8)
        .map(|b| p256::SecretKey::from_slice(&[b; 32]).unwrap())
        .collect();
    let mut key_files = Vec::new();
    for (i, a) in admins.iter().enumerate() {
        let f = dir.join(format!("admin{i}.key"));
        write_secret(&f, &hex(&a.to_bytes()));
        key_files.push(s(&f));
    }
    let cert = p256::SecretKey::from_slice(&[9; 32]).unwrap();
    let cert_public = signer::p256sig::compress(&cert.public_key());
    let mut prov = String::from("spacenode-signer-registry 1\nadmin-threshold 2\n");
    for a in &admins {
        prov += &format!(
            "admin {}\n",
            hex(&signer::p256sig::compress(&a.public_key()))
        );
    }
    prov += &server_lines(&node_key, &cert_public);
    let prov_file = dir.join("provisioning.txt");
    std::fs::write(&prov_file, &prov).unwrap();
    let o = spacenode(&["provision", "--state", &s(&state), &s(&prov_file)]);
    assert!(o.status.success(), "{}", text(&o));

    Provisioned {
        state,
        node_key,
        identity,
        admins,
        key_files,
        prov_file,
        cert,
    }
}

/// `spacenode ground admin CMD` over the node's link at `uplink`/`listen`, ground state in
/// `ground_state`.
fn link_command(
    uplink: SocketAddr,
    listen: SocketAddr,
    ground_state: &Path,
    cmd: &[&str],
) -> Output {
    let mut args = vec!["ground", "admin"];
    args.extend_from_slice(cmd);
    let (u, l, g) = (
        uplink.to_string(),
        listen.to_string(),
        ground_state.to_str().unwrap().to_string(),
    );
    args.extend_from_slice(&["--node", &u, "--listen", &l, "--state", &g]);
    args.extend_from_slice(&["--timeout-ms", "2000", "--attempts", "3"]);
    spacenode(&args)
}

#[test]
fn registry_administration_over_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let ground_state = dir.path().join("ground");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let Provisioned {
        state,
        node_key,
        identity,
        admins,
        key_files,
        prov_file,
        cert,
    } = provisioned(dir.path());

    let (uplink, listen) = (free_addr(), free_addr());
    // Before the node runs: unreachable, said plainly.
    let (u, l, g) = (uplink.to_string(), listen.to_string(), s(&ground_state));
    let o = spacenode(&[
        "ground",
        "admin",
        "export-xpub",
        "--server",
        "1",
        "--identity",
        &identity,
        "--node",
        &u,
        "--listen",
        &l,
        "--state",
        &g,
        "--timeout-ms",
        "200",
        "--attempts",
        "1",
    ]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no answer from the node"),
        "{}",
        text(&o)
    );
    let mut board = Board::boot(
        &state,
        uplink,
        listen,
        &["--radio-latency-ms", "1", "--radio-kbps", "4000"],
    );
    board.wait_for("provisioned from the inbox: 1 servers");
    let link = |cmd: &[&str]| link_command(uplink, listen, &ground_state, cmd);

    // 1. Export, verified against the identity.
    let o = link(&["export-xpub", "--server", "1", "--identity", &identity]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("identity signature verified"), "{}", text(&o));
    assert!(
        out.lines().any(|l| l.trim() == node_key),
        "the export is not node-key's {node_key}:\n{}",
        text(&o)
    );
    let o = link(&["export-xpub", "--account", "0", "--identity", &identity]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.trim() == node_key),
        "{}",
        text(&o)
    );
    let stranger = hex(&signer::p256sig::compress(&admins[0].public_key()));
    let o = link(&["export-xpub", "--server", "1", "--identity", &stranger]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("does NOT verify"),
        "{}",
        text(&o)
    );
    let o = link(&["export-xpub", "--server", "7", "--identity", &identity]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("code 0x1311"),
        "{}",
        text(&o)
    );

    // Before any revoke, on a copy of the node's key flash: the server's batch gets past the
    // certificate (and is refused later, for its placeholder PSBT).
    let before_image = dir.path().join("key-flash-before.flash");
    std::fs::copy(state.join("key-flash.flash"), &before_image).unwrap();
    let before = batch_verdict(&before_image, &identity, &cert, 1);
    assert_ne!(before, REVOKED, "refused as revoked before the revoke");

    // 2. One signature of a 2-of-3: refused with the signer's code.
    let reg = s(&prov_file);
    let one = format!("1={}", key_files[1]);
    let o = link(&[
        "revoke",
        "--server",
        "1",
        "--identity",
        &identity,
        "--admin-key",
        &one,
    ]);
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("code 0x1307"), "{}", text(&o));
    assert!(err.contains("not enough admin signatures"), "{}", text(&o));

    // 3. Two of three: a new policy applies (the counter goes on from the refused one: 2),
    // then the revoke (3).
    let two = [format!("0={}", key_files[0]), format!("1={}", key_files[1])];
    let o = link(&[
        "policy",
        "--server",
        "1",
        "--rules",
        "rule allow max-amount=100000 max-fee=1000; rule deny",
        "--identity",
        &identity,
        "--admin-key",
        &two[0],
        "--admin-key",
        &two[1],
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("admin counter 2"),
        "{}",
        text(&o)
    );
    let o = link(&[
        "revoke",
        "--server",
        "1",
        "--identity",
        &identity,
        "--registry",
        &reg,
        "--admin-key",
        &key_files[0],
        "--admin-key",
        &key_files[2],
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("admin counter 3"),
        "{}",
        text(&o)
    );

    // 4. The same command with the same counter: replayed.
    let o = link(&[
        "revoke",
        "--server",
        "1",
        "--identity",
        &identity,
        "--registry",
        &reg,
        "--admin-key",
        &key_files[0],
        "--admin-key",
        &key_files[2],
        "--counter",
        "3",
    ]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("code 0x1303"),
        "{}",
        text(&o)
    );

    // 5. A body larger than one radio unit: chunked, reassembled, judged by the registry.
    let mut big = String::from("server id=1 key=00 network=regtest account=0 descriptor=x\n");
    while big.len() < 3000 {
        big += "rule allow max-amount=1\n";
    }
    let big_file = dir.path().join("big-server.txt");
    std::fs::write(&big_file, &big).unwrap();
    let o = link(&[
        "add-server",
        "--file",
        &s(&big_file),
        "--identity",
        &identity,
        "--registry",
        &reg,
        "--admin-key",
        &key_files[0],
        "--admin-key",
        &key_files[1],
    ]);
    assert!(!o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("in 2 chunks"), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("code 0x1308"),
        "{}",
        text(&o)
    );

    // 6. Rotating the admin set (2-of-3 -> 2-of-2 new keys) needs the new admins' signatures
    // too; afterwards the old admins sign nothing, the new ones do (rotating back to a 1-of-2).
    let new_keys: Vec<p256::SecretKey> = [21u8, 22]
        .iter()
        .map(|b| p256::SecretKey::from_slice(&[*b; 32]).unwrap())
        .collect();
    let mut new_files = Vec::new();
    for (i, k) in new_keys.iter().enumerate() {
        let f = dir.path().join(format!("new{i}.key"));
        write_secret(&f, &hex(&k.to_bytes()));
        new_files.push(s(&f));
    }
    let set_file = |name: &str, m: u8, keys: &[&p256::SecretKey]| {
        let mut t = format!("admin-threshold {m}\n");
        for k in keys {
            t += &format!(
                "admin {}\n",
                hex(&signer::p256sig::compress(&k.public_key()))
            );
        }
        let f = dir.path().join(name);
        std::fs::write(&f, t).unwrap();
        s(&f)
    };
    let new_set = set_file("new-set.txt", 2, &[&new_keys[0], &new_keys[1]]);
    let rotate = |set: &str, current: &[&str], new: &[&str]| {
        let mut args = vec!["rotate-admins", "--file", set, "--identity", &identity];
        for c in current {
            args.extend(["--admin-key", c]);
        }
        for n in new {
            args.extend(["--new-admin-key", n]);
        }
        link(&args)
    };
    let o = rotate(&new_set, &[&two[0], &two[1]], &[&new_files[0]]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("code 0x130b"),
        "{}",
        text(&o)
    );
    let o = rotate(
        &new_set,
        &[&two[0], &two[1]],
        &[&new_files[0], &new_files[1]],
    );
    assert!(o.status.success(), "{}", text(&o));
    let back = set_file("back.txt", 1, &[&admins[0], &admins[1]]);
    let o = rotate(&back, &[&two[0], &two[1]], &[&key_files[0]]);
    assert!(
        !o.status.success(),
        "the old admins no longer sign: {}",
        text(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("code 0x1306"),
        "{}",
        text(&o)
    );
    let now = [format!("0={}", new_files[0]), format!("1={}", new_files[1])];
    let o = rotate(&back, &[&now[0], &now[1]], &[&key_files[0]]);
    assert!(o.status.success(), "the new admins sign: {}", text(&o));

    // The revoke is on the node's flash: once the node is stopped, the signer booted from that
    // flash refuses the server's next batch as revoked, with a receipt signed by the identity.
    board.wait_for("admin: policy of server 1 replaced (counter 2)");
    board.wait_for("admin: server 1 revoked (counter 3)");
    board.wait_for("admin: admin set replaced: 2 of 2 keys");
    board.wait_for("admin: admin set replaced: 1 of 2 keys");
    drop(board);
    let after_image = dir.path().join("key-flash-after.flash");
    std::fs::copy(state.join("key-flash.flash"), &after_image).unwrap();
    assert_eq!(batch_verdict(&after_image, &identity, &cert, 2), REVOKED);
}

#[test]
fn a_wallet_is_added_over_the_link_and_its_account_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let ground_state = dir.path().join("ground");
    let p = provisioned(dir.path());
    let (uplink, listen) = (free_addr(), free_addr());
    let mut board = Board::boot(&p.state, uplink, listen, &["--radio-latency-ms", "1"]);
    board.wait_for("provisioned from the inbox: 1 servers");
    let link = |cmd: &[&str]| link_command(uplink, listen, &ground_state, cmd);
    let o = link(&["export-xpub", "--account", "5", "--identity", &p.identity]);
    assert!(o.status.success(), "{}", text(&o));
    let key = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find(|l| l.starts_with('[') && l.contains("/48h/1h/5h/2h]"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no account 5 key: {}", text(&o)));
    let descriptor = wallet_descriptor(&key, [0x43, 0x44]);
    let two = [
        format!("0={}", p.key_files[0]),
        format!("2={}", p.key_files[2]),
    ];
    let add = || {
        link(&[
            "add-wallet",
            "--server",
            "1",
            "--account",
            "5",
            "--descriptor",
            &descriptor,
            "--identity",
            &p.identity,
            "--admin-key",
            &two[0],
            "--admin-key",
            &two[1],
        ])
    };
    let o = add();
    assert!(o.status.success(), "{}", text(&o));
    board.wait_for("admin: wallet on account 5 added to server 1");
    let o = add();
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("code 0x1334"), "{}", text(&o));
    assert!(
        err.contains("another wallet already uses this node account"),
        "{}",
        text(&o)
    );
}

/// Issue 14 point 2 over the link: the ledger record of a provisioned node is erased while it
/// is off. The signer then runs degraded and refuses every batch; `ground admin recover` reads
/// this boot's challenge and sends `recover-ledger`: under-signed it is refused with the
/// signer's code, with the threshold it sets every server's sequence floor, after which a batch
/// at the floor is refused as replayed and one above it passes the certificate. Once recovered,
/// a second recovery is refused (the node is not in lost state). A replayed recovery (another
/// boot's challenge) is refused in `signer --test lost_state`.
#[test]
fn a_lost_ledger_is_recovered_by_the_admins_over_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let ground_state = dir.path().join("ground");
    let p = provisioned(dir.path());
    let (uplink, listen) = (free_addr(), free_addr());
    let radio = ["--radio-latency-ms", "1", "--radio-kbps", "4000"];
    let mut board = Board::boot(&p.state, uplink, listen, &radio);
    board.wait_for("every pinged component answered in time");
    board.stop();

    // Erase the ledger record (both copies), as a worn-out sector would leave it.
    let ledger = signer::persist::SignerLayout::contiguous(0).ledger;
    let key_flash = p.state.join("key-flash.flash");
    let mut image = std::fs::read(&key_flash).unwrap();
    let (base, len) = (ledger.base() as usize, 2 * ledger.copy_size() as usize);
    image[base..base + len].fill(0xFF);
    std::fs::write(&key_flash, &image).unwrap();

    let mut board = Board::boot(&p.state, uplink, listen, &radio);
    board.wait_for("[signer] ERROR the ledger record is BLANK next to the registry");
    let recover = |keys: &[&str]| -> Output {
        let (u, l, g) = (
            uplink.to_string(),
            listen.to_string(),
            ground_state.to_str().unwrap().to_string(),
        );
        let mut args = vec![
            "ground",
            "admin",
            "recover",
            "--floor",
            "100",
            "--identity",
            &p.identity,
        ];
        for k in keys {
            args.extend_from_slice(&["--admin-key", k]);
        }
        args.extend_from_slice(&["--node", &u, "--listen", &l, "--state", &g]);
        args.extend_from_slice(&["--timeout-ms", "2000", "--attempts", "3"]);
        spacenode(&args)
    };
    let k0 = format!("0={}", p.key_files[0]);
    let k2 = format!("2={}", p.key_files[2]);
    let o = recover(&[&k0]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("the signer's ledger is lost; challenge of this boot"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("code 0x1307"), "{}", text(&o));
    let o = recover(&[&k0, &k2]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("ledger recovered: every registered server at certificate sequence 100"),
        "{}",
        text(&o)
    );
    board.wait_for("[signer] INFO  ledger recovered: 1 servers at sequence floor 100");
    let o = recover(&[&k0, &k2]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("code 0x1330"), "{}", text(&o));
    board.stop();

    // The floors are on the node's flash: at the floor a replay, above it past the certificate.
    let after = dir.path().join("key-flash-recovered.flash");
    std::fs::copy(&key_flash, &after).unwrap();
    assert_eq!(batch_verdict(&after, &p.identity, &p.cert, 100), (1, 6));
    let above = batch_verdict(&after, &p.identity, &p.cert, 101);
    assert_ne!(
        above.0, 1,
        "a sequence above the floor passes the certificate: {above:?}"
    );
}

/// Issue 13 finding 8: `--admin-key -1=FILE` was read as a file named `-1=FILE`, and `--state`
/// naming a file said `File exists (os error 17)`. Both now say what is wrong, before any
/// uplink.
#[test]
fn bad_admin_key_index_and_a_state_file_are_named_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("k");
    std::fs::write(&key, "11".repeat(32)).expect("key");
    let g = "036B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296";
    let state = dir.path().join("gs");
    for idx in ["-1", "+3", "256"] {
        let o = spacenode(&[
            "ground",
            "admin",
            "revoke",
            "--server",
            "1",
            &format!("--admin-key={idx}={}", key.display()),
            "--identity",
            g,
            "--state",
            state.to_str().expect("utf-8"),
        ]);
        assert!(!o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains("the admin index must be a number from 0 to 255"),
            "{}",
            text(&o)
        );
    }
    let o = spacenode(&[
        "ground",
        "ping",
        "--attempts",
        "1",
        "--state",
        key.to_str().expect("utf-8"),
    ]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("exists and is not a directory"),
        "{}",
        text(&o)
    );
    let o = spacenode(&["run", "--state", key.to_str().expect("utf-8")]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("exists and is not a directory"),
        "{}",
        text(&o)
    );
}
