//! The Microkit export: the SDF for `flight` and `devboard` is pinned by golden files and passes
//! the port of the Microkit tool's checks (each of which has its own fixture in `sdf_rules.rs`).
//!
//! After an intended change to the export: `BLESS=1 cargo test -p kernel-config --test sdf`
//! rewrites the golden files; review the diff before committing it.

use kernel_config::sdf::export;
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
    // The monitor is the parent of every other protection domain; Microkit reserves the name
    // `monitor` for its own, so the PD is `node-monitor`.
    assert!(!pds.iter().any(|n| n.attribute("name") == Some("monitor")));
    let monitor = pds
        .iter()
        .find(|n| n.attribute("name") == Some("node-monitor"))
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

/// Why the real tool refused both exported files before: their root PD was named `monitor`, which
/// Microkit reserves for its own monitor. The export now names it `node-monitor`.
#[test]
fn the_root_pd_named_monitor_is_what_microkit_refused() {
    for board in ["flight", "devboard"] {
        let xml = sdf_for(board);
        assert_eq!(
            kernel_config::sdf_rules::check(&xml, "x.system"),
            Ok(()),
            "{board}"
        );
        let old = xml.replace("\"node-monitor\"", "\"monitor\"");
        assert_ne!(old, xml);
        assert_eq!(
            kernel_config::sdf_rules::check(&old, "x.system"),
            Err("Error: the PD name 'monitor' is reserved for the Microkit Monitor.".into()),
            "{board}"
        );
    }
}
