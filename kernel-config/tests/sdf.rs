//! The Microkit export: the SDF for `flight` and `devboard` is pinned by golden files, passes the
//! Microkit rule checker, and the checker itself refuses each rule broken on purpose.
//!
//! After an intended change to the export: `BLESS=1 cargo test -p kernel-config --test sdf`
//! rewrites the golden files; review the diff before committing it.

use kernel_config::sdf::{check, export};
use kernel_config::{load, shipped};
use std::path::PathBuf;

fn sdf_for(board: &str) -> String {
    let s = load(
        &shipped::description(),
        &shipped::board(board).expect("board"),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    export(&s).unwrap_or_else(|e| panic!("export for {board} broke Microkit rules: {e:?}"))
}

#[test]
fn the_flight_and_devboard_sdf_match_their_golden_files() {
    for board in ["flight", "devboard"] {
        let got = sdf_for(board);
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{board}.system"));
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(&path, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&path).expect("golden file present (BLESS=1 to create)");
        assert!(
            want == got,
            "the {board} SDF changed; run with BLESS=1 and review the diff"
        );
    }
}

#[test]
fn the_export_has_the_expected_shape() {
    let xml = sdf_for("flight");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed");
    let pds: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("protection_domain"))
        .collect();
    assert_eq!(pds.len(), 5);
    // The monitor is the parent of every other protection domain.
    let monitor = pds
        .iter()
        .find(|n| n.attribute("name") == Some("monitor"))
        .expect("monitor");
    assert_eq!(
        monitor
            .children()
            .filter(|c| c.has_tag_name("protection_domain"))
            .count(),
        4
    );
    // Devices are mapped uncached into their owner only, at their physical address.
    let signer = pds
        .iter()
        .find(|n| n.attribute("name") == Some("signer"))
        .expect("signer");
    let maps: Vec<_> = signer
        .children()
        .filter(|c| c.has_tag_name("map"))
        .collect();
    let key = maps
        .iter()
        .find(|m| m.attribute("mr") == Some("dev-key-flash"))
        .expect("key flash map");
    assert_eq!(key.attribute("cached"), Some("false"));
    assert_eq!(
        doc.descendants()
            .filter(|n| n.attribute("mr") == Some("dev-key-flash"))
            .count(),
        1
    );
    let mr = doc
        .descendants()
        .find(|n| n.attribute("name") == Some("dev-key-flash"))
        .expect("region");
    assert_eq!(mr.attribute("phys_addr"), Some("0xff040000"));
    // Every ring is mapped into exactly its two ends, each with a setvar symbol.
    for ch in doc
        .descendants()
        .filter(|n| n.has_tag_name("memory_region"))
        .filter_map(|n| n.attribute("name"))
        .filter(|n| n.starts_with("ring-"))
    {
        let ends: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("map") && n.attribute("mr") == Some(ch))
            .collect();
        assert_eq!(ends.len(), 2, "{ch}");
        assert!(ends.iter().all(|m| {
            m.attribute("setvar_vaddr")
                .is_some_and(|s| s.starts_with("ring_"))
        }));
    }
    // The watchdog's IRQ is edge-triggered on the flight board.
    let wd = pds
        .iter()
        .find(|n| n.attribute("name") == Some("watchdog"))
        .expect("watchdog");
    let irq = wd.children().find(|c| c.has_tag_name("irq")).expect("irq");
    assert_eq!(
        (irq.attribute("irq"), irq.attribute("trigger")),
        (Some("145"), Some("edge"))
    );
}

/// Applies an edit to the generated flight SDF and returns what the checker says.
fn broken(from: &str, to: &str) -> Vec<String> {
    let xml = sdf_for("flight");
    assert!(xml.contains(from), "edit anchor `{from}` not in the SDF");
    check(&xml.replacen(from, to, 1), 4096)
}

fn refused(errs: Vec<String>, needle: &str) {
    assert!(
        errs.iter().any(|e| e.contains(needle)),
        "expected an error containing `{needle}`, got {errs:?}"
    );
}

#[test]
fn the_checker_refuses_each_microkit_rule_broken() {
    assert!(check(&sdf_for("flight"), 4096).is_empty());
    refused(
        broken("priority=\"150\"", "priority=\"255\""),
        "priority 255 is above 254",
    );
    refused(
        broken(
            "budget=\"5000\" period=\"20000\"",
            "budget=\"30000\" period=\"20000\"",
        ),
        "budget 30000 exceeds its period 20000",
    );
    refused(
        broken("stack_size=\"0x40000\"", "stack_size=\"0x40800\""),
        "stack size 0x40800",
    );
    refused(
        broken(
            "<end pd=\"signer\" id=\"0\" />",
            "<end pd=\"signer\" id=\"62\" />",
        ),
        "needs an id from 0 to 61",
    );
    refused(
        broken(
            "<end pd=\"signer\" id=\"1\" />",
            "<end pd=\"signer\" id=\"0\" />",
        ),
        "duplicate channel id 0 in protection domain `signer`",
    );
    refused(
        broken("vaddr=\"0x20002000\"", "vaddr=\"0x20000000\""),
        "overlaps the map of",
    );
    refused(
        broken("vaddr=\"0x20002000\"", "vaddr=\"0x20002800\""),
        "not page-aligned",
    );
    refused(
        broken("phys_addr=\"0xff010000\"", "phys_addr=\"0xff000000\""),
        "overlaps `dev-radio`",
    );
    refused(
        broken("irq=\"54\"", "irq=\"53\""),
        "IRQ 53 is handled twice",
    );
    refused(
        broken("<map mr=\"ring-sign-requests\"", "<map mr=\"ring-nowhere\""),
        "unknown memory region `ring-nowhere`",
    );
    refused(
        broken("<program_image path=\"signer.elf\" />", ""),
        "exactly one program_image",
    );
    refused(
        broken("name=\"upgrade\" id=\"3\"", "name=\"upgrade\" id=\"2\""),
        "duplicate child id 2",
    );
    refused(broken("perms=\"rw\"", "perms=\"w\""), "invalid perms `w`");
    refused(
        broken(
            "<system>",
            "<system extra=\"1\"><memory_region name=\"x\" size=\"0x800\" />",
        ),
        "not a multiple of the page size",
    );
    refused(
        broken(
            "<channel>",
            "<channel><end pd=\"ghost\" id=\"0\" /></channel><channel>",
        ),
        "exactly two `end` elements",
    );
    refused(
        check("<system><protection_domain", 4096),
        "not well-formed XML",
    );
}

#[test]
fn more_than_63_protection_domains_are_refused() {
    let mut xml = String::from("<system>");
    for i in 0..64 {
        xml.push_str(&format!("<protection_domain name=\"pd{i}\" priority=\"1\"><program_image path=\"p.elf\" /></protection_domain>"));
    }
    xml.push_str("</system>");
    refused(check(&xml, 4096), "too many protection domains (64)");
}
