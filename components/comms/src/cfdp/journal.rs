//! The receiver's persistent state: one record in a `store::RecordStore` (two copies, sequence
//! number, CRC), rewritten whole at each checkpoint.
//!
//! The record holds the transaction (IDs and their widths, file size, checksum type, name), the
//! EOF's checksum once an EOF was received, the phase, and the received-ranges map. Ranges are
//! added to the map only after their bytes were written to the data area, so a range in a
//! committed record always names bytes that are on flash. A power cut during a checkpoint leaves
//! the previous record (the store's guarantee): at worst the bytes received since it are asked
//! for again. Layout (little endian), after the 4-byte magic `CFJ1`:
//!
//! | off | size | field |
//! | --- | --- | --- |
//! | 4 | 1 | phase (1 receiving, 2 complete, 3 failed, 4 delivered) |
//! | 5 | 1 | checksum type |
//! | 6 | 1 | flags: bit 0 EOF received, bit 1 large file, bit 2 PDU CRC |
//! | 7 | 1 | name length (<= 64) |
//! | 8 | 8+1 | source entity ID, width |
//! | 17 | 8+1 | destination entity ID, width |
//! | 26 | 8+1 | transaction sequence number, width |
//! | 35 | 1 | condition code |
//! | 36 | 8 | file size |
//! | 44 | 4 | EOF checksum |
//! | 48 | 2 | number of ranges (<= [`MAX_RANGES`]) |
//! | 50 | 64 | name |
//! | 114 | 16 each | ranges (start, end) |
//!
//! Avoids: partial updates in place; decoding trusts nothing (a record that does not decode is
//! treated as no transaction).

use super::error::CfdpError;
use super::ranges::RangeSet;
use spacepackets::cfdp::pdu::CommonPduConfig;
use spacepackets::cfdp::{
    ChecksumType, ConditionCode, CrcFlag, Direction, LargeFileFlag, TransmissionMode,
};
use spacepackets::util::UnsignedByteField;

/// Most disjoint received ranges kept (and persisted) per transfer.
pub const MAX_RANGES: usize = 256;
/// Longest destination file name kept.
pub const MAX_NAME: usize = 64;
/// Encoded record size with every range slot used.
pub const RECORD_MAX: usize = HEADER + MAX_RANGES * 16;
const HEADER: usize = 114;
const MAGIC: [u8; 4] = *b"CFJ1";

/// Where a received transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Segments still missing (or EOF not yet received).
    Receiving,
    /// Every byte received and the checksum verified.
    Complete,
    /// Ended without a file (checksum failure, size error, cancel).
    Failed,
    /// Complete and handed to the application.
    Delivered,
}

/// One transfer as the receiver knows it.
#[derive(Debug, Clone)]
pub struct RxRecord {
    /// Header fields of the transaction, as the receiver replies (toward the sender).
    pub conf: CommonPduConfig,
    /// Announced size.
    pub file_size: u64,
    /// Announced checksum type.
    pub checksum_type: ChecksumType,
    /// Destination name bytes.
    pub name: [u8; MAX_NAME],
    /// Used length of `name`.
    pub name_len: usize,
    /// EOF checksum, once an EOF arrived.
    pub eof_checksum: Option<u32>,
    /// Phase.
    pub phase: Phase,
    /// Condition code of the outcome.
    pub condition: ConditionCode,
    /// Bytes on flash.
    pub ranges: RangeSet<MAX_RANGES>,
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(d) = buf.get_mut(at..at + bytes.len()) {
        d.copy_from_slice(bytes);
    }
}

fn get<const K: usize>(buf: &[u8], at: usize) -> Result<[u8; K], CfdpError> {
    buf.get(at..at + K)
        .and_then(|s| s.try_into().ok())
        .ok_or(CfdpError::BadJournal)
}

fn field(buf: &[u8], at: usize) -> Result<UnsignedByteField, CfdpError> {
    let v = u64::from_le_bytes(get::<8>(buf, at)?);
    let w = get::<1>(buf, at + 8)?[0] as usize;
    if !matches!(w, 1 | 2 | 4 | 8) || (w < 8 && v >> (8 * w) != 0) {
        return Err(CfdpError::BadJournal);
    }
    Ok(UnsignedByteField::new(w, v))
}

impl RxRecord {
    /// Encode into `buf` (at least [`RECORD_MAX`] bytes); returns the length.
    pub fn encode(&self, buf: &mut [u8]) -> usize {
        let c = &self.conf;
        put(buf, 0, &MAGIC);
        let phase = match self.phase {
            Phase::Receiving => 1u8,
            Phase::Complete => 2,
            Phase::Failed => 3,
            Phase::Delivered => 4,
        };
        let flags = u8::from(self.eof_checksum.is_some())
            | (u8::from(c.file_flag == LargeFileFlag::Large) << 1)
            | (u8::from(c.crc_flag == CrcFlag::WithCrc) << 2);
        put(
            buf,
            4,
            &[phase, self.checksum_type as u8, flags, self.name_len as u8],
        );
        for (at, f) in [
            (8, c.source_id()),
            (17, c.dest_id()),
            (26, c.transaction_seq_num),
        ] {
            put(buf, at, &f.value().to_le_bytes());
            put(buf, at + 8, &[f.size() as u8]);
        }
        put(buf, 35, &[self.condition as u8]);
        put(buf, 36, &self.file_size.to_le_bytes());
        put(buf, 44, &self.eof_checksum.unwrap_or(0).to_le_bytes());
        let ranges = self.ranges.as_slice();
        put(buf, 48, &(ranges.len() as u16).to_le_bytes());
        put(buf, 50, self.name.get(..self.name_len).unwrap_or(&[]));
        for (i, (s, e)) in ranges.iter().enumerate() {
            put(buf, HEADER + 16 * i, &s.to_le_bytes());
            put(buf, HEADER + 16 * i + 8, &e.to_le_bytes());
        }
        HEADER + 16 * ranges.len()
    }

    /// Decode a record; anything inconsistent is [`CfdpError::BadJournal`].
    pub fn decode(buf: &[u8]) -> Result<Self, CfdpError> {
        if get::<4>(buf, 0)? != MAGIC {
            return Err(CfdpError::BadJournal);
        }
        let [phase, cks, flags, name_len] = get::<4>(buf, 4)?;
        let phase = match phase {
            1 => Phase::Receiving,
            2 => Phase::Complete,
            3 => Phase::Failed,
            4 => Phase::Delivered,
            _ => return Err(CfdpError::BadJournal),
        };
        let checksum_type = ChecksumType::try_from(cks).map_err(|_| CfdpError::BadJournal)?;
        let name_len = name_len as usize;
        if name_len > MAX_NAME {
            return Err(CfdpError::BadJournal);
        }
        let conf = CommonPduConfig::new(
            field(buf, 8)?,
            field(buf, 17)?,
            field(buf, 26)?,
            TransmissionMode::Acknowledged,
            if flags & 2 != 0 {
                LargeFileFlag::Large
            } else {
                LargeFileFlag::Normal
            },
            if flags & 4 != 0 {
                CrcFlag::WithCrc
            } else {
                CrcFlag::NoCrc
            },
            Direction::TowardsSender,
        )
        .map_err(|_| CfdpError::BadJournal)?;
        let condition =
            ConditionCode::try_from(get::<1>(buf, 35)?[0]).map_err(|_| CfdpError::BadJournal)?;
        let file_size = u64::from_le_bytes(get::<8>(buf, 36)?);
        let eof = u32::from_le_bytes(get::<4>(buf, 44)?);
        let n = u16::from_le_bytes(get::<2>(buf, 48)?) as usize;
        if n > MAX_RANGES {
            return Err(CfdpError::BadJournal);
        }
        let mut name = [0u8; MAX_NAME];
        name.get_mut(..name_len)
            .ok_or(CfdpError::BadJournal)?
            .copy_from_slice(buf.get(50..50 + name_len).ok_or(CfdpError::BadJournal)?);
        let mut ranges = RangeSet::new();
        for i in 0..n {
            let s = u64::from_le_bytes(get::<8>(buf, HEADER + 16 * i)?);
            let e = u64::from_le_bytes(get::<8>(buf, HEADER + 16 * i + 8)?);
            if s >= e || e > file_size || !ranges.insert(s, e) {
                return Err(CfdpError::BadJournal);
            }
        }
        Ok(RxRecord {
            conf,
            file_size,
            checksum_type,
            name,
            name_len,
            eof_checksum: (flags & 1 != 0).then_some(eof),
            phase,
            condition,
            ranges,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refuses_garbage() {
        let conf = CommonPduConfig::new(
            UnsignedByteField::new(2, 7),
            UnsignedByteField::new(2, 9),
            UnsignedByteField::new(4, 123_456),
            TransmissionMode::Acknowledged,
            LargeFileFlag::Normal,
            CrcFlag::WithCrc,
            Direction::TowardsSender,
        )
        .unwrap();
        let mut ranges = RangeSet::new();
        ranges.insert(0, 100);
        ranges.insert(200, 300);
        let mut name = [0u8; MAX_NAME];
        name[..5].copy_from_slice(b"batch");
        let r = RxRecord {
            conf,
            file_size: 1000,
            checksum_type: ChecksumType::Crc32,
            name,
            name_len: 5,
            eof_checksum: Some(0xDEAD_BEEF),
            phase: Phase::Receiving,
            condition: ConditionCode::NoError,
            ranges,
        };
        let mut buf = vec![0u8; RECORD_MAX];
        let n = r.encode(&mut buf);
        let d = RxRecord::decode(&buf[..n]).unwrap();
        assert_eq!(d.conf, conf);
        assert_eq!(d.ranges.as_slice(), &[(0, 100), (200, 300)]);
        assert_eq!(d.eof_checksum, Some(0xDEAD_BEEF));
        assert_eq!(&d.name[..d.name_len], b"batch");
        for cut in 0..n {
            assert!(RxRecord::decode(&buf[..cut]).is_err(), "prefix {cut}");
        }
        let mut bad = buf.clone();
        bad[HEADER + 8..HEADER + 16].copy_from_slice(&2000u64.to_le_bytes()); // past the file
        assert!(RxRecord::decode(&bad[..n]).is_err());
    }
}
