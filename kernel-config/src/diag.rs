//! Diagnostics: what is wrong, where (file:line:col with the offending text underlined), and how
//! to fix it. Rendering is plain text with no colour so that fixtures can pin messages exactly.

use crate::source::Source;
use std::fmt;
use std::ops::Range;

/// Longest source line quoted under a diagnostic, in bytes.
pub const MAX_SNIPPET: usize = 512;

/// One problem in a description or board file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// The source line and the underlined part of it (start column, width), 1-based columns.
    snippet: Option<(String, usize, usize)>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at a byte span of a source file. A line longer than [`MAX_SNIPPET`] bytes is
    /// not quoted (the position still says where): it is no line anyone wrote by hand.
    pub fn at(src: &Source, span: Range<usize>, message: impl Into<String>) -> Self {
        let span = src.first_line_span(&span);
        let (line, col) = src.line_col(span.start);
        let text = src.line_text(line);
        let snippet = (text.len() <= MAX_SNIPPET).then(|| {
            let width = src.text[span.clone()].chars().count().max(1);
            (text.to_string(), col, width)
        });
        Self {
            file: src.name.clone(),
            line,
            col,
            message: message.into(),
            snippet,
            notes: Vec::new(),
            help: None,
        }
    }

    /// A diagnostic about a whole file (for example one that cannot be read).
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: 0,
            col: 0,
            message: message.into(),
            snippet: None,
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// `file:line:col`, or just the file when no position applies.
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.file.clone()
        } else {
            format!("{}:{}:{}", self.file, self.line, self.col)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let gutter = " ".repeat(self.line.to_string().len());
        writeln!(f, "{gutter}--> {}", self.location())?;
        if let Some((text, col, width)) = &self.snippet {
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{} | {}", self.line, text)?;
            let pad: String = text
                .chars()
                .take(col - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(f, "{gutter} | {pad}{}", "^".repeat(*width))?;
        }
        for note in &self.notes {
            writeln!(f, "{gutter} = note: {note}")?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "{gutter} = help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found in one load, in file order. A load reports all it can find at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        match self.0.len() {
            0 => Ok(()),
            1 => writeln!(f, "\n1 error"),
            n => writeln!(f, "\n{n} errors"),
        }
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}
