//! Comms' recovery-only mode: the SDLS anti-replay state record was lost (erased, worn out,
//! both copies damaged) while the keys survived.
//!
//! The floors are unknown, so any captured unit could be replayed; refusing everything would
//! leave the node unreachable until re-provisioned. Instead ([`Node::boot_lost`]) every unit is
//! authenticated by its MAC as usual ([`SecurityEngine::authenticate_only`]: SPI, MAC, key
//! state; every association at key epoch 0), with **no** anti-replay floor, and only two
//! functions are taken, both harmless when replayed:
//!
//! 1. 8,1 function 0x0008, read the link-recovery challenge: forwarded to the signer, which
//!    has the random source comms lacks (`signer::link_challenge`: a new seed at every signer
//!    boot, and a new challenge after every recovery it verified); the answer goes down as
//!    TM\[8,128\] kind 4, like the ledger's challenge.
//! 2. admin envelope chunks (8,1 function 0x0003) whose complete envelope is a `recover-link`
//!    (`protocol::link_recovery`) naming every association: the envelope goes to the signer as
//!    `VerifyLinkRecovery`, a verify-only admin operation (M-of-N admin signatures, node,
//!    counter, and the current challenge, which it then uses up; the registry does not
//!    change). Only on its `LinkRecoveryVerified` does comms commit the new record (mirrored,
//!    crash-safe, [`SecurityEngine::restore`]) and then run normally: the completion report
//!    already goes out under the new downlink reservation.
//!
//! Everything else gets 1,2 `LinkRecoveryOnly` (a CFDP packet: refused unanswered, it has no
//! request ID), and the boot event 0x0009 tells the ground why. A replayed challenge read only
//! returns the current challenge; a replayed `recover-link` answers a used challenge
//! (`LinkRecoveryWrongChallenge`); a replayed chunk only refills the staging buffer.
//!
//! In this mode downlink ARSNs restart at 1 under epoch 0: the ground's normal window refuses
//! them, so `spacenode ground admin recover-link` reads them with a ground engine of its own at
//! epoch 0 and floor 0 (its refusals and the challenge are then not replay-protected, which is
//! harmless: a stale challenge only gets the recovery refused).
//!
//! # Key recovery
//!
//! When the sealed **keys** are lost too ([`Node::boot_lost_keys`]), the same mode runs on the
//! recovery association alone (`sdls::key_recovery`: the board's write-once link recovery key),
//! and the `recover-link` must carry `keys=`: a new provisioning file wrapped under that key
//! and bound to the challenge. Comms opens it before forwarding (a wrong key or challenge is
//! refused at once, `KeyRecoveryBadKeys`), checks the `sa=` entries name exactly the new file's
//! associations, and on the signer's verdict commits the floors, then the sealed keys, then
//! answers under the recovery association and then runs on the new keys
//! ([`SecurityEngine::commit_keys`], [`Node::finish_key_recovery`]).
//!
//! Avoids: accepting any other command without a floor; writing anything before the signer's
//! verdict; a challenge comms would have to make up without a random source.

use protocol::link_recovery::{self, RecoverLink};

use super::{Node, NodeConfig, NodeError};
use crate::admin::FN_LINK_RECOVERY_CHALLENGE;
use crate::failure::{Failure, FailureCode};
use crate::pus::event::{self, Event, Severity};
use crate::pus::tc::Telecommand;
use crate::pus::{ST_EVENT, ST_FUNCTION, function};
use crate::router::RouteTable;
use crate::sdls::engine::BootError;
use crate::sdls::key_recovery::{self, MAX_RECOVERED_FILE, MAX_WRAPPED_LEN};
use crate::sdls::{Provisioning, SaState, SecurityEngine, StatePersist};
use zeroize::Zeroize;

const _: () = assert!(MAX_WRAPPED_LEN <= link_recovery::MAX_WRAPPED_KEYS);

use super::{Downlink, Now};

/// Where the admin envelope's body is (`signer::admin`'s layout: magic 4, version 1, node 8,
/// counter 8, body length 2 big-endian, body). The signer checks the rest.
const BODY_LEN_AT: usize = 21;
const BODY_AT: usize = 23;

/// The body of an admin envelope, if the envelope is long enough and the body UTF-8.
fn envelope_body(envelope: &[u8]) -> Option<&str> {
    let len = envelope.get(BODY_LEN_AT..BODY_AT)?;
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    core::str::from_utf8(envelope.get(BODY_AT..BODY_AT.checked_add(len)?)?).ok()
}

/// Key recovery: the link recovery key, and the new key file of the envelope last forwarded.
pub(super) struct KeyMode {
    key: [u8; 32],
    file: [u8; MAX_RECOVERED_FILE],
    len: usize,
    /// The new keys and floors are on flash; the node switches to them once it has answered
    /// under the recovery association ([`Node::finish_key_recovery`]).
    committed: bool,
}

impl core::fmt::Debug for KeyMode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeyMode { .. }")
    }
}

impl Drop for KeyMode {
    fn drop(&mut self) {
        self.key.zeroize();
        self.file.zeroize();
    }
}

impl KeyMode {
    /// Open the wrapped keys of `body` for `challenge`; every association of the new file must
    /// be named by `r`, and `r` must name nothing else.
    fn open(&mut self, body: &str, r: &RecoverLink) -> Result<(), Failure> {
        let mut wrapped = [0u8; MAX_WRAPPED_LEN];
        let opened = link_recovery::wrapped_keys(body, &mut wrapped)
            .ok_or(Failure::new(FailureCode::KeyRecoveryBadKeys))
            .and_then(|n| {
                key_recovery::unwrap(
                    &self.key,
                    &r.challenge,
                    wrapped.get(..n).unwrap_or(&[]),
                    &mut self.file,
                )
                .map_err(|_| Failure::new(FailureCode::KeyRecoveryBadKeys))
            });
        wrapped.zeroize();
        self.len = 0;
        let (len, new) = opened?;
        let bad = |spi: u16| Failure::with(FailureCode::LinkRecoveryBadBody, u32::from(spi));
        if let Some(sa) = new.associations().find(|sa| r.get(sa.spi).is_none()) {
            return Err(bad(sa.spi));
        }
        if let Some(f) = r
            .floors()
            .iter()
            .find(|f| new.associations().all(|sa| sa.spi != f.spi))
        {
            return Err(bad(f.spi));
        }
        self.len = len;
        Ok(())
    }
}

/// The recovery under way.
#[derive(Debug, Default)]
pub(super) struct Recovery {
    /// The `recover-link` sent to the signer and the token of its `admin-request`.
    sent: Option<(u32, RecoverLink)>,
    /// Parsed from the envelope being forwarded, before its token is known.
    expected: Option<RecoverLink>,
    /// The signer, which reads out the challenge and verifies, does not run.
    signer_absent: bool,
    /// The sealed keys are lost too: a key recovery.
    keys: Option<KeyMode>,
}

impl Recovery {
    /// The complete envelope must be a `recover-link` naming every association of `engine`.
    fn expect(&mut self, envelope: &[u8], engine: &SecurityEngine) -> Result<(), Failure> {
        let bad = |spi: u16| Failure::with(FailureCode::LinkRecoveryBadBody, u32::from(spi));
        let body = envelope_body(envelope).ok_or(bad(0))?;
        let r = link_recovery::parse(body).map_err(|_| bad(0))?;
        match self.keys.as_mut() {
            Some(k) if r.keys => {
                k.open(body, &r)?;
                self.expected = Some(r);
                return Ok(());
            }
            Some(_) => return Err(Failure::new(FailureCode::KeyRecoveryBadKeys)),
            None if r.keys => return Err(bad(0)),
            None => {}
        }
        if let Some(s) = engine.statuses().find(|s| r.get(s.spi).is_none()) {
            return Err(bad(s.spi));
        }
        if r.floors().iter().any(|f| engine.status(f.spi).is_none()) {
            return Err(bad(0));
        }
        self.expected = Some(r);
        Ok(())
    }

    /// The envelope went out as request `token` (`None`: it could not be forwarded).
    pub(super) fn sent(&mut self, token: Option<u32>) {
        let r = self.expected.take();
        self.sent = token.zip(r);
    }
}

impl<P: StatePersist> Node<P> {
    /// Start in recovery-only mode (module docs): the SDLS state record of a node that has run
    /// was lost. Writes nothing.
    pub fn boot_lost(
        cfg: NodeConfig,
        provisioning: &Provisioning,
        persist: P,
        routes: RouteTable,
    ) -> Result<Self, NodeError<P::Error>> {
        let engine = SecurityEngine::boot_lost(provisioning, cfg.reserve_block)
            .map_err(|_| NodeError::Security(BootError::Mac))?;
        let mut node = Self::assemble(cfg, engine, persist, routes)?;
        node.recovery = Some(Recovery::default());
        Ok(node)
    }

    /// Start in recovery-only mode on the recovery association (module docs, key recovery):
    /// the sealed keys of a node were lost, and `recovery_key` is the board's link recovery
    /// key. Writes nothing.
    pub fn boot_lost_keys(
        cfg: NodeConfig,
        recovery_key: &[u8; 32],
        persist: P,
        routes: RouteTable,
    ) -> Result<Self, NodeError<P::Error>> {
        let provisioning = key_recovery::recovery_provisioning(recovery_key)
            .map_err(|_| NodeError::Security(BootError::Mac))?;
        let mut node = Self::boot_lost(cfg, &provisioning, persist, routes)?;
        if let Some(r) = node.recovery.as_mut() {
            r.keys = Some(KeyMode {
                key: *recovery_key,
                file: [0; MAX_RECOVERED_FILE],
                len: 0,
                committed: false,
            });
        }
        Ok(node)
    }

    /// Whether comms runs on the recovery association: its sealed keys are lost, not yet
    /// replaced.
    pub fn recovering_keys(&self) -> bool {
        self.recovery.as_ref().is_some_and(|r| r.keys.is_some())
    }

    /// Whether comms runs in recovery-only mode (its SDLS state is lost, not yet recovered).
    pub fn recovering(&self) -> bool {
        self.recovery.is_some()
    }

    /// Event 0x0009 at boot in recovery-only mode: the SDLS state was lost, only the link
    /// recovery is taken.
    pub fn announce_lost(&mut self, now: Now, down: &mut impl Downlink) {
        let ev = Event::new(Severity::High, event::EV_LINK_STATE_LOST, &[]);
        let spi = self.engine.telemetry_spi();
        self.emit(spi, 0, ST_EVENT, ev.severity as u8, ev.source(), now, down);
    }

    /// A complete envelope in recovery-only mode: it must be a `recover-link` naming every
    /// association, and no other one may be awaiting the signer's verdict (one at a time: the
    /// verdict applies the floors of the envelope it answers; an answer that never comes frees
    /// the slot when its command times out, [`super::PENDING_TIMEOUT_S`]).
    pub(super) fn expect_recovery(&mut self, envelope: &[u8]) -> Result<(), Failure> {
        let Some(r) = self.recovery.as_mut() else {
            return Err(Failure::new(FailureCode::LinkNotRecovering));
        };
        let waiting = r.sent.is_some_and(|(token, _)| {
            self.pending
                .iter()
                .flatten()
                .any(|p| p.waiting == super::Waiting::Admin { token })
        });
        if waiting {
            return Err(Failure::new(FailureCode::Busy));
        }
        r.expect(envelope, &self.engine)
    }

    /// Whether the signer runs (a degraded signer does: it still verifies). While it does not,
    /// the link recovery is refused at once (`LinkRecoverySignerDown`) instead of waiting for
    /// an answer that cannot come.
    pub fn set_signer_running(&mut self, running: bool) {
        if let Some(r) = self.recovery.as_mut() {
            r.signer_absent = !running;
        }
    }

    /// In recovery-only mode, whether `tc` is one of the two functions taken (and the signer
    /// runs to answer it).
    pub(super) fn recovery_admits(&self, tc: &Telecommand<'_>) -> Result<(), Failure> {
        if self.recovery.is_none() {
            return Ok(());
        }
        let asked = match function::split(tc.app_data) {
            Ok((f, _)) if tc.service == ST_FUNCTION && tc.subservice == 1 => f,
            _ => u16::from(tc.service) << 8 | u16::from(tc.subservice),
        };
        let admitted = tc.service == ST_FUNCTION
            && tc.subservice == 1
            && (asked == FN_LINK_RECOVERY_CHALLENGE || asked == crate::admin::FN_ADMIN_CHUNK);
        let absent = self.recovery.as_ref().is_some_and(|r| r.signer_absent);
        if admitted && absent {
            Err(Failure::new(FailureCode::LinkRecoverySignerDown))
        } else if admitted {
            Ok(())
        } else {
            Err(Failure::with(
                FailureCode::LinkRecoveryOnly,
                u32::from(asked),
            ))
        }
    }

    /// The signer verified the `recover-link` sent as `token`: commit the new state, then
    /// leave recovery-only mode.
    pub(super) fn link_recovered(&mut self, token: u32) -> Result<(), Failure> {
        let Some((_, r)) = self
            .recovery
            .as_mut()
            .and_then(|x| x.sent.take_if(|(t, _)| *t == token))
        else {
            // Verified, but not the recovery this boot sent last (one at a time:
            // `expect_recovery`; cannot happen through comms): nothing changes.
            return Err(Failure::new(FailureCode::LinkNotRecovering));
        };
        let state = |spi: u16| {
            r.get(spi).map(|f| SaState {
                spi,
                epoch: f.epoch,
                rx_reserved: f.uplink_floor,
                tx_reserved: f.downlink_reserved,
            })
        };
        let block = self.cfg.reserve_block;
        if let Some(k) = self.recovery.as_mut().and_then(|x| x.keys.as_mut()) {
            let file = k.file.get(..k.len).unwrap_or(&[]);
            return match SecurityEngine::commit_keys(file, state, &mut self.persist, block) {
                Ok(()) => {
                    k.committed = true;
                    Ok(())
                }
                Err(_) => Err(Failure::new(FailureCode::PersistFailed)),
            };
        }
        match self.engine.restore(state, &mut self.persist) {
            Ok(()) => {
                self.recovery = None;
                Ok(())
            }
            // Verified but not committed: still recovering; the ground reads a new challenge.
            Err(_) => Err(Failure::new(FailureCode::PersistFailed)),
        }
    }

    /// After the key recovery's completion report went out under the recovery association:
    /// run on the committed keys, booted from the records as a restart would. If that boot
    /// fails the node stays on the recovery association (the next restart boots the records).
    pub(super) fn finish_key_recovery(&mut self) {
        let Some(k) = self
            .recovery
            .as_ref()
            .and_then(|x| x.keys.as_ref())
            .filter(|k| k.committed)
        else {
            return;
        };
        let Ok(provisioning) = Provisioning::parse(k.file.get(..k.len).unwrap_or(&[])) else {
            return;
        };
        if let Ok(engine) =
            SecurityEngine::boot(&provisioning, &mut self.persist, self.cfg.reserve_block)
        {
            self.engine = engine;
            self.recovery = None;
        }
    }

    /// The signer refused the `recover-link` sent as `token`: its code in comms' words
    /// (`None`: not a link recovery, the admin code as it is).
    pub(super) fn link_refused(&mut self, token: u32, code: u8) -> Option<Failure> {
        let r = self.recovery.as_mut()?;
        r.sent.take_if(|(t, _)| *t == token)?;
        let f = FailureCode::from_admin_refusal(code);
        Some(if f.code == FailureCode::AdminWrongChallenge {
            Failure::new(FailureCode::LinkRecoveryWrongChallenge)
        } else {
            f
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_read_where_the_signer_puts_it() {
        let body = b"recover-link x";
        let mut env = [0u8; 23 + 14 + 1];
        env[..4].copy_from_slice(b"SNAD");
        env[21..23].copy_from_slice(&(body.len() as u16).to_be_bytes());
        env[23..37].copy_from_slice(body);
        assert_eq!(envelope_body(&env), Some("recover-link x"));
        assert_eq!(envelope_body(&env[..30]), None);
        assert_eq!(envelope_body(&[0; 10]), None);
    }
}
