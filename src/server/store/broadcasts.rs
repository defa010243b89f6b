//! The broadcast columns of `requests`: which co-signed requests are due for a hand-off to
//! Bitcoin Core, and what each attempt gave.
//!
//! Avoids: touching the co-signed PSBT (a failed broadcast never loses it) and a request
//! handed off before it is co-signed.

use super::db::P;
use super::{Broadcast, Status, Store, StoreError, now};

/// What a hand-off attempt gave, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastStatus {
    /// Tried again at its next time.
    Pending,
    /// Bitcoin Core took it (or had it already).
    Sent,
    /// Too few signatures to finalise: the wallet finalises and broadcasts it.
    NotFinal,
    /// Invalid, or refused on every attempt allowed.
    Failed,
}

impl BroadcastStatus {
    /// The API's word.
    pub fn as_str(self) -> &'static str {
        match self {
            BroadcastStatus::Pending => "pending",
            BroadcastStatus::Sent => "sent",
            BroadcastStatus::NotFinal => "not-final",
            BroadcastStatus::Failed => "failed",
        }
    }
}

impl Store {
    /// Up to `limit` co-signed requests due for a hand-off: never looked at, or pending and
    /// past their next time; (id, co-signed PSBT base64, attempts so far).
    pub fn due_broadcasts(&mut self, limit: i64) -> Result<Vec<(String, String, i64)>, StoreError> {
        self.db
            .query(
                "SELECT id, signed_psbt, broadcast_attempts FROM requests WHERE status = $1 AND (broadcast_status IS NULL OR (broadcast_status = $2 AND broadcast_next_at <= $3)) ORDER BY id LIMIT $4",
                &[
                    P::T(Status::Cosigned.as_str()),
                    P::T(BroadcastStatus::Pending.as_str()),
                    P::I(now()),
                    P::I(limit),
                ],
            )?
            .iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?, r.int(2)?)))
            .collect()
    }

    /// Records a hand-off attempt on request `id`.
    pub fn broadcast_tried(
        &mut self,
        id: &str,
        status: BroadcastStatus,
        b: &Broadcast,
        next_at: Option<i64>,
    ) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE requests SET broadcast_status = $1, broadcast_txid = $2, broadcast_error = $3, broadcast_attempts = $4, broadcast_next_at = $5 WHERE id = $6 AND status = $7",
            &[
                P::T(status.as_str()),
                P::OT(b.txid.as_deref()),
                P::OT(b.error.as_deref()),
                P::I(b.attempts),
                P::OI(next_at),
                P::T(id),
                P::T(Status::Cosigned.as_str()),
            ],
        )?;
        Ok(())
    }
}
