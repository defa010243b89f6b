//! The typed errors of the CFDP entities.
//!
//! A malformed, foreign or unexpected PDU is an error value the caller counts and drops; nothing
//! received from a link can panic. Flash failures carry the store's or the driver's error kind.
//! Avoids: allocation, and any error that would need a heap to describe.

use hal::flash::NorFlashErrorKind;
use spacepackets::cfdp::pdu::PduError;
use store::StoreError;

/// Why a PDU or an operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CfdpError {
    /// The PDU did not parse (header, length, CRC or field values).
    #[error("malformed PDU: {0}")]
    Malformed(PduError),
    /// The space packet around the PDU is malformed or carries another APID.
    #[error("not a CFDP space packet")]
    BadPacket,
    /// The PDU is addressed to another entity.
    #[error("PDU for entity {0}, not this one")]
    WrongEntity(u64),
    /// The PDU belongs to a transaction this entity does not run (stale or foreign).
    #[error("PDU for an unknown transaction")]
    UnknownTransaction,
    /// The PDU type is not one this side of a transfer handles.
    #[error("PDU type not handled by this side")]
    UnexpectedPdu,
    /// Unacknowledged (class 1) transfers are not accepted: the node runs class 2 only.
    #[error("unacknowledged mode is not supported")]
    Unacknowledged,
    /// File data or EOF beyond the file size announced in the metadata.
    #[error("segment {offset}+{len} outside the file of {size} bytes")]
    OutOfBounds {
        /// Offset of the segment.
        offset: u64,
        /// Its length.
        len: u64,
        /// The announced file size.
        size: u64,
    },
    /// The announced file does not fit the flash area given to CFDP.
    #[error("file of {size} bytes exceeds the {capacity}-byte transfer area")]
    FileTooLarge {
        /// Announced size.
        size: u64,
        /// Bytes available.
        capacity: u64,
    },
    /// The file name is longer than the entity keeps.
    #[error("file name longer than {0} bytes")]
    NameTooLong(usize),
    /// The checksum type is not one this entity computes.
    #[error("checksum type {0} not supported")]
    UnsupportedChecksum(u8),
    /// The layout given for the flash area is inconsistent with the device.
    #[error("CFDP flash layout does not fit the device")]
    BadLayout,
    /// A flash driver error.
    #[error("flash error: {0:?}")]
    Flash(NorFlashErrorKind),
    /// The crash-safe journal record could not be read or written.
    #[error("journal store error")]
    Journal,
    /// The journal record holds bytes this version cannot decode (ignored at load).
    #[error("journal record unreadable")]
    BadJournal,
    /// A sender was asked for something outside its file (internal bound check).
    #[error("request outside the file")]
    BadRequest,
    /// The entity is busy with another transaction.
    #[error("busy with another transaction")]
    Busy,
    /// A PDU could not be built (buffer too small for the configured segment size).
    #[error("PDU does not fit the buffer")]
    Encode,
}

impl From<PduError> for CfdpError {
    fn from(e: PduError) -> Self {
        CfdpError::Malformed(e)
    }
}

impl<E: hal::flash::NorFlashError> From<StoreError<E>> for CfdpError {
    fn from(e: StoreError<E>) -> Self {
        match e {
            StoreError::Flash(f) => CfdpError::Flash(f.kind()),
            _ => CfdpError::Journal,
        }
    }
}

/// Map a driver error to [`CfdpError::Flash`].
pub(crate) fn flash_err<E: hal::flash::NorFlashError>(e: E) -> CfdpError {
    CfdpError::Flash(e.kind())
}
