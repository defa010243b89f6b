//! `spacenode ground console`: the operations console, an interactive session with the node
//! over the radio or the standby serial line (`--link`), with line editing and history
//! (`rustyline`, history in memory for the session only).
//!
//! Every command is an authenticated PUS telecommand sent through the same [`Session`] as the
//! one-shot `spacenode ground` commands (one session for the whole console: one SDLS
//! association, the same state directory and anti-replay numbers), so the console can do
//! nothing the other commands cannot, and is exactly as secure:
//!
//! | command | telecommand |
//! | --- | --- |
//! | `status` | 3,27 for structures 1, 2, 6, 3 and 5, then the signer's clock (as `ground status`) |
//! | `health`, `links`, `counters`, `upgrade` | 3,27 for structure 1, 2 and 6 (the standby line's PPP session), 3, or 5 |
//! | `signer` | 8,1 function 0x0006: the signer answers with its mission clock |
//! | `events` | 5,128: the node's recent events (`comms::pus::event_log`) |
//! | `ping` | 17,1 |
//! | `reboot` | 8,1 function 0x0011, only after the operator types `yes` at the confirmation prompt |
//! | `help`, `quit` (or Ctrl-D) | none: local |
//!
//! Avoids: exiting on anything but `quit`/Ctrl-D (a bad line, a refusal or a lost link prints
//! one line and the prompt comes back); sending a reboot without a typed confirmation.

use super::session::Session;
use super::{LinkArgs, print_clock, print_housekeeping, print_reports, refused, session_failure};
use crate::failure::Failure;
use clap::Args;
use comms::pus::event::{self as ev, Severity};
use comms::pus::event_log::{self, TC_REPORT_LOG, TM_LOG_ENTRY};
use comms::pus::function::FN_REBOOT;
use comms::pus::hk::{SID_HEALTH, SID_LINKS, SID_SECURITY};
use comms::pus::hk_ppp::SID_PPP;
use comms::pus::hk_upgrade::SID_UPGRADE;
use comms::pus::{ST_EVENT, ST_FUNCTION, ST_TEST};
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

#[derive(Args)]
pub struct ConsoleArgs {
    #[command(flatten)]
    link: LinkArgs,
}

/// The console's commands and what each does, as `help` prints them.
const HELP: &[(&str, &str)] = &[
    (
        "status",
        "everything below but events, as `spacenode ground status`",
    ),
    (
        "health",
        "the watchdog's report: mode, board resets, each component",
    ),
    (
        "links",
        "radio and serial link statistics, the active link, failovers",
    ),
    (
        "counters",
        "SDLS security counters and each association's sequence numbers",
    ),
    (
        "signer",
        "whether the signer answers, and its mission clock",
    ),
    (
        "upgrade",
        "the upgrade agent: slots, versions, transfer, last refusal",
    ),
    (
        "events",
        "the node's recent events (the last 16 since comms started)",
    ),
    ("ping", "are-you-alive (PUS 17,1) and its round trip"),
    (
        "reboot",
        "reboot the node (asks for confirmation; a clean reboot, never a fault)",
    ),
    ("help", "this list"),
    ("quit", "leave the console (also Ctrl-D)"),
];

/// One parsed console line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Status,
    Housekeeping(&'static [u8]),
    Signer,
    Events,
    Ping,
    Reboot,
    Help,
    Quit,
}

/// A line, parsed; `Err` is the line to print for bad input.
fn parse(line: &str) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    let Some(word) = words.next() else {
        return Err(String::new());
    };
    let cmd = match word {
        "status" => Command::Status,
        "health" => Command::Housekeeping(&[SID_HEALTH]),
        "links" => Command::Housekeeping(&[SID_LINKS, SID_PPP]),
        "counters" => Command::Housekeeping(&[SID_SECURITY]),
        "upgrade" => Command::Housekeeping(&[SID_UPGRADE]),
        "signer" => Command::Signer,
        "events" => Command::Events,
        "ping" => Command::Ping,
        "reboot" => Command::Reboot,
        "help" | "?" => Command::Help,
        "quit" | "exit" => Command::Quit,
        other => {
            return Err(format!(
                "unknown command `{}`: type `help` for the list",
                crate::escape::escape_text(other)
            ));
        }
    };
    match words.next() {
        Some(_) => Err(format!(
            "`{word}` takes no arguments: type `help` for the list"
        )),
        None => Ok(cmd),
    }
}

/// Runs the console until `quit` or Ctrl-D.
pub fn run(args: ConsoleArgs) -> Result<(), Failure> {
    let (link, mut s) = args.link.open()?;
    let mut editor = DefaultEditor::new()
        .map_err(|e| Failure::Usage(format!("the console cannot use this terminal: {e}")))?;
    println!(
        "spacenode operations console: type `help` for the commands, `quit` or Ctrl-D to leave"
    );
    loop {
        let line = match editor.readline("spacenode> ") {
            Ok(line) => line,
            Err(ReadlineError::Eof) => break,
            Err(ReadlineError::Interrupted) => {
                println!("(type `quit` or press Ctrl-D to leave)");
                continue;
            }
            Err(e) => return Err(Failure::Usage(format!("reading the console: {e}"))),
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        // History is a convenience: a line it cannot keep is still run.
        let _ = editor.add_history_entry(line);
        let cmd = match parse(line) {
            Ok(c) => c,
            Err(msg) => {
                println!("{msg}");
                continue;
            }
        };
        let result = match cmd {
            Command::Quit => break,
            Command::Help => {
                for (name, what) in HELP {
                    println!("  {name:<9} {what}");
                }
                Ok(())
            }
            Command::Status => {
                let sids = [SID_HEALTH, SID_LINKS, SID_PPP, SID_SECURITY, SID_UPGRADE];
                let r = print_housekeeping(&mut s, &sids, link.provisioning.is_none());
                print_clock(&mut s, &link);
                r
            }
            Command::Housekeeping(sids) => print_housekeeping(&mut s, sids, false),
            Command::Signer => signer(&mut s),
            Command::Events => events(&mut s),
            Command::Ping => ping(&mut s),
            Command::Reboot => match confirm(&mut editor) {
                Ok(true) => reboot(&mut s),
                Ok(false) => {
                    println!("reboot declined: nothing was sent");
                    Ok(())
                }
                Err(e) => Err(e),
            },
        };
        if let Err(e) = result {
            // A refusal's text ends with its own newline.
            match e {
                Failure::Rejected(t) => print!("{}", crate::escape::escape_text(&t)),
                Failure::Usage(t) => println!("error: {}", crate::escape::escape_text(&t)),
            }
        }
    }
    println!("console closed");
    Ok(())
}

/// Asks before a reboot; only `yes` confirms.
fn confirm(editor: &mut DefaultEditor) -> Result<bool, Failure> {
    match editor.readline(
        "reboot the node? its components stop and it boots again (type `yes` to confirm): ",
    ) {
        Ok(answer) => Ok(answer.trim() == "yes"),
        Err(ReadlineError::Eof | ReadlineError::Interrupted) => Ok(false),
        Err(e) => Err(Failure::Usage(format!("reading the console: {e}"))),
    }
}

fn ping(s: &mut Session) -> Result<(), Failure> {
    let a = s.command(ST_TEST, 1, &[]).map_err(session_failure)?;
    print_reports(&a);
    refused(&a)?;
    if a.other
        .iter()
        .any(|t| t.service == ST_TEST && t.subservice == 2)
    {
        println!("17,2 pong from the node");
    } else {
        println!("17,2 reply lost on the downlink (the command completed)");
    }
    Ok(())
}

fn signer(s: &mut Session) -> Result<(), Failure> {
    // The clock is the signer's own answer: a line with the time is the signer answering.
    print!(
        "signer: {}",
        super::time::node_clock_line(s, super::expiry::ground_now_ms().ok())
    );
    Ok(())
}

fn events(s: &mut Session) -> Result<(), Failure> {
    let a = s
        .command(ST_EVENT, TC_REPORT_LOG, &[])
        .map_err(session_failure)?;
    refused(&a)?;
    let mut tms = a.other.clone();
    tms.extend(
        s.collect(std::time::Duration::from_millis(50))
            .map_err(session_failure)?,
    );
    let mut entries: Vec<_> = tms
        .iter()
        .filter(|t| t.service == ST_EVENT && t.subservice == TM_LOG_ENTRY)
        .filter_map(|t| event_log::decode(&t.source).map(|e| (e.seq, event_line(&e))))
        .collect();
    entries.sort();
    entries.dedup();
    if entries.is_empty() {
        println!("events: none kept (the log is emptied when comms restarts or the board resets)");
    }
    for (_, line) in entries {
        println!("{line}");
    }
    Ok(())
}

/// One kept event in words.
fn event_line(e: &event_log::Entry<'_>) -> String {
    let what = ev::name(e.id).unwrap_or("unknown event");
    let link = |b: u8| {
        if b == 0 {
            "primary (radio)"
        } else {
            "standby (serial)"
        }
    };
    let aux = match (e.id, e.aux) {
        (ev::EV_LINK_FAILOVER, [from, to, why]) => format!(
            ": from {} to {}, {}",
            link(*from),
            link(*to),
            match why {
                0 => "the active link fell silent",
                1 => "too many errors",
                _ => "the primary link recovered",
            }
        ),
        (_, []) => String::new(),
        (_, data) => format!(", data {}", super::admin::hex(data)),
    };
    format!(
        "  #{:<4} {:>8.1} s ago  {:<6} {what} (event {:#06x}){aux}",
        e.seq,
        f64::from(e.age_ms) / 1000.0,
        match e.severity {
            Severity::Informative => "info",
            other => other.name(),
        },
        e.id
    )
}

fn reboot(s: &mut Session) -> Result<(), Failure> {
    let a = s
        .command(ST_FUNCTION, 1, &FN_REBOOT.to_be_bytes())
        .map_err(session_failure)?;
    print_reports(&a);
    refused(&a)?;
    println!(
        "the node reboots: the watchdog marked a clean power-off and stopped kicking; the board resets within a few seconds and boots normally (`ping` or `status` shows it back)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_in_words() {
        let e = event_log::Entry {
            seq: 3,
            age_ms: 1500,
            severity: Severity::Low,
            id: ev::EV_LINK_FAILOVER,
            aux: &[0, 1, 0],
        };
        let line = event_line(&e);
        assert!(
            line.contains("#3 ") && line.contains("1.5 s ago") && line.contains("low"),
            "{line}"
        );
        assert!(
            line.contains("link failover (event 0x0002): from primary (radio) to standby (serial), the active link fell silent"),
            "{line}"
        );
        let e = event_log::Entry {
            id: 0x7777,
            aux: &[0xAB],
            ..e
        };
        assert!(event_line(&e).contains("unknown event (event 0x7777), data ab"));
    }

    #[test]
    fn lines_parse_to_commands_or_say_what_is_wrong() {
        assert_eq!(parse("status"), Ok(Command::Status));
        assert_eq!(parse("  events "), Ok(Command::Events));
        assert_eq!(
            parse("counters"),
            Ok(Command::Housekeeping(&[SID_SECURITY]))
        );
        assert_eq!(parse("exit"), Ok(Command::Quit));
        let e = parse("reboto").unwrap_err();
        assert!(
            e.contains("unknown command `reboto`") && e.contains("help"),
            "{e}"
        );
        let e = parse("reboot now").unwrap_err();
        assert!(e.contains("`reboot` takes no arguments"), "{e}");
        let e = parse("\u{1b}[2J").unwrap_err();
        assert!(!e.contains('\u{1b}'), "{e}");
        for (name, _) in HELP {
            assert!(parse(name).is_ok(), "{name}");
        }
    }
}
