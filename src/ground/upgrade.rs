//! `spacenode ground upgrade BUNDLE`: upgrade the node's software, end to end over the link.
//!
//! [`upgrade`] (also what the demo calls, with its open [`Session`]):
//!
//! 1. pings the node (PUS 17,1): nothing answering is [`UpgradeError::Unreachable`] at once;
//! 2. asks for the agent's status (PUS 3,27, housekeeping structure 5): the same bundle (its id
//!    is the first 8 bytes of its SHA-256) already under way resumes where the node is, even
//!    after this process was killed or the node reset; a trial already running is followed;
//! 3. sends the bundle in messages of [`PIECE`] bytes (TC 8,1 function 0x0002), each the one the
//!    agent asked for last (`next_chunk` of the structure 5 the node sends with every answer): the
//!    manifest first, then, after the agent copied on board every chunk the running image already
//!    has (state `Preparing`), only the chunks it still needs;
//! 4. after the trial request (state `Written`) the node reboots; the ground asks for the status
//!    until the new image is confirmed, or the node rolled back and says why.
//!
//! A refusal of the node (1,8 with an upgrade failure code, or the status's last refusal) ends
//! the upgrade with the agent's reason; a damaged chunk (`UpgradeBadHash`) is sent again.
//!
//! Avoids: waiting without a deadline ([`UpgradeJob::deadline`] bounds the whole run).

use super::session::{Answer, Session, SessionError};
use comms::failure::FailureCode;
use comms::pus::function::{self, Chunk, FN_UPGRADE_CHUNK};
use comms::pus::hk_upgrade::{self, SID_UPGRADE};
use comms::pus::{ST_FUNCTION, ST_HOUSEKEEPING, ST_TEST};
use protocol::{ChunkPosition, Refusal, Slot, UpgradeState, UpgradeStatus};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// Bundle bytes per message: one TC of at most ~1.9 KB, inside the radio's 2,048-byte MTU.
pub const PIECE: usize = super::admin::CHUNK_DATA;
/// Pause between status requests while the node works on board or reboots.
const POLL: Duration = Duration::from_millis(200);

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

/// The latest structure 5 among `tms`.
fn status_in(a: &Answer) -> Option<UpgradeStatus> {
    a.other
        .iter()
        .rev()
        .filter(|t| t.service == ST_HOUSEKEEPING && t.subservice == 25)
        .find_map(|t| hk_upgrade::decode(&t.source))
}

/// Asks the node for the agent's status.
pub fn query(session: &mut Session) -> Result<Option<UpgradeStatus>, SessionError> {
    let a = session.command(ST_HOUSEKEEPING, 27, &[1, SID_UPGRADE])?;
    Ok(status_in(&a))
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
        "running slot {:?} (confirmed {:?}): slot A {}, slot B {}; agent {:?}",
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
    id: u64,
}

impl Run<'_> {
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

    /// Sends message `index`; the agent's status after it.
    fn send(&mut self, bundle: &[u8], index: u32) -> Result<UpgradeStatus, UpgradeError> {
        let count = bundle.len().div_ceil(PIECE) as u32;
        let off = index as usize * PIECE;
        let data = bundle
            .get(off..(off + PIECE).min(bundle.len()))
            .unwrap_or(&[]);
        let chunk = Chunk {
            id: self.id,
            position: ChunkPosition {
                index,
                count,
                offset: off as u32,
                total_len: bundle.len() as u32,
            },
            data,
        };
        let mut app = vec![0u8; 2 + function::CHUNK_ARGS_LEN + data.len()];
        app[..2].copy_from_slice(&FN_UPGRADE_CHUNK.to_be_bytes());
        function::encode_chunk(&chunk, &mut app[2..]);
        let answer = match self.session.command(ST_FUNCTION, 1, &app) {
            Ok(a) => a,
            // The node may be busy copying on board or resetting: its status says where to go on.
            Err(SessionError::Unreachable { .. }) => return self.status("sending"),
            Err(e) => return Err(UpgradeError::Session(e)),
        };
        let status = match status_in(&answer) {
            Some(s) => s,
            None => self.status("sending")?,
        };
        // A retry that reached the node after the transfer ended (the agent moved on to the
        // trial, or the node already rolled back) is refused as out of order: the status, not
        // that refusal, says how the upgrade goes on.
        let past = status.bundle_id == self.id
            && matches!(
                status.state,
                UpgradeState::Written
                    | UpgradeState::TrialBoot
                    | UpgradeState::Confirmed
                    | UpgradeState::RolledBack
            );
        if let Some(f) = answer.failure()
            && f.code != FailureCode::UpgradeBadHash
            && f.code != FailureCode::NoAnswer
            && !past
        {
            let why = status.last_refusal.map_or_else(
                || format!("{} (code {:#06x})", f.code, f.code.code()),
                |r| explain(&r),
            );
            return Err(UpgradeError::Refused(format!(
                "the node refused the bundle: {why}"
            )));
        }
        Ok(status)
    }
}

/// Upgrades the node `session` talks to; see the module docs.
pub fn upgrade(
    session: &mut Session,
    job: &UpgradeJob,
    on: &mut dyn FnMut(&Event),
) -> Result<Outcome, UpgradeError> {
    let start = Instant::now();
    let t = Instant::now();
    session.command(ST_TEST, 1, &[]).map_err(|e| match e {
        e @ SessionError::Unreachable { .. } => UpgradeError::Unreachable(e),
        e => UpgradeError::Session(e),
    })?;
    on(&Event::Reached { rtt: t.elapsed() });
    let bundle = &job.bundle;
    let id = bundle_id(bundle);
    let count = bundle.len().div_ceil(PIECE) as u32;
    let mut run = Run {
        session,
        start,
        deadline: job.deadline,
        id,
    };
    let mut s = run.status("asking for the agent's status")?;
    let mut next = if s.bundle_id == id {
        s.next_chunk.min(count.saturating_sub(1))
    } else {
        0
    };
    let (mut uplinked, mut messages) = (0u64, 0u32);
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
        loop {
            run.left("sending")?;
            s = run.send(bundle, next)?;
            messages += 1;
            uplinked += (bundle.len() - next as usize * PIECE).min(PIECE) as u64;
            on(&Event::Sent { status: s });
            while ours(&s) && matches!(s.state, UpgradeState::Preparing | UpgradeState::Verifying) {
                on(&Event::Preparing {
                    done: s.chunks_done,
                    total: s.chunks_total,
                });
                std::thread::sleep(POLL);
                s = run.status("waiting for the on-board copy")?;
            }
            match s.state {
                UpgradeState::Written
                | UpgradeState::TrialBoot
                | UpgradeState::Confirmed
                | UpgradeState::RolledBack
                    if ours(&s) =>
                {
                    break;
                }
                UpgradeState::Receiving | UpgradeState::Failed { .. } if ours(&s) => {
                    next = s.next_chunk.min(count - 1)
                }
                // The node lost its record or found the slot damaged: start again from byte 0.
                UpgradeState::Idle
                    if s.last_refusal.is_some_and(|r| {
                        matches!(
                            r.reason,
                            protocol::UpgradeError::ProgressLost
                                | protocol::UpgradeError::SlotDamaged
                        )
                    }) =>
                {
                    next = 0
                }
                _ => {
                    let why = s
                        .last_refusal
                        .map_or_else(|| format!("{:?}", s.state), |r| explain(&r));
                    return Err(UpgradeError::Refused(format!(
                        "the node stopped the transfer: {why}"
                    )));
                }
            }
        }
        on(&Event::Written { status: s });
    }
    // The node reboots into the trial, soaks, and confirms or rolls back.
    loop {
        match s.state {
            UpgradeState::Confirmed if ours(&s) && s.confirmed_slot == s.active_slot => {
                return Ok(Outcome {
                    status: s,
                    uplinked,
                    messages,
                    elapsed: start.elapsed(),
                });
            }
            UpgradeState::RolledBack if ours(&s) => {
                let why = s
                    .last_refusal
                    .map_or_else(|| "no reason recorded".into(), |r| explain(&r));
                return Err(UpgradeError::Refused(format!(
                    "the trial failed and the node rolled back to slot {:?}: {why}",
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
