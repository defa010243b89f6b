//! The `wallets` table: the wallets users register (their descriptors, the node's account each
//! was checked against, and whether the node's registry holds them).
//!
//! Avoids: one user reading another's wallet (every lookup a user makes names its user; only the
//! operator's `add-wallet` looks a wallet up by id alone).

use super::db::{P, Row};
use super::{Store, StoreError, Wallet, new_id, now};

const COLUMNS: &str = "id, descriptor, status, account, user_name";

fn wallet(r: &Row) -> Result<Wallet, StoreError> {
    Ok(Wallet {
        id: r.text(0)?,
        descriptor: r.text(1)?,
        status: r.text(2)?,
        account: r.opt_int(3)?.and_then(|a| u32::try_from(a).ok()),
        user: r.text(4)?,
    })
}

impl Store {
    /// Records a wallet of `user`, its descriptor checked against the node's `account`.
    pub fn add_wallet(
        &mut self,
        user: &str,
        descriptor: &str,
        status: &str,
        account: Option<u32>,
    ) -> Result<Wallet, StoreError> {
        let id = new_id("w")?;
        self.db.execute(
            "INSERT INTO wallets (id, user_name, descriptor, status, created_at, account) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                P::T(&id),
                P::T(user),
                P::T(descriptor),
                P::T(status),
                P::I(now()),
                P::OI(account.map(i64::from)),
            ],
        )?;
        Ok(Wallet {
            id,
            descriptor: descriptor.into(),
            status: status.into(),
            account,
            user: user.into(),
        })
    }

    /// Wallet `id` of `user`.
    pub fn wallet(&mut self, user: &str, id: &str) -> Result<Option<Wallet>, StoreError> {
        let rows = self.db.query(
            &format!("SELECT {COLUMNS} FROM wallets WHERE id = $1 AND user_name = $2"),
            &[P::T(id), P::T(user)],
        )?;
        rows.first().map(wallet).transpose()
    }

    /// Wallet `id`, whoever's (for the operator's `add-wallet`).
    pub fn wallet_by_id(&mut self, id: &str) -> Result<Option<Wallet>, StoreError> {
        let rows = self.db.query(
            &format!("SELECT {COLUMNS} FROM wallets WHERE id = $1"),
            &[P::T(id)],
        )?;
        rows.first().map(wallet).transpose()
    }

    /// The wallets awaiting the operator's `add-wallet`, oldest first.
    pub fn pending_wallets(&mut self) -> Result<Vec<Wallet>, StoreError> {
        let rows = self.db.query(
            &format!(
                "SELECT {COLUMNS} FROM wallets WHERE status = 'pending-registration' ORDER BY created_at, id"
            ),
            &[],
        )?;
        rows.iter().map(wallet).collect()
    }

    /// Marks wallet `id` registered (the node applied its `add-wallet`).
    pub fn wallet_registered(&mut self, id: &str) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE wallets SET status = 'registered' WHERE id = $1",
            &[P::T(id)],
        )?;
        Ok(())
    }
}
