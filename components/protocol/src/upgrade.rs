//! Upgrades: comms forwards bundle chunks to the upgrade agent, which reports its state back.
//!
//! The bundle bytes are opaque here; the agent verifies signatures and hashes over the whole
//! bundle before anything is made bootable. `next_chunk` in the status lets the ground resume.
//!
//! Avoids: trust in chunk numbers (the agent checks them against its own state).

use rkyv::{Archive, Deserialize, Serialize};

use crate::bounded::BoundedBytes;
use crate::chunk::{CHUNK_MAX, ChunkPosition};

/// `upgrade-chunk`: comms → upgrade agent. One chunk of a signed bundle.
///
/// Maximum serialised size: 4096 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct UpgradeChunk {
    /// Bundle identifier chosen by the ground (a new id restarts the transfer).
    pub bundle_id: u64,
    /// Where this chunk sits in the bundle.
    pub position: ChunkPosition,
    /// Up to [`CHUNK_MAX`] bytes of the bundle.
    pub data: BoundedBytes<CHUNK_MAX>,
}

/// A flash slot holding one image.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub enum Slot {
    /// Slot A.
    #[default]
    A,
    /// Slot B.
    B,
}

/// Why the upgrade agent refused a bundle, dropped a chunk or ended a trial. The agent's log
/// line gives the full text (which key, which version); this is the code the ground sees.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum UpgradeError {
    /// The root chain or a signature threshold does not verify against the node's trusted root.
    BadSignature,
    /// A chunk does not match its hash in the manifest (dropped; send it again).
    BadHash,
    /// The bundle header does not parse.
    Malformed,
    /// The version is not newer than the confirmed one (anti-rollback).
    Downgrade,
    /// The image is larger than a slot, or the header larger than the slot's header area.
    TooLarge,
    /// Writing, erasing or reading the slot flash failed.
    Flash,
    /// The bundle is for another board or hardware id.
    WrongTarget,
    /// The security counter is below the node's (anti-rollback).
    CounterRollback,
    /// The version's major number or the security counter jumps further than allowed.
    StepTooLarge,
    /// The manifest expired (in the node's boot counter).
    Expired,
    /// A trial boot is pending or running: no new bundle until it is confirmed or rolled back.
    Busy,
    /// A chunk message that does not continue the transfer (wrong offset, size or total).
    OutOfOrder,
    /// The chunk size is below the slot flash's erase size: the agent cannot write one chunk
    /// without erasing its neighbour.
    Unsupported,
    /// The agent's progress record was unreadable: the transfer starts again from the first byte.
    ProgressLost,
    /// A slot's header or image no longer verifies on flash (the transfer starts again).
    SlotDamaged,
    /// The trial image was unhealthy during its soak; the agent cancelled the trial.
    TrialUnhealthy,
    /// The trial image never confirmed (it crashed, hung, or used up its attempts).
    TrialNotConfirmed,
}

impl UpgradeError {
    /// Every refusal, in the order of their one-byte codes (1-based: code `i + 1`).
    pub const ALL: [UpgradeError; 17] = [
        UpgradeError::BadSignature,
        UpgradeError::BadHash,
        UpgradeError::Malformed,
        UpgradeError::Downgrade,
        UpgradeError::TooLarge,
        UpgradeError::Flash,
        UpgradeError::WrongTarget,
        UpgradeError::CounterRollback,
        UpgradeError::StepTooLarge,
        UpgradeError::Expired,
        UpgradeError::Busy,
        UpgradeError::OutOfOrder,
        UpgradeError::Unsupported,
        UpgradeError::ProgressLost,
        UpgradeError::SlotDamaged,
        UpgradeError::TrialUnhealthy,
        UpgradeError::TrialNotConfirmed,
    ];

    /// The one-byte code (1..=17) used on flash and in housekeeping.
    pub fn code(self) -> u8 {
        Self::ALL
            .iter()
            .position(|e| *e == self)
            .map_or(0, |i| i as u8 + 1)
    }

    /// The refusal with code `c`.
    pub fn from_code(c: u8) -> Option<UpgradeError> {
        Self::ALL.get(usize::from(c).checked_sub(1)?).copied()
    }
}

/// Where the upgrade agent is.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub enum UpgradeState {
    /// No transfer in progress.
    #[default]
    Idle,
    /// The manifest was accepted; chunks equal to chunks of the running image are being copied
    /// on board (the ground waits for `Receiving` to learn which chunks it must send).
    Preparing,
    /// Chunks are arriving.
    Receiving,
    /// All chunks arrived; the whole image is read back and checked.
    Verifying,
    /// Verified and written to the inactive slot; a trial boot was requested and a reboot follows.
    Written,
    /// Running the new image on trial (soaking).
    TrialBoot,
    /// The new image was confirmed healthy.
    Confirmed,
    /// The trial failed; the previous image is active again (`last_refusal` says why).
    RolledBack,
    /// A bundle or chunk was refused (this message only; `last_refusal` keeps it).
    Failed {
        /// Why.
        reason: UpgradeError,
    },
}

/// What a slot holds, as the agent read its header at start.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct SlotVersion {
    /// A bundle header parses in the slot's header area (the image is checked by the boot stage).
    pub present: bool,
    /// Image version: major, minor, patch.
    pub version: [u16; 3],
    /// The manifest's security counter.
    pub security_counter: u32,
}

/// A refusal with its detail (a chunk index, a component id; 0 when unused).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct Refusal {
    /// Why.
    pub reason: UpgradeError,
    /// Detail word.
    pub detail: u32,
}

impl UpgradeStatus {
    /// [`UpgradeStatus::answers`] of a status that answers no message.
    pub const UNSOLICITED: u32 = u32::MAX;
    /// [`UpgradeStatus::answers`] of the first status of a freshly started agent (at power-on
    /// or after a restart): it answers no message given to an earlier instance, so comms fails
    /// those commands at once instead of holding their pending slots until its timeout.
    pub const STARTED: u32 = u32::MAX - 1;

    /// Whether the agent needs transfer message `index` no more: it is before `next_chunk`, or
    /// marked in `held_ahead`.
    pub fn has(&self, index: u32) -> bool {
        index < self.next_chunk
            || index
                .checked_sub(self.next_chunk)
                .and_then(|d| d.checked_sub(1))
                .is_some_and(|k| k < 64 && self.held_ahead & (1 << k) != 0)
    }
}

/// `upgrade-status`: upgrade agent → comms. Transfer and boot state, sent after each chunk and on
/// every state change.
///
/// Maximum serialised size: 88 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct UpgradeStatus {
    /// The bundle concerned (0 if none).
    pub bundle_id: u64,
    /// Index of the next transfer chunk (message) the agent needs, for resuming.
    pub next_chunk: u32,
    /// The transfer message (index) this status answers: the agent sends one status per
    /// message it takes, so comms completes that message's command on it, whether the agent
    /// kept the message or dropped it. [`UpgradeStatus::STARTED`] for the first status of a
    /// new agent instance, [`UpgradeStatus::UNSOLICITED`] for any other status.
    pub answers: u32,
    /// The messages after `next_chunk` the agent does not need sent (held in its receive
    /// window, or wholly inside image chunks already in place): bit `k` is message
    /// `next_chunk + 1 + k`. A windowed ground sends only the messages whose bit is clear.
    pub held_ahead: u64,
    /// Bundle bytes received over the link and stored so far (this bundle).
    pub bytes_received: u32,
    /// Image bytes copied on board from the running slot instead of being uplinked.
    pub bytes_copied: u32,
    /// Image chunks (of the manifest's chunk size) in place in the inactive slot.
    pub chunks_done: u32,
    /// Image chunks of the bundle (0 before its manifest was accepted).
    pub chunks_total: u32,
    /// The node's security counter (the confirmed image's).
    pub security_counter: u32,
    /// The agent's state.
    pub state: UpgradeState,
    /// The slot the board currently runs from.
    pub active_slot: Slot,
    /// The confirmed (known-good) slot.
    pub confirmed_slot: Slot,
    /// Trial boots left before automatic rollback.
    pub attempts_left: u8,
    /// What slot A and slot B hold.
    pub slots: [SlotVersion; 2],
    /// The last refusal, kept across resets.
    pub last_refusal: Option<Refusal>,
}

impl core::fmt::Display for Slot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Slot::A => "A",
            Slot::B => "B",
        })
    }
}

impl core::fmt::Display for UpgradeState {
    /// The state in words (a refusal by its code: the ground explains codes in words).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UpgradeState::Idle => f.write_str("idle"),
            UpgradeState::Preparing => f.write_str("preparing (copying matching chunks on board)"),
            UpgradeState::Receiving => f.write_str("receiving chunks"),
            UpgradeState::Verifying => f.write_str("verifying the written image"),
            UpgradeState::Written => f.write_str("written, trial boot requested"),
            UpgradeState::TrialBoot => f.write_str("trial boot (soaking)"),
            UpgradeState::Confirmed => f.write_str("confirmed"),
            UpgradeState::RolledBack => f.write_str("rolled back"),
            UpgradeState::Failed { reason } => write!(f, "refused (code {})", reason.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_is_before_next_or_held_ahead() {
        let s = UpgradeStatus {
            next_chunk: 10,
            held_ahead: 0b101 | 1 << 63,
            ..UpgradeStatus::default()
        };
        let has: [u32; 5] = [0, 9, 11, 13, 74];
        let lacks: [u32; 5] = [10, 12, 14, 73, 75];
        assert!(has.iter().all(|&i| s.has(i)));
        assert!(!lacks.iter().any(|&i| s.has(i)));
        let end = UpgradeStatus {
            next_chunk: u32::MAX,
            held_ahead: u64::MAX,
            ..UpgradeStatus::default()
        };
        assert!(!end.has(u32::MAX));
    }
}
