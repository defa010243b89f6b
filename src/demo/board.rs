//! The demo's sim board: powered on in-process (the monitor on a thread, every component its own
//! sandboxed process), its radio behind the seeded link emulator, and the monitor's events
//! printed as they become relevant.
//!
//! Avoids: fixed ports (a parallel test or a running node would collide; the ground's address
//! and the radio's uplink are picked free), waits without a bound.

use crate::failure::Failure;
use board_sim::monitor::{MonitorConfig, MonitorEvent};
use board_sim::testing::TestBoard;
use kernel_config::shipped;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the demo waits for any one thing on the running node before it gives up.
pub const STEP_BOUND: Duration = Duration::from_secs(20);

/// The radio the demo flies: loss each way, latency, capacity.
#[derive(Debug, Clone, Copy)]
pub struct Radio {
    /// Frames lost, parts per million, each direction.
    pub loss_ppm: u32,
    /// One-way latency.
    pub latency: Duration,
    /// Capacity, bit/s.
    pub bps: u64,
    /// The emulator's seed (the same run loses the same frames).
    pub seed: u64,
}

/// The running board and the addresses the ground uses to reach it.
pub struct Node {
    /// The board.
    pub board: TestBoard,
    /// Where the ground sends uplink (the radio's ground side).
    pub uplink: SocketAddr,
    /// Where the node's downlink arrives (the ground listens here).
    pub ground: SocketAddr,
    /// How far the events were printed.
    shown: usize,
}

fn free_port() -> Result<SocketAddr, Failure> {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map_err(|e| Failure::Usage(format!("no free UDP port on 127.0.0.1: {e}")))
}

/// Powers the sim board on from the shipped description with its state in `state`.
pub fn power_on(state: &Path, radio: Radio) -> Result<Node, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Usage(format!("cannot find the spacenode executable: {e}")))?;
    let board = shipped::board("sim")
        .ok_or_else(|| Failure::Usage("the sim board is missing from this build".into()))?;
    let mut config = MonitorConfig::new(shipped::description(), board, state.to_path_buf(), exe);
    let (uplink, ground) = (free_port()?, free_port()?);
    config.radio_uplink = uplink;
    config.ground = ground;
    config.radio_link.loss_ppm = radio.loss_ppm;
    config.radio_link.latency = radio.latency;
    config.radio_link.bandwidth_bps = Some(radio.bps);
    config.radio_link.seed = radio.seed;
    let board = TestBoard::boot(config)
        .map_err(|e| Failure::Usage(format!("cannot start the sim board: {e}")))?;
    Ok(Node {
        board,
        uplink,
        ground,
        shown: 0,
    })
}

/// An event on one line, with capability lists shortened to a count.
fn short(e: &MonitorEvent) -> String {
    match e {
        MonitorEvent::Started {
            component,
            pid,
            grants,
            restart,
        } => format!(
            "[monitor] {component} {} as pid {pid} holding {} capabilities, sandboxed",
            if *restart == 0 {
                "started"
            } else {
                "restarted"
            },
            grants.len()
        ),
        other => other.to_string(),
    }
}

/// Whether the demo shows this event.
fn worth_showing(e: &MonitorEvent) -> bool {
    match e {
        MonitorEvent::PowerOn { .. }
        | MonitorEvent::Mode { .. }
        | MonitorEvent::Started { .. }
        | MonitorEvent::Fault { .. }
        | MonitorEvent::Restarted { .. }
        | MonitorEvent::RestartRefused { .. }
        | MonitorEvent::Reset(_) => true,
        MonitorEvent::Log { component, line } => {
            (component == "watchdog" && !line.contains("health #"))
                || (component == "signer" && line.contains("batch"))
        }
        _ => false,
    }
}

impl Node {
    /// Waits for an event matching `pred` after the cursor, printing the ones worth showing up
    /// to it that were not printed yet.
    pub fn wait(
        &mut self,
        what: &str,
        pred: impl Fn(&MonitorEvent) -> bool,
    ) -> Result<(Instant, MonitorEvent), Failure> {
        let hit = self.board.wait_for(what, STEP_BOUND, pred).map_err(|_| {
            Failure::Usage(format!(
                "the node did not show {what} within {}s",
                STEP_BOUND.as_secs()
            ))
        })?;
        self.show_to(self.board.mark());
        Ok(hit)
    }

    /// Prints every event worth showing that arrived so far.
    pub fn show_new(&mut self) {
        self.board.poll();
        let to = self.board.events().len();
        self.show_to(to);
    }

    fn show_to(&mut self, to: usize) {
        for (_, e) in self.board.events().get(self.shown..to).unwrap_or(&[]) {
            if worth_showing(e) {
                println!("   {}", short(e));
            }
        }
        self.shown = self.shown.max(to);
    }
}

/// Matches a watchdog log line containing `contains`.
pub fn watchdog_says<'a>(contains: &'a str) -> impl Fn(&MonitorEvent) -> bool + 'a {
    move |e| matches!(e, MonitorEvent::Log { component, line } if component == "watchdog" && line.contains(contains))
}

/// The text of a log event (or the event).
pub fn line_of(e: &MonitorEvent) -> String {
    match e {
        MonitorEvent::Log { line, .. } => line.clone(),
        other => other.to_string(),
    }
}
