//! `spacenode ground --link`: what an operator gets when the standby link cannot be used. A
//! wrong `--link` value, a device that does not exist, and a serial line with nobody running
//! PPP at the other end each fail with a sentence naming what to check (never a hang: the PPP
//! setup is bounded). The working link is tested with a real node in `ground_sign.rs` (a batch
//! co-signed over PPP with the radio cut) and `comms_system.rs`.

mod common;

use common::text;
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
        ("tcp:1", "use `radio` or `serial:PATH[,BAUD]`"),
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
