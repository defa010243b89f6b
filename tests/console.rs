//! `spacenode ground console` driven through a pseudo-terminal (`expectrl`: the console runs
//! as it does for an operator, with rustyline on a real tty) against a real node (`spacenode
//! run`: its processes, seccomp, UDP on loopback and the standby pty), over the radio and over
//! the standby serial line with PPP: help, status, the event log, an unknown command, a reboot
//! declined, a reboot confirmed and the node back (radio), a link lost under the console
//! (serial: the sim board gives each power-on a new pty) and the console still usable, and
//! Ctrl-D ending it.

mod common;

use common::{Board, free_addr, one_board};
use expectrl::{ControlCode, Eof, Expect, Session};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

const PROMPT: &str = "spacenode> ";

/// The console on a pty, with its `--link` arguments.
fn console(
    link: &[&str],
    uplink: SocketAddr,
    ground: SocketAddr,
    state: &Path,
) -> expectrl::session::OsSession {
    let mut args = vec!["console"];
    args.extend_from_slice(link);
    args.extend(["--timeout-ms", "1000", "--attempts", "6"]);
    let c = common::ground_command(&args, uplink, ground, state);
    let mut s = Session::spawn(c).expect("spawn the console on a pty");
    s.set_expect_timeout(Some(Duration::from_secs(40)));
    s
}

/// Sends `line`, waits for each of `says` in order, then for the next prompt; returns the text
/// before the prompt (for assertion messages).
fn run(s: &mut expectrl::session::OsSession, line: &str, says: &[&str]) -> String {
    s.send_line(line).expect("send");
    let mut seen = String::new();
    for want in says {
        let c = s
            .expect(*want)
            .unwrap_or_else(|e| panic!("`{line}`: no `{want}` ({e}); so far:\n{seen}"));
        seen.push_str(&String::from_utf8_lossy(c.before()));
        seen.push_str(want);
    }
    let c = s
        .expect(PROMPT)
        .unwrap_or_else(|e| panic!("`{line}`: no prompt after it ({e}); so far:\n{seen}"));
    seen.push_str(&String::from_utf8_lossy(c.before()));
    seen
}

/// The commands every link must carry, up to a declined reboot.
fn common_session(s: &mut expectrl::session::OsSession) {
    s.expect(PROMPT).expect("first prompt");
    let help = run(s, "help", &["status", "events", "reboot", "quit"]);
    assert!(
        help.contains("counters") && help.contains("upgrade"),
        "{help}"
    );
    let status = run(
        s,
        "status",
        &[
            "health: mode normal, board resets 0",
            "links: active",
            "security: accepted",
        ],
    );
    assert!(!status.contains("error:"), "{status}");
    run(
        s,
        "events",
        &["info", "security state restored at boot (event 0x0001"],
    );
    let bad = run(
        s,
        "frobnicate",
        &["unknown command `frobnicate`: type `help`"],
    );
    assert!(!bad.contains("error:"), "{bad}");
    run(s, "health now", &["`health` takes no arguments"]);
    s.send_line("reboot").expect("send");
    s.expect("type `yes` to confirm")
        .expect("confirmation prompt");
    run(s, "no", &["reboot declined: nothing was sent"]);
}

#[test]
fn the_console_over_the_radio_reboots_the_node_on_confirmation_and_finds_it_back() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let (uplink, ground) = (free_addr(), free_addr());
    let mut node = Board::boot(&dir.path().join("node"), uplink, ground, &[] as &[&str]);
    node.wait_for("[watchdog]");
    let mut s = console(
        &["--link", "radio"],
        uplink,
        ground,
        &dir.path().join("ground"),
    );
    common_session(&mut s);
    node.drain();
    assert!(
        !node.log.iter().any(|l| l.contains("REBOOT commanded")),
        "a declined reboot reached the node:\n{}",
        node.log.join("\n")
    );
    s.send_line("reboot").expect("send");
    s.expect("type `yes` to confirm")
        .expect("confirmation prompt");
    run(&mut s, "yes", &["1,7 ok", "the node reboots"]);
    node.wait_for("REBOOT commanded by the ground");
    node.wait_for("power-on #2");
    // Back: the console's next command reaches the new boot (its anti-replay floor moved up,
    // the session follows), and the reboot did not count as a fault.
    run(&mut s, "ping", &["17,2 pong from the node"]);
    let health = run(&mut s, "health", &["health: mode normal, board resets 0"]);
    assert!(!health.contains("SAFE"), "{health}");
    run(&mut s, "events", &["security state restored at boot"]);
    s.send(ControlCode::EndOfTransmission).expect("Ctrl-D");
    s.expect("console closed").expect("closing line");
    s.expect(Eof).expect("the console exits");
    let status = s.get_process().wait().expect("wait");
    assert!(
        format!("{status:?}").contains("Exited") && format!("{status:?}").ends_with(", 0)"),
        "{status:?}"
    );
    node.drain();
    common::assert_no_debug_formatting("node", node.log.iter().map(String::as_str));
}

#[test]
fn the_console_over_the_serial_line_with_ppp_survives_losing_its_link() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let (uplink, ground) = (free_addr(), free_addr());
    let mut node = Board::boot(&dir.path().join("node"), uplink, ground, &[] as &[&str]);
    node.wait_for("[watchdog]");
    node.wait_for("serial line, ground side at ");
    let pty = common::standby::pty_path(&node.log);
    let link = format!("serial:{}", pty.display());
    let mut s = console(
        &["--link", &link],
        uplink,
        ground,
        &dir.path().join("ground"),
    );
    common_session(&mut s);
    run(
        &mut s,
        "links",
        &[
            "links: active",
            "standby (serial): ",
            "standby PPP: LCP Opened, IPCP Opened; frames in ",
        ],
    );
    node.wait_for("standby link: PPP up (IPCP opened)");
    // The node reboots under the console: the pty it talked on is gone.
    s.send_line("reboot").expect("send");
    s.expect("type `yes` to confirm")
        .expect("confirmation prompt");
    run(&mut s, "yes", &["the node reboots"]);
    node.wait_for("power-on #2");
    run(&mut s, "ping", &["error: "]);
    run(&mut s, "help", &["quit"]);
    s.send_line("quit").expect("quit");
    s.expect("console closed").expect("closing line");
    s.expect(Eof).expect("the console exits");
}
