//! Text from outside (a description, a file name, a PSBT path, anything the operator did not
//! type into this very command) made safe to print: control characters and the invisible
//! Unicode format characters that reorder or hide text (bidirectional overrides and isolates
//! such as U+202E, zero-width characters, the byte-order mark) are shown as Rust escapes
//! (`\u{202e}`, `\t`), so a line reads as what it holds.
//!
//! Avoids: changing anything printable (quotes, backslashes and non-ASCII letters pass as
//! they are), allocation when there is nothing to escape.

use std::borrow::Cow;

/// True for a character a terminal would not show as itself.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}'                 // Arabic letter mark
            | '\u{200B}'..='\u{200F}'  // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}'  // line/paragraph separators, embeddings, overrides
            | '\u{2060}'..='\u{2069}'  // word joiner, invisible operators, isolates
            | '\u{FEFF}'               // byte-order mark
        )
}

/// `s` with every hidden character escaped.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_if(s, hidden)
}

/// A message of several lines: like [`escape`], but its own line breaks and tabs (a
/// diagnostic's layout) stay as they are.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    escape_if(s, |c| c != '\n' && c != '\t' && hidden(c))
}

fn escape_if(s: &str, escaped: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&escaped) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if escaped(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::{escape, escape_text};

    #[test]
    fn hidden_characters_are_shown_and_the_rest_left_alone() {
        assert_eq!(escape("evil\u{202E}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(escape("a\tb\x1b[31mc\n"), "a\\tb\\u{1b}[31mc\\n");
        assert_eq!(
            escape("zero\u{200B}width\u{FEFF}"),
            "zero\\u{200b}width\\u{feff}"
        );
        let plain = "Ünïcode \"quoted\" C:\\path";
        assert!(matches!(escape(plain), std::borrow::Cow::Borrowed(p) if p == plain));
        assert_eq!(
            escape_text("error: x\n  | \tname \u{202E}gnp.exe\r\n"),
            "error: x\n  | \tname \\u{202e}gnp.exe\\r\n"
        );
    }
}
