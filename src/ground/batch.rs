//! The ground's side of batch files: build the batch a server sends (certificate signed with the
//! server's key, then the PSBTs), and write the co-signed PSBTs out of a result file. The file
//! formats are [`comms_partition::intake`]'s (the batch is exactly the signer's batch format).
//!
//! - **Key file**: the ground server's P-256 certificate key ([`super::keyfile`]: 64 hex
//!   characters, mode 0600). Its compressed public key is what the signer's registry lists for
//!   the server (`server id=N key=02...`).
//! - **Sequence**: certificates of one server need strictly increasing sequence numbers; the
//!   ground keeps the last one per server in `STATE_DIR/server-ID.seq` and uses the next.
//!
//! Avoids: sending anything (CFDP moves the files), and accepting a PSBT the signer's own
//! parser refuses.

use comms_partition::intake::{self, ResultView};
use std::path::{Path, PathBuf};

/// Why a batch or result could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// A PSBT file is unusable.
    #[error("PSBT {path}: {what}")]
    BadPsbt {
        /// File.
        path: PathBuf,
        /// Problem.
        what: String,
    },
    /// No PSBTs, or too many.
    #[error("a batch holds 1 to {max} PSBTs, {got} given")]
    Count {
        /// Given.
        got: usize,
        /// Limit.
        max: usize,
    },
    /// The certificate could not be built.
    #[error("certificate: {0}")]
    Certificate(signer::cert::CertError),
    /// The result file does not parse.
    #[error("result file: {0}")]
    Result(#[from] intake::IntakeError),
    /// The signer refused the batch.
    #[error("the node refused batch {batch:#x}: {reason}")]
    Refused {
        /// Batch id.
        batch: u64,
        /// The signer's reason in words, from the receipt (`super::explain`).
        reason: String,
    },
    /// `--next-sequence` not above the sequence this ground last used for the server.
    #[error(
        "--next-sequence {next} would go backwards: this ground already used sequence {last} for server {server} ({path}); a sequence is never used twice"
    )]
    SequenceBackwards {
        /// Server.
        server: u32,
        /// Asked.
        next: u64,
        /// Last recorded.
        last: u64,
        /// The record.
        path: PathBuf,
    },
    /// `--next-sequence` more than the node's step bound above the last recorded sequence.
    #[error(
        "--next-sequence {next} is more than {max} above the last sequence recorded for server {server} ({last}): the node refuses such a step (it would use up the sequence space); give a value closer to the last sequence the node accepted"
    )]
    SequenceJump {
        /// Server.
        server: u32,
        /// Asked.
        next: u64,
        /// Last recorded (0 without a record).
        last: u64,
        /// [`signer::cert::MAX_SEQUENCE_STEP`].
        max: u64,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BatchError + '_ {
    move |source| BatchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Read and check one PSBT file (binary BIP-174).
pub fn read_psbt(path: &Path) -> Result<Vec<u8>, BatchError> {
    let raw = std::fs::read(path).map_err(|e| BatchError::BadPsbt {
        path: path.to_path_buf(),
        what: e.to_string(),
    })?;
    signer::psbt::Psbt::parse(&raw).map_err(|e| BatchError::BadPsbt {
        path: path.to_path_buf(),
        what: if raw.starts_with(b"cHNidP") {
            format!("{e}: this is base64 text; give the binary PSBT (`base64 -d FILE > FILE.psbt`)")
        } else {
            format!("{e}: export the PSBT again from the wallet that made it (binary BIP-174)")
        },
    })?;
    Ok(raw)
}

/// The next certificate sequence number for `server`, recorded in `state_dir`.
pub fn next_sequence(state_dir: &Path, server: u32) -> Result<u64, BatchError> {
    let (path, last) = last_sequence(state_dir, server)?;
    let next = last.saturating_add(1);
    std::fs::write(&path, format!("{next}\n")).map_err(io(&path))?;
    Ok(next)
}

/// The last certificate sequence this ground used for `server` (0 if none), and its record
/// `STATE/server-ID.seq`.
pub fn last_sequence(state_dir: &Path, server: u32) -> Result<(PathBuf, u64), BatchError> {
    std::fs::create_dir_all(state_dir).map_err(io(state_dir))?;
    let path = state_dir.join(format!("server-{server}.seq"));
    let last = match std::fs::read_to_string(&path) {
        Ok(t) => t.trim().parse::<u64>().map_err(|_| BatchError::Io {
            path: path.clone(),
            source: std::io::Error::other("not a sequence number"),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(io(&path)(e)),
    };
    Ok((path, last))
}

/// Makes `next` the next certificate sequence of `server` (`--next-sequence`: the way out when
/// the node refuses a batch as replayed because this ground's record is behind the node's).
/// Refused if it would go backwards (not above the last recorded: a sequence is never used
/// twice) or step more than [`signer::cert::MAX_SEQUENCE_STEP`] above it (the node's bound;
/// counted from 0 without a record), so the ground never makes a sequence the node refuses.
pub fn set_next_sequence(state_dir: &Path, server: u32, next: u64) -> Result<(), BatchError> {
    let (path, last) = last_sequence(state_dir, server)?;
    let recorded = path.exists();
    if next <= last && (recorded || next == 0) {
        return Err(BatchError::SequenceBackwards {
            server,
            next,
            last,
            path,
        });
    }
    let max = signer::cert::MAX_SEQUENCE_STEP;
    if next.saturating_sub(last) > max {
        return Err(BatchError::SequenceJump {
            server,
            next,
            last,
            max,
        });
    }
    let before = next.saturating_sub(1);
    std::fs::write(&path, format!("{before}\n")).map_err(io(&path))
}

/// What to tell the operator when the node refuses a batch of `server` as replayed: what
/// happened and how to recover (`--next-sequence`).
pub fn replay_hint(state_dir: &Path, server: u32) -> String {
    let (path, last) = match last_sequence(state_dir, server) {
        Ok(r) => r,
        Err(e) => return format!("(this ground's sequence record: {e})"),
    };
    format!(
        "what happened: the node has already accepted this certificate sequence or a higher one from server {server}, so this ground's record of its last sequence ({}: {last}) is behind the node's: the ground's state directory was lost or replaced, or another ground signs as server {server}.\nto recover: find the last sequence the node accepted (the other ground's record, or the batch ids of earlier results: server << 32 | sequence) and run again with `--next-sequence N` above it; the node refuses a step of more than {} past its last sequence",
        path.display(),
        signer::cert::MAX_SEQUENCE_STEP
    )
}

/// Build a batch file: certificate (server `server`, `sequence`, `expiry_ms` mission time)
/// followed by the framed PSBTs.
pub fn build_batch(
    key: &p256::SecretKey,
    server: u32,
    sequence: u64,
    expiry_ms: u64,
    psbts: &[Vec<u8>],
) -> Result<Vec<u8>, BatchError> {
    let max = signer::cert::MAX_PSBTS;
    if psbts.is_empty() || psbts.len() > max {
        return Err(BatchError::Count {
            got: psbts.len(),
            max,
        });
    }
    let refs: Vec<&[u8]> = psbts.iter().map(Vec::as_slice).collect();
    let mut out = vec![0u8; 99 + 32 * psbts.len()];
    let n = signer::cert::build(&mut out, key, server, sequence, expiry_ms, &refs)
        .map_err(BatchError::Certificate)?;
    out.truncate(n);
    for p in psbts {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p);
    }
    Ok(out)
}

/// Check a result file and return the co-signed PSBTs, or the signer's refusal.
pub fn signed_psbts(result: &[u8]) -> Result<Vec<Vec<u8>>, BatchError> {
    let v: ResultView<'_> = intake::parse_result(result)?;
    if !v.signed {
        let reason = match super::explain::Why::from_receipt(v.receipt) {
            Some(why) if why.class != 0 => why.to_string(),
            _ => super::explain::coarse(v.reason).to_string(),
        };
        return Err(BatchError::Refused {
            batch: v.batch_id,
            reason,
        });
    }
    Ok(v.psbts().map(<[u8]>::to_vec).collect())
}

/// Write each co-signed PSBT of `result` to `outputs` (same order and count as the batch).
pub fn write_result(result: &[u8], outputs: &[PathBuf]) -> Result<usize, BatchError> {
    let psbts = signed_psbts(result)?;
    if psbts.len() != outputs.len() {
        return Err(BatchError::Count {
            got: outputs.len(),
            max: psbts.len(),
        });
    }
    for (p, path) in psbts.iter().zip(outputs) {
        std::fs::write(path, p).map_err(io(path))?;
    }
    Ok(psbts.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use comms_partition::intake::{Built, Response, ResultBuilder, batch_requests};

    fn key() -> p256::SecretKey {
        p256::SecretKey::from_slice(&[7u8; 32]).expect("key")
    }

    #[test]
    fn next_sequence_never_goes_backwards_nor_past_the_nodes_step() {
        let dir = tempfile::tempdir().expect("tempdir");
        let max = signer::cert::MAX_SEQUENCE_STEP;
        // No record: from 0.
        assert!(matches!(
            set_next_sequence(dir.path(), 7, max + 1),
            Err(BatchError::SequenceJump { last: 0, .. })
        ));
        assert!(matches!(
            set_next_sequence(dir.path(), 7, 0),
            Err(BatchError::SequenceBackwards { .. })
        ));
        set_next_sequence(dir.path(), 7, 40).expect("a lost record recovers");
        assert_eq!(next_sequence(dir.path(), 7).expect("next"), 40);
        for back in [40, 39, 1] {
            assert!(matches!(
                set_next_sequence(dir.path(), 7, back),
                Err(BatchError::SequenceBackwards { last: 40, .. })
            ));
        }
        assert!(matches!(
            set_next_sequence(dir.path(), 7, u64::MAX),
            Err(BatchError::SequenceJump { last: 40, .. })
        ));
        set_next_sequence(dir.path(), 7, 40 + max).expect("at the bound");
        assert_eq!(next_sequence(dir.path(), 7).expect("next"), 40 + max);
        assert_eq!(next_sequence(dir.path(), 8).expect("other server"), 1);
        assert!(replay_hint(dir.path(), 7).contains("--next-sequence N"));
    }

    #[test]
    fn an_unreadable_psbt_says_where_and_what_to_do_in_words() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = dir.path().join("pay.txt");
        std::fs::write(&text, "cHNidP8BAHECAAAAAQ==").expect("write");
        let e = read_psbt(&text).expect_err("base64").to_string();
        assert!(
            e.contains("this is base64 text") && e.contains("base64 -d"),
            "{e}"
        );
        // Binary, but not a whole PSBT.
        let bad = b"psbt\xff".to_vec();
        let junk = dir.path().join("junk.psbt");
        std::fs::write(&junk, &bad).expect("write");
        let e = read_psbt(&junk).expect_err("junk").to_string();
        assert!(e.contains("export the PSBT again"), "{e}");
        assert!(!e.contains("Input(") && !e.contains("Some("), "{e}");
    }

    #[test]
    fn a_ground_batch_is_what_the_signer_parses_after_the_chunk_round_trip() {
        let psbts = vec![b"psbt\xffone".to_vec(), vec![9u8; 5000]];
        let file = build_batch(&key(), 3, 17, u64::MAX, &psbts).expect("batch");
        // Through the partition's intake as sign requests, and back together.
        let mut back = Vec::new();
        for r in batch_requests(&file, 1).expect("requests") {
            assert_eq!(r.batch_id, 3 << 32 | 17);
            back.extend_from_slice(r.data.as_slice());
        }
        assert_eq!(back, file);
        let (cert, part) = signer::batch::framing::split_certificate(&back).expect("split");
        let c = signer::cert::Certificate::parse(cert).expect("certificate");
        assert_eq!(c.count(), 2);
        assert_eq!(signer::batch::framing::count(part), Ok(2));
        let public = signer::p256sig::compress(&key().public_key());
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&cert[cert.len() - 64..]);
        assert!(
            signer::p256sig::verify(
                &public,
                &cert[..cert.len() - 64],
                &sig,
                signer::p256sig::Digest::Sha3_256
            )
            .is_ok()
        );
    }

    #[test]
    fn results_are_written_in_batch_order_and_refusals_name_the_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut stream = Vec::new();
        for p in [&b"AAA"[..], &b"BBBB"[..]] {
            stream.extend_from_slice(&(p.len() as u32).to_be_bytes());
            stream.extend_from_slice(p);
        }
        stream.extend_from_slice(&[0u8; intake::RECEIPT_LEN]);
        let mut buf = vec![0u8; 4096];
        let mut b = ResultBuilder::new(5, &mut buf).expect("builder");
        let Ok(Built::Done(n)) = b.on_response(
            5,
            Response::Signed {
                offset: 0,
                data: &stream,
                last: true,
            },
        ) else {
            panic!("complete")
        };
        let outs = [dir.path().join("a.psbt"), dir.path().join("b.psbt")];
        assert_eq!(write_result(&buf[..n], &outs).expect("write"), 2);
        assert_eq!(std::fs::read(&outs[1]).expect("read"), b"BBBB");
        assert!(matches!(
            write_result(&buf[..n], &outs[..1]),
            Err(BatchError::Count { got: 1, max: 2 })
        ));

        let mut receipt = [0u8; intake::RECEIPT_LEN];
        receipt[60] = 1;
        receipt[61] = 6;
        receipt[62..65].copy_from_slice(&[0xFF; 3]); // no failing PSBT, no rule
        let mut buf = vec![0u8; 4096];
        let mut b = ResultBuilder::new(6, &mut buf).expect("builder");
        let Ok(Built::Done(n)) = b.on_response(
            6,
            Response::Rejected {
                reason: protocol::SignRejection::Replay,
                data: &receipt,
            },
        ) else {
            panic!("complete")
        };
        let e = write_result(&buf[..n], &outs).unwrap_err().to_string();
        assert!(
            e.contains("the node refused batch 0x6: certificate: replayed sequence number")
                && e.contains("What to do: "),
            "{e}"
        );
    }
}
