//! Batch intake: one received batch file becomes the signer's sign requests, and the signer's
//! responses become one result file for downlink. CFDP (`comms::cfdp`) moves the files; this
//! module only turns bytes into messages and back, in caller-supplied buffers.
//!
//! # Batch file (uplink)
//!
//! Exactly the signer's batch format (`signer::batch`): the batch certificate
//! (`signer::cert`, magic `SNBC`) followed by the length-framed PSBTs. Nothing is added: the
//! file the ground builds is the batch the signer verifies. The batch id comms puts in every
//! sign request is derived from the certificate ([`batch_id_of`]): `server id (4) ‖ low 32 bits
//! of the certificate sequence number`, so each (server, sequence) has its own id and a
//! re-sent file gets the same one.
//!
//! # Result file (downlink), integers big-endian
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SNRF` |
//! | 4 | 1 | version, `1` |
//! | 5 | 8 | batch id |
//! | 13 | 1 | outcome: `0` signed, `1` refused |
//! | 14 | 1 | coarse reason when refused ([`reason_code`]), else 0 |
//! | 15 | 4 | n, signed PSBTs that follow (0 when refused) |
//! | 19 | … | n × (`u32` length ‖ co-signed PSBT), in batch order |
//! | end−163 | 163 | the signer's signed receipt (`signer::batch::receipt`; its bytes 60 and 61 are the exact error class and code of a refusal) |
//!
//! Avoids: the heap (callers give the buffers), trusting any length it did not check.

use protocol::{BoundedBytes, CHUNK_MAX, ChunkPosition, SignRejection, SignRequest};

/// Result file magic.
pub const RESULT_MAGIC: [u8; 4] = *b"SNRF";
/// Result file version.
pub const RESULT_VERSION: u8 = 1;
/// Result file header length.
pub const RESULT_HEADER: usize = 19;
/// The signer's receipt length.
pub const RECEIPT_LEN: usize = 163;
/// Bytes of the certificate header the batch id is read from.
const CERT_HEADER: usize = 35;

/// Why a batch or result file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// The batch file does not start with a batch certificate header.
    #[error("batch file does not start with a batch certificate (magic SNBC, version 1)")]
    NotABatch,
    /// The batch file is larger than the chunk protocol can describe.
    #[error("batch file of {0} bytes is too large")]
    TooLarge(usize),
    /// A response belongs to another batch.
    #[error("response for batch {got}, expected {want}")]
    OtherBatch {
        /// Batch id of the response.
        got: u64,
        /// Batch being assembled.
        want: u64,
    },
    /// A signed chunk is not where the stream continues.
    #[error("signed stream chunk at offset {got}, expected {want}")]
    OutOfOrder {
        /// Offset in the response.
        got: u32,
        /// Bytes assembled so far.
        want: u32,
    },
    /// The result buffer is full.
    #[error("result does not fit the {0}-byte buffer")]
    BufferFull(usize),
    /// The signed stream does not end in `u32 length ‖ PSBT` frames and a receipt.
    #[error("signed stream is not framed PSBTs followed by a receipt")]
    BadStream,
    /// The result file does not parse.
    #[error("result file is malformed: {0}")]
    BadResult(&'static str),
}

/// The batch id comms uses for a batch file (see the module docs).
pub fn batch_id_of(file: &[u8]) -> Result<u64, IntakeError> {
    let head = file.get(..CERT_HEADER).ok_or(IntakeError::NotABatch)?;
    if head.get(..4) != Some(b"SNBC".as_slice()) || head.get(4) != Some(&1) {
        return Err(IntakeError::NotABatch);
    }
    let be4 = |o: usize| {
        let mut a = [0u8; 4];
        a.copy_from_slice(head.get(o..o + 4).unwrap_or(&[0; 4]));
        u32::from_be_bytes(a)
    };
    let server = be4(5);
    let seq_low = be4(21);
    Ok(u64::from(server) << 32 | u64::from(seq_low))
}

/// The sign requests of one batch file, in order.
#[derive(Debug, Clone)]
pub struct BatchRequests<'a> {
    batch_id: u64,
    request_id: u32,
    file: &'a [u8],
    next: u32,
    count: u32,
}

/// Split `file` into sign requests tagged with `request_id` (the routing token the responses
/// echo).
pub fn batch_requests(file: &[u8], request_id: u32) -> Result<BatchRequests<'_>, IntakeError> {
    let batch_id = batch_id_of(file)?;
    u32::try_from(file.len()).map_err(|_| IntakeError::TooLarge(file.len()))?;
    let count = u32::try_from(file.len().div_ceil(CHUNK_MAX))
        .map_err(|_| IntakeError::TooLarge(file.len()))?;
    Ok(BatchRequests {
        batch_id,
        request_id,
        file,
        next: 0,
        count,
    })
}

impl BatchRequests<'_> {
    /// The batch id.
    pub fn batch_id(&self) -> u64 {
        self.batch_id
    }

    /// Chunks in the batch.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The next request without consuming it (resend after a full ring).
    pub fn peek(&self) -> Option<SignRequest> {
        let off = (self.next as usize).checked_mul(CHUNK_MAX)?;
        let data = self.file.get(off..)?;
        let data = data.get(..CHUNK_MAX.min(data.len()))?;
        if data.is_empty() {
            return None;
        }
        Some(SignRequest {
            batch_id: self.batch_id,
            request_id: self.request_id,
            position: ChunkPosition {
                index: self.next,
                count: self.count,
                offset: off as u32,
                total_len: self.file.len() as u32,
            },
            data: BoundedBytes::new(data).ok()?,
        })
    }
}

impl Iterator for BatchRequests<'_> {
    type Item = SignRequest;
    fn next(&mut self) -> Option<SignRequest> {
        let r = self.peek()?;
        self.next += 1;
        Some(r)
    }
}

/// The wire code of a coarse refusal reason in the result file.
pub fn reason_code(r: SignRejection) -> u8 {
    match r {
        SignRejection::BadCertificate => 1,
        SignRejection::Replay => 2,
        SignRejection::PolicyViolation => 3,
        SignRejection::Malformed => 4,
        SignRejection::BadChunking => 5,
        SignRejection::Busy => 6,
        SignRejection::SignerDown => 7,
        SignRejection::Abandoned => 8,
        SignRejection::Internal => 255,
    }
}

/// A response of the signer, as the result builder needs it.
#[derive(Debug, Clone, Copy)]
pub enum Response<'a> {
    /// A chunk was stored.
    Accepted,
    /// Part of the signed stream; `last` on its final chunk.
    Signed {
        /// Offset of `data` in the stream.
        offset: u32,
        /// The bytes.
        data: &'a [u8],
        /// The final chunk.
        last: bool,
    },
    /// The batch was refused; `data` is the signed receipt (may be empty for chunk refusals).
    Rejected {
        /// Coarse reason.
        reason: SignRejection,
        /// The receipt.
        data: &'a [u8],
    },
}

/// What the builder has after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built {
    /// More responses are needed.
    More,
    /// The result file is complete: `buf[..len]`.
    Done(usize),
}

/// Assembles one batch's result file in a caller buffer.
#[derive(Debug)]
pub struct ResultBuilder<'b> {
    batch_id: u64,
    buf: &'b mut [u8],
    stream: usize,
}

impl<'b> ResultBuilder<'b> {
    /// Start the result of `batch_id` in `buf`.
    pub fn new(batch_id: u64, buf: &'b mut [u8]) -> Result<Self, IntakeError> {
        if buf.len() < RESULT_HEADER + RECEIPT_LEN {
            return Err(IntakeError::BufferFull(buf.len()));
        }
        Ok(ResultBuilder {
            batch_id,
            buf,
            stream: 0,
        })
    }

    /// Continue a result whose first `stream` signed bytes are already in `buf` (the caller
    /// keeps the builder's position between handler calls, see [`ResultBuilder::stream_len`]).
    pub fn resume(batch_id: u64, buf: &'b mut [u8], stream: usize) -> Result<Self, IntakeError> {
        let mut b = Self::new(batch_id, buf)?;
        if RESULT_HEADER.saturating_add(stream) > b.buf.len() {
            return Err(IntakeError::BufferFull(b.buf.len()));
        }
        b.stream = stream;
        Ok(b)
    }

    /// Signed bytes taken so far.
    pub fn stream_len(&self) -> usize {
        self.stream
    }

    fn header(&mut self, outcome: u8, reason: u8, n: u32) {
        if let Some(h) = self.buf.get_mut(..RESULT_HEADER) {
            h[..4].copy_from_slice(&RESULT_MAGIC);
            h[4] = RESULT_VERSION;
            h[5..13].copy_from_slice(&self.batch_id.to_be_bytes());
            h[13] = outcome;
            h[14] = reason;
            h[15..19].copy_from_slice(&n.to_be_bytes());
        }
    }

    /// Take one response of batch `batch_id`.
    pub fn on_response(&mut self, batch_id: u64, r: Response<'_>) -> Result<Built, IntakeError> {
        if batch_id != self.batch_id {
            return Err(IntakeError::OtherBatch {
                got: batch_id,
                want: self.batch_id,
            });
        }
        match r {
            Response::Accepted => Ok(Built::More),
            Response::Signed { offset, data, last } => {
                if offset as usize != self.stream {
                    return Err(IntakeError::OutOfOrder {
                        got: offset,
                        want: self.stream as u32,
                    });
                }
                let at = RESULT_HEADER + self.stream;
                let cap = self.buf.len();
                let dst = self
                    .buf
                    .get_mut(at..at + data.len())
                    .ok_or(IntakeError::BufferFull(cap))?;
                dst.copy_from_slice(data);
                self.stream += data.len();
                if !last {
                    return Ok(Built::More);
                }
                let stream = self
                    .buf
                    .get(RESULT_HEADER..RESULT_HEADER + self.stream)
                    .ok_or(IntakeError::BadStream)?;
                let n = count_framed(stream, RECEIPT_LEN).ok_or(IntakeError::BadStream)?;
                self.header(0, 0, n);
                Ok(Built::Done(RESULT_HEADER + self.stream))
            }
            Response::Rejected { reason, data } => {
                let cap = self.buf.len();
                let dst = self
                    .buf
                    .get_mut(RESULT_HEADER..RESULT_HEADER + data.len())
                    .ok_or(IntakeError::BufferFull(cap))?;
                dst.copy_from_slice(data);
                self.header(1, reason_code(reason), 0);
                Ok(Built::Done(RESULT_HEADER + data.len()))
            }
        }
    }
}

/// Counts `u32 len ‖ bytes` frames in `s` followed by exactly `tail` bytes.
fn count_framed(s: &[u8], tail: usize) -> Option<u32> {
    let mut at = 0usize;
    let mut n = 0u32;
    while s.len().checked_sub(at)? > tail {
        let len = s.get(at..at + 4)?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        at = at.checked_add(4)?.checked_add(len)?;
        n = n.checked_add(1)?;
    }
    (s.len().checked_sub(at)? == tail).then_some(n)
}

/// A parsed result file.
#[derive(Debug, Clone, Copy)]
pub struct ResultView<'a> {
    /// Batch id.
    pub batch_id: u64,
    /// Signed (`true`) or refused.
    pub signed: bool,
    /// Coarse reason code when refused ([`reason_code`]).
    pub reason: u8,
    psbts: &'a [u8],
    /// The signer's receipt (empty if a refusal carried none).
    pub receipt: &'a [u8],
}

impl<'a> ResultView<'a> {
    /// The co-signed PSBTs, in batch order.
    pub fn psbts(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut rest = self.psbts;
        core::iter::from_fn(move || {
            let len = rest.get(..4)?;
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let p = rest.get(4..4 + len)?;
            rest = rest.get(4 + len..)?;
            Some(p)
        })
    }

    /// The exact error class and code from the receipt of a refusal (bytes 60, 61).
    pub fn error(&self) -> Option<(u8, u8)> {
        Some((*self.receipt.get(60)?, *self.receipt.get(61)?))
    }
}

/// Parse a result file, checking every length.
pub fn parse_result(file: &[u8]) -> Result<ResultView<'_>, IntakeError> {
    let h = file
        .get(..RESULT_HEADER)
        .ok_or(IntakeError::BadResult("shorter than its header"))?;
    if h[..4] != RESULT_MAGIC {
        return Err(IntakeError::BadResult("magic is not SNRF"));
    }
    if h[4] != RESULT_VERSION {
        return Err(IntakeError::BadResult("unsupported version"));
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&h[5..13]);
    let n = u32::from_be_bytes([h[15], h[16], h[17], h[18]]);
    let body = &file[RESULT_HEADER..];
    match h[13] {
        0 => {
            let split = body
                .len()
                .checked_sub(RECEIPT_LEN)
                .ok_or(IntakeError::BadResult("no receipt"))?;
            if count_framed(body, RECEIPT_LEN) != Some(n) {
                return Err(IntakeError::BadResult(
                    "PSBT framing does not match the count",
                ));
            }
            Ok(ResultView {
                batch_id: u64::from_be_bytes(id),
                signed: true,
                reason: 0,
                psbts: &body[..split],
                receipt: &body[split..],
            })
        }
        1 if n == 0 => Ok(ResultView {
            batch_id: u64::from_be_bytes(id),
            signed: false,
            reason: h[14],
            psbts: &[],
            receipt: body,
        }),
        _ => Err(IntakeError::BadResult("unknown outcome")),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn batch(len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[..4].copy_from_slice(b"SNBC");
        b[4] = 1;
        b[5..9].copy_from_slice(&7u32.to_be_bytes());
        b[17..25].copy_from_slice(&0x1_0000_0005u64.to_be_bytes());
        for (i, x) in b.iter_mut().enumerate().skip(35) {
            *x = i as u8;
        }
        b
    }

    #[test]
    fn batch_file_splits_into_chunks_that_rebuild_it() {
        let file = batch(3 * CHUNK_MAX + 17);
        let reqs: Vec<_> = batch_requests(&file, 9).unwrap().collect();
        assert_eq!(reqs.len(), 4);
        let mut back = Vec::new();
        for (i, r) in reqs.iter().enumerate() {
            assert_eq!(r.batch_id, 7 << 32 | 5);
            assert_eq!(r.request_id, 9);
            assert_eq!(r.position.index, i as u32);
            assert_eq!(r.position.count, 4);
            assert_eq!(r.position.offset as usize, back.len());
            assert_eq!(r.position.total_len as usize, file.len());
            back.extend_from_slice(r.data.as_slice());
        }
        assert_eq!(back, file);
    }

    #[test]
    fn non_batches_are_refused() {
        assert_eq!(batch_id_of(b"SNBC").unwrap_err(), IntakeError::NotABatch);
        let mut f = batch(100);
        f[0] = b'X';
        assert_eq!(batch_requests(&f, 1).unwrap_err(), IntakeError::NotABatch);
        let mut f = batch(100);
        f[4] = 2;
        assert_eq!(batch_id_of(&f).unwrap_err(), IntakeError::NotABatch);
    }

    fn stream(psbts: &[&[u8]]) -> Vec<u8> {
        let mut s = Vec::new();
        for p in psbts {
            s.extend_from_slice(&(p.len() as u32).to_be_bytes());
            s.extend_from_slice(p);
        }
        s.extend_from_slice(&[0xAB; RECEIPT_LEN]);
        s
    }

    #[test]
    fn signed_stream_becomes_a_result_file_and_parses_back() {
        let p1 = vec![1u8; 5000];
        let p2 = vec![2u8; 10];
        let s = stream(&[&p1, &p2]);
        let mut buf = vec![0u8; 64 * 1024];
        let mut b = ResultBuilder::new(42, &mut buf).unwrap();
        assert_eq!(b.on_response(42, Response::Accepted).unwrap(), Built::More);
        let chunks: Vec<_> = s.chunks(CHUNK_MAX).collect();
        let mut done = None;
        let mut off = 0u32;
        for (i, c) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            match b
                .on_response(
                    42,
                    Response::Signed {
                        offset: off,
                        data: c,
                        last,
                    },
                )
                .unwrap()
            {
                Built::More => assert!(!last),
                Built::Done(n) => done = Some(n),
            }
            off += c.len() as u32;
        }
        let n = done.unwrap();
        let v = parse_result(&buf[..n]).unwrap();
        assert!(v.signed);
        assert_eq!(v.batch_id, 42);
        let got: Vec<&[u8]> = v.psbts().collect();
        assert_eq!(got, vec![&p1[..], &p2[..]]);
        assert_eq!(v.receipt, &[0xAB; RECEIPT_LEN][..]);
    }

    #[test]
    fn refusal_keeps_the_receipt_and_its_exact_code() {
        let mut receipt = [0u8; RECEIPT_LEN];
        receipt[60] = 1;
        receipt[61] = 5;
        let mut buf = vec![0u8; 1024];
        let mut b = ResultBuilder::new(3, &mut buf).unwrap();
        let r = Response::Rejected {
            reason: SignRejection::BadCertificate,
            data: &receipt,
        };
        let Built::Done(n) = b.on_response(3, r).unwrap() else {
            panic!("a refusal completes the result")
        };
        let v = parse_result(&buf[..n]).unwrap();
        assert!(!v.signed);
        assert_eq!(v.reason, 1);
        assert_eq!(v.error(), Some((1, 5)));
        assert_eq!(v.psbts().count(), 0);
    }

    #[test]
    fn builder_refuses_other_batches_gaps_and_overflow() {
        let mut buf = vec![0u8; RESULT_HEADER + RECEIPT_LEN + 8];
        let mut b = ResultBuilder::new(1, &mut buf).unwrap();
        assert!(matches!(
            b.on_response(2, Response::Accepted),
            Err(IntakeError::OtherBatch { got: 2, want: 1 })
        ));
        let gap = Response::Signed {
            offset: 4,
            data: &[0; 4],
            last: false,
        };
        assert!(matches!(
            b.on_response(1, gap),
            Err(IntakeError::OutOfOrder { .. })
        ));
        let big = [0u8; RECEIPT_LEN + 9];
        let over = Response::Signed {
            offset: 0,
            data: &big,
            last: true,
        };
        assert!(matches!(
            b.on_response(1, over),
            Err(IntakeError::BufferFull(_))
        ));
        // A stream whose frames do not end at the receipt.
        let bad = [0xFFu8; RECEIPT_LEN + 8];
        let r = Response::Signed {
            offset: 0,
            data: &bad,
            last: true,
        };
        assert_eq!(b.on_response(1, r), Err(IntakeError::BadStream));
    }

    #[test]
    fn result_parser_never_panics_on_truncations_or_flips() {
        let s = stream(&[&[7u8; 300]]);
        let mut file = Vec::new();
        file.extend_from_slice(&RESULT_MAGIC);
        file.push(1);
        file.extend_from_slice(&9u64.to_be_bytes());
        file.extend_from_slice(&[0, 0]);
        file.extend_from_slice(&1u32.to_be_bytes());
        file.extend_from_slice(&s);
        assert!(parse_result(&file).is_ok());
        for cut in 0..file.len() {
            let _ = parse_result(&file[..cut]);
        }
        for i in 0..file.len() {
            let mut f = file.clone();
            f[i] ^= 0xFF;
            if let Ok(v) = parse_result(&f) {
                let _ = v.psbts().count();
            }
        }
        assert!(parse_result(&file[..file.len() - 1]).is_err());
    }
}
