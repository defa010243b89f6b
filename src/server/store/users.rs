//! The `users` table: wallet users, their bearer tokens (as SHA-256 hashes) and TOTP secrets.
//!
//! Avoids: keeping a token in clear; telling a duplicate name apart from a database failure by
//! message text (the databases' constraint codes say it).

use super::db::P;
use super::{B64, Store, StoreError, User, new_token, now, random, token_hash};
use bitcoin::base64::Engine;

impl StoreError {
    /// Whether this is a unique constraint refusing a row.
    fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::ConstraintViolation
            }
            StoreError::Postgres(e) => {
                e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }
}

impl Store {
    /// Adds user `name` (who confirms by links mailed to `email` when given, else by TOTP; whose
    /// own wallet is on the node's `account` when given, else who shares the server's wallet);
    /// returns its bearer token and its TOTP secret (raw bytes).
    pub fn add_user(
        &mut self,
        name: &str,
        email: Option<&str>,
        account: Option<u32>,
    ) -> Result<(String, Vec<u8>), StoreError> {
        let token = new_token()?;
        let secret = random(20)?;
        let r = self.db.execute(
            "INSERT INTO users (name, token_hash, totp_secret, created_at, email, account) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                P::T(name),
                P::T(&token_hash(&token)),
                P::T(&B64.encode(&secret)),
                P::I(now()),
                P::OT(email),
                P::OI(account.map(i64::from)),
            ],
        );
        match r {
            Err(e) if e.is_unique_violation() => {
                let taken = match account {
                    Some(a) => self.user_of_account(a)?,
                    None => None,
                };
                Err(match (taken, account) {
                    (Some(other), Some(a)) if other != name => StoreError::AccountTaken(a, other),
                    _ => StoreError::UserExists(name.to_string()),
                })
            }
            r => r.map(|_| (token, secret)),
        }
    }

    /// The user whose own wallet is on `account`.
    fn user_of_account(&mut self, account: u32) -> Result<Option<String>, StoreError> {
        let rows = self.db.query(
            "SELECT name FROM users WHERE account = $1",
            &[P::I(i64::from(account))],
        )?;
        rows.first().map(|r| r.text(0)).transpose()
    }

    /// The users' own accounts the node's signed key export is not stored for yet.
    pub fn accounts_without_key(&mut self) -> Result<Vec<u32>, StoreError> {
        let rows = self.db.query(
            "SELECT account FROM users WHERE account IS NOT NULL AND account NOT IN (SELECT account FROM node_keys) ORDER BY account",
            &[],
        )?;
        rows.iter()
            .map(|r| Ok(u32::try_from(r.int(0)?).unwrap_or(u32::MAX)))
            .collect()
    }

    /// Stores the node's verified export of `account` (its descriptor key and the export, hex).
    pub fn add_node_key(
        &mut self,
        account: u32,
        node_key: &str,
        export_hex: &str,
    ) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO node_keys (account, node_key, export_hex, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (account) DO NOTHING",
            &[
                P::I(i64::from(account)),
                P::T(node_key),
                P::T(export_hex),
                P::I(now()),
            ],
        )?;
        Ok(())
    }

    /// The node's verified export of `account`: (descriptor key, export hex).
    pub fn node_key(&mut self, account: u32) -> Result<Option<(String, String)>, StoreError> {
        let rows = self.db.query(
            "SELECT node_key, export_hex FROM node_keys WHERE account = $1",
            &[P::I(i64::from(account))],
        )?;
        rows.first()
            .map(|r| Ok((r.text(0)?, r.text(1)?)))
            .transpose()
    }

    /// The user a bearer token belongs to.
    pub fn user_by_token(&mut self, token: &str) -> Result<Option<User>, StoreError> {
        let rows = self.db.query(
            "SELECT name, totp_secret, email, account FROM users WHERE token_hash = $1",
            &[P::T(&token_hash(token))],
        )?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(User {
            name: r.text(0)?,
            totp_secret: B64.decode(r.text(1)?).unwrap_or_default(),
            email: r.opt_text(2)?,
            account: r.opt_int(3)?.and_then(|a| u32::try_from(a).ok()),
        }))
    }
}
