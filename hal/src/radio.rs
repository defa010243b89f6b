//! Datagram radio: bounded frames sent and received without blocking.
//!
//! The primary ground link is a datagram radio: a frame goes out whole or not at all, may be
//! lost, may arrive late, and is never split or merged. Reliability, ordering, authentication
//! and de-duplication are the comms component's job, not the radio's.
//!
//! Both operations are non-blocking, so an event-driven component can call them from its
//! handler; a board signals "frames may be waiting" through its notification mechanism.
//! Failure modes are typed in [`RadioError`] so generic comms code can tell "try later" from
//! "this frame is wrong" from "the device is broken".

/// Why a radio operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadioError<E> {
    /// `send`: the transmit queue is full, try again later (nothing was sent).
    /// `recv`: never returned; an empty receive queue is `Ok(None)`.
    WouldBlock,
    /// `send`: the frame is longer than [`Radio::mtu`] (nothing was sent).
    FrameTooLong {
        /// Length of the offered frame.
        len: usize,
        /// The radio's maximum frame length.
        mtu: usize,
    },
    /// `send`: an empty frame (radios carry at least one byte).
    EmptyFrame,
    /// `recv`: the buffer is shorter than [`Radio::mtu`]; nothing was consumed. Always pass a
    /// buffer of at least `mtu` bytes so that no frame is ever truncated.
    BufferTooSmall {
        /// Length of the offered buffer.
        len: usize,
        /// The radio's maximum frame length.
        mtu: usize,
    },
    /// The device failed; the frame (if any) is lost.
    Device(E),
}

impl<E: core::fmt::Display> core::fmt::Display for RadioError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RadioError::WouldBlock => f.write_str("radio transmit queue full"),
            RadioError::FrameTooLong { len, mtu } => {
                write!(
                    f,
                    "frame of {len} bytes exceeds the radio MTU of {mtu} bytes"
                )
            }
            RadioError::EmptyFrame => f.write_str("empty radio frame"),
            RadioError::BufferTooSmall { len, mtu } => write!(
                f,
                "receive buffer of {len} bytes is smaller than the radio MTU of {mtu} bytes"
            ),
            RadioError::Device(e) => write!(f, "radio device error: {e}"),
        }
    }
}

impl<E: core::fmt::Debug + core::fmt::Display> core::error::Error for RadioError<E> {}

/// A non-blocking datagram radio.
pub trait Radio {
    /// Device-specific error.
    type Error: core::fmt::Debug + core::fmt::Display;

    /// Maximum frame length in bytes (payload as the component sees it).
    fn mtu(&self) -> usize;

    /// Queue one frame for transmission. Never blocks.
    ///
    /// `Ok(())` means the radio accepted the frame, not that anyone received it.
    fn try_send(&mut self, frame: &[u8]) -> Result<(), RadioError<Self::Error>>;

    /// Take one received frame into `buf`, returning its length, or `Ok(None)` when no frame is
    /// waiting. Never blocks. `buf` must be at least [`Radio::mtu`] bytes.
    fn try_recv(&mut self, buf: &mut [u8]) -> Result<Option<usize>, RadioError<Self::Error>>;
}
