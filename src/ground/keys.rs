//! `spacenode ground keys`: the node's SDLS keys from the ground.
//!
//! `keys verify [--target SPI]`: key verification (CCSDS 355.1's challenge/response, TC 130,4):
//! a fresh random 16-byte challenge goes up under `--spi`; the node answers TM\[130,5\] with the
//! association's key epoch and a MAC of the challenge under its key-verification key
//! (`comms::sdls::SecurityEngine::verify_answer`); the ground computes the same with its own
//! copy of the keys and compares. A match proves the node holds the same
//! master key at the same epoch as the ground's provisioning file, without either sending a key.
//!
//! `keys activate --target SPI` / `keys deactivate --target SPI` (TC 130,7 / 130,8, key-management
//! permission, sent under `--spi`): the association's master key goes from pre-activation to
//! active, or from active to deactivated, for good (CCSDS 355.1's key states,
//! `comms::sdls::KeyState`). The node reseals its key record on flash before the change takes
//! effect and refuses: activating a key not in pre-activation, deactivating one not active, and
//! deactivating the key the command came under. Deactivating the telemetry association's key
//! moves unsolicited telemetry to `--spi`. Once the node completed it, the ground's
//! provisioning file is replaced (written beside it, then renamed) by the same key set with the
//! node's new states, so it keeps mirroring the node's sealed record (the ground still sends
//! under any key in it; the node is what refuses). If the file's states already differed from
//! the node's, it is left as it is, with a WARN line.
//!
//! `keys destroy --target SPI` (TC 130,9): a deactivated key becomes destroyed: the node erases
//! its bytes in the resealed record (CCSDS 355.1's "destroyed"); the ground's file follows the
//! same way (the key all zero, state destroyed). Only an OTAR (`keys rekey`) puts a new key there.
//!
//! `keys rekey` (OTAR, 130,6) and `keys rotate` (epoch, 130,1) are in `super::rekey`.
//!
//! Avoids: trusting an answer to another challenge (the echoed challenge must be ours).

use super::session::Session;
use super::{LinkArgs, print_reports, refused, session_failure};
use crate::failure::Failure;
use crate::provision::link::write_new_file;
use clap::{Args, Subcommand};
use comms::failure::FailureCode;
use comms::pus::ST_SECURITY;
use comms::pus::function::VERIFY_REPORT_LEN;
use comms::sdls::KeyState;
use std::path::Path;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Verify that the node holds the same key as our provisioning file for an association
    /// (challenge/response, PUS 130,4); exit 1 if it does not.
    Verify(VerifyArgs),
    /// Activate an association's key that is in pre-activation (PUS 130,7): from then on the
    /// node accepts units under it
    Activate(StateArgs),
    /// Deactivate an association's active key for good (PUS 130,8): from then on the node
    /// refuses units under it. Not the key this command goes under (--spi); if it carries
    /// telemetry, telemetry moves to --spi
    Deactivate(StateArgs),
    /// Destroy an association's deactivated key (PUS 130,9): the node erases its bytes in its
    /// sealed record; only `keys rekey` puts a new key there
    Destroy(StateArgs),
    /// Over-the-air rekeying (PUS 130,6): a fresh key for --target, wrapped under the
    /// key-encryption key of --provisioning, then activated; with --retire OLD, OLD's key is
    /// then deactivated under the new key. The file is replaced only once the node holds the
    /// new key
    Rekey(super::rekey::RekeyArgs),
    /// Rotate an association's key epoch (PUS 130,1): new session keys from the same master
    /// key, on the node and in the ground's state. Sent under another association than
    /// --target
    Rotate(super::rekey::RotateArgs),
}

#[derive(Args)]
pub struct StateArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// The association whose key changes state
    #[arg(long, value_name = "SPI")]
    target: u16,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    link: LinkArgs,
    /// The association whose key to verify (default: --spi, the one the command goes under)
    #[arg(long, value_name = "SPI")]
    target: Option<u16>,
}

pub fn run(c: KeysCommand) -> Result<(), Failure> {
    match c {
        KeysCommand::Verify(a) => verify(a),
        KeysCommand::Activate(a) => set_state(a, KeyState::Active),
        KeysCommand::Deactivate(a) => set_state(a, KeyState::Deactivated),
        KeysCommand::Destroy(a) => set_state(a, KeyState::Destroyed),
        KeysCommand::Rekey(a) => super::rekey::rekey(a),
        KeysCommand::Rotate(a) => super::rekey::rotate(a),
    }
}

fn set_state(args: StateArgs, wanted: KeyState) -> Result<(), Failure> {
    let (link, mut s) = args.link.open()?;
    change_state(&mut s, link.provisioning.as_deref(), args.target, wanted)
}

/// Send 130,7 (`wanted` active), 130,8 (deactivated) or 130,9 (destroyed) for `target` under the session's association; once
/// the node completed it, our engine follows (with the node's rules) and `file`, if any, is
/// replaced by the new key set, so it keeps the node's states and telemetry association.
pub(super) fn change_state(
    s: &mut Session,
    file: Option<&Path>,
    target: u16,
    wanted: KeyState,
) -> Result<(), Failure> {
    let (subtype, verb) = match wanted {
        KeyState::Active => (7, "activate"),
        KeyState::Destroyed => (9, "destroy"),
        _ => (8, "deactivate"),
    };
    let carrier = s.spi();
    let a = s
        .command(ST_SECURITY, subtype, &target.to_be_bytes())
        .map_err(session_failure)?;
    print_reports(&a);
    if let Some(f) = a.failure() {
        return Err(Failure::Rejected(format!(
            "the node refused to {verb} the key of SA {target}: {} (code {:#06x}, data {})\n",
            refusal(f, target),
            f.code.code(),
            f.data
        )));
    }
    println!(
        "SA {target}: key {} (under SA {carrier}); the node sealed the change on its flash \
         before it took effect",
        wanted.name()
    );
    let Some(file) = file else { return Ok(()) };
    match s.follow_key_state(target, wanted, carrier) {
        Ok(keys) => replace_file(file, &keys),
        Err(e) => {
            eprintln!(
                "WARN  {} is unchanged: its copy of the key states differs from the node's \
                 ({e}); the ground still sends under any key in it (the node is what refuses)",
                file.display()
            );
            Ok(())
        }
    }
}

/// Replace `file` by `bytes` (mode 0600): written to `FILE.tmp`, flushed, then renamed over
/// it, so `file` is always either whole old or whole new.
pub(super) fn replace_file(file: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Failure::Usage(format!("{}: {e}", tmp.display())));
        }
        _ => {}
    }
    write_new_file(&tmp, bytes)?;
    std::fs::rename(&tmp, file)
        .map_err(|e| Failure::Usage(format!("{} -> {}: {e}", tmp.display(), file.display())))
}

/// What a key-state refusal means, for the operator.
pub(super) fn refusal(f: comms::failure::Failure, target: u16) -> String {
    let state = |code: u32| KeyState::from_code((code & 3) as u8).map_or("unknown", |s| s.name());
    match f.code {
        FailureCode::KeyStateRefused => format!(
            "its key is {} and cannot become {} (pre-activation -> active -> deactivated -> \
             destroyed, never back)",
            state(f.data >> 8),
            state(f.data)
        ),
        FailureCode::KeyInUse => format!(
            "SA {target} is the association this command came under; send it under another \
             active association with key management (--spi)"
        ),
        FailureCode::UnknownSpi => format!("the node has no SA {target}"),
        FailureCode::Unauthorised => {
            "the association it went under (--spi) lacks key-management permission".to_string()
        }
        FailureCode::PersistFailed => {
            "the node could not write its key record on flash; nothing changed (retry)".to_string()
        }
        other => other.to_string(),
    }
}

fn verify(args: VerifyArgs) -> Result<(), Failure> {
    let (link, mut s) = args.link.open()?;
    let target = args.target.unwrap_or(link.spi);
    let mut challenge = [0u8; 16];
    getrandom::fill(&mut challenge)
        .map_err(|e| Failure::Usage(format!("the operating system's RNG failed: {e}")))?;
    let mut app = [0u8; 18];
    app[..2].copy_from_slice(&target.to_be_bytes());
    app[2..].copy_from_slice(&challenge);
    let a = s.command(ST_SECURITY, 4, &app).map_err(session_failure)?;
    print_reports(&a);
    refused(&a)?;
    let report = a
        .other
        .iter()
        .find(|t| {
            t.service == ST_SECURITY
                && t.subservice == 5
                && t.source.len() == VERIFY_REPORT_LEN
                && t.source[..2] == target.to_be_bytes()
                && t.source[6..22] == challenge
        })
        .ok_or_else(|| {
            Failure::Rejected(format!(
                "the node completed the verification of SA {target} but no key verification \
                 report (TM[130,5]) for our challenge arrived; run it again\n"
            ))
        })?;
    let node_epoch = u32::from_be_bytes([
        report.source[2],
        report.source[3],
        report.source[4],
        report.source[5],
    ]);
    let (our_epoch, ours) = s.security().verify_answer(target, &challenge).map_err(|e| {
        Failure::Usage(format!(
            "SA {target}: {e} in our provisioning file; give the node's file with --provisioning"
        ))
    })?;
    let same_mac = ours[..] == report.source[22..];
    if node_epoch != our_epoch {
        return Err(Failure::Rejected(format!(
            "SA {target}: the node's key epoch is {node_epoch}, ours is {our_epoch}: the keys \
             differ (a rotation one side did not see)\n"
        )));
    }
    if !same_mac {
        return Err(Failure::Rejected(format!(
            "SA {target}: the node's answer does not match our key at epoch {our_epoch}: the \
             node holds another key for this association than our provisioning file\n"
        )));
    }
    println!(
        "SA {target}: the node holds the same key as our provisioning file (epoch {our_epoch}; \
         challenge answered with the right MAC)"
    );
    Ok(())
}
