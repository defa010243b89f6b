//! Whole-system test of the radio as a CCSDS space link, with real processes: `spacenode run
//! --radio-link ccsds:421` boots the shipped description with that `[link]` section on the sim
//! board, its radio through the link emulator at 10 % seeded loss each way, and the ground
//! speaks TC frames in CLTUs under FOP-1 and reads TM frames (`--link ccsds:421`):
//!
//! 1. `ground ping` completes (1,1, 1,3, 1,7): FOP-1 retransmits what the radio loses;
//! 2. `ground status` shows the node's counters;
//! 3. a forged TC frame (a well-formed frame under the right SPI, sealed with another key) and
//!    a replayed CLTU are refused, and the security counters in `ground status` say so;
//! 4. a ground speaking units to this node is not answered (the node reads only CLTUs).
//!
//! Every wait is bounded; nothing asserts how fast anything happens.

mod common;

use common::{Board, free_addr, ground_command, lossy_radio, number_after, one_board, text};
use comms::ground::Ground;
use comms::node::DEFAULT_APID;
use comms::radio_ccsds::{CcsdsConfig, GroundRadio, MAX_CLTU};
use comms::sdls::sim_default::{SIM_MONITOR_SPI, sim_default};
use comms::sdls::{Key, KeyState, Permissions, ProvisionedSa, Provisioning};
use std::net::UdpSocket;

const LINK: &str = "ccsds:421";

fn ground(
    cmd: &str,
    uplink: std::net::SocketAddr,
    listen: std::net::SocketAddr,
    state: &std::path::Path,
) -> std::process::Output {
    ground_command(
        &[
            cmd,
            "--link",
            LINK,
            "--timeout-ms",
            "500",
            "--attempts",
            "8",
        ],
        uplink,
        listen,
        state,
    )
    .output()
    .expect("spacenode ground")
}

/// `ground status` until its security line came (on the 10 % loss radio a housekeeping
/// report can be lost; the tool then says to run it again, as an operator would).
fn status(
    uplink: std::net::SocketAddr,
    listen: std::net::SocketAddr,
    state: &std::path::Path,
) -> String {
    let mut t = String::new();
    for _ in 0..5 {
        let out = ground("status", uplink, listen, state);
        t = text(&out);
        if out.status.success() && t.contains("bad MAC ") {
            break;
        }
    }
    t
}

/// The node's link parameters, as `--radio-link ccsds:421` gives them (kernel-config's
/// defaults for the rest).
fn cfg() -> CcsdsConfig {
    CcsdsConfig {
        scid: 421,
        tc_vcid: 0,
        tm_vcid: 0,
        tm_frame_len: 1115,
    }
}

/// One CLTU as a ground under `provisioning` would send first (FOP-1's Set V(R)), SPI `spi`.
fn first_cltu(provisioning: &Provisioning, spi: u16) -> Vec<u8> {
    let mut g = Ground::new(provisioning, None, DEFAULT_APID).expect("ground");
    let mut radio = GroundRadio::new(cfg(), spi).expect("radio");
    let mut buf = [0u8; MAX_CLTU];
    let n = radio
        .next_cltu(&mut g, &mut buf)
        .expect("cltu")
        .expect("Set V(R)");
    buf[..n].to_vec()
}

#[test]
fn ping_status_and_refusals_over_the_ccsds_radio() {
    let _one = one_board();
    let node_state = tempfile::tempdir().expect("tempdir");
    let ground_state = tempfile::tempdir().expect("tempdir");
    let (uplink, listen) = (free_addr(), free_addr());
    let mut flags: Vec<&str> = lossy_radio("0.1", "7").to_vec();
    flags.extend(["--radio-link", LINK]);
    let mut board = Board::boot(node_state.path(), uplink, listen, &flags);
    board.wait_for("radio: CCSDS space link, spacecraft 0x1a5");

    // 1. Ping through the lossy radio.
    let out = ground("ping", uplink, listen, ground_state.path());
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("1,1 ok, 1,3 ok, 1,7 ok"), "{t}");
    assert!(t.contains("CCSDS space link (ccsds:421)"), "{t}");

    // 2. Status.
    let t = status(uplink, listen, ground_state.path());
    let bad_mac_before = number_after(&t, "bad MAC ");
    let replayed_before = number_after(&t, "(replayed ");

    // 3. A forged frame (right SPI, another key) and a replayed CLTU from a test station on
    //    the monitoring association.
    let sock = UdpSocket::bind(listen).expect("bind as the ground");
    let other = {
        let sas = [ProvisionedSa {
            spi: SIM_MONITOR_SPI,
            permissions: Permissions::ALL,
            window: 64,
            telemetry: true,
            master: Key::from_bytes([0x99; 32]),
            state: KeyState::Active,
            suite: comms::sdls::Suite::Aes256Gcm,
            key_id: 0,
        }];
        let mut buf = [0u8; 64];
        let n = Provisioning::encode(&sas, &mut buf).expect("encode");
        Provisioning::parse(&buf[..n]).expect("parse")
    };
    let forged = first_cltu(&other, SIM_MONITOR_SPI);
    let genuine = first_cltu(&sim_default().expect("sim keys"), SIM_MONITOR_SPI);
    // Five of each, so that the radio's 10 % loss cannot take them all.
    for _ in 0..5 {
        sock.send_to(&forged, uplink).expect("send");
        sock.send_to(&genuine, uplink).expect("send");
    }
    // Only the genuine frame's answers come back (its CLCW in an idle frame, the rate-limited
    // replay event); drain them so that the ground below hears only its own.
    sock.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    while sock.recv(&mut buf).is_ok() {}
    drop(sock);
    let t = status(uplink, listen, ground_state.path());
    let forged_refused = number_after(&t, "bad MAC ") - bad_mac_before;
    let replays_refused = number_after(&t, "(replayed ") - replayed_before;
    assert!((1..=5).contains(&forged_refused), "{t}");
    assert!((1..=4).contains(&replays_refused), "{t}");

    // 4. Units on the radio are not CLTUs: no answer (within 2 s, longer than the pings above).
    let out = common::ground_command(
        &[
            "ping",
            "--link",
            "units",
            "--timeout-ms",
            "1000",
            "--attempts",
            "2",
        ],
        uplink,
        listen,
        ground_state.path(),
    )
    .output()
    .expect("spacenode ground");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("no answer from the node"),
        "{}",
        text(&out)
    );
    board.stop();
}

/// Each association's suite comes from the provisioning file (format version 3): a node
/// provisioned by `provision-link --generate` runs SPI 1 under AES-256-GCM and SPI 2 under
/// HMAC-SHA-256 on the one CCSDS radio; a ground reading the same file pings under each, and
/// `ground status` (housekeeping structure 3) shows each association's suite and key id.
#[test]
fn each_association_runs_the_suite_its_provisioning_names() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let (node_state, ground_state) = (dir.path().join("node"), dir.path().join("ground"));
    let file = dir.path().join("link.keys");
    let o = common::spacenode(&["provision-link", "--generate"], &[&file]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("HMAC-SHA-256, key id 3"), "{}", text(&o));
    let o = common::spacenode(&["provision-link", "--state"], &[&node_state, &file]);
    assert!(o.status.success(), "{}", text(&o));
    let (uplink, listen) = (free_addr(), free_addr());
    let mut flags: Vec<&str> = lossy_radio("0.1", "11").to_vec();
    flags.extend(["--radio-link", LINK]);
    let mut board = Board::boot(&node_state, uplink, listen, &flags);
    board.wait_for("SA 2: uplink floor 0, next downlink 1, suite HMAC-SHA-256, key id 3");
    let keys = file.to_str().expect("utf-8 path");
    let mut status = String::new();
    for spi in ["1", "2"] {
        let args = [
            "ping",
            "--link",
            LINK,
            "--provisioning",
            keys,
            "--spi",
            spi,
            "--timeout-ms",
            "500",
            "--attempts",
            "8",
        ];
        let out = ground_command(&args, uplink, listen, &ground_state)
            .output()
            .expect("spacenode ground");
        // On the lossy radio a report may be lost; the pong and the success exit are what
        // count.
        assert!(out.status.success(), "SPI {spi}: {}", text(&out));
        assert!(text(&out).contains("pong from the node"), "{}", text(&out));
    }
    for _ in 0..5 {
        let mut args = vec!["status", "--link", LINK, "--provisioning", keys];
        args.extend(["--timeout-ms", "500", "--attempts", "8"]);
        let out = ground_command(&args, uplink, listen, &ground_state)
            .output()
            .expect("spacenode ground");
        status = text(&out);
        if out.status.success() && status.contains("  SA 2:") {
            break;
        }
    }
    for (spi, suite) in [(1, "AES-256-GCM, key id 2"), (2, "HMAC-SHA-256, key id 3")] {
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("  SA {spi}:")))
            .unwrap_or_else(|| panic!("no SA {spi} line:\n{status}"));
        assert!(line.contains(suite), "{line}");
    }
    let c = number_after(&status, "bad MAC ");
    assert_eq!(c, 0, "{status}");
    board.stop();
}
