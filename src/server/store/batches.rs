//! The `batches` table and the requests in them: a batch is taken from the queue and recorded
//! (its whole file) before it goes up, then closed with its outcome, its requests moved in the
//! same transaction.
//!
//! Avoids: one request in two batches when several server instances share a PostgreSQL
//! database (the queued rows are locked, `FOR UPDATE SKIP LOCKED`, by the transaction that
//! takes them; a request only leaves `queued` in that transaction) and a batch sequence behind
//! one another instance used (the next sequence is above every batch recorded).

use super::db::{Db, P};
use super::{B64, Status, Store, StoreError, now};
use bitcoin::base64::Engine;

impl Store {
    /// The batch that went up and has no outcome yet (after a restart: send it again).
    pub fn in_flight(&mut self) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let rows = self.db.query(
            "SELECT sequence, batch_file FROM batches WHERE status = 'uplinking' ORDER BY sequence LIMIT 1",
            &[],
        )?;
        rows.first()
            .map(|r| Ok((r.int(0)?, B64.decode(r.text(1)?).unwrap_or_default())))
            .transpose()
    }

    /// Takes the oldest queued requests whose PSBTs together stay within `max_bytes` and
    /// `max_count` as one batch: `build` makes its file from the PSBTs and the highest
    /// sequence any batch in this database has used (`Err`: nothing is taken), and the batch
    /// (its whole file) is recorded and its requests moved to `uplinked` in the same
    /// transaction, before anything goes up. `Ok(Ok(None))`: nothing queued.
    #[allow(clippy::type_complexity)]
    pub fn take_batch(
        &mut self,
        max_bytes: usize,
        max_count: usize,
        build: impl FnOnce(&[Vec<u8>], i64) -> Result<(i64, Vec<u8>), String>,
    ) -> Result<Result<Option<(i64, Vec<u8>)>, String>, StoreError> {
        self.tx(|db| {
            let (ids, psbts) = queued(db, max_bytes, max_count)?;
            if ids.is_empty() {
                return Ok((Ok(None), false));
            }
            let last = db.query("SELECT COALESCE(MAX(sequence), 0) FROM batches", &[])?;
            let last = last.first().map_or(Ok(0), |r| r.int(0))?;
            let (sequence, file) = match build(&psbts, last) {
                Ok(b) => b,
                Err(e) => return Ok((Err(e), false)),
            };
            db.execute(
                "INSERT INTO batches (sequence, batch_file, status, created_at) VALUES ($1, $2, 'uplinking', $3)",
                &[P::I(sequence), P::T(&B64.encode(&file)), P::I(now())],
            )?;
            for (i, id) in ids.iter().enumerate() {
                db.execute(
                    "UPDATE requests SET status = $1, batch_sequence = $2, batch_position = $3 WHERE id = $4",
                    &[
                        P::T(Status::Uplinked.as_str()),
                        P::I(sequence),
                        P::I(i as i64),
                        P::T(id),
                    ],
                )?;
            }
            Ok((Ok(Some((sequence, file))), true))
        })
    }

    /// Batch `sequence` was refused for a reason of its own (its certificate expired while
    /// the server was down): its requests are queued again for a new batch.
    pub fn batch_requeued(&mut self, sequence: i64) -> Result<(), StoreError> {
        self.tx(|db| {
            requeue(db, sequence)?;
            close(db, sequence, "expired")?;
            Ok(((), true))
        })
    }

    /// Whether any request is queued.
    pub fn has_queued(&mut self) -> Result<bool, StoreError> {
        Ok(!self
            .db
            .query(
                "SELECT id FROM requests WHERE status = $1 LIMIT 1",
                &[P::T(Status::Queued.as_str())],
            )?
            .is_empty())
    }

    /// The request ids of batch `sequence`, in batch order.
    pub fn batch_requests(&mut self, sequence: i64) -> Result<Vec<String>, StoreError> {
        self.db
            .query(
                "SELECT id FROM requests WHERE batch_sequence = $1 ORDER BY batch_position",
                &[P::I(sequence)],
            )?
            .iter()
            .map(|r| r.text(0))
            .collect()
    }

    /// Batch `sequence` was co-signed: each request gets its PSBT.
    pub fn batch_cosigned(&mut self, sequence: i64, signed: &[Vec<u8>]) -> Result<(), StoreError> {
        self.tx(|db| {
            for (i, p) in signed.iter().enumerate() {
                db.execute(
                    "UPDATE requests SET status = $1, signed_psbt = $2 WHERE batch_sequence = $3 AND batch_position = $4",
                    &[
                        P::T(Status::Cosigned.as_str()),
                        P::T(&B64.encode(p)),
                        P::I(sequence),
                        P::I(i as i64),
                    ],
                )?;
            }
            close(db, sequence, "cosigned")?;
            Ok(((), true))
        })
    }

    /// Batch `sequence` was refused. With `culprit` (the PSBT the signer names) that request
    /// is refused with `reason` and the others are queued again for the next batch; without,
    /// every request of the batch is refused with `reason`.
    pub fn batch_refused(
        &mut self,
        sequence: i64,
        culprit: Option<u16>,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.tx(|db| {
            let refused = P::T(Status::Refused.as_str());
            match culprit {
                Some(i) => {
                    db.execute(
                        "UPDATE requests SET status = $1, reason = $2 WHERE batch_sequence = $3 AND batch_position = $4",
                        &[refused, P::T(reason), P::I(sequence), P::I(i64::from(i))],
                    )?;
                    requeue(db, sequence)?;
                }
                None => {
                    db.execute(
                        "UPDATE requests SET status = $1, reason = $2 WHERE batch_sequence = $3 AND status = $4",
                        &[
                            refused,
                            P::T(reason),
                            P::I(sequence),
                            P::T(Status::Uplinked.as_str()),
                        ],
                    )?;
                }
            }
            close(db, sequence, "refused")?;
            Ok(((), true))
        })
    }
}

/// The oldest queued requests within `max_bytes` (PSBT bytes plus framing) and `max_count`,
/// locked for this transaction on PostgreSQL.
fn queued(
    db: &mut Db,
    max_bytes: usize,
    max_count: usize,
) -> Result<(Vec<String>, Vec<Vec<u8>>), StoreError> {
    let sql = format!(
        "SELECT id, psbt FROM requests WHERE status = $1 ORDER BY queued_at, id LIMIT $2{}",
        db.for_update()
    );
    let rows = db.query(
        &sql,
        &[P::T(Status::Queued.as_str()), P::I(max_count as i64)],
    )?;
    let (mut ids, mut psbts, mut total) = (Vec::new(), Vec::new(), 0);
    for r in rows {
        let psbt = B64.decode(r.text(1)?).unwrap_or_default();
        total += psbt.len() + 8;
        if total > max_bytes && !ids.is_empty() {
            break;
        }
        ids.push(r.text(0)?);
        psbts.push(psbt);
    }
    Ok((ids, psbts))
}

/// The requests of batch `sequence` still `uplinked` go back to the queue.
fn requeue(db: &mut Db, sequence: i64) -> Result<(), StoreError> {
    db.execute(
        "UPDATE requests SET status = $1, batch_sequence = NULL, batch_position = NULL WHERE batch_sequence = $2 AND status = $3",
        &[
            P::T(Status::Queued.as_str()),
            P::I(sequence),
            P::T(Status::Uplinked.as_str()),
        ],
    )?;
    Ok(())
}

fn close(db: &mut Db, sequence: i64, status: &str) -> Result<(), StoreError> {
    db.execute(
        "UPDATE batches SET status = $1, finished_at = $2 WHERE sequence = $3",
        &[P::T(status), P::I(now()), P::I(sequence)],
    )?;
    Ok(())
}
