//! Whole-system test of the comms partition with real processes: `spacenode run` boots the
//! shipped description on the sim board with the radio going through the link emulator at 10%
//! seeded loss in each direction, and the ground talks to it over UDP:
//!
//! 1. `spacenode ground ping` gets 1,1, 1,3 and 1,7 for its 17,1 (retrying through the loss);
//! 2. forged units (bad MAC) and replayed units get no answer at all;
//! 3. one command arriving in several units (a retransmission) runs once: its reports come back
//!    each time, its effect (the 17,2 reply) at most once;
//! 4. `spacenode ground status` shows the bad-MAC and bad-sequence counters;
//! 5. after a node reboot (same state directory) the ground resumes above the node's persisted
//!    anti-replay floor and is answered;
//! 6. a sign chunk lost with a signer the watchdog restarted fails at once (1,8 `NoAnswer`)
//!    instead of holding a pending slot for comms' 120 s timeout.
//!
//! The tests that send raw units (forged, replayed, retransmitted) or count the units' own
//! retries run the radio on units (`--radio-link units`, the ground with `--link units`); the
//! CCSDS radio's counterparts are in `tests/radio_ccsds.rs`. The others follow the shipped
//! description's link.
//!
//! Every wait is bounded; nothing asserts how fast anything happens.

mod common;

use common::standby::{PppGround, pty_path};
use common::{
    BOUND, Board, UNITS, free_addr, ground_cli, ground_cli_units, lossy_radio as radio,
    number_after, one_board, text, units_radio, write_secret,
};
use comms::ground::Ground;
use comms::node::DEFAULT_APID;
use comms::pus::verification::Report;
use comms::sdls::engine::HEADER_LEN;
use comms::sdls::mac::MAC_LEN;
use comms::sdls::sim_default::{SIM_MONITOR_SPI, sim_default};
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

/// A second ground station on the monitoring association (its own ARSNs), speaking through
/// the comms crate directly so that it can forge, replay and retransmit units.
struct TestGround {
    spi: u16,
    ground: Ground,
    sock: UdpSocket,
    node: SocketAddr,
    /// The standby link (PPP), if connected.
    serial: Option<PppGround>,
}

/// What a unit caused: (verification reports for the request, 17,2 replies, other TMs).
#[derive(Debug, Default)]
struct Seen {
    reports: Vec<Report>,
    pongs: usize,
    other: usize,
}

impl TestGround {
    fn new(listen: SocketAddr, node: SocketAddr) -> TestGround {
        let p = sim_default().expect("sim provisioning");
        TestGround {
            spi: SIM_MONITOR_SPI,
            ground: Ground::new(&p, None, DEFAULT_APID).expect("ground"),
            sock: UdpSocket::bind(listen).expect("bind ground"),
            node,
            serial: None,
        }
    }

    /// A 17,1 under SPI 2: (unit, the bare TC packet, its request ID).
    fn ping_unit(&mut self) -> (Vec<u8>, Vec<u8>, comms::pus::tc::RequestId) {
        let mut unit = vec![0u8; comms::sdls::MAX_UNIT_LEN];
        let (n, rid) = self
            .ground
            .uplink(self.spi, 17, 1, 0, &[], &mut unit)
            .expect("uplink");
        unit.truncate(n);
        let packet = unit[HEADER_LEN..n - MAC_LEN].to_vec();
        (unit, packet, rid)
    }

    /// A command under this station's association: (unit, request ID).
    fn command_unit(
        &mut self,
        service: u8,
        subservice: u8,
        app: &[u8],
    ) -> (Vec<u8>, comms::pus::tc::RequestId) {
        let mut unit = vec![0u8; comms::sdls::MAX_UNIT_LEN];
        let (n, rid) = self
            .ground
            .uplink(self.spi, service, subservice, 0, app, &mut unit)
            .expect("uplink");
        unit.truncate(n);
        (unit, rid)
    }

    /// Send a command and wait for its final report (no loss on this board).
    fn run(&mut self, service: u8, subservice: u8, app: &[u8]) -> Seen {
        let (unit, rid) = self.command_unit(service, subservice, app);
        self.send(&unit);
        let mut seen = Seen::default();
        let deadline = Instant::now() + BOUND;
        while !seen.reports.iter().any(|r| {
            matches!(
                r,
                Report::CompletionSuccess
                    | Report::CompletionFailure(_)
                    | Report::AcceptanceFailure(_)
                    | Report::StartFailure(_)
            )
        }) && Instant::now() < deadline
        {
            self.collect(rid, Duration::from_millis(100), &mut seen);
        }
        seen
    }

    fn rewrap(&mut self, packet: &[u8]) -> Vec<u8> {
        let mut unit = vec![0u8; comms::sdls::MAX_UNIT_LEN];
        let n = self.ground.wrap(self.spi, packet, &mut unit).expect("wrap");
        unit.truncate(n);
        unit
    }

    fn send(&self, unit: &[u8]) {
        self.sock.send_to(unit, self.node).expect("send");
    }

    /// Talk on the standby link too, through PPP (downlink goes out on the active link, and
    /// answers on the link a command came in on).
    fn connect_serial(&mut self, pty: &std::path::Path) {
        self.serial = Some(PppGround::connect(pty));
    }

    fn send_serial(&self, unit: &[u8]) {
        self.serial.as_ref().expect("PPP connected").send(unit);
    }

    /// Everything that arrives within `wait` (either link), sorted by what it is for `rid`.
    fn collect(&mut self, rid: comms::pus::tc::RequestId, wait: Duration, seen: &mut Seen) {
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 65_536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let unit = match self.serial.as_ref().and_then(|s| s.rx.try_recv().ok()) {
                Some(u) => u,
                None => {
                    let step = if self.serial.is_some() {
                        left.min(Duration::from_millis(20))
                    } else {
                        left
                    };
                    self.sock.set_read_timeout(Some(step)).expect("timeout");
                    match self.sock.recv(&mut buf) {
                        Ok(n) => buf[..n].to_vec(),
                        Err(_) if self.serial.is_some() => continue,
                        Err(_) => return,
                    }
                }
            };
            let Ok(d) = self.ground.downlink(&unit) else {
                continue;
            };
            match d.verification {
                Some((r, report)) if r == rid => seen.reports.push(report),
                _ if d.tm.service == 17 && d.tm.subservice == 2 => seen.pongs += 1,
                _ => seen.other += 1,
            }
        }
    }
}

fn completed(s: &Seen) -> usize {
    s.reports
        .iter()
        .filter(|r| matches!(r, Report::CompletionSuccess))
        .count()
}

#[test]
fn ground_and_node_over_a_lossy_radio() {
    let _one = one_board();
    let node_state = tempfile::tempdir().expect("tempdir");
    let ground_state = tempfile::tempdir().expect("tempdir");
    let (uplink, listen) = (free_addr(), free_addr());
    let board = Board::boot(node_state.path(), uplink, listen, &units_radio("0.1", "7"));

    // 1. Ping through the lossy link: acceptance, start and completion reports.
    let out = ground_cli_units("ping", uplink, listen, ground_state.path());
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("1,1 ok, 1,3 ok, 1,7 ok"), "{t}");

    let mut g = TestGround::new(listen, uplink);

    // 2a. Forged units (MAC flipped): never answered.
    let mut forged_rids = Vec::new();
    for _ in 0..5 {
        let (mut unit, _, rid) = g.ping_unit();
        let last = unit.len() - 1;
        unit[last] ^= 0x01;
        g.send(&unit);
        forged_rids.push(rid);
    }
    let mut seen = Seen::default();
    for rid in &forged_rids {
        g.collect(*rid, Duration::from_millis(150), &mut seen);
    }
    assert!(seen.reports.is_empty() && seen.pongs == 0, "{seen:?}");

    // 2b. A valid unit until it is answered (resending the same bytes is harmless while it was
    // lost), then the same bytes again: replays get no answer.
    let (unit, packet, rid) = g.ping_unit();
    let mut first = Seen::default();
    for _ in 0..8 {
        g.send(&unit);
        g.collect(rid, Duration::from_millis(400), &mut first);
        if completed(&first) > 0 {
            break;
        }
    }
    assert!(completed(&first) > 0, "never answered: {first:?}");
    let mut replays = Seen::default();
    for _ in 0..5 {
        g.send(&unit);
    }
    g.collect(rid, Duration::from_millis(500), &mut replays);
    assert!(
        replays.reports.is_empty() && replays.pongs == 0,
        "{replays:?}"
    );

    // 3. The same command in four new units: reports each time, the reply at most once more.
    let mut again = Seen::default();
    for _ in 0..4 {
        let u = g.rewrap(&packet);
        g.send(&u);
        g.collect(rid, Duration::from_millis(300), &mut again);
    }
    assert!(
        completed(&again) >= 2,
        "duplicates get their reports again: {again:?}"
    );
    assert_eq!(
        again.pongs, 0,
        "a duplicate must not run again: {again:?} (first run: {first:?})"
    );
    assert!(first.pongs <= 1, "{first:?}");
    drop(g);

    // 4. Status shows the refusals.
    let out = ground_cli_units("status", uplink, listen, ground_state.path());
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let bad_mac = number_after(&t, "bad MAC");
    let bad_seq = number_after(&t, "bad sequence");
    assert!((1..=5).contains(&bad_mac), "{t}");
    assert!((1..=5).contains(&bad_seq), "{t}");
    assert!(t.contains("links: active primary (radio)"), "{t}");
    let floor_before = number_after(&t, "SA 1: key epoch 0, last uplink ARSN");
    assert!(floor_before >= 1, "{t}");
    board.stop();

    // 5. Reboot: the node restores its floor; the ground's next ARSN is below it at first.
    let board = Board::boot(node_state.path(), uplink, listen, &units_radio("0.1", "7"));
    let out = ground_cli_units("ping", uplink, listen, ground_state.path());
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("1,7 ok"), "{t}");
    let out = ground_cli_units("status", uplink, listen, ground_state.path());
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        number_after(&t, "SA 1: key epoch 0, last uplink ARSN") > floor_before,
        "{t}"
    );
    board.stop();
}

/// A lost attempt is retried without locking the ground out: at 30 % loss each way, most
/// commands need a retry, and every one of them must still be answered. (The ground once moved
/// its ARSN a whole reservation block ahead on every retry, past the node's anti-replay window:
/// after one lost attempt the node refused, silently, everything the ground sent.)
#[test]
fn lost_attempts_are_retried_without_locking_the_ground_out() {
    let _one = one_board();
    let node_state = tempfile::tempdir().expect("tempdir");
    let ground_state = tempfile::tempdir().expect("tempdir");
    let (uplink, listen) = (free_addr(), free_addr());
    let _board = Board::boot(node_state.path(), uplink, listen, &units_radio("0.3", "11"));
    let mut retried = 0;
    for i in 0..6 {
        let out = Command::new(env!("CARGO_BIN_EXE_spacenode"))
            .args(["ground", "ping", "--timeout-ms", "300", "--attempts", "25"])
            .args(UNITS)
            .arg("--node")
            .arg(uplink.to_string())
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--state")
            .arg(ground_state.path())
            .output()
            .expect("ground");
        let t = text(&out);
        assert!(out.status.success(), "ping {i}: {t}");
        if !t.contains("(1 attempt,") {
            retried += 1;
        }
    }
    // The seeded link loses some first attempts; without any the test would prove nothing.
    assert!(retried >= 1, "no ping needed a retry: pick another seed");
}

/// Each run of the ground tool continues the telecommand sequence count: an identical command
/// from a later run is a new command (it runs), not a retransmission of the earlier one (whose
/// reports the node would only repeat).
#[test]
fn identical_commands_from_separate_runs_both_run() {
    let _one = one_board();
    let node_state = tempfile::tempdir().expect("tempdir");
    let ground_state = tempfile::tempdir().expect("tempdir");
    let (uplink, listen) = (free_addr(), free_addr());
    let _board = Board::boot(node_state.path(), uplink, listen, &radio("0", "1"));
    for i in 0..2 {
        let out = ground_cli("ping", uplink, listen, ground_state.path());
        let t = text(&out);
        assert!(out.status.success(), "ping {i}: {t}");
        assert!(t.contains("17,2 pong from the node"), "ping {i}: {t}");
    }
}

#[test]
fn ground_reports_an_unreachable_node_and_bad_inputs() {
    let ground_state = tempfile::tempdir().expect("tempdir");
    let (uplink, listen) = (free_addr(), free_addr());
    let out = Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(["ground", "ping", "--timeout-ms", "100", "--attempts", "2"])
        .arg("--node")
        .arg(uplink.to_string())
        .arg("--listen")
        .arg(listen.to_string())
        .arg("--state")
        .arg(ground_state.path())
        .output()
        .expect("ground");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!("no answer from the node at {uplink}")),
        "{t}"
    );

    let dir = ground_state.path();
    write_secret(&dir.join("bad.key"), "not a key\n");
    std::fs::write(dir.join("bad.psbt"), b"hello").expect("write");
    write_secret(&dir.join("good.key"), &format!("{}\n", "11".repeat(32)));
    std::fs::write(dir.join("open.key"), format!("{}\n", "11".repeat(32))).expect("write");
    std::fs::set_permissions(
        dir.join("open.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    let batch = |key: &str, psbt: &str| {
        Command::new(env!("CARGO_BIN_EXE_spacenode"))
            .args(["ground", "batch", "--server", "1", "--key"])
            .arg(dir.join(key))
            .arg("--out")
            .arg(dir.join("out.batch"))
            .arg("--state")
            .arg(dir)
            .arg(dir.join(psbt))
            .output()
            .expect("batch")
    };
    let out = batch("bad.key", "bad.psbt");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("bad.key") && t.contains("64 hex characters"),
        "{t}"
    );
    // A new key: mode 0600, its public key printed, an existing file never replaced.
    let keygen = || {
        Command::new(env!("CARGO_BIN_EXE_spacenode"))
            .args(["ground", "keygen", "--out"])
            .arg(dir.join("new.key"))
            .output()
            .expect("keygen")
    };
    let out = keygen();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let public = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        public.len() == 66 && (public.starts_with("02") || public.starts_with("03")),
        "{t}"
    );
    let meta = std::fs::metadata(dir.join("new.key")).expect("new key");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    let out = keygen();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = batch("new.key", "bad.psbt");
    assert!(
        text(&out).contains("not a PSBT"),
        "the new key reads: {}",
        text(&out)
    );
    let out = batch("open.key", "bad.psbt");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains(&format!(
            "group or others may access it (mode 0644); run `chmod 600 {}`",
            dir.join("open.key").display()
        )),
        "{t}"
    );
    let out = batch("good.key", "bad.psbt");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("bad.psbt") && t.contains("not a PSBT"), "{t}");
}

#[test]
fn a_radio_flood_of_forged_units_starves_neither_the_standby_link_nor_the_radio() {
    let _one = one_board();
    let node_state = tempfile::tempdir().expect("tempdir");
    let (uplink, listen) = (free_addr(), free_addr());
    // A channel wide enough to carry the whole flood (20 Mbit/s, about 60,000 forged units a
    // second): what is tested is the node under the flood, not the channel. A flood above the
    // channel's capacity is jamming; the channel itself then drops valid units with the forged
    // ones (tail drop), whatever the node does.
    let mut radio = units_radio("0.1", "7");
    radio[7] = "20000";
    let mut board = Board::boot(node_state.path(), uplink, listen, &radio);
    board.wait_for("serial line, ground side at ");
    let pty = pty_path(&board.log);

    let mut g = TestGround::new(listen, uplink);
    g.connect_serial(&pty);
    board.wait_for("standby link: PPP up (IPCP opened)");
    // First contact on the radio makes it the active downlink (at boot nothing was heard on
    // either link and the node sits on the standby).
    let (unit, _, rid) = g.ping_unit();
    let mut contact = Seen::default();
    for _ in 0..8 {
        g.send(&unit);
        g.collect(rid, Duration::from_millis(300), &mut contact);
        if completed(&contact) > 0 {
            break;
        }
    }
    assert!(completed(&contact) > 0, "{contact:?}");

    // Forged units (valid structure, wrong MAC) from the ground's own address, as fast as the
    // socket takes them, until told to stop.
    let flood_sock = g.sock.try_clone().expect("clone");
    let (mut forged, _, _) = g.ping_unit();
    let last = forged.len() - 1;
    forged[last] ^= 0xFF;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            // 20 units per millisecond at most: hundreds of times the node's per-call budget,
            // without taking a shared 2-core CI machine away from everything else.
            let mut sent = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 10_000_000 {
                for _ in 0..20 {
                    if flood_sock.send_to(&forged, uplink).is_ok() {
                        sent += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            sent
        })
    };
    std::thread::sleep(Duration::from_millis(300));

    // A ping on the standby link (PPP) during the flood: answered, on the standby link (the
    // link it came in on).
    let (unit, _, rid) = g.ping_unit();
    g.send_serial(&unit);
    let mut over_serial = Seen::default();
    let deadline = Instant::now() + BOUND;
    while completed(&over_serial) == 0 && Instant::now() < deadline {
        g.collect(rid, Duration::from_millis(200), &mut over_serial);
    }

    // A ping on the flooded radio itself gets through too (the same command again until
    // answered: the node runs it once).
    let (unit, packet, rid) = g.ping_unit();
    let mut over_radio = Seen::default();
    g.send(&unit);
    let deadline = Instant::now() + BOUND;
    while completed(&over_radio) == 0 && Instant::now() < deadline {
        g.collect(rid, Duration::from_millis(300), &mut over_radio);
        if completed(&over_radio) == 0 {
            let u = g.rewrap(&packet);
            g.send(&u);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flooded = flood.join().expect("flood thread");
    assert!(
        completed(&over_serial) > 0,
        "standby ping during a radio flood of {flooded} units: {over_serial:?}"
    );
    assert!(
        completed(&over_radio) > 0,
        "radio ping during a flood of {flooded} units: {over_radio:?}"
    );
    // The counters, asked for on the standby link and read on the active one (the radio: a
    // forged flood does not move the downlink), asked again while the report is lost on the
    // lossy radio.
    let deadline = Instant::now() + BOUND;
    let mut bad_mac = None;
    let mut buf = vec![0u8; 65_536];
    while bad_mac.is_none() && Instant::now() < deadline {
        let mut unit = vec![0u8; comms::sdls::MAX_UNIT_LEN];
        let (n, _) = g
            .ground
            .uplink(SIM_MONITOR_SPI, 3, 27, 0, &[1, 3], &mut unit)
            .expect("hk request");
        g.send_serial(&unit[..n]);
        let asked = Instant::now();
        while bad_mac.is_none() && asked.elapsed() < Duration::from_millis(500) {
            let unit = match g
                .serial
                .as_ref()
                .and_then(|s| s.rx.recv_timeout(Duration::from_millis(20)).ok())
            {
                Some(u) => u,
                None => {
                    g.sock
                        .set_read_timeout(Some(Duration::from_millis(20)))
                        .expect("timeout");
                    match g.sock.recv(&mut buf) {
                        Ok(n) => buf[..n].to_vec(),
                        Err(_) => continue,
                    }
                }
            };
            if let Ok(d) = g.ground.downlink(&unit)
                && d.tm.service == 3
                && let Some((c, _)) = comms::pus::hk::decode_security(d.tm.source)
            {
                bad_mac = Some(c.bad_mac);
            }
        }
    }
    let bad_mac = bad_mac.expect("housekeeping structure 3 after the flood");
    assert!(bad_mac >= 100, "flood of {flooded}: bad MAC {bad_mac}");

    // A unit of the radio's full 2,048 bytes crosses the standby link too (both PPP ends
    // negotiated an MRU above the default 1,500): a 17,1 with application data the node
    // refuses, in words, on the link it came in on.
    let overhead = comms::sdls::engine::OVERHEAD + 16;
    let (unit, rid) = g.command_unit(17, 1, &vec![0x55; 2048 - overhead]);
    assert!(unit.len() > 2000 && unit.len() <= 2048, "{}", unit.len());
    let mut big = Seen::default();
    let deadline = Instant::now() + BOUND;
    while big.reports.is_empty() && Instant::now() < deadline {
        g.send_serial(&unit);
        g.collect(rid, Duration::from_millis(500), &mut big);
    }
    assert!(
        !big.reports.is_empty(),
        "no answer to a {}-byte unit on the standby link",
        unit.len()
    );
    board.stop();
}

fn sign_chunk(batch: u64, index: u32, count: u32, data: &[u8]) -> Vec<u8> {
    let mut app = comms::pus::function::FN_SIGN_CHUNK.to_be_bytes().to_vec();
    let mut args = vec![0u8; comms::pus::function::CHUNK_ARGS_LEN + data.len()];
    let n = comms::pus::function::encode_chunk(
        &comms::pus::function::Chunk {
            id: batch,
            position: protocol::ChunkPosition {
                index,
                count,
                offset: index * data.len() as u32,
                total_len: count * data.len() as u32,
            },
            data,
        },
        &mut args,
    )
    .expect("chunk");
    app.extend_from_slice(&args[..n]);
    app
}

fn failure_code(s: &Seen) -> Option<u16> {
    s.reports
        .iter()
        .find_map(|r| r.failure())
        .map(|f| f.code.code())
}

#[test]
fn sign_chunks_are_routed_to_the_signer_and_its_answers_come_back() {
    let _one = one_board();
    let node_state = tempfile::tempdir().expect("tempdir");
    let (uplink, listen) = (free_addr(), free_addr());
    let board = Board::boot(node_state.path(), uplink, listen, &units_radio("0.1", "7"));
    let mut g = TestGround::new(listen, uplink);
    g.spi = comms::sdls::sim_default::SIM_OPS_SPI;
    let pong = g.run(17, 1, &[]);
    assert_eq!(completed(&pong), 1, "{pong:?}");

    // A batch whose first chunk claims to be its second: the signer refuses it, and its reason
    // reaches the ground as the command's completion failure (SignerBadChunking).
    let bad = g.run(8, 1, &sign_chunk(0x55, 1, 2, &[1u8; 100]));
    assert_eq!(failure_code(&bad), Some(0x1005), "{bad:?}");
    assert!(
        matches!(bad.reports.last(), Some(Report::CompletionFailure(_))),
        "{bad:?}"
    );

    // A chunk in order: the signer stores it and acknowledges; the command completes.
    let ok = g.run(8, 1, &sign_chunk(0x56, 0, 2, &[2u8; 100]));
    assert_eq!(
        ok.reports,
        vec![
            Report::AcceptanceSuccess,
            Report::StartSuccess,
            Report::CompletionSuccess
        ],
        "{ok:?}"
    );

    // The monitoring association may not sign: refused by routing before anything is sent.
    g.spi = SIM_MONITOR_SPI;
    let denied = g.run(8, 1, &sign_chunk(0x57, 0, 1, &[3u8; 10]));
    assert_eq!(failure_code(&denied), Some(0x0203), "{denied:?}");
    // An unknown function of service 8: refused by routing too.
    let unknown = g.run(8, 1, &[0x7F, 0x7F]);
    assert!(
        matches!(failure_code(&unknown), Some(0x0202 | 0x0203)),
        "{unknown:?}"
    );
    board.stop();
}

/// A sign chunk given to a signer that then restarts is lost with it (the board empties the
/// restarted signer's ring): comms fails the command at once (1,8 `NoAnswer`, its data the
/// seconds waited) when the watchdog's report shows the restart, instead of holding one of its
/// 16 pending slots until `PENDING_TIMEOUT_S` (120 s). The signer is frozen (SIGSTOP, as a hung
/// handler) so that the chunk is certainly in its ring, not taken, when the watchdog restarts
/// it. The restarted signer then answers the next chunk.
#[test]
fn a_sign_chunk_lost_with_a_restarted_signer_fails_at_once() {
    let _one = one_board();
    let node_state = tempfile::tempdir().expect("tempdir");
    let (uplink, listen) = (free_addr(), free_addr());
    let mut board = Board::boot(node_state.path(), uplink, listen, &units_radio("0", "1"));
    let mut g = TestGround::new(listen, uplink);
    g.spi = comms::sdls::sim_default::SIM_OPS_SPI;
    let pong = g.run(17, 1, &[]);
    assert_eq!(completed(&pong), 1, "{pong:?}");
    board.wait_for("[monitor] signer started (pid ");
    let pid = board
        .log
        .iter()
        .find_map(|l| l.split("[monitor] signer started (pid ").nth(1))
        .and_then(|rest| rest.split(')').next())
        .and_then(|p| p.parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw)
        .expect("the signer's pid in the monitor's log");
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).expect("SIGSTOP the signer");

    let lost = g.run(8, 1, &sign_chunk(0x61, 0, 2, &[4u8; 100]));
    board.wait_for("[monitor] signer restarted (pid ");
    let failure = lost.reports.iter().find_map(|r| r.failure());
    assert_eq!(
        failure.map(|f| f.code),
        Some(comms::failure::FailureCode::NoAnswer),
        "{lost:?}"
    );
    let waited = failure.map_or(u32::MAX, |f| f.data);
    assert!(
        u64::from(waited) < comms::node::PENDING_TIMEOUT_S,
        "failed only by the pending timeout ({waited} s): {lost:?}"
    );

    // Refused as "signer down" until the watchdog reports it healthy again, then answered.
    let mut answered = None;
    for batch in 0x62..0x80 {
        let ok = g.run(8, 1, &sign_chunk(batch, 0, 2, &[5u8; 100]));
        if completed(&ok) == 1 {
            answered = Some(ok);
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        answered.is_some(),
        "the restarted signer never answered a chunk"
    );
    board.stop();
}
