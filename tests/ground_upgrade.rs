//! Whole-system test of an on-orbit upgrade, with real processes: a fresh node under
//! `spacenode run` is factory-provisioned with this very executable in slot A (version 0.1.0,
//! the sim board's public factory keys), and `spacenode ground upgrade` talks to it over the sim
//! radio (the shipped description's CCSDS space link: the messages go through FOP-1; the same
//! upgrade runs on the CCSDS link with the HMAC suite and on units too):
//!
//! 1. the same executable with 256 KiB appended, stamped version 2.0.0 (security counter 1):
//!    the agent copies every chunk it already has on board, and only the header and the changed
//!    chunks go up, through the windowed uplink over the 10 % loss radio (the bytes uplinked
//!    are at least what the node needed and less than twice it); the boot stage trial-boots
//!    slot B (the new image really runs: its own boot line says slot B), the agent confirms it
//!    after the health soak, and the command prints "confirmed" with the version;
//! 2. a downgrade (1.0.0) is refused before any image byte, with the agent's reason, exit 1;
//! 3. `ground status` shows both slots' versions and the refusal.
//!
//! The bundles are signed with the sim board's public factory keys (`src/boot/sim_release.rs`,
//! compiled into this test); the test checks their root hashes to the node's OTP, so a change of
//! those keys fails here first. Every wait is bounded; nothing asserts how fast anything is.

mod common;

use common::{Board, free_addr, text};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};
use upgrade::Version;

#[path = "../src/boot/sim_release.rs"]
mod sim;

fn spacenode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(args)
        .output()
        .expect("spacenode")
}

/// `image` as `version` / `counter`, signed with the sim factory keys.
fn sim_release(image: &[u8], version: Version, counter: u32) -> Vec<u8> {
    sim::sim_release(image, version, counter).unwrap()
}

/// Bytes appended to the executable to make version 2.
const TAIL: usize = 256 << 10;

/// The number just before `what` in `text` (digits and separators).
fn number_before(text: &str, what: &str) -> u64 {
    let at = text
        .find(what)
        .unwrap_or_else(|| panic!("no {what:?} in:\n{text}"));
    let digits: String = text[..at]
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().unwrap()
}

/// `ground status` over `link`: on the 10 % loss radio a report can be lost; the tool then
/// says "run status again", as an operator would.
fn status(link: &[&str]) -> String {
    let mut args = vec!["ground", "status"];
    args.extend(link);
    let mut st = String::new();
    for _ in 0..5 {
        st = text(&spacenode(&args));
        if !st.contains("report lost on the downlink") {
            break;
        }
    }
    st
}

fn link_args<'a>(uplink: &'a str, ground: &'a str, gstate: &'a str) -> Vec<&'a str> {
    vec!["--node", uplink, "--listen", ground, "--state", gstate]
}

/// Upgrades the node `board` runs to version 2 (this executable with [`TAIL`] new bytes) with
/// `spacenode ground upgrade` over `link` (extra ground flags, e.g. `--link ccsds:421`), and
/// checks what the module docs say of step 1: only the header and the changed chunks went up,
/// the boot stage ran slot B's verified image, and the agent confirmed it. Returns the
/// executable (slot A's image).
fn upgrade_to_v2(board: &mut Board, dir: &Path, link: &[&str], loss: &str) -> Vec<u8> {
    let exe = std::fs::read(env!("CARGO_BIN_EXE_spacenode")).unwrap();
    // Version 2 is this executable with 256 KiB of new bytes after it (an ELF runs with bytes
    // appended): its last chunk and four new ones must go up, through the windowed uplink.
    let mut image = exe.clone();
    image.extend((0..TAIL as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let v2 = sim_release(&image, Version::new(2, 0, 0), 1);
    let otp = std::fs::read(dir.join("node").join("otp.bin")).unwrap();
    let root1 = upgrade::Header::parse(&v2).unwrap().roots()[0].body;
    assert!(
        otp.windows(32).any(|w| w == &Sha256::digest(root1)[..]),
        "the test's factory keys are the node's"
    );
    let v2_path = dir.join("v2.bundle");
    std::fs::write(&v2_path, &v2).unwrap();
    // A bounded deadline, so a sender that stalls fails here rather than after 10 minutes.
    let mut args = vec!["ground", "upgrade", "--deadline-s", "180"];
    args.extend(link);
    let p = v2_path.to_str().unwrap();
    args.push(p);
    let o = spacenode(&args);
    let out = text(&o);
    assert!(o.status.success(), "{out}\nnode log:\n{}", {
        board.drain();
        board.log.join("\n")
    });
    assert!(
        out.contains("confirmed: the node runs version 2.0.0 from slot B"),
        "{out}"
    );
    assert!(out.contains("copied on board"), "{out}");
    println!("{out}");
    // The chunks the node did not have: the tail, plus the executable's last partial chunk.
    let chunk = 1usize << sim::SIM_CHUNK_LOG2;
    let header = upgrade::header_len(&v2).unwrap();
    let needed = header + (image.len() - exe.len() / chunk * chunk);
    let uplinked = number_before(&out, " bytes uplinked");
    let copied = number_before(&out, " bytes copied on board");
    assert_eq!(copied as usize, exe.len() / chunk * chunk, "{out}");
    assert!(
        uplinked as usize >= needed && (uplinked as usize) < needed * 2,
        "{uplinked} bytes uplinked for {needed} the node needed over the {loss} loss radio:\n{out}"
    );
    board.wait_for("[boot] power-on #2: slot B (trial");
    assert!(
        board
            .log
            .iter()
            .any(|l| l.contains("slot B (trial") && l.contains("verified: version 2.0.0")),
        "the boot stage ran slot B's image"
    );
    board.wait_for("confirmed after its health soak");
    exe
}

#[test]
fn an_upgrade_over_the_radio_is_trial_booted_and_confirmed_and_a_downgrade_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("node");
    let gstate = dir.path().join("ground");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (uplink, ground) = (free_addr(), free_addr());
    let mut board = Board::boot(&state, uplink, ground, &["--radio-loss", "0.1"]);
    board.wait_for("[upgrade] INFO  slot A running");
    let (u, g, gs) = (uplink.to_string(), ground.to_string(), s(&gstate));
    let exe = upgrade_to_v2(&mut board, dir.path(), &link_args(&u, &g, &gs), "10 %");

    // A downgrade is refused with the agent's reason.
    let v1 = sim_release(&exe, Version::new(1, 0, 0), 1);
    let v1_path = dir.path().join("v1.bundle");
    std::fs::write(&v1_path, &v1).unwrap();
    let mut args = vec!["ground", "upgrade"];
    args.extend(link_args(&u, &g, &gs));
    let p = s(&v1_path);
    args.push(&p);
    let o = spacenode(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("not newer than the node's confirmed version"),
        "{}",
        text(&o)
    );

    let st = status(&link_args(&u, &g, &gs));
    assert!(st.contains("upgrade: running slot B (confirmed B)"), "{st}");
    assert!(st.contains("slot A 0.1.0"), "{st}");
    assert!(st.contains("slot B 2.0.0 (security counter 1)"), "{st}");
    assert!(
        st.contains("last refusal: its version is not newer"),
        "{st}"
    );
    board.stop();
}

/// The same upgrade with the radio's link named on both ends (`--radio-link` and `--link`),
/// without the downgrade: the messages go through FOP-1 on the CCSDS link (which retransmits
/// lost frames, across the node's reboot into the trial: its FARM-1 starts again at 0), or as
/// units; then `ground status` over the same link shows the new version.
fn an_upgrade_over(radio_link: &str, loss: &str) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("node");
    let gstate = dir.path().join("ground");
    let (uplink, ground) = (free_addr(), free_addr());
    let radio = ["--radio-link", radio_link, "--radio-loss", loss];
    let mut board = Board::boot(&state, uplink, ground, &radio);
    board.wait_for("[upgrade] INFO  slot A running");
    let (u, g, gs) = (
        uplink.to_string(),
        ground.to_string(),
        gstate.display().to_string(),
    );
    let mut link = link_args(&u, &g, &gs);
    link.extend(["--link", radio_link]);
    upgrade_to_v2(&mut board, dir.path(), &link, loss);
    let st = status(&link);
    assert!(st.contains("upgrade: running slot B (confirmed B)"), "{st}");
    assert!(st.contains("slot B 2.0.0 (security counter 1)"), "{st}");
    board.stop();
}

/// The CCSDS link named on the command line, with no loss (the test above runs the
/// description's link at 10 % loss). Without loss FOP-1 meets the node's reboot into its trial
/// image with nothing to retransmit: this is the case that needs the service started again with
/// Set V(R) after the alert.
#[test]
fn an_upgrade_over_the_ccsds_link_named_on_the_command_line_with_no_loss_is_confirmed() {
    an_upgrade_over("ccsds:421", "0");
}

/// Comms' own units, still the standby line's format and an explicit choice for the radio.
#[test]
fn an_upgrade_over_units_at_10_percent_loss_is_confirmed() {
    an_upgrade_over("units", "0.1");
}

/// The agent's error paths in its real partition: a progress record damaged in both copies and
/// a garbage header in the inactive slot are reported at start, the agent keeps running (no
/// restart, no crash loop), and `ground status` shows what it found.
#[test]
fn a_damaged_progress_record_and_slot_are_reported_by_the_running_agent() {
    use hal::slots::SlotLayout;
    use std::os::unix::fs::FileExt;
    const LAYOUT: SlotLayout = SlotLayout {
        slot_size: 128 << 20,
        header_area: 64 << 10,
        progress_len: 16 << 10,
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("node");
    let gstate = dir.path().join("ground");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (uplink, ground) = (free_addr(), free_addr());
    let mut board = Board::boot(&state, uplink, ground, &[] as &[&str]);
    board.wait_for("[upgrade] INFO  slot A running");
    board.stop();

    // Both copies of the progress record: a plausible header, then garbage (a record that was
    // written and is lost); slot B's header area: the bundle magic, then garbage.
    let f = std::fs::File::options()
        .write(true)
        .open(state.join("slot-flash.flash"))
        .unwrap();
    let garbage: Vec<u8> = (0..512u32).map(|i| (i * 7 + 3) as u8).collect();
    for copy in [0, u64::from(LAYOUT.progress_len / 2)] {
        f.write_all_at(&garbage, u64::from(LAYOUT.progress_offset()) + copy)
            .unwrap();
    }
    let mut header = b"SNBUNDLE".to_vec();
    header.extend_from_slice(&garbage);
    f.write_all_at(&header, u64::from(LAYOUT.slot_size))
        .unwrap();
    drop(f);

    let mut board = Board::boot(&state, uplink, ground, &[] as &[&str]);
    board.wait_for("[upgrade] ERROR progress record lost");
    board.wait_for("slot B: no image header");
    let (u, g, gs) = (uplink.to_string(), ground.to_string(), s(&gstate));
    let mut args = vec!["ground", "status"];
    args.extend(link_args(&u, &g, &gs));
    let o = spacenode(&args);
    let st = text(&o);
    assert!(
        st.contains("last refusal: the node lost its progress record"),
        "{st}"
    );
    assert!(st.contains("slot B nothing"), "{st}");
    board.drain();
    assert!(
        !board
            .log
            .iter()
            .any(|l| l.contains("FAULT upgrade") || l.contains("upgrade restarted")),
        "the agent was not restarted:\n{}",
        board.log.join("\n")
    );
    board.stop();
}

/// The chunks-in-place count in `ground status`'s upgrade lines.
fn chunks_in_place(status: &str) -> (u64, u64) {
    let line = status
        .lines()
        .find(|l| l.contains(" chunks in place"))
        .unwrap_or_else(|| panic!("no transfer in:\n{status}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "of").expect("N of M");
    (
        words[at - 1].parse().unwrap(),
        words[at + 1].parse().unwrap(),
    )
}

/// `spacenode ground upgrade` killed with SIGKILL in the middle of the uplink, then run again:
/// it resumes where the node is (the chunks the node already has are not sent again, measured
/// with the agent's counters against the bytes the second run uplinked), and the upgrade is
/// confirmed.
#[test]
fn a_killed_ground_upgrade_resumes_where_the_node_is_without_resending_its_chunks() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    const LONG_TAIL: usize = 2 << 20;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("node");
    let gstate = dir.path().join("ground");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (uplink, ground) = (free_addr(), free_addr());
    // A 2 Mbit/s radio, so the 2 MiB of new chunks take seconds to go up.
    let mut board = Board::boot(&state, uplink, ground, &["--radio-kbps", "2000"]);
    board.wait_for("[upgrade] INFO  slot A running");
    let exe = std::fs::read(env!("CARGO_BIN_EXE_spacenode")).unwrap();
    let mut image = exe.clone();
    image.extend((0..LONG_TAIL as u32).map(|i| (i.wrapping_mul(2_246_822_519) >> 11) as u8));
    let v2 = sim_release(&image, Version::new(2, 0, 0), 1);
    let path = dir.path().join("v2.bundle");
    std::fs::write(&path, &v2).unwrap();
    let (u, g, gs, p) = (uplink.to_string(), ground.to_string(), s(&gstate), s(&path));
    let mut args = vec!["ground", "upgrade"];
    args.extend(link_args(&u, &g, &gs));
    args.push(&p);

    // First run: killed a while after the node starts asking for chunks.
    let mut child = Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    for line in out.lines().map_while(Result::ok) {
        let go = line.contains("uplinking the");
        seen.push(line);
        if go {
            break;
        }
    }
    assert!(seen.iter().any(|l| l.contains("uplinking the")), "{seen:?}");
    std::thread::sleep(std::time::Duration::from_secs(4));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let mut st_args = vec!["ground", "status"];
    st_args.extend(link_args(&u, &g, &gs));
    let st = text(&spacenode(&st_args));
    let (had, total) = chunks_in_place(&st);
    assert!(had < total, "killed before the end: {st}");
    let chunk = 1u64 << sim::SIM_CHUNK_LOG2;
    let copied = exe.len() as u64 / chunk;
    assert!(had > copied, "some uplinked chunks were in place: {st}");

    // Second run: resumes, sends only what the node still lacks, and confirms.
    let o = spacenode(&args);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("resuming at message"), "{out}");
    assert!(
        out.contains("confirmed: the node runs version 2.0.0"),
        "{out}"
    );
    let uplinked = number_before(&out, " bytes uplinked");
    let missing = (total - had) * chunk;
    // Slack: the window's horizon beyond the last chunk, and 5 % of spurious resends.
    let slack = 65 * PIECE_BYTES + missing / 20;
    println!("{out}");
    println!(
        "{had} of {total} chunks in place after the kill ({copied} copied on board); the second run uplinked {uplinked} bytes for {missing} missing"
    );
    assert!(
        (had - copied) * chunk > slack,
        "the first run got far enough for the check below to tell a resend of its chunks: {st}"
    );
    assert!(
        uplinked <= missing + slack,
        "{uplinked} bytes uplinked again for {missing} bytes of missing chunks:\n{out}"
    );
    board.stop();
}

/// Bundle bytes per transfer message (`spacenode ground upgrade`'s).
const PIECE_BYTES: u64 = 1_800;
