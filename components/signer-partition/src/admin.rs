//! Registry administration over the `admin-requests`/`admin-responses` channels: one
//! [`protocol::AdminRequest`] in, one [`protocol::AdminResponse`] out.
//!
//! | request | the signer does | outcome |
//! | --- | --- | --- |
//! | `Command { envelope }` | [`Signer::admin_at`]: M-of-N admin signatures, counter, node id, then the new registry on flash, or, for a `time MS` body, the mission clock correlated (its record on flash) | `Applied { counter }` (the registry's admin counter, which a correlation leaves as it was) or `Refused { code }` (`signer::admin::AdminError::code`, 1 to 14) |
//! | `ExportServer { server_id }` | [`Signer::export_server_xpub`] | `Export { export }` or `ExportRefused { code }` |
//! | `ExportAccount { network, script_type, account }` | [`Signer::export_account_xpub`] | `Export { export }` or `ExportRefused { code }` |
//! | `LinkRecoveryChallenge` | [`Signer::link_recovery_challenge`] | `Challenge { challenge }` |
//! | `VerifyLinkRecovery { envelope }` | [`crate::link_recovery`]: checks a `recover-link` envelope and its challenge, changes nothing | `LinkRecoveryVerified` or `Refused { code }` |
//! | `Clock` | reads [`Signer::mission_clock`] and the ledger's mark | `Clock { mission_ms, correlated_ms, mark_ms }` (0: none) |
//!
//! Export refusal codes (this partition's): 1 unknown server, 2 derivation failed, 3 network or
//! script type not one of the documented numbers.
//!
//! The component handles admin requests only while no batch is being signed, so a registry
//! change never lands between the steps of a batch whose certificate was checked against the
//! old registry.
//!
//! Avoids: any state of its own; the signer core authenticates everything.

use core::borrow::BorrowMut;
use hal::flash::NorFlash;
use hal::time::Instant;
use protocol::admin::ArchivedAdminOp;
use protocol::{ADMIN_COMMAND_MAX, AdminOutcome, BoundedBytes, XPUB_EXPORT_LEN};
use signer::descriptor::ScriptType;
use signer::node::{ExportError, Signer};
use signer::registry::Registries;
use signer::wallet::Network;

const _: () = assert!(ADMIN_COMMAND_MAX == signer::admin::MAX_ENVELOPE);
const _: () = assert!(XPUB_EXPORT_LEN == signer::export::EXPORT_LEN);

/// Export refused: no such server.
pub const EXPORT_UNKNOWN_SERVER: u8 = 1;
/// Export refused: the key derivation failed.
pub const EXPORT_DERIVATION: u8 = 2;
/// Export refused: network or script type out of range.
pub const EXPORT_BAD_ARGUMENT: u8 = 3;

fn export_code(e: ExportError) -> u8 {
    match e {
        ExportError::UnknownServer => EXPORT_UNKNOWN_SERVER,
        ExportError::Wallet(_) => EXPORT_DERIVATION,
    }
}

fn network(n: u8) -> Option<Network> {
    match n {
        0 => Some(Network::Mainnet),
        1 => Some(Network::Testnet),
        2 => Some(Network::Regtest),
        _ => None,
    }
}

fn script_type(t: u8) -> Option<ScriptType> {
    match t {
        0 => Some(ScriptType::Wsh),
        1 => Some(ScriptType::ShWsh),
        _ => None,
    }
}

/// Carries out one (validated, archived) admin operation on `signer` at board instant `now`.
pub fn handle<F: NorFlash, M: BorrowMut<Registries>>(
    signer: &mut Signer<F, M>,
    op: &ArchivedAdminOp,
    now: Instant,
) -> AdminOutcome {
    let export = |r: Result<signer::export::XpubExport, ExportError>| match r {
        Ok(x) => AdminOutcome::Export {
            export: BoundedBytes::new(x.as_bytes()).unwrap_or_default(),
        },
        Err(e) => AdminOutcome::ExportRefused {
            code: export_code(e),
        },
    };
    match op {
        ArchivedAdminOp::Command { envelope } => {
            // While the ledger is lost only a recovery is taken (`Signer::admin` says so to
            // anything else).
            let r = match signer.recovery_challenge() {
                Some(_) => signer.recover(envelope.as_slice()).map(drop),
                None => signer.admin_at(envelope.as_slice(), now).map(drop),
            };
            match r {
                Ok(()) => AdminOutcome::Applied {
                    counter: signer.registry().admin_counter(),
                },
                Err(e) => {
                    log::warn!("admin command refused: {e}");
                    AdminOutcome::Refused { code: e.code() }
                }
            }
        }
        ArchivedAdminOp::RecoveryChallenge => match signer.recovery_challenge() {
            Some(challenge) => AdminOutcome::Challenge { challenge },
            None => AdminOutcome::Refused {
                code: signer::admin::AdminError::NotRecovering.code(),
            },
        },
        ArchivedAdminOp::LinkRecoveryChallenge => AdminOutcome::Challenge {
            challenge: signer.link_recovery_challenge(),
        },
        ArchivedAdminOp::VerifyLinkRecovery { envelope } => {
            crate::link_recovery::verify(signer, envelope.as_slice())
        }
        ArchivedAdminOp::ExportServer { server_id } => {
            export(signer.export_server_xpub(server_id.to_native()))
        }
        ArchivedAdminOp::ExportAccount {
            network: n,
            script_type: t,
            account,
        } => match (network(*n), script_type(*t)) {
            (Some(n), Some(t)) => export(signer.export_account_xpub(n, t, account.to_native())),
            _ => AdminOutcome::ExportRefused {
                code: EXPORT_BAD_ARGUMENT,
            },
        },
        ArchivedAdminOp::Clock => {
            let clock = signer.mission_clock();
            AdminOutcome::Clock {
                mission_ms: clock.mission_ms(now).unwrap_or(0),
                correlated_ms: clock.correlated_ms().unwrap_or(0),
                mark_ms: signer.ledger().clock().mark_ms,
            }
        }
    }
}
