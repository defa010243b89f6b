//! RFC 1662 HDLC-like framing on receive: a byte-at-a-time state machine with a fixed buffer.
//!
//! - Any octet after `7D` is accepted and XORed with `20` (RFC 1662 §4.2: the receiver does not
//!   check that escaping was needed); `7D 7E` is the abort sequence: the frame is dropped.
//! - An unescaped control character flagged in our receive ACCM is removed before the FCS is
//!   computed (§7.1: it may have been inserted by the data communications equipment).
//! - The Address/Control field `FF 03` is optional on receive (a peer may compress it; `FF` can
//!   not be the first octet of a protocol number, so there is no ambiguity), and a one-octet
//!   protocol field is accepted; an address other than `FF`, a control other than `03`, or a
//!   protocol number that breaks RFC 1661 §2's odd/even rule is refused.
//! - A frame longer than [`crate::MAX_INFO`] plus headers is dropped; the machine resynchronises
//!   on the next flag. Back-to-back flags (idle fill, shared flags) are not errors.
//!
//! Avoids: heap; panics on any input.

use crate::fcs;
use crate::frame::{ESCAPE, FLAG, XOR};

const CAPACITY: usize = crate::MAX_INFO + 6;

/// Why a received frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RxError {
    /// The FCS did not check: line noise or a truncated frame.
    #[error("PPP frame dropped: bad FCS (line noise?)")]
    Fcs,
    /// Longer than the MRU allows.
    #[error("PPP frame dropped: longer than the {} octet MRU", crate::MAX_INFO)]
    TooLong,
    /// Fewer octets than a protocol field and an FCS.
    #[error("PPP frame dropped: shorter than a protocol field and an FCS")]
    TooShort,
    /// The sender aborted it (`7D 7E`).
    #[error("PPP frame dropped: aborted by the sender (7D 7E)")]
    Aborted,
    /// Address not `FF`, control not `03`, or a malformed protocol number.
    #[error("PPP frame dropped: bad address/control or protocol field")]
    BadHeader,
}

/// What one received octet completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing yet.
    Pending,
    /// A good frame: its protocol and where its information field lies in [`Deframer::buffer`].
    Frame {
        protocol: u16,
        start: usize,
        end: usize,
    },
    /// A frame was dropped.
    Dropped(RxError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a flag (start, or after an overlong frame).
    Hunt,
    /// Inside a frame.
    Data { escaped: bool },
}

/// The receive state machine.
pub struct Deframer {
    buf: [u8; CAPACITY],
    len: usize,
    state: State,
    overlong: bool,
    /// `buf[..len]` holds a completed frame the caller may still read.
    frame_done: bool,
}

impl Default for Deframer {
    fn default() -> Self {
        Self::new()
    }
}

impl Deframer {
    /// A machine hunting for the first flag.
    pub const fn new() -> Self {
        Self {
            buf: [0; CAPACITY],
            len: 0,
            state: State::Hunt,
            overlong: false,
            frame_done: false,
        }
    }

    /// The bytes of the last completed frame (valid until the next [`Self::feed`]).
    pub fn buffer(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Feeds one received octet; `rx_accm` is the ACCM we asked the peer to use.
    pub fn feed(&mut self, b: u8, rx_accm: u32) -> Step {
        if self.frame_done {
            self.len = 0;
            self.frame_done = false;
        }
        match (self.state, b) {
            (State::Hunt, FLAG) => self.start(),
            (State::Hunt, _) => Step::Pending,
            (State::Data { escaped: true }, FLAG) => {
                self.start();
                Step::Dropped(RxError::Aborted)
            }
            (State::Data { escaped: false }, FLAG) => {
                let step = self.end();
                if let Step::Frame { .. } = step {
                    // The flag also opens the next frame; the completed one stays readable
                    // until the next octet.
                    self.state = State::Data { escaped: false };
                    self.overlong = false;
                    return step;
                }
                self.start();
                step
            }
            (State::Data { escaped: false }, ESCAPE) => {
                self.state = State::Data { escaped: true };
                Step::Pending
            }
            (State::Data { escaped: false }, c) if c < 0x20 && rx_accm & (1 << c) != 0 => {
                Step::Pending
            }
            (State::Data { escaped }, c) => {
                self.state = State::Data { escaped: false };
                self.store(if escaped { c ^ XOR } else { c });
                Step::Pending
            }
        }
    }

    fn start(&mut self) -> Step {
        self.len = 0;
        self.overlong = false;
        self.state = State::Data { escaped: false };
        Step::Pending
    }

    fn store(&mut self, b: u8) {
        if self.len < CAPACITY {
            self.buf[self.len] = b;
            self.len += 1;
        } else {
            self.overlong = true;
        }
    }

    fn end(&mut self) -> Step {
        let len = core::mem::take(&mut self.len);
        if self.overlong {
            return Step::Dropped(RxError::TooLong);
        }
        if len == 0 {
            return Step::Pending;
        }
        if len < 3 {
            return Step::Dropped(RxError::TooShort);
        }
        if !fcs::is_good(&self.buf[..len]) {
            return Step::Dropped(RxError::Fcs);
        }
        let body = &self.buf[..len - 2];
        let mut at = 0;
        if body.first() == Some(&0xFF) {
            if body.get(1) != Some(&0x03) {
                return Step::Dropped(RxError::BadHeader);
            }
            at = 2;
        }
        let Some(&first) = body.get(at) else {
            return Step::Dropped(RxError::TooShort);
        };
        let protocol = if first & 1 == 1 {
            at += 1;
            u16::from(first)
        } else {
            let Some(&second) = body.get(at + 1) else {
                return Step::Dropped(RxError::TooShort);
            };
            if second & 1 == 0 {
                return Step::Dropped(RxError::BadHeader);
            }
            at += 2;
            u16::from_be_bytes([first, second])
        };
        self.len = len;
        self.frame_done = true;
        Step::Frame {
            protocol,
            start: at,
            end: len - 2,
        }
    }
}
