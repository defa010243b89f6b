//! The two ground links as the node sees them: the primary datagram radio (one secured unit per
//! frame) and the standby serial line (one secured unit per HDLC frame, [`comms::hdlc`]).
//!
//! [`Links`] is the node's [`Downlink`]: it never blocks. A radio whose transmit queue is full,
//! a frame over the radio MTU, or a serial line that cannot take the whole frame now drops the
//! unit and counts it ([`TxStats`]); the ground's retransmission and the SDLS sequence numbers
//! handle the rest. A serial frame is written in pieces of [`SERIAL_WRITE`] bytes, each only
//! after the line says it is ready (the serial driver must have `WriteReady`); a frame cut
//! short by a line that stops being ready is ended with an HDLC abort so the ground's decoder
//! drops it instead of joining it to the next one.
//!
//! [`SerialRx`] keeps the bytes read from the line but not yet fed to the decoder, so that a
//! handler call can stop after a bounded number of frames and continue where it was.
//!
//! Avoids: blocking reads or writes, the heap.

use comms::hdlc::{self, Decoder, Feed};
use comms::node::Downlink;
use comms::sdls::MAX_UNIT_LEN;
use hal::radio::{Radio, RadioError};
use hal::serial::{Serial, WriteReady};
use protocol::LinkId;

/// HDLC decoder buffer: a unit plus its FCS.
pub const HDLC_FRAME_MAX: usize = MAX_UNIT_LEN + 2;
/// Encoded size of the largest unit.
pub const HDLC_ENCODED_MAX: usize = hdlc::max_encoded_len(MAX_UNIT_LEN);
/// Bytes written to the serial line per readiness check.
pub const SERIAL_WRITE: usize = 64;
/// Bytes read from the serial line at a time.
pub const SERIAL_READ: usize = 512;

/// Downlink counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxStats {
    /// Units sent on the radio.
    pub radio_sent: u32,
    /// Units the radio refused (queue full, too long, device error).
    pub radio_dropped: u32,
    /// Units sent on the serial line.
    pub serial_sent: u32,
    /// Units not (fully) written to the serial line.
    pub serial_dropped: u32,
}

/// The transmit side of both links, borrowed for one handler call.
pub struct Links<'a, R, S> {
    /// The radio.
    pub radio: &'a mut R,
    /// The serial line.
    pub serial: &'a mut S,
    /// Encoding buffer for serial frames.
    pub frame: &'a mut [u8; HDLC_ENCODED_MAX],
    /// Counters.
    pub stats: &'a mut TxStats,
}

impl<R: Radio, S: Serial + WriteReady> Links<'_, R, S> {
    fn send_serial(&mut self, unit: &[u8]) -> bool {
        let Ok(n) = hdlc::encode(unit, self.frame) else {
            return false;
        };
        let mut rest = self.frame.get(..n).unwrap_or(&[]);
        let mut wrote_any = false;
        while !rest.is_empty() {
            if !matches!(self.serial.write_ready(), Ok(true)) {
                break;
            }
            // Small writes: a ready line has room for at least this much, so a write never
            // waits for the ground to read.
            let piece = rest.get(..SERIAL_WRITE.min(rest.len())).unwrap_or(&[]);
            match self.serial.write(piece) {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    wrote_any = true;
                    rest = rest.get(k..).unwrap_or(&[]);
                }
            }
        }
        if rest.is_empty() {
            return true;
        }
        if wrote_any {
            // Abort the partial frame (escape then flag) if the line takes two more bytes.
            if matches!(self.serial.write_ready(), Ok(true)) {
                let _ = self.serial.write(&[hdlc::ESCAPE, hdlc::FLAG]);
            }
        }
        false
    }
}

impl<R: Radio, S: Serial + WriteReady> Downlink for Links<'_, R, S> {
    fn send(&mut self, link: LinkId, unit: &[u8]) {
        match link {
            LinkId::Primary => match self.radio.try_send(unit) {
                Ok(()) => self.stats.radio_sent = self.stats.radio_sent.wrapping_add(1),
                Err(RadioError::WouldBlock | RadioError::FrameTooLong { .. })
                | Err(RadioError::EmptyFrame | RadioError::BufferTooSmall { .. })
                | Err(RadioError::Device(_)) => {
                    self.stats.radio_dropped = self.stats.radio_dropped.wrapping_add(1)
                }
            },
            LinkId::Standby => {
                if self.send_serial(unit) {
                    self.stats.serial_sent = self.stats.serial_sent.wrapping_add(1);
                } else {
                    self.stats.serial_dropped = self.stats.serial_dropped.wrapping_add(1);
                }
            }
        }
    }
}

/// What one step of serial intake produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialStep {
    /// A complete frame is in [`SerialRx::frame`].
    Frame,
    /// A frame was dropped (bad FCS, too long, aborted).
    Dropped,
    /// No more bytes on the line now.
    Idle,
    /// The line failed (the ground end went away); nothing more now.
    Failed,
}

/// The receive side of the serial line: read buffer and HDLC decoder.
pub struct SerialRx {
    buf: [u8; SERIAL_READ],
    pos: usize,
    len: usize,
    decoder: Decoder<HDLC_FRAME_MAX>,
    /// Read errors seen.
    pub read_errors: u32,
}

impl Default for SerialRx {
    fn default() -> Self {
        Self::new()
    }
}

impl SerialRx {
    /// An empty receiver (usable in a `static`).
    pub const fn new() -> Self {
        SerialRx {
            buf: [0; SERIAL_READ],
            pos: 0,
            len: 0,
            decoder: Decoder::new(),
            read_errors: 0,
        }
    }

    /// The payload of the frame the last [`SerialRx::step`] returned [`SerialStep::Frame`] for.
    pub fn frame(&self) -> &[u8] {
        self.decoder.frame()
    }

    /// The decoder's counters.
    pub fn decoder_stats(&self) -> hdlc::DecoderStats {
        self.decoder.stats()
    }

    /// Feed buffered bytes (reading more, without blocking, when empty) until one frame ends.
    /// Reads at most one [`SERIAL_READ`] block per call, so a call is bounded.
    pub fn step<S: Serial>(&mut self, serial: &mut S) -> SerialStep {
        let mut read_once = false;
        loop {
            while self.pos < self.len {
                let b = self.buf.get(self.pos).copied().unwrap_or(hdlc::FLAG);
                self.pos += 1;
                match self.decoder.feed(b) {
                    Feed::Pending => {}
                    Feed::Frame(_) => return SerialStep::Frame,
                    Feed::Dropped(_) => return SerialStep::Dropped,
                }
            }
            if read_once {
                return SerialStep::Idle;
            }
            read_once = true;
            match serial.read_ready() {
                Ok(true) => {}
                Ok(false) => return SerialStep::Idle,
                Err(_) => {
                    self.read_errors = self.read_errors.wrapping_add(1);
                    return SerialStep::Failed;
                }
            }
            match serial.read(&mut self.buf) {
                Ok(0) => return SerialStep::Idle,
                Ok(n) => {
                    self.pos = 0;
                    self.len = n.min(SERIAL_READ);
                }
                Err(_) => {
                    self.read_errors = self.read_errors.wrapping_add(1);
                    return SerialStep::Failed;
                }
            }
        }
    }
}
