//! CFDP class 2 (CCSDS 727.0-B-5 acknowledged mode): sign batches up, results down, over a lossy
//! link, resumable across a node reset.
//!
//! - [`receiver`]: the node's receiving entity; file bytes go straight to the comms flash, the
//!   transfer journal makes a reset resume rather than restart.
//! - [`sender`]: the sending entity (ground uplink, node downlink), paced to the link rate.
//! - [`pdu`], [`packet`]: PDUs (the `spacepackets` crate's `cfdp` module) in space packets with
//!   APID [`packet::CFDP_APID`].
//! - [`ranges`], [`checksum`], [`journal`], [`layout`]: the bounded range map, file checksums, the
//!   persistent record and where things live on flash.
//! - [`backoff`]: the doubling wait between repetitions of an unanswered EOF or Finished.
//! - `ground` (feature `std`): blocking UDP drivers with progress callbacks for the ground CLI,
//!   a RAM flash for the ground's receiver.
//!
//! Why not the `cfdp-rs` handlers: `cfdp-rs` 0.3 is built on `spacepackets` 0.16 while comms uses
//! 0.19 (two copies of every PDU type), its destination handler keeps its transaction state
//! private (a reset cannot resume: the transfer restarts), it does not implement keep-alive,
//! prompt or inactivity handling, and its metadata path panics on a metadata PDU carrying a
//! message-to-user option (a `copy_from_slice` into a fixed 1024-byte buffer). The wire format
//! here is entirely `spacepackets`' CFDP module, the same code `cfdp-rs` builds its PDUs with.
//!
//! `no_std`, no `alloc`: every buffer is bounded (one PDU on the stack, 256 ranges, a 64-byte
//! name). Time is a caller-supplied monotonic `Duration`. Avoids: OS calls, blocking, panics on
//! anything received.

pub mod backoff;
pub mod checksum;
pub mod error;
mod flash_io;
#[cfg(feature = "std")]
pub mod ground;
pub mod journal;
pub mod layout;
pub mod packet;
pub mod pdu;
pub mod ranges;
pub mod receiver;
pub mod sender;

pub use error::CfdpError;
pub use layout::{CFDP_FLASH_BASE, CfdpLayout};
pub use packet::CFDP_APID;
pub use receiver::{ReceivedFile, Receiver, ReceiverConfig, RxCounters, RxProgress};
pub use sender::{SendState, Sender, SenderConfig, TxProgress};

#[cfg(test)]
mod tests;

/// A CFDP condition code in words (CCSDS 727.0 table 5-5), for logs and the ground.
pub fn condition_text(c: spacepackets::cfdp::ConditionCode) -> &'static str {
    use spacepackets::cfdp::ConditionCode as C;
    match c {
        C::NoError => "no error",
        C::PositiveAckLimitReached => "positive ACK limit reached (the peer never acknowledged)",
        C::KeepAliveLimitReached => "keep-alive limit reached",
        C::InvalidTransmissionMode => "invalid transmission mode",
        C::FilestoreRejection => "filestore rejection",
        C::FileChecksumFailure => "file checksum failure",
        C::FileSizeError => "file size error",
        C::NakLimitReached => "NAK limit reached (too many retransmission requests)",
        C::InactivityDetected => "inactivity detected (the peer went silent)",
        C::CheckLimitReached => "check limit reached",
        C::UnsupportedChecksumType => "unsupported checksum type",
        C::SuspendRequestReceived => "suspend request received",
        C::CancelRequestReceived => "cancel request received",
    }
}
