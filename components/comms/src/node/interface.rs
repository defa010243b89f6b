//! The node's interface to its caller: the time of an event, the channels and the downlink the
//! caller owns, and what became of a received unit.
//!
//! Avoids: anything the caller would have to allocate; the traits take borrowed bytes.

use hal::time::Instant;
use protocol::{AdminRequest, LinkId, NodeCommand, SignRequest, UpgradeChunk};

use crate::dedup::Progress;
use crate::failure::Failure;
use crate::sdls::UplinkReject;

/// The time of an event: monotonic (for link timing) and mission time (for TM stamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic clock.
    pub mono: Instant,
    /// Mission time, µs since 1970, if known.
    pub mission_us: Option<u64>,
}

/// A message for a component channel.
#[derive(Debug, Clone, Copy)]
pub enum Outbound<'a> {
    /// For the signer.
    Sign(&'a SignRequest),
    /// For the upgrade agent.
    Upgrade(&'a UpgradeChunk),
    /// For the signer's registry administration.
    Admin(&'a AdminRequest),
    /// For the watchdog.
    Node(&'a NodeCommand),
}

/// Why a forward failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardError {
    /// The ring is full (retry later).
    Full,
    /// Anything else.
    Failed,
}

/// The component channels comms holds (the caller maps channel indices to `ipc` producers).
pub trait Forwarder {
    /// Send `msg` on channel `channel`.
    fn forward(&mut self, channel: usize, msg: Outbound<'_>) -> Result<(), ForwardError>;

    /// The staging buffer a chunked admin envelope is reassembled in (at least
    /// `protocol::ADMIN_COMMAND_MAX` bytes, static memory of the partition, kept between calls).
    /// `None` (the default): admin envelopes are refused with `AdminTooLarge`.
    fn admin_staging(&mut self) -> Option<&mut [u8]> {
        None
    }
}

/// The active link's transmitter.
pub trait Downlink {
    /// Send one secured unit on `link`.
    fn send(&mut self, link: LinkId, unit: &[u8]);
}

/// What became of one received unit (for tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitOutcome {
    /// Refused by the security layer; nothing was sent.
    Refused(UplinkReject),
    /// Authenticated but not a usable TC; refused with this failure (1,2 or event).
    BadPacket(Failure),
    /// Refused by routing or argument checks (1,2).
    Rejected(Failure),
    /// A duplicate: reports sent again, nothing ran.
    Duplicate,
    /// Ran (or was forwarded) with this progress.
    Ran(Progress),
    /// An authenticated CFDP packet ([`crate::cfdp::CFDP_APID`]) under association `spi`, which
    /// may send batches: `unit[start..start + len]` is the space packet, for the caller's CFDP
    /// entity ([`super::Node::on_unit`] does not run CFDP itself). From an association without the
    /// sign permission it is [`super::UnitOutcome::Rejected`] (`Unauthorised`) instead, unanswered.
    Cfdp {
        /// The association that carried it (answers go down under it).
        spi: u16,
        /// Offset of the packet in the unit.
        start: usize,
        /// Length of the packet.
        len: usize,
    },
}
