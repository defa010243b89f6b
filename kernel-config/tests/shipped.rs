//! The shipped description and boards: valid on every board, the policy a reviewer relies on
//! holds (and would catch the flows it forbids), broken edits are reported with the right
//! position, and random edits never panic the loader.

use kernel_config::model::Node;
use kernel_config::policy::{find_path, render_path};
use kernel_config::{Source, load, shipped};
use proptest::prelude::*;

fn load_on(board: &str) -> kernel_config::System {
    let b = shipped::board(board).expect("shipped board");
    load(&shipped::description(), &b).unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn the_shipped_description_is_valid_on_every_board() {
    for b in shipped::BOARDS {
        let s = load_on(b);
        assert_eq!(s.board.name, b);
        let names: Vec<&str> = s.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["monitor", "watchdog", "comms", "signer", "upgrade"]);
        assert!(s.root().name == "monitor" && s.root().critical);
        // Safe mode runs only what it takes to stay reachable and healthy.
        let safe: Vec<&str> = s
            .components
            .iter()
            .filter(|c| c.safe_mode)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(safe, ["monitor", "watchdog", "comms"]);
        // Everything but the watchdog is pinged; the hardware watchdog covers the watchdog.
        let pinged: Vec<&str> = s
            .components
            .iter()
            .filter(|c| c.health.is_some())
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(pinged, ["monitor", "comms", "signer", "upgrade"]);
        // Every device of every shipped board has an owner and a stated source.
        assert!(
            s.board
                .devices
                .iter()
                .all(|d| d.owner.is_some() && !d.source.is_empty())
        );
    }
}

#[test]
fn component_ids_are_declaration_positions() {
    let s = load_on("sim");
    for (i, c) in s.components.iter().enumerate() {
        assert_eq!(c.id, i);
    }
}

fn node(s: &kernel_config::System, name: &str) -> Node {
    if let Some(c) = s.component(name) {
        return Node::Component(c.id);
    }
    Node::Device(
        s.board
            .devices
            .iter()
            .position(|d| d.name == name)
            .expect("node"),
    )
}

#[test]
fn the_guards_are_what_stops_each_forbidden_flow() {
    // Each shipped no-path rule holds only because of its guards: without them a path exists.
    // This shows the rules are not vacuous and that the path search sees real flows.
    let s = load_on("flight");
    assert_eq!(s.policy.no_path.len(), 3);
    for r in &s.policy.no_path {
        assert!(find_path(&s, r.from, r.to, &r.except_through).is_none());
        let open = find_path(&s, r.from, r.to, &[]).expect("a path without guards");
        let through_guard = open[1..open.len() - 1]
            .iter()
            .any(|(n, _)| r.except_through.contains(n));
        assert!(
            through_guard,
            "the unguarded path must pass a guard: {}",
            render_path(&s, &open)
        );
    }
    let p = find_path(&s, node(&s, "radio"), node(&s, "key-flash"), &[]).expect("path");
    assert_eq!(
        render_path(&s, &p),
        "radio -[owns]-> comms -[sign-requests]-> signer -[owns]-> key-flash"
    );
}

#[test]
fn adding_a_forbidden_channel_is_caught_with_its_path() {
    let mut text = shipped::description().text;
    text.push_str("\n[[channel]]\nname = \"shortcut\"\nfrom = \"comms\"\nto = \"monitor\"\nmessage = \"telemetry\"\nslots = 2\nslot-size = 320\ncopy-in = true\n");
    let d = load(
        &Source::new("edited.toml", text),
        &shipped::board("sim").expect("sim"),
    )
    .expect_err("must be refused");
    let r = d.to_string();
    assert!(r.contains("policy no-path: a chain of channels leads from `comms` to `monitor` except through `watchdog`, `upgrade`"), "{r}");
    assert!(r.contains("path: comms -[shortcut]-> monitor"), "{r}");
}

#[test]
fn a_broken_shipped_description_is_reported_at_the_right_line() {
    let good = shipped::description().text;
    let bad = good.replacen("to = \"signer\"", "to = \"signr\"", 1);
    let line = bad
        .lines()
        .position(|l| l == "to = \"signr\"")
        .expect("edited line")
        + 1;
    let d = load(
        &Source::new("kernel-config/spacenode.toml", bad),
        &shipped::board("flight").expect("flight"),
    )
    .expect_err("refused");
    assert_eq!(d.len(), 1, "{d}");
    let first = d.iter().next().expect("one");
    assert_eq!((first.line, first.col), (line, 6));
    assert!(
        d.to_string()
            .contains(&format!("--> kernel-config/spacenode.toml:{line}:6"))
    );
}

/// One random edit of the shipped text.
fn edit(text: &str, op: u8, a: usize, b: usize, n: i64, word: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let len = lines.len();
    let (i, j) = (a % len, b % len);
    match op % 8 {
        0 => {
            lines.remove(i);
        }
        1 => {
            let l = lines[i].clone();
            lines.insert(j, l);
        }
        2 => lines.swap(i, j),
        3 => {
            // Replace the number on a `key = number` line.
            if let Some((k, _)) = lines[i].split_once(" = ") {
                lines[i] = format!("{k} = {n}");
            }
        }
        4 => {
            if let Some((k, _)) = lines[i].split_once(" = ") {
                lines[i] = format!("{k} = \"{word}\"");
            }
        }
        5 => {
            let at = b % (lines[i].len() + 1);
            if lines[i].is_char_boundary(at) {
                lines[i].insert_str(at, word);
            }
        }
        6 => lines.truncate(i),
        _ => lines[i] = word.to_string(),
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_edits_never_panic_and_point_inside_the_file(
        op in any::<u8>(), a in any::<usize>(), b in any::<usize>(), n in any::<i64>(),
        word in "[a-z0-9 =\\[\\]\"{}.,#-]{0,16}", board in 0usize..3,
    ) {
        let text = edit(&shipped::description().text, op, a, b, n, &word);
        let lines = text.lines().count().max(1) + 1;
        let src = Source::new("edited.toml", text);
        if let Err(d) = load(&src, &shipped::board(shipped::BOARDS[board]).expect("board")) {
            prop_assert!(!d.is_empty());
            for x in d.iter() {
                prop_assert!(x.line >= 1 && x.line <= lines, "line {} of {}: {}", x.line, lines, x);
                prop_assert!(x.col >= 1);
                prop_assert!(x.help.is_some(), "every problem says how to fix it: {}", x);
            }
        }
    }
}
