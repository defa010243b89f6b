//! Matching a PSBT to the submitting server's wallet, and the one parsed wallet it needs.
//!
//! The registry keeps wallets as descriptor text ([`super`]). [`ParsedWallet`] is one slot
//! (8.4 KB, in [`super::Registries`], so in static memory in a partition) holding the last wallet
//! a PSBT was matched to, parsed, with the node's account key for it. [`check_for_server`] tries
//! the server's wallets in turn: first the one whose account the PSBT's derivation of the
//! node's key names, then those of which input 0 names a key (fingerprint and origin, read from
//! the descriptor text alone), in registry order; a PSBT naming none is checked under the
//! server's first wallet, which says what is missing. A wallet is taken when
//! [`crate::signer::check`] passes under it, which compares every input's witness script with
//! the one the wallet derives at the claimed index, byte for byte: a PSBT is signed only under a
//! wallet of the server whose certificate carried it, never another server's. When none passes,
//! the refusal is the first wallet tried's.
//!
//! Only wallets of the submitting server are tried, so a wallet of server A submitted by server
//! B fails every check (its scripts are not B's wallets' scripts) and is refused.
//!
//! Cost: the slot is re-parsed (descriptor, branch keys, the node's account key: about a dozen
//! elliptic-curve multiplications; about 3.7 ms in the unoptimised test build, where a batch of
//! 16 PSBTs alternating between two wallets took 218 ms against 100 ms for one wallet) only
//! when the next PSBT is of another wallet than the last. The wallets a PSBT does not name cost
//! one descriptor parse each (no derivation).
//!
//! Avoids: the heap, and a parsed wallet on the stack.

use super::{Registry, Server, WalletRef};
use crate::bip32::Fingerprint;
use crate::descriptor::{Descriptor, ScriptType};
use crate::keys::NodeKeys;
use crate::psbt::Psbt;
use crate::signer::{Analysis, Refusal, check};
use crate::wallet::{AccountKey, Network, Wallet, WalletError, account_path};

/// Which wallet the slot holds: server, network, script type, account.
type Key = (u32, Network, ScriptType, u32);

/// The one parsed wallet (see the module docs).
#[derive(Debug)]
pub struct ParsedWallet {
    key: Option<Key>,
    wallet: Wallet,
    account: Option<AccountKey>,
}

impl Default for ParsedWallet {
    fn default() -> Self {
        Self::new()
    }
}

impl ParsedWallet {
    /// An empty slot.
    pub const fn new() -> Self {
        Self {
            key: None,
            wallet: Wallet::empty(Network::Mainnet),
            account: None,
        }
    }

    /// Forgets what the slot holds (the registry changed).
    pub(crate) fn clear(&mut self) {
        self.key = None;
        self.account = None;
    }

    /// The wallet held, if any.
    pub fn wallet(&self) -> Option<&Wallet> {
        self.key.map(|_| &self.wallet)
    }

    /// The node's account key for the wallet held, if any.
    pub fn account_key(&self) -> Option<&AccountKey> {
        self.account.as_ref().filter(|_| self.key.is_some())
    }

    /// Parses `w` into the slot unless it holds it already.
    fn load(&mut self, w: &WalletRef<'_>, keys: &NodeKeys) -> Result<(), WalletError> {
        let key = (w.server, w.network, w.script_type, w.account);
        if self.key == Some(key) {
            return Ok(());
        }
        self.clear();
        let account = keys.account(w.network, w.script_type, w.account)?;
        self.wallet.register_in(w.descriptor, w.network, &account)?;
        self.account = Some(account);
        self.key = Some(key);
        Ok(())
    }
}

/// True if one of input 0's derivations is of the node's key (master `fingerprint`) at `w`'s
/// account path.
fn names_account(psbt: &Psbt<'_>, w: &WalletRef<'_>, fingerprint: &Fingerprint) -> bool {
    let Ok(path) = account_path(w.network, w.script_type, w.account) else {
        return false;
    };
    psbt.inputs().first().is_some_and(|input| {
        input.bip32_derivations().any(|o| {
            o.fingerprint == *fingerprint && o.path.as_slice().starts_with(path.as_slice())
        })
    })
}

/// True if one of input 0's derivations is of a key of `w`'s descriptor: its fingerprint, its
/// origin path, then two steps (branch and index). Parses only the descriptor text (no key
/// derivation), in a frame of its own.
fn names_a_key(psbt: &Psbt<'_>, w: &WalletRef<'_>) -> bool {
    let Ok(d) = Descriptor::parse(w.descriptor) else {
        return false;
    };
    psbt.inputs().first().is_some_and(|input| {
        input.bip32_derivations().any(|o| {
            d.keys.iter().any(|k| {
                k.fingerprint == o.fingerprint
                    && o.path
                        .as_slice()
                        .strip_prefix(k.origin.as_slice())
                        .is_some_and(|rest| rest.len() == 2)
            })
        })
    })
}

/// Checks `psbt` against the wallets of `server` (see the module docs), leaving the wallet it
/// passed under in `slot`: its analysis, for the policy and for [`crate::signer::sign`] with
/// [`ParsedWallet::account_key`].
pub fn check_for_server<'a>(
    registry: &Registry,
    server: &Server,
    slot: &mut ParsedWallet,
    keys: &NodeKeys,
    psbt: &Psbt<'a>,
) -> Result<Analysis<'a>, Refusal> {
    let fingerprint = keys.master_fingerprint();
    let named = registry
        .wallets_of(server.id)
        .find(|w| names_account(psbt, w, &fingerprint));
    let others = registry
        .wallets_of(server.id)
        .filter(|w| Some(*w) != named && names_a_key(psbt, w));
    // A PSBT naming none of the server's wallets is checked under its first wallet, which
    // says what is missing (as when a server had one wallet).
    let fallback = registry.wallets_of(server.id).next();
    let mut candidates = named.into_iter().chain(others).peekable();
    let tried: &mut dyn Iterator<Item = WalletRef<'_>> = if candidates.peek().is_some() {
        &mut candidates
    } else {
        &mut fallback.into_iter()
    };
    let config = server.signer_config();
    let mut first: Option<Refusal> = None;
    for w in tried {
        if let Err(e) = slot.load(&w, keys) {
            log::warn!(
                "server {} wallet on account {}: not usable: {e}",
                w.server,
                w.account
            );
            continue;
        }
        match check(psbt, &slot.wallet, &config) {
            Ok(analysis) => return Ok(analysis),
            Err(r) => {
                first.get_or_insert(r);
            }
        }
    }
    Err(first.unwrap_or(Refusal::ForeignInput(0)))
}
