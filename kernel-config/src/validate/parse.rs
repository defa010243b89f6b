//! TOML text to the raw shapes of `raw`, with every serde error as a positioned diagnostic.
//! Avoids: reading files, and parsing a text larger than [`super::limits::MAX_FILE_BYTES`].

use super::limits::MAX_FILE_BYTES;
use crate::diag::{Diagnostic, Diagnostics};
use crate::source::Source;

/// Parses TOML into a raw shape, turning serde's errors into diagnostics with positions: every
/// unknown key and every value of the wrong type, not only the first ([`crate::recover`]).
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    src: &Source,
    what: &str,
) -> Result<T, Diagnostics> {
    if src.text.len() > MAX_FILE_BYTES {
        let at = MAX_FILE_BYTES..MAX_FILE_BYTES + 1;
        let d = Diagnostic::at(
            src,
            at,
            format!(
                "{what} is {} bytes; it may be at most {MAX_FILE_BYTES} bytes (1 MiB), and this is where it passes that",
                src.text.len()
            ),
        )
        .help("a description of every component and channel the node can hold is far smaller: remove what it cannot run");
        return Err(Diagnostics(vec![d]));
    }
    let mut text = src.text.clone();
    let mut diags = Vec::new();
    while diags.len() < crate::recover::MAX_ERRORS {
        let e = match toml::from_str::<T>(&text) {
            Ok(v) if diags.is_empty() => return Ok(v),
            Ok(_) => break,
            Err(e) => e,
        };
        let span = e.span().unwrap_or(0..0);
        diags.push((span.start, parse_diagnostic(src, what, &e)));
        if !crate::recover::step_past(&mut text, &span, e.message().trim()) {
            break;
        }
    }
    // In file order (serde finds them table by table).
    diags.sort_by_key(|(at, _)| *at);
    Err(Diagnostics(diags.into_iter().map(|(_, d)| d).collect()))
}

/// One serde error as a diagnostic on the original text.
fn parse_diagnostic(src: &Source, what: &str, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let msg = e
        .message()
        .trim()
        .replace("expected i64", "expected an integer")
        .replace("expected a boolean", "expected true or false");
    let help = if msg.starts_with("unknown field") {
        format!(
            "remove the key or fix its spelling; the {what} format is described in kernel-config/README.md"
        )
    } else if msg.starts_with("missing field") {
        "add the missing key to this table".to_string()
    } else if msg.starts_with("unknown variant") {
        "use one of the values listed".to_string()
    } else if msg.starts_with("invalid type") {
        "give the value the type the format expects (numbers unquoted, names quoted)".to_string()
    } else {
        "fix the TOML syntax at this position".to_string()
    };
    Diagnostic::at(src, span, format!("{what}: {msg}")).help(help)
}
