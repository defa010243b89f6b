//! Duplicate telecommands: a command that arrives twice (the ground retransmits it in a new
//! unit because a report was lost) runs once and gets its verification reports again.
//!
//! A command's identity is the association that authenticated it, its source ID, its request
//! ID (APID and sequence count) and the first 16 bytes of the SHA3-256 of the whole packet: a
//! different command reusing a sequence count after the 14-bit counter wrapped is a new command.
//! The cache keeps the last [`DEDUP_ENTRIES`] commands that got past routing, with what happened
//! to them so far ([`Progress`]); the node updates an entry as its command progresses and replays
//! the recorded reports for a duplicate instead of running it again.
//!
//! Avoids: heap; unbounded memory (oldest entries are evicted first).

use sha3::{Digest, Sha3_256};

use crate::failure::Failure;
use crate::pus::tc::{RequestId, Telecommand};

/// Commands remembered.
pub const DEDUP_ENTRIES: usize = 64;

/// The identity of a telecommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandKey {
    /// Association.
    pub spi: u16,
    /// Source ID.
    pub source_id: u16,
    /// Request ID.
    pub request_id: RequestId,
    /// First 16 bytes of SHA3-256 of the packet.
    pub digest: [u8; 16],
}

impl CommandKey {
    /// The key of `tc` received under `spi`.
    pub fn of(spi: u16, tc: &Telecommand<'_>) -> Self {
        let full = Sha3_256::digest(tc.raw);
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&full[..16]);
        CommandKey {
            spi,
            source_id: tc.source_id,
            request_id: tc.request_id,
            digest,
        }
    }
}

/// How far a command got: the reports it has had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Progress {
    /// Accepted and started; completion pending (forwarded to a component).
    Started,
    /// Accepted but failed to start.
    StartFailed(Failure),
    /// Completed successfully.
    Completed,
    /// Accepted, started, then failed.
    CompletionFailed(Failure),
}

/// The cache.
#[derive(Debug, Clone)]
pub struct DedupCache {
    entries: [Option<(CommandKey, Progress)>; DEDUP_ENTRIES],
    next: usize,
}

impl Default for DedupCache {
    fn default() -> Self {
        DedupCache {
            entries: [None; DEDUP_ENTRIES],
            next: 0,
        }
    }
}

impl DedupCache {
    /// What happened to `key` so far, if it was seen.
    pub fn lookup(&self, key: &CommandKey) -> Option<Progress> {
        self.entries
            .iter()
            .flatten()
            .find(|(k, _)| k == key)
            .map(|(_, p)| *p)
    }

    /// Record or update `key`.
    pub fn record(&mut self, key: CommandKey, progress: Progress) {
        if let Some(e) = self.entries.iter_mut().flatten().find(|(k, _)| *k == key) {
            e.1 = progress;
            return;
        }
        if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = Some((key, progress));
        }
        self.next = (self.next + 1) % DEDUP_ENTRIES;
    }
}
