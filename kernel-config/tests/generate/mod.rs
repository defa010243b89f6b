//! Generated system descriptions for the limit tests and the checks benchmark: the minimal
//! fixtures of `tests/fixtures/` plus as many components and channels as asked.
//! Avoids: anything but text generation (each user loads and judges the result itself).
#![allow(dead_code)] // each user takes the generators it needs

use kernel_config::Source;
use std::fmt::Write;
use std::path::PathBuf;

pub fn fixture(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn board() -> Source {
    Source::new("board.toml", fixture("base-board.toml"))
}

/// A component with no devices, no health and a hold policy.
pub fn component(text: &mut String, name: &str) {
    let _ = write!(
        text,
        "\n[[component]]\nname = \"{name}\"\npriority = 100\nbudget-us = 1000\nperiod-us = 10000\nstack-size = 0x4000\nmemory-size = 0x1000\nintegrity = \"high\"\nrestart = {{ policy = \"hold\" }}\n"
    );
}

/// A channel carrying `restart-request` (not ping or pong, so health rules do not apply).
pub fn channel(text: &mut String, name: &str, from: &str, to: &str, slots: u32, slot_size: u32) {
    let _ = write!(
        text,
        "\n[[channel]]\nname = \"{name}\"\nfrom = \"{from}\"\nto = \"{to}\"\nmessage = \"restart-request\"\nslots = {slots}\nslot-size = {slot_size}\n"
    );
}

/// The smallest slot size that holds a `restart-request`.
pub fn small_slot() -> u32 {
    let m = protocol::catalogue::lookup("restart-request").expect("a catalogue message");
    (m.max_size as u32).div_ceil(64) * 64
}

/// The base description (3 components: monitor, alpha, beta) with `extra` components `c0..`.
pub fn with_components(extra: usize) -> String {
    let mut text = fixture("base-system.toml");
    for i in 0..extra {
        component(&mut text, &format!("c{i}"));
    }
    text
}

/// `n` components `k0..` (the first the root), no devices, and `channels` channels spread so
/// that every component holds the same number of ends.
pub fn spread(n: usize, channels: usize) -> String {
    let mut text = String::from("[system]\nname = \"spread\"\n");
    let _ = write!(
        text,
        "\n[[component]]\nname = \"k0\"\nroot = true\ncritical = true\nsafe-mode = true\npriority = 254\nbudget-us = 1000\nperiod-us = 1000\nstack-size = 0x4000\nmemory-size = 0x1000\nintegrity = \"high\"\n"
    );
    for i in 1..n {
        component(&mut text, &format!("k{i}"));
    }
    let slot = small_slot();
    for j in 0..channels {
        // Block b = j / n pairs every component with the one b + 1 places on: one send end and
        // one receive end each per block.
        let (from, d) = (j % n, 1 + (j / n) % (n - 1));
        let to = (from + d) % n;
        channel(
            &mut text,
            &format!("ch{j}"),
            &format!("k{from}"),
            &format!("k{to}"),
            4,
            slot,
        );
    }
    text
}

pub fn big_board() -> Source {
    // 512 MiB of RAM, for many rings or large ones.
    let text = fixture("base-board.toml").replace("size = 0x100_0000", "size = 0x2000_0000");
    Source::new("board.toml", text)
}

/// The base description padded with a comment to exactly `len` bytes.
pub fn padded(len: usize) -> String {
    let mut text = with_components(0);
    text.push('#');
    while text.len() < len - 1 {
        text.push('x');
    }
    text.push('\n');
    text
}
