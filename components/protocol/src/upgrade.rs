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

/// Why an upgrade failed.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum UpgradeError {
    /// The bundle signature does not verify.
    BadSignature,
    /// The image hash does not match the signed manifest.
    BadHash,
    /// The bundle does not parse or targets another board.
    Malformed,
    /// The version is not newer than the running one (anti-rollback).
    Downgrade,
    /// The bundle is larger than a slot.
    TooLarge,
    /// Writing or erasing flash failed.
    Flash,
}

/// Where the upgrade agent is.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub enum UpgradeState {
    /// No transfer in progress.
    #[default]
    Idle,
    /// Chunks are arriving.
    Receiving,
    /// All chunks arrived; verifying.
    Verifying,
    /// Verified and written to the inactive slot; a reboot into a trial boot follows.
    Written,
    /// Running the new image on trial.
    TrialBoot,
    /// The new image was confirmed healthy.
    Confirmed,
    /// The trial failed; the previous image is active again.
    RolledBack,
    /// The transfer was abandoned.
    Failed {
        /// Why.
        reason: UpgradeError,
    },
}

/// `upgrade-status`: upgrade agent → comms. Transfer and boot state, sent after each chunk and on
/// every state change.
///
/// Maximum serialised size: 24 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct UpgradeStatus {
    /// The bundle concerned (0 if none).
    pub bundle_id: u64,
    /// Index of the next chunk the agent needs (for resuming).
    pub next_chunk: u32,
    /// Bytes received and stored so far.
    pub bytes_received: u32,
    /// The agent's state.
    pub state: UpgradeState,
    /// The slot the board currently runs from.
    pub active_slot: Slot,
    /// Trial boots left before automatic rollback.
    pub attempts_left: u8,
}
