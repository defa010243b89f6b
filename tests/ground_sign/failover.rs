//! Issue 16: with the radio cut, a batch is co-signed over PPP on the standby serial line; the
//! node fails over to it and back after its hysteresis once the radio returns; a command on
//! either link is answered on that link.

use super::*;
/// `spacenode ground ARGS` on the standby serial line `pty` (PPP), with the state of the radio
/// commands (one ground, one sequence of ARSNs across both links).
fn serial_cmd(pty: &Path, state: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spacenode"));
    c.arg("ground")
        .args(args)
        .arg("--link")
        .arg(format!("serial:{}", pty.display()))
        .arg("--state")
        .arg(state)
        .args(["--timeout-ms", "1000", "--attempts", "4"]);
    c
}

/// The `links: active ...` line of `ground status` output.
fn active_link(t: &str) -> &str {
    t.lines()
        .find(|l| l.starts_with("links: active"))
        .unwrap_or("no links line")
}

#[test]
fn with_the_radio_cut_a_batch_is_co_signed_over_ppp_and_the_node_fails_back_when_it_returns() {
    use common::standby::{RadioRelay, pty_path};
    let _one = one_board();
    let s = setup(2);
    let (w, ground_state, listen) = (&s.w, &s.ground_state, s.listen);
    // The node's radio sits behind a relay that can cut it.
    let relay = RadioRelay::start(s.uplink, listen);
    let no_args: [&str; 0] = [];
    let mut node = Board::boot(&s.state, s.uplink, relay.downlink, &no_args);
    node.wait_for("serial line, ground side at ");
    let pty = pty_path(&node.log);
    let radio = |args: &[&str]| {
        ground_cmd(relay.uplink, listen, ground_state, args)
            .output()
            .expect("ground on the radio")
    };
    let serial = |args: &[&str]| {
        serial_cmd(&pty, ground_state, args)
            .output()
            .expect("ground on the serial line")
    };

    // The radio works: a ping on it makes it the active link.
    let o = radio(&["ping"]);
    assert!(o.status.success(), "{}", text(&o));

    // Radio cut: the radio is dead both ways...
    relay.set_cut(true);
    let o = ground_cmd(relay.uplink, listen, ground_state, &["ping"])
        .args(["--attempts", "1"])
        .output()
        .expect("ground ping");
    assert!(!o.status.success(), "{}", text(&o));
    // ...and the batch is co-signed over PPP on the standby line.
    let o = serial_cmd(&pty, ground_state, &["sign", "--no-expiry"])
        .args(["--server", &SERVER.to_string()])
        .arg("--key")
        .arg(&w.key_file)
        .arg("--out")
        .arg(&s.out)
        .args(&w.psbts)
        .output()
        .expect("ground sign over the serial line");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("standby serial line") && t.contains("(PPP)"),
        "{t}"
    );
    assert!(t.contains("co-signed in"), "{t}");
    check_signed(w, &s.out);

    // The node fails over to the standby link once the radio has been silent long enough
    // (10 s): asked on the serial line, answered on it.
    let deadline = Instant::now() + BOUND;
    let mut t = String::new();
    while Instant::now() < deadline {
        let o = serial(&["status"]);
        t = text(&o);
        assert!(o.status.success(), "{t}");
        if active_link(&t).starts_with("links: active standby") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(active_link(&t).starts_with("links: active standby"), "{t}");

    // Radio back: commands on it are answered on it at once, while the standby stays active
    // until the radio has been up for the hysteresis (30 s); then the node switches back. The
    // ground keeps using the standby line meanwhile (a ping on it, answered on it, each round),
    // so the standby never falls silent, which would be a reason to switch back at once.
    relay.set_cut(false);
    let back = Instant::now();
    // The first command on the restored radio is answered on it, while the standby stays the
    // active link (the hysteresis): no switch back at once.
    let o = radio(&["status"]);
    let first = text(&o);
    assert!(o.status.success(), "{first}");
    assert!(
        active_link(&first).starts_with("links: active standby"),
        "switched back at once, without the hysteresis:\n{first}"
    );
    let deadline = back + Duration::from_secs(90);
    let mut switched = None;
    let mut t = String::new();
    while Instant::now() < deadline {
        let o = serial(&["ping"]);
        assert!(o.status.success(), "{}", text(&o));
        let o = radio(&["status"]);
        t = text(&o);
        assert!(o.status.success(), "{t}");
        if active_link(&t).starts_with("links: active primary") {
            switched = Some(back.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let Some(switched) = switched else {
        panic!("the node did not switch back to the radio within 90 s:\n{t}");
    };
    // A command on the standby line is still answered on it while the radio is active.
    let o = serial(&["ping"]);
    assert!(o.status.success(), "{}", text(&o));
    eprintln!("switched back to the radio {switched:?} after it returned");
    no_comms_restart(&mut node);
    node.stop();
}
