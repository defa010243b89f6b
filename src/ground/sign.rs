//! `spacenode ground sign`: get PSBTs co-signed by the node, end to end over the link.
//!
//! [`sign`] (also what the demo calls, with its open [`Session`]):
//!
//! 1. pings the node (PUS 17,1): nothing answering is [`SignError::Unreachable`] at once;
//! 2. builds the batch (certificate signed with the server's key, next certificate sequence
//!    from the state directory; [`super::batch`]) and refuses locally one larger than the
//!    node's [`MAX_BATCH_FILE`];
//! 3. uplinks it by CFDP class 2 ([`comms::cfdp::Sender`], one PDU per SDLS unit under the
//!    session's association), reporting [`Progress`] about every 10 % and each NAK; after a
//!    silence of [`SILENCE`] it pings again (which also moves the uplink above the floor of a
//!    node that rebooted; the node's receiver resumes from its journal);
//! 4. receives the result file ([`comms::cfdp::Receiver`] on a RAM flash) and returns the
//!    co-signed PSBTs, or the signer's exact refusal from the result's receipt.
//!
//! Avoids: waiting without a deadline, blocking the node (one PDU at a time, paced by CFDP).

use super::batch::{self, BatchError};
use super::session::{Incoming, Session, SessionError};
use comms::cfdp::ground::RamFlash;
use comms::cfdp::packet::{self, CFDP_APID};
use comms::cfdp::{
    CfdpLayout, Receiver, ReceiverConfig, SendState, Sender, SenderConfig, TxProgress,
};
use comms::pus::ST_TEST;
use comms::pus::event::EV_SECURITY_RESTORED;
use comms_partition::batches::{ENTITY_ID_WIDTH, NODE_ENTITY};
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
/// The largest result file the node sends.
const RESULT_MAX: usize = comms_partition::batches::RESULT_MAX;

const _: () = assert!(MAX_BATCH_FILE as usize == signer_partition::MAX_BATCH);

/// What to sign.
pub struct SignJob {
    /// The ground server's id in the signer's registry.
    pub server: u32,
    /// Its P-256 certificate key.
    pub key: p256::SecretKey,
    /// The PSBTs (binary BIP-174), in batch order.
    pub psbts: Vec<Vec<u8>>,
    /// Certificate expiry, mission time in ms (`None`: never).
    pub expiry_ms: Option<u64>,
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
    /// Result file progress.
    Download {
        /// Bytes held.
        received: u64,
        /// Its size.
        size: u64,
    },
}

impl Progress {
    /// The operator's line for this step; `None` for steps not worth a line (partial downloads).
    pub fn line(&self) -> Option<String> {
        Some(match self {
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
            Progress::Download { received, size } if received == size => {
                format!("result received: {size} bytes")
            }
            Progress::Download { .. } => return None,
        })
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
    /// The signer refused the batch.
    #[error("the signer refused batch {batch:#x}: {reason}")]
    Refused {
        /// Batch id.
        batch: u64,
        /// The exact reason.
        reason: String,
        /// Receipt error class.
        class: u8,
        /// Receipt error code.
        code: u8,
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

/// The signer's exact reason from a receipt's class and code (`signer::batch::receipt`).
pub fn explain(class: u8, code: u8, psbt: Option<u16>) -> String {
    let at = psbt.map_or(String::new(), |i| format!(" (PSBT {i})"));
    let cert = |c: u8| match c {
        1 => "malformed certificate",
        2 => "unknown server id",
        3 => "server revoked",
        4 => "certificate key id does not match the server's key (wrong --key?)",
        5 => "bad certificate signature (wrong --key?)",
        6 => "replayed sequence number (this certificate sequence was already used)",
        7 => "certificate expired",
        8 => "PSBT count differs from the certificate",
        9 => "a PSBT does not match its certified hash",
        10 => {
            "the certificate never expires and the server's registry entry does not say `no-expiry` (give it a lifetime: --lifetime-s)"
        }
        11 => "the node has no mission time yet: correlate it first with `spacenode ground time`",
        12 => "sequence number more than 2^20 above the node's last for this server",
        _ => "certificate refused",
    };
    let miss = |m: u8| match m {
        1 => "amount over max-amount",
        2 => "velocity limit reached",
        3 => "destination not allowed",
        4 => "fee over max-fee",
        5 => "fee rate over the limit",
        _ => "no rule matched",
    };
    match class {
        1 => format!("certificate: {}", cert(code)),
        2 => "batch framing is malformed".into(),
        3 => format!("PSBT does not parse{at}"),
        4 => match signer::signer::Refusal::reason(code) {
            Some(why) => format!("wallet refused the PSBT: {why} (signer refusal code {code}){at}"),
            None => format!("wallet refused the PSBT (signer refusal code {code}){at}"),
        },
        5 => match code {
            1 => format!("policy: denied by a rule{at}"),
            2 => "policy: the server has no rules".into(),
            c if c >= 0x10 => format!("policy: {}{at}", miss(c - 0x10)),
            c => format!("policy refusal code {c}{at}"),
        },
        6 => "signer internal error (flash); send again".into(),
        7 => format!("signed PSBT too large for the signer's output buffer{at}"),
        _ => format!("refused (class {class}, code {code})"),
    }
}

fn coarse(code: u8) -> &'static str {
    match code {
        1 => "bad certificate",
        2 => "replayed batch",
        3 => "signing policy violation",
        4 => "not a batch file (malformed)",
        5 => "bad chunking",
        6 => "signer busy with another batch; try again",
        7 => {
            "the signer cannot sign now (the node is in safe mode, or the signer is stopped, degraded or restarting); nothing was signed: see `spacenode ground status`, then send it again"
        }
        8 => {
            "the node reset before answering and dropped the batch (it is never signed later on the node's own initiative); send it again"
        }
        _ => "internal error on the node",
    }
}

/// The next CFDP transaction number of this ground (`STATE/cfdp.seq`).
fn next_transaction(state_dir: &Path) -> Result<u32, SignError> {
    let path = state_dir.join("cfdp.seq");
    let last = match std::fs::read_to_string(&path) {
        Ok(t) => t.trim().parse::<u32>().unwrap_or(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => {
            return Err(SignError::Batch(BatchError::Io { path, source: e }));
        }
    };
    let next = last.wrapping_add(1).max(1);
    std::fs::write(&path, format!("{next}\n")).map_err(|source| {
        SignError::Batch(BatchError::Io {
            path: path.clone(),
            source,
        })
    })?;
    Ok(next)
}

fn ping(session: &mut Session) -> Result<Duration, SessionError> {
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
    let rtt = ping(session).map_err(|e| match e {
        e @ SessionError::Unreachable { .. } => SignError::Unreachable(e),
        e => SignError::Session(e),
    })?;
    progress(&Progress::Reached { rtt });
    let sequence = batch::next_sequence(state_dir, job.server).map_err(SignError::Batch)?;
    let file = batch::build_batch(
        &job.key,
        job.server,
        sequence,
        job.expiry_ms.unwrap_or(u64::MAX),
        &job.psbts,
    )
    .map_err(SignError::Batch)?;
    if file.len() > MAX_BATCH_FILE as usize {
        return Err(SignError::TooLarge {
            size: file.len(),
            max: MAX_BATCH_FILE,
        });
    }
    let batch_id = intake::batch_id_of(&file).unwrap_or(0);
    progress(&Progress::Built {
        batch_id,
        bytes: file.len(),
    });
    let (mut result, mut upload, mut download) =
        transfer(session, state_dir, &file, batch_id, job, start, progress)?;
    // The node reset before answering and dropped the batch (it never signs it later on its
    // own): ask once more with the identical batch, signed now or answered as a resubmission.
    let abandoned = intake::reason_code(protocol::SignRejection::Abandoned);
    if intake::parse_result(&result).is_ok_and(|v| !v.signed && v.reason == abandoned) {
        (result, upload, download) =
            transfer(session, state_dir, &file, batch_id, job, start, progress)?;
    }
    let view = intake::parse_result(&result).map_err(|e| SignError::Result(e.into()))?;
    if !view.signed {
        let (class, code) = view.error().unwrap_or((0, 0));
        let psbt = view
            .receipt
            .get(62..64)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .filter(|&i| i != 0xFFFF);
        let reason = if view.receipt.len() == intake::RECEIPT_LEN && class != 0 {
            explain(class, code, psbt)
        } else {
            coarse(view.reason).to_string()
        };
        return Err(SignError::Refused {
            batch: view.batch_id,
            reason,
            class,
            code,
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

/// The CFDP exchange: upload `file`, receive the result. Both entities run in one loop (the
/// node may start the result before the upload's Finished reaches the ground).
fn transfer(
    session: &mut Session,
    state_dir: &Path,
    file: &[u8],
    batch_id: u64,
    job: &SignJob,
    start: Instant,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Vec<u8>, TransferStats, TransferStats), SignError> {
    let cfg = SenderConfig {
        local_id: GROUND_ENTITY,
        remote_id: NODE_ENTITY,
        id_width: ENTITY_ID_WIDTH,
        segment_len: 1024,
        rate_bps: job.rate_bps,
        // Space packet header, SDLS header and MAC around each PDU.
        frame_overhead: 6 + comms::sdls::engine::OVERHEAD,
        ..SenderConfig::default()
    };
    let timeout = job.timeout;
    let seq = next_transaction(state_dir)?;
    let mut tx = Sender::new(cfg, seq, b"batch.snbc", file).map_err(|e| SignError::Timeout {
        stage: format!("before the upload: {e}"),
        elapsed: start.elapsed(),
    })?;
    let data_base = CfdpLayout::comms(0).data_base as usize;
    let capacity = (data_base + RESULT_MAX).div_ceil(4096) * 4096; // whole RamFlash sectors
    let mut flash = RamFlash::new(capacity);
    let layout = CfdpLayout::comms(u32::try_from(capacity).unwrap_or(u32::MAX));
    let rcfg = ReceiverConfig {
        local_id: GROUND_ENTITY,
        ..ReceiverConfig::default()
    };
    let mut rx = Receiver::open(&mut flash, rcfg, layout).map_err(|e| SignError::Timeout {
        stage: format!("before the download: {e}"),
        elapsed: start.elapsed(),
    })?;
    let t0 = Instant::now();
    let mut pkt_seq = 0u16;
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut wrap_buf = vec![0u8; packet::MAX_PDU + 16];
    let mut last_heard = Instant::now();
    let mut next_decile = 1u64;
    let mut naks_seen = 0u64;
    let mut last_line = Instant::now();
    let mut uploaded: Option<TransferStats> = None;
    let mut down_start: Option<Instant> = None;
    let mut last_down = 0u64;
    let mut down_pdus = 0u64;
    loop {
        let now = t0.elapsed();
        // Everything both entities want to send.
        out.clear();
        let data = file;
        tx.poll(now, data, |pdu| out.push(pdu.to_vec()))
            .map_err(|e| SignError::Timeout {
                stage: format!("during the upload: {e}"),
                elapsed: start.elapsed(),
            })?;
        let up = out.len();
        let _ = rx.poll(&mut flash, now, |pdu| out.push(pdu.to_vec()));
        down_pdus += (out.len() - up) as u64;
        for pdu in &out {
            if let Ok(n) = packet::wrap(pdu, pkt_seq, true, &mut wrap_buf) {
                pkt_seq = pkt_seq.wrapping_add(1);
                session
                    .send_packet(wrap_buf.get(..n).unwrap_or(&[]))
                    .map_err(SignError::Session)?;
            }
        }
        // One unit from the node (or a short wait).
        match session
            .recv_any(CFDP_APID, Duration::from_millis(2))
            .map_err(SignError::Session)?
        {
            Some(Incoming::Packet(p)) => {
                last_heard = Instant::now();
                if let Ok(pdu) = packet::unwrap(&p) {
                    let towards_sender = pdu.first().is_some_and(|b| b & 0x08 != 0);
                    if towards_sender {
                        let _ = tx.on_pdu(pdu, t0.elapsed());
                    } else {
                        if down_start.is_none() {
                            down_start = Some(Instant::now());
                        }
                        let _ = rx.on_pdu(&mut flash, pdu, t0.elapsed());
                    }
                }
            }
            Some(Incoming::Tm(tm)) => {
                last_heard = Instant::now();
                if tm.service == comms::pus::ST_EVENT
                    && tm.source.get(..2) == Some(&EV_SECURITY_RESTORED.to_be_bytes()[..])
                {
                    progress(&Progress::NodeRebooted);
                }
            }
            None => {}
        }
        let p = tx.progress();
        if uploaded.is_none() {
            let total = p.total.max(1);
            let decile = p.acknowledged * 10 >= next_decile * total;
            let naks = p.naks > naks_seen && last_line.elapsed() >= Duration::from_secs(1);
            if decile || naks {
                naks_seen = p.naks;
                last_line = Instant::now();
                while next_decile * total <= p.acknowledged * 10 {
                    next_decile += 1;
                }
                progress(&Progress::Upload(p));
            }
            match tx.state() {
                SendState::Delivered => {
                    progress(&Progress::Uploaded(p));
                    uploaded = Some(TransferStats {
                        bytes: p.total,
                        pdus: p.pdus,
                        retransmitted: p.retransmitted,
                        naks: p.naks,
                        elapsed: t0.elapsed(),
                    });
                }
                SendState::Failed(c) => return Err(SignError::UploadFailed(format!("{c:?}"))),
                SendState::Active => {}
            }
        }
        if let Some(rp) = rx.progress()
            && rp.received != last_down
        {
            last_down = rp.received;
            progress(&Progress::Download {
                received: rp.received,
                size: rp.size,
            });
        }
        if let Some(f) = rx
            .take_received(&mut flash)
            .map_err(|e| SignError::Timeout {
                stage: format!("receiving the result: {e}"),
                elapsed: start.elapsed(),
            })?
        {
            let mut bytes = vec![0u8; usize::try_from(f.size).unwrap_or(0)];
            rx.read_received(&mut flash, 0, &mut bytes)
                .map_err(|e| SignError::Timeout {
                    stage: format!("reading the result: {e}"),
                    elapsed: start.elapsed(),
                })?;
            // The result of an earlier batch (a run that gave up before it came): not ours;
            // the receiver takes the next transfer.
            if intake::parse_result(&bytes).is_ok_and(|v| v.batch_id != batch_id) {
                continue;
            }
            // Let the Finished (and the upload's ACK) leave, and answer a repeated EOF.
            let linger = Instant::now();
            while linger.elapsed() < Duration::from_millis(300) {
                out.clear();
                let now = t0.elapsed();
                let _ = tx.poll(now, file, |pdu| out.push(pdu.to_vec()));
                let up = out.len();
                let _ = rx.poll(&mut flash, now, |pdu| out.push(pdu.to_vec()));
                down_pdus += (out.len() - up) as u64;
                for pdu in &out {
                    if let Ok(n) = packet::wrap(pdu, pkt_seq, true, &mut wrap_buf) {
                        pkt_seq = pkt_seq.wrapping_add(1);
                        let _ = session.send_packet(wrap_buf.get(..n).unwrap_or(&[]));
                    }
                }
                if let Ok(Some(Incoming::Packet(p))) =
                    session.recv_any(CFDP_APID, Duration::from_millis(5))
                    && let Ok(pdu) = packet::unwrap(&p)
                {
                    if pdu.first().is_some_and(|b| b & 0x08 != 0) {
                        let _ = tx.on_pdu(pdu, t0.elapsed());
                    } else {
                        let _ = rx.on_pdu(&mut flash, pdu, t0.elapsed());
                    }
                }
            }
            let p = tx.progress();
            let upload = uploaded.unwrap_or(TransferStats {
                bytes: p.total,
                pdus: p.pdus,
                retransmitted: p.retransmitted,
                naks: p.naks,
                elapsed: t0.elapsed(),
            });
            let c = rx.counters();
            let download = TransferStats {
                bytes: f.size,
                pdus: down_pdus,
                retransmitted: c.duplicate_bytes,
                naks: c.naks,
                elapsed: down_start.map_or(Duration::ZERO, |t| t.elapsed()),
            };
            return Ok((bytes, upload, download));
        }
        if last_heard.elapsed() > SILENCE {
            progress(&Progress::Silent(last_heard.elapsed()));
            // A ping retried through the loss; from its second attempt on it jumps a
            // reservation block, above the floor of a node that rebooted. An unanswered ping
            // is not final: the deadline below is.
            let _ = ping(session);
            last_heard = Instant::now();
        }
        if start.elapsed() > timeout {
            let p = tx.progress();
            let stage = match uploaded {
                None => format!(
                    "uploading the batch: {} of {} bytes confirmed by the node, {} re-sent",
                    p.acknowledged, p.total, p.retransmitted
                ),
                Some(_) => match rx.progress() {
                    None => "waiting for the signer's result (the batch was delivered)".into(),
                    Some(rp) => {
                        format!("receiving the result: {} of {} bytes", rp.received, rp.size)
                    }
                },
            };
            return Err(SignError::Timeout {
                stage,
                elapsed: start.elapsed(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_codes_read_as_the_signers_reasons() {
        assert!(explain(1, 6, None).contains("replayed sequence number"));
        assert_eq!(
            explain(5, 0x11, Some(2)),
            "policy: amount over max-amount (PSBT 2)"
        );
        assert!(explain(1, 5, None).contains("wrong --key"));
        assert!(explain(4, 12, Some(0)).contains("wallet refused"));
        assert_eq!(
            explain(4, 19, Some(1)),
            "wallet refused the PSBT: two inputs spend the same outpoint: the transaction can never confirm (bad-txns-inputs-duplicate) (signer refusal code 19) (PSBT 1)"
        );
        assert!(explain(9, 9, None).contains("class 9, code 9"));
        assert!(coarse(6).contains("busy"));
        let code = |r| intake::reason_code(r);
        assert!(coarse(code(protocol::SignRejection::SignerDown)).contains("safe mode"));
        assert!(coarse(code(protocol::SignRejection::Abandoned)).contains("send it again"));
    }

    #[test]
    fn transaction_numbers_increase_per_state_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = next_transaction(dir.path()).expect("first");
        let b = next_transaction(dir.path()).expect("second");
        assert_eq!((a, b), (1, 2));
        std::fs::write(dir.path().join("cfdp.seq"), "junk").expect("write");
        assert_eq!(next_transaction(dir.path()).expect("after junk"), 1);
    }

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
