//! The agent's background steps, a bounded amount per call so the partition keeps answering the
//! watchdog: the on-board copy pass, the final read-back, the trial request.
//!
//! **Adaptive transfer.** After the manifest is accepted, every chunk whose hash equals a chunk
//! of the running image's manifest (same chunk size, any index) is read from the running slot,
//! checked against the *new* manifest's hash (so a damaged running slot is never copied), and
//! written to the target. Only then does the agent ask the ground for chunks (state
//! `Receiving`, `next_chunk` at the first one missing), so the ground never sends a chunk the
//! node already has. Bytes copied are counted in the status.
//!
//! **Final check.** With every chunk in place, the whole image is read back from the target and
//! each chunk checked again (the manifest's image hash is the hash of those chunk hashes, which
//! the manifest parser checked), and the header area re-read and compared with the recorded
//! hash. A chunk that no longer verifies is marked missing and asked for again. Then boot
//! control gets the trial request, the record becomes "staged", and a reboot is requested.
//!
//! Avoids: holding the CPU for more than [`CHUNKS_PER_STEP`] chunks per call.

use crate::agent::{Agent, Mode, Reboot, idx, manifest_of};
use crate::record::Phase;
use crate::refusal::plain;
use crate::slot_io;
use hal::boot::BootControl;
use hal::flash::{ErasedValue, NorFlash};
use protocol::{Refusal, UpgradeError};
use sha2::{Digest, Sha256};

/// Chunks copied or checked per [`Agent::poll`] call.
pub const CHUNKS_PER_STEP: u32 = 8;

/// One chunk of a step ([`Agent::plan`]).
#[derive(Debug, Clone, Copy)]
struct Planned {
    c: u32,
    len: usize,
    hash: [u8; 32],
    /// The running image's chunk with the same bytes, if any (copy pass only).
    from: Option<u32>,
}

/// A step's chunks, and what of the manifest the step needs besides.
struct Plan {
    log2: u8,
    count: u32,
    chunks: [Option<Planned>; CHUNKS_PER_STEP as usize],
}

impl Plan {
    /// The cursor after a step that began at `cursor`.
    fn end(&self, cursor: u32) -> u32 {
        cursor.saturating_add(CHUNKS_PER_STEP).min(self.count)
    }
}

impl<F: NorFlash + ErasedValue, B: BootControl> Agent<F, B> {
    /// Does a bounded step of background work; true while more is pending.
    pub fn poll(&mut self) -> bool {
        match self.mode {
            Mode::Preparing { cursor } => {
                self.prepare_step(cursor);
                true
            }
            Mode::Verifying { cursor } => {
                self.verify_step(cursor);
                true
            }
            _ => false,
        }
    }

    fn chunk_count(&self) -> u32 {
        manifest_of(&self.bufs.incoming[..self.incoming_fill]).map_or(0, |m| m.chunk_count())
    }

    /// Moves on after chunk `after` is in place (or from the start): to the first chunk still
    /// missing, or to the final check.
    pub(crate) fn after_chunk(&mut self, after: u32) {
        let count = self.chunk_count();
        let first = (0..count).find(|&i| !self.p.is_done(i));
        self.mode = match first {
            Some(c) => Mode::Receiving { chunk: c },
            None => Mode::Verifying { cursor: 0 },
        };
        if !self.persist() {
            // The chunk is on flash but not recorded: it is simply taken again after a reset.
            log::warn!("chunk {after} is written but not recorded");
        }
    }

    /// What a step needs of the manifests for chunks `cursor..` (at most [`CHUNKS_PER_STEP`]),
    /// with one parse of each manifest per step: a parse re-hashes the whole chunk-hash table
    /// (the manifest's own consistency check), which for a large image cost more hashing per
    /// chunk than the chunk itself when it was parsed again for every use. `copy`: find the
    /// running image's chunk with the same size and hash (any index) for each.
    fn plan(&self, cursor: u32, copy: bool) -> Option<Plan> {
        let new = manifest_of(&self.bufs.incoming[..self.incoming_fill])?;
        let old = copy
            .then(|| manifest_of(&self.bufs.running[..self.running_len]))
            .flatten();
        let count = new.chunk_count();
        let mut plan = Plan {
            log2: new.chunk_log2,
            count,
            chunks: [None; CHUNKS_PER_STEP as usize],
        };
        let end = cursor.saturating_add(CHUNKS_PER_STEP).min(count);
        for (slot, c) in plan.chunks.iter_mut().zip(cursor..end) {
            let (Some(hash), Some(len)) = (new.chunk_hash(c), new.chunk_len(c)) else {
                continue;
            };
            let from = match old.filter(|o| o.chunk_log2 == new.chunk_log2) {
                Some(o) => (0..o.chunk_count())
                    .find(|&j| o.chunk_hash(j) == Some(hash) && o.chunk_len(j) == Some(len)),
                None => None,
            };
            *slot = Some(Planned {
                c,
                len,
                hash: *hash,
                from,
            });
        }
        Some(plan)
    }

    /// Reads image chunk `c` of `slot`'s image, `clen` bytes, into the chunk buffer.
    fn read_chunk(&mut self, slot: hal::boot::Slot, c: u32, log2: u8, clen: usize) -> bool {
        let addr = self.layout.image_offset(slot) + (c << log2);
        let n = slot_io::round_up(clen, F::READ_SIZE);
        let Some(dst) = self.bufs.chunk.get_mut(..n) else {
            return false;
        };
        match slot_io::read(&mut self.flash, addr, dst) {
            Ok(()) => true,
            Err(e) => {
                log::error!("reading chunk {c} of slot {slot} failed: {e}");
                self.flash_errors += 1;
                false
            }
        }
    }

    /// Whether the chunk buffer holds planned chunk `p` (its manifest hash).
    fn holds(&self, p: &Planned) -> bool {
        self.bufs
            .chunk
            .get(..p.len)
            .is_some_and(|b| Sha256::digest(b)[..] == p.hash[..])
    }

    fn prepare_step(&mut self, cursor: u32) {
        let Some(plan) = self.plan(cursor, true) else {
            return self.abandon(plain(UpgradeError::SlotDamaged));
        };
        let running = self.boot.state().booted;
        for p in plan.chunks.iter().flatten() {
            let Some(j) = p.from.filter(|_| !self.p.is_done(p.c)) else {
                continue;
            };
            if !self.read_chunk(running, j, plan.log2, p.len) {
                continue;
            }
            if !self.holds(p) {
                log::warn!(
                    "running slot's chunk {j} does not match its manifest: chunk {} will be uplinked",
                    p.c
                );
                continue;
            }
            if self.put_chunk(p.c, plan.log2, 0, p.len).is_ok() {
                self.p.bytes_copied = self.p.bytes_copied.saturating_add(p.len as u32);
            }
        }
        let (end, count) = (plan.end(cursor), plan.count);
        if end < count {
            self.mode = Mode::Preparing { cursor: end };
            self.persist();
        } else {
            let done = self.p.done_count(count);
            log::info!(
                "bundle {:#x}: {done} of {count} chunks in place ({} bytes copied on board); {} to uplink",
                self.p.bundle_id,
                self.p.bytes_copied,
                count - done
            );
            self.clear_window();
            self.after_chunk(0);
        }
    }

    fn verify_step(&mut self, cursor: u32) {
        let Some(plan) = self.plan(cursor, false) else {
            return self.abandon(plain(UpgradeError::SlotDamaged));
        };
        let target = self.target();
        for p in plan.chunks.iter().flatten() {
            if !(self.read_chunk(target, p.c, plan.log2, p.len) && self.holds(p)) {
                log::error!(
                    "chunk {} no longer verifies in slot {target}: asking for it again",
                    p.c
                );
                self.p.set_done(p.c, false);
                self.p.refusal = Some(Refusal {
                    reason: UpgradeError::SlotDamaged,
                    detail: p.c,
                });
                return self.after_chunk(p.c);
            }
        }
        let end = plan.end(cursor);
        if end < plan.count {
            self.mode = Mode::Verifying { cursor: end };
        } else {
            self.stage();
        }
    }

    /// The image verified: check the header on flash, request the trial, record, reboot.
    fn stage(&mut self) {
        let target = self.target();
        let len = self.p.header_len as usize;
        let header_ok = self.read_header(target, false) == Some(len)
            && Sha256::digest(&self.bufs.incoming[..len])[..] == self.p.header_hash[..];
        if !header_ok {
            log::error!("slot {target}'s header changed on flash: the transfer starts again");
            return self.abandon(plain(UpgradeError::SlotDamaged));
        }
        if let Err(e) = self.boot.request_trial(target, self.cfg.trial_attempts) {
            log::error!("requesting the trial boot failed: {e}");
            self.flash_errors += 1;
            return self.abandon(plain(UpgradeError::Flash));
        }
        if let Some(m) = manifest_of(&self.bufs.incoming[..len]) {
            self.slots[idx(target)] = protocol::SlotVersion {
                present: true,
                version: [m.version.major, m.version.minor, m.version.patch],
                security_counter: m.security_counter,
            };
        }
        // Boot control holds the trial now; a cut before this write is reconciled at start.
        self.p.phase = Phase::Staged;
        self.persist();
        log::info!(
            "bundle {:#x} verified in slot {target}: trial boot requested ({} attempts); rebooting",
            self.p.bundle_id,
            self.cfg.trial_attempts
        );
        self.mode = Mode::Rebooting;
        self.reboot = Some(Reboot::Trial);
    }
}
