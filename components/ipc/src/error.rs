//! Typed errors of every ipc operation. Each says what went wrong; none carries a panic path.
//!
//! Avoids: `std`, allocation, and error types that lose which side (own or peer) is at fault.

use core::fmt;

/// A channel geometry that cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryError {
    /// The kind name is empty or longer than 32 bytes.
    KindName,
    /// Slot count is 0 or above 65536.
    SlotCount(u32),
    /// Slot size is 0 or above 1 MiB.
    SlotSize(u32),
}

/// Why a region could not be initialised or attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionError {
    /// The region does not start on a 64-byte boundary.
    Misaligned,
    /// The region is smaller than the spec needs.
    TooSmall {
        /// Bytes the spec needs.
        needed: usize,
        /// Bytes provided.
        provided: usize,
    },
    /// The header does not start with the magic: not an initialised channel region.
    BadMagic,
    /// The header has another layout version.
    BadVersion(u32),
    /// The header's slot count, slot size, stride or kind differs from the spec.
    SpecMismatch,
}

/// Why an endpoint could not be made from a capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointError {
    /// The capability is for another message kind.
    KindMismatch {
        /// Kind of the channel.
        channel: &'static str,
        /// Kind of the endpoint's message type.
        message: &'static str,
    },
    /// The slots are smaller than the message type's maximum size.
    SlotTooSmall {
        /// Slot size of the channel.
        slot_size: u32,
        /// Maximum size of the message type.
        needed: usize,
    },
    /// The archived message type needs more than 8-byte alignment.
    Alignment(usize),
    /// The receiver-private copy buffer is smaller than one slot.
    ScratchTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes provided.
        provided: usize,
    },
    /// Zero-copy receive was asked for on a channel whose sender is less trusted; use copy-in.
    CopyInRequired,
    /// The shared index this endpoint resumes from is out of range (corrupted by the peer).
    CorruptIndex(u32),
}

/// Why a send failed. Nothing was published unless the variant says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// Every slot is in use; try again after the receiver has consumed one.
    Full,
    /// The serialised message does not fit in a slot.
    TooLarge,
    /// The message type's serialiser failed for a reason other than size (for example it needs
    /// scratch allocation, which channels do not provide).
    Serialize,
    /// The receiver's consumer index is out of range: the peer corrupted the region.
    PeerCorrupt(u32),
    /// The message WAS published, but signalling the receiver failed.
    Notify(NotifyError),
}

/// Why a receive returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// No message is waiting.
    Empty,
    /// The next slot did not hold a valid message; it was dropped and counted.
    Malformed,
    /// The sender's producer index is out of range: the peer corrupted the region. Nothing was
    /// consumed; counted.
    PeerCorrupt(u32),
}

/// A notification backend failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyError {
    /// The operating system refused, with this errno.
    Os(i32),
}

macro_rules! display {
    ($ty:ty, $self:ident, $f:ident, $body:expr) => {
        impl fmt::Display for $ty {
            fn fmt(&$self, $f: &mut fmt::Formatter<'_>) -> fmt::Result {
                $body
            }
        }
        impl core::error::Error for $ty {}
    };
}

display!(
    GeometryError,
    self,
    f,
    match self {
        Self::KindName => f.write_str("channel message kind name must be 1 to 32 bytes"),
        Self::SlotCount(n) => write!(f, "slot count {n} is outside 1..=65536"),
        Self::SlotSize(n) => write!(f, "slot size {n} is outside 1..=1048576 bytes"),
    }
);

display!(
    RegionError,
    self,
    f,
    match self {
        Self::Misaligned => f.write_str("channel region does not start on a 64-byte boundary"),
        Self::TooSmall { needed, provided } => {
            write!(
                f,
                "channel region has {provided} bytes, the channel needs {needed}"
            )
        }
        Self::BadMagic => f.write_str("memory is not an initialised channel region (bad magic)"),
        Self::BadVersion(v) => write!(f, "channel region layout version {v} is not supported"),
        Self::SpecMismatch => f.write_str("channel region header does not match the channel spec"),
    }
);

display!(
    EndpointError,
    self,
    f,
    match self {
        Self::KindMismatch { channel, message } => {
            write!(
                f,
                "channel carries {channel:?}, endpoint type is {message:?}"
            )
        }
        Self::SlotTooSmall { slot_size, needed } => {
            write!(
                f,
                "slot size {slot_size} is below the message maximum of {needed} bytes"
            )
        }
        Self::Alignment(a) => write!(f, "archived message alignment {a} exceeds 8"),
        Self::ScratchTooSmall { needed, provided } => {
            write!(
                f,
                "copy-in buffer has {provided} bytes, a slot needs {needed}"
            )
        }
        Self::CopyInRequired =>
            f.write_str("sender is less trusted than receiver: copy-in required"),
        Self::CorruptIndex(i) => write!(f, "shared ring index {i} is out of range"),
    }
);

display!(
    SendError,
    self,
    f,
    match self {
        Self::Full => f.write_str("channel is full"),
        Self::TooLarge => f.write_str("message does not fit in a slot"),
        Self::Serialize => f.write_str("message could not be serialised without allocation"),
        Self::PeerCorrupt(i) => write!(f, "receiver's consumer index {i} is out of range"),
        Self::Notify(e) => write!(f, "message published but signalling failed: {e}"),
    }
);

display!(
    RecvError,
    self,
    f,
    match self {
        Self::Empty => f.write_str("channel is empty"),
        Self::Malformed => f.write_str("malformed message dropped"),
        Self::PeerCorrupt(i) => write!(f, "sender's producer index {i} is out of range"),
    }
);

display!(
    NotifyError,
    self,
    f,
    match self {
        Self::Os(errno) => write!(f, "notification failed: errno {errno}"),
    }
);
