//! RFC 1662 HDLC-like framing on send, into a fixed transmit queue the caller drains.
//!
//! A frame is `7E | A C | protocol | information | FCS | 7E` with every octet between the flags
//! escaped (`7D`, octet XOR `20`) when it is `7E`, `7D`, or a control character (< `20`) flagged
//! in the ACCM the peer asked for. The Address/Control field (`FF 03`) is omitted only when the
//! peer negotiated Address-and-Control-Field-Compression, and a protocol number below `0x100`
//! is sent in one octet only when it negotiated Protocol-Field-Compression. Which options apply
//! to a frame is the caller's choice: the engine (`link`) sends every LCP packet with the full
//! Address/Control field (RFC 1661 §6.6), and LCP Configure/Terminate/Code-Reject packets with
//! every control character escaped (RFC 1662 §7.1), whatever was negotiated.
//!
//! Avoids: heap; a frame half written into the queue (a frame that does not fit is refused
//! whole, the queue is left as it was).

use crate::fcs::Running;

/// Flag sequence.
pub const FLAG: u8 = 0x7E;
/// Control escape.
pub const ESCAPE: u8 = 0x7D;
/// XOR applied to an escaped octet.
pub const XOR: u8 = 0x20;
/// Bytes the transmit queue holds: two worst-case (fully escaped) maximum-size frames.
pub const TX_CAPACITY: usize = 2 * (2 * (crate::MAX_INFO + 6) + 2);

/// How frames are sent: what the peer negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOptions {
    /// The peer's receive ACCM: control characters to escape.
    pub accm: u32,
    /// Omit the Address/Control field.
    pub acfc: bool,
    /// Send protocol numbers below 0x100 in one octet.
    pub pfc: bool,
}

impl SendOptions {
    /// RFC 1662 defaults, in force until LCP is Opened: escape every control character, no
    /// compression.
    pub const DEFAULT: Self = Self {
        accm: 0xFFFF_FFFF,
        acfc: false,
        pfc: false,
    };
}

/// The frame does not fit in the transmit queue (the caller has not drained it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("PPP transmit queue full: drain it with Ppp::transmit before sending more")]
pub struct QueueFull;

/// Encoded frames waiting for the serial line.
pub struct TxQueue {
    buf: [u8; TX_CAPACITY],
    len: usize,
}

impl Default for TxQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl TxQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        Self {
            buf: [0; TX_CAPACITY],
            len: 0,
        }
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Moves up to `out.len()` waiting bytes into `out`; returns how many.
    pub fn drain(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
        n
    }

    /// Appends one frame carrying `protocol` and the concatenation of `parts` as its
    /// information field, framed per `opts`.
    pub fn push(
        &mut self,
        opts: SendOptions,
        protocol: u16,
        parts: &[&[u8]],
    ) -> Result<(), QueueFull> {
        let mut w = Writer {
            q: self,
            at: 0,
            accm: opts.accm,
            fcs: Running::new(),
        };
        w.at = w.q.len;
        w.raw(FLAG)?;
        if !opts.acfc {
            w.octets(&[0xFF, 0x03])?;
        }
        let pb = protocol.to_be_bytes();
        if opts.pfc && pb[0] == 0 {
            w.octets(&pb[1..])?;
        } else {
            w.octets(&pb)?;
        }
        for part in parts {
            w.octets(part)?;
        }
        let fcs = core::mem::take(&mut w.fcs).finish().to_le_bytes();
        w.escaped(&fcs)?;
        w.raw(FLAG)?;
        let end = w.at;
        self.len = end;
        Ok(())
    }
}

struct Writer<'q> {
    q: &'q mut TxQueue,
    at: usize,
    accm: u32,
    fcs: Running,
}

impl Writer<'_> {
    fn raw(&mut self, b: u8) -> Result<(), QueueFull> {
        *self.q.buf.get_mut(self.at).ok_or(QueueFull)? = b;
        self.at += 1;
        Ok(())
    }

    fn escaped(&mut self, bytes: &[u8]) -> Result<(), QueueFull> {
        for &b in bytes {
            if needs_escape(b, self.accm) {
                self.raw(ESCAPE)?;
                self.raw(b ^ XOR)?;
            } else {
                self.raw(b)?;
            }
        }
        Ok(())
    }

    fn octets(&mut self, bytes: &[u8]) -> Result<(), QueueFull> {
        self.fcs.update(bytes);
        self.escaped(bytes)
    }
}

/// Whether `b` is escaped on a link whose peer asked for `accm`.
pub fn needs_escape(b: u8, accm: u32) -> bool {
    b == FLAG || b == ESCAPE || (b < 0x20 && accm & (1 << b) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opts: SendOptions, protocol: u16, info: &[u8]) -> ([u8; 64], usize) {
        let mut q = TxQueue::new();
        q.push(opts, protocol, &[info]).unwrap();
        let mut out = [0u8; 64];
        let n = q.drain(&mut out);
        (out, n)
    }

    #[test]
    fn default_options_escape_every_control_character() {
        // LCP Configure-Request id 1, no options: FF 03 C0 21 01 01 00 04, FCS, all control
        // characters (01, 00, 04, 03) escaped.
        let (out, n) = frame(SendOptions::DEFAULT, 0xC021, &[1, 1, 0, 4]);
        let body = &out[..n];
        assert_eq!(body[0], FLAG);
        assert_eq!(body[n - 1], FLAG);
        assert_eq!(&body[1..4], &[0xFF, 0x7D, 0x23]);
        assert!(body[1..n - 1].iter().all(|&b| b >= 0x20 && b != FLAG));
    }

    #[test]
    fn compression_and_accm_zero() {
        let opts = SendOptions {
            accm: 0,
            acfc: true,
            pfc: true,
        };
        let (out, n) = frame(opts, 0x0021, &[0x45, 0x7E, 0x01]);
        // flag, protocol 21, 45, 7D 5E, 01 (not escaped, ACCM 0), FCS(2, maybe escaped), flag
        assert_eq!(&out[..6], &[FLAG, 0x21, 0x45, 0x7D, 0x5E, 0x01]);
        assert_eq!(out[n - 1], FLAG);
    }

    #[test]
    fn a_frame_that_does_not_fit_leaves_the_queue_unchanged() {
        let mut q = TxQueue::new();
        let big = [0x7Eu8; crate::MAX_INFO];
        q.push(SendOptions::DEFAULT, 0x0021, &[&big]).unwrap();
        q.push(SendOptions::DEFAULT, 0x0021, &[&big]).unwrap();
        let before = q.len();
        assert_eq!(
            q.push(SendOptions::DEFAULT, 0x0021, &[&big]),
            Err(QueueFull)
        );
        assert_eq!(q.len(), before);
    }
}
