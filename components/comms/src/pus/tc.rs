//! Telecommands: parse a PUS-C TC from a verified unit's data field, and build one (ground).
//!
//! The parser checks, in this order, each failure with its code (see [`crate::failure`]):
//! shorter than a primary header → no request ID, `MalformedPacket`; packet version not 0, not a
//! TC or no secondary header → `NotTelecommand`; packet length field not matching the data,
//! shorter than header + secondary header + CRC, or segmented → `MalformedPacket`; PUS version not
//! 2 → `UnsupportedPusVersion`; APID not ours → `WrongApid`; CRC → `BadPacketCrc`. The CRC and
//! field extraction are `spacepackets::ecss::tc::PusTcReader`'s; the header checks it leaves out
//! (it reads any version nibble as PUS-C, and does not look at the type bit) are done here first.
//!
//! Avoids: panics on any input (every index is checked); heap.

use arbitrary_int::{u11, u14};
use spacepackets::ecss::tc::{AckFlags, PusTcCreator, PusTcReader, PusTcSecondaryHeader};
use spacepackets::ecss::{CreatorConfig, MessageTypeId, PusError};
use spacepackets::{PacketId, PacketSequenceControl, SequenceFlags, SpHeader};

use crate::failure::{Failure, FailureCode};

/// Primary header length.
pub const PRIMARY_LEN: usize = 6;
/// Smallest PUS-C TC: primary header, 5-byte secondary header, CRC.
pub const MIN_TC_LEN: usize = PRIMARY_LEN + 5 + 2;

/// The PUS request ID of a telecommand: its packet ID and packet sequence control words (the
/// first four bytes of the packet), which every verification report echoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RequestId {
    /// Packet version, type, secondary header flag, APID.
    pub packet_id: u16,
    /// Sequence flags and sequence count.
    pub psc: u16,
}

impl RequestId {
    /// From the first four bytes of a packet.
    pub fn from_packet(bytes: &[u8]) -> Option<RequestId> {
        match bytes {
            [a, b, c, d, ..] => Some(RequestId {
                packet_id: u16::from_be_bytes([*a, *b]),
                psc: u16::from_be_bytes([*c, *d]),
            }),
            _ => None,
        }
    }

    /// The four wire bytes.
    pub fn to_bytes(self) -> [u8; 4] {
        let [a, b] = self.packet_id.to_be_bytes();
        let [c, d] = self.psc.to_be_bytes();
        [a, b, c, d]
    }

    /// The APID.
    pub const fn apid(self) -> u16 {
        self.packet_id & 0x7FF
    }

    /// The sequence count.
    pub const fn seq_count(self) -> u16 {
        self.psc & 0x3FFF
    }
}

/// Acknowledgement flags of a TC (bit 3 acceptance, 2 start, 1 progress, 0 completion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ack(pub u8);

impl Ack {
    /// Report every success.
    pub const ALL: Ack = Ack(0b1111);
    /// Report no success (failures are always reported).
    pub const NONE: Ack = Ack(0);
    /// Acceptance success wanted.
    pub const fn acceptance(self) -> bool {
        self.0 & 0b1000 != 0
    }
    /// Start success wanted.
    pub const fn start(self) -> bool {
        self.0 & 0b0100 != 0
    }
    /// Progress success wanted.
    pub const fn progress(self) -> bool {
        self.0 & 0b0010 != 0
    }
    /// Completion success wanted.
    pub const fn completion(self) -> bool {
        self.0 & 0b0001 != 0
    }
}

/// A parsed telecommand, borrowing the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Telecommand<'a> {
    /// Its request ID.
    pub request_id: RequestId,
    /// Service type.
    pub service: u8,
    /// Message subtype.
    pub subservice: u8,
    /// Source ID (the ground application that sent it; TM replies go to it).
    pub source_id: u16,
    /// Acknowledgement flags.
    pub ack: Ack,
    /// Application data.
    pub app_data: &'a [u8],
    /// The whole packet.
    pub raw: &'a [u8],
}

/// A refused packet: its request ID if the packet had four bytes, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcRefusal {
    /// The request ID, if readable.
    pub request_id: Option<RequestId>,
    /// Why.
    pub failure: Failure,
}

/// Parse `data` as exactly one PUS-C telecommand addressed to `apid`.
pub fn parse(data: &[u8], apid: u16) -> Result<Telecommand<'_>, TcRefusal> {
    let request_id = RequestId::from_packet(data);
    let refuse = |failure: Failure| TcRefusal {
        request_id,
        failure,
    };
    let head = data
        .get(..PRIMARY_LEN)
        .ok_or(refuse(Failure::new(FailureCode::MalformedPacket)))?;
    let version = head[0] >> 5;
    let is_tc = head[0] & 0x10 != 0;
    let has_sec = head[0] & 0x08 != 0;
    if version != 0 || !is_tc || !has_sec {
        return Err(refuse(Failure::new(FailureCode::NotTelecommand)));
    }
    let declared = usize::from(u16::from_be_bytes([head[4], head[5]])) + 1 + PRIMARY_LEN;
    if declared != data.len() || data.len() < MIN_TC_LEN || head[2] >> 6 != 0b11 {
        return Err(refuse(Failure::with(
            FailureCode::MalformedPacket,
            data.len() as u32,
        )));
    }
    let pus_version = data.get(PRIMARY_LEN).map_or(0, |b| b >> 4);
    if pus_version != 2 {
        return Err(refuse(Failure::new(FailureCode::UnsupportedPusVersion)));
    }
    let got_apid = u16::from_be_bytes([head[0], head[1]]) & 0x7FF;
    if got_apid != apid {
        return Err(refuse(Failure::with(
            FailureCode::WrongApid,
            u32::from(got_apid),
        )));
    }
    let reader = PusTcReader::new(data).map_err(|e| match e {
        PusError::ChecksumFailure(_) => refuse(Failure::new(FailureCode::BadPacketCrc)),
        _ => refuse(Failure::new(FailureCode::MalformedPacket)),
    })?;
    use spacepackets::ecss::PusPacket;
    let ack = data.get(PRIMARY_LEN).map_or(0, |b| b & 0x0F);
    Ok(Telecommand {
        request_id: request_id.unwrap_or_default(),
        service: PusPacket::service_type_id(&reader),
        subservice: PusPacket::message_subtype_id(&reader),
        source_id: spacepackets::ecss::tc::GenericPusTcSecondaryHeader::source_id(&reader),
        ack: Ack(ack),
        app_data: reader.app_data(),
        raw: data,
    })
}

/// Why a TC could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// APID above [`super::MAX_APID`].
    #[error("APID {0:#x} out of range")]
    BadApid(u16),
    /// Output buffer too small or packet too long.
    #[error("packet does not fit")]
    TooLong,
}

/// Fields of a TC to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcSpec<'a> {
    /// Destination APID.
    pub apid: u16,
    /// Sequence count (14 bits; higher bits dropped).
    pub seq_count: u16,
    /// Service.
    pub service: u8,
    /// Subservice.
    pub subservice: u8,
    /// Source ID.
    pub source_id: u16,
    /// Acknowledgement flags.
    pub ack: Ack,
    /// Application data.
    pub app_data: &'a [u8],
}

/// Write a PUS-C TC (with CRC) into `out`, returning its length.
pub fn build(spec: &TcSpec<'_>, out: &mut [u8]) -> Result<usize, BuildError> {
    if spec.apid > super::MAX_APID {
        return Err(BuildError::BadApid(spec.apid));
    }
    let apid = u11::try_new(spec.apid).map_err(|_| BuildError::BadApid(spec.apid))?;
    let seq = u14::try_new(spec.seq_count & 0x3FFF).map_err(|_| BuildError::TooLong)?;
    let sp = SpHeader::new(
        PacketId::new_for_tc(true, apid),
        PacketSequenceControl::new(SequenceFlags::Unsegmented, seq),
        0,
    );
    let sec = PusTcSecondaryHeader::new(
        MessageTypeId::new(spec.service, spec.subservice),
        AckFlags::new_with_raw_value(arbitrary_int::u4::new(spec.ack.0 & 0x0F)),
        spec.source_id,
    );
    let tc = PusTcCreator::new(sp, sec, spec.app_data, CreatorConfig::default());
    tc.write_to_slice(out).map_err(|_| BuildError::TooLong)
}
