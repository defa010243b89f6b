//! The registered multisig wallet and the node's own account key.
//!
//! A [`Wallet`] is a parsed descriptor accepted only if it contains the node's own account key at
//! the BIP-48 path for its script type and network: `m/48'/coin'/account'/2'` for P2WSH,
//! `m/48'/coin'/account'/1'` for P2SH-P2WSH, coin type 0 on mainnet and 1 on testnet and regtest.
//! It caches every cosigner's receive and change branch keys (`xpub/0`, `xpub/1`) so deriving the
//! wallet's script at an index costs one public derivation per key.
//!
//! [`AccountKey`] holds the node's private account key (and its two branch keys); it zeroizes on
//! drop through [`Xpriv`]. Nothing here allocates.

use crate::bip32::{Bip32Error, DerivationPath, Fingerprint, HARDENED, KeyNetwork, Xpriv, Xpub};
use crate::descriptor::{Descriptor, DescriptorError, ScriptType};
use crate::script::{self, CompressedKey, MAX_MULTISIG_KEYS, ScriptBuf};

/// The Bitcoin network a wallet lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Bitcoin mainnet (coin type 0).
    Mainnet,
    /// Testnet/signet (coin type 1).
    Testnet,
    /// Regtest (coin type 1).
    Regtest,
}

impl Network {
    /// The BIP-44/48 coin type.
    pub fn coin_type(self) -> u32 {
        match self {
            Network::Mainnet => 0,
            Network::Testnet | Network::Regtest => 1,
        }
    }

    /// The extended-key version family.
    pub fn key_network(self) -> KeyNetwork {
        match self {
            Network::Mainnet => KeyNetwork::Main,
            Network::Testnet | Network::Regtest => KeyNetwork::Test,
        }
    }
}

/// Why a wallet could not be registered or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// The descriptor text was refused.
    #[error("descriptor: {0}")]
    Descriptor(#[from] DescriptorError),
    /// A key's version bytes are for another network.
    #[error("key for the wrong network")]
    WrongNetwork,
    /// The node's own key is not in the descriptor at its BIP-48 path.
    #[error("the node's own account key is not in the descriptor")]
    OwnKeyMissing,
    /// The descriptor names the node's fingerprint and path but with a different xpub.
    #[error("the descriptor's key at the node's path is not the node's key")]
    OwnKeyMismatch,
    /// Key derivation failed.
    #[error("bip32: {0}")]
    Bip32(#[from] Bip32Error),
    /// Branch other than 0 (receive) or 1 (change).
    #[error("branch must be 0 or 1")]
    BadBranch,
}

/// The BIP-48 account path `m/48'/coin'/account'/script'`.
pub fn account_path(
    network: Network,
    script_type: ScriptType,
    account: u32,
) -> Result<DerivationPath, WalletError> {
    let script = match script_type {
        ScriptType::Wsh => 2,
        ScriptType::ShWsh => 1,
    };
    if account >= HARDENED {
        return Err(WalletError::Bip32(Bip32Error::InvalidPath));
    }
    Ok(DerivationPath::from_slice(&[
        48 | HARDENED,
        network.coin_type() | HARDENED,
        account | HARDENED,
        script | HARDENED,
    ])?)
}

/// The node's private account key for one wallet, with both branch keys; zeroized on drop.
#[derive(Clone)]
pub struct AccountKey {
    master_fingerprint: Fingerprint,
    path: DerivationPath,
    account: Xpriv,
    branches: [Xpriv; 2],
}

// Every secret field is an `Xpriv`, which zeroizes on drop.
impl zeroize::ZeroizeOnDrop for AccountKey {}

impl core::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AccountKey")
            .field("path", &self.path)
            .finish()
    }
}

impl AccountKey {
    /// Derives the account key at the BIP-48 path from the master key.
    pub fn derive(
        master: &Xpriv,
        network: Network,
        script_type: ScriptType,
        account: u32,
    ) -> Result<Self, WalletError> {
        let path = account_path(network, script_type, account)?;
        let acct = master.derive_path(path.as_slice())?;
        let branches = [acct.derive_child(0)?, acct.derive_child(1)?];
        Ok(Self {
            master_fingerprint: master.fingerprint(),
            path,
            account: acct,
            branches,
        })
    }

    /// The account xpub (what a ground server puts in its descriptor).
    pub fn xpub(&self) -> Xpub {
        self.account.to_xpub()
    }

    /// The master key fingerprint.
    pub fn master_fingerprint(&self) -> Fingerprint {
        self.master_fingerprint
    }

    /// The account path.
    pub fn path(&self) -> &DerivationPath {
        &self.path
    }

    /// The private key at `branch/index` below the account.
    pub fn key_at(&self, branch: u32, index: u32) -> Result<crate::ecdsa::PrivateKey, WalletError> {
        let b = self
            .branches
            .get(branch as usize)
            .ok_or(WalletError::BadBranch)?;
        Ok(b.derive_child(index)?.private_key())
    }
}

/// One cosigner of a registered wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigner {
    /// Master fingerprint from the descriptor's origin.
    pub fingerprint: Fingerprint,
    /// Origin path.
    pub origin: DerivationPath,
    /// Account xpub.
    pub xpub: Xpub,
    /// `xpub/0` and `xpub/1`.
    branches: [Xpub; 2],
}

impl Cosigner {
    /// The compressed key at `branch/index`.
    pub fn key_at(&self, branch: u32, index: u32) -> Result<CompressedKey, WalletError> {
        let b = self
            .branches
            .get(branch as usize)
            .ok_or(WalletError::BadBranch)?;
        Ok(b.derive_child(index)?.public_key_bytes())
    }

    /// If `path` is this cosigner's origin followed by exactly two steps, those two steps.
    pub fn relative(&self, fingerprint: &Fingerprint, path: &[u32]) -> Option<(u32, u32)> {
        if *fingerprint != self.fingerprint {
            return None;
        }
        let origin = self.origin.as_slice();
        match path.strip_prefix(origin)? {
            [branch, index] => Some((*branch, *index)),
            _ => None,
        }
    }
}

/// A registered `wsh(sortedmulti)` / `sh(wsh(sortedmulti))` wallet that includes the node's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    /// Network.
    pub network: Network,
    /// Native or nested.
    pub script_type: ScriptType,
    /// Signatures required.
    pub threshold: usize,
    cosigners: heapless::Vec<Cosigner, MAX_MULTISIG_KEYS>,
    own: usize,
}

impl Wallet {
    /// An unregistered wallet: no cosigners (it matches no script). Only a step of in-place
    /// registration ([`Wallet::register_in`]); never used to sign.
    pub(crate) const fn empty(network: Network) -> Self {
        Self {
            network,
            script_type: ScriptType::Wsh,
            threshold: 0,
            cosigners: heapless::Vec::new(),
            own: 0,
        }
    }

    /// Parses and registers a descriptor, checking it contains `own`'s account key.
    pub fn register(
        descriptor: &str,
        network: Network,
        own: &AccountKey,
    ) -> Result<Self, WalletError> {
        let mut w = Self::empty(network);
        w.register_in(descriptor, network, own)?;
        Ok(w)
    }

    /// [`Wallet::register`] into this wallet, in place (the registry's parsed wallet is built in
    /// static memory). On an error the wallet is left unregistered or partly filled and must not
    /// be used.
    pub fn register_in(
        &mut self,
        descriptor: &str,
        network: Network,
        own: &AccountKey,
    ) -> Result<(), WalletError> {
        let d = Descriptor::parse(descriptor)?;
        let own_index = own_key_index(&d, network, own)?;
        self.network = network;
        self.script_type = d.script_type;
        self.threshold = d.threshold;
        self.own = 0;
        self.cosigners.clear();
        for k in &d.keys {
            let branches = [k.xpub.derive_child(0)?, k.xpub.derive_child(1)?];
            let c = Cosigner {
                fingerprint: k.fingerprint,
                origin: k.origin.clone(),
                xpub: k.xpub,
                branches,
            };
            // Capacity equals the descriptor's, so this cannot fail.
            if self.cosigners.push(c).is_err() {
                return Err(WalletError::Descriptor(DescriptorError::BadKeyCount));
            }
        }
        self.own = own_index;
        Ok(())
    }

    /// The cosigners, in descriptor order.
    pub fn cosigners(&self) -> &[Cosigner] {
        &self.cosigners
    }

    /// Index of the node's own key among the cosigners.
    pub fn own_index(&self) -> usize {
        self.own
    }

    /// The witness script at `branch/index`.
    pub fn witness_script(&self, branch: u32, index: u32) -> Result<ScriptBuf, WalletError> {
        let mut keys: heapless::Vec<CompressedKey, MAX_MULTISIG_KEYS> = heapless::Vec::new();
        for c in &self.cosigners {
            keys.push(c.key_at(branch, index)?)
                .map_err(|_| WalletError::BadBranch)?;
        }
        script::sorted_multisig(self.threshold, &keys)
            .map_err(|_| WalletError::Descriptor(DescriptorError::BadThreshold))
    }

    /// The scriptPubKey of a witness script under this wallet's script type.
    pub fn script_pubkey_of(&self, witness_script: &[u8]) -> heapless::Vec<u8, 34> {
        let mut out = heapless::Vec::new();
        // Both encodings fit in 34 bytes.
        let _ = match self.script_type {
            ScriptType::Wsh => out.extend_from_slice(&script::p2wsh(witness_script)),
            ScriptType::ShWsh => out.extend_from_slice(&script::p2sh_p2wsh(witness_script)),
        };
        out
    }

    /// The scriptPubKey at `branch/index`.
    pub fn script_pubkey(
        &self,
        branch: u32,
        index: u32,
    ) -> Result<heapless::Vec<u8, 34>, WalletError> {
        Ok(self.script_pubkey_of(&self.witness_script(branch, index)?))
    }
}

/// Every key of `d` is on `network`, and the node's key `own` is in it at its BIP-48 path for
/// the descriptor's script type: its index among the keys. What [`Wallet::register`] checks
/// before it derives anything; the registry checks a wallet's descriptor with it when the
/// wallet enters, and keeps only the text.
pub fn own_key_index(
    d: &Descriptor,
    network: Network,
    own: &AccountKey,
) -> Result<usize, WalletError> {
    if d.keys
        .iter()
        .any(|k| k.xpub.network != network.key_network())
    {
        return Err(WalletError::WrongNetwork);
    }
    let expected = own.xpub();
    let mut own_index = None;
    for (i, k) in d.keys.iter().enumerate() {
        if k.fingerprint == own.master_fingerprint() && k.origin == *own.path() {
            if k.xpub.public_key != expected.public_key || k.xpub.chain_code != expected.chain_code
            {
                return Err(WalletError::OwnKeyMismatch);
            }
            own_index = Some(i);
        }
    }
    // The account path encodes the script type: the same key under the other script type's
    // path does not count.
    let own = own_index.ok_or(WalletError::OwnKeyMissing)?;
    let path = d.keys.get(own).map_or(&[][..], |k| k.origin.as_slice());
    if own_path_script_type(path) != Some(d.script_type) {
        return Err(WalletError::OwnKeyMissing);
    }
    Ok(own)
}

fn own_path_script_type(path: &[u32]) -> Option<ScriptType> {
    match path.get(3) {
        Some(&x) if x == 2 | HARDENED => Some(ScriptType::Wsh),
        Some(&x) if x == 1 | HARDENED => Some(ScriptType::ShWsh),
        _ => None,
    }
}
