//! One fixture per validation rule, each pinned to its exact report (message, file:line:col, the
//! underlined text, and the fix), as seL4 Microkit does for its SDF. Each fixture is the minimal
//! valid system or board of `tests/fixtures/` with exactly one rule broken.
//!
//! To review changed messages after an intended change: `BLESS=1 cargo test -p kernel-config
//! --test fixtures` rewrites the `.expected` files; read the diff before committing it.

use kernel_config::{Source, load};
use std::path::PathBuf;

/// Every rule's fixture. A new rule gets a new entry and a new fixture file.
const FIXTURES: &[&str] = &[
    "backoff-max-below",
    "bad-name",
    "board-base-unaligned",
    "board-batches-too-small",
    "board-bundles-too-small",
    "board-device-overlap",
    "board-device-overlaps-ram",
    "board-duplicate-device",
    "board-duplicate-memory",
    "board-irq-range",
    "board-memory-overlap",
    "board-no-memory",
    "board-no-source",
    "board-no-storage",
    "board-page-size",
    "board-size-not-page",
    "board-slot-size-too-small",
    "board-storage-unknown-device",
    "board-unknown-kind",
    "budget-over-period",
    "channel-to-itself",
    "device-owned-twice",
    "duplicate-channel",
    "duplicate-component",
    "endpoint-unknown",
    "health-range",
    "health-warn-after-fatal",
    "health-without-ping",
    "hold-with-limits",
    "link-ccsds-without-scid",
    "link-frame-length-range",
    "link-key-for-units",
    "link-scid-range",
    "link-suite-in-description",
    "link-unknown-radio",
    "max-resets-range",
    "memory-not-page",
    "min-run-range",
    "missing-field",
    "missing-restart",
    "no-root",
    "pinged-without-health",
    "policy-device-owner",
    "policy-integrity",
    "policy-no-path",
    "policy-no-path-self",
    "policy-only-sender",
    "policy-unknown-component",
    "policy-unknown-device",
    "policy-unknown-message",
    "policy-unknown-node",
    "priority-range",
    "program-path",
    "ram-exhausted",
    "restart-missing-key",
    "restart-out-of-range",
    "restart-target-self",
    "restart-target-unknown",
    "root-not-critical",
    "root-not-safe-mode",
    "root-with-restart",
    "shared-irq",
    "slot-size-not-multiple",
    "slot-size-too-small",
    "slots-not-power-of-two",
    "slots-range",
    "standby-address",
    "standby-range",
    "standby-same-address",
    "stack-not-page",
    "stack-range",
    "toml-syntax",
    "trial-deadline-before-soak",
    "trial-range",
    "two-roots",
    "unknown-device",
    "unknown-field",
    "unknown-integrity",
    "unknown-message",
    "wrong-type",
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(rel: &str) -> Source {
    let text =
        std::fs::read_to_string(dir().join(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"));
    Source::new(format!("tests/fixtures/{rel}"), text)
}

fn report(name: &str) -> Result<String, String> {
    let (system, board) = if name.starts_with("board-") {
        (
            read("base-system.toml"),
            read(&format!("errors/{name}.toml")),
        )
    } else {
        (
            read(&format!("errors/{name}.toml")),
            read("base-board.toml"),
        )
    };
    match load(&system, &board) {
        Ok(_) => Err(format!(
            "{name}: the loader accepted a fixture that breaks a rule"
        )),
        Err(d) if d.len() != 1 => Err(format!(
            "{name}: expected exactly one problem, got {}:\n{d}",
            d.len()
        )),
        Err(d) => Ok(d.to_string()),
    }
}

#[test]
fn the_base_fixtures_are_valid() {
    let s =
        load(&read("base-system.toml"), &read("base-board.toml")).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(s.components.len(), 3);
    assert_eq!(s.channels.len(), 2);
    // No `[standby-link]`: the defaults (RFC 1661's timers and counters, pppd-style echo).
    assert_eq!(s.standby, kernel_config::model::StandbyLink::default());
    let d = s.standby;
    assert_eq!(
        (
            d.restart_ms,
            d.max_configure,
            d.max_terminate,
            d.max_failure
        ),
        (3_000, 10, 2, 5)
    );
    assert_eq!((d.echo_interval_ms, d.echo_failure), (2_000, 3));
}

#[test]
fn standby_link_settings_are_read_from_the_description() {
    let mut text = std::fs::read_to_string(dir().join("base-system.toml")).unwrap();
    text.push_str(
        "\n[standby-link]\nnode-address = \"192.168.50.1\"\nground-address = \"192.168.50.2\"\necho-interval-ms = 500\necho-failure = 6\nrestart-ms = 1000\nmax-configure = 4\nmax-terminate = 3\nmax-failure = 7\n",
    );
    let s = load(&Source::new("standby.toml", text), &read("base-board.toml"))
        .unwrap_or_else(|d| panic!("{d}"));
    let got = s.standby;
    assert_eq!(
        (got.node_ip, got.ground_ip),
        ([192, 168, 50, 1], [192, 168, 50, 2])
    );
    assert_eq!((got.echo_interval_ms, got.echo_failure), (500, 6));
    assert_eq!(
        (
            got.restart_ms,
            got.max_configure,
            got.max_terminate,
            got.max_failure
        ),
        (1_000, 4, 3, 7)
    );
}

/// `[link]`: absent means units; `radio = "ccsds"` takes the spacecraft id and defaults the
/// rest (virtual channels 0, 1,115-byte TM frames; the suite is each association's, from the
/// provisioning file).
#[test]
fn the_link_section_selects_what_the_radio_speaks() {
    use runtime::{CcsdsLink, RadioLink};
    let base = std::fs::read_to_string(dir().join("base-system.toml")).unwrap();
    let with = |extra: &str| {
        let text = format!("{base}\n{extra}");
        load(&Source::new("link.toml", text), &read("base-board.toml"))
            .unwrap_or_else(|d| panic!("{d}"))
            .radio_link
    };
    assert_eq!(with(""), RadioLink::Units);
    assert_eq!(with("[link]\nradio = \"units\"\n"), RadioLink::Units);
    assert_eq!(
        with("[link]\nradio = \"ccsds\"\nspacecraft-id = 0x1A5\n"),
        RadioLink::Ccsds(CcsdsLink {
            spacecraft_id: 0x1A5,
            tc_virtual_channel: 0,
            tm_virtual_channel: 0,
            tm_frame_length: 1115,
        })
    );
    assert_eq!(
        with(
            "[link]\nradio = \"ccsds\"\nspacecraft-id = 3\ntc-virtual-channel = 63\ntm-virtual-channel = 7\ntm-frame-length = 2044\n"
        ),
        RadioLink::Ccsds(CcsdsLink {
            spacecraft_id: 3,
            tc_virtual_channel: 63,
            tm_virtual_channel: 7,
            tm_frame_length: 2044,
        })
    );
}

#[test]
fn every_fixture_gives_its_exact_report() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for name in FIXTURES {
        let got = match report(name) {
            Ok(r) => r,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let path = dir().join(format!("errors/{name}.expected"));
        if bless {
            std::fs::write(&path, &got).expect("write expected report");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{name}: report differs\n--- expected\n{want}--- got\n{got}"
            )),
            Err(_) => failures.push(format!(
                "{name}: no {name}.expected file; run with BLESS=1 and review it\n{got}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_fixture_file_is_listed_and_every_report_points_into_its_file() {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir().join("errors"))
        .expect("fixtures dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".toml").map(str::to_string))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "fixture files and the FIXTURES list differ"
    );
    for name in FIXTURES {
        let r = report(name).unwrap_or_else(|e| panic!("{e}"));
        let file = format!("tests/fixtures/errors/{name}.toml:");
        assert!(
            r.contains(&format!("--> {file}")),
            "{name}: the report does not point into the fixture:\n{r}"
        );
    }
}

/// A file with several unknown keys and values of the wrong type (and an unknown name): every one
/// is reported in the same run, each at its own file:line:col (`fixtures/several/`). `BLESS=1`
/// rewrites the expected report as for the single-rule fixtures.
#[test]
fn every_unknown_key_and_wrong_type_is_reported_in_one_run() {
    let name = "several/parse-errors";
    let Err(d) = load(&read(&format!("{name}.toml")), &read("base-board.toml")) else {
        panic!("{name}: the loader accepted it");
    };
    assert_eq!(d.len(), 6, "{d}");
    let got = d.to_string();
    let path = dir().join(format!("{name}.expected"));
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &got).expect("write expected report");
        return;
    }
    let want = std::fs::read_to_string(&path).expect("expected report");
    assert_eq!(got, want, "{name}: report changed (BLESS=1 to review)");
}
