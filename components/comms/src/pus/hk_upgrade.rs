//! Housekeeping structure 5: the upgrade agent's last `upgrade-status`, sent down unsolicited
//! (TM 3,25) each time the agent reports, and on request (TC 3,27). All integers big-endian.
//!
//! Source data: structure ID 5 (1), bundle id (8), next transfer message (4), bytes received
//! (4), bytes copied on board (4), image chunks in place (4), chunks in the bundle (4), the
//! node's security counter (4), state (1: 0 idle, 1 preparing, 2 receiving, 3 verifying,
//! 4 written, 5 trial boot, 6 confirmed, 7 rolled back, 8 failed), the failed state's refusal
//! code (1, `UpgradeError::code`, else 0), active slot (1: 0 A, 1 B), confirmed slot (1),
//! trial attempts left (1), then for slot A and slot B: present (1), major, minor, patch (2
//! each), security counter (4); then the last refusal: present (1), code (1), detail (4); then
//! the messages held ahead of the next one (8, `UpgradeStatus::held_ahead`). 74 bytes.
//!
//! Avoids: heap; panics on any input to [`decode`].

use protocol::{Refusal, Slot, SlotVersion, UpgradeError, UpgradeState, UpgradeStatus};

/// Structure 5: the upgrade agent's status.
pub const SID_UPGRADE: u8 = 5;
/// Length of structure 5.
pub const LEN: usize = 74;

fn state_code(s: UpgradeState) -> (u8, u8) {
    match s {
        UpgradeState::Idle => (0, 0),
        UpgradeState::Preparing => (1, 0),
        UpgradeState::Receiving => (2, 0),
        UpgradeState::Verifying => (3, 0),
        UpgradeState::Written => (4, 0),
        UpgradeState::TrialBoot => (5, 0),
        UpgradeState::Confirmed => (6, 0),
        UpgradeState::RolledBack => (7, 0),
        UpgradeState::Failed { reason } => (8, reason.code()),
    }
}

fn state_of(code: u8, reason: u8) -> Option<UpgradeState> {
    Some(match code {
        0 => UpgradeState::Idle,
        1 => UpgradeState::Preparing,
        2 => UpgradeState::Receiving,
        3 => UpgradeState::Verifying,
        4 => UpgradeState::Written,
        5 => UpgradeState::TrialBoot,
        6 => UpgradeState::Confirmed,
        7 => UpgradeState::RolledBack,
        8 => UpgradeState::Failed {
            reason: UpgradeError::from_code(reason)?,
        },
        _ => return None,
    })
}

fn slot_code(s: Slot) -> u8 {
    match s {
        Slot::A => 0,
        Slot::B => 1,
    }
}

fn slot_of(c: u8) -> Option<Slot> {
    match c {
        0 => Some(Slot::A),
        1 => Some(Slot::B),
        _ => None,
    }
}

/// Structure 5 of `s`.
pub fn encode(s: &UpgradeStatus) -> [u8; LEN] {
    let mut o = [0u8; LEN];
    o[0] = SID_UPGRADE;
    o[1..9].copy_from_slice(&s.bundle_id.to_be_bytes());
    let words = [
        s.next_chunk,
        s.bytes_received,
        s.bytes_copied,
        s.chunks_done,
        s.chunks_total,
        s.security_counter,
    ];
    for (i, w) in words.iter().enumerate() {
        o[9 + 4 * i..13 + 4 * i].copy_from_slice(&w.to_be_bytes());
    }
    let (state, reason) = state_code(s.state);
    o[33..38].copy_from_slice(&[
        state,
        reason,
        slot_code(s.active_slot),
        slot_code(s.confirmed_slot),
        s.attempts_left,
    ]);
    for (i, v) in s.slots.iter().enumerate() {
        let at = 38 + 11 * i;
        o[at] = u8::from(v.present);
        for (k, n) in v.version.iter().enumerate() {
            o[at + 1 + 2 * k..at + 3 + 2 * k].copy_from_slice(&n.to_be_bytes());
        }
        o[at + 7..at + 11].copy_from_slice(&v.security_counter.to_be_bytes());
    }
    if let Some(r) = s.last_refusal {
        o[60] = 1;
        o[61] = r.reason.code();
        o[62..66].copy_from_slice(&r.detail.to_be_bytes());
    }
    o[66..74].copy_from_slice(&s.held_ahead.to_be_bytes());
    o
}

/// The status in structure 5 source data, if it is one.
pub fn decode(b: &[u8]) -> Option<UpgradeStatus> {
    if b.len() != LEN || b[0] != SID_UPGRADE {
        return None;
    }
    let w = |at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let h = |at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
    let mut slots = [SlotVersion::default(); 2];
    for (i, v) in slots.iter_mut().enumerate() {
        let at = 38 + 11 * i;
        *v = SlotVersion {
            present: b[at] == 1,
            version: [h(at + 1), h(at + 3), h(at + 5)],
            security_counter: w(at + 7),
        };
    }
    let last_refusal = match b[60] {
        0 => None,
        _ => Some(Refusal {
            reason: UpgradeError::from_code(b[61])?,
            detail: w(62),
        }),
    };
    Some(UpgradeStatus {
        bundle_id: u64::from_be_bytes(b[1..9].try_into().ok()?),
        next_chunk: w(9),
        answers: UpgradeStatus::UNSOLICITED,
        held_ahead: u64::from_be_bytes(b[66..74].try_into().ok()?),
        bytes_received: w(13),
        bytes_copied: w(17),
        chunks_done: w(21),
        chunks_total: w(25),
        security_counter: w(29),
        state: state_of(b[33], b[34])?,
        active_slot: slot_of(b[35])?,
        confirmed_slot: slot_of(b[36])?,
        attempts_left: b[37],
        slots,
        last_refusal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_bytes() {
        let s = UpgradeStatus {
            bundle_id: 0x0102_0304_0506_0708,
            next_chunk: 7,
            answers: UpgradeStatus::UNSOLICITED,
            held_ahead: 0x8000_0000_0000_0005,
            bytes_received: 1 << 20,
            bytes_copied: 3,
            chunks_done: 9,
            chunks_total: 700,
            security_counter: 2,
            state: UpgradeState::Failed {
                reason: UpgradeError::TrialNotConfirmed,
            },
            active_slot: Slot::B,
            confirmed_slot: Slot::A,
            attempts_left: 2,
            slots: [
                SlotVersion {
                    present: true,
                    version: [1, 2, 3],
                    security_counter: 1,
                },
                SlotVersion::default(),
            ],
            last_refusal: Some(Refusal {
                reason: UpgradeError::TrialUnhealthy,
                detail: 0xDEAD_BEEF,
            }),
        };
        let b = encode(&s);
        assert_eq!(decode(&b), Some(s));
        assert_eq!(decode(&b[..LEN - 1]), None);
        for (at, v) in [(0, 4u8), (33, 9), (34, 0), (35, 2), (61, 0)] {
            let mut c = b;
            c[at] = v;
            assert_eq!(decode(&c), None, "byte {at} = {v}");
        }
    }
}
