//! The attack step: what an eavesdropper with a radio but without the keys can do. It records a
//! genuine telecommand on its way up (the CLTU its TC frame went in, or its unit on the units
//! radio) and sends it again (a replay), and it changes one bit of it (a forgery: without the
//! key it cannot make the MAC match; the public checks, FECF and BCH, it mends:
//! [`crate::ground::forge`]). The node answers neither, runs neither, and counts both in its
//! security housekeeping.
//!
//! The radio loses frames, so the step first makes sure the recorded transmission is the one
//! that arrived (it got answered, and FOP-1 sent nothing after it): replaying a transmission the
//! node never saw would only be its first arrival.
//!
//! Avoids: claiming more than was seen: the counters printed are the node's own, read back over
//! the link, and the copies the radio lost are reported as lost.

use crate::failure::Failure;
use crate::ground::session::{Recorded, Session, SessionError, Tm};
use comms::pus::ST_TEST;
use comms::pus::tc::RequestId;
use comms::pus::verification::Report;
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

/// A genuine ping that the node answered, as recorded on the air (the copy the node took).
fn genuine(s: &mut Session) -> Result<Recorded, Failure> {
    for _ in 0..8 {
        let rec = s.send_recorded(ST_TEST, 1, &[]).map_err(session_err)?;
        let rid = rec.request;
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut done = false;
        while Instant::now() < deadline && !done {
            done = answers(s, &[rid], Duration::from_millis(100))?.iter().any(
                |t| matches!(t.verification, Some((r, Report::CompletionSuccess)) if r == rid),
            );
        }
        if done && !s.sent_since(&rec) {
            // Let stragglers (a late 17,2) arrive before anything is replayed.
            answers(s, &[rid], Duration::from_millis(200))?;
            return Ok(rec);
        }
    }
    Err(Failure::Usage(
        "no genuine ping got through at its first transmission in 8 tries: the link is too lossy for this step".into(),
    ))
}

/// Runs the attack step.
pub fn attack(s: &mut Session) -> Result<Attack, Failure> {
    let before = s.security_counters().map_err(session_err)?;
    let recorded = genuine(s)?;
    let rid = recorded.request;
    println!(
        "   a genuine ping (PUS 17,1, {} bytes on the air) was answered; the attacker recorded it",
        recorded.bytes.len()
    );
    for _ in 0..COPIES {
        s.send_raw(&recorded.bytes).map_err(session_err)?;
    }
    let forged = s.forge(&recorded.bytes);
    for _ in 0..COPIES {
        s.send_raw(&forged).map_err(session_err)?;
    }
    // One listening window for both: an answer to either would come within a round trip
    // (about 50 ms on this radio), well inside it.
    let answered = answers(s, &[rid], Duration::from_millis(500))?.len();
    let after = s.security_counters().map_err(session_err)?;
    let out = Attack {
        answered,
        bad_mac: (before.bad_mac, after.bad_mac),
        replayed: (before.replayed, after.replayed),
    };
    println!(
        "   replayed it {COPIES} times, and sent {COPIES} copies of it with one bit under its MAC changed"
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
