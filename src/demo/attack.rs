//! The attack step: what an eavesdropper with a radio but without the keys can do. It records a
//! genuine telecommand unit on its way up and sends it again (a replay), and it changes one bit
//! of another one (a forgery: without the key it cannot make the MAC match). The node answers
//! neither, runs neither, and counts both in its security housekeeping.
//!
//! The radio loses frames, so the step first makes sure the genuine unit arrived (it got
//! answered): replaying a unit the node never saw would only be its first arrival.
//!
//! Avoids: claiming more than was seen: the counters printed are the node's own, read back over
//! the link, and the copies the radio lost are reported as lost.

use crate::failure::Failure;
use crate::ground::session::{Session, SessionError, Tm};
use comms::pus::ST_TEST;
use comms::pus::tc::RequestId;
use comms::pus::verification::Report;
use comms::sdls::engine::HEADER_LEN;
use std::time::{Duration, Instant};

/// Copies of each bad unit the attacker sends.
pub const COPIES: u32 = 5;

/// What the attack step saw.
pub struct Attack {
    /// Reports or replies the node sent for the bad units (must be 0).
    pub answered: usize,
    /// The node's bad-MAC counter before and after.
    pub bad_mac: (u32, u32),
    /// The node's replay counter before and after.
    pub replayed: (u32, u32),
}

fn session_err(e: SessionError) -> Failure {
    Failure::Usage(e.to_string())
}

/// Everything for `rids` (verification reports) plus 17,2 replies arriving within `wait`.
fn answers(s: &mut Session, rids: &[RequestId], wait: Duration) -> Result<Vec<Tm>, Failure> {
    Ok(s.collect(wait)
        .map_err(session_err)?
        .into_iter()
        .filter(|t| {
            t.verification
                .as_ref()
                .is_some_and(|(r, _)| rids.contains(r))
                || t.service == ST_TEST
        })
        .collect())
}

/// A genuine ping that the node answered: its unit and request ID.
fn genuine(s: &mut Session) -> Result<(Vec<u8>, RequestId), Failure> {
    for _ in 0..8 {
        let (unit, rid) = s.build_unit(ST_TEST, 1, &[]).map_err(session_err)?;
        s.send_unit(&unit).map_err(session_err)?;
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut done = false;
        while Instant::now() < deadline && !done {
            done = answers(s, &[rid], Duration::from_millis(100))?.iter().any(
                |t| matches!(t.verification, Some((r, Report::CompletionSuccess)) if r == rid),
            );
        }
        if done {
            // Let stragglers (a late 17,2) arrive before anything is replayed.
            answers(s, &[rid], Duration::from_millis(200))?;
            return Ok((unit, rid));
        }
    }
    Err(Failure::Usage(
        "no genuine ping got through in 8 tries: the link is too lossy for this step".into(),
    ))
}

/// Runs the attack step.
pub fn attack(s: &mut Session) -> Result<Attack, Failure> {
    let before = s.security_counters().map_err(session_err)?;
    let (recorded, rid) = genuine(s)?;
    println!(
        "   a genuine ping (PUS 17,1, {} bytes on the air) was answered; the attacker recorded it",
        recorded.len()
    );
    for _ in 0..COPIES {
        s.send_unit(&recorded).map_err(session_err)?;
    }
    let (mut forged, frid) = s.build_unit(ST_TEST, 1, &[]).map_err(session_err)?;
    // The PUS-C service type is the second byte of the TC's secondary header, after the SDLS
    // security header and the 6-byte space packet header: 17 (test) becomes 19.
    let service_at = HEADER_LEN + 6 + 1;
    if let Some(b) = forged.get_mut(service_at) {
        *b ^= 0x02;
    }
    for _ in 0..COPIES {
        s.send_unit(&forged).map_err(session_err)?;
    }
    // One listening window for both: an answer to either would come within a round trip
    // (about 50 ms on this radio), well inside it.
    let answered = answers(s, &[rid, frid], Duration::from_millis(500))?.len();
    let after = s.security_counters().map_err(session_err)?;
    let out = Attack {
        answered,
        bad_mac: (before.bad_mac, after.bad_mac),
        replayed: (before.replayed, after.replayed),
    };
    println!(
        "   replayed it {COPIES} times, and sent {COPIES} copies of another with one bit of the command changed"
    );
    println!(
        "   -> answers from the node: {answered}; its counters: replayed {} -> {}, bad MAC {} -> {} (copies the radio lost never arrived)",
        out.replayed.0, out.replayed.1, out.bad_mac.0, out.bad_mac.1
    );
    if answered != 0 {
        return Err(Failure::Usage(format!(
            "the node answered {answered} forged or replayed units"
        )));
    }
    if out.replayed.1 <= out.replayed.0 || out.bad_mac.1 <= out.bad_mac.0 {
        return Err(Failure::Usage(
            "the node's counters did not move: none of the bad units arrived".into(),
        ));
    }
    Ok(out)
}
