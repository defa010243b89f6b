//! The `spacenode config` and `demo` commands as a user runs them: the real binary, real files,
//! exit statuses and the text people read.

use std::path::Path;
use std::process::{Command, Output};

fn spacenode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spacenode"))
        .args(args)
        .output()
        .expect("run spacenode")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_accepts_the_shipped_description_on_every_board() {
    let o = spacenode(&["config", "check"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for b in ["sim", "devboard", "flight"] {
        assert!(
            out.contains(&format!("ok: kernel-config/spacenode.toml on board `{b}`")),
            "{out}"
        );
    }
}

/// Issue 13 finding 7: `config check` said ok to 10,005 components, which neither the watchdog
/// (32) nor Microkit (63 PDs) can run. Each limit is now checked at load, with its place.
#[test]
fn check_refuses_what_the_node_cannot_hold_at_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-config/spacenode.toml"),
    )
    .expect("shipped");
    let first = shipped
        .find("[[component]]\nname = \"watchdog\"")
        .expect("the watchdog component");
    let end = shipped[first..].find("\n[[").expect("the next table") + first + 1;
    let component = &shipped[first..end];
    let mut many = shipped.clone();
    for i in 0..40 {
        many.push('\n');
        many.push_str(&component.replace("name = \"watchdog\"", &format!("name = \"copy{i}\"")));
    }
    let path = dir.path().join("many.toml");
    std::fs::write(&path, &many).expect("write");
    let o = spacenode(&["config", "check", path.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    let shipped_count = shipped.matches("[[component]]").count();
    let line = many
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == format!("name = \"copy{}\"", 32 - shipped_count))
        .map(|(i, _)| i + 1)
        .next()
        .expect("the 33rd component");
    assert!(err.contains(&format!("many.toml:{line}:8")), "{err}");
    assert!(err.contains("is component 33 of"), "{err}");
    assert_eq!(
        err.matches("error:").count(),
        1,
        "one message, once:\n{err}"
    );

    let big = dir.path().join("big.toml");
    let mut text_big = shipped.clone();
    text_big.push('#');
    text_big.push_str(&"x".repeat(2 << 20));
    std::fs::write(&big, text_big).expect("write");
    let o = spacenode(&["config", "check", big.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("is larger than 1048576 bytes (1 MiB)"),
        "{err}"
    );
    assert!(!err.contains("give the path"), "{err}");
}

#[test]
fn check_rejects_a_broken_description_with_file_line_col() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.toml");
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-config/spacenode.toml"),
    )
    .expect("shipped");
    let bad = good.replacen("priority = 150", "priority = 999", 1);
    let line = bad
        .lines()
        .position(|l| l == "priority = 999")
        .expect("edited")
        + 1;
    std::fs::write(&path, bad).expect("write");
    let o = spacenode(&[
        "config",
        "check",
        path.to_str().expect("utf-8 path"),
        "--board",
        "flight",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains(&format!("broken.toml:{line}:12")), "{err}");
    assert!(
        err.contains("component `signer` priority 999 is out of range"),
        "{err}"
    );
    assert!(err.contains("help: use a value from 0 to 254"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Issue 13 finding 8: a control or bidi character in a description (here a right-to-left
/// override and an ANSI escape in a component name) is shown escaped in the errors, never
/// raw, while the diagnostic keeps its own layout.
#[test]
fn control_characters_from_a_description_are_printed_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rlo.toml");
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-config/spacenode.toml"),
    )
    .expect("shipped");
    let bad = good.replacen(
        "name = \"signer\"",
        "name = \"sig\u{202E}ren\u{1b}[31m\"",
        1,
    );
    assert_ne!(bad, good);
    std::fs::write(&path, bad).expect("write");
    let o = spacenode(&["config", "check", path.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        !err.contains('\u{202E}') && !err.contains('\u{1b}'),
        "raw control characters in:\n{err}"
    );
    assert!(err.contains("sig\\u{202e}ren\\u{1b}[31m"), "{err}");
    assert!(err.contains("rlo.toml:"), "{err}");
    assert!(
        err.lines().count() > 2,
        "the diagnostic keeps its lines:\n{err}"
    );
}

#[test]
fn description_errors_are_reported_once_not_once_per_board() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[system]\nname = \"x\"\nbogus = 1\n").expect("write");
    let o = spacenode(&["config", "check", path.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert_eq!(err.matches("unknown field `bogus`").count(), 1, "{err}");
    assert!(err.contains("broken.toml:3:1"), "{err}");
}

#[test]
fn usage_problems_exit_2_and_say_what_to_do() {
    let o = spacenode(&["config", "check", "--board", "moon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr)
            .contains("there is no shipped board named `moon`; use one of: sim, devboard, flight")
    );
    let o = spacenode(&["config", "check", "/nonexistent/system.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("cannot read `/nonexistent/system.toml`"));
}

#[test]
fn sdf_writes_a_checked_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("flight.system");
    let o = spacenode(&[
        "config",
        "sdf",
        "--board",
        "flight",
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains(
        "5 protection domains, 22 channel rings, 9 device regions; checked against the Microkit tool's SDF rules"
    ));
    let xml = std::fs::read_to_string(&out).expect("written");
    let golden = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel-config/tests/golden/flight.system"),
    )
    .expect("golden");
    assert_eq!(xml, golden);
}

#[test]
fn graph_prints_the_matrix_and_writes_dot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dot = dir.path().join("caps.dot");
    let o = spacenode(&[
        "config",
        "graph",
        "--dot",
        dot.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("channel sign-requests"), "{out}");
    let d = std::fs::read_to_string(&dot).expect("dot written");
    assert!(d.starts_with("digraph \"spacenode\""));
    assert!(
        d.contains(
            "\"comms\" -> \"signer\" [label=\"sign-requests\\nsign-request\", style=dashed]"
        ),
        "{d}"
    );
}

#[test]
fn demo_runs_and_every_subcommand_has_useful_help() {
    let o = spacenode(&["demo"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("ok: kernel-config/spacenode.toml on board `flight`"),
        "{out}"
    );
    // The whole story: the node boots, co-signs over the lossy radio what Bitcoin Core then
    // accepts, refuses what policy, an attacker and a revoked server send, and survives a hung
    // component while signing; a second node is upgraded, rolls a broken release back, and
    // refuses a downgrade.
    for needle in [
        "signer started as pid",
        "answered: ",
        "accepts the spend: txid",
        "policy: no rule matched; rule 0 (the last tried) failed: the outflow (payments plus fee) is over its max-amount; PSBT 0. What to do:",
        "answers from the node: 0;",
        "freezing the upgrade",
        "FAILED upgrade at",
        "missed pings: 10",
        "upgrade restarted as pid",
        "the others kept working, none restarted",
        "the batch signed meanwhile was co-signed and verified by Bitcoin Core",
        "not enough admin signatures",
        "certificate: server revoked",
        // The upgrade chapter: 2.0.0 confirmed, a broken 3.0.0 rolled back, a downgrade refused.
        "confirmed: the node runs version 2.0.0 from slot B",
        "the trial failed and the node rolled back to slot B",
        "its version is not newer than the node's confirmed version",
        // The wallet user's chapter: through the ground server's HTTP API, confirmed by TOTP.
        "(her authenticator app) -> queued",
        "got a payment co-signed through the ground server",
        "11. Summary",
    ] {
        assert!(out.contains(needle), "no `{needle}` in:\n{out}");
    }
    assert_eq!(out.matches("accepts the spend: txid").count(), 2, "{out}");
    for (args, needle) in [
        (vec!["--help"], "config"),
        (vec!["config", "--help"], "sdf"),
        (vec!["config", "check", "--help"], "file:line:col"),
        (vec!["config", "graph", "--help"], "copy-in"),
        (vec!["ground", "sign", "--help"], "CFDP"),
        (vec!["ground", "upgrade", "--help"], "trial boot"),
        (vec!["ground", "admin", "--help"], "registry"),
        (vec!["server", "--help"], "TLS reverse proxy"),
        (
            vec!["config", "sdf", "--help"],
            "The Microkit tool's SDF checks (ported",
        ),
    ] {
        let o = spacenode(&args);
        assert!(o.status.success());
        assert!(
            text(&o.stdout).contains(needle),
            "{args:?}: {}",
            text(&o.stdout)
        );
    }
}
