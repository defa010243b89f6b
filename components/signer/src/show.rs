//! `Display` helpers for the signer's log lines: bytes as lowercase hex and optional values as
//! the value or a word, so no log line carries Rust debug text (`Some(0)`, `[f8, 65, ...]`).
//!
//! Avoids: allocation (they write through `core::fmt`).

use core::fmt;

/// Bytes as lowercase hex.
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::hexfmt::write(f, self.0)
    }
}

/// An optional value: the value, or `none`.
pub struct Maybe<T>(pub Option<T>);

impl<T: fmt::Display> fmt::Display for Maybe<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn hex_and_optional_values_read_as_text() {
        assert_eq!(format!("{}", Hex(&[0xf8, 0x65, 0x01])), "f86501");
        assert_eq!(
            format!("{} {}", Maybe(Some(3u16)), Maybe::<u8>(None)),
            "3 none"
        );
    }
}
