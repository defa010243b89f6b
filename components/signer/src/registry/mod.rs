//! The ground-server registry: admin keys and threshold, the admin command counter, per server
//! its id, certificate key, first wallet, sighash set, policy and revoked flag, and the table of
//! the servers' further wallets ([`WalletEntry`], one per wallet user of a server).
//!
//! Built from the text format of [`crate::provision`] (the provisioning file at first boot, the
//! stored record afterwards) and written back in canonical form ([`Registry::write_text`]). Every
//! wallet's descriptor is checked when it enters the registry
//! ([`crate::wallet::own_key_index`]) against the node's own BIP-48 account key for the
//! server's network, the descriptor's script type and the wallet's account number, so a
//! descriptor without the node's key is refused; no two wallets (of any servers) share an
//! account key. Revoked servers stay in the registry (their ids are never reused, so their
//! sequence numbers can never be replayed under a new key); so do their wallets.
//!
//! # Memory: wallets are kept as text
//!
//! A parsed wallet (cosigners with their branch keys) is 8 KB and the node's account key for it
//! 320 bytes; the registry keeps neither, only each wallet's descriptor text, account and script
//! type. A batch parses the one wallet a PSBT is matched to into [`ParsedWallet`], a single slot
//! beside the registries (in [`Registries`]), and re-parses only when the next PSBT is of
//! another wallet ([`parsed`]). So the registry grows with [`MAX_WALLETS`] by the text only
//! (2.6 KB a wallet slot, 82 KB for the table), less the 8 servers' parsed wallets (67 KB) it no
//! longer holds: a `Registry` is 138,784 bytes (123,232 with one parsed wallet per server and
//! no table), [`Registries`] 285,984 (246,472), bounded by a test in `slots`.
//!
//! Limits: [`MAX_SERVERS`] servers, [`MAX_WALLETS`] wallets besides each server's first,
//! [`MAX_ADMINS`] admin keys, descriptors of at most [`MAX_DESCRIPTOR`] bytes, and the whole
//! text within the stored record ([`crate::node::MAX_REGISTRY_TEXT`]). Changes go through
//! [`crate::admin`]; a wallet added to a full table is refused
//! ([`RegistryErrorKind::TooManyWallets`]).
//!
//! A registry is large (about 139 KB), so it is never built or
//! returned by value: [`Registry::new`] is a `const fn` (a `static` needs no stack to hold one),
//! [`Registry::load_text`] parses into an existing registry, [`Registry::copy_from`] copies one
//! server at a time, and [`Registry::apply_into`] builds the result of an admin command in a
//! second registry ([`Registries`] holds the live one and that staging one). There is no
//! `Clone` or `Default`, so a by-value copy cannot creep back in. No allocation.

mod build;
pub mod parsed;
mod slots;
mod text;
mod wallets;

pub use build::{Command, RegistryError, RegistryErrorKind};
pub use parsed::ParsedWallet;
pub use slots::Registries;
pub use wallets::{WalletEntry, WalletRef};

use crate::cert::ServerView;
use crate::descriptor::ScriptType;
use crate::policy::Policy;
use crate::psbt::sign::AllowedSighash;
use crate::signer::SignerConfig;
use crate::wallet::Network;

/// Most servers (revoked ones included).
pub const MAX_SERVERS: usize = 8;
/// Most admin keys.
pub const MAX_ADMINS: usize = 8;
/// Longest descriptor text.
pub const MAX_DESCRIPTOR: usize = 2560;
/// Most wallets besides each server's first (the `wallet` lines, revoked servers' included).
pub const MAX_WALLETS: usize = 32;

/// One registered ground server.
#[derive(Debug, Clone)]
pub struct Server {
    /// Server id (the certificate's `server id`).
    pub id: u32,
    /// Compressed P-256 key the server signs batch certificates with.
    pub cert_key: [u8; 33],
    /// Network of its wallets.
    pub network: Network,
    /// BIP-48 account number of the node's key in its first wallet.
    pub account: u32,
    /// Script type of its first wallet.
    pub script_type: ScriptType,
    /// Sighash types the node signs with for this server.
    pub sighash: AllowedSighash,
    /// Revoked servers are refused (certificate error 3).
    pub revoked: bool,
    /// Certificates without expiry are accepted from this server (the `no-expiry` flag);
    /// otherwise they are refused (certificate error 10).
    pub no_expiry: bool,
    /// The policy.
    pub policy: Policy,
    descriptor: heapless::String<MAX_DESCRIPTOR>,
}

impl Server {
    /// The descriptor text of its first wallet.
    pub fn descriptor(&self) -> &str {
        &self.descriptor
    }

    /// The wallet-signer settings.
    pub fn signer_config(&self) -> SignerConfig {
        SignerConfig {
            allowed_sighash: self.sighash,
            ..SignerConfig::default()
        }
    }

    /// What [`crate::cert::verify`] needs, with the ledger's last sequence.
    pub fn view(&self, last_sequence: Option<u64>) -> ServerView {
        ServerView {
            public_key: self.cert_key,
            revoked: self.revoked,
            last_sequence,
            no_expiry: self.no_expiry,
        }
    }
}

/// The registry.
#[derive(Debug)]
pub struct Registry {
    admins: heapless::Vec<[u8; 33], MAX_ADMINS>,
    threshold: u8,
    counter: u64,
    /// Registered servers from index 0 up, then `None`s (servers are never removed). Slots,
    /// not a `heapless::Vec`: a server (15 KB) goes into its slot with one move, where a
    /// generic `push` at opt-level 0 costs several copies of it on the stack.
    servers: [Option<Server>; MAX_SERVERS],
    /// The servers' further wallets from index 0 up, then `None`s (never removed).
    wallets: [Option<WalletEntry>; MAX_WALLETS],
}

impl Registry {
    /// An empty registry: no admin, no server (what an unprovisioned signer has).
    #[expect(
        clippy::new_without_default,
        reason = "no `Default`: a registry is never meant to be made by value on the stack"
    )]
    pub const fn new() -> Self {
        Self {
            admins: heapless::Vec::new(),
            threshold: 0,
            counter: 0,
            servers: [const { None }; MAX_SERVERS],
            wallets: [const { None }; MAX_WALLETS],
        }
    }

    /// Empties the registry in place.
    pub fn clear(&mut self) {
        self.admins.clear();
        self.threshold = 0;
        self.counter = 0;
        for slot in &mut self.servers {
            *slot = None;
        }
        for slot in &mut self.wallets {
            *slot = None;
        }
    }

    /// Makes this registry a copy of `other`, in place, one server at a time (never a whole
    /// registry on the stack).
    pub fn copy_from(&mut self, other: &Registry) {
        self.admins.clone_from(&other.admins);
        self.threshold = other.threshold;
        self.counter = other.counter;
        for (mine, theirs) in self.servers.iter_mut().zip(&other.servers) {
            mine.clone_from(theirs);
        }
        for (mine, theirs) in self.wallets.iter_mut().zip(&other.wallets) {
            mine.clone_from(theirs);
        }
    }

    /// Admin keys, in admin-index order.
    pub fn admins(&self) -> &[[u8; 33]] {
        &self.admins
    }

    /// Signatures an admin command needs.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// Counter of the last accepted admin command (0 if none).
    pub fn admin_counter(&self) -> u64 {
        self.counter
    }

    /// All servers, in registration order.
    pub fn servers(&self) -> impl Iterator<Item = &Server> + '_ {
        self.servers.iter().map_while(Option::as_ref)
    }

    /// How many servers (revoked ones included).
    pub fn server_count(&self) -> usize {
        self.servers().count()
    }

    /// The server with `id`.
    pub fn server(&self, id: u32) -> Option<&Server> {
        self.servers().find(|s| s.id == id)
    }
}
