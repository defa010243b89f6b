//! Serial line: the `embedded-io` byte-stream traits, gathered into one bound.
//!
//! A serial line is an unframed, unreliable byte stream (framing, FCS and retransmission are the
//! comms component's job: PPP on the standby link). The contract, from `embedded-io`:
//! - [`embedded_io::Read::read`] blocks until at least one byte is available; an event-driven
//!   component first asks [`embedded_io::ReadReady::read_ready`], which never blocks;
//! - [`embedded_io::Write::write`] may accept fewer bytes than offered; `write_all` loops;
//! - errors carry an [`embedded_io::ErrorKind`]; a line that has gone away (the ground end of the
//!   sim pty closed, a UART fault) reports an error rather than `Ok(0)` forever.
//!
//! Bytes are passed through untouched: no echo, no CR/LF translation, no flow-control
//! characters (the sim board puts its pty in raw mode for exactly this reason).

pub use embedded_io::{self, ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};

/// A full-duplex serial line: readable without blocking (via `read_ready`) and writable.
///
/// Blanket-implemented for every type that has the three `embedded-io` traits, so a driver
/// never implements it directly.
pub trait Serial: Read + ReadReady + Write {}

impl<T: Read + ReadReady + Write> Serial for T {}
