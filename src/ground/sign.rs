//! `spacenode ground sign`: get PSBTs co-signed by the node, end to end over the link.
//!
//! [`sign`] (also what the demo calls, with its open [`Session`]):
//!
//! 1. pings the node (PUS 17,1): nothing answering is [`SignError::Unreachable`] at once;
//! 2. builds the batch (certificate signed with the server's key, next certificate sequence
//!    from the state directory; [`super::batch`]) and refuses locally one larger than the
//!    node's [`MAX_BATCH_FILE`];
//! 3. uplinks it by CFDP class 2 ([`super::exchange`]: [`comms::cfdp::Sender`], one PDU per
//!    SDLS unit under the session's association), reporting [`Progress`] about every 10 % and each NAK; after a
//!    silence of [`SILENCE`] it pings again (which also moves the uplink above the floor of a
//!    node that rebooted; the node's receiver resumes from its journal);
//! 4. receives the result file ([`comms::cfdp::Receiver`] on a RAM flash) and returns the
//!    co-signed PSBTs, or the signer's exact refusal from the result's receipt.
//!
//! Avoids: waiting without a deadline, blocking the node (one PDU at a time, paced by CFDP).

use super::batch::{self, BatchError};
use super::explain::{Why, coarse};
use super::session::{Session, SessionError};
use comms::cfdp::TxProgress;
use comms::pus::ST_TEST;
use comms_partition::flash_map::MAX_BATCH_FILE;
use comms_partition::intake;
use std::path::Path;
use std::time::{Duration, Instant};

/// The ground's CFDP entity ID.
pub const GROUND_ENTITY: u64 = 2;
/// Node silence after which the ground pings it again.
pub const SILENCE: Duration = Duration::from_secs(2);
/// Default overall deadline of one [`sign`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

const _: () = assert!(MAX_BATCH_FILE as usize == signer_partition::MAX_BATCH);

/// What to sign.
pub struct SignJob {
    /// The ground server's id in the signer's registry.
    pub server: u32,
    /// Its P-256 certificate key.
    pub key: p256::SecretKey,
    /// The PSBTs (binary BIP-174), in batch order.
    pub psbts: Vec<Vec<u8>>,
    /// Certificate expiry, as the node takes it.
    pub expiry: crate::ground::expiry::Expiry,
    /// How to send it.
    pub uplink: Uplink,
}

/// How a batch goes up, whether built by [`sign`] or earlier by `ground batch` ([`sign_batch`]).
pub struct Uplink {
    /// The PSBTs' names (file paths) for a refusal, in batch order (empty: by number).
    pub names: Vec<String>,
    /// Give up after this long ([`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
    /// Uplink pacing: the radio's rate in bit/s (`None`: bursts of 8 PDUs, for an unlimited
    /// link).
    pub rate_bps: Option<u64>,
}

/// Figures of one transfer direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// File bytes.
    pub bytes: u64,
    /// PDUs sent by the ground in this transfer (uplink: metadata, data, EOF, ACKs; downlink:
    /// ACKs, NAKs, Finished).
    pub pdus: u64,
    /// File bytes sent again (uplink) on the receiver's request.
    pub retransmitted: u64,
    /// NAKs (uplink: received from the node; downlink: sent by the ground).
    pub naks: u64,
    /// Time the transfer took.
    pub elapsed: Duration,
}

/// A co-signed batch.
#[derive(Debug, Clone)]
pub struct SignOutcome {
    /// The co-signed PSBTs, in batch order.
    pub signed: Vec<Vec<u8>>,
    /// The batch id (server ‖ certificate sequence).
    pub batch_id: u64,
    /// The certificate sequence number used.
    pub sequence: u64,
    /// The batch file's upload.
    pub upload: TransferStats,
    /// The result file's download.
    pub download: TransferStats,
    /// From the first ping to the result.
    pub elapsed: Duration,
}

/// What [`sign`] reports while it works.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// The node answered the ping.
    Reached {
        /// Round trip.
        rtt: Duration,
    },
    /// Batch built.
    Built {
        /// Batch id.
        batch_id: u64,
        /// Bytes.
        bytes: usize,
    },
    /// Upload progress (about every 10 %, and at most once a second when NAKs arrive).
    Upload(TxProgress),
    /// The node confirmed the whole batch file.
    Uploaded(TxProgress),
    /// The node was silent for this long; pinging it again.
    Silent(Duration),
    /// The node announced a (re)boot: an upload resumes from what its journal kept; a
    /// delivered batch not yet answered is refused as abandoned, and [`sign`] sends it again.
    NodeRebooted,
    /// This batch's result file is whole.
    Received {
        /// Its size.
        size: u64,
    },
    /// A whole result file of another (earlier) batch came down, e.g. of a run that gave up
    /// before its result came; it is not this batch's, and the wait goes on.
    OtherResult {
        /// Its batch id.
        batch_id: u64,
    },
}

impl Progress {
    /// The operator's line for this step.
    pub fn line(&self) -> String {
        match self {
            Progress::Reached { rtt } => format!("node reached (ping {} ms)", rtt.as_millis()),
            Progress::Built { batch_id, bytes } => {
                format!("batch {batch_id:#x}: {bytes} bytes, uplink by CFDP")
            }
            Progress::Upload(t) => format!(
                "upload {:>3} %  {} / {} bytes confirmed, {} PDUs, {} bytes re-sent after {} NAKs",
                t.acknowledged * 100 / t.total.max(1),
                t.acknowledged,
                t.total,
                t.pdus,
                t.retransmitted,
                t.naks
            ),
            Progress::Uploaded(t) => format!(
                "batch delivered: {} bytes in {} PDUs, {} re-sent after {} NAKs; waiting for the signer",
                t.total, t.pdus, t.retransmitted, t.naks
            ),
            Progress::NodeRebooted => "the node rebooted; it resumes from what it kept".into(),
            Progress::Silent(d) => format!("node silent for {} ms; pinging it", d.as_millis()),
            Progress::Received { size } => format!("result received: {size} bytes"),
            Progress::OtherResult { batch_id } => format!(
                "a result of batch {batch_id:#x} (an earlier run) came down; still waiting for this batch's"
            ),
        }
    }
}

impl std::fmt::Display for SignOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (u, d) = (self.upload, self.download);
        write!(
            f,
            "batch {:#x} (certificate sequence {}) co-signed in {} ms: up {} bytes in {} PDUs ({} re-sent, {} NAKs), down {} bytes ({} NAKs sent)",
            self.batch_id,
            self.sequence,
            self.elapsed.as_millis(),
            u.bytes,
            u.pdus,
            u.retransmitted,
            u.naks,
            d.bytes,
            d.naks
        )
    }
}

/// Why a sign did not produce co-signed PSBTs (each says what to do).
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// Nothing answered.
    #[error("node unreachable: {0}")]
    Unreachable(SessionError),
    /// The session failed (state file, socket).
    #[error("{0}")]
    Session(SessionError),
    /// The batch could not be built.
    #[error("{0}")]
    Batch(BatchError),
    /// A batch file given to [`sign_batch`] does not start with a batch certificate.
    #[error(
        "not a batch file (its certificate does not parse): build one with `spacenode ground batch`"
    )]
    NotABatch,
    /// The batch is larger than the node accepts.
    #[error(
        "the batch file is {size} bytes, above the node's limit of {max} bytes: split the PSBTs into several batches"
    )]
    TooLarge {
        /// Bytes.
        size: usize,
        /// Limit.
        max: u32,
    },
    /// The node's CFDP entity refused or abandoned the upload.
    #[error("the node refused the batch upload: CFDP condition {0}{hint}", hint = condition_hint(.0))]
    UploadFailed(String),
    /// The node refused the batch: the signer by its receipt, or comms before the signer saw it
    /// (signer down, batch abandoned by a reset).
    #[error("{by} refused batch {batch:#x}: {reason}")]
    Refused {
        /// Who refused it: "the signer" or "the node".
        by: &'static str,
        /// Batch id.
        batch: u64,
        /// The exact reason.
        reason: String,
        /// Receipt error class.
        class: u8,
        /// Receipt error code.
        code: u8,
        /// The PSBT the receipt names, by its place in the batch (none: the whole batch).
        psbt: Option<u16>,
    },
    /// The result file is unusable.
    #[error("result file: {0}")]
    Result(BatchError),
    /// The deadline passed.
    #[error(
        "timed out after {secs:.1} s {stage}; check the node (`spacenode ground status`) and run it again (a new batch: a partial upload is kept by the node only while the same transfer continues)",
        secs = .elapsed.as_secs_f64()
    )]
    Timeout {
        /// How far it got.
        stage: String,
        /// Time spent.
        elapsed: Duration,
    },
}

fn condition_hint(c: &str) -> String {
    match c {
        "FileSizeError" => {
            format!(" (the file is larger than the node's batch area of {MAX_BATCH_FILE} bytes)")
        }
        "FileChecksumFailure" => " (the file arrived corrupted; send it again)".into(),
        "PositiveAckLimitReached" | "InactivityDetected" => {
            " (the node stopped answering during the upload)".into()
        }
        _ => String::new(),
    }
}

pub(super) fn ping(session: &mut Session) -> Result<Duration, SessionError> {
    let t = Instant::now();
    session.command(ST_TEST, 1, &[])?;
    Ok(t.elapsed())
}

/// Co-sign `job` through the node `session` talks to; see the module docs.
pub fn sign(
    session: &mut Session,
    state_dir: &Path,
    job: &SignJob,
    progress: &mut dyn FnMut(&Progress),
) -> Result<SignOutcome, SignError> {
    let start = Instant::now();
    reach(session, progress)?;
    let sequence = batch::next_sequence(state_dir, job.server).map_err(SignError::Batch)?;
    let file = batch::build_batch(
        &job.key,
        job.server,
        sequence,
        job.expiry.field(),
        &job.psbts,
    )
    .map_err(SignError::Batch)?;
    deliver(
        session,
        state_dir,
        &file,
        sequence,
        &job.uplink,
        start,
        progress,
    )
}

/// Co-sign a batch file built earlier (`spacenode ground batch`): its certificate already
/// carries the server, the sequence and the PSBTs' hashes, so no key is needed here.
pub fn sign_batch(
    session: &mut Session,
    state_dir: &Path,
    file: &[u8],
    uplink: &Uplink,
    progress: &mut dyn FnMut(&Progress),
) -> Result<SignOutcome, SignError> {
    let start = Instant::now();
    let cert = signer::batch::framing::split_certificate(file)
        .and_then(|(c, _)| signer::cert::Certificate::parse(c).ok())
        .ok_or(SignError::NotABatch)?;
    let sequence = cert.sequence;
    reach(session, progress)?;
    deliver(session, state_dir, file, sequence, uplink, start, progress)
}

/// Ping the node: nothing answering is [`SignError::Unreachable`].
fn reach(session: &mut Session, progress: &mut dyn FnMut(&Progress)) -> Result<(), SignError> {
    let rtt = ping(session).map_err(|e| match e {
        e @ SessionError::Unreachable { .. } => SignError::Unreachable(e),
        e => SignError::Session(e),
    })?;
    progress(&Progress::Reached { rtt });
    Ok(())
}

/// Uplink `file`, wait for its result, and read it: the co-signed PSBTs or the refusal.
fn deliver(
    session: &mut Session,
    state_dir: &Path,
    file: &[u8],
    sequence: u64,
    uplink: &Uplink,
    start: Instant,
    progress: &mut dyn FnMut(&Progress),
) -> Result<SignOutcome, SignError> {
    if file.len() > MAX_BATCH_FILE as usize {
        return Err(SignError::TooLarge {
            size: file.len(),
            max: MAX_BATCH_FILE,
        });
    }
    let batch_id = intake::batch_id_of(file).unwrap_or(0);
    progress(&Progress::Built {
        batch_id,
        bytes: file.len(),
    });
    let (mut result, mut upload, mut download) =
        super::exchange::transfer(session, state_dir, file, batch_id, uplink, start, progress)?;
    // The node reset before answering and dropped the batch (it never signs it later on its
    // own): ask once more with the identical batch, signed now or answered as a resubmission.
    let abandoned = intake::reason_code(protocol::SignRejection::Abandoned);
    if intake::parse_result(&result).is_ok_and(|v| !v.signed && v.reason == abandoned) {
        (result, upload, download) =
            super::exchange::transfer(session, state_dir, file, batch_id, uplink, start, progress)?;
    }
    let view = intake::parse_result(&result).map_err(|e| SignError::Result(e.into()))?;
    if !view.signed {
        let (class, code) = view.error().unwrap_or((0, 0));
        let why = Why::from_receipt(view.receipt).filter(|_| class != 0);
        let reason = match why {
            Some(why) => why.describe(&uplink.names),
            None => coarse(view.reason).to_string(),
        };
        // Comms answers these itself, with no signer receipt.
        let by_comms = [
            protocol::SignRejection::SignerDown,
            protocol::SignRejection::Abandoned,
        ]
        .map(intake::reason_code)
        .contains(&view.reason);
        return Err(SignError::Refused {
            by: if by_comms { "the node" } else { "the signer" },
            batch: view.batch_id,
            reason,
            class,
            code,
            psbt: why.and_then(|w| w.psbt),
        });
    }
    if view.batch_id != batch_id {
        return Err(SignError::Result(BatchError::Result(
            intake::IntakeError::OtherBatch {
                got: view.batch_id,
                want: batch_id,
            },
        )));
    }
    Ok(SignOutcome {
        signed: view.psbts().map(<[u8]>::to_vec).collect(),
        batch_id,
        sequence,
        upload,
        download,
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_do() {
        let e = SignError::TooLarge {
            size: 2 << 20,
            max: MAX_BATCH_FILE,
        };
        assert!(e.to_string().contains("split the PSBTs"));
        let e = SignError::UploadFailed("FileSizeError".into());
        assert!(e.to_string().contains("1048576 bytes"), "{e}");
        let e = SignError::Timeout {
            stage: "uploading the batch: 10 of 20 bytes confirmed by the node, 0 re-sent".into(),
            elapsed: Duration::from_secs(3),
        };
        let text = e.to_string();
        assert!(
            text.contains("10 of 20 bytes") && text.contains("after 3.0 s"),
            "{text}"
        );
    }
}
