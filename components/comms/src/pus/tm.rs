//! Telemetry: build PUS-C TM packets (node) and read them back (ground).
//!
//! [`TmWriter`] keeps the packet sequence count of the node's APID (14 bits, wrapping) and a
//! message type counter per message type it emits (PUS-C §7.4.3.1, 16 bits, wrapping). The
//! packet itself is `spacepackets::ecss::tm::PusTmCreator`'s, with CRC.
//!
//! Avoids: heap; panics on any input to [`parse`].

use arbitrary_int::{u11, u14};
use spacepackets::ecss::tm::{PusTmCreator, PusTmReader, PusTmSecondaryHeader};
use spacepackets::ecss::{CreatorConfig, MessageTypeId, PusPacket};
use spacepackets::{PacketId, PacketSequenceControl, SequenceFlags, SpHeader};

use super::time::STAMP_LEN;

/// Bytes a TM adds around its source data: primary (6) + secondary header with time (7 + 7) +
/// CRC (2).
pub const TM_OVERHEAD: usize = 6 + 7 + STAMP_LEN + 2;

/// The message types this node emits, for the per-type counters.
const EMITTED: [(u8, u8); 15] = [
    (1, 1),
    (1, 2),
    (1, 3),
    (1, 4),
    (1, 5),
    (1, 6),
    (1, 7),
    (1, 8),
    (3, 25),
    (5, 1),
    (5, 2),
    (5, 3),
    (5, 4),
    (17, 2),
    (0, 0), // any other type shares this counter
];

/// Why a TM could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TmError {
    /// APID out of range.
    #[error("APID {0:#x} out of range")]
    BadApid(u16),
    /// Does not fit the buffer.
    #[error("telemetry packet does not fit the buffer")]
    TooLong,
}

/// Counters and APID of the node's telemetry.
#[derive(Debug, Clone)]
pub struct TmWriter {
    apid: u16,
    seq: u16,
    counters: [u16; EMITTED.len()],
}

impl TmWriter {
    /// A writer for `apid` (at most [`super::MAX_APID`]).
    pub fn new(apid: u16) -> Result<Self, TmError> {
        if apid > super::MAX_APID {
            return Err(TmError::BadApid(apid));
        }
        Ok(TmWriter {
            apid,
            seq: 0,
            counters: [0; EMITTED.len()],
        })
    }

    /// The APID.
    pub fn apid(&self) -> u16 {
        self.apid
    }

    /// Write TM (`service`, `subservice`) to `dest_id` with time `stamp` and `source` data into
    /// `out`, returning the length. Counters advance only when the packet was written.
    pub fn write(
        &mut self,
        service: u8,
        subservice: u8,
        dest_id: u16,
        stamp: &[u8; STAMP_LEN],
        source: &[u8],
        out: &mut [u8],
    ) -> Result<usize, TmError> {
        let apid = u11::try_new(self.apid).map_err(|_| TmError::BadApid(self.apid))?;
        let seq = u14::try_new(self.seq & 0x3FFF).map_err(|_| TmError::TooLong)?;
        let idx = EMITTED
            .iter()
            .position(|&t| t == (service, subservice))
            .unwrap_or(EMITTED.len() - 1);
        let counter = self.counters.get(idx).copied().unwrap_or(0);
        let sp = SpHeader::new(
            PacketId::new_for_tm(true, apid),
            PacketSequenceControl::new(SequenceFlags::Unsegmented, seq),
            0,
        );
        let sec = PusTmSecondaryHeader::new(
            MessageTypeId::new(service, subservice),
            counter,
            dest_id,
            stamp,
        );
        let tm = PusTmCreator::new(sp, sec, source, CreatorConfig::default());
        let n = tm.write_to_slice(out).map_err(|_| TmError::TooLong)?;
        self.seq = (self.seq + 1) & 0x3FFF;
        if let Some(c) = self.counters.get_mut(idx) {
            *c = c.wrapping_add(1);
        }
        Ok(n)
    }
}

/// A parsed TM packet (ground side), borrowing the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TmView<'a> {
    /// APID.
    pub apid: u16,
    /// Packet sequence count.
    pub seq_count: u16,
    /// Service.
    pub service: u8,
    /// Subservice.
    pub subservice: u8,
    /// Message type counter.
    pub msg_counter: u16,
    /// Destination ID.
    pub dest_id: u16,
    /// Time field.
    pub stamp: &'a [u8],
    /// Source data.
    pub source: &'a [u8],
}

/// Why a TM did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TmParseError {
    /// Not a PUS-C TM with secondary header, or wrong length.
    #[error("not a PUS-C telemetry packet")]
    Malformed,
    /// CRC mismatch.
    #[error("telemetry CRC mismatch")]
    BadCrc,
}

/// Parse exactly one PUS-C TM with a [`STAMP_LEN`]-byte time field.
pub fn parse(data: &[u8]) -> Result<TmView<'_>, TmParseError> {
    let head = data.get(..7).ok_or(TmParseError::Malformed)?;
    if head[0] >> 5 != 0 || head[0] & 0x10 != 0 || head[0] & 0x08 == 0 || head[6] >> 4 != 2 {
        return Err(TmParseError::Malformed);
    }
    let declared = usize::from(u16::from_be_bytes([head[4], head[5]])) + 7;
    if declared != data.len() || data.len() < TM_OVERHEAD {
        return Err(TmParseError::Malformed);
    }
    let r = PusTmReader::new(data, STAMP_LEN).map_err(|e| match e {
        spacepackets::ecss::PusError::ChecksumFailure(_) => TmParseError::BadCrc,
        _ => TmParseError::Malformed,
    })?;
    use spacepackets::ecss::tm::GenericPusTmSecondaryHeader;
    Ok(TmView {
        apid: u16::from_be_bytes([head[0], head[1]]) & 0x7FF,
        seq_count: u16::from_be_bytes([head[2], head[3]]) & 0x3FFF,
        service: PusPacket::service_type_id(&r),
        subservice: PusPacket::message_subtype_id(&r),
        msg_counter: GenericPusTmSecondaryHeader::msg_type_counter(&r),
        dest_id: GenericPusTmSecondaryHeader::dest_id(&r),
        stamp: r.timestamp(),
        source: r.source_data(),
    })
}
