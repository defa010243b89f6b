//! Parsing and building CFDP PDUs with the `spacepackets` crate's `cfdp` module.
//!
//! [`parse`] checks the fixed header, the length and (when flagged) the PDU CRC, then decodes the
//! one PDU type it announces into a borrowed [`Pdu`]; every failure is a [`CfdpError`]. The
//! builders write one PDU into a caller's buffer and return its length. Avoids: allocation and
//! hand-written field layouts (the wire format is entirely `spacepackets`').

use super::error::CfdpError;
use spacepackets::cfdp::lv::Lv;
use spacepackets::cfdp::pdu::ack::AckPdu;
use spacepackets::cfdp::pdu::eof::EofPdu;
use spacepackets::cfdp::pdu::file_data::FileDataPdu;
use spacepackets::cfdp::pdu::finished::{
    DeliveryCode, FileStatus, FinishedPduCreator, FinishedPduReader,
};
use spacepackets::cfdp::pdu::metadata::{
    MetadataGenericParams, MetadataPduCreator, MetadataPduReader,
};
use spacepackets::cfdp::pdu::nak::{NakPduCreator, NakPduReader, SegmentRequests};
use spacepackets::cfdp::pdu::{CommonPduConfig, FileDirectiveType, PduHeader};
use spacepackets::cfdp::{
    ChecksumType, ConditionCode, Direction, LargeFileFlag, PduType, TransactionStatus,
};

/// One decoded PDU, borrowing from the received bytes.
pub enum Pdu<'a> {
    /// File data at `offset`.
    FileData {
        /// Offset in the file.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// Metadata: file size, checksum type, names.
    Metadata {
        /// Size, checksum type, closure flag.
        params: MetadataGenericParams,
        /// Destination file name.
        dest_name: &'a [u8],
    },
    /// End of file.
    Eof {
        /// Condition code (anything but `NoError` is a cancel).
        condition: ConditionCode,
        /// File checksum.
        checksum: u32,
        /// File size.
        size: u64,
    },
    /// Finished (receiver to sender).
    Finished {
        /// Condition code.
        condition: ConditionCode,
        /// Delivery code.
        delivery: DeliveryCode,
    },
    /// ACK of an EOF or a Finished.
    Ack {
        /// Which directive is acknowledged.
        of: FileDirectiveType,
    },
    /// NAK: requests for segments (the reader iterates them).
    Nak(NakPduReader<'a>),
    /// Prompt, keep-alive: recognised and ignored.
    Other,
}

/// A parsed PDU with its header configuration (IDs, transaction, mode, widths).
pub struct Parsed<'a> {
    /// The header fields.
    pub conf: CommonPduConfig,
    /// The PDU.
    pub pdu: Pdu<'a>,
}

/// Decode one PDU. Never panics on any input.
pub fn parse(buf: &[u8]) -> Result<Parsed<'_>, CfdpError> {
    let (header, header_len) = PduHeader::from_bytes(buf)?;
    header.verify_length_and_checksum(buf)?;
    let buf = buf.get(..header.pdu_len()).ok_or(CfdpError::BadPacket)?;
    precheck(&header, header_len, buf)?;
    let conf = *header.common_pdu_conf();
    let pdu = match header.pdu_type() {
        PduType::FileData => {
            let fd = FileDataPdu::from_bytes(buf)?;
            Pdu::FileData {
                offset: fd.offset(),
                data: fd.file_data(),
            }
        }
        PduType::FileDirective => {
            let code = *buf.get(header_len).ok_or(CfdpError::BadPacket)?;
            match FileDirectiveType::try_from(code).map_err(|_| CfdpError::UnexpectedPdu)? {
                FileDirectiveType::Metadata => {
                    let m = MetadataPduReader::from_bytes(buf)?;
                    Pdu::Metadata {
                        params: *m.metadata_params(),
                        dest_name: m.dest_file_name().value(),
                    }
                }
                FileDirectiveType::Eof => {
                    let e = EofPdu::from_bytes(buf)?;
                    Pdu::Eof {
                        condition: e.condition_code(),
                        checksum: e.file_checksum(),
                        size: e.file_size(),
                    }
                }
                FileDirectiveType::Finished => {
                    let f = FinishedPduReader::from_bytes(buf)?;
                    Pdu::Finished {
                        condition: f.condition_code(),
                        delivery: f.delivery_code(),
                    }
                }
                FileDirectiveType::Ack => {
                    let a = AckPdu::from_bytes(buf)?;
                    Pdu::Ack {
                        of: a.directive_code_of_acked_pdu(),
                    }
                }
                FileDirectiveType::Nak => Pdu::Nak(NakPduReader::from_bytes(buf)?),
                FileDirectiveType::Prompt | FileDirectiveType::KeepAlive => Pdu::Other,
            }
        }
    };
    Ok(Parsed { conf, pdu })
}

/// Field-length checks the `spacepackets` 0.19 readers do not do (found by fuzzing: their
/// offset/size fields and name LVs are sliced before the lengths are checked, which panics on a
/// short PDU). Each PDU type's fixed fields must lie inside the data field (CRC excluded).
fn precheck(header: &PduHeader, h: usize, buf: &[u8]) -> Result<(), CfdpError> {
    let short = CfdpError::BadPacket;
    let crc = if header.common_pdu_conf().crc_flag == spacepackets::cfdp::CrcFlag::WithCrc {
        2
    } else {
        0
    };
    let end = header.pdu_len().checked_sub(crc).ok_or(short)?;
    let fss = if header.common_pdu_conf().file_flag == LargeFileFlag::Large {
        8
    } else {
        4
    };
    let byte = |i: usize| buf.get(i).copied().filter(|_| i < end).ok_or(short);
    let need = |n: usize| if n <= end { Ok(()) } else { Err(short) };
    match header.pdu_type() {
        PduType::FileData => {
            let meta =
                if header.seg_metadata_flag() == spacepackets::cfdp::SegmentMetadataFlag::Present {
                    1 + usize::from(byte(h)? & 0x3F)
                } else {
                    0
                };
            need(h + meta + fss)
        }
        PduType::FileDirective => match byte(h)? {
            // EOF: code, condition, checksum, size.
            0x04 => need(h + 2 + 4 + fss),
            // Finished: code, status.
            0x05 => need(h + 2),
            // ACK: code, directive, status.
            0x06 => need(h + 3),
            // Metadata: code, flags, size, source name LV, destination name LV.
            0x07 => {
                let src = h + 2 + fss;
                let dst = src + 1 + usize::from(byte(src)?);
                need(dst + 1 + usize::from(byte(dst)?))
            }
            // NAK: code, start and end of scope.
            0x08 => need(h + 1 + 2 * fss),
            _ => need(h + 1),
        },
    }
}

fn directive_header(conf: CommonPduConfig) -> PduHeader {
    PduHeader::new_for_file_directive(conf, 0)
}

/// Write a file data PDU.
pub fn file_data(
    conf: CommonPduConfig,
    offset: u64,
    data: &[u8],
    buf: &mut [u8],
) -> Result<usize, CfdpError> {
    let pdu = FileDataPdu::new_no_seg_metadata(
        PduHeader::new_for_file_data_default(conf, 0),
        offset,
        data,
    );
    Ok(pdu.write_to_slice(buf)?)
}

/// Write a metadata PDU (closure requested, as class 2 implies; no options).
pub fn metadata(
    conf: CommonPduConfig,
    size: u64,
    checksum: ChecksumType,
    src_name: &[u8],
    dest_name: &[u8],
    buf: &mut [u8],
) -> Result<usize, CfdpError> {
    let src = Lv::new(src_name).map_err(|_| CfdpError::NameTooLong(255))?;
    let dest = Lv::new(dest_name).map_err(|_| CfdpError::NameTooLong(255))?;
    let pdu = MetadataPduCreator::new_no_opts(
        directive_header(conf),
        MetadataGenericParams::new(true, checksum, size),
        src,
        dest,
    );
    Ok(pdu.write_to_slice(buf)?)
}

/// Write an EOF PDU (no error).
pub fn eof(
    conf: CommonPduConfig,
    checksum: u32,
    size: u64,
    buf: &mut [u8],
) -> Result<usize, CfdpError> {
    Ok(EofPdu::new_no_error(directive_header(conf), checksum, size).write_to_slice(buf)?)
}

/// Write a NAK PDU with scope `[start, end)` and the given requests (all within the scope).
/// A `(0, 0)` request asks for the metadata again.
pub fn nak(
    conf: CommonPduConfig,
    start: u64,
    end: u64,
    reqs: &[(u64, u64)],
    buf: &mut [u8],
) -> Result<usize, CfdpError> {
    let header = directive_header(conf);
    let pdu = if conf.file_flag == LargeFileFlag::Large {
        NakPduCreator::new(header, start, end, Some(SegmentRequests::U64Pairs(reqs)))
    } else {
        // Normal files: sizes were checked to fit 32 bits when the transaction started.
        let mut small = [(0u32, 0u32); MAX_NAK_REQS];
        let n = reqs.len().min(MAX_NAK_REQS);
        for (d, s) in small.iter_mut().zip(reqs) {
            *d = (
                u32::try_from(s.0).map_err(|_| CfdpError::BadRequest)?,
                u32::try_from(s.1).map_err(|_| CfdpError::BadRequest)?,
            );
        }
        let start = u32::try_from(start).map_err(|_| CfdpError::BadRequest)?;
        let end = u32::try_from(end).map_err(|_| CfdpError::BadRequest)?;
        let reqs = small.get(..n).unwrap_or(&[]);
        return NakPduCreator::new_normal_file_size(header, start, end, reqs)
            .map_err(|_| CfdpError::BadRequest)?
            .write_to_slice(buf)
            .map_err(CfdpError::from);
    }
    .map_err(|_| CfdpError::BadRequest)?;
    Ok(pdu.write_to_slice(buf)?)
}

/// Most segment requests put in one NAK PDU (keeps a NAK under ~1 KiB with 64-bit offsets).
pub const MAX_NAK_REQS: usize = 60;

/// Write a Finished PDU.
pub fn finished(
    conf: CommonPduConfig,
    condition: ConditionCode,
    complete: bool,
    buf: &mut [u8],
) -> Result<usize, CfdpError> {
    let delivery = if complete {
        DeliveryCode::Complete
    } else {
        DeliveryCode::Incomplete
    };
    let status = if complete {
        FileStatus::Retained
    } else {
        FileStatus::DiscardDeliberately
    };
    let pdu = FinishedPduCreator::new(
        directive_header(conf),
        condition,
        delivery,
        status,
        &[],
        None,
    );
    Ok(pdu.write_to_slice(buf)?)
}

/// Write an ACK of an EOF (receiver) or of a Finished (sender).
pub fn ack(
    conf: CommonPduConfig,
    of: FileDirectiveType,
    condition: ConditionCode,
    buf: &mut [u8],
) -> Result<usize, CfdpError> {
    let pdu = AckPdu::new(
        directive_header(conf),
        of,
        condition,
        TransactionStatus::Active,
    )
    .map_err(|_| CfdpError::UnexpectedPdu)?;
    Ok(pdu.write_to_slice(buf)?)
}

/// The header config a receiver answers with: the sender's IDs and transaction, toward sender.
pub fn reply_conf(mut conf: CommonPduConfig) -> CommonPduConfig {
    conf.direction = Direction::TowardsSender;
    conf
}

/// The directive a parsed PDU belongs to, for counters and logs.
pub fn kind(p: &Pdu<'_>) -> &'static str {
    match p {
        Pdu::FileData { .. } => "file data",
        Pdu::Metadata { .. } => "metadata",
        Pdu::Eof { .. } => "EOF",
        Pdu::Finished { .. } => "Finished",
        Pdu::Ack { .. } => "ACK",
        Pdu::Nak(_) => "NAK",
        Pdu::Other => "prompt/keep-alive",
    }
}

/// Whether `p` reads back to the same transaction as `conf` (source, sequence number).
pub fn same_transaction(a: &CommonPduConfig, b: &CommonPduConfig) -> bool {
    a.source_id().value() == b.source_id().value()
        && a.transaction_seq_num.value() == b.transaction_seq_num.value()
}
