//! Going on past serde's first error, so that `config check` reports every unknown key and every
//! value of the wrong type of a file in one run.
//!
//! serde stops at the first error. After each one, [`step_past`] edits a working copy of the
//! text so that the same error cannot happen again, and the caller parses again:
//!
//! - **unknown key** (`unknown field`): the whole `key = value` is blanked out;
//! - **wrong type** (`invalid type`, `invalid value`) or **unknown name** (`unknown variant`):
//!   the value is replaced by a placeholder of the expected type (`0`, `""`, `true`, `[]`, `{}`,
//!   the first listed name), when it fits in the value's bytes.
//!
//! Every edit replaces bytes with the same number of ASCII bytes (spaces for padding, newlines
//! kept), so every later error's position is a position in the original file. Anything else (a
//! syntax error, a missing key, a placeholder that does not fit, a key that is a whole `[table]`)
//! ends the run: what was found so far is reported, and nothing is invented.
//!
//! Avoids: reporting an error the edits themselves caused (placeholders are never reported and
//! parsing stops at the first error it cannot step past), and unbounded loops (at most
//! [`MAX_ERRORS`] errors per file).

use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Most errors reported for one file.
pub const MAX_ERRORS: usize = 64;

/// Edits `text` past the error `message` at `span`; `false` if it cannot (stop).
pub fn step_past(text: &mut String, span: &Range<usize>, message: &str) -> bool {
    let edit = if message.starts_with("unknown field") {
        key_value_at(text, span).map(|r| (r, String::new()))
    } else if message.starts_with("invalid type")
        || message.starts_with("invalid value")
        || message.starts_with("unknown variant")
    {
        placeholder(message).map(|p| (span.clone(), p))
    } else {
        None
    };
    let Some((range, with)) = edit else {
        return false;
    };
    replace_same_length(text, &range, &with)
}

/// Replaces `range` of `text` by `with` padded with spaces (newlines inside it kept); `false`
/// when `with` does not fit or the range is not one of `text`.
fn replace_same_length(text: &mut String, range: &Range<usize>, with: &str) -> bool {
    let Some(old) = text.get(range.clone()) else {
        return false;
    };
    if range.is_empty() || with.len() > old.len() {
        return false;
    }
    let mut new = String::with_capacity(old.len());
    new.push_str(with);
    for b in old.bytes().skip(with.len()) {
        new.push(if b == b'\n' { '\n' } else { ' ' });
    }
    // Multi-byte characters became one space per byte: same length.
    if new.len() != old.len() || new == old {
        return false;
    }
    text.replace_range(range.clone(), &new);
    true
}

/// The range `key ... value` of the entry whose key is at `span` (not for `[table]` headers).
fn key_value_at(text: &str, span: &Range<usize>) -> Option<Range<usize>> {
    let doc = DeTable::parse(text).ok()?;
    find(doc.get_ref(), span, text)
}

fn find(table: &DeTable<'_>, span: &Range<usize>, text: &str) -> Option<Range<usize>> {
    for (k, v) in table.iter() {
        if k.span() == *span {
            let inline = match v.get_ref() {
                DeValue::Table(_) => text.get(v.span())?.starts_with('{'),
                DeValue::Array(a) => {
                    a.iter().all(|e| !matches!(e.get_ref(), DeValue::Table(_)))
                        || text.get(v.span())?.starts_with('[')
                }
                _ => true,
            };
            return inline.then(|| k.span().start..v.span().end);
        }
        if let Some(r) = find_in(v, span, text) {
            return Some(r);
        }
    }
    None
}

fn find_in(v: &Spanned<DeValue<'_>>, span: &Range<usize>, text: &str) -> Option<Range<usize>> {
    match v.get_ref() {
        DeValue::Table(t) => find(t, span, text),
        DeValue::Array(a) => a.iter().find_map(|e| find_in(e, span, text)),
        _ => None,
    }
}

/// A value of the type serde's `message` says it expected.
fn placeholder(message: &str) -> Option<String> {
    let expected = message.split("expected").nth(1)?.trim();
    if message.starts_with("unknown variant") {
        let first = expected.split('`').nth(1)?;
        return Some(format!("\"{first}\""));
    }
    let p = if expected.contains("integer")
        || expected.starts_with('i') && expected[1..].chars().all(|c| c.is_ascii_digit())
        || expected.starts_with('u') && expected[1..].chars().all(|c| c.is_ascii_digit())
    {
        "0"
    } else if expected.contains("string") || expected.contains("char") {
        "\"\""
    } else if expected.contains("true or false") || expected.contains("boolean") {
        "true"
    } else if expected.contains("sequence") || expected.contains("array") {
        "[]"
    } else if expected.contains("map") || expected.contains("struct") || expected.contains("table")
    {
        "{}"
    } else {
        return None;
    };
    Some(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_is_blanked_with_its_value_and_positions_stay() {
        let mut t = String::from("a = 1\nbogus = [1,\n 2]\nb = 2\n");
        let span = 6..11;
        assert!(step_past(&mut t, &span, "unknown field `bogus`"));
        assert_eq!(t, "a = 1\n           \n   \nb = 2\n");
    }

    #[test]
    fn a_wrong_type_gets_a_placeholder_that_fits_or_stops() {
        let mut t = String::from("p = \"100\"\n");
        assert!(step_past(
            &mut t,
            &(4..9),
            "invalid type: string \"100\", expected an integer"
        ));
        assert_eq!(t, "p = 0    \n");
        let mut t = String::from("s = 1\n");
        assert!(!step_past(
            &mut t,
            &(4..5),
            "invalid type: integer `1`, expected a string"
        ));
        let mut t = String::from("i = \"medium\"\n");
        assert!(step_past(
            &mut t,
            &(4..12),
            "unknown variant `medium`, expected `high` or `low`"
        ));
        assert_eq!(t, "i = \"high\"  \n");
    }

    #[test]
    fn other_errors_stop() {
        let mut t = String::from("x = \n");
        assert!(!step_past(&mut t, &(0..1), "missing field `name`"));
        assert!(!step_past(&mut t, &(0..1), "invalid TOML"));
    }
}
