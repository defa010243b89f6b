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
    /// Adds user `name` (who confirms by links mailed to `email` when given, else by TOTP);
    /// returns its bearer token and its TOTP secret (raw bytes).
    pub fn add_user(
        &mut self,
        name: &str,
        email: Option<&str>,
    ) -> Result<(String, Vec<u8>), StoreError> {
        let token = new_token()?;
        let secret = random(20)?;
        let r = self.db.execute(
            "INSERT INTO users (name, token_hash, totp_secret, created_at, email) VALUES ($1, $2, $3, $4, $5)",
            &[
                P::T(name),
                P::T(&token_hash(&token)),
                P::T(&B64.encode(&secret)),
                P::I(now()),
                P::OT(email),
            ],
        );
        match r {
            Err(e) if e.is_unique_violation() => Err(StoreError::UserExists(name.to_string())),
            r => r.map(|_| (token, secret)),
        }
    }

    /// The user a bearer token belongs to.
    pub fn user_by_token(&mut self, token: &str) -> Result<Option<User>, StoreError> {
        let rows = self.db.query(
            "SELECT name, totp_secret, email FROM users WHERE token_hash = $1",
            &[P::T(&token_hash(token))],
        )?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(User {
            name: r.text(0)?,
            totp_secret: B64.decode(r.text(1)?).unwrap_or_default(),
            email: r.opt_text(2)?,
        }))
    }
}
