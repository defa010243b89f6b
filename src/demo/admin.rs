//! The registry step: the signer's registry changes only by admin commands signed by M of its N
//! admin keys, sent over the same authenticated link. One signature is refused with the
//! signer's reason; two of three revoke ground server 1; the server's next batch, with a valid
//! certificate, is refused as revoked.
//!
//! Avoids: touching the node's flash: the change and its effect are both seen over the link.

use super::cosign;
use super::story::{Ground, SERVER_ID};
use crate::failure::Failure;
use crate::ground::admin;
use crate::ground::session::Session;
use std::path::Path;

/// Sets the node's mission clock from the ground's UTC clock (`spacenode ground time`, signed
/// by two of the three admins): without it the node refuses every certificate that expires.
/// Returns the summary line.
pub fn correlate(ground: &Ground, s: &mut Session, ground_state: &Path) -> Result<String, Failure> {
    let now = crate::ground::expiry::ground_now_ms()?;
    let [a0, a1, _] = &ground.admins;
    let mut log = |l: String| println!("   {l}");
    println!(
        "   mission time: admins 0 and 1 correlate the node's clock to the ground's, {}",
        crate::ground::time::utc(now)
    );
    admin::apply(
        s,
        ground_state,
        &ground.identity,
        &[(0, a0), (1, a1)],
        &format!("time {now}"),
        None,
        &mut log,
    )?;
    println!("   -> applied: certificates now expire on mission time (one hour from signing)");
    Ok("mission time correlated from the ground's clock (2 of 3 admins)".into())
}

/// Runs the step; returns its summary line.
pub fn revoke(
    ground: &Ground,
    s: &mut Session,
    ground_state: &Path,
    rate_bps: u64,
) -> Result<String, Failure> {
    let body = format!("revoke id={SERVER_ID}");
    let [a0, _, a2] = &ground.admins;
    let mut log = |l: String| println!("   {l}");
    println!("   with admin 0's signature only:");
    let alone = match admin::apply(
        s,
        ground_state,
        &ground.identity,
        &[(0, a0)],
        &body,
        None,
        &mut log,
    ) {
        Ok(_) => {
            return Err(Failure::Usage(
                "the signer applied a revoke signed by one admin of a 2-of-3 registry".into(),
            ));
        }
        Err(Failure::Rejected(why) | Failure::Usage(why)) => why.trim().to_string(),
    };
    println!("   -> refused: {alone}");
    println!("   with admins 0 and 2:");
    let counter = admin::apply(
        s,
        ground_state,
        &ground.identity,
        &[(0, a0), (2, a2)],
        &body,
        None,
        &mut log,
    )?;
    match counter {
        Some(c) => println!("   -> applied: the registry is at admin counter {c}"),
        None => println!("   -> applied (the counter report was lost on the downlink)"),
    }
    println!("   server {SERVER_ID} sends a batch with a valid certificate:");
    let why = cosign::refused(
        ground,
        s,
        ground_state,
        &[(1_000_000, 100_000)],
        30,
        rate_bps,
    )?;
    println!("   -> {why}");
    if !why.contains("revoked") {
        return Err(Failure::Usage(format!(
            "the revoked server's batch was refused for another reason: {why}"
        )));
    }
    Ok(format!(
        "registry: 1 admin signature refused, 2 of 3 revoked server {SERVER_ID}, its next batch refused as revoked"
    ))
}
