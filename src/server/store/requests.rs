//! The `requests` table before batching: a co-signing request from submission through its
//! confirmation (a TOTP step used once, or an e-mailed link's one-time token) to the queue, or
//! to its expiry or cancellation.
//!
//! Avoids: a status moved from the wrong state (every move names the state it leaves, so two
//! instances or two calls never both move one request) and a link token kept in clear.

use super::db::P;
use super::{
    B64, Broadcast, LinkOutcome, Request, Status, Store, StoreError, new_id, new_token, now,
    token_hash,
};
use bitcoin::base64::Engine;

impl Store {
    /// Records a request awaiting confirmation; returns it, and with `by_email` the one-time
    /// token of its confirmation link (only the token's hash is stored).
    pub fn add_request(
        &mut self,
        user: &str,
        wallet: &str,
        psbt: &[u8],
        ttl_s: i64,
        by_email: bool,
    ) -> Result<(Request, Option<String>), StoreError> {
        let id = new_id("r")?;
        let t = now();
        let link = by_email.then(new_token).transpose()?;
        let link_hash = link.as_deref().map(token_hash);
        let confirm_by = if by_email { "email" } else { "totp" };
        self.db.execute(
            "INSERT INTO requests (id, user_name, wallet_id, psbt, status, confirm_by, created_at, expires_at, confirm_token_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                P::T(&id),
                P::T(user),
                P::T(wallet),
                P::T(&B64.encode(psbt)),
                P::T(Status::Awaiting.as_str()),
                P::T(confirm_by),
                P::I(t),
                P::I(t + ttl_s),
                P::OT(link_hash.as_deref()),
            ],
        )?;
        let request = Request {
            id,
            status: Status::Awaiting.as_str().into(),
            confirm_by: confirm_by.into(),
            expires_at: t + ttl_s,
            reason: None,
            signed_psbt: None,
            broadcast: None,
        };
        Ok((request, link))
    }

    /// Notes on request `id` why its confirmation e-mail was not sent (shown as its reason).
    pub fn mail_failed(&mut self, id: &str, why: &str) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE requests SET reason = $1 WHERE id = $2",
            &[P::T(why), P::T(id)],
        )?;
        Ok(())
    }

    /// Confirms the request whose e-mailed link carries `token`: once, while it awaits
    /// confirmation and before it expires.
    pub fn confirm_by_link(&mut self, token: &str) -> Result<LinkOutcome, StoreError> {
        let hash = token_hash(token);
        let t = now();
        let moved = self.db.execute(
            "UPDATE requests SET status = $1, queued_at = $2, reason = NULL WHERE confirm_token_hash = $3 AND status = $4 AND expires_at > $2",
            &[
                P::T(Status::Queued.as_str()),
                P::I(t),
                P::T(&hash),
                P::T(Status::Awaiting.as_str()),
            ],
        )?;
        let rows = self.db.query(
            "SELECT id, status, expires_at FROM requests WHERE confirm_token_hash = $1",
            &[P::T(&hash)],
        )?;
        let Some(r) = rows.first() else {
            return Ok(LinkOutcome::Unknown);
        };
        let (id, status, expires) = (r.text(0)?, r.text(1)?, r.int(2)?);
        Ok(if moved == 1 {
            LinkOutcome::Confirmed(id)
        } else if status == Status::Awaiting.as_str() && expires <= t {
            self.db.execute(
                "UPDATE requests SET status = $1 WHERE id = $2 AND status = $3",
                &[
                    P::T(Status::Expired.as_str()),
                    P::T(&id),
                    P::T(Status::Awaiting.as_str()),
                ],
            )?;
            LinkOutcome::Expired(id)
        } else if status == Status::Expired.as_str() {
            LinkOutcome::Expired(id)
        } else {
            LinkOutcome::Used(id, status)
        })
    }

    /// Request `id` of `user` (an unconfirmed one past its expiry is marked expired first).
    pub fn request(&mut self, user: &str, id: &str) -> Result<Option<Request>, StoreError> {
        self.db.execute(
            "UPDATE requests SET status = $1 WHERE id = $2 AND status = $3 AND expires_at <= $4",
            &[
                P::T(Status::Expired.as_str()),
                P::T(id),
                P::T(Status::Awaiting.as_str()),
                P::I(now()),
            ],
        )?;
        let rows = self.db.query(
            "SELECT id, status, confirm_by, expires_at, reason, signed_psbt, broadcast_status, broadcast_txid, broadcast_error, broadcast_attempts FROM requests WHERE id = $1 AND user_name = $2",
            &[P::T(id), P::T(user)],
        )?;
        rows.first()
            .map(|r| {
                Ok(Request {
                    id: r.text(0)?,
                    status: r.text(1)?,
                    confirm_by: r.text(2)?,
                    expires_at: r.int(3)?,
                    reason: r.opt_text(4)?,
                    signed_psbt: r.opt_text(5)?,
                    broadcast: r
                        .opt_text(6)?
                        .map(|status| -> Result<_, StoreError> {
                            Ok(Broadcast {
                                status,
                                txid: r.opt_text(7)?,
                                error: r.opt_text(8)?,
                                attempts: r.int(9)?,
                            })
                        })
                        .transpose()?,
                })
            })
            .transpose()
    }

    /// Moves request `id` from `from` to `to` (false: it was not in `from`).
    pub fn transition(&mut self, id: &str, from: Status, to: Status) -> Result<bool, StoreError> {
        let queued_at = (to == Status::Queued).then(now);
        let n = self.db.execute(
            "UPDATE requests SET status = $1, queued_at = COALESCE($2, queued_at) WHERE id = $3 AND status = $4",
            &[
                P::T(to.as_str()),
                P::OI(queued_at),
                P::T(id),
                P::T(from.as_str()),
            ],
        )?;
        Ok(n == 1)
    }

    /// Confirms request `id` with the TOTP time step `step` of `user`: refused (false) when a
    /// step at or before the user's last used one is given again (RFC 6238 section 5.2).
    pub fn confirm(&mut self, user: &str, id: &str, step: i64) -> Result<bool, StoreError> {
        self.tx(|db| {
            let used = db.execute(
                "UPDATE users SET last_totp_step = $1 WHERE name = $2 AND last_totp_step < $1",
                &[P::I(step), P::T(user)],
            )?;
            let moved = used == 1
                && db.execute(
                    "UPDATE requests SET status = $1, queued_at = $2 WHERE id = $3 AND status = $4 AND expires_at > $2",
                    &[
                        P::T(Status::Queued.as_str()),
                        P::I(now()),
                        P::T(id),
                        P::T(Status::Awaiting.as_str()),
                    ],
                )? == 1;
            // Not confirmed: the step stays unused.
            Ok((moved, moved))
        })
    }

    /// Counts a wrong code on request `id`; returns how many it has had.
    pub fn wrong_code(&mut self, id: &str) -> Result<i64, StoreError> {
        let rows = self.db.query(
            "UPDATE requests SET wrong_codes = wrong_codes + 1 WHERE id = $1 RETURNING wrong_codes",
            &[P::T(id)],
        )?;
        rows.first().map_or(Ok(0), |r| r.int(0))
    }

    /// Marks every unconfirmed request past its expiry as expired; returns how many.
    pub fn expire_due(&mut self) -> Result<u64, StoreError> {
        self.db.execute(
            "UPDATE requests SET status = $1 WHERE status = $2 AND expires_at <= $3",
            &[
                P::T(Status::Expired.as_str()),
                P::T(Status::Awaiting.as_str()),
                P::I(now()),
            ],
        )
    }
}
