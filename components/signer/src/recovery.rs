//! Recovery of a lost ledger: the one piece of lost signer state the admins can restore.
//!
//! A ledger found blank next to a registry was lost (erased, worn out; [`crate::node`]). Booted
//! with [`crate::node::Signer::boot_recovering`], the signer then refuses every batch (the
//! certificate sequence floors are unknown: old batches would sign again) and draws a
//! **challenge** of [`CHALLENGE_LEN`] random bytes, new at every boot, which the ground reads
//! ([`crate::node::Signer::recovery_challenge`], over the admin channel). The admins answer with
//! an ordinary admin envelope ([`crate::admin`]: node id, counter above the registry's, M-of-N
//! signatures of the registry's admin set) whose body is one line:
//!
//! ```text
//! recover-ledger challenge=<32 hex digits> floor=<N>
//! ```
//!
//! - `challenge` must be this boot's: a recovery captured at an earlier boot never replays;
//! - `floor`: every registered server's last certificate sequence becomes `N` (the admins take
//!   it above anything their grounds ever used), so no batch at or below it signs again;
//!
//! The mission clock's record went with the ledger: the node has no mission time until the
//! ground correlates it again (an admin time correlation, [`crate::clock`]), and refuses
//! certificates with an expiry until then, as a node never correlated does.
//!
//! The new ledger is written (mirrored) before the signer signs again. The envelope's counter
//! is checked like every admin command's but not consumed (the registry is not rewritten), so
//! the admins' next command may use the same counter. Velocity windows start empty: the
//! amounts signed before the loss are not known any more (say so to the operators; a policy
//! change can tighten the limits meanwhile).
//!
//! What cannot be recovered this way, and why: a lost **registry** holds the admin keys
//! themselves, so there is nothing to check M-of-N against (re-provision the node); lost
//! **keys** are the node's wallet and identity keys (a new seed is a new node: new wallets).
//!
//! Avoids: any change to the registry, and any state outside the ledger record.

use crate::admin::{self, AdminError};
use crate::ledger::{Ledger, ServerState};

/// Length of the per-boot challenge.
pub const CHALLENGE_LEN: usize = 16;

/// The first word of a recovery body.
pub const RECOVER_LEDGER: &str = "recover-ledger";

/// A parsed recovery body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoverLedger {
    /// The boot's challenge it answers.
    pub challenge: [u8; CHALLENGE_LEN],
    /// New last sequence of every registered server.
    pub floor: u64,
}

/// Whether an admin body is a recovery command (its first non-comment line).
pub fn is_recovery(body: &str) -> bool {
    body.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.split_whitespace().next() == Some(RECOVER_LEDGER))
}

/// Parses `recover-ledger challenge=.. floor=..` (each field once, nothing else).
pub fn parse(body: &str) -> Result<RecoverLedger, AdminError> {
    let bad = AdminError::Malformed;
    let mut lines = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines.next().ok_or(bad)?;
    if lines.next().is_some() {
        return Err(bad);
    }
    let mut words = line.split_whitespace();
    if words.next() != Some(RECOVER_LEDGER) {
        return Err(bad);
    }
    let (mut challenge, mut floor) = (None, None);
    for w in words {
        let (k, v) = w.split_once('=').ok_or(bad)?;
        let slot_taken = match k {
            "challenge" => {
                let c = crate::hexfmt::decode_array::<CHALLENGE_LEN>(v).ok_or(bad)?;
                challenge.replace(c).is_some()
            }
            "floor" => floor.replace(number(v)?).is_some(),
            _ => return Err(bad),
        };
        if slot_taken {
            return Err(bad);
        }
    }
    Ok(RecoverLedger {
        challenge: challenge.ok_or(bad)?,
        floor: floor.ok_or(bad)?,
    })
}

fn number(v: &str) -> Result<u64, AdminError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AdminError::Malformed);
    }
    v.parse().map_err(|_| AdminError::Malformed)
}

/// The ledger a recovery makes: every server in `servers` at `floor`, no clock record.
pub fn ledger(r: &RecoverLedger, servers: impl Iterator<Item = u32>) -> Result<Ledger, AdminError> {
    let mut next = Ledger::new();
    for id in servers {
        next = next
            .with(
                ServerState {
                    id,
                    last_sequence: Some(r.floor),
                    last_digest: [0; 32],
                    windows: Default::default(),
                },
                Default::default(),
            )
            .map_err(|_| AdminError::TooLarge)?;
    }
    Ok(next)
}

/// Checks a recovery envelope: signatures, node and counter as every admin command
/// ([`admin::authenticate`]), then its body and this boot's `challenge`.
pub fn check(
    bytes: &[u8],
    registry: &crate::registry::Registry,
    identity: &[u8; 33],
    challenge: &[u8; CHALLENGE_LEN],
) -> Result<RecoverLedger, AdminError> {
    let env = admin::authenticate(bytes, registry, None, identity)?;
    let r = parse(env.body)?;
    if &r.challenge != challenge {
        return Err(AdminError::WrongChallenge);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;
    use std::string::ToString;

    #[test]
    fn bodies_parse_exactly() {
        let c = "00112233445566778899aabbccddeeff";
        let r = parse(&format!("recover-ledger challenge={c} floor=40\n")).unwrap();
        assert_eq!((r.floor, r.challenge[15]), (40, 0xff));
        assert!(is_recovery("# why\nrecover-ledger floor=1"));
        assert!(!is_recovery("revoke id=1"));
        for bad in [
            format!("recover-ledger challenge={c}"),
            format!("recover-ledger challenge={c} floor=40 extra=1"),
            format!("recover-ledger challenge={c} floor=40 floor=41"),
            format!("recover-ledger challenge={c} floor=+40"),
            "recover-ledger challenge=00 floor=40".to_string(),
            format!("recover-ledger challenge={c} floor=40\nrevoke id=1"),
            "revoke id=1".to_string(),
        ] {
            assert_eq!(parse(&bad), Err(AdminError::Malformed), "{bad}");
        }
    }

    #[test]
    fn the_ledger_puts_every_server_at_the_floor() {
        let r = RecoverLedger {
            challenge: [0; CHALLENGE_LEN],
            floor: 99,
        };
        let l = ledger(&r, [3u32, 9].into_iter()).unwrap();
        assert_eq!(l.server(9).and_then(|s| s.last_sequence), Some(99));
        assert_eq!(l.servers().len(), 2);
    }
}
