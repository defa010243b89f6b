//! The signer's registry administration over the link: the service 8 functions that carry admin
//! commands, xpub export requests and the mission-clock query, the reassembly of a chunked admin envelope, and the
//! telemetry report that carries the signer's answer down.
//!
//! # Functions (TC 8,1, permission `SIGN`, forwarded as one `admin-request`)
//!
//! | function | ID | arguments (big-endian) |
//! | --- | --- | --- |
//! | admin envelope chunk | 0x0003 | transfer ID (8), chunk index (4), chunk count (4), offset (4), total length (4), data (rest) |
//! | export a server's xpub | 0x0004 | server ID (4) |
//! | export an account xpub | 0x0005 | network (1: 0 mainnet, 1 testnet, 2 regtest), script type (1: 0 `wsh`, 1 `sh(wsh)`), BIP-48 account (4) |
//! | report the signer's mission clock | 0x0006 | none |
//! | read the signer's ledger-recovery challenge | 0x0007 | none |
//! | read the link-recovery challenge (comms' SDLS state lost, `node/recovery.rs`) | 0x0008 | none |
//!
//! # Chunking
//!
//! An envelope (`signer::admin`, at most [`ADMIN_COMMAND_MAX`] = 4,000 bytes) does not fit one
//! radio unit (MTU 2,048 bytes), so the ground cuts it into chunks, each one TC with its own
//! verification reports, in order: index 0 first (it starts a new transfer and drops any
//! unfinished one), then 1, 2, ... each continuing exactly where the last ended (`offset`), all
//! with the same transfer ID, count and total length. Comms copies the data into one bounded
//! staging buffer (static memory of the partition, [`Assembly::accept`]); a chunk that is not the
//! expected next one, disagrees with its transfer, or would overflow the envelope is refused with
//! 1,2 and a failure code saying which ([`crate::failure`]: `AdminTooLarge`,
//! `AdminOutOfOrder`, `AdminChunkMismatch`), and the transfer in progress is kept, so the
//! ground can send the right chunk. A chunk before the last completes at once (1,7: stored); the
//! last chunk (the envelope now complete) is forwarded as ONE `admin-request` and completes when
//! the signer answers. A retransmitted chunk (same TC) runs once: the duplicate check replays
//! its reports.
//!
//! # The answer: verification, plus TM\[8,128\]
//!
//! The signer's `admin-response` completes the command: 1,7 when a command was applied or an
//! export made, 1,8 with one failure code per signer refusal (`AdminMalformed` ...
//! `AdminStorage`, `AdminNotEnoughNewSignatures`, `AdminCounterJump`, `AdminTimeReplayed`,
//! `AdminTimeBackwards`, 0x1301..=0x130E, and `ExportUnknownServer` ... `ExportBadArgument`,
//! 0x1311..=0x1313; the failure data is the signer's own code). Before the 1,7, the node
//! sends **TM\[8,128\] "admin response report"** (mission-specific subtype of service 8) to the
//! commanding ground, source data:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | request ID of the TC it answers (packet ID, sequence control: as in service 1 reports) |
//! | 4 | 1 | kind: 1 applied, 2 export, 3 clock |
//! | 5 | 8, 169 or 24 | applied: the registry's admin counter now (8); export: the signed export (`signer::export` format, 169 bytes); clock: the signer's mission time now, its last time correlation and its flash mark, 8 bytes each, ms since 1970 (0: none) |
//!
//! The export is signed by the satellite's identity key: neither comms nor the link can alter it
//! undetected, and the ground verifies it before printing anything.
//!
//! Avoids: heap, panics on any input, and any buffer of its own (the staging buffer is lent by the
//! caller, so the node stays small on the partition's stack).

use protocol::{
    ADMIN_COMMAND_MAX, AdminOp, ChunkPosition, RECOVERY_CHALLENGE_LEN, XPUB_EXPORT_LEN,
};

use crate::failure::{Failure, FailureCode};
use crate::pus::function::Chunk;
use crate::pus::tc::RequestId;

/// Function: one chunk of an admin command envelope.
pub const FN_ADMIN_CHUNK: u16 = 0x0003;
/// Function: export a registered server's account xpub.
pub const FN_EXPORT_SERVER: u16 = 0x0004;
/// Function: export an account xpub by network, script type and account.
pub const FN_EXPORT_ACCOUNT: u16 = 0x0005;
/// Function: report the signer's mission clock (no arguments).
pub const FN_CLOCK: u16 = 0x0006;
/// Function: read the signer's ledger-recovery challenge of this boot (no arguments).
pub const FN_RECOVERY_CHALLENGE: u16 = 0x0007;
/// Read the signer's link-recovery challenge (`protocol::link_recovery`).
pub const FN_LINK_RECOVERY_CHALLENGE: u16 = 0x0008;
/// TM subtype of service 8 carrying the signer's answer.
pub const TM_ADMIN_RESPONSE: u8 = 128;
/// Kind byte of an applied command in TM\[8,128\].
pub const KIND_APPLIED: u8 = 1;
/// Kind byte of an export in TM\[8,128\].
pub const KIND_EXPORT: u8 = 2;
/// Kind byte of the signer's mission clock in TM\[8,128\].
pub const KIND_CLOCK: u8 = 3;
/// Kind byte of a ledger-recovery challenge in TM\[8,128\].
pub const KIND_CHALLENGE: u8 = 4;
/// Largest TM\[8,128\] source data.
pub const MAX_RESPONSE_LEN: usize = 4 + 1 + XPUB_EXPORT_LEN;

/// The transfer being reassembled (the bytes are in the caller's staging buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Assembly {
    current: Option<Transfer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Transfer {
    id: u64,
    count: u32,
    total: u32,
    next: u32,
    filled: u32,
}

/// What a chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored; more chunks to come.
    Stored,
    /// The envelope is complete: its length in the staging buffer.
    Complete(usize),
}

impl Assembly {
    /// Whether a transfer is under way (for tests and logs).
    pub fn in_progress(&self) -> Option<u64> {
        self.current.map(|t| t.id)
    }

    /// Forget the transfer under way.
    pub fn clear(&mut self) {
        self.current = None;
    }

    /// Check `c` against the transfer and copy its data into `staging` (the module docs give the
    /// rules). On a refusal nothing changes.
    pub fn accept(&mut self, c: &Chunk<'_>, staging: &mut [u8]) -> Result<Accepted, Failure> {
        let p: ChunkPosition = c.position;
        let cap = ADMIN_COMMAND_MAX.min(staging.len());
        if p.total_len == 0 || p.total_len as usize > cap {
            return Err(Failure::with(FailureCode::AdminTooLarge, p.total_len));
        }
        let mut t = if p.index == 0 {
            Transfer {
                id: c.id,
                count: p.count,
                total: p.total_len,
                next: 0,
                filled: 0,
            }
        } else {
            match self.current {
                Some(t) if t.id == c.id && t.next == p.index => t,
                Some(t) if t.id == c.id => {
                    return Err(Failure::with(FailureCode::AdminOutOfOrder, t.next));
                }
                // No transfer of this ID: it must start at chunk 0.
                _ => return Err(Failure::with(FailureCode::AdminOutOfOrder, 0)),
            }
        };
        if p.count != t.count || p.total_len != t.total || p.offset != t.filled {
            return Err(Failure::with(FailureCode::AdminChunkMismatch, t.filled));
        }
        let end = t.filled as usize + c.data.len();
        let last = p.index + 1 == p.count;
        if c.data.is_empty() || end > t.total as usize || (last && end != t.total as usize) {
            return Err(Failure::with(FailureCode::AdminChunkMismatch, t.filled));
        }
        let dst = staging
            .get_mut(t.filled as usize..end)
            .ok_or(Failure::with(FailureCode::AdminTooLarge, p.total_len))?;
        dst.copy_from_slice(c.data);
        t.filled = end as u32;
        t.next = p.index + 1;
        if last {
            self.current = None;
            Ok(Accepted::Complete(end))
        } else {
            self.current = Some(t);
            Ok(Accepted::Stored)
        }
    }
}

/// Arguments of 0x0006: none.
pub fn decode_clock(args: &[u8]) -> Result<AdminOp, Failure> {
    match args {
        [] => Ok(AdminOp::Clock),
        _ => Err(bad(args)),
    }
}

fn bad(app: &[u8]) -> Failure {
    Failure::with(FailureCode::BadAppData, app.len() as u32)
}

/// Arguments of 0x0004: the export request.
pub fn decode_export_server(args: &[u8]) -> Result<AdminOp, Failure> {
    match args {
        [a, b, c, d] => Ok(AdminOp::ExportServer {
            server_id: u32::from_be_bytes([*a, *b, *c, *d]),
        }),
        _ => Err(bad(args)),
    }
}

/// Arguments of 0x0005: the export request (the signer checks the numbers' ranges).
pub fn decode_export_account(args: &[u8]) -> Result<AdminOp, Failure> {
    match args {
        [n, t, a, b, c, d] => Ok(AdminOp::ExportAccount {
            network: *n,
            script_type: *t,
            account: u32::from_be_bytes([*a, *b, *c, *d]),
        }),
        _ => Err(bad(args)),
    }
}

/// Arguments of 0x0007: none.
pub fn decode_recovery_challenge(args: &[u8]) -> Result<AdminOp, Failure> {
    match args {
        [] => Ok(AdminOp::RecoveryChallenge),
        _ => Err(bad(args)),
    }
}

/// Arguments of 0x0008: none. Taken only while comms' SDLS state is lost (`recovering`).
pub fn decode_link_recovery_challenge(args: &[u8], recovering: bool) -> Result<AdminOp, Failure> {
    match args {
        [] if recovering => Ok(AdminOp::LinkRecoveryChallenge),
        [] => Err(Failure::new(FailureCode::LinkNotRecovering)),
        _ => Err(bad(args)),
    }
}

/// A decoded TM\[8,128\] (ground side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseReport {
    /// The command was applied; the registry's admin counter now.
    Applied(u64),
    /// The signed export (verify it before use).
    Export([u8; XPUB_EXPORT_LEN]),
    /// The signer's mission clock: mission time now, last correlation, flash mark (ms since
    /// 1970; 0 for none).
    Clock {
        /// Mission time now (0: never correlated).
        mission_ms: u64,
        /// Last accepted correlation (0: none).
        correlated_ms: u64,
        /// High-water mark on flash.
        mark_ms: u64,
    },
    /// This boot's ledger-recovery challenge (the signer's ledger is lost).
    Challenge([u8; RECOVERY_CHALLENGE_LEN]),
}

/// Encode TM\[8,128\] source data into `out`, returning the length.
pub fn encode_response(
    request: RequestId,
    r: &ResponseReport,
    out: &mut [u8; MAX_RESPONSE_LEN],
) -> usize {
    out[..4].copy_from_slice(&request.to_bytes());
    match r {
        ResponseReport::Applied(counter) => {
            out[4] = KIND_APPLIED;
            out[5..13].copy_from_slice(&counter.to_be_bytes());
            13
        }
        ResponseReport::Export(e) => {
            out[4] = KIND_EXPORT;
            out[5..].copy_from_slice(e);
            MAX_RESPONSE_LEN
        }
        ResponseReport::Clock {
            mission_ms,
            correlated_ms,
            mark_ms,
        } => {
            out[4] = KIND_CLOCK;
            out[5..13].copy_from_slice(&mission_ms.to_be_bytes());
            out[13..21].copy_from_slice(&correlated_ms.to_be_bytes());
            out[21..29].copy_from_slice(&mark_ms.to_be_bytes());
            29
        }
        ResponseReport::Challenge(c) => {
            out[4] = KIND_CHALLENGE;
            out[5..5 + RECOVERY_CHALLENGE_LEN].copy_from_slice(c);
            5 + RECOVERY_CHALLENGE_LEN
        }
    }
}

/// Decode TM\[8,128\] source data; `None` if it is not one.
pub fn decode_response(source: &[u8]) -> Option<(RequestId, ResponseReport)> {
    let rid = RequestId::from_packet(source)?;
    match (source.get(4), source.get(5..)) {
        (Some(&KIND_APPLIED), Some(rest)) => {
            let b: [u8; 8] = rest.try_into().ok()?;
            Some((rid, ResponseReport::Applied(u64::from_be_bytes(b))))
        }
        (Some(&KIND_EXPORT), Some(rest)) => {
            Some((rid, ResponseReport::Export(rest.try_into().ok()?)))
        }
        (Some(&KIND_CLOCK), Some(rest)) if rest.len() == 24 => {
            let at = |i: usize| {
                rest.get(i..i + 8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes)
            };
            Some((
                rid,
                ResponseReport::Clock {
                    mission_ms: at(0)?,
                    correlated_ms: at(8)?,
                    mark_ms: at(16)?,
                },
            ))
        }
        (Some(&KIND_CHALLENGE), Some(rest)) => {
            Some((rid, ResponseReport::Challenge(rest.try_into().ok()?)))
        }
        _ => None,
    }
}

/// Cut `envelope` into admin chunk arguments of at most `max_data` bytes each (ground side):
/// each item is a [`Chunk`] to encode with [`crate::pus::function::encode_chunk`] after the
/// function ID.
pub fn chunks(id: u64, envelope: &[u8], max_data: usize) -> impl Iterator<Item = Chunk<'_>> {
    let max = max_data.max(1);
    let count = envelope.len().div_ceil(max) as u32;
    envelope
        .chunks(max)
        .enumerate()
        .map(move |(i, data)| Chunk {
            id,
            position: ChunkPosition {
                index: i as u32,
                count,
                offset: (i * max) as u32,
                total_len: envelope.len() as u32,
            },
            data,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn in_order_chunks_rebuild_the_envelope() {
        for (len, max) in [
            (4000, 1800),
            (1, 1800),
            (1800, 1800),
            (3601, 1800),
            (100, 7),
        ] {
            let e = envelope(len);
            let mut staging = [0u8; ADMIN_COMMAND_MAX];
            let mut a = Assembly::default();
            let cs: Vec<_> = chunks(9, &e, max).collect();
            for (i, c) in cs.iter().enumerate() {
                let r = a.accept(c, &mut staging).unwrap();
                if i + 1 == cs.len() {
                    assert_eq!(r, Accepted::Complete(len));
                } else {
                    assert_eq!(r, Accepted::Stored);
                    assert_eq!(a.in_progress(), Some(9));
                }
            }
            assert_eq!(&staging[..len], &e[..]);
            assert_eq!(a.in_progress(), None);
        }
    }

    #[test]
    fn oversize_out_of_order_and_inconsistent_chunks_are_refused_and_change_nothing() {
        let e = envelope(3000);
        let cs: Vec<_> = chunks(5, &e, 1000).collect();
        let mut staging = [0u8; ADMIN_COMMAND_MAX];
        let mut a = Assembly::default();
        // Too large in total.
        let mut big = cs[0];
        big.position.total_len = ADMIN_COMMAND_MAX as u32 + 1;
        assert_eq!(
            a.accept(&big, &mut staging).unwrap_err().code,
            FailureCode::AdminTooLarge
        );
        // A later chunk with no transfer.
        assert_eq!(
            a.accept(&cs[1], &mut staging),
            Err(Failure::with(FailureCode::AdminOutOfOrder, 0))
        );
        assert_eq!(a.accept(&cs[0], &mut staging), Ok(Accepted::Stored));
        // Skipping chunk 1.
        assert_eq!(
            a.accept(&cs[2], &mut staging),
            Err(Failure::with(FailureCode::AdminOutOfOrder, 1))
        );
        // Chunk 1 claiming another offset, count or total.
        for tweak in 0..3 {
            let mut c = cs[1];
            match tweak {
                0 => c.position.offset += 1,
                1 => c.position.count += 1,
                _ => c.position.total_len -= 1,
            }
            assert_eq!(
                a.accept(&c, &mut staging),
                Err(Failure::with(FailureCode::AdminChunkMismatch, 1000))
            );
        }
        // A last chunk that does not fill the envelope, or overflows it.
        let mut short = cs[1];
        short.data = &e[1000..1500];
        assert!(a.accept(&short, &mut staging).is_ok());
        let mut overflow = cs[2];
        overflow.position.offset = 1500;
        overflow.data = &e[..1600];
        assert_eq!(
            a.accept(&overflow, &mut staging).unwrap_err().code,
            FailureCode::AdminChunkMismatch
        );
        let mut cut = cs[2];
        cut.position.offset = 1500;
        cut.data = &e[1500..2999];
        assert_eq!(
            a.accept(&cut, &mut staging).unwrap_err().code,
            FailureCode::AdminChunkMismatch
        );
        // The transfer survived every refusal: the right chunk completes it.
        let mut last = cs[2];
        last.position.offset = 1500;
        last.data = &e[1500..];
        assert_eq!(a.accept(&last, &mut staging), Ok(Accepted::Complete(3000)));
        assert_eq!(&staging[..3000], &e[..]);
        // A staging buffer smaller than the envelope refuses instead of overflowing.
        let mut small = [0u8; 10];
        assert_eq!(
            Assembly::default()
                .accept(&cs[0], &mut small)
                .unwrap_err()
                .code,
            FailureCode::AdminTooLarge
        );
    }

    #[test]
    fn a_new_chunk_zero_restarts_the_transfer() {
        let e = envelope(2000);
        let mut staging = [0u8; ADMIN_COMMAND_MAX];
        let mut a = Assembly::default();
        let first: Vec<_> = chunks(1, &e, 1000).collect();
        a.accept(&first[0], &mut staging).unwrap();
        let f = envelope(1500);
        let second: Vec<_> = chunks(2, &f, 1000).collect();
        a.accept(&second[0], &mut staging).unwrap();
        assert_eq!(
            a.accept(&first[1], &mut staging).unwrap_err().code,
            FailureCode::AdminOutOfOrder
        );
        assert_eq!(
            a.accept(&second[1], &mut staging),
            Ok(Accepted::Complete(1500))
        );
        assert_eq!(&staging[..1500], &f[..]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any sequence of arbitrary chunks mixed with the chunks of one real envelope never
        /// panics, and a completed envelope is exactly the data of the chunks accepted since its
        /// transfer's chunk 0, in order (nothing stale, nothing beyond the declared length). Fed
        /// in order from a fresh start, the real chunks always complete the real envelope.
        #[test]
        fn arbitrary_chunk_sequences_complete_only_what_was_accepted(
            len in 1usize..=ADMIN_COMMAND_MAX,
            max in 1usize..2000,
            noise in proptest::collection::vec(
                (0u64..3, 0u32..4, 0u32..4, 0u32..4100, 0u32..4100, 0usize..2100, proptest::prelude::any::<u8>()),
                1..12,
            ),
            order in proptest::collection::vec((proptest::prelude::any::<bool>(), 0usize..64), 0..80),
        ) {
            let e = envelope(len);
            let real: Vec<_> = chunks(1, &e, max).collect();
            let junk: Vec<Vec<u8>> = noise.iter().map(|n| vec![n.6; n.5]).collect();
            let mut staging = [0u8; ADMIN_COMMAND_MAX];
            let mut a = Assembly::default();
            let mut model: Vec<u8> = Vec::new();
            for (use_noise, pick) in &order {
                let c = if *use_noise {
                    let i = pick % noise.len();
                    let (id, index, count, offset, total, _, _) = noise[i];
                    Chunk {
                        id,
                        position: ChunkPosition {
                            index,
                            count: count.max(index + 1),
                            offset,
                            total_len: total,
                        },
                        data: &junk[i],
                    }
                } else {
                    real[pick % real.len()]
                };
                let before = a;
                match a.accept(&c, &mut staging) {
                    Ok(r) => {
                        if c.position.index == 0 {
                            model.clear();
                        }
                        model.extend_from_slice(c.data);
                        if let Accepted::Complete(n) = r {
                            proptest::prop_assert_eq!(n, model.len());
                            proptest::prop_assert_eq!(n, c.position.total_len as usize);
                            proptest::prop_assert_eq!(&staging[..n], &model[..]);
                        }
                    }
                    Err(_) => proptest::prop_assert_eq!(a, before),
                }
            }
            let mut a = Assembly::default();
            let mut done = None;
            for c in &real {
                if let Ok(Accepted::Complete(n)) = a.accept(c, &mut staging) {
                    done = Some(n);
                }
            }
            proptest::prop_assert_eq!(done, Some(len));
            proptest::prop_assert_eq!(&staging[..len], &e[..]);
        }
    }

    #[test]
    fn response_reports_round_trip_and_junk_is_refused() {
        let rid = RequestId {
            packet_id: 0x1801,
            psc: 0xC005,
        };
        let mut buf = [0u8; MAX_RESPONSE_LEN];
        for r in [
            ResponseReport::Applied(42),
            ResponseReport::Export([7; XPUB_EXPORT_LEN]),
        ] {
            let n = encode_response(rid, &r, &mut buf);
            assert_eq!(decode_response(&buf[..n]), Some((rid, r)));
            for cut in 0..n {
                assert_eq!(decode_response(&buf[..cut]), None);
            }
        }
        buf[4] = 9;
        assert_eq!(decode_response(&buf), None);
        assert_eq!(
            decode_export_server(&[0, 0, 1, 2]),
            Ok(AdminOp::ExportServer { server_id: 258 })
        );
        assert!(decode_export_server(&[0, 0, 1]).is_err());
        assert_eq!(
            decode_export_account(&[2, 0, 0, 0, 0, 3]),
            Ok(AdminOp::ExportAccount {
                network: 2,
                script_type: 0,
                account: 3
            })
        );
        assert!(decode_export_account(&[2, 0, 0]).is_err());
    }
}
