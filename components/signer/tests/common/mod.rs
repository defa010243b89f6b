//! Helpers shared by the vector tests: locating the copied vector files and decoding hex.
#![allow(dead_code)]

use hex_conservative::{DisplayHex, FromHex};
use std::path::PathBuf;

/// Path of a file under `verification/vectors/bips`, relative to this crate.
pub fn vector_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../verification/vectors/bips")
        .join(name)
}

/// The text of a vector file.
pub fn read_vector(name: &str) -> String {
    let p = vector_path(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// Decodes hex (panics on malformed test data).
pub fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    Vec::from_hex(s).unwrap_or_else(|e| panic!("bad hex in test data ({e}): {s}"))
}

/// Encodes bytes as lowercase hex.
pub fn to_hex(b: &[u8]) -> String {
    b.to_lower_hex_string()
}

/// The first whitespace-separated token after `marker` on `line` that is hex.
pub fn hex_after(line: &str, marker: &str) -> Option<Vec<u8>> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let tok = rest.split_whitespace().next()?;
    (!tok.is_empty() && tok.len().is_multiple_of(2) && tok.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex(tok))
}

/// A hex blob published in a mediawiki file: its line number and bytes.
pub struct Blob {
    pub line: usize,
    pub bytes: Vec<u8>,
}

/// Every "Bytes in Hex: <pre>...</pre>" blob (any capitalisation) with its line number.
pub fn hex_blobs(text: &str) -> Vec<Blob> {
    text.lines()
        .enumerate()
        .filter_map(|(n, l)| {
            let lower = l.to_ascii_lowercase();
            let at = lower.find("bytes in hex: <pre>")? + "bytes in hex: <pre>".len();
            let end = l[at..].find("</pre>")? + at;
            Some(Blob {
                line: n,
                bytes: hex(&l[at..end]),
            })
        })
        .collect()
}

/// Line number of the first line containing `needle` at or after `from`.
pub fn line_of(text: &str, needle: &str, from: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(from)
        .find(|(_, l)| l.contains(needle))
        .map(|(n, _)| n)
        .unwrap_or_else(|| panic!("'{needle}' not found"))
}

/// The "* Case: ..." title that precedes line `line`.
pub fn case_title(text: &str, line: usize) -> String {
    text.lines()
        .take(line)
        .filter_map(|l| l.strip_prefix("* Case: "))
        .last()
        .unwrap_or("")
        .to_string()
}
