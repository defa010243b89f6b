//! The server's storage: users, wallets, co-signing requests and uplinked batches, in SQLite
//! (rusqlite, bundled), with the schema from `migrations/` (portable SQL, also valid on
//! PostgreSQL). Every state change is one transaction, so a server killed at any point restarts
//! from a consistent state: a batch is written (with its whole file) before it goes up, and its
//! requests move to their outcome in the same transaction that closes it.
//!
//! Avoids: bearer tokens in clear (only their SHA-256 hashes are kept; the TOTP secrets must be
//! readable to check codes, so the database file is created readable by its owner only) and
//! status strings spelt two ways (they are [`Status`]).

use bitcoin::base64::{Engine, engine::general_purpose::STANDARD as B64};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The migrations, in order; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_email.sql"),
];

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error(
        "database: {0} (check the file named by `database` in server.toml: its directory must be writable and the disk not full)"
    )]
    Sql(#[from] rusqlite::Error),
    /// The database file's permissions could not be set.
    #[error("cannot make {0} readable by its owner only: {1}")]
    Permissions(String, std::io::Error),
    /// The random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    /// A user name that exists already.
    #[error("a user named `{0}` exists already: pick another name")]
    UserExists(String),
    /// The database was written by a newer server.
    #[error(
        "the database has schema version {0}, newer than this server's {1}: run the newer server"
    )]
    TooNew(i64, usize),
}

/// A request's (or wallet's) status, as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for the user's code.
    Awaiting,
    /// Confirmed, waiting for a batch.
    Queued,
    /// In a batch on its way to the node.
    Uplinked,
    /// Co-signed by the node.
    Cosigned,
    /// Refused by the node (the reason says why).
    Refused,
    /// Not confirmed in time.
    Expired,
    /// Cancelled by the user.
    Cancelled,
}

impl Status {
    /// The API's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Awaiting => "awaiting-confirmation",
            Status::Queued => "queued",
            Status::Uplinked => "uplinked",
            Status::Cosigned => "cosigned",
            Status::Refused => "refused",
            Status::Expired => "expired",
            Status::Cancelled => "cancelled",
        }
    }
}

/// A user, as a token finds them.
#[derive(Debug, Clone)]
pub struct User {
    /// Name.
    pub name: String,
    /// TOTP secret (raw bytes).
    pub totp_secret: Vec<u8>,
    /// The address confirmation links go to (`None`: the user confirms by TOTP).
    pub email: Option<String>,
}

/// A wallet row.
#[derive(Debug, Clone)]
pub struct Wallet {
    /// `w-...`.
    pub id: String,
    /// Descriptor.
    pub descriptor: String,
    /// `registered` or `pending-registration`.
    pub status: String,
}

/// A request row.
#[derive(Debug, Clone)]
pub struct Request {
    /// `r-...`.
    pub id: String,
    /// Status word.
    pub status: String,
    /// `totp` or `email`.
    pub confirm_by: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Refusal in words.
    pub reason: Option<String>,
    /// Co-signed PSBT, base64.
    pub signed_psbt: Option<String>,
}

/// What following a confirmation link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    /// Request (id) confirmed and queued now.
    Confirmed(String),
    /// No request has that token.
    Unknown,
    /// Request (id) expired before its link was followed.
    Expired(String),
    /// Request (id) is past confirmation already (its status given): the link was used, or
    /// the request was cancelled.
    Used(String, String),
}

/// The database.
pub struct Store {
    db: Connection,
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `n` random bytes from the operating system.
pub fn random(n: usize) -> Result<Vec<u8>, StoreError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(b)
}

/// The hash a token is stored and looked up under.
pub fn token_hash(token: &str) -> String {
    hex_conservative::DisplayHex::to_lower_hex_string(&Sha256::digest(token.as_bytes())[..])
}

/// A new secret of 256 random bits, as 64 hex digits (bearer tokens, confirmation links).
fn new_token() -> Result<String, StoreError> {
    Ok(hex_conservative::DisplayHex::to_lower_hex_string(
        &random(32)?[..],
    ))
}

fn new_id(prefix: &str) -> Result<String, StoreError> {
    Ok(format!(
        "{prefix}-{}",
        hex_conservative::DisplayHex::to_lower_hex_string(&random(12)?[..])
    ))
}

impl Store {
    /// Opens (creating) the database at `path` and applies the migrations it lacks.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Connection::open(path)?;
        // Owner only: the file holds the users' TOTP secrets (SQLite gives its -wal and -shm
        // files the database file's permissions).
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| StoreError::Permissions(path.display().to_string(), e))?;
        // WAL: readers never block the writer; NORMAL: a commit survives the process being
        // killed at any point (a power cut may lose the last commits, see the README).
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Store { db };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let have: i64 = self
            .db
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if have as usize > MIGRATIONS.len() {
            return Err(StoreError::TooNew(have, MIGRATIONS.len()));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(have as usize) {
            let tx = self.db.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Adds user `name` (who confirms by links mailed to `email` when given, else by TOTP);
    /// returns its bearer token and its TOTP secret (raw bytes).
    pub fn add_user(
        &self,
        name: &str,
        email: Option<&str>,
    ) -> Result<(String, Vec<u8>), StoreError> {
        let token = new_token()?;
        let secret = random(20)?;
        let r = self.db.execute(
            "INSERT INTO users (name, token_hash, totp_secret, created_at, email) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, token_hash(&token), B64.encode(&secret), now(), email],
        );
        match r {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::UserExists(name.to_string()))
            }
            r => r.map(|_| (token, secret)).map_err(Into::into),
        }
    }

    /// The user a bearer token belongs to.
    pub fn user_by_token(&self, token: &str) -> Result<Option<User>, StoreError> {
        let row = self
            .db
            .prepare_cached("SELECT name, totp_secret, email FROM users WHERE token_hash = ?1")?
            .query_row(params![token_hash(token)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .optional()?;
        Ok(row.map(|(name, s, email)| User {
            name,
            totp_secret: B64.decode(s).unwrap_or_default(),
            email,
        }))
    }

    /// Records a wallet.
    pub fn add_wallet(
        &self,
        user: &str,
        descriptor: &str,
        status: &str,
    ) -> Result<Wallet, StoreError> {
        let id = new_id("w")?;
        self.db.execute(
            "INSERT INTO wallets (id, user_name, descriptor, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, user, descriptor, status, now()],
        )?;
        Ok(Wallet {
            id,
            descriptor: descriptor.into(),
            status: status.into(),
        })
    }

    /// Wallet `id` of `user`.
    pub fn wallet(&self, user: &str, id: &str) -> Result<Option<Wallet>, StoreError> {
        Ok(self
            .db
            .prepare_cached(
                "SELECT id, descriptor, status FROM wallets WHERE id = ?1 AND user_name = ?2",
            )?
            .query_row(params![id, user], |r| {
                Ok(Wallet {
                    id: r.get(0)?,
                    descriptor: r.get(1)?,
                    status: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Records a request awaiting confirmation; returns it, and with `by_email` the one-time
    /// token of its confirmation link (only the token's hash is stored).
    pub fn add_request(
        &self,
        user: &str,
        wallet: &str,
        psbt: &[u8],
        ttl_s: i64,
        by_email: bool,
    ) -> Result<(Request, Option<String>), StoreError> {
        let id = new_id("r")?;
        let t = now();
        let link = by_email.then(new_token).transpose()?;
        let confirm_by = if by_email { "email" } else { "totp" };
        self.db
            .prepare_cached(
                "INSERT INTO requests (id, user_name, wallet_id, psbt, status, confirm_by, created_at, expires_at, confirm_token_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                id,
                user,
                wallet,
                B64.encode(psbt),
                Status::Awaiting.as_str(),
                confirm_by,
                t,
                t + ttl_s,
                link.as_deref().map(token_hash)
            ])?;
        let request = Request {
            id,
            status: Status::Awaiting.as_str().into(),
            confirm_by: confirm_by.into(),
            expires_at: t + ttl_s,
            reason: None,
            signed_psbt: None,
        };
        Ok((request, link))
    }

    /// Notes on request `id` why its confirmation e-mail was not sent (shown as its reason).
    pub fn mail_failed(&self, id: &str, why: &str) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE requests SET reason = ?1 WHERE id = ?2",
            params![why, id],
        )?;
        Ok(())
    }

    /// Confirms the request whose e-mailed link carries `token`: once, while it awaits
    /// confirmation and before it expires.
    pub fn confirm_by_link(&self, token: &str) -> Result<LinkOutcome, StoreError> {
        let hash = token_hash(token);
        let t = now();
        let moved = self
            .db
            .prepare_cached(
                "UPDATE requests SET status = ?1, queued_at = ?2, reason = NULL WHERE confirm_token_hash = ?3 AND status = ?4 AND expires_at > ?2",
            )?
            .execute(params![Status::Queued.as_str(), t, hash, Status::Awaiting.as_str()])?;
        let row = self
            .db
            .prepare_cached(
                "SELECT id, status, expires_at FROM requests WHERE confirm_token_hash = ?1",
            )?
            .query_row(params![hash], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .optional()?;
        Ok(match row {
            None => LinkOutcome::Unknown,
            Some((id, _, _)) if moved == 1 => LinkOutcome::Confirmed(id),
            Some((id, status, expires)) if status == Status::Awaiting.as_str() && expires <= t => {
                self.db.execute(
                    "UPDATE requests SET status = ?1 WHERE id = ?2 AND status = ?3",
                    params![Status::Expired.as_str(), id, Status::Awaiting.as_str()],
                )?;
                LinkOutcome::Expired(id)
            }
            Some((id, status, _)) if status == Status::Expired.as_str() => LinkOutcome::Expired(id),
            Some((id, status, _)) => LinkOutcome::Used(id, status),
        })
    }

    /// Request `id` of `user` (an unconfirmed one past its expiry is marked expired first).
    pub fn request(&self, user: &str, id: &str) -> Result<Option<Request>, StoreError> {
        self.db
            .prepare_cached(
                "UPDATE requests SET status = ?1 WHERE id = ?2 AND status = ?3 AND expires_at <= ?4",
            )?
            .execute(params![Status::Expired.as_str(), id, Status::Awaiting.as_str(), now()])?;
        Ok(self
            .db
            .prepare_cached(
                "SELECT id, status, confirm_by, expires_at, reason, signed_psbt FROM requests WHERE id = ?1 AND user_name = ?2",
            )?
            .query_row(params![id, user], |r| {
                Ok(Request {
                    id: r.get(0)?,
                    status: r.get(1)?,
                    confirm_by: r.get(2)?,
                    expires_at: r.get(3)?,
                    reason: r.get(4)?,
                    signed_psbt: r.get(5)?,
                })
            })
            .optional()?)
    }

    /// Moves request `id` from `from` to `to` (false: it was not in `from`).
    pub fn transition(&self, id: &str, from: Status, to: Status) -> Result<bool, StoreError> {
        let queued_at = (to == Status::Queued).then(now);
        let n = self
            .db
            .prepare_cached(
                "UPDATE requests SET status = ?1, queued_at = COALESCE(?2, queued_at) WHERE id = ?3 AND status = ?4",
            )?
            .execute(params![to.as_str(), queued_at, id, from.as_str()])?;
        Ok(n == 1)
    }

    /// Confirms request `id` with the TOTP time step `step` of `user`: refused (false) when a
    /// step at or before the user's last used one is given again (RFC 6238 section 5.2).
    pub fn confirm(&mut self, user: &str, id: &str, step: i64) -> Result<bool, StoreError> {
        let tx = self.db.transaction()?;
        let used = tx.execute(
            "UPDATE users SET last_totp_step = ?1 WHERE name = ?2 AND last_totp_step < ?1",
            params![step, user],
        )?;
        let moved = used == 1
            && tx.execute(
                "UPDATE requests SET status = ?1, queued_at = ?2 WHERE id = ?3 AND status = ?4 AND expires_at > ?2",
                params![Status::Queued.as_str(), now(), id, Status::Awaiting.as_str()],
            )? == 1;
        if moved {
            tx.commit()?;
        }
        Ok(moved)
    }

    /// Counts a wrong code on request `id`; returns how many it has had.
    pub fn wrong_code(&self, id: &str) -> Result<i64, StoreError> {
        self.db.execute(
            "UPDATE requests SET wrong_codes = wrong_codes + 1 WHERE id = ?1",
            params![id],
        )?;
        Ok(self.db.query_row(
            "SELECT wrong_codes FROM requests WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )?)
    }

    /// Marks every unconfirmed request past its expiry as expired; returns how many.
    pub fn expire_due(&self) -> Result<usize, StoreError> {
        Ok(self.db.execute(
            "UPDATE requests SET status = ?1 WHERE status = ?2 AND expires_at <= ?3",
            params![Status::Expired.as_str(), Status::Awaiting.as_str(), now()],
        )?)
    }

    /// The batch that went up and has no outcome yet (after a restart: send it again).
    pub fn in_flight(&self) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let row = self
            .db
            .query_row(
                "SELECT sequence, batch_file FROM batches WHERE status = 'uplinking' ORDER BY sequence LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?;
        Ok(row.map(|(s, f)| (s, B64.decode(f).unwrap_or_default())))
    }

    /// Takes the oldest queued requests whose PSBTs together stay within `max_bytes` and
    /// `max_count` as one batch: `build` makes its file from the PSBTs (`Err`: nothing is
    /// taken), and the batch (its whole file) is recorded and its requests moved to
    /// `uplinked` in the same transaction, before anything goes up. `Ok(Ok(None))`: nothing
    /// queued.
    #[allow(clippy::type_complexity)]
    pub fn take_batch(
        &mut self,
        max_bytes: usize,
        max_count: usize,
        build: impl FnOnce(&[Vec<u8>]) -> Result<(i64, Vec<u8>), String>,
    ) -> Result<Result<Option<(i64, Vec<u8>)>, String>, StoreError> {
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (ids, psbts) = queued(&tx, max_bytes, max_count)?;
        if ids.is_empty() {
            return Ok(Ok(None));
        }
        let (sequence, file) = match build(&psbts) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        tx.execute(
            "INSERT INTO batches (sequence, batch_file, status, created_at) VALUES (?1, ?2, 'uplinking', ?3)",
            params![sequence, B64.encode(&file), now()],
        )?;
        for (i, id) in ids.iter().enumerate() {
            tx.execute(
                "UPDATE requests SET status = ?1, batch_sequence = ?2, batch_position = ?3 WHERE id = ?4",
                params![Status::Uplinked.as_str(), sequence, i as i64, id],
            )?;
        }
        tx.commit()?;
        Ok(Ok(Some((sequence, file))))
    }

    /// Batch `sequence` was refused for a reason of its own (its certificate expired while
    /// the server was down): its requests are queued again for a new batch.
    pub fn batch_requeued(&mut self, sequence: i64) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        tx.execute(
            "UPDATE requests SET status = ?1, batch_sequence = NULL, batch_position = NULL WHERE batch_sequence = ?2 AND status = ?3",
            params![Status::Queued.as_str(), sequence, Status::Uplinked.as_str()],
        )?;
        close(&tx, sequence, "expired")?;
        tx.commit()?;
        Ok(())
    }

    /// Whether any request is queued.
    pub fn has_queued(&self) -> Result<bool, StoreError> {
        Ok(self
            .db
            .prepare_cached("SELECT 1 FROM requests WHERE status = ?1 LIMIT 1")?
            .exists(params![Status::Queued.as_str()])?)
    }

    /// The request ids of batch `sequence`, in batch order.
    pub fn batch_requests(&self, sequence: i64) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.db.prepare_cached(
            "SELECT id FROM requests WHERE batch_sequence = ?1 ORDER BY batch_position",
        )?;
        let rows = stmt.query_map(params![sequence], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Batch `sequence` was co-signed: each request gets its PSBT.
    pub fn batch_cosigned(&mut self, sequence: i64, signed: &[Vec<u8>]) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        for (i, p) in signed.iter().enumerate() {
            tx.execute(
                "UPDATE requests SET status = ?1, signed_psbt = ?2 WHERE batch_sequence = ?3 AND batch_position = ?4",
                params![Status::Cosigned.as_str(), B64.encode(p), sequence, i as i64],
            )?;
        }
        close(&tx, sequence, "cosigned")?;
        tx.commit()?;
        Ok(())
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
        let tx = self.db.transaction()?;
        match culprit {
            Some(i) => {
                tx.execute(
                    "UPDATE requests SET status = ?1, reason = ?2 WHERE batch_sequence = ?3 AND batch_position = ?4",
                    params![Status::Refused.as_str(), reason, sequence, i64::from(i)],
                )?;
                tx.execute(
                    "UPDATE requests SET status = ?1, batch_sequence = NULL, batch_position = NULL WHERE batch_sequence = ?2 AND status = ?3",
                    params![Status::Queued.as_str(), sequence, Status::Uplinked.as_str()],
                )?;
            }
            None => {
                tx.execute(
                    "UPDATE requests SET status = ?1, reason = ?2 WHERE batch_sequence = ?3 AND status = ?4",
                    params![Status::Refused.as_str(), reason, sequence, Status::Uplinked.as_str()],
                )?;
            }
        }
        close(&tx, sequence, "refused")?;
        tx.commit()?;
        Ok(())
    }
}

/// The oldest queued requests within `max_bytes` (PSBT bytes plus framing) and `max_count`.
fn queued(
    tx: &rusqlite::Transaction<'_>,
    max_bytes: usize,
    max_count: usize,
) -> Result<(Vec<String>, Vec<Vec<u8>>), StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, psbt FROM requests WHERE status = ?1 ORDER BY queued_at, id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![Status::Queued.as_str(), max_count as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let (mut ids, mut psbts, mut total) = (Vec::new(), Vec::new(), 0);
    for row in rows {
        let (id, psbt) = row?;
        let psbt = B64.decode(psbt).unwrap_or_default();
        total += psbt.len() + 8;
        if total > max_bytes && !ids.is_empty() {
            break;
        }
        ids.push(id);
        psbts.push(psbt);
    }
    Ok((ids, psbts))
}

fn close(tx: &rusqlite::Transaction<'_>, sequence: i64, status: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE batches SET status = ?1, finished_at = ?2 WHERE sequence = ?3",
        params![status, now(), sequence],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.db")).unwrap();
        (dir, s)
    }

    #[test]
    fn a_refusal_naming_one_psbt_queues_the_others_again() {
        let (_d, mut s) = store();
        s.add_user("ann", None).unwrap();
        assert!(matches!(
            s.add_user("ann", None),
            Err(StoreError::UserExists(_))
        ));
        let w = s.add_wallet("ann", "wsh(x)", "registered").unwrap();
        let ids: Vec<String> = (0..3)
            .map(|i| {
                let (r, _) = s.add_request("ann", &w.id, &[i], 60, false).unwrap();
                assert!(s.confirm("ann", &r.id, 10 + i64::from(i)).unwrap());
                r.id
            })
            .collect();
        let taken = s.take_batch(1 << 20, 1024, |p| {
            assert_eq!(p.len(), 3);
            Ok((1, b"file".to_vec()))
        });
        assert_eq!(taken.unwrap().unwrap(), Some((1, b"file".to_vec())));
        let mut first = s.batch_requests(1).unwrap();
        first.sort();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(first, sorted);
        let culprit = s.batch_requests(1).unwrap()[1].clone();
        assert_eq!(s.in_flight().unwrap(), Some((1, b"file".to_vec())));
        s.batch_refused(1, Some(1), "too much").unwrap();
        assert_eq!(s.in_flight().unwrap(), None);
        let r1 = s.request("ann", &culprit).unwrap().unwrap();
        assert_eq!(
            (r1.status.as_str(), r1.reason.as_deref()),
            ("refused", Some("too much"))
        );
        let taken = s.take_batch(1 << 20, 1024, |p| {
            assert_eq!(p.len(), 2);
            Ok((2, b"f2".to_vec()))
        });
        assert!(taken.unwrap().unwrap().is_some());
        let again = s.batch_requests(2).unwrap();
        assert_eq!(again.len(), 2);
        assert!(!again.contains(&culprit));
        s.batch_cosigned(2, &[vec![7], vec![8]]).unwrap();
        for id in &again {
            let r = s.request("ann", id).unwrap().unwrap();
            assert_eq!(r.status, "cosigned");
            assert!(r.signed_psbt.is_some());
        }
        assert!(
            s.request("bob", &ids[0]).unwrap().is_none(),
            "another user's request"
        );
        // A batch whose certificate expired: its requests go into the next batch.
        let (r, _) = s.add_request("ann", &w.id, &[9], 60, false).unwrap();
        assert!(s.confirm("ann", &r.id, 20).unwrap());
        let taken = s.take_batch(1 << 20, 1024, |_| Ok((3, b"f3".to_vec())));
        assert!(taken.unwrap().unwrap().is_some());
        s.batch_requeued(3).unwrap();
        assert_eq!(s.request("ann", &r.id).unwrap().unwrap().status, "queued");
        assert_eq!(s.in_flight().unwrap(), None);
    }

    #[test]
    fn a_totp_step_is_used_once_and_unconfirmed_requests_expire() {
        let (_d, mut s) = store();
        s.add_user("ann", None).unwrap();
        let w = s.add_wallet("ann", "wsh(x)", "registered").unwrap();
        let (a, _) = s.add_request("ann", &w.id, &[1], 60, false).unwrap();
        let (b, _) = s.add_request("ann", &w.id, &[2], 60, false).unwrap();
        assert!(s.confirm("ann", &a.id, 100).unwrap());
        assert!(!s.confirm("ann", &b.id, 100).unwrap(), "a replayed step");
        assert_eq!(
            s.request("ann", &b.id).unwrap().unwrap().status,
            "awaiting-confirmation"
        );
        let (c, _) = s.add_request("ann", &w.id, &[3], 0, false).unwrap();
        assert_eq!(s.request("ann", &c.id).unwrap().unwrap().status, "expired");
        assert!(!s.confirm("ann", &c.id, 101).unwrap());
    }

    #[test]
    fn a_confirmation_link_works_once_and_only_while_its_request_waits() {
        let (_d, s) = store();
        s.add_user("eve", Some("eve@example.org")).unwrap();
        let w = s.add_wallet("eve", "wsh(x)", "registered").unwrap();
        let (a, token) = s.add_request("eve", &w.id, &[1], 60, true).unwrap();
        let token = token.unwrap();
        assert_eq!((a.confirm_by.as_str(), token.len()), ("email", 64));
        // Only the hash is stored.
        let stored: String =
            s.db.query_row(
                "SELECT confirm_token_hash FROM requests WHERE id = ?1",
                params![a.id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, token_hash(&token));
        assert_ne!(stored, token);
        s.mail_failed(&a.id, "no relay").unwrap();
        assert_eq!(
            s.confirm_by_link(&token).unwrap(),
            LinkOutcome::Confirmed(a.id.clone())
        );
        let r = s.request("eve", &a.id).unwrap().unwrap();
        assert_eq!((r.status.as_str(), r.reason), ("queued", None));
        assert_eq!(
            s.confirm_by_link(&token).unwrap(),
            LinkOutcome::Used(a.id.clone(), "queued".into())
        );
        assert_eq!(s.confirm_by_link("00").unwrap(), LinkOutcome::Unknown);
        // Two requests never share a token.
        let (_, t2) = s.add_request("eve", &w.id, &[2], 60, true).unwrap();
        assert_ne!(t2.unwrap(), token);
        // Expired before the link was followed.
        let (c, t3) = s.add_request("eve", &w.id, &[3], 0, true).unwrap();
        assert_eq!(
            s.confirm_by_link(&t3.unwrap()).unwrap(),
            LinkOutcome::Expired(c.id.clone())
        );
        assert_eq!(s.request("eve", &c.id).unwrap().unwrap().status, "expired");
        // A TOTP user's request has no link.
        let (d, t4) = s.add_request("eve", &w.id, &[4], 60, false).unwrap();
        assert_eq!((d.confirm_by.as_str(), t4), ("totp", None));
        let u = s.user_by_token("nope").unwrap();
        assert!(u.is_none());
    }

    #[test]
    fn a_second_open_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        let (token, _) = Store::open(&p).unwrap().add_user("ann", None).unwrap();
        let s = Store::open(&p).unwrap();
        assert_eq!(s.user_by_token(&token).unwrap().unwrap().name, "ann");
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&p).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        assert!(s.user_by_token("nope").unwrap().is_none());
    }
}
