//! The agent's receive window: image messages that arrive reordered, duplicated, lost or far
//! ahead are kept and written chunk by chunk, and the status tells a windowed ground exactly
//! which messages it must still send.

mod common;

use common::*;
use protocol::{UpgradeError, UpgradeState, UpgradeStatus};
use std::collections::BTreeSet;

/// A small deterministic generator (xorshift64*), so every run sees the same link.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The messages a windowed ground sends next: those in `[next, next + 64]` the status does not
/// mark as not needed (only the header's while the agent collects it, as the real ground).
fn wanted(s: &UpgradeStatus, count: u32, header_msgs: u32) -> Vec<u32> {
    let count = if s.chunks_total == 0 {
        header_msgs
    } else {
        count
    };
    let mut v = vec![s.next_chunk];
    for k in 0..64u32 {
        let p = s.next_chunk + 1 + k;
        if p < count && s.held_ahead & (1 << k) == 0 {
            v.push(p);
        }
    }
    v.retain(|&p| p < count);
    v
}

/// What the lossy ground did.
#[derive(Debug, Default)]
struct Run {
    /// Messages put on the link (lost ones included).
    sent: u32,
    /// Messages the agent got (duplicates included).
    delivered: u32,
    last: UpgradeStatus,
}

/// A windowed ground over a link that loses `loss_pct` % of messages, duplicates 10 % and
/// delivers each round in a shuffled order, with late copies of old messages mixed in.
fn windowed(a: &mut TestAgent, id: u64, b: &[u8], loss_pct: u64, seed: u64) -> Run {
    let count = b.len().div_ceil(PIECE) as u32;
    let header_msgs = upgrade::header_len(b).unwrap().div_ceil(PIECE) as u32;
    let mut rng = Rng(seed);
    let mut run = Run::default();
    let mut got: BTreeSet<u32> = BTreeSet::new();
    let mut s = a.status();
    for _round in 0..10_000 {
        let want = if s.bundle_id == id {
            wanted(&s, count, header_msgs)
        } else {
            vec![0]
        };
        let mut batch = Vec::new();
        for &p in &want {
            run.sent += 1;
            if rng.below(100) < loss_pct {
                continue;
            }
            batch.push(p);
            if rng.below(10) == 0 {
                batch.push(p);
            }
        }
        if let Some(&old) = got.iter().nth(rng.below(got.len().max(1) as u64) as usize) {
            batch.push(old); // a late copy of something already delivered
        }
        for i in (1..batch.len()).rev() {
            batch.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for p in batch {
            run.delivered += 1;
            got.insert(p);
            let r = a.on_piece(&piece(id, b, p));
            assert_eq!(r.answers, p, "the status answers the message taken");
            if let UpgradeState::Failed { reason } = r.state {
                assert!(
                    matches!(reason, UpgradeError::OutOfOrder),
                    "message {p}: {r:?}"
                );
            }
            settle(a);
        }
        s = a.status();
        // Without chunks copied on board, every message the status says it holds was really
        // delivered.
        for k in 0..64u32 {
            if s.bytes_copied == 0 && s.chunks_total > 0 && s.held_ahead & (1 << k) != 0 {
                let p = s.next_chunk + 1 + k;
                assert!(got.contains(&p), "message {p} reported held, never sent");
            }
        }
        if !matches!(s.state, UpgradeState::Receiving | UpgradeState::Idle) {
            break;
        }
    }
    run.last = s;
    run
}

#[test]
fn reordered_lost_and_duplicated_messages_complete_the_transfer_each_byte_taken_once() {
    let old = image(60_000, 1);
    let new = image(150_000, 9);
    let v2 = bundle(&new, (2, 0, 0), 1);
    for (loss, seed) in [(0, 1), (10, 2), (30, 3)] {
        let board = Board::new(&board_factory(&old));
        let mut a = board.boot();
        let run = windowed(&mut a, 5, &v2, loss, seed);
        assert_eq!(run.last.state, UpgradeState::Written, "{loss}%: {run:?}");
        let s = a.status();
        assert_eq!(
            s.bytes_received as usize,
            v2.len(),
            "{loss}%: every bundle byte counted once, duplicates dropped"
        );
        assert_eq!(s.bytes_copied, 0);
        let count = v2.len().div_ceil(PIECE) as u32;
        if loss == 0 {
            // Everything is kept in any order: each message goes once, but the header's last,
            // whose image bytes are asked for after the header was checked.
            assert!(run.sent <= count + 1, "{run:?}");
        }
    }
}

fn board_factory(img: &[u8]) -> Vec<u8> {
    bundle(img, (1, 0, 0), 1)
}

#[test]
fn a_chunk_completed_ahead_survives_a_reset_and_only_the_missing_messages_are_asked_for() {
    let old = image(60_000, 1);
    let new = image(100_000, 7);
    let board = Board::new(&board_factory(&old));
    let v2 = bundle(&new, (2, 0, 0), 1);
    let count = v2.len().div_ceil(PIECE) as u32;
    let header = upgrade::header_len(&v2).unwrap();
    let mut a = board.boot();
    // The header, in order.
    let mut s = a.status();
    while s.bundle_id != 3 || s.chunks_total == 0 {
        let next = if s.bundle_id == 3 { s.next_chunk } else { 0 };
        a.on_piece(&piece(3, &v2, next));
        settle(&mut a);
        s = a.status();
    }
    let first = s.next_chunk;
    // Chunk 3's messages only (ahead of chunks 0..3), sent from last to first.
    let start = (header + (3 << CHUNK_LOG2)) / PIECE;
    let end = (header + (4 << CHUNK_LOG2) - 1) / PIECE;
    for p in (start..=end).rev() {
        a.on_piece(&piece(3, &v2, p as u32));
    }
    let s = a.status();
    assert_eq!(s.chunks_done, 1, "chunk 3 written out of order: {s:?}");
    assert_eq!(s.next_chunk, first, "{s:?}");
    drop(a);

    // A reset: the window is gone, chunk 3 is on flash and recorded.
    let mut a = board.agent();
    settle(&mut a);
    let s = a.status();
    assert_eq!(
        (s.state, s.chunks_done),
        (UpgradeState::Receiving, 1),
        "{s:?}"
    );
    assert_eq!(s.next_chunk, first);
    // Messages wholly inside chunk 3 are not asked for again; the ones it shares with chunks
    // 2 and 4 are.
    for p in start..=end {
        let p = p as u32;
        let k = p - first - 1;
        let inside = (p as usize * PIECE) >= header + (3 << CHUNK_LOG2)
            && ((p as usize + 1) * PIECE) <= header + (4 << CHUNK_LOG2);
        if k < 64 {
            assert_eq!(s.held_ahead & (1 << k) != 0, inside, "message {p}: {s:?}");
        }
    }
    let run = windowed(&mut a, 3, &v2, 10, 4);
    assert_eq!(run.last.state, UpgradeState::Written, "{run:?}");
    assert!(run.sent < count * 2, "{run:?}");
}

#[test]
fn a_damaged_message_in_the_window_fails_its_chunk_which_is_asked_for_again() {
    let old = image(60_000, 1);
    let new = image(60_000, 2);
    let board = Board::new(&board_factory(&old));
    let v2 = bundle(&new, (2, 0, 0), 1);
    let mut a = board.boot();
    let mut s = a.status();
    while s.bundle_id != 4 || s.chunks_total == 0 {
        let next = if s.bundle_id == 4 { s.next_chunk } else { 0 };
        a.on_piece(&piece(4, &v2, next));
        settle(&mut a);
        s = a.status();
    }
    let first = s.next_chunk;
    // Damage one message of chunk 0, deliver the window in reverse order.
    let mut bad = piece(4, &v2, first + 2).data.to_vec();
    bad[10] ^= 0x01;
    let mut failed = None;
    for p in (first..first + 8).rev() {
        let mut m = piece(4, &v2, p);
        if p == first + 2 {
            m.data = &bad;
        }
        let r = a.on_piece(&m);
        if let UpgradeState::Failed { reason } = r.state {
            failed = Some((reason, r.last_refusal));
        }
    }
    let (reason, refusal) = failed.expect("the damaged chunk is refused");
    assert_eq!(reason, UpgradeError::BadHash);
    assert_eq!(refusal.unwrap().detail, 0, "chunk 0");
    let s = a.status();
    assert_eq!(
        s.next_chunk, first,
        "chunk 0 asked for again from its start: {s:?}"
    );
    assert_eq!(s.chunks_done, 0);
    let run = windowed(&mut a, 4, &v2, 0, 5);
    assert_eq!(run.last.state, UpgradeState::Written, "{run:?}");
}

#[test]
fn with_chunks_copied_on_board_the_window_asks_only_for_changed_chunks() {
    let old = image(100_000, 1);
    let mut new = old.clone();
    for at in [9_000, 50_000, 99_000] {
        new[at] ^= 0x55; // chunks 2, 12 and 24 differ
    }
    let board = Board::new(&board_factory(&old));
    let v2 = bundle(&new, (1, 1, 0), 1);
    let header = upgrade::header_len(&v2).unwrap();
    let mut a = board.boot();
    let run = windowed(&mut a, 6, &v2, 0, 6);
    assert_eq!(run.last.state, UpgradeState::Written, "{run:?}");
    let s = a.status();
    let changed = [2usize, 12, 24];
    let last_len = 100_000 - (24 << CHUNK_LOG2);
    assert_eq!(
        s.bytes_copied as usize,
        100_000 - 2 * 4096 - last_len,
        "{s:?}"
    );
    // Messages overlapping the changed chunks, plus the header's.
    let overlapping: BTreeSet<usize> = changed
        .iter()
        .flat_map(|&c| {
            let s = header + (c << CHUNK_LOG2);
            let e = (s + 4096).min(v2.len());
            s / PIECE..=(e - 1) / PIECE
        })
        .collect();
    let header_msgs = header.div_ceil(PIECE);
    assert!(
        run.sent as usize <= overlapping.len() + header_msgs + 1,
        "{} messages sent for {} overlapping the changed chunks: {run:?}",
        run.sent,
        overlapping.len()
    );
}
