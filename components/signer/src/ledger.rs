//! The ledger: the anti-replay and velocity state that a batch commits, in ONE record.
//!
//! Per server that ever had a batch accepted: the last accepted sequence number, the digest of
//! that batch's certificate ([`crate::cert::Certificate::digest`], so an exact resubmission can be
//! recognised), and the velocity windows ([`crate::policy::velocity`]). Plus the mission-clock
//! high-water mark: the signer's notion of "now" is never below the time of the last committed
//! batch, which makes velocity windows monotonic even if mission time is set back.
//!
//! A batch's new state is encoded here and written with
//! [`store::RecordStore::write_mirrored`] *before* any signature is released
//! ([`crate::batch`]). A power cut leaves either the old or the new ledger, never a mix.
//!
//! # Record payload (version 1, integers big-endian)
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SNLG` |
//! | 4 | 1 | version `1` |
//! | 5 | 8 | mission-clock high-water mark, ms |
//! | 13 | 1 | `n`, server entries, `0..=MAX_SERVERS` |
//! | 14 | .. | `n` entries |
//!
//! Entry: server id (4), last sequence (8), flags (1; bit 0 = a sequence was accepted, other
//! bits zero), last certificate digest (32), `w` windows (1, `0..=MAX_PERIODS`), then `w` ×
//! (period s (4), window start ms (8), spent sats (8)). Anything else is corrupt. At most
//! [`MAX_LEN`] bytes.

use crate::policy::MAX_PERIODS;
use crate::policy::velocity::{Window, Windows};
use crate::registry::MAX_SERVERS;

const MAGIC: [u8; 4] = *b"SNLG";
const VERSION: u8 = 1;
const ENTRY_FIXED: usize = 4 + 8 + 1 + 32 + 1;
const WINDOW_LEN: usize = 20;
/// Largest encoded ledger.
pub const MAX_LEN: usize = 14 + MAX_SERVERS * (ENTRY_FIXED + MAX_PERIODS * WINDOW_LEN);

/// One server's committed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    /// Server id.
    pub id: u32,
    /// Last accepted sequence number.
    pub last_sequence: Option<u64>,
    /// Certificate digest of that batch.
    pub last_digest: [u8; 32],
    /// Velocity windows.
    pub windows: Windows,
}

/// The whole ledger.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ledger {
    clock_ms: u64,
    servers: heapless::Vec<ServerState, MAX_SERVERS>,
}

/// The ledger record does not decode (or would not fit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ledger record is corrupt")]
pub struct LedgerCorrupt;

struct Rd<'a>(&'a [u8]);

impl Rd<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], LedgerCorrupt> {
        let (head, rest) = self.0.split_at_checked(N).ok_or(LedgerCorrupt)?;
        self.0 = rest;
        head.try_into().map_err(|_| LedgerCorrupt)
    }
    fn u8(&mut self) -> Result<u8, LedgerCorrupt> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, LedgerCorrupt> {
        Ok(u32::from_be_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, LedgerCorrupt> {
        Ok(u64::from_be_bytes(self.take()?))
    }
}

impl Ledger {
    /// The empty ledger (no batch ever accepted).
    pub fn new() -> Self {
        Self::default()
    }

    /// The monotonic "now": `max(mission_ms, high-water mark)`.
    pub fn now(&self, mission_ms: u64) -> u64 {
        mission_ms.max(self.clock_ms)
    }

    /// The high-water mark.
    pub fn clock_ms(&self) -> u64 {
        self.clock_ms
    }

    /// A server's state.
    pub fn server(&self, id: u32) -> Option<&ServerState> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// All entries.
    pub fn servers(&self) -> &[ServerState] {
        &self.servers
    }

    /// A copy with `state` replacing (or added as) that server's entry and the clock advanced
    /// to `now_ms`. Fails only if the ledger is full of other servers.
    pub fn with(&self, state: ServerState, now_ms: u64) -> Result<Ledger, LedgerCorrupt> {
        let mut next = self.clone();
        next.clock_ms = next.clock_ms.max(now_ms);
        match next.servers.iter_mut().find(|s| s.id == state.id) {
            Some(s) => *s = state,
            None => next.servers.push(state).map_err(|_| LedgerCorrupt)?,
        }
        Ok(next)
    }

    /// This ledger with its clock advanced to `now_ms` (never back).
    pub fn with_clock(mut self, now_ms: u64) -> Ledger {
        self.clock_ms = self.clock_ms.max(now_ms);
        self
    }

    /// Encodes into `out`, returning the length.
    pub fn encode(&self, out: &mut [u8; MAX_LEN]) -> usize {
        let mut n = 0usize;
        let mut put = |b: &[u8]| {
            if let Some(dst) = out.get_mut(n..n + b.len()) {
                dst.copy_from_slice(b);
            }
            n += b.len();
        };
        put(&MAGIC);
        put(&[VERSION]);
        put(&self.clock_ms.to_be_bytes());
        put(&[self.servers.len() as u8]);
        for s in &self.servers {
            put(&s.id.to_be_bytes());
            put(&s.last_sequence.unwrap_or(0).to_be_bytes());
            put(&[u8::from(s.last_sequence.is_some())]);
            put(&s.last_digest);
            put(&[s.windows.as_slice().len() as u8]);
            for w in s.windows.as_slice() {
                put(&w.period_s.to_be_bytes());
                put(&w.start_ms.to_be_bytes());
                put(&w.spent.to_be_bytes());
            }
        }
        n
    }

    /// Decodes a record payload.
    pub fn decode(bytes: &[u8]) -> Result<Self, LedgerCorrupt> {
        let mut r = Rd(bytes);
        if r.take::<4>()? != MAGIC || r.u8()? != VERSION {
            return Err(LedgerCorrupt);
        }
        let clock_ms = r.u64()?;
        let n = usize::from(r.u8()?);
        let mut servers = heapless::Vec::new();
        for _ in 0..n {
            let id = r.u32()?;
            let seq = r.u64()?;
            let flags = r.u8()?;
            let last_sequence = match flags {
                0 if seq == 0 => None,
                1 => Some(seq),
                _ => return Err(LedgerCorrupt),
            };
            let last_digest = r.take::<32>()?;
            let w = usize::from(r.u8()?);
            if w > MAX_PERIODS {
                return Err(LedgerCorrupt);
            }
            let mut ws: heapless::Vec<Window, MAX_PERIODS> = heapless::Vec::new();
            for _ in 0..w {
                let win = Window {
                    period_s: r.u32()?,
                    start_ms: r.u64()?,
                    spent: r.u64()?,
                };
                ws.push(win).map_err(|_| LedgerCorrupt)?;
            }
            let state = ServerState {
                id,
                last_sequence,
                last_digest,
                windows: Windows::from_slice(&ws),
            };
            if servers.iter().any(|s: &ServerState| s.id == id) {
                return Err(LedgerCorrupt);
            }
            servers.push(state).map_err(|_| LedgerCorrupt)?;
        }
        if !r.0.is_empty() {
            return Err(LedgerCorrupt);
        }
        Ok(Self { clock_ms, servers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_truncation_is_corrupt() {
        let windows = Windows::from_slice(&[Window {
            period_s: 60,
            start_ms: 5,
            spent: 7,
        }]);
        let l = Ledger::new()
            .with(
                ServerState {
                    id: 3,
                    last_sequence: Some(9),
                    last_digest: [4; 32],
                    windows,
                },
                1_000,
            )
            .expect("room");
        let mut buf = [0u8; MAX_LEN];
        let n = l.encode(&mut buf);
        assert_eq!(Ledger::decode(&buf[..n]), Ok(l.clone()));
        for cut in 0..n {
            assert_eq!(Ledger::decode(&buf[..cut]), Err(LedgerCorrupt));
        }
        let mut bad = buf;
        bad[4 + 1 + 8 + 1 + 4 + 8] = 2; // flags
        assert_eq!(Ledger::decode(&bad[..n]), Err(LedgerCorrupt));
        assert_eq!(l.now(10), 1_000);
        assert_eq!(l.now(2_000), 2_000);
    }
}
