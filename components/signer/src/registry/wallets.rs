//! The servers' wallets: each server's first wallet is its `server` line's descriptor, and the
//! table of [`WalletEntry`]s holds the others (`wallet` lines, added by the admin command of
//! the same name). [`Registry::wallets_of`] lists a server's wallets in order, first wallet
//! first, as [`WalletRef`]s.
//!
//! A wallet enters the registry only if its descriptor holds the node's own key for the
//! server's network, the descriptor's script type and the wallet's account
//! ([`crate::wallet::own_key_index`]), and no other wallet of any server uses the same
//! account key (coin type, script type, account): two wallets never share the node's key path,
//! so a signature made for one wallet's script can never be one for another's.
//!
//! Avoids: keeping parsed wallets (see the module docs of [`super`]), removing wallets.

use super::build::RegistryErrorKind;
use super::{MAX_DESCRIPTOR, Registry};
use crate::descriptor::{Descriptor, ScriptType};
use crate::keys::NodeKeys;
use crate::provision::WalletLine;
use crate::wallet::{Network, WalletError, own_key_index};

/// One further wallet of a server.
#[derive(Debug, Clone)]
pub struct WalletEntry {
    /// The server it belongs to.
    pub server: u32,
    /// BIP-48 account number of the node's key in it.
    pub account: u32,
    /// Its script type (from the descriptor).
    pub script_type: ScriptType,
    descriptor: heapless::String<MAX_DESCRIPTOR>,
}

impl WalletEntry {
    /// The descriptor text.
    pub fn descriptor(&self) -> &str {
        &self.descriptor
    }
}

/// One wallet of a server, as the registry holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalletRef<'a> {
    /// The server.
    pub server: u32,
    /// The server's network.
    pub network: Network,
    /// BIP-48 account number of the node's key in it.
    pub account: u32,
    /// Script type.
    pub script_type: ScriptType,
    /// Descriptor text.
    pub descriptor: &'a str,
}

/// The script type of `descriptor` and the node's account key for it, checked against the
/// descriptor. Its own frame: the parsed descriptor (2.4 KB) is off the stack before the caller
/// goes on.
pub(super) fn checked_script_type(
    descriptor: &str,
    network: Network,
    account: u32,
    keys: &NodeKeys,
) -> Result<ScriptType, WalletError> {
    let d = Descriptor::parse(descriptor)?;
    let own = keys.account(network, d.script_type, account)?;
    own_key_index(&d, network, &own)?;
    Ok(d.script_type)
}

impl Registry {
    /// The wallets of server `id` in order: its first wallet (the `server` line's), then its
    /// `wallet` entries in the order they were added. Empty for an unknown server.
    pub fn wallets_of(&self, id: u32) -> impl Iterator<Item = WalletRef<'_>> + '_ {
        let server = self.server(id);
        let first = server.map(|s| WalletRef {
            server: s.id,
            network: s.network,
            account: s.account,
            script_type: s.script_type,
            descriptor: s.descriptor(),
        });
        let network = server.map(|s| s.network);
        let more = self
            .wallet_entries()
            .filter(move |w| Some(w.server) == server.map(|s| s.id))
            .filter_map(move |w| {
                Some(WalletRef {
                    server: w.server,
                    network: network?,
                    account: w.account,
                    script_type: w.script_type,
                    descriptor: w.descriptor(),
                })
            });
        first.into_iter().chain(more)
    }

    /// Every `wallet` entry (not the servers' first wallets), in the order added.
    pub fn wallet_entries(&self) -> impl Iterator<Item = &WalletEntry> + '_ {
        self.wallets.iter().map_while(Option::as_ref)
    }

    /// The server, if any, one of whose wallets uses the node's account key for (`network`'s
    /// coin type, `script_type`, `account`).
    pub fn account_user(
        &self,
        network: Network,
        script_type: ScriptType,
        account: u32,
    ) -> Option<u32> {
        let coin = network.coin_type();
        self.servers().find_map(|s| {
            self.wallets_of(s.id)
                .find(|w| {
                    w.network.coin_type() == coin
                        && w.script_type == script_type
                        && w.account == account
                })
                .map(|w| w.server)
        })
    }

    /// Adds the wallet of line `w` in the first free entry: refused if its server is unknown,
    /// the table is full, the descriptor is too long or refused, or another wallet uses the
    /// account key. (A stored registry holds revoked servers' wallets too; the admin command
    /// refuses a wallet for a revoked server before this.)
    pub(super) fn add_wallet_line(
        &mut self,
        w: &WalletLine<'_>,
        keys: &NodeKeys,
    ) -> Result<(), RegistryErrorKind> {
        let network = self
            .server(w.server)
            .ok_or(RegistryErrorKind::UnknownServer(w.server))?
            .network;
        if self.wallets.iter().all(Option::is_some) {
            return Err(RegistryErrorKind::TooManyWallets);
        }
        if w.descriptor.len() > MAX_DESCRIPTOR {
            return Err(RegistryErrorKind::DescriptorTooLong);
        }
        let script_type =
            checked_script_type(w.descriptor, network, w.account, keys).map_err(|error| {
                RegistryErrorKind::Wallet {
                    id: w.server,
                    error,
                }
            })?;
        if self.account_user(network, script_type, w.account).is_some() {
            return Err(RegistryErrorKind::WalletAccountInUse {
                server: w.server,
                account: w.account,
            });
        }
        let slot = self
            .wallets
            .iter_mut()
            .find(|s| s.is_none())
            .ok_or(RegistryErrorKind::TooManyWallets)?;
        let mut descriptor = heapless::String::new();
        descriptor
            .push_str(w.descriptor)
            .map_err(|_| RegistryErrorKind::DescriptorTooLong)?;
        *slot = Some(WalletEntry {
            server: w.server,
            account: w.account,
            script_type,
            descriptor,
        });
        Ok(())
    }
}
