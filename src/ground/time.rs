//! `spacenode ground time`: a time correlation from the ground's UTC clock to the node's
//! mission clock (`signer::clock`).
//!
//! It is an admin command (`signer::admin`, body `time MS`) signed by the admins' threshold,
//! because the mission clock only moves forward: a forged correlation far in the future would
//! expire every certificate for good, so the signer checks it against its own admin keys, not
//! only the link's SDLS keys. The node refuses a correlation not above its last one (a replay)
//! or below its own mission time (its clock never runs backwards). Run it after provisioning and
//! after every reset of the node: a reset loses the time since the clock's last flash write
//! (at most ten minutes) plus the reset's downtime.
//!
//! `spacenode ground status` asks the signer for its clock (TC 8,1 function 0x0006, answered in
//! TM\[8,128\], [`node_clock_line`]) and shows the last correlation each node accepted from this
//! ground, which it keeps in `STATE/time-<node id>`.
//!
//! Avoids: sending a time this ground cannot read from its own clock.

use super::admin::{self, Signing};
use super::expiry::ground_now_ms;
use super::session::Session;
use crate::failure::Failure;
use clap::Args;
use comms::admin::{FN_CLOCK, ResponseReport, TM_ADMIN_RESPONSE};
use comms::pus::ST_FUNCTION;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct TimeArgs {
    #[command(flatten)]
    signing: Signing,
    /// Correlate to this mission time, ms since 1970-01-01 UTC [default: the ground's clock now]
    #[arg(long, value_name = "MS")]
    at_ms: Option<u64>,
}

/// The file holding the last correlation `node` accepted from this ground.
fn record_path(state: &Path, node: &[u8; 8]) -> PathBuf {
    state.join(format!("time-{}", admin::hex(node)))
}

/// Every correlation this ground recorded in `state`: (node id hex, mission ms).
pub fn recorded(state: &Path) -> Vec<(String, u64)> {
    let Ok(dir) = std::fs::read_dir(state) else {
        return Vec::new();
    };
    let mut out: Vec<(String, u64)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let node = name.strip_prefix("time-")?.to_string();
            let ms = std::fs::read_to_string(e.path())
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some((node, ms))
        })
        .collect();
    out.sort();
    out
}

/// The node's mission clock, as its signer reports it (one line of `spacenode ground status`).
pub fn node_clock_line(s: &mut Session, now_ms: Option<u64>) -> String {
    let ans = match s.command(ST_FUNCTION, 1, &FN_CLOCK.to_be_bytes()) {
        Ok(a) => a,
        Err(e) => return format!("mission time: not read ({e})\n"),
    };
    if let Some(f) = ans.failure() {
        return format!(
            "mission time: the node did not report it ({:?}, code {:#06x})\n",
            f.code,
            f.code.code()
        );
    }
    let clock = ans
        .other
        .iter()
        .filter(|t| t.service == ST_FUNCTION && t.subservice == TM_ADMIN_RESPONSE)
        .filter_map(|t| comms::admin::decode_response(&t.source))
        .find_map(|(_, r)| match r {
            ResponseReport::Clock {
                mission_ms,
                correlated_ms,
                mark_ms,
            } => Some((mission_ms, correlated_ms, mark_ms)),
            _ => None,
        });
    clock_line(clock, now_ms)
}

/// The line for a clock report (`None`: lost on the downlink).
fn clock_line(clock: Option<(u64, u64, u64)>, now_ms: Option<u64>) -> String {
    match clock {
        None => "mission time: the report was lost on the downlink (run status again)\n".into(),
        Some((0, _, _)) => "mission time: NOT SET: the ground has never correlated this node; it refuses certificates that expire until `spacenode ground time`\n".into(),
        Some((mission, correlated, mark)) => {
            let offset = now_ms.map_or(String::new(), |n| {
                let d = i128::from(mission) - i128::from(n);
                format!(" ({:+}.{:03} s from the ground's clock)", d / 1000, (d % 1000).abs())
            });
            format!(
                "mission time: {}{offset}; last correlation {}, flash mark {}\n",
                utc(mission),
                utc(correlated),
                utc(mark)
            )
        }
    }
}

/// The `time` lines of `spacenode ground status`: this ground's record of the last correlation
/// each node accepted from it.
pub fn status_lines(state: &Path, now_ms: Option<u64>) -> String {
    let records = recorded(state);
    if records.is_empty() {
        return "time: this ground has sent no time correlation (`spacenode ground time`); a node never correlated refuses certificates that expire\n".into();
    }
    let mut out = String::new();
    for (node, ms) in records {
        let ago = now_ms
            .and_then(|n| n.checked_sub(ms))
            .map_or(String::new(), |d| format!(", {} s ago", d / 1000));
        out += &format!(
            "time: node {node} accepted this ground's correlation to {} ({ms} ms{ago}); its mission time runs on from there, and after a reset of the node resumes behind it: correlate again\n",
            utc(ms)
        );
    }
    out
}

/// `ms` since the Unix epoch as UTC, `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn utc(ms: u64) -> String {
    let (secs, milli) = (ms / 1000, ms % 1000);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm, proleptic Gregorian).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn run(a: TimeArgs) -> Result<(), Failure> {
    let identity = admin::read_identity(a.signing.identity())?;
    let node = signer::admin::node_id(&identity);
    let state = a.signing.state_dir();
    let ms = match a.at_ms {
        Some(ms) => ms,
        None => ground_now_ms()?,
    };
    if ms == 0 {
        return Err(Failure::Usage(
            "--at-ms 0: a correlation is a time after 1970".into(),
        ));
    }
    println!("time correlation: {ms} ms ({})", utc(ms));
    admin::send(a.signing, &format!("time {ms}"), Vec::new())?;
    let path = record_path(&state, &node);
    std::fs::create_dir_all(&state)
        .and_then(|()| std::fs::write(&path, format!("{ms}\n")))
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    println!(
        "applied: the node's mission time is now {ms} ms ({})",
        utc(ms)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_shows_each_recorded_correlation_or_says_there_is_none() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(status_lines(dir.path(), None).contains("has sent no time correlation"));
        std::fs::write(record_path(dir.path(), &[0xab; 8]), "1790000000000\n").expect("write");
        let lines = status_lines(dir.path(), Some(1_790_000_005_000));
        assert!(
            lines.contains("node abababababababab accepted this ground's correlation to 2026-09-21T14:13:20.000Z (1790000000000 ms, 5 s ago)"),
            "{lines}"
        );
    }

    #[test]
    fn clock_lines_say_what_the_node_reported() {
        assert!(clock_line(None, None).contains("lost on the downlink"));
        assert!(clock_line(Some((0, 0, 5)), None).contains("NOT SET"));
        assert_eq!(
            clock_line(
                Some((1_790_000_000_500, 1_790_000_000_000, 1_790_000_000_000)),
                Some(1_790_000_001_750)
            ),
            "mission time: 2026-09-21T14:13:20.500Z (-1.250 s from the ground's clock); last correlation 2026-09-21T14:13:20.000Z, flash mark 2026-09-21T14:13:20.000Z\n"
        );
    }

    #[test]
    fn utc_matches_known_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        // Checked with GNU `date -u -d @1790000000` and `@951782400`.
        assert_eq!(utc(1_790_000_000_123), "2026-09-21T14:13:20.123Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
