//! Generates the watchdog partition's table from the shipped system description
//! (`kernel-config/spacenode.toml`, loaded with the sim board, through the same
//! `watchdog::description::config_from` the core's tests use), as Rust source in
//! `$OUT_DIR/table.rs`: component names, each component's watchdog configuration, the watchdog's
//! own id, the reset cap, the names of the channels and devices the partition takes, and a
//! fingerprint of the description. A description that does not load or does not make a valid
//! watchdog configuration fails the build with its diagnostics.
//!
//! This is the flight model: the image is built for one description, and nothing at run time
//! can change who is pinged how often or what a failure leads to.

use std::fmt::Write as _;
use watchdog::{Restart, Tuning};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../kernel-config/spacenode.toml");
    println!("cargo:rerun-if-changed=../../kernel-config/boards/sim.toml");
    let description = kernel_config::shipped::description();
    let board = kernel_config::shipped::board("sim").expect("the sim board is shipped");
    let system = match kernel_config::load(&description, &board) {
        Ok(s) => s,
        Err(d) => panic!("the shipped description does not load:\n{d}"),
    };
    let me = system
        .component("watchdog")
        .expect("the shipped description has a `watchdog` component");
    let config = watchdog::description::config_from(&system, "watchdog", Tuning::default())
        .unwrap_or_else(|e| panic!("the shipped description is no valid watchdog config: {e}"));

    let n = system.components.len();
    let mut out = String::new();
    writeln!(out, "/// Number of components in the description.").unwrap();
    writeln!(out, "pub const COUNT: usize = {n};").unwrap();
    writeln!(out, "/// Component names by id.").unwrap();
    let names: Vec<String> = system
        .components
        .iter()
        .map(|c| format!("{:?}", c.name))
        .collect();
    writeln!(
        out,
        "pub const NAMES: [&str; COUNT] = [{}];",
        names.join(", ")
    )
    .unwrap();
    writeln!(out, "/// The watchdog's own id.").unwrap();
    writeln!(
        out,
        "pub const SELF_ID: ComponentId = ComponentId({});",
        me.id
    )
    .unwrap();
    writeln!(out, "/// `[system] max-resets`.").unwrap();
    writeln!(out, "pub const MAX_RESETS: u32 = {};", config.max_resets()).unwrap();

    // Per component configuration, as an expression (companion sets need a non-const builder).
    writeln!(out, "/// Each component's watchdog configuration, by id.").unwrap();
    writeln!(
        out,
        "pub fn components() -> Option<[ComponentConfig; COUNT]> {{\n    Some(["
    )
    .unwrap();
    for (id, c) in config.components() {
        let health = match c.health {
            None => "None".to_string(),
            Some(h) => format!(
                "Some(HealthConfig {{ ping_period_ms: {}, warn_after: {}, fatal_after: {} }})",
                h.ping_period_ms, h.warn_after, h.fatal_after
            ),
        };
        let restart = match c.restart {
            Restart::Never => "Restart::Never".to_string(),
            Restart::Hold => "Restart::Hold".to_string(),
            Restart::Policy(p) => {
                let with: Vec<String> = p
                    .with
                    .iter()
                    .map(|w| format!("ComponentId({})", w.0))
                    .collect();
                format!(
                    "Restart::Policy(RestartPolicy {{ max_restarts: {}, window_s: {}, backoff_ms: {}, backoff_max_ms: {}, min_run_ms: {}, with: ComponentSet::of(&[{}])? }})",
                    p.max_restarts,
                    p.window_s,
                    p.backoff_ms,
                    p.backoff_max_ms,
                    p.min_run_ms,
                    with.join(", ")
                )
            }
        };
        writeln!(
            out,
            "        // {} (id {})\n        ComponentConfig {{ critical: {}, safe_mode: {}, health: {health}, restart: {restart} }},",
            system.components[usize::from(id.0)].name,
            id.0,
            c.critical,
            c.safe_mode
        )
        .unwrap();
    }
    writeln!(out, "    ])\n}}").unwrap();

    // Channel names.
    let chan = |pred: &dyn Fn(&kernel_config::model::Channel) -> bool| -> Vec<String> {
        system
            .channels
            .iter()
            .filter(|c| pred(c))
            .map(|c| c.name.clone())
            .collect()
    };
    writeln!(
        out,
        "/// Per component id: its ping channel (watchdog sends) and pong channel (watchdog receives)."
    )
    .unwrap();
    writeln!(
        out,
        "pub const HEARTBEATS: [Option<(&str, &str)>; COUNT] = ["
    )
    .unwrap();
    for c in &system.components {
        let ping =
            chan(&|ch| ch.sender == me.id && ch.receiver == c.id && ch.message.name == "ping");
        let pong =
            chan(&|ch| ch.receiver == me.id && ch.sender == c.id && ch.message.name == "pong");
        match (ping.as_slice(), pong.as_slice()) {
            ([p], [q]) => writeln!(out, "    Some(({p:?}, {q:?})),").unwrap(),
            ([], []) => writeln!(out, "    None,").unwrap(),
            _ => panic!(
                "component `{}` needs exactly one ping and one pong channel with the watchdog",
                c.name
            ),
        }
        if c.health.is_some() == ping.is_empty() {
            panic!(
                "component `{}`: it is pinged (health) if and only if it has ping/pong channels",
                c.name
            );
        }
    }
    writeln!(out, "];").unwrap();
    let one = |what: &str, v: Vec<String>| -> String {
        match v.as_slice() {
            [x] => format!("{x:?}"),
            _ => panic!("the watchdog needs exactly one {what} channel, found {v:?}"),
        }
    };
    let faults = one(
        "fault-notice (receive)",
        chan(&|ch| ch.receiver == me.id && ch.message.name == "fault-notice"),
    );
    let restarts = one(
        "restart-request (send)",
        chan(&|ch| ch.sender == me.id && ch.message.name == "restart-request"),
    );
    let results = one(
        "restart-result (receive)",
        chan(&|ch| ch.receiver == me.id && ch.message.name == "restart-result"),
    );
    let reports = chan(&|ch| ch.sender == me.id && ch.message.name == "health-report");
    writeln!(out, "/// The fault-notice channel (from the monitor).").unwrap();
    writeln!(out, "pub const FAULTS: &str = {faults};").unwrap();
    writeln!(out, "/// The restart-request channel (to the monitor).").unwrap();
    writeln!(out, "pub const RESTARTS: &str = {restarts};").unwrap();
    writeln!(out, "/// The restart-result channel (from the monitor).").unwrap();
    writeln!(out, "pub const RESULTS: &str = {results};").unwrap();
    writeln!(
        out,
        "/// The health-report channels (comms for the ground, the upgrade agent)."
    )
    .unwrap();
    let reports_q: Vec<String> = reports.iter().map(|r| format!("{r:?}")).collect();
    writeln!(
        out,
        "pub const REPORTS: [&str; {}] = [{}];",
        reports.len(),
        reports_q.join(", ")
    )
    .unwrap();

    let device = |kind: kernel_config::model::DeviceKind| -> String {
        let v: Vec<&str> = system
            .board
            .devices
            .iter()
            .filter(|d| d.owner == Some(me.id) && d.kind == kind)
            .map(|d| d.name.as_str())
            .collect();
        match v.as_slice() {
            [x] => format!("{x:?}"),
            _ => panic!("the watchdog needs exactly one {kind:?} device, found {v:?}"),
        }
    };
    writeln!(out, "/// The hardware watchdog timer device.").unwrap();
    writeln!(
        out,
        "pub const HW_WATCHDOG: &str = {};",
        device(kernel_config::model::DeviceKind::Watchdog)
    )
    .unwrap();
    writeln!(out, "/// The flash device holding the reset counter.").unwrap();
    writeln!(
        out,
        "pub const HEALTH_FLASH: &str = {};",
        device(kernel_config::model::DeviceKind::Flash)
    )
    .unwrap();

    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("table.rs");
    std::fs::write(&path, out).expect("write table.rs");
}
