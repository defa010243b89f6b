//! `spacenode ground upgrade BUNDLE`: upgrade the node's software, end to end over the link.
//!
//! [`upgrade`] (also what the demo calls, with its open [`Session`]):
//!
//! 1. pings the node (PUS 17,1), again and again for up to [`REACH`] (within the deadline): on
//!    a lossy link a ping and its reports are lost often enough that one session's attempts
//!    (4 by default) fail now and then (about 1 in 15 at 30 % loss each way); nothing answering
//!    for that long is [`UpgradeError::Unreachable`];
//! 2. asks for the agent's status (PUS 3,27, housekeeping structure 5): the same bundle (its id
//!    is the first 8 bytes of its SHA-256) already under way resumes where the node is, even
//!    after this process was killed or the node reset; a trial already running is followed;
//! 3. sends the bundle in messages of [`PIECE`] bytes (TC 8,1 function 0x0002) through the
//!    windowed sender ([`super::uplink`]): several messages in flight, each sent again only while
//!    the node's status (structure 5, sent down after every message) still reports it missing.
//!    The manifest goes first; after the agent copied on board every chunk the running image
//!    already has (state `Preparing`, the ground waits), only the chunks it still needs;
//! 4. after the trial request (state `Written`) the node reboots; the ground asks for the status
//!    until the new image is confirmed, or the node rolled back and says why.
//!
//! A refusal of the bundle in the node's status ends the upgrade with the agent's reason; a
//! chunk that failed its hash is simply reported missing again and resent.
//!
//! Avoids: waiting without a deadline ([`UpgradeJob::deadline`] bounds the whole run).

use super::session::{Session, SessionError};
use super::uplink;
use comms::pus::hk_upgrade::SID_UPGRADE;
use comms::pus::{ST_HOUSEKEEPING, ST_TEST};
use protocol::{Refusal, Slot, UpgradeState, UpgradeStatus};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// Bundle bytes per message: one TC of at most ~1.9 KB, inside the radio's 2,048-byte MTU (one
/// unit), or 2 TC frames' segments on the CCSDS radio. The same on every link, so a transfer
/// started on one link resumes on another (the node fixes the message size at the first one).
pub const PIECE: usize = super::admin::CHUNK_DATA;
/// Pause between status requests while the node works on board or reboots.
const POLL: Duration = Duration::from_millis(200);
/// How long the first ping is tried again before the node counts as unreachable.
pub const REACH: Duration = Duration::from_secs(30);

/// What to upgrade to.
pub struct UpgradeJob {
    /// The bundle (`spacenode bundle create`).
    pub bundle: Vec<u8>,
    /// Give up after this long.
    pub deadline: Duration,
}

/// What happened, for the progress display.
#[derive(Debug, Clone)]
pub enum Event {
    /// The node answered the ping.
    Reached { rtt: Duration },
    /// Sending starts (or resumes) at message `from` of `count`.
    Sending {
        bundle_id: u64,
        from: u32,
        count: u32,
        bytes: usize,
    },
    /// The agent copies chunks on board; the ground waits.
    Preparing { done: u32, total: u32 },
    /// A message was taken; `status` is the agent's.
    Sent { status: UpgradeStatus },
    /// The image is in the inactive slot and verified; the node reboots into the trial.
    Written { status: UpgradeStatus },
    /// The trial image runs and soaks.
    Trial { status: UpgradeStatus },
}

/// How it ended well.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The agent's final status (confirmed).
    pub status: UpgradeStatus,
    /// Bundle bytes this run sent (retries included).
    pub uplinked: u64,
    /// Messages sent.
    pub messages: u32,
    /// Messages sent more than once (the node reported them missing after a timeout).
    pub resent: u32,
    /// Time from the first transfer message to the image written on the node (zero if this
    /// run only followed a transfer that was already over).
    pub uplink: Duration,
    /// Time taken.
    pub elapsed: Duration,
}

/// Why it did not.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// No answer to the ping.
    #[error("{0}")]
    Unreachable(SessionError),
    /// The link failed in the middle.
    #[error("{0}")]
    Session(SessionError),
    /// The node refused the bundle or rolled the trial back.
    #[error("{0}")]
    Refused(String),
    /// The deadline passed.
    #[error("no outcome after {0:?} ({1}); run the same command again to resume")]
    Timeout(Duration, String),
}

/// The ground's id of `bundle`: the first 8 bytes of its SHA-256.
pub fn bundle_id(bundle: &[u8]) -> u64 {
    let h = Sha256::digest(bundle);
    u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
}

/// Asks the node for the agent's status.
pub fn query(session: &mut Session) -> Result<Option<UpgradeStatus>, SessionError> {
    let a = session.command(ST_HOUSEKEEPING, 27, &[1, SID_UPGRADE])?;
    Ok(a.other.iter().rev().find_map(uplink::status_of))
}

/// The operator's text for a refusal.
pub fn explain(r: &Refusal) -> String {
    use protocol::UpgradeError as E;
    let what = match r.reason {
        E::BadSignature => {
            "the bundle's signatures do not verify against the node's trusted root (see the node's log for which)"
        }
        E::BadHash => "a chunk did not match its hash in the manifest",
        E::Malformed => "the bundle does not parse, or its length does not match its manifest",
        E::Downgrade => {
            "its version is not newer than the node's confirmed version (rollback refused)"
        }
        E::TooLarge => "the image or its header does not fit a slot",
        E::Flash => "the node's slot flash failed",
        E::WrongTarget => "the bundle is for another board or hardware id",
        E::CounterRollback => "its security counter is below the node's (rollback refused)",
        E::StepTooLarge => "its major version or security counter jumps further than allowed",
        E::Expired => "the manifest expired (node boot count)",
        E::Busy => "a trial boot is pending or running on the node; wait for its outcome",
        E::OutOfOrder => "a message did not continue the transfer",
        E::Unsupported => "its chunk size is below the slot flash's sector size",
        E::ProgressLost => "the node lost its progress record; the transfer starts again",
        E::SlotDamaged => "a slot no longer verified on flash; the transfer starts again",
        E::TrialUnhealthy => {
            "the trial image was unhealthy during its soak; the node rolled back by itself"
        }
        E::TrialNotConfirmed => {
            "the trial image never confirmed (it crashed, hung or used up its attempts); the node rolled back by itself"
        }
    };
    let detail = match r.reason {
        E::TrialUnhealthy if r.detail != u32::MAX => format!(" (component {} failed)", r.detail),
        E::TrialUnhealthy => " (not healthy for the soak time in time)".into(),
        E::BadHash | E::SlotDamaged => format!(" (chunk {})", r.detail),
        _ => String::new(),
    };
    format!("{what}{detail}")
}

fn version(s: &UpgradeStatus, slot: Slot) -> String {
    let v = s.slots[usize::from(slot == Slot::B)];
    if v.present {
        format!(
            "{}.{}.{} (security counter {})",
            v.version[0], v.version[1], v.version[2], v.security_counter
        )
    } else {
        "nothing".into()
    }
}

/// One line for the agent's status.
pub fn describe(s: &UpgradeStatus) -> String {
    format!(
        "running slot {} (confirmed {}): slot A {}, slot B {}; agent {}",
        s.active_slot,
        s.confirmed_slot,
        version(s, Slot::A),
        version(s, Slot::B),
        s.state
    )
}

struct Run<'a> {
    session: &'a mut Session,
    start: Instant,
    deadline: Duration,
}

impl Run<'_> {
    /// Pings the node until it answers, for up to [`REACH`] within the deadline; the round
    /// trip of the ping that was answered.
    fn reach(&mut self) -> Result<Duration, UpgradeError> {
        let until = REACH.min(self.deadline);
        loop {
            let t = Instant::now();
            match self.session.command(ST_TEST, 1, &[]) {
                Ok(_) => return Ok(t.elapsed()),
                Err(e @ SessionError::Unreachable { .. }) if self.start.elapsed() >= until => {
                    return Err(UpgradeError::Unreachable(e));
                }
                Err(SessionError::Unreachable { .. }) => {}
                Err(e) => return Err(UpgradeError::Session(e)),
            }
        }
    }

    fn left(&self, stage: &str) -> Result<(), UpgradeError> {
        if self.start.elapsed() > self.deadline {
            return Err(UpgradeError::Timeout(self.deadline, stage.into()));
        }
        Ok(())
    }

    /// The status, asked again (through resets and lost answers) until the deadline.
    fn status(&mut self, stage: &str) -> Result<UpgradeStatus, UpgradeError> {
        loop {
            self.left(stage)?;
            match query(self.session) {
                Ok(Some(s)) => return Ok(s),
                Ok(None) | Err(SessionError::Unreachable { .. }) => std::thread::sleep(POLL),
                Err(e) => return Err(UpgradeError::Session(e)),
            }
        }
    }
}

/// What the sender does on status `s`.
enum Step {
    /// Send what the node needs (from message 0 for a status of another bundle).
    Send,
    /// The node works on board (copy pass, final check), or its status is not about this
    /// transfer: ask for its status until it is.
    Wait,
    /// The image is written (or further): follow the trial.
    Done,
    /// The node refused the bundle: why.
    Refused(String),
}

/// Whether `s` says the node lost the transfer and starts over from byte 0.
fn restart(s: &UpgradeStatus) -> bool {
    use protocol::UpgradeError as E;
    s.state == UpgradeState::Idle
        && s.last_refusal
            .is_some_and(|r| matches!(r.reason, E::ProgressLost | E::SlotDamaged))
}

/// `started`: messages of this run were sent, so a refusal in `s` answers one of them (the
/// first status may be a refusal of an earlier command). `seen`: the node reported this bundle.
fn step(s: &UpgradeStatus, id: u64, started: bool, seen: bool) -> Step {
    use protocol::UpgradeError as E;
    let ours = s.bundle_id == id;
    let why = |s: &UpgradeStatus| {
        s.last_refusal
            .map_or_else(|| s.state.to_string(), |r| explain(&r))
    };
    match s.state {
        UpgradeState::Preparing | UpgradeState::Verifying if ours => Step::Wait,
        UpgradeState::Written
        | UpgradeState::TrialBoot
        | UpgradeState::Confirmed
        | UpgradeState::RolledBack
            if ours =>
        {
            Step::Done
        }
        // A damaged message or one that did not fit: the status says what to send.
        UpgradeState::Failed {
            reason: E::BadHash | E::OutOfOrder,
        } => Step::Send,
        UpgradeState::Failed { reason } if started && (ours || reason == E::Busy) => Step::Refused(
            s.last_refusal
                .filter(|_| ours)
                .map_or_else(|| explain(&Refusal { reason, detail: 0 }), |r| explain(&r)),
        ),
        // The node lost its record or found the slot damaged: it asks from byte 0 again.
        UpgradeState::Idle if started && !restart(s) && ours => Step::Refused(why(s)),
        // Once sending, a status of another bundle is stale (or the node is not itself yet):
        // message 0 goes again only when the node says it starts over, never on a stale status
        // (a late message 0 would start a finished or rolled-back bundle again).
        _ if seen && !ours && !restart(s) => Step::Wait,
        _ => Step::Send,
    }
}

/// Upgrades the node `session` talks to; see the module docs.
pub fn upgrade(
    session: &mut Session,
    job: &UpgradeJob,
    on: &mut dyn FnMut(&Event),
) -> Result<Outcome, UpgradeError> {
    let start = Instant::now();
    let mut run = Run {
        session,
        start,
        deadline: job.deadline,
    };
    let rtt = run.reach()?;
    on(&Event::Reached { rtt });
    let bundle = &job.bundle;
    let id = bundle_id(bundle);
    let count = bundle.len().div_ceil(PIECE) as u32;
    let mut s = run.status("asking for the agent's status")?;
    let mut next = if s.bundle_id == id {
        s.next_chunk.min(count.saturating_sub(1))
    } else {
        0
    };
    let mut window = uplink::Window::new(bundle, id, PIECE);
    let mut uplink_time = Duration::ZERO;
    let ours = |s: &UpgradeStatus| s.bundle_id == id;
    // Already written, on trial or confirmed (a re-run): follow it. Rolled back: try again.
    let follow_only = ours(&s)
        && matches!(
            s.state,
            UpgradeState::Written | UpgradeState::TrialBoot | UpgradeState::Confirmed
        );
    if s.state == UpgradeState::RolledBack {
        next = 0;
    }
    if !follow_only {
        if matches!(s.state, UpgradeState::Written | UpgradeState::TrialBoot) {
            return Err(UpgradeError::Refused(
                "a trial of another bundle is under way on the node; wait for its outcome (spacenode ground status)".into(),
            ));
        }
        on(&Event::Sending {
            bundle_id: id,
            from: next,
            count,
            bytes: bundle.len(),
        });
        let mut heard = Instant::now();
        let mut started = false;
        let mut seen = false;
        let sending = Instant::now();
        loop {
            run.left("sending")?;
            seen |= s.bundle_id == id;
            match step(&s, id, started, seen) {
                Step::Send => {
                    started = true;
                    match window
                        .pump(run.session, &s)
                        .map_err(UpgradeError::Session)?
                    {
                        Some(n) => {
                            s = n;
                            heard = Instant::now();
                            on(&Event::Sent { status: s });
                        }
                        // Silent: the node may be resetting; its status says where to go on.
                        None if heard.elapsed() >= uplink::SILENCE => {
                            s = run.status("sending")?;
                            heard = Instant::now();
                        }
                        None => {}
                    }
                }
                Step::Wait => {
                    if s.bundle_id == id {
                        on(&Event::Preparing {
                            done: s.chunks_done,
                            total: s.chunks_total,
                        });
                    }
                    std::thread::sleep(POLL);
                    s = run.status("waiting for the on-board copy")?;
                    heard = Instant::now();
                }
                Step::Done => break,
                Step::Refused(why) => {
                    return Err(UpgradeError::Refused(format!(
                        "the node refused the bundle: {why}"
                    )));
                }
            }
        }
        uplink_time = sending.elapsed();
        on(&Event::Written { status: s });
    }
    // The node reboots into the trial, soaks, and confirms or rolls back.
    loop {
        match s.state {
            UpgradeState::Confirmed if ours(&s) && s.confirmed_slot == s.active_slot => {
                return Ok(Outcome {
                    status: s,
                    uplinked: window.uplinked,
                    messages: window.messages,
                    resent: window.resent,
                    uplink: uplink_time,
                    elapsed: start.elapsed(),
                });
            }
            UpgradeState::RolledBack if ours(&s) => {
                let why = s
                    .last_refusal
                    .map_or_else(|| "no reason recorded".into(), |r| explain(&r));
                return Err(UpgradeError::Refused(format!(
                    "the trial failed and the node rolled back to slot {}: {why}",
                    s.confirmed_slot
                )));
            }
            UpgradeState::TrialBoot => on(&Event::Trial { status: s }),
            _ => {}
        }
        std::thread::sleep(POLL);
        s = run.status("following the trial boot")?;
    }
}
