//! Forwarding a component's stderr, line by line, prefixed with its name by the caller.
//!
//! The pipe is non-blocking; [`LogPipe::drain`] takes whatever is there and returns the complete
//! lines. A line longer than [`MAX_LINE`] bytes is cut there and continued on the next line, so
//! a component cannot make the monitor buffer without bound. Invalid UTF-8 is shown lossily.
//! At end of file the partial last line is returned too.
//!
//! Avoids: blocking reads and trusting the content (control characters other than tab are
//! replaced, so a component cannot forge another component's prefix with a carriage return).

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, BorrowedFd};

/// Longest line forwarded in one piece.
pub const MAX_LINE: usize = 1024;

/// The monitor's end of one component's stderr.
#[derive(Debug)]
pub struct LogPipe {
    file: File,
    partial: Vec<u8>,
    eof: bool,
}

/// Result of one drain.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// Complete lines, without their newline.
    pub lines: Vec<String>,
    /// The writer closed its end (the process ended).
    pub eof: bool,
}

fn clean(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

impl LogPipe {
    /// Wraps the read end of a non-blocking pipe.
    pub fn new(file: File) -> Self {
        LogPipe {
            file,
            partial: Vec::new(),
            eof: false,
        }
    }

    /// Reads what is available and returns the complete lines.
    pub fn drain(&mut self) -> Drained {
        let mut out = Drained::default();
        let mut buf = [0u8; 4096];
        while !self.eof {
            match self.file.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.partial.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // WouldBlock: drained for now. Any other error: treat as closed.
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => self.eof = true,
            }
            self.take_lines(&mut out.lines);
        }
        self.take_lines(&mut out.lines);
        if self.eof && !self.partial.is_empty() {
            out.lines.push(clean(&self.partial));
            self.partial.clear();
        }
        out.eof = self.eof;
        out
    }

    fn take_lines(&mut self, lines: &mut Vec<String>) {
        loop {
            if let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
                lines.push(clean(&self.partial[..i]));
                self.partial.drain(..=i);
            } else if self.partial.len() >= MAX_LINE {
                lines.push(clean(&self.partial[..MAX_LINE]));
                self.partial.drain(..MAX_LINE);
            } else {
                return;
            }
        }
    }

    /// Whether the writer has closed its end.
    pub fn closed(&self) -> bool {
        self.eof
    }
}

impl AsFd for LogPipe {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lines_are_split_cut_cleaned_and_flushed_at_eof() {
        let (r, w) = rustix::pipe::pipe().expect("pipe");
        rustix::io::ioctl_fionbio(&r, true).expect("nonblock");
        let mut w = File::from(w);
        let mut p = LogPipe::new(File::from(r));
        w.write_all(b"one\ntw").expect("write");
        assert_eq!(p.drain().lines, vec!["one"]);
        w.write_all(b"o\r[signer] forged\n").expect("write");
        assert_eq!(p.drain().lines, vec!["two\u{fffd}[signer] forged"]);
        w.write_all(&vec![b'x'; MAX_LINE + 5]).expect("write");
        let d = p.drain();
        assert_eq!(d.lines.len(), 1);
        assert_eq!(d.lines[0].len(), MAX_LINE);
        assert!(!d.eof);
        drop(w);
        let d = p.drain();
        assert_eq!(d.lines, vec!["xxxxx"]);
        assert!(d.eof && p.closed());
    }
}
