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
//! A reading of the ground's clock can reach the signer below the node's own clock, which runs
//! on from the last correlation: when the uplink took longer than it did for that correlation
//! (a lost unit retried after the attempt timeout). The node refuses it as backwards; `time`
//! then reads its clock again and sends a new envelope, at most three readings in all
//! ([`correlate`]). A time given with `--at-ms` is sent once.
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
use comms::failure::FailureCode;
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
            "mission time: the node did not report it ({}, code {:#06x})\n",
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

/// Readings of the ground's clock `ground time` sends at most (without `--at-ms`): see
/// [`correlate`].
const READINGS: u32 = 3;

pub fn run(a: TimeArgs) -> Result<(), Failure> {
    let identity = admin::read_identity(a.signing.identity())?;
    let node = signer::admin::node_id(&identity);
    let state = a.signing.state_dir();
    if a.at_ms == Some(0) {
        return Err(Failure::Usage(
            "--at-ms 0: a correlation is a time after 1970".into(),
        ));
    }
    let mut up = admin::Uplink::open(a.signing, Vec::new())?;
    let ms = correlate(
        a.at_ms,
        ground_now_ms,
        |ms| {
            println!("time correlation: {ms} ms ({})", utc(ms));
            up.send(&format!("time {ms}"))
        },
        &mut |l| println!("{l}"),
    )?;
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

/// Sends the correlation `at_ms`, or a reading of the ground's clock (`now`), through `send`;
/// the correlation the node applied.
///
/// A reading is stale by the time the signer judges it: by the uplink's delay, and by a whole
/// attempt timeout when the session retries after a lost unit. The node's clock runs on
/// meanwhile from its last correlation (or its resumed mark after a reset), which lags true time
/// only by that correlation's own delay (plus the reset's lag): a reading delayed longer is
/// below it and refused as backwards (`AdminTimeBackwards`), although the ground's clock is
/// right. A refusal changes nothing on the node, so a reading refused as backwards is followed
/// by a fresh one (a new envelope), at most [`READINGS`] in all; a node whose clock is really
/// ahead of the ground's still refuses them all, and the last refusal is the error. A time the
/// operator gave (`--at-ms`) is sent once, as given.
fn correlate(
    at_ms: Option<u64>,
    mut now: impl FnMut() -> Result<u64, Failure>,
    mut send: impl FnMut(u64) -> Result<admin::Verdict, Failure>,
    out: &mut dyn FnMut(String),
) -> Result<u64, Failure> {
    let readings = if at_ms.is_some() { 1 } else { READINGS };
    let mut reading = 1;
    loop {
        let ms = match at_ms {
            Some(ms) => ms,
            None => now()?,
        };
        match send(ms)? {
            admin::Verdict::Applied(_) => return Ok(ms),
            admin::Verdict::Refused(f)
                if f.code == FailureCode::AdminTimeBackwards && reading < readings =>
            {
                out(format!(
                    "the node's clock had passed that reading when the command reached it (code {:#06x}; a slow or retried uplink): reading the ground's clock again",
                    f.code.code()
                ));
                reading += 1;
            }
            admin::Verdict::Refused(f) => return Err(admin::refused(f, "admin command")),
        }
    }
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

    /// The signer's own clock ([`signer::clock::MissionClock`]) judging each correlation
    /// `delay_ms` after the ground read it, correlated before with a delay of 200 ms: the
    /// verdict its admin command would give (`AdminError::code`, as comms reports it).
    struct Node {
        clock: signer::clock::MissionClock,
        delays_ms: Vec<u64>,
        judged: Vec<u64>,
    }

    /// True time (ms since 1970) at board power-on.
    const BOOT_MS: u64 = 1_790_000_000_000;

    impl Node {
        fn new(delays_ms: &[u64]) -> Self {
            let at = |ms: u64| hal::time::Instant::from_micros((ms - BOOT_MS) * 1000);
            let first = BOOT_MS + 5_000;
            let clock = signer::clock::MissionClock::resume(Default::default(), at(first))
                .correlated(first, at(first + 200))
                .expect("first correlation");
            Node {
                clock,
                delays_ms: delays_ms.iter().rev().copied().collect(),
                judged: Vec::new(),
            }
        }

        fn judge(&mut self, reading: u64) -> admin::Verdict {
            let delay = self.delays_ms.pop().expect("no more sends expected");
            let at = hal::time::Instant::from_micros((reading + delay - BOOT_MS) * 1000);
            self.judged.push(reading);
            match self.clock.correlated(reading, at) {
                Ok(c) => {
                    self.clock = c;
                    admin::Verdict::Applied(None)
                }
                Err(e) => admin::Verdict::Refused(FailureCode::from_admin_refusal(
                    signer::admin::AdminError::Time(e).code(),
                )),
            }
        }
    }

    /// The ground's clock, read at 10 s after the first correlation and 1.5 s later each time.
    fn ground_clock() -> impl FnMut() -> Result<u64, Failure> {
        let mut t = BOOT_MS + 15_000;
        move || {
            t += 1_500;
            Ok(t)
        }
    }

    #[test]
    fn a_reading_that_arrives_late_is_followed_by_a_fresh_one_and_a_given_time_is_sent_once() {
        // The first command is retried after a 1 s attempt timeout (1,300 ms late, more than
        // the 200 ms of the last correlation): the node's clock passed the reading.
        let mut node = Node::new(&[1_300, 150]);
        let mut lines = Vec::new();
        let ms = correlate(None, ground_clock(), |ms| Ok(node.judge(ms)), &mut |l| {
            lines.push(l)
        })
        .expect("the fresh reading is applied");
        assert_eq!(node.judged, vec![BOOT_MS + 16_500, BOOT_MS + 18_000]);
        assert_eq!(ms, BOOT_MS + 18_000);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("code 0x130e"), "{}", lines[0]);

        // A time the operator gave is sent once: the refusal is the answer.
        let mut node = Node::new(&[1_300]);
        let given = BOOT_MS + 16_500;
        let e = correlate(
            Some(given),
            ground_clock(),
            |ms| Ok(node.judge(ms)),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(
            matches!(&e, Failure::Rejected(t) if t.contains("(code 0x130e")),
            "{e:?}"
        );
        assert_eq!(node.judged, vec![given]);

        // A replay is not retried, and a node that keeps refusing is asked READINGS times.
        let mut node = Node::new(&[100]);
        let e = correlate(
            Some(BOOT_MS + 5_000),
            ground_clock(),
            |ms| Ok(node.judge(ms)),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(
            matches!(&e, Failure::Rejected(t) if t.contains("(code 0x130d")),
            "{e:?}"
        );
        let mut node = Node::new(&[2_000, 2_000, 2_000]);
        let e = correlate(None, ground_clock(), |ms| Ok(node.judge(ms)), &mut |_| {}).unwrap_err();
        assert!(
            matches!(&e, Failure::Rejected(t) if t.contains("(code 0x130e")),
            "{e:?}"
        );
        assert_eq!(node.judged.len(), READINGS as usize);
    }

    #[test]
    fn utc_matches_known_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        // Checked with GNU `date -u -d @1790000000` and `@951782400`.
        assert_eq!(utc(1_790_000_000_123), "2026-09-21T14:13:20.123Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
