//! The ledger: the anti-replay and velocity state that a batch commits, in ONE record.
//!
//! Per server that ever had a batch accepted: the last accepted sequence number, the digest of
//! that batch's certificate ([`crate::cert::Certificate::digest`], so an exact resubmission can be
//! recognised), and the velocity windows ([`crate::policy::velocity`]). Plus the mission clock's
//! record ([`crate::clock::ClockRecord`]): its high-water mark, the board instant it was read at
//! and the last ground correlation, so the clock never runs backwards across resets.
//!
//! A batch's new state is encoded here and written with
//! [`store::RecordStore::write_mirrored`] *before* any signature is released
//! ([`crate::batch`]). A power cut leaves either the old or the new ledger, never a mix.
//!
//! # Record payload (version 2, integers big-endian)
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SNLG` |
//! | 4 | 1 | version `2` |
//! | 5 | 8 | mission-clock high-water mark, ms |
//! | 13 | 8 | board instant of the mark, us since power-on |
//! | 21 | 8 | last time correlation, mission ms (0: never) |
//! | 29 | 1 | `n`, server entries, `0..=MAX_SERVERS` |
//! | 30 | .. | `n` entries |
//!
//! Version 1 (written before mission time existed) is still read: it has only the mark (then
//! board milliseconds, not mission time), read as an uncorrelated clock at that mark.
//!
//! Entry: server id (4), last sequence (8), flags (1; bit 0 = a sequence was accepted, other
//! bits zero), last certificate digest (32), `w` windows (1, `0..=MAX_PERIODS`), then `w` ×
//! (period s (4), window start ms (8), spent sats (8)). Anything else is corrupt. At most
//! [`MAX_LEN`] bytes.

use crate::clock::ClockRecord;
use crate::policy::MAX_PERIODS;
use crate::policy::velocity::{Window, Windows};
use crate::registry::MAX_SERVERS;

const MAGIC: [u8; 4] = *b"SNLG";
const VERSION: u8 = 2;
const VERSION_1: u8 = 1;
const ENTRY_FIXED: usize = 4 + 8 + 1 + 32 + 1;
const WINDOW_LEN: usize = 20;
/// Largest encoded ledger.
pub const MAX_LEN: usize = 30 + MAX_SERVERS * (ENTRY_FIXED + MAX_PERIODS * WINDOW_LEN);

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
    clock: ClockRecord,
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

    /// The monotonic "now": `max(monotone_ms, high-water mark)`.
    pub fn now(&self, monotone_ms: u64) -> u64 {
        monotone_ms.max(self.clock.mark_ms)
    }

    /// The mission clock's stored record.
    pub fn clock(&self) -> ClockRecord {
        self.clock
    }

    /// A copy with the clock record `clock`, unless that would lower the high-water mark.
    pub fn with_clock(&self, clock: ClockRecord) -> Ledger {
        let mut next = self.clone();
        if clock.mark_ms >= next.clock.mark_ms {
            next.clock = clock;
        }
        next
    }

    /// A server's state.
    pub fn server(&self, id: u32) -> Option<&ServerState> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// All entries.
    pub fn servers(&self) -> &[ServerState] {
        &self.servers
    }

    /// A copy with `state` replacing (or added as) that server's entry and the clock record
    /// advanced to `clock` ([`Ledger::with_clock`]). Fails only if the ledger is full of other
    /// servers.
    pub fn with(&self, state: ServerState, clock: ClockRecord) -> Result<Ledger, LedgerCorrupt> {
        let mut next = self.with_clock(clock);
        match next.servers.iter_mut().find(|s| s.id == state.id) {
            Some(s) => *s = state,
            None => next.servers.push(state).map_err(|_| LedgerCorrupt)?,
        }
        Ok(next)
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
        put(&self.clock.mark_ms.to_be_bytes());
        put(&self.clock.mark_at_us.to_be_bytes());
        put(&self.clock.correlated_ms.to_be_bytes());
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
        if r.take::<4>()? != MAGIC {
            return Err(LedgerCorrupt);
        }
        let clock = match r.u8()? {
            VERSION => ClockRecord {
                mark_ms: r.u64()?,
                mark_at_us: r.u64()?,
                correlated_ms: r.u64()?,
            },
            VERSION_1 => ClockRecord {
                mark_ms: r.u64()?,
                ..ClockRecord::default()
            },
            _ => return Err(LedgerCorrupt),
        };
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
        Ok(Self { clock, servers })
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
                ClockRecord {
                    mark_ms: 1_000,
                    mark_at_us: 77,
                    correlated_ms: 900,
                },
            )
            .expect("room");
        let mut buf = [0u8; MAX_LEN];
        let n = l.encode(&mut buf);
        assert_eq!(Ledger::decode(&buf[..n]), Ok(l.clone()));
        for cut in 0..n {
            assert_eq!(Ledger::decode(&buf[..cut]), Err(LedgerCorrupt));
        }
        let mut bad = buf;
        bad[4 + 1 + 24 + 1 + 4 + 8] = 2; // flags
        assert_eq!(Ledger::decode(&bad[..n]), Err(LedgerCorrupt));
        assert_eq!(l.now(10), 1_000);
        assert_eq!(l.now(2_000), 2_000);
        assert_eq!(l.clock().correlated_ms, 900);
        // The mark never goes down.
        assert_eq!(l.with_clock(ClockRecord::default()).clock().mark_ms, 1_000);
    }

    #[test]
    fn a_version_1_ledger_reads_as_an_uncorrelated_clock() {
        let mut v1 = b"SNLG\x01".to_vec();
        v1.extend_from_slice(&5_000u64.to_be_bytes());
        v1.push(0);
        let l = Ledger::decode(&v1).expect("version 1");
        assert_eq!(
            l.clock(),
            ClockRecord {
                mark_ms: 5_000,
                mark_at_us: 0,
                correlated_ms: 0
            }
        );
    }
}
