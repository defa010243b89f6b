//! The `wallets` table: the wallets users register (their descriptors and whether the node's
//! registry holds them).
//!
//! Avoids: one user reading another's wallet (every lookup names its user).

use super::db::P;
use super::{Store, StoreError, Wallet, new_id, now};

impl Store {
    /// Records a wallet.
    pub fn add_wallet(
        &mut self,
        user: &str,
        descriptor: &str,
        status: &str,
    ) -> Result<Wallet, StoreError> {
        let id = new_id("w")?;
        self.db.execute(
            "INSERT INTO wallets (id, user_name, descriptor, status, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[P::T(&id), P::T(user), P::T(descriptor), P::T(status), P::I(now())],
        )?;
        Ok(Wallet {
            id,
            descriptor: descriptor.into(),
            status: status.into(),
        })
    }

    /// Wallet `id` of `user`.
    pub fn wallet(&mut self, user: &str, id: &str) -> Result<Option<Wallet>, StoreError> {
        let rows = self.db.query(
            "SELECT id, descriptor, status FROM wallets WHERE id = $1 AND user_name = $2",
            &[P::T(id), P::T(user)],
        )?;
        rows.first()
            .map(|r| {
                Ok(Wallet {
                    id: r.text(0)?,
                    descriptor: r.text(1)?,
                    status: r.text(2)?,
                })
            })
            .transpose()
    }
}
