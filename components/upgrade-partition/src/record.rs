//! The agent's progress record: what survives a reset, in one `store` record (two copies with
//! sequence number and CRC in the slot flash's progress region, tag `UPGR`).
//!
//! Payload (little endian):
//!
//! | offset | bytes | field |
//! | --- | --- | --- |
//! | 0 | 1 | format (1) |
//! | 1 | 1 | phase: 0 idle, 1 receiving, 2 staged (trial requested), 3 confirmed, 4 rolled back |
//! | 2 | 8 | bundle id (the ground's) |
//! | 10 | 1 | target slot: 0 A, 1 B |
//! | 11 | 4 | bundle header length |
//! | 15 | 32 | SHA-256 of the header as written to the target's header area |
//! | 47 | 4 | transfer message length the ground uses (0 before the first message) |
//! | 51 | 4 | bytes received over the link |
//! | 55 | 4 | image bytes copied on board |
//! | 59 | 128 | bitmap of image chunks in place (bit `i % 8` of byte `i / 8`) |
//! | 187 | 1 | last refusal: 0 none, else `UpgradeError::code` |
//! | 188 | 4 | last refusal's detail |
//! | 192 | 2 | length of the newest verified root body (0: none) |
//! | 194 | n | that root body |
//!
//! Avoids: interpreting anything it decodes (the agent checks the header hash against flash
//! and the root against the running header); a record that does not decode is "lost", never
//! guessed at.

use protocol::{Refusal, UpgradeError};
use upgrade::MAX_CHUNKS;

/// The record's format byte.
pub const FORMAT: u8 = 1;
/// The store tag of the progress record.
pub const TAG: [u8; 4] = *b"UPGR";
/// Bytes of the chunk bitmap.
pub const BITMAP_LEN: usize = MAX_CHUNKS / 8;
/// The largest root body the record keeps.
pub const MAX_ROOT: usize = 2048;
const FIXED: usize = 194;
/// The largest encoded record.
pub const MAX_LEN: usize = FIXED + MAX_ROOT;

/// Where the transfer is, as persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No transfer.
    Idle,
    /// A bundle's header is in the target's header area; chunks are arriving.
    Receiving,
    /// The whole image verified and a trial boot of it was requested.
    Staged,
    /// The last trial was confirmed.
    Confirmed,
    /// The last trial was cancelled or never confirmed.
    RolledBack,
}

impl Phase {
    fn code(self) -> u8 {
        match self {
            Phase::Idle => 0,
            Phase::Receiving => 1,
            Phase::Staged => 2,
            Phase::Confirmed => 3,
            Phase::RolledBack => 4,
        }
    }

    fn from_code(c: u8) -> Option<Phase> {
        Some(match c {
            0 => Phase::Idle,
            1 => Phase::Receiving,
            2 => Phase::Staged,
            3 => Phase::Confirmed,
            4 => Phase::RolledBack,
            _ => return None,
        })
    }
}

/// The persisted progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The phase.
    pub phase: Phase,
    /// The ground's bundle id.
    pub bundle_id: u64,
    /// The slot being written (true: B).
    pub target_b: bool,
    /// The bundle header's length.
    pub header_len: u32,
    /// SHA-256 of the header in the target's header area.
    pub header_hash: [u8; 32],
    /// Transfer message length (0: not known yet).
    pub piece_len: u32,
    /// Bytes received over the link.
    pub bytes_received: u32,
    /// Image bytes copied on board.
    pub bytes_copied: u32,
    /// Image chunks in place.
    pub done: [u8; BITMAP_LEN],
    /// The last refusal.
    pub refusal: Option<Refusal>,
    /// Length of the newest verified root body in `root`.
    pub root_len: u16,
    /// The newest verified root body.
    pub root: [u8; MAX_ROOT],
}

impl Progress {
    /// Nothing under way, nothing known.
    pub const EMPTY: Progress = Progress {
        phase: Phase::Idle,
        bundle_id: 0,
        target_b: false,
        header_len: 0,
        header_hash: [0; 32],
        piece_len: 0,
        bytes_received: 0,
        bytes_copied: 0,
        done: [0; BITMAP_LEN],
        refusal: None,
        root_len: 0,
        root: [0; MAX_ROOT],
    };

    /// Whether image chunk `i` is in place.
    pub fn is_done(&self, i: u32) -> bool {
        let i = i as usize;
        self.done
            .get(i / 8)
            .is_some_and(|b| b & (1 << (i % 8)) != 0)
    }

    /// Marks image chunk `i` in place (or not).
    pub fn set_done(&mut self, i: u32, on: bool) {
        let i = i as usize;
        if let Some(b) = self.done.get_mut(i / 8) {
            if on {
                *b |= 1 << (i % 8);
            } else {
                *b &= !(1 << (i % 8));
            }
        }
    }

    /// Number of chunks in place among the first `count`.
    pub fn done_count(&self, count: u32) -> u32 {
        (0..count).filter(|&i| self.is_done(i)).count() as u32
    }

    /// The newest verified root body, if any.
    pub fn root(&self) -> Option<&[u8]> {
        (self.root_len > 0).then(|| self.root.get(..self.root_len as usize).unwrap_or(&[]))
    }

    /// Keeps `body` as the newest verified root (refused silently if longer than [`MAX_ROOT`]:
    /// the running header's root stays the anchor then).
    pub fn set_root(&mut self, body: &[u8]) {
        if let Some(dst) = self.root.get_mut(..body.len()) {
            dst.copy_from_slice(body);
            self.root_len = body.len() as u16;
        }
    }

    /// Encodes into `out` (at least [`MAX_LEN`] bytes); returns the length.
    pub fn encode(&self, out: &mut [u8; MAX_LEN]) -> usize {
        out[0] = FORMAT;
        out[1] = self.phase.code();
        out[2..10].copy_from_slice(&self.bundle_id.to_le_bytes());
        out[10] = u8::from(self.target_b);
        out[11..15].copy_from_slice(&self.header_len.to_le_bytes());
        out[15..47].copy_from_slice(&self.header_hash);
        out[47..51].copy_from_slice(&self.piece_len.to_le_bytes());
        out[51..55].copy_from_slice(&self.bytes_received.to_le_bytes());
        out[55..59].copy_from_slice(&self.bytes_copied.to_le_bytes());
        out[59..187].copy_from_slice(&self.done);
        let (code, detail) = match self.refusal {
            Some(r) => (r.reason.code(), r.detail),
            None => (0, 0),
        };
        out[187] = code;
        out[188..192].copy_from_slice(&detail.to_le_bytes());
        let n = (self.root_len as usize).min(MAX_ROOT);
        out[192..194].copy_from_slice(&(n as u16).to_le_bytes());
        out[FIXED..FIXED + n].copy_from_slice(&self.root[..n]);
        FIXED + n
    }

    /// Decodes a record payload; `None` if it is not a record of this format.
    pub fn decode(b: &[u8]) -> Option<Progress> {
        let u32_at = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
        };
        if b.len() < FIXED || b.first() != Some(&FORMAT) {
            return None;
        }
        let phase = Phase::from_code(b[1])?;
        let target_b = match b[10] {
            0 => false,
            1 => true,
            _ => return None,
        };
        let refusal = match b[187] {
            0 => None,
            c => Some(Refusal {
                reason: UpgradeError::from_code(c)?,
                detail: u32_at(188)?,
            }),
        };
        let root_len = u16::from_le_bytes([b[192], b[193]]);
        let root_bytes = b.get(FIXED..FIXED + root_len as usize)?;
        if b.len() != FIXED + root_len as usize {
            return None;
        }
        let mut p = Progress {
            phase,
            bundle_id: u64::from_le_bytes(b[2..10].try_into().ok()?),
            target_b,
            header_len: u32_at(11)?,
            header_hash: b[15..47].try_into().ok()?,
            piece_len: u32_at(47)?,
            bytes_received: u32_at(51)?,
            bytes_copied: u32_at(55)?,
            done: b[59..187].try_into().ok()?,
            refusal,
            root_len: 0,
            root: [0; MAX_ROOT],
        };
        p.set_root(root_bytes);
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let mut p = Progress::EMPTY;
        p.phase = Phase::Receiving;
        p.bundle_id = 0x1122_3344_5566_7788;
        p.target_b = true;
        p.header_len = 4242;
        p.header_hash = [7; 32];
        p.piece_len = 1900;
        p.bytes_received = 99;
        p.bytes_copied = 1 << 20;
        p.set_done(0, true);
        p.set_done(1023, true);
        p.refusal = Some(Refusal {
            reason: UpgradeError::TrialNotConfirmed,
            detail: 3,
        });
        p.set_root(&[1, 2, 3]);
        let mut buf = [0u8; MAX_LEN];
        let n = p.encode(&mut buf);
        assert_eq!(n, FIXED + 3);
        assert_eq!(Progress::decode(&buf[..n]), Some(p.clone()));
        assert_eq!(p.done_count(1024), 2);
        assert!(p.is_done(1023) && !p.is_done(1022));
        // A wrong format, phase, slot, refusal code or length is not a record.
        for (at, v) in [(0, 2u8), (1, 9), (10, 2), (187, 200)] {
            let mut b = buf;
            b[at] = v;
            assert_eq!(Progress::decode(&b[..n]), None, "byte {at} = {v}");
        }
        assert_eq!(Progress::decode(&buf[..n - 1]), None);
        assert_eq!(Progress::decode(&buf[..n + 1]), None);
    }
}
