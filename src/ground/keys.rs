//! `spacenode ground keys`: the node's SDLS keys from the ground.
//!
//! `keys verify [--target SPI]`: key verification (CCSDS 355.1's challenge/response, TC 130,4):
//! a fresh random 16-byte challenge goes up under `--spi`; the node answers TM\[130,5\] with the
//! association's key epoch and a MAC of the challenge under its key-verification key
//! (`comms::sdls::SecurityEngine::verify_answer`); the ground computes the same with its own
//! copy of the keys and compares. A match proves the node holds the same
//! master key at the same epoch as the ground's provisioning file, without either sending a key.
//!
//! Avoids: trusting an answer to another challenge (the echoed challenge must be ours).

use super::{LinkArgs, print_reports, refused, session_failure};
use crate::failure::Failure;
use clap::{Args, Subcommand};
use comms::pus::ST_SECURITY;
use comms::pus::function::VERIFY_REPORT_LEN;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Verify that the node holds the same key as our provisioning file for an association
    /// (challenge/response, PUS 130,4); exit 1 if it does not.
    Verify(VerifyArgs),
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
