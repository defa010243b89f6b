//! The `trial` table of a component (an upgrade agent's trial boot rules): each value in range,
//! and a deadline the soak can meet, reported with its position like every other rule. Avoids
//! any meaning beyond the numbers: which component acts on them is the agent's build's business.

use crate::model::Trial;
use crate::raw::{RawTrial, S};
use crate::validate::Checker;

/// Most attempts boot control accepts (`hal::boot::MAX_TRIAL_ATTEMPTS`).
pub const MAX_ATTEMPTS: i64 = 16;
/// Longest soak or deadline: one hour.
pub const MAX_MS: i64 = 3_600_000;

/// The checked rules; `None` (with diagnostics) when any value is wrong.
pub(crate) fn check(c: &mut Checker<'_>, n: &str, t: &S<RawTrial>) -> Option<Trial> {
    let t = t.get_ref();
    let soak = c.within(
        &t.soak_ms,
        &format!("component `{n}` trial soak-ms"),
        100,
        MAX_MS,
        " ms",
    );
    let attempts = c.within(
        &t.attempts,
        &format!("component `{n}` trial attempts"),
        1,
        MAX_ATTEMPTS,
        "",
    );
    let deadline = c.within(
        &t.deadline_ms,
        &format!("component `{n}` trial deadline-ms"),
        100,
        MAX_MS,
        " ms",
    );
    if let (Some(s), Some(d)) = (soak, deadline)
        && d <= s
    {
        c.err(
            t.deadline_ms.span(),
            format!("component `{n}` trial deadline-ms {d} is not above its soak-ms {s}: no trial image could ever be confirmed"),
            "make deadline-ms larger than soak-ms, with room for the boot (the default is soak 3000, deadline 60000)",
        );
        return None;
    }
    Some(Trial {
        soak_ms: soak? as u32,
        attempts: attempts? as u8,
        deadline_ms: deadline? as u32,
    })
}
