//! The limits of the code that consumes a description (`kernel_config::limits`), each tested at
//! its value (loads, and for counts also exports to a Microkit SDF the port of the tool's checks
//! accepts) and one past it (refused at load with one message at the item past the limit). Large
//! hostile descriptions are refused quickly: these tests check that they are refused, and with how
//! few messages, never how long it took (`benches/checks.rs` measures that).

mod generate;

use generate::*;
use kernel_config::limits::{MAX_CAPS, MAX_CHANNELS, MAX_COMPONENTS, MAX_FILE_BYTES};
use kernel_config::{Diagnostics, Source, System, load};

fn check(text: String) -> Result<System, Diagnostics> {
    load(&Source::new("system.toml", text), &board())
}

/// The one problem of a refused description.
fn only_problem(r: Result<System, Diagnostics>) -> kernel_config::Diagnostic {
    let d = r.expect_err("refused");
    assert_eq!(d.len(), 1, "expected one problem:\n{d}");
    d.0[0].clone()
}

/// 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in the text"));
    text[..at].matches('\n').count() + 1
}

#[test]
fn components_at_the_limit_load_and_export() {
    let s = check(with_components(MAX_COMPONENTS - 3)).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(s.components.len(), MAX_COMPONENTS);
    kernel_config::sdf::export(&s).expect("the SDF export accepts what the load accepts");
}

#[test]
fn one_component_past_the_limit_is_refused_where_it_is_declared() {
    let text = with_components(MAX_COMPONENTS - 2);
    let d = only_problem(check(text.clone()));
    let past = format!("c{}", MAX_COMPONENTS - 3);
    assert_eq!(d.line, line_of(&text, &format!("name = \"{past}\"")));
    assert!(
        d.message
            .contains(&format!("component `{past}` is component 33 of 33")),
        "{d}"
    );
    assert!(d.message.contains("at most 32"), "{d}");
    assert!(d.help.as_deref().unwrap_or("").contains("watchdog"), "{d}");
}

#[test]
fn past_a_count_limit_nothing_else_is_reported() {
    // A duplicate name and a bad priority as well: only the count is reported.
    let text = with_components(MAX_COMPONENTS - 2)
        .replace("name = \"c1\"", "name = \"c0\"")
        .replacen("priority = 100", "priority = 999", 1);
    let d = only_problem(check(text));
    assert!(d.message.contains("is component 33 of 33"), "{d}");
}

#[test]
fn thousands_of_components_get_one_message() {
    let d = only_problem(check(with_components(5_000)));
    assert!(d.message.contains("is component 33 of 5003"), "{d}");
    // The 10,005 components pass the file size limit first.
    let d = only_problem(check(with_components(10_002)));
    assert!(
        d.message
            .contains("is 1700282 bytes; it may be at most 1048576"),
        "{d}"
    );
}

#[test]
fn every_component_full_of_channels_loads_and_exports() {
    let text = spread(MAX_COMPONENTS, MAX_CHANNELS);
    let s = load(&Source::new("system.toml", text), &big_board()).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(s.channels.len(), MAX_CHANNELS);
    for k in &s.components {
        let ends = s
            .channels
            .iter()
            .filter(|c| c.sender == k.id || c.receiver == k.id)
            .count();
        assert_eq!(ends, MAX_CAPS, "{}", k.name);
    }
    kernel_config::sdf::export(&s).expect("the SDF export accepts what the load accepts");
}

#[test]
fn one_channel_past_the_total_is_refused_where_it_is_declared() {
    let text = spread(MAX_COMPONENTS, MAX_CHANNELS + 1);
    let d = only_problem(load(
        &Source::new("system.toml", text.clone()),
        &big_board(),
    ));
    let past = format!("name = \"ch{MAX_CHANNELS}\"");
    assert_eq!(d.line, line_of(&text, &past));
    assert!(
        d.message
            .contains("is channel 769 of 769; the node holds at most 768"),
        "{d}"
    );
}

#[test]
fn thousands_of_channels_get_one_message() {
    let d = only_problem(load(
        &Source::new("s.toml", spread(MAX_COMPONENTS, 9_000)),
        &big_board(),
    ));
    assert!(d.message.contains("is channel 769 of 9000"), "{d}");
}

/// Two fresh components `gamma` and `delta` joined by `n` channels.
fn pair(n: usize) -> String {
    let mut text = with_components(0);
    component(&mut text, "gamma");
    component(&mut text, "delta");
    for j in 0..n {
        let (a, b) = if j % 2 == 0 {
            ("gamma", "delta")
        } else {
            ("delta", "gamma")
        };
        channel(&mut text, &format!("p{j}"), a, b, 4, small_slot());
    }
    text
}

#[test]
fn a_component_holds_its_capability_limit() {
    let s = load(&Source::new("s.toml", pair(MAX_CAPS)), &big_board())
        .unwrap_or_else(|d| panic!("{d}"));
    kernel_config::sdf::export(&s).expect("the SDF export accepts what the load accepts");
}

#[test]
fn one_capability_past_the_limit_is_refused_at_the_channel_end() {
    let text = pair(MAX_CAPS + 1);
    let d = load(&Source::new("s.toml", text.clone()), &big_board()).expect_err("refused");
    // Both ends of the 49th channel pass the limit: one message for each component.
    assert_eq!(d.len(), 2, "{d}");
    let at = line_of(&text, &format!("name = \"p{MAX_CAPS}\""));
    let mut lines: Vec<usize> = d.0.iter().map(|x| x.line).collect();
    lines.sort();
    assert_eq!(lines, [at + 1, at + 2], "{d}");
    assert!(
        d.0[0]
            .message
            .contains("capability 49; a component holds at most 48"),
        "{d}"
    );
}

#[test]
fn devices_count_as_capabilities() {
    // alpha owns `uart`: 47 channel ends on it are its limit, 48 are one past.
    let mut ok = with_components(0);
    let mut past = with_components(0);
    let slot = small_slot();
    component(&mut ok, "gamma");
    component(&mut past, "gamma");
    for j in 0..MAX_CAPS - 3 {
        channel(&mut ok, &format!("q{j}"), "gamma", "alpha", 4, slot);
        channel(&mut past, &format!("q{j}"), "gamma", "alpha", 4, slot);
    }
    channel(&mut past, "last", "gamma", "alpha", 4, slot);
    load(&Source::new("s.toml", ok), &big_board()).unwrap_or_else(|d| panic!("{d}"));
    let d = only_problem(load(&Source::new("s.toml", past), &big_board()));
    assert!(
        d.message
            .contains("`last` gives component `alpha` its capability 49"),
        "{d}"
    );
}

#[test]
fn the_ring_window_of_a_component_is_checked() {
    // 1024 slots of 64 KiB: a little over 64 MiB each. Three fit the 256 MiB ring window of one
    // component (with their guard pages), four do not.
    let rings = |n: usize| {
        let mut text = with_components(0);
        component(&mut text, "gamma");
        component(&mut text, "delta");
        for j in 0..n {
            channel(&mut text, &format!("r{j}"), "gamma", "delta", 1024, 65536);
        }
        text
    };
    load(&Source::new("s.toml", rings(3)), &big_board()).unwrap_or_else(|d| panic!("{d}"));
    let text = rings(4);
    let d = load(&Source::new("s.toml", text.clone()), &big_board()).expect_err("refused");
    assert_eq!(d.len(), 2, "one for each end:\n{d}");
    assert_eq!(d.0[0].line, line_of(&text, "name = \"r3\""));
    assert!(
        d.0[0]
            .message
            .contains("its ring window is 0x10000000 bytes"),
        "{d}"
    );
}

#[test]
fn the_renamed_monitor_cannot_be_used_twice() {
    let mut text = with_components(0);
    component(&mut text, "node-monitor");
    let d = only_problem(check(text.clone()));
    assert_eq!(d.line, line_of(&text, "name = \"node-monitor\""));
    assert!(
        d.message
            .contains("the name the Microkit export gives component `monitor`"),
        "{d}"
    );
    // Without a `monitor`, the name is free.
    let free = text.replace("name = \"monitor\"", "name = \"root\"");
    check(free).unwrap_or_else(|d| panic!("{d}"));
}

#[test]
fn a_file_of_the_size_limit_loads_and_one_byte_more_is_refused_there() {
    check(padded(MAX_FILE_BYTES)).unwrap_or_else(|d| panic!("{d}"));
    let text = padded(MAX_FILE_BYTES + 1);
    let d = only_problem(check(text.clone()));
    assert_eq!(d.line, text[..MAX_FILE_BYTES].matches('\n').count() + 1);
    assert!(
        d.message
            .contains("is 1048577 bytes; it may be at most 1048576"),
        "{d}"
    );
}

#[test]
fn a_36_mb_description_is_refused_unparsed() {
    let d = only_problem(check(padded(36 << 20)));
    assert!(d.message.contains("it may be at most 1048576 bytes"), "{d}");
}

#[test]
fn reading_a_file_past_the_limit_is_refused() {
    let dir = std::env::temp_dir().join(format!("kernel-config-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("big.toml");
    std::fs::write(&path, padded(MAX_FILE_BYTES + 1)).expect("write");
    let e = Source::read(&path).expect_err("refused");
    std::fs::write(&path, padded(MAX_FILE_BYTES)).expect("write");
    let ok = Source::read(&path);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(e.contains("is larger than 1048576 bytes"), "{e}");
    assert_eq!(ok.expect("at the limit").text.len(), MAX_FILE_BYTES);
}

#[test]
fn many_problems_are_counted_past_the_first_hundred() {
    // 300 channels between undeclared components: two problems each.
    let mut text = with_components(0);
    for j in 0..300 {
        channel(
            &mut text,
            &format!("u{j}"),
            "nobody",
            "no-one",
            4,
            small_slot(),
        );
    }
    let d = check(text).expect_err("refused");
    assert_eq!(d.len(), 101, "{d}");
    assert!(
        d.0[100].message.contains("500 more problems are not shown"),
        "{}",
        d.0[100]
    );
}
