//! Host helpers (feature `std`): the packet encoders and decoders as plain functions returning
//! `Vec`, for the ground CLI and the interop scripts (a Python peer compares these bytes with
//! `spacepackets`/`tmtccmd`).
//!
//! Avoids: anything the node needs; this is convenience over the no_std API.

use std::vec::Vec;

use crate::failure::Failure;
use crate::pus::tc::{self, Ack, RequestId, TcSpec};
use crate::pus::time::cds_stamp;
use crate::pus::tm::{self, TmWriter};
use crate::pus::verification::{self, Report};
use crate::pus::{ST_TEST, ST_VERIFICATION};

/// A PUS-C TC (with CRC) as bytes.
pub fn encode_tc(spec: &TcSpec<'_>) -> Result<Vec<u8>, tc::BuildError> {
    let mut out = vec![0u8; tc::MIN_TC_LEN + spec.app_data.len()];
    let n = tc::build(spec, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// The 17,1 ping TC for `apid`, sequence count `seq`, source `source_id`, all acks requested.
pub fn ping_tc(apid: u16, seq: u16, source_id: u16) -> Result<Vec<u8>, tc::BuildError> {
    encode_tc(&TcSpec {
        apid,
        seq_count: seq,
        service: ST_TEST,
        subservice: 1,
        source_id,
        ack: Ack::ALL,
        app_data: &[],
    })
}

/// A verification report TM as the node sends it (before SDLS), with TM sequence count 0 and
/// message counter 0 unless the caller advances a [`TmWriter`] itself.
pub fn verification_tm(
    apid: u16,
    request: RequestId,
    report: &Report,
    dest_id: u16,
    unix_us: Option<u64>,
) -> Result<Vec<u8>, tm::TmError> {
    let mut w = TmWriter::new(apid)?;
    let mut src = [0u8; verification::MAX_SOURCE_LEN];
    let n = verification::encode(request, report, &mut src);
    let mut out = vec![0u8; tm::TM_OVERHEAD + n];
    let len = w.write(
        ST_VERIFICATION,
        report.subtype(),
        dest_id,
        &cds_stamp(unix_us),
        &src[..n],
        &mut out,
    )?;
    out.truncate(len);
    Ok(out)
}

/// Decode a verification report TM into its request ID and report.
pub fn decode_verification_tm(bytes: &[u8]) -> Option<(RequestId, Report)> {
    let view = tm::parse(bytes).ok()?;
    if view.service != ST_VERIFICATION {
        return None;
    }
    verification::decode(view.subservice, view.source).ok()
}

/// The failure carried by a report, as (code, data), for printing.
pub fn failure_of(report: &Report) -> Option<(u16, u32)> {
    report
        .failure()
        .map(|Failure { code, data }| (code.code(), data))
}
