//! The demo's upgrade chapter, on a second node that runs under the secure boot stage (a real
//! `spacenode run` child process, factory-provisioned with this executable as version 0.1.0
//! signed by the sim board's public factory keys), over the same 10 % loss radio:
//!
//! 1. this same executable stamped version 2.0.0: the agent copies every chunk on board, the
//!    ground sends only the manifest; the boot stage trial-boots slot B, the agent confirms it
//!    after its health soak;
//! 2. a properly signed but broken release (version 3.0.0, the image is the host's `false`,
//!    which exits at once): trial-booted, dies, the board uses up its attempts and rolls back to
//!    version 2.0.0 by itself; the agent reports why;
//! 3. a downgrade to 1.0.0: refused before any image byte.
//!
//! The node's factory provisioning (signing this executable and writing it into slot A,
//! burning OTP: the boot stage's own code, `crate::boot::provisioned`) and the three releases'
//! hashing and signing start when the demo begins ([`prepare`]), in a thread. The chapter itself
//! ([`start`]) runs in a thread too, from the first node's power-on on: the second node has its
//! own state directory, radio and ground, so its upgrades (the on-board copy under the agent's
//! CPU budget, the 3 s health soak, the broken release's two trial boots) overlap the first
//! node's chapters instead of following them. Its lines are kept and printed in its place.
//! It starts after the first board's power-on so that the first board's components take their
//! `SCHED_DEADLINE` budgets first (two boards need about 160 % of the 190 % the kernel admits
//! on 2 cores; a component refused admission says so in its log line and runs unthrottled).
//!
//! Avoids: anything but the operator's path (`crate::ground::upgrade`) for the upgrades.

use crate::failure::Failure;
use crate::ground::session::{Session, SessionConfig};
use crate::ground::upgrade::{self as up, Event, UpgradeError, UpgradeJob};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use upgrade::Version;

/// The broken release's image: a real executable that exits at once.
const BROKEN_IMAGE: &str = "/bin/false";

fn usage(e: impl std::fmt::Display) -> Failure {
    Failure::Usage(e.to_string())
}

/// `image` as `version` / `counter`, signed with the sim board's public factory keys.
fn sim_release(image: &[u8], version: Version, counter: u32) -> Result<Vec<u8>, Failure> {
    crate::boot::factory::sim_release(image, version, counter).map_err(usage)
}

/// The node under its boot stage, its log lines as they come.
struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Node {
    fn start(state: &Path, uplink: SocketAddr, ground: SocketAddr) -> Result<Node, Failure> {
        let exe = std::env::current_exe().map_err(usage)?;
        let mut child = Command::new(exe)
            .args(["run", "--radio-loss", "0.1", "--radio-latency-ms", "20"])
            .arg("--state")
            .arg(state)
            .arg("--radio-uplink")
            .arg(uplink.to_string())
            .arg("--ground")
            .arg(ground.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| usage(format!("cannot start `spacenode run`: {e}")))?;
        let out = child.stdout.take().ok_or_else(|| usage("no stdout"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        Ok(Node { child, lines })
    }

    /// Adds the boot stage's and the agent's lines that arrived so far to `out`.
    fn show(&self, out: &mut Vec<String>) {
        while let Ok(l) = self.lines.try_recv() {
            let agent = l.starts_with("[upgrade] INFO  ") || l.starts_with("[upgrade] WARN  ");
            if l.starts_with("[boot] power-on") || l.contains("RESET") || agent {
                out.push(l);
            }
        }
    }

    fn wait(&self, what: &str) -> Result<(), Failure> {
        let deadline = Instant::now() + super::board::STEP_BOUND;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(what) => return Ok(()),
                Ok(_) => {}
                Err(_) => return Err(usage(format!("the upgrade node did not show `{what}`"))),
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id())
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<SocketAddr, Failure> {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map_err(usage)
}

fn show_event(e: &Event, out: &mut Vec<String>) {
    match e {
        Event::Sending { count, bytes, .. } => out.push(format!(
            "[ground] bundle of {bytes} bytes, {count} messages if all were needed"
        )),
        Event::Written { status } => out.push(format!(
            "[ground] the node copied {} bytes on board, verified the image in its inactive slot and asked for a trial boot",
            status.bytes_copied
        )),
        _ => {}
    }
}

/// The chapter's releases: 2.0.0 (this executable), the broken 3.0.0, the 1.0.0 downgrade.
struct Releases {
    v2: Vec<u8>,
    broken: Vec<u8>,
    downgrade: Vec<u8>,
}

fn releases() -> Result<Releases, Failure> {
    let exe = std::fs::read(std::env::current_exe().map_err(usage)?).map_err(usage)?;
    let broken = std::fs::read(BROKEN_IMAGE).map_err(|e| usage(format!("{BROKEN_IMAGE}: {e}")))?;
    Ok(Releases {
        v2: sim_release(&exe, Version::new(2, 0, 0), 1)?,
        broken: sim_release(&broken, Version::new(3, 0, 0), 1)?,
        downgrade: sim_release(&exe, Version::new(1, 0, 0), 1)?,
    })
}

/// The chapter's node's factory provisioning and its releases, being made.
pub struct Prepared(std::thread::JoinHandle<Result<Releases, Failure>>);

/// Factory-provisions the chapter's node and builds its releases in a thread, while the demo's
/// other chapters run.
pub fn prepare(dir: &Path) -> Prepared {
    let state = dir.join("upgrade-node");
    Prepared(std::thread::spawn(move || {
        // Its boot-log line is the boot stage's; the chapter shows the power-on line instead.
        let (_lock, _) = crate::boot::provisioned(&state, None, &mut |_| {})?;
        releases()
    }))
}

/// What the chapter shows: its lines (as far as it got) and its summary lines, or why it
/// failed.
pub struct Chapter {
    /// Its lines: each upgrade's ground lines, then the node's lines that arrived meanwhile.
    pub lines: Vec<String>,
    /// Its summary lines, or why it failed.
    pub summary: Result<Vec<String>, Failure>,
}

/// The chapter, running on its own node while the first node's chapters run.
pub struct Running(std::thread::JoinHandle<Chapter>);

impl Running {
    /// Waits for the chapter to end (an `Err` only if its thread panicked).
    pub fn finish(self) -> Result<Chapter, Failure> {
        self.0
            .join()
            .map_err(|_| usage("the upgrade chapter's thread failed"))
    }
}

/// Starts the chapter in a thread: the second node is independent of the first (its own state,
/// radio and ground), so its upgrades run while the first node's chapters do.
pub fn start(dir: &Path, prepared: Prepared) -> Running {
    let dir = dir.to_path_buf();
    Running(std::thread::spawn(move || {
        let mut lines = Vec::new();
        let summary = story(&dir, prepared, &mut lines);
        Chapter { lines, summary }
    }))
}

/// Runs the chapter, its lines into `out`; returns its summary lines.
fn story(dir: &Path, prepared: Prepared, out: &mut Vec<String>) -> Result<Vec<String>, Failure> {
    let started = Instant::now();
    let rel = prepared
        .0
        .join()
        .map_err(|_| usage("provisioning the node or building the releases failed"))??;
    let (uplink, ground) = (free_port()?, free_port()?);
    let node = Node::start(&dir.join("upgrade-node"), uplink, ground)?;
    node.wait("[upgrade] INFO  slot A running")?;
    let mut session = Session::open(SessionConfig {
        node: uplink,
        listen: ground,
        state_dir: dir.join("upgrade-ground"),
        provisioning: comms::sdls::sim_default::sim_default_bytes()
            .map_err(usage)?
            .to_vec(),
        spi: comms::sdls::sim_default::SIM_OPS_SPI,
        // A lost message costs one timeout: short, since the radio's round trip is about 50 ms.
        timeout: Duration::from_millis(400),
        attempts: 8,
        link: crate::ground::serial_link::LinkChoice::radio().map_err(Failure::Usage)?,
    })
    .map_err(usage)?;
    let deadline = Duration::from_secs(60);
    let mut summary = Vec::new();

    out.push("version 2.0.0: this same executable, signed again (security counter 1):".into());
    let job = UpgradeJob {
        bundle: rel.v2,
        deadline,
    };
    let ok = up::upgrade(&mut session, &job, &mut |e| show_event(e, out)).map_err(usage)?;
    node.show(out);
    out.push(format!(
        "[ground] {}",
        crate::ground::upgrade_show::outcome_line(&ok)
    ));
    summary.push(format!(
        "upgraded to 2.0.0 over 10 % loss: {} bytes uplinked, {} copied on board, confirmed after the soak",
        ok.uplinked, ok.status.bytes_copied
    ));

    out.push(format!(
        "version 3.0.0, properly signed but broken (its image is {BROKEN_IMAGE}: exits at once):"
    ));
    let job = UpgradeJob {
        bundle: rel.broken,
        deadline,
    };
    match up::upgrade(&mut session, &job, &mut |e| show_event(e, out)) {
        Err(UpgradeError::Refused(why)) => {
            node.show(out);
            out.push(format!("[ground] {why}"));
            summary.push("a broken 3.0.0 was trial-booted, died, and the node rolled back to 2.0.0 by itself".into());
        }
        Ok(_) => return Err(usage("the broken release was confirmed")),
        Err(e) => return Err(usage(e)),
    }

    out.push("version 1.0.0 (a downgrade):".into());
    let job = UpgradeJob {
        bundle: rel.downgrade,
        deadline,
    };
    match up::upgrade(&mut session, &job, &mut |_| {}) {
        Err(UpgradeError::Refused(why)) => {
            node.show(out);
            out.push(format!("[ground] {why}"));
            summary.push("a downgrade to 1.0.0 refused before any image byte".into());
        }
        Ok(_) => return Err(usage("the downgrade was installed")),
        Err(e) => return Err(usage(e)),
    }
    summary.push(format!(
        "upgrade chapter: {:.1} s (while chapters 4 to 9 ran)",
        started.elapsed().as_secs_f64()
    ));
    Ok(summary)
}
