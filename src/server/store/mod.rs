//! The server's storage: users ([`users`]), wallets ([`wallets`]), co-signing requests
//! ([`requests`]) and uplinked batches ([`batches`]), in SQLite (a file, the default) or
//! PostgreSQL (several server instances on one database), one interface over both ([`db`]),
//! with the schema from `migrations/` (portable SQL: TEXT and BIGINT only). Every state change
//! is one transaction, so a server killed at any point restarts from a consistent state: a
//! batch is written (with its whole file) before it goes up, and its requests move to their
//! outcome in the same transaction that closes it.
//!
//! Avoids: bearer tokens in clear (only their SHA-256 hashes are kept; the TOTP secrets must be
//! readable to check codes, so a SQLite file is created readable by its owner only; on
//! PostgreSQL the database's own access rules do that) and status strings spelt two ways (they
//! are [`Status`]).

mod batches;
mod broadcasts;
pub mod db;
mod requests;
mod users;
mod wallets;

use bitcoin::base64::engine::general_purpose::STANDARD as B64;
pub use broadcasts::BroadcastStatus;
use db::{Db, P};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// The migrations, in order; SQLite's `PRAGMA user_version`, PostgreSQL's `spacenode_schema`
/// table, counts those applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_email.sql"),
    include_str!("../../../migrations/0003_broadcast.sql"),
    include_str!("../../../migrations/0004_wallet_accounts.sql"),
];

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error(
        "database: {0} (check the file named by `database` in server.toml: its directory must be writable and the disk not full)"
    )]
    Sql(#[from] rusqlite::Error),
    /// PostgreSQL said no (or could not be reached).
    #[error(
        "PostgreSQL: {0:#} (check `database` in server.toml: the server must be running and reachable, the database created, its role allowed to create tables)"
    )]
    Postgres(#[from] postgres::Error),
    /// A row of an unexpected shape (a database changed by hand).
    #[error("the database holds a row this server cannot read ({0}): was it changed by hand?")]
    Shape(String),
    /// The database file's permissions could not be set.
    #[error("cannot make {0} readable by its owner only: {1}")]
    Permissions(String, std::io::Error),
    /// The random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    /// A user name that exists already.
    #[error("a user named `{0}` exists already: pick another name")]
    UserExists(String),
    /// A user's own account another user has.
    #[error(
        "account {0} is the own wallet account of user `{1}` already: give each user their own account"
    )]
    AccountTaken(u32, String),
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
    /// The node's BIP-48 account of this user's own wallet (`None`: the server's own wallet).
    pub account: Option<u32>,
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
    /// The node's account the descriptor was checked against (`None`: stored before accounts).
    pub account: Option<u32>,
    /// The user it belongs to.
    pub user: String,
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
    /// Its hand-off to Bitcoin Core, once the server has looked at it.
    pub broadcast: Option<Broadcast>,
}

/// A request's hand-off to Bitcoin Core.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Broadcast {
    /// `pending`, `sent`, `not-final` or `failed` ([`BroadcastStatus`]).
    pub status: String,
    /// The transaction's id, once finalised.
    pub txid: Option<String>,
    /// Why the last attempt failed, in words.
    pub error: Option<String>,
    /// Attempts so far.
    pub attempts: i64,
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

/// Which database, as `database` in server.toml names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (`sqlite:PATH`, or a bare path).
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgres://...` or `postgresql://...`; the
    /// `postgres` crate's URL or `key=value` form).
    Postgres(String),
}

impl Database {
    /// The setting's value, parsed (a relative SQLite path is left relative).
    pub fn parse(s: &str) -> Database {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Database::Postgres(s.to_string())
        } else {
            Database::Sqlite(PathBuf::from(s.strip_prefix("sqlite:").unwrap_or(s)))
        }
    }
}

impl std::fmt::Display for Database {
    /// Where the data is, without a PostgreSQL password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "SQLite {}", p.display()),
            Database::Postgres(s) => match s.parse::<postgres::Config>() {
                Ok(c) => write!(
                    f,
                    "PostgreSQL database {} on {:?}",
                    c.get_dbname().unwrap_or("(default)"),
                    c.get_hosts()
                ),
                Err(_) => write!(f, "PostgreSQL"),
            },
        }
    }
}

/// The database.
pub struct Store {
    db: Db,
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

/// The key of the PostgreSQL advisory lock a server instance holds on server `id`'s node link
/// ("spnd" and the id).
fn link_lock_key(id: u32) -> i64 {
    (0x7370_6e64_i64 << 32) | i64::from(id)
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
    /// Opens (creating) the database and applies the migrations it lacks.
    pub fn open(database: &Database) -> Result<Store, StoreError> {
        let db = match database {
            Database::Sqlite(path) => {
                let db = rusqlite::Connection::open(path)?;
                // Owner only: the file holds the users' TOTP secrets (SQLite gives its -wal
                // and -shm files the database file's permissions).
                std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                    .map_err(|e| StoreError::Permissions(path.display().to_string(), e))?;
                // WAL: readers never block the writer; NORMAL: a commit survives the process
                // being killed at any point (a power cut may lose the last commits, see the
                // README).
                db.pragma_update(None, "journal_mode", "WAL")?;
                db.pragma_update(None, "synchronous", "NORMAL")?;
                db.pragma_update(None, "foreign_keys", "ON")?;
                db.busy_timeout(std::time::Duration::from_secs(5))?;
                Db::Sqlite(db)
            }
            // No TLS: the README says to reach PostgreSQL by a Unix socket or a private link.
            Database::Postgres(url) => {
                Db::Postgres(Box::new(postgres::Client::connect(url, postgres::NoTls)?))
            }
        };
        let mut store = Store { db };
        store.migrate()?;
        Ok(store)
    }

    /// Applies the migrations this database lacks, in one transaction (on PostgreSQL under an
    /// advisory lock, so instances starting together migrate once).
    fn migrate(&mut self) -> Result<(), StoreError> {
        self.tx(|db| {
            let have = match db {
                Db::Sqlite(_) => db.query("PRAGMA user_version", &[])?[0].int(0)?,
                Db::Postgres(_) => {
                    db.execute(
                        "SELECT pg_advisory_xact_lock($1)",
                        &[P::I(link_lock_key(0))],
                    )?;
                    db.batch(
                        "CREATE TABLE IF NOT EXISTS spacenode_schema (version BIGINT NOT NULL)",
                    )?;
                    match db
                        .query("SELECT version FROM spacenode_schema", &[])?
                        .first()
                    {
                        Some(r) => r.int(0)?,
                        None => 0,
                    }
                }
            };
            if have < 0 || have as usize > MIGRATIONS.len() {
                return Err(StoreError::TooNew(have, MIGRATIONS.len()));
            }
            if have as usize == MIGRATIONS.len() {
                return Ok(((), false));
            }
            for sql in &MIGRATIONS[have as usize..] {
                db.batch(sql)?;
            }
            let n = MIGRATIONS.len() as i64;
            match db {
                Db::Sqlite(_) => db.batch(&format!("PRAGMA user_version = {n}"))?,
                Db::Postgres(_) => {
                    db.execute("DELETE FROM spacenode_schema", &[])?;
                    db.execute(
                        "INSERT INTO spacenode_schema (version) VALUES ($1)",
                        &[P::I(n)],
                    )?;
                }
            }
            Ok(((), true))
        })
    }

    /// Runs `f` in one transaction: committed when `f` returns `Ok((_, true))`, rolled back
    /// when it returns `Ok((_, false))` or an error.
    fn tx<T>(
        &mut self,
        f: impl FnOnce(&mut Db) -> Result<(T, bool), StoreError>,
    ) -> Result<T, StoreError> {
        self.db.begin()?;
        match f(&mut self.db) {
            Ok((v, true)) => {
                self.db.batch("COMMIT")?;
                Ok(v)
            }
            Ok((v, false)) => {
                self.db.batch("ROLLBACK")?;
                Ok(v)
            }
            Err(e) => {
                // The error said first; a failed rollback only leaves the connection to close.
                let _ = self.db.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Takes, without waiting, the right to use server `id`'s node link among the instances
    /// sharing this database (PostgreSQL: a session advisory lock, released by
    /// [`Store::unlock_link`] or when the instance dies; SQLite: always granted, the file is on
    /// one machine and the ground state directory's lock orders its servers).
    pub fn try_lock_link(&mut self, id: u32) -> Result<bool, StoreError> {
        if !self.db.is_postgres() {
            return Ok(true);
        }
        let r = self.db.query(
            "SELECT pg_try_advisory_lock($1)",
            &[P::I(link_lock_key(id))],
        )?;
        Ok(r.first().map(|r| r.int(0)).transpose()? == Some(1))
    }

    /// Gives back what [`Store::try_lock_link`] took.
    pub fn unlock_link(&mut self, id: u32) -> Result<(), StoreError> {
        if self.db.is_postgres() {
            self.db
                .execute("SELECT pg_advisory_unlock($1)", &[P::I(link_lock_key(id))])?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A store on a new database of the PostgreSQL whose socket directory
    /// `SPACENODE_TEST_PG_HOST` names (scripts/interop-postgres starts one), and its
    /// connection string.
    pub(crate) fn pg_store() -> (String, Store) {
        let host = std::env::var("SPACENODE_TEST_PG_HOST")
            .expect("SPACENODE_TEST_PG_HOST: run this through scripts/interop-postgres");
        let name = format!(
            "t_{}",
            hex_conservative::DisplayHex::to_lower_hex_string(&random(8).unwrap()[..])
        );
        let mut admin =
            postgres::Client::connect(&format!("host={host} user=postgres"), postgres::NoTls)
                .expect("PostgreSQL");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("CREATE DATABASE");
        let url = format!("host={host} user=postgres dbname={name}");
        let s = Store::open(&Database::Postgres(url.clone())).expect("open");
        (url, s)
    }

    /// Two instances take batches from one queue at the same time (as two servers would
    /// without their link lock): every request goes into exactly one batch, and a batch that
    /// loses the race for its sequence is rolled back whole, its requests still queued.
    fn two_takers_never_take_one_request_twice(db: &Database, mut a: Store) {
        a.add_user("ann", None, None).unwrap();
        let w = a.add_wallet("ann", "wsh(x)", "registered", None).unwrap();
        let mut ids: Vec<String> = (0..60u8)
            .map(|i| {
                let (r, _) = a.add_request("ann", &w.id, &[i; 40], 60, false).unwrap();
                assert!(
                    a.transition(&r.id, Status::Awaiting, Status::Queued)
                        .unwrap()
                );
                r.id
            })
            .collect();
        let take = |mut s: Store| {
            let mut mine = Vec::new();
            loop {
                match s.take_batch(1 << 20, 7, |_, last| Ok((last + 1, vec![1]))) {
                    Ok(Ok(Some((seq, _)))) => {
                        mine.extend(s.batch_requests(seq).unwrap());
                        s.batch_cosigned(seq, &[]).unwrap();
                    }
                    Ok(Ok(None)) => return mine,
                    Ok(Err(e)) => panic!("{e}"),
                    // The other took the same sequence first (or held the write lock past
                    // the busy timeout): rolled back; try again.
                    Err(_) => {}
                }
            }
        };
        let b = Store::open(db).unwrap();
        let other = std::thread::spawn(move || take(b));
        let mut got = take(a);
        got.extend(other.join().unwrap());
        got.sort();
        ids.sort();
        assert_eq!(got, ids, "each request in exactly one batch");
    }

    #[test]
    fn on_sqlite_two_takers_never_take_one_request_twice() {
        let (d, s) = store();
        two_takers_never_take_one_request_twice(&Database::Sqlite(d.path().join("s.db")), s);
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/interop-postgres runs it"]
    fn on_postgres_two_takers_never_take_one_request_twice() {
        let (url, s) = pg_store();
        two_takers_never_take_one_request_twice(&Database::Postgres(url), s);
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/interop-postgres runs it"]
    fn on_postgres_the_link_lock_is_held_by_one_instance() {
        let (url, mut a) = pg_store();
        let mut b = Store::open(&Database::Postgres(url)).unwrap();
        assert!(a.try_lock_link(7).unwrap());
        assert!(!b.try_lock_link(7).unwrap(), "held by the other instance");
        assert!(b.try_lock_link(8).unwrap(), "another server's link is free");
        // An instance that dies (its connection closed) gives the lock back.
        drop(a);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !b.try_lock_link(7).unwrap() {
            assert!(std::time::Instant::now() < deadline, "never given back");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        b.unlock_link(7).unwrap();
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&Database::Sqlite(dir.path().join("s.db"))).unwrap();
        (dir, s)
    }

    #[test]
    fn users_own_accounts_their_node_keys_and_pending_wallets() {
        let (_d, s) = store();
        own_accounts(s);
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/interop-postgres runs it"]
    fn on_postgres_users_own_accounts_their_node_keys_and_pending_wallets() {
        own_accounts(pg_store().1);
    }

    fn own_accounts(mut s: Store) {
        s.add_user("ann", None, None).unwrap();
        s.add_user("carol", None, Some(5)).unwrap();
        s.add_user("dave", None, Some(6)).unwrap();
        // Two users without an account are fine; one account is one user's.
        s.add_user("erin", None, None).unwrap();
        assert!(matches!(
            s.add_user("frank", None, Some(5)),
            Err(StoreError::AccountTaken(5, ref who)) if who == "carol"
        ));
        assert_eq!(s.accounts_without_key().unwrap(), [5, 6]);
        s.add_node_key(5, "[aabbccdd/48h/1h/5h/2h]tpubX", "00ff")
            .unwrap();
        // A second store of the same key (another instance) changes nothing.
        s.add_node_key(5, "[aabbccdd/48h/1h/5h/2h]tpubY", "11")
            .unwrap();
        assert_eq!(s.accounts_without_key().unwrap(), [6]);
        assert_eq!(
            s.node_key(5).unwrap(),
            Some(("[aabbccdd/48h/1h/5h/2h]tpubX".into(), "00ff".into()))
        );
        assert_eq!(s.node_key(6).unwrap(), None);
        let w = s
            .add_wallet("carol", "wsh(c)", "pending-registration", Some(5))
            .unwrap();
        s.add_wallet("ann", "wsh(a)", "registered", Some(3))
            .unwrap();
        let pending = s.pending_wallets().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(
            (
                pending[0].id.as_str(),
                pending[0].user.as_str(),
                pending[0].account
            ),
            (w.id.as_str(), "carol", Some(5))
        );
        // Only its user sees it; the operator's lookup by id alone does.
        assert!(s.wallet("dave", &w.id).unwrap().is_none());
        assert_eq!(
            s.wallet_by_id(&w.id).unwrap().map(|w| w.user),
            Some("carol".into())
        );
        s.wallet_registered(&w.id).unwrap();
        assert!(s.pending_wallets().unwrap().is_empty());
        assert_eq!(
            s.wallet("carol", &w.id).unwrap().unwrap().status,
            "registered"
        );
        let user = s.user_by_token("nope").unwrap();
        assert!(user.is_none());
    }

    #[test]
    fn a_refusal_naming_one_psbt_queues_the_others_again() {
        let (_d, s) = store();
        refusal_naming_one_psbt(s);
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/interop-postgres runs it"]
    fn on_postgres_a_refusal_naming_one_psbt_queues_the_others_again() {
        refusal_naming_one_psbt(pg_store().1);
    }

    fn refusal_naming_one_psbt(mut s: Store) {
        s.add_user("ann", None, None).unwrap();
        assert!(matches!(
            s.add_user("ann", None, None),
            Err(StoreError::UserExists(_))
        ));
        let w = s.add_wallet("ann", "wsh(x)", "registered", None).unwrap();
        let ids: Vec<String> = (0..3)
            .map(|i| {
                let (r, _) = s.add_request("ann", &w.id, &[i], 60, false).unwrap();
                assert!(s.confirm("ann", &r.id, 10 + i64::from(i)).unwrap());
                r.id
            })
            .collect();
        let taken = s.take_batch(1 << 20, 1024, |p, _| {
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
        let taken = s.take_batch(1 << 20, 1024, |p, _| {
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
        let taken = s.take_batch(1 << 20, 1024, |_, _| Ok((3, b"f3".to_vec())));
        assert!(taken.unwrap().unwrap().is_some());
        s.batch_requeued(3).unwrap();
        assert_eq!(s.request("ann", &r.id).unwrap().unwrap().status, "queued");
        assert_eq!(s.in_flight().unwrap(), None);
    }

    #[test]
    fn a_totp_step_is_used_once_and_unconfirmed_requests_expire() {
        let (_d, s) = store();
        totp_step_once(s);
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/interop-postgres runs it"]
    fn on_postgres_a_totp_step_is_used_once_and_unconfirmed_requests_expire() {
        totp_step_once(pg_store().1);
    }

    fn totp_step_once(mut s: Store) {
        s.add_user("ann", None, None).unwrap();
        let w = s.add_wallet("ann", "wsh(x)", "registered", None).unwrap();
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
        link_once(s);
    }

    #[test]
    #[ignore = "needs PostgreSQL: scripts/interop-postgres runs it"]
    fn on_postgres_a_confirmation_link_works_once_and_only_while_its_request_waits() {
        link_once(pg_store().1);
    }

    fn link_once(mut s: Store) {
        s.add_user("eve", Some("eve@example.org"), None).unwrap();
        let w = s.add_wallet("eve", "wsh(x)", "registered", None).unwrap();
        let (a, token) = s.add_request("eve", &w.id, &[1], 60, true).unwrap();
        let token = token.unwrap();
        assert_eq!((a.confirm_by.as_str(), token.len()), ("email", 64));
        // Only the hash is stored.
        let stored =
            s.db.query(
                "SELECT confirm_token_hash FROM requests WHERE id = $1",
                &[P::T(&a.id)],
            )
            .unwrap()[0]
                .text(0)
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
        let db = Database::Sqlite(p.clone());
        let (token, _) = Store::open(&db)
            .unwrap()
            .add_user("ann", None, None)
            .unwrap();
        let mut s = Store::open(&db).unwrap();
        assert_eq!(s.user_by_token(&token).unwrap().unwrap().name, "ann");
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&p).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        assert!(s.user_by_token("nope").unwrap().is_none());
    }
}
