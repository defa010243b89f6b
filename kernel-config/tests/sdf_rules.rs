//! One fixture per ported Microkit SDF check (`kernel_config::sdf_rules`), each the minimal valid
//! `sdf_fixtures/base.system` with one thing broken, pinned to the Microkit tool's exact message
//! (`.expected`). The messages were checked against the format strings of
//! `tool/microkit/src/sdf.rs` at the commit `sdf_rules::MICROKIT_COMMIT` names.
//!
//! After an intended change: `BLESS=1 cargo test -p kernel-config --test sdf_rules` rewrites the
//! `.expected` files; compare each with the tool's source before committing it.

use kernel_config::sdf_rules::check;
use std::path::PathBuf;

const FIXTURES: &[&str] = &[
    "not-xml",
    "root-not-system",
    "text-in-system",
    "text-between-elements",
    "invalid-top-element",
    "top-virtual-machine",
    "unported-domains",
    "mr-invalid-attribute",
    "mr-missing-name",
    "mr-page-size",
    "mr-unported-prefill",
    "mr-no-size",
    "mr-bad-number",
    "mr-size-not-page",
    "mr-phys-unaligned",
    "root-pd-with-id",
    "pd-missing-name",
    "child-missing-id",
    "budget-over-period",
    "pd-unported-passive",
    "stack-range",
    "stack-unaligned",
    "priority-range",
    "program-image-twice",
    "program-image-no-path",
    "program-image-missing",
    "pd-invalid-child-element",
    "pd-ioport",
    "map-invalid-attribute",
    "map-missing-mr",
    "map-missing-vaddr",
    "map-vaddr-beyond",
    "map-perms",
    "map-write-only",
    "map-cached",
    "setvar-twice",
    "irq-id-not-decimal",
    "irq-id-range",
    "irq-id-negative",
    "irq-missing-irq",
    "irq-invalid-attribute",
    "irq-number-not-decimal",
    "irq-trigger",
    "duplicate-child-id",
    "channel-attribute",
    "channel-invalid-element",
    "end-invalid-attribute",
    "end-missing-pd",
    "end-missing-id",
    "end-id-not-decimal",
    "end-id-range",
    "end-id-negative",
    "end-notify",
    "end-pp",
    "end-unknown-pd",
    "channel-one-end",
    "channel-three-ends",
    "ppc-bidirectional",
    "no-protection-domain",
    "too-many-protection-domains",
    "duplicate-pd-name",
    "reserved-monitor-name",
    "duplicate-mr-name",
    "duplicate-irq",
    "duplicate-id-irq-and-channel",
    "duplicate-id-two-channels",
    "ppc-to-lower-priority",
    "map-unknown-mr",
    "map-unaligned",
    "map-exceeds-address-space",
    "map-overlap",
    "phys-overlap",
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdf_fixtures")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_base_fixture_passes_every_check() {
    assert_eq!(check(&read("base.system"), "base.system"), Ok(()));
}

#[test]
fn each_fixture_is_refused_with_the_microkit_tools_message() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut wrong = Vec::new();
    for name in FIXTURES {
        let file = format!("{name}.system");
        let got = match check(&read(&file), &file) {
            Ok(()) => {
                wrong.push(format!("{file}: accepted, but it breaks a Microkit rule"));
                continue;
            }
            Err(e) => e,
        };
        let expected = dir().join(format!("{name}.expected"));
        if bless {
            std::fs::write(&expected, format!("{got}\n")).expect("write expected");
            continue;
        }
        let want = read(&format!("{name}.expected"));
        if want.trim_end() != got {
            wrong.push(format!("{file}:\n  want {}\n  got  {got}", want.trim_end()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_fixture_file_is_listed() {
    for entry in std::fs::read_dir(dir()).expect("fixture dir") {
        let path = entry.expect("entry").path();
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("name");
        if stem != "base" {
            assert!(
                FIXTURES.contains(&stem),
                "{} is not in FIXTURES",
                path.display()
            );
        }
    }
}
