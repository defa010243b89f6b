//! The one error type of the command line: a message for the user (already saying what to do)
//! and the exit status. Rejected input exits 1, usage and I/O problems exit 2.
//!
//! Every message is printed through [`crate::escape::escape_text`]: a control or bidi
//! character from a description, a file name or anything else quoted in it shows as an escape
//! (issue 13 finding 8), whichever path built the message.

use std::process::ExitCode;

#[derive(Debug)]
pub enum Failure {
    /// The input was read and judged invalid; the text is the full report (diagnostics).
    Rejected(String),
    /// Something around the input went wrong: a file could not be read or written, a name is unknown.
    Usage(String),
}

impl Failure {
    pub fn report(self) -> ExitCode {
        match self {
            Failure::Rejected(text) => {
                eprint!("{}", crate::escape::escape_text(&text));
                ExitCode::from(1)
            }
            Failure::Usage(text) => {
                eprintln!("error: {}", crate::escape::escape_text(&text));
                ExitCode::from(2)
            }
        }
    }
}
