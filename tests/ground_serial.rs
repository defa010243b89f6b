//! `spacenode ground --link`: what an operator gets when the standby link cannot be used. A
//! wrong `--link` value, a device that does not exist, and a serial line with nobody running
//! PPP at the other end each fail with a sentence naming what to check (never a hang: the PPP
//! setup is bounded). The working link is tested with a real node here (a ping over PPP on the
//! modelled line at 115,200 baud with bit errors), in `ground_sign.rs` (a batch co-signed over
//! PPP with the radio cut) and `comms_system.rs`; bad `spacenode run --serial-*` values are
//! refused in words before anything powers on.

mod common;

use common::{Board, free_addr, one_board, text};
use std::process::Command;

fn ground(args: &[&str], state: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .arg("ground")
        .args(args)
        .arg("--state")
        .arg(state)
        .output()
        .expect("spacenode ground")
}

#[test]
fn bad_link_values_are_refused_in_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (link, says) in [
        (
            "tcp:1",
            "use `radio` (as the shipped description has it), `ccsds:SCID`, `units` or `serial:PATH[,BAUD]`",
        ),
        (
            "ccsds:4096",
            "spacecraft id \"4096\" is not a number from 0 to 1023",
        ),
        (
            "ccsds:5,hmac-sha-256",
            "each security association's suite is in the provisioning file",
        ),
        ("serial:", "needs the device path"),
        (
            "serial:/dev/ttyS0,fast",
            "baud rate \"fast\" in --link is not a positive number",
        ),
    ] {
        let o = ground(&["ping", "--link", link], dir.path());
        let t = text(&o);
        assert!(!o.status.success(), "{link}: {t}");
        assert!(t.contains(says), "{link}: {t}");
    }
    let o = ground(&["ping", "--link", "serial:/nonexistent/tty9"], dir.path());
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("serial line /nonexistent/tty9")
            && t.contains("is it the path `spacenode run` printed"),
        "{t}"
    );
}

#[test]
fn a_line_without_ppp_at_the_other_end_fails_within_the_setup_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A pty nobody answers on: the ground's Configure-Requests go unanswered.
    let (_master, _slave, path) = board_sim::serial::PtySerial::pair().expect("pty");
    let link = format!("serial:{}", path.display());
    let o = ground(&["ping", "--link", &link], dir.path());
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains(&format!(
            "PPP on {} did not come up within 10 s",
            path.display()
        )) && t.contains("LCP Req-Sent (our Configure-Request sent, no answer)")
            && t.contains("is `spacenode run` up"),
        "{t}"
    );
    common::assert_no_debug_formatting("ground_serial", t.lines());
}

#[test]
fn a_ping_crosses_ppp_on_a_115200_baud_line_with_bit_errors() {
    let _one = one_board();
    let dir = tempfile::tempdir().expect("tempdir");
    let (node_state, ground_state) = (dir.path().join("node"), dir.path().join("ground"));
    let line = [
        "--serial-baud",
        "115200",
        "--serial-ber",
        "1e-5",
        "--serial-seed",
        "3",
    ];
    let mut node = Board::boot(&node_state, free_addr(), free_addr(), &line);
    node.wait_for("serial line, ground side at ");
    let note = node
        .log
        .iter()
        .find(|l| l.contains("serial line, ground side at "))
        .expect("device note")
        .clone();
    assert!(
        note.contains("(115200 baud 8N1, bit error rate 1e-5, byte drop rate 0, seed 3)"),
        "{note}"
    );
    let pty = common::standby::pty_path(&node.log);
    let o = ground(
        &[
            "ping",
            "--link",
            &format!("serial:{}", pty.display()),
            "--timeout-ms",
            "1000",
            "--attempts",
            "4",
        ],
        &ground_state,
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}\n{}", node.log.join("\n"));
    assert!(t.contains("(PPP)"), "{t}");
    node.wait_for("standby link: PPP up (IPCP opened)");
}

#[test]
fn bad_serial_line_values_are_refused_before_power_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (args, says) in [
        (
            &["--serial-ber", "1e-5"][..],
            "required arguments were not provided:\n  --serial-baud <BAUD>",
        ),
        (
            &["--serial-seed", "4"][..],
            "required arguments were not provided:\n  --serial-baud <BAUD>",
        ),
        (
            &["--serial-baud", "9600", "--serial-ber", "1.5"][..],
            "--serial-ber 1.5 is not a probability in [0, 1)",
        ),
        (
            &["--serial-baud", "9600", "--serial-drop", "1e-9"][..],
            "--serial-drop 0.000000001 is below the model's resolution of 1e-6",
        ),
        (&["--serial-baud", "10"][..], "10 is not in 50..=4000000"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_spacenode"))
            .arg("run")
            .arg("--state")
            .arg(dir.path())
            .args(args)
            .output()
            .expect("spacenode run");
        let t = text(&o);
        assert!(!o.status.success(), "{args:?}: {t}");
        assert!(t.contains(says), "{args:?}: {t}");
        assert!(!t.contains("power"), "{args:?} powered on: {t}");
    }
}
