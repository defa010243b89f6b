//! Service 1 request verification reports (ECSS-E-ST-70-41C §6.1 / §8.1).
//!
//! Source data, big-endian:
//!
//! | report | subtype | source data |
//! | --- | --- | --- |
//! | acceptance success | 1,1 | request ID (4) |
//! | acceptance failure | 1,2 | request ID (4), failure code (2), failure data (4) |
//! | start success | 1,3 | request ID (4) |
//! | start failure | 1,4 | request ID (4), failure code (2), failure data (4) |
//! | progress success | 1,5 | request ID (4), step ID (1) |
//! | progress failure | 1,6 | request ID (4), step ID (1), failure code (2), failure data (4) |
//! | completion success | 1,7 | request ID (4) |
//! | completion failure | 1,8 | request ID (4), failure code (2), failure data (4) |
//!
//! With `tmtccmd`/`spacepackets` (Python) these parse with `Service1Tm.unpack(...,
//! UnpackParams(CdsShortTimestamp, bytes_step_id=1, bytes_err_code=2))`; the failure data word
//! is the remaining "failure data" bytes.
//!
//! Avoids: heap; panics on any input to [`decode`].

use super::tc::RequestId;
use crate::failure::{Failure, FailureCode};

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Report {
    /// 1,1.
    AcceptanceSuccess,
    /// 1,2.
    AcceptanceFailure(Failure),
    /// 1,3.
    StartSuccess,
    /// 1,4.
    StartFailure(Failure),
    /// 1,5.
    ProgressSuccess(u8),
    /// 1,6.
    ProgressFailure(u8, Failure),
    /// 1,7.
    CompletionSuccess,
    /// 1,8.
    CompletionFailure(Failure),
}

/// Largest source data of a verification report.
pub const MAX_SOURCE_LEN: usize = 11;

impl Report {
    /// The subtype.
    pub const fn subtype(&self) -> u8 {
        match self {
            Report::AcceptanceSuccess => 1,
            Report::AcceptanceFailure(_) => 2,
            Report::StartSuccess => 3,
            Report::StartFailure(_) => 4,
            Report::ProgressSuccess(_) => 5,
            Report::ProgressFailure(..) => 6,
            Report::CompletionSuccess => 7,
            Report::CompletionFailure(_) => 8,
        }
    }

    /// Whether this is a failure report.
    pub const fn is_failure(&self) -> bool {
        self.subtype().is_multiple_of(2)
    }

    /// The failure, for failure reports.
    pub const fn failure(&self) -> Option<Failure> {
        match self {
            Report::AcceptanceFailure(f)
            | Report::StartFailure(f)
            | Report::ProgressFailure(_, f)
            | Report::CompletionFailure(f) => Some(*f),
            _ => None,
        }
    }
}

/// Encode the source data of `report` about `request` into `out`, returning the length.
pub fn encode(request: RequestId, report: &Report, out: &mut [u8; MAX_SOURCE_LEN]) -> usize {
    out[..4].copy_from_slice(&request.to_bytes());
    let mut n = 4;
    if let Report::ProgressSuccess(step) | Report::ProgressFailure(step, _) = report {
        out[n] = *step;
        n += 1;
    }
    if let Some(f) = report.failure() {
        out[n..n + 2].copy_from_slice(&f.code.code().to_be_bytes());
        out[n + 2..n + 6].copy_from_slice(&f.data.to_be_bytes());
        n += 6;
    }
    n
}

/// Why a verification report did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Subtype not 1..=8.
    #[error("unknown verification subtype {0}")]
    UnknownSubtype(u8),
    /// Wrong length for the subtype.
    #[error("verification report has the wrong length")]
    BadLength,
    /// Failure code not in the table.
    #[error("unknown failure code {0:#06x}")]
    UnknownCode(u16),
}

/// Decode the source data of a 1,`subtype` report.
pub fn decode(subtype: u8, source: &[u8]) -> Result<(RequestId, Report), DecodeError> {
    let rid = RequestId::from_packet(source).ok_or(DecodeError::BadLength)?;
    let rest = source.get(4..).unwrap_or(&[]);
    let failure = |b: &[u8]| -> Result<Failure, DecodeError> {
        match b {
            [c0, c1, d0, d1, d2, d3] => {
                let code = u16::from_be_bytes([*c0, *c1]);
                Ok(Failure::with(
                    FailureCode::from_code(code).ok_or(DecodeError::UnknownCode(code))?,
                    u32::from_be_bytes([*d0, *d1, *d2, *d3]),
                ))
            }
            _ => Err(DecodeError::BadLength),
        }
    };
    let report = match (subtype, rest) {
        (1, []) => Report::AcceptanceSuccess,
        (3, []) => Report::StartSuccess,
        (7, []) => Report::CompletionSuccess,
        (5, [step]) => Report::ProgressSuccess(*step),
        (2, b) => Report::AcceptanceFailure(failure(b)?),
        (4, b) => Report::StartFailure(failure(b)?),
        (8, b) => Report::CompletionFailure(failure(b)?),
        (6, [step, b @ ..]) => Report::ProgressFailure(*step, failure(b)?),
        (1..=8, _) => return Err(DecodeError::BadLength),
        (s, _) => return Err(DecodeError::UnknownSubtype(s)),
    };
    Ok((rid, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_report_round_trips() {
        let rid = RequestId {
            packet_id: 0x1801,
            psc: 0xC007,
        };
        let f = Failure::with(FailureCode::CertExpired, 7);
        for r in [
            Report::AcceptanceSuccess,
            Report::AcceptanceFailure(f),
            Report::StartSuccess,
            Report::StartFailure(f),
            Report::ProgressSuccess(3),
            Report::ProgressFailure(4, f),
            Report::CompletionSuccess,
            Report::CompletionFailure(f),
        ] {
            let mut buf = [0u8; MAX_SOURCE_LEN];
            let n = encode(rid, &r, &mut buf);
            assert_eq!(decode(r.subtype(), &buf[..n]), Ok((rid, r)));
            assert!(decode(r.subtype(), &buf[..n - 1]).is_err());
        }
        assert_eq!(decode(9, &[0; 4]), Err(DecodeError::UnknownSubtype(9)));
        assert_eq!(
            decode(2, &[0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0]),
            Err(DecodeError::UnknownCode(0xFFFF))
        );
    }
}
