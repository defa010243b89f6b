//! The signer's verify-only half of a comms link recovery (`protocol::link_recovery`): comms,
//! whose SDLS anti-replay state was lost, asks the signer to read the current challenge and to
//! check a `recover-link` admin envelope; it writes its new state only on
//! [`AdminOutcome::LinkRecoveryVerified`].
//!
//! The envelope is checked as every admin command ([`Signer::authenticate_admin`]: node id,
//! counter above the registry's, M-of-N signatures of the registry's admin set), then its body
//! must parse as a `recover-link` and carry the current challenge, which is then used up.
//! Nothing else changes: the registry and its counter stay as they are (the admins' next
//! command may use the same counter), so a verification can be asked for while the ledger is
//! lost too.
//!
//! Avoids: applying anything (comms owns the SDLS state) and any state of its own.

use core::borrow::BorrowMut;
use hal::flash::NorFlash;
use protocol::AdminOutcome;
use protocol::link_recovery;
use signer::admin::AdminError;
use signer::node::Signer;
use signer::registry::Registries;

/// The outcome of `VerifyLinkRecovery { envelope }`.
pub fn verify<F: NorFlash, M: BorrowMut<Registries>>(
    signer: &mut Signer<F, M>,
    envelope: &[u8],
) -> AdminOutcome {
    match check(signer, envelope) {
        Ok(()) => {
            log::info!("recover-link verified: comms may restore its SDLS state");
            AdminOutcome::LinkRecoveryVerified
        }
        Err(e) => {
            log::warn!("recover-link refused: {e}");
            AdminOutcome::Refused { code: e.code() }
        }
    }
}

fn check<F: NorFlash, M: BorrowMut<Registries>>(
    signer: &mut Signer<F, M>,
    envelope: &[u8],
) -> Result<(), AdminError> {
    let body = signer.authenticate_admin(envelope)?;
    let r = link_recovery::parse(body).map_err(|_| AdminError::Malformed)?;
    if r.challenge != signer.link_recovery_challenge() {
        return Err(AdminError::WrongChallenge);
    }
    signer.link_recovery_used();
    Ok(())
}
