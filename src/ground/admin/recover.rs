//! `spacenode ground admin recover`: the M-of-N recovery of a signer whose ledger was lost
//! (`signer::recovery`).
//!
//! 1. reads the signer's challenge of this boot (8,1 function 0x0007; the node answers
//!    `AdminNotRecovering` when its ledger is in order, and nothing is sent then);
//! 2. sends `recover-ledger challenge=.. floor=..` as an admin envelope signed by
//!    the given admin keys ([`super::apply`]: counter, chunks, the signer's answer).
//!
//! A recovery answers one boot's challenge only: a captured one is refused at any later boot
//! (`AdminWrongChallenge`), and an under-signed one as any admin command is.
//!
//! Avoids: choosing the floor for the operator (only the admins know the highest sequence their
//! grounds used).

use super::{Signing, apply};
use crate::failure::Failure;
use crate::ground::session::Session;
use clap::Args;
use comms::admin::{FN_RECOVERY_CHALLENGE, ResponseReport};
use protocol::RECOVERY_CHALLENGE_LEN;

#[derive(Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    signing: Signing,
    /// Every registered server's new last certificate sequence: at or above the highest any of
    /// its grounds ever used (each ground's STATE/server-ID.seq), so no old batch signs again
    #[arg(long, value_name = "N")]
    floor: u64,
}

/// Reads this boot's challenge (the node refuses when its ledger is in order).
fn challenge(s: &mut Session, attempts: u32) -> Result<[u8; RECOVERY_CHALLENGE_LEN], Failure> {
    let app = FN_RECOVERY_CHALLENGE.to_be_bytes();
    match super::ask(s, &app, attempts, "recovery challenge")? {
        ResponseReport::Challenge(c) => Ok(c),
        _ => Err(Failure::Rejected(
            "the node answered the recovery challenge with another kind of report\n".into(),
        )),
    }
}

pub fn run(a: RecoverArgs) -> Result<(), Failure> {
    let identity = super::read_identity(&a.signing.identity)?;
    let keys = a.signing.admins.resolve()?;
    let signers: Vec<(u8, &p256::SecretKey)> = keys.iter().map(|(i, k)| (*i, k)).collect();
    let state = a
        .signing
        .link
        .state
        .clone()
        .unwrap_or_else(crate::ground::default_state_dir);
    let mut s = a.signing.link.session()?;
    let c = challenge(&mut s, a.signing.link.attempts)?;
    println!(
        "the signer's ledger is lost; challenge of this boot {}",
        super::hex(&c)
    );
    let body = format!(
        "recover-ledger challenge={} floor={}",
        super::hex(&c),
        a.floor
    );
    apply(
        &mut s,
        &state,
        &identity,
        &signers,
        &body,
        a.signing.admins.counter,
        &mut |l| println!("{l}"),
    )?;
    println!(
        "ledger recovered: every registered server at certificate sequence {}; the signer signs again (batches need a sequence above it; certificates with an expiry once the node's mission time is correlated again)",
        a.floor
    );
    Ok(())
}
