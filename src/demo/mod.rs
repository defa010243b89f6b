//! `spacenode demo`: the whole story on the sim board, in a fresh temporary state directory, in
//! well under a minute:
//!
//! 1. the system description is checked against every shipped board;
//! 2. provisioning before launch: the node's key flash gets its seed, a ground server and a
//!    2-of-3 wallet are registered, with 2-of-3 admin keys for later changes ([`story`]);
//! 3. the node powers on, every component in its own sandboxed process, with its radio (the
//!    shipped description's CCSDS space link) behind the link emulator at 10 % loss each way
//!    ([`board`]);
//! 4. a ping over that radio, and the node's mission clock correlated to the ground's (two of
//!    three admins sign it; certificates expire on that clock, one hour after signing) ([`admin`]);
//! 5. two real payments co-signed by CFDP batch, finalised, and accepted by Bitcoin Core's script
//!    interpreter; one over the policy's limit refused with the signer's reason ([`cosign`]);
//! 6. a replayed and a forged telecommand refused and counted ([`attack`]);
//! 7. a component frozen while a second batch signs: the watchdog restarts it, the batch
//!    completes ([`fault`]);
//! 8. a wallet user through the ground server: registers, submits a payment, confirms it by
//!    TOTP and gets it co-signed ([`wallet`]);
//! 9. a registry change over the link: one admin signature is refused, two of three revoke the
//!    server, and its next batch is refused as revoked ([`admin`]);
//! 10. an on-orbit upgrade on a second node run under the secure boot stage: the same executable
//!     as version 2.0.0 (copied on board, trial-booted, confirmed), a broken release that rolls
//!     back by itself, a downgrade refused ([`upgrade`]); the second node runs beside the first
//!     from its power-on on, and its chapter is printed after the first node's;
//! 11. a summary.
//!
//! Every step waits with a bound and fails the demo (exit 2) with what it did not see.

mod admin;
mod attack;
mod board;
mod cosign;
mod fault;
pub mod story;
mod upgrade;
mod wallet;

use crate::failure::Failure;
use crate::ground::session::{Session, SessionConfig};
use board::Radio;
use board_sim::monitor::MonitorEvent;
use comms::pus::ST_TEST;
use kernel_config::shipped;
use std::time::{Duration, Instant};

/// The radio the demo flies.
const RADIO: Radio = Radio {
    loss_ppm: 100_000,
    latency: Duration::from_millis(20),
    bps: 2_000_000,
    seed: 3,
};

/// The component frozen while the second batch signs: not on the signing path, so the batch
/// shows that one partition's hang costs the others nothing.
const VICTIM: &str = "upgrade";

fn title(n: u32, text: &str) {
    println!();
    println!("{n}. {text}");
}

pub fn run() -> Result<(), Failure> {
    let started = Instant::now();
    println!("spacenode demo: a space node co-signing for a ground server over a lossy radio");
    println!("===============================================================================");
    title(
        1,
        "The system description (kernel-config/spacenode.toml) on every shipped board:",
    );
    let sim = check_description()?;

    let tmp = tempfile::tempdir()
        .map_err(|e| Failure::Usage(format!("cannot create a temporary state directory: {e}")))?;
    let node_state = tmp.path().join("node");
    let upgrade_node = upgrade::prepare(tmp.path());
    let ground_state = tmp.path().join("ground");
    title(
        2,
        "Provisioning before launch (fresh keys, nothing reused):",
    );
    let ground = story::provision(&node_state)?;
    story::show(&ground);

    let speaks = match crate::radio_link::RadioChoice::shipped()
        .map_err(Failure::Usage)?
        .link
    {
        runtime::RadioLink::Ccsds(_) => {
            "the CCSDS space link (TC frames in CLTUs up, TM frames down)"
        }
        runtime::RadioLink::Units => "comms' secured units",
    };
    title(
        3,
        &format!(
            "Power on: every component in its own sandboxed process; the radio speaks {speaks}, loses {} % of datagrams each way, {} ms latency, {} kbit/s",
            RADIO.loss_ppm / 10_000,
            RADIO.latency.as_millis(),
            RADIO.bps / 1000
        ),
    );
    let mut node = board::power_on(&node_state, RADIO)?;
    // The second node's chapter runs from now on, beside the first node's chapters (after the
    // first board took its CPU budgets); it is shown in its place, chapter 10.
    let upgrading = upgrade::start(tmp.path(), upgrade_node);
    let result = story_on(&mut node, &sim, &ground, &ground_state);
    let stopped = node.board.stop();
    // Joined before any error is returned: its node is stopped when its chapter ends, and none
    // is left running behind the demo.
    let upgraded = upgrading.finish();
    let events = stopped.map_err(|e| Failure::Usage(format!("the sim board failed: {e}")))?;
    let mut summary = result?;
    if let Some((_, e)) = events
        .iter()
        .find(|(_, e)| matches!(e, MonitorEvent::Stopped { .. }))
    {
        println!("   {e}");
    }
    title(
        10,
        "Upgrade a node over the same radio (a second node, run by its secure boot stage):",
    );
    println!(
        "   (this node ran beside the first one while chapters 4 to 9 ran; its factory provisioning and the three signed releases were made from the demo's start)"
    );
    let upgraded = upgraded?;
    for l in &upgraded.lines {
        println!("   {l}");
    }
    summary.extend(upgraded.summary?);
    title(11, "Summary");
    for line in summary {
        println!("   {line}");
    }
    println!("   whole demo: {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Step 1; returns the sim board's system.
fn check_description() -> Result<kernel_config::System, Failure> {
    let description = shipped::description();
    let mut sim = None;
    for name in shipped::BOARDS {
        let board = shipped::board(name).ok_or_else(|| {
            Failure::Usage(format!("shipped board `{name}` is missing from this build"))
        })?;
        let s = kernel_config::load(&description, &board)
            .map_err(|d| Failure::Rejected(d.to_string()))?;
        println!("   ok: {}", crate::config::summary(&s));
        if name == "flight" {
            let xml = kernel_config::sdf::export(&s).map_err(|e| {
                Failure::Rejected(format!(
                    "error: the Microkit tool would refuse the flight SDF:\n  {e}\n"
                ))
            })?;
            println!(
                "       flight SDF generated and checked against the Microkit tool's SDF rules (program images not built yet; {} lines; `spacenode config sdf --board flight`)",
                xml.lines().count()
            );
        }
        if name == "sim" {
            sim = Some(s);
        }
    }
    println!("   (`spacenode config graph` prints who may send what to whom)");
    sim.ok_or_else(|| Failure::Usage("the sim board is missing from this build".into()))
}

/// The ground's session with the demo node (the sim board's public default SDLS keys).
fn open_session(node: &board::Node, ground_state: &std::path::Path) -> Result<Session, Failure> {
    let provisioning = comms::sdls::sim_default::sim_default_bytes()
        .map_err(|e| Failure::Usage(format!("sim default provisioning: {e}")))?
        .to_vec();
    Session::open(SessionConfig {
        node: node.uplink,
        listen: node.ground,
        state_dir: ground_state.to_path_buf(),
        provisioning,
        spi: comms::sdls::sim_default::SIM_OPS_SPI,
        timeout: Duration::from_millis(800),
        attempts: 8,
        link: crate::ground::serial_link::LinkChoice::radio().map_err(Failure::Usage)?,
    })
    .map_err(|e| Failure::Usage(e.to_string()))
}

/// The wallet chapter's directory (its server's database and key), beside the ground state.
fn wallet_dir(ground_state: &std::path::Path) -> std::path::PathBuf {
    ground_state.with_file_name("server")
}

/// Steps 4 to 9 on the running node; returns the summary lines.
fn story_on(
    node: &mut board::Node,
    sim: &kernel_config::System,
    ground: &story::Ground,
    ground_state: &std::path::Path,
) -> Result<Vec<String>, Failure> {
    node.wait("comms restoring its security state", |e| {
        matches!(e, MonitorEvent::Log { component, line } if component == "comms" && line.contains("SA 2:"))
    })?;
    let mut session = open_session(node, ground_state)?;
    let mut summary = Vec::new();

    title(
        4,
        "Ping (PUS 17,1) over the lossy radio, then the node's mission time from the ground's clock:",
    );
    let a = session
        .command(ST_TEST, 1, &[])
        .map_err(|e| Failure::Usage(format!("ping: {e}")))?;
    let reports: Vec<String> = a
        .reports
        .iter()
        .map(|r| format!("1,{}", r.subtype()))
        .collect();
    let pong = if a
        .other
        .iter()
        .any(|t| t.service == ST_TEST && t.subservice == 2)
    {
        "and the 17,2 reply"
    } else {
        "(its 17,2 reply was lost on the downlink)"
    };
    println!(
        "   answered: {} {pong} in {} ms ({} attempt(s))",
        reports.join(" "),
        a.elapsed.as_millis(),
        a.attempts
    );
    node.show_new();
    summary.push(format!(
        "ping answered in {} ms through 10 % loss",
        a.elapsed.as_millis()
    ));
    summary.push(admin::correlate(ground, &mut session, ground_state)?);
    node.show_new();

    title(
        5,
        "Co-sign two payments: ground-signed PSBTs up as one certified batch by CFDP, the result file down:",
    );
    let mut log = |l: String| println!("   {l}");
    let first = cosign::cosign(
        ground,
        &mut session,
        ground_state,
        &[(2_000_000, 1_500_000), (3_000_000, 700_000)],
        1,
        RADIO.bps,
        &mut log,
    )?;
    node.show_new();
    println!("   {}", first.transfer);
    for id in &first.txids {
        println!("   -> finalised; Bitcoin Core's script interpreter accepts the spend: txid {id}");
    }
    println!("   a payment of 0.06 BTC, above the server's max-amount of 0.05 BTC:");
    let why = cosign::refused(
        ground,
        &mut session,
        ground_state,
        &[(7_000_000, 6_000_000)],
        10,
        RADIO.bps,
    )?;
    println!("   -> {why}");
    node.show_new();
    summary.push(format!(
        "2 payments co-signed over CFDP and verified by Bitcoin Core in {:.1} s; an over-limit one refused by policy",
        first.elapsed.as_secs_f64()
    ));

    title(6, "An attacker with a radio but no keys:");
    let at = attack::attack(&mut session)?;
    summary.push(format!(
        "{} replayed and {} forged copies sent: {} answered, the node counted {} and {}",
        attack::COPIES,
        attack::COPIES,
        at.answered,
        at.replayed.1 - at.replayed.0,
        at.bad_mac.1 - at.bad_mac.0
    ));

    title(
        7,
        &format!("Freeze the {VICTIM} while a second batch signs:"),
    );
    let (frozen, second) = std::thread::scope(|scope| {
        let signing = scope.spawn(|| {
            let mut lines = Vec::new();
            let r = cosign::cosign(
                ground,
                &mut session,
                ground_state,
                &[(1_000_000, 400_000)],
                20,
                RADIO.bps,
                &mut |l| lines.push(l),
            );
            (r, lines)
        });
        let frozen = fault::freeze(node, sim, VICTIM);
        let second = signing.join().unwrap_or_else(|_| {
            (
                Err(Failure::Usage("the signing thread failed".into())),
                vec![],
            )
        });
        (frozen, second)
    });
    let frozen = frozen?;
    let (second, lines) = second;
    let second = second?;
    println!("   meanwhile, on the ground:");
    for l in lines {
        println!("   [ground] {l}");
    }
    for id in &second.txids {
        println!(
            "   -> the batch signed meanwhile was co-signed and verified by Bitcoin Core: txid {id}"
        );
    }
    summary.push(format!(
        "{VICTIM} frozen: detected in {} ms (bound {} ms), restarted, answering {} ms later; the batch meanwhile verified",
        frozen.detected.as_millis(),
        frozen.bound.as_millis(),
        frozen.back.as_millis()
    ));

    // The ground server below holds the link while it serves: the session goes, and comes back
    // (from the ground state's sequence numbers) for the registry chapter.
    drop(session);
    title(
        8,
        "A wallet user, through the ground server (`spacenode server`):",
    );
    summary.push(wallet::story(
        ground,
        node,
        ground_state,
        &wallet_dir(ground_state),
    )?);
    let mut session = open_session(node, ground_state)?;

    title(
        9,
        "Change the registry over the link: revoke ground server 1 (admin commands need 2 of the 3 admin keys):",
    );
    summary.push(admin::revoke(
        ground,
        &mut session,
        ground_state,
        RADIO.bps,
    )?);
    node.show_new();
    Ok(summary)
}
