//! A description file held in memory with its display name, and the byte-offset to line:column
//! mapping every diagnostic uses. It reads nothing by itself beyond the one file it is asked for.

use crate::validate::limits::MAX_FILE_BYTES;
use std::ops::Range;
use std::path::Path;

/// One TOML file: the name shown in diagnostics (as the user gave it) and its text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }

    /// Reads a file of at most [`MAX_FILE_BYTES`] (reading no more than one byte past it); the
    /// error says which file could not be read and why.
    pub fn read(path: &Path) -> Result<Self, String> {
        use std::io::Read;
        let cannot = |e: std::io::Error| format!("cannot read `{}`: {e}", path.display());
        let file = std::fs::File::open(path).map_err(cannot)?;
        let mut text = String::new();
        file.take(MAX_FILE_BYTES as u64 + 1)
            .read_to_string(&mut text)
            .map_err(cannot)?;
        if text.len() > MAX_FILE_BYTES {
            return Err(format!(
                "`{}` is larger than {MAX_FILE_BYTES} bytes (1 MiB), the most a description or board file may be; remove what the node cannot run",
                path.display()
            ));
        }
        Ok(Self::new(path.display().to_string(), text))
    }

    /// 1-based line and column (in characters) of a byte offset, clamped to the text.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, line: usize) -> &str {
        self.text
            .split('\n')
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .trim_end_matches('\r')
    }

    /// The span clamped to the text and shrunk to its first line, for underlining.
    pub fn first_line_span(&self, span: &Range<usize>) -> Range<usize> {
        let start = floor_char_boundary(&self.text, span.start.min(self.text.len()));
        let end = floor_char_boundary(&self.text, span.end.min(self.text.len())).max(start);
        let end = self.text[start..end].find('\n').map_or(end, |i| start + i);
        start..end
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let s = Source::new("x.toml", "a = 1\nnamé = \"b\"\n");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(6), (2, 1));
        let b = s.text.find("\"b\"").unwrap();
        assert_eq!(s.line_col(b), (2, 8));
        assert_eq!(s.line_text(2), "namé = \"b\"");
        assert_eq!(s.line_col(10_000), (3, 1));
    }
}
