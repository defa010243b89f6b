//! How the image tells the boot stage why its power cycle ended: one line on a pipe the boot
//! stage hands it (`--report-fd`), read after the image exits.
//!
//! | line | meaning |
//! | --- | --- |
//! | `stopped` | the node was stopped (Ctrl-C, SIGTERM): the boot stage exits too |
//! | `reset reboot REQUESTER REASON ID` | a component's reboot request (`REASON` as `RebootReason`'s name) |
//! | `reset hw-watchdog MS` | the hardware watchdog expired `MS` ms after power-on |
//!
//! No line (the image crashed, exited at once, or is not a `spacenode` at all) is, for the boot
//! stage, what a dead image is on hardware: nothing kicks the watchdog, so the board resets. An
//! image that hangs without exiting is reset by the board's watchdog timer in the boot stage. The same line on the way back down is `--after` of the next power cycle's image.
//!
//! Avoids: anything but the cause crossing between the two (the image gets no other state).

use board_sim::monitor::ResetCause;
use protocol::RebootReason;

/// How an image's power cycle ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Stopped by the operator.
    Stopped,
    /// The board resets.
    Reset(ResetCause),
}

const REASONS: [(RebootReason, &str); 4] = [
    (RebootReason::TrialBoot, "trial-boot"),
    (RebootReason::Rollback, "rollback"),
    (RebootReason::WatchdogEscalation, "watchdog-escalation"),
    (RebootReason::Commanded, "commanded"),
];

/// The cause as its one-line text (without `reset `).
pub fn encode_cause(cause: &ResetCause) -> String {
    match cause {
        ResetCause::RebootRequest {
            requester,
            reason,
            request_id,
        } => {
            let name = REASONS
                .iter()
                .find(|(r, _)| r == reason)
                .map_or("commanded", |(_, n)| n);
            format!("reboot {requester} {name} {request_id}")
        }
        ResetCause::HardwareWatchdog { at_ms } => format!("hw-watchdog {at_ms}"),
    }
}

/// Parses [`encode_cause`]'s text; `None` for anything else.
pub fn decode_cause(text: &str) -> Option<ResetCause> {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["reboot", requester, name, id] => Some(ResetCause::RebootRequest {
            requester: (*requester).to_string(),
            reason: REASONS.iter().find(|(_, n)| n == name)?.0,
            request_id: id.parse().ok()?,
        }),
        ["hw-watchdog", ms] => Some(ResetCause::HardwareWatchdog {
            at_ms: ms.parse().ok()?,
        }),
        _ => None,
    }
}

/// The report line for `ending`.
pub fn encode(ending: &Ending) -> String {
    match ending {
        Ending::Stopped => "stopped".into(),
        Ending::Reset(c) => format!("reset {}", encode_cause(c)),
    }
}

/// Parses a report line; `None` when it is not one.
pub fn decode(line: &str) -> Option<Ending> {
    let line = line.trim();
    if line == "stopped" {
        return Some(Ending::Stopped);
    }
    decode_cause(line.strip_prefix("reset ")?).map(Ending::Reset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ending_round_trips_and_garbage_is_none() {
        let mut endings = vec![
            Ending::Stopped,
            Ending::Reset(ResetCause::HardwareWatchdog { at_ms: 1234 }),
        ];
        for (reason, _) in REASONS {
            endings.push(Ending::Reset(ResetCause::RebootRequest {
                requester: "upgrade".into(),
                reason,
                request_id: 7,
            }));
        }
        for e in endings {
            assert_eq!(decode(&encode(&e)), Some(e.clone()), "{e:?}");
        }
        for bad in [
            "",
            "reset",
            "reset hw-watchdog x",
            "reset reboot a b 1",
            "stop",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}
