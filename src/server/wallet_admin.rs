//! The operator's side of several wallets per server: `spacenode server wallets` lists the
//! wallets users registered that the node's registry does not hold yet, and `spacenode server
//! add-wallet WALLET_ID --admin-key ...` sends the signer the admin command adding one
//! (`wallet server=ID account=N descriptor=D`, signed here by the registry admins' keys the
//! operator gives), over this server's link, then marks the wallet registered.
//!
//! Why the operator and not the server: the registry takes changes only with the admin
//! threshold's signatures. A server that held admin keys to add its users' wallets by itself
//! would let anyone who can register a wallet (any user with a token) or who takes the server
//! change the signer's registry, which is what the threshold is there to prevent. So a user's
//! wallet stays `pending-registration` (and its requests are refused with 409) until an
//! operator holding the admin keys signs it in.
//!
//! Avoids: sending while the batcher holds the link (it waits, at most [`LINK_WAIT`], for the
//! ground station's link lock and, on PostgreSQL, this server's advisory lock), and marking a
//! wallet registered that the node did not accept.

use super::batcher::open_link;
use super::config::ServerConfig;
use super::store::{Store, StoreError};
use crate::failure::Failure;
use crate::ground::admin::AdminKeys;
use std::time::{Duration, Instant};

/// How long `add-wallet` waits for the batcher to let go of the node's link.
const LINK_WAIT: Duration = Duration::from_secs(120);

/// `spacenode server wallets`: the wallets awaiting `add-wallet`.
pub fn list(cfg: &ServerConfig) -> Result<(), Failure> {
    let mut store = Store::open(&cfg.database).map_err(usage)?;
    let pending = store.pending_wallets().map_err(usage)?;
    if pending.is_empty() {
        println!("no wallet awaits registration");
    }
    for w in pending {
        let account = w.account.map_or("none".to_string(), |a| a.to_string());
        println!(
            "{}  user {}  account {account}  {}",
            w.id, w.user, w.descriptor
        );
    }
    Ok(())
}

fn usage(e: StoreError) -> Failure {
    Failure::Usage(e.to_string())
}

/// `spacenode server add-wallet WALLET_ID`: the signed admin command for wallet `id`.
pub fn add(cfg: &ServerConfig, id: &str, admins: &AdminKeys) -> Result<(), Failure> {
    let mut store = Store::open(&cfg.database).map_err(usage)?;
    let w = store.wallet_by_id(id).map_err(usage)?.ok_or_else(|| {
        Failure::Usage(format!(
            "no wallet `{}` in the database: `spacenode server wallets` lists the ones awaiting registration",
            crate::escape::escape(id)
        ))
    })?;
    if w.status == "registered" {
        println!("wallet {id} of {} is registered already", w.user);
        return Ok(());
    }
    let account = w.account.ok_or_else(|| {
        Failure::Usage(format!(
            "wallet {id} was stored before wallets had accounts: the user registers it again"
        ))
    })?;
    let body = crate::ground::admin::wallet_body(cfg.server_id(), account, &w.descriptor)
        .map_err(Failure::Usage)?;
    let keys = admins.resolve()?;
    let signers: Vec<(u8, &p256::SecretKey)> = keys.iter().map(|(i, k)| (*i, k)).collect();
    let identity = crate::ground::admin::read_identity(&cfg.identity)?;
    let state_dir = cfg
        .node
        .state
        .clone()
        .unwrap_or_else(crate::ground::default_state_dir);
    // The batcher holds the link for a pass at a time: wait for its turn, boundedly.
    let deadline = Instant::now() + LINK_WAIT;
    let server = cfg.server_id();
    let busy = || {
        Failure::Usage(format!(
            "the node's link stayed busy for {} s (a batch going up, or another instance of this server): try again",
            LINK_WAIT.as_secs()
        ))
    };
    let mut link = loop {
        match open_link(cfg).map_err(|e| Failure::Usage(format!("the node's link: {e}")))? {
            Some(l) => break l,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            None => return Err(busy()),
        }
    };
    while !store.try_lock_link(server).map_err(usage)? {
        if Instant::now() >= deadline {
            return Err(busy());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let sent = crate::ground::admin::apply(
        &mut link.session,
        &state_dir,
        &identity,
        &signers,
        &body,
        admins.counter,
        &mut |l| println!("{l}"),
    );
    store.unlock_link(server).map_err(usage)?;
    sent?;
    store.wallet_registered(id).map_err(usage)?;
    println!(
        "applied: wallet {id} of {} (account {account}) is in the node's registry for server {server}: registered",
        w.user
    );
    Ok(())
}
