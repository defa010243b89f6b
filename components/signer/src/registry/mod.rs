//! The ground-server registry: admin keys and threshold, the admin command counter, and per
//! server its id, certificate key, registered wallet (with the node's account key for it), sighash
//! set, policy and revoked flag.
//!
//! Built from the text format of [`crate::provision`] (the provisioning file at first boot, the
//! stored record afterwards) and written back in canonical form ([`Registry::write_text`]). A
//! server's wallet is registered with [`Wallet::register`] against the node's own BIP-48 account
//! key for the server's network, the descriptor's script type and the server's account number,
//! so a descriptor without the node's key is refused. Revoked servers stay in the registry (their
//! ids are never reused, so their sequence numbers can never be replayed under a new key).
//!
//! Limits: [`MAX_SERVERS`] servers, [`MAX_ADMINS`] admin keys, descriptors of at most
//! [`MAX_DESCRIPTOR`] bytes. Changes go through [`crate::admin`].
//!
//! A registry is large (one parsed wallet per server, about 120 KB), so it is never built or
//! returned by value: [`Registry::new`] is a `const fn` (a `static` needs no stack to hold one),
//! [`Registry::load_text`] parses into an existing registry, [`Registry::copy_from`] copies one
//! server at a time, and [`Registry::apply_into`] builds the result of an admin command in a
//! second registry ([`Registries`] holds the live one and that staging one). There is no
//! `Clone` or `Default`, so a by-value copy cannot creep back in. No allocation.

mod build;
mod slots;
mod text;

pub use build::{Command, RegistryError, RegistryErrorKind};
pub use slots::Registries;

use crate::cert::ServerView;
use crate::policy::Policy;
use crate::psbt::sign::AllowedSighash;
use crate::signer::SignerConfig;
use crate::wallet::{AccountKey, Network, Wallet};

/// Most servers (revoked ones included).
pub const MAX_SERVERS: usize = 8;
/// Most admin keys.
pub const MAX_ADMINS: usize = 8;
/// Longest descriptor text.
pub const MAX_DESCRIPTOR: usize = 2560;

/// One registered ground server.
#[derive(Debug, Clone)]
pub struct Server {
    /// Server id (the certificate's `server id`).
    pub id: u32,
    /// Compressed P-256 key the server signs batch certificates with.
    pub cert_key: [u8; 33],
    /// Network of its wallet.
    pub network: Network,
    /// BIP-48 account number of the node's key in its wallet.
    pub account: u32,
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
    wallet: Wallet,
    account_key: AccountKey,
}

impl Server {
    /// The registered descriptor text.
    pub fn descriptor(&self) -> &str {
        &self.descriptor
    }

    /// The registered wallet.
    pub fn wallet(&self) -> &Wallet {
        &self.wallet
    }

    /// The node's account key for this server's wallet.
    pub fn account_key(&self) -> &AccountKey {
        &self.account_key
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
