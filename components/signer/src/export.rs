//! Exported account xpubs, signed by the identity key, so a ground operator building a wallet
//! descriptor can check the key really is this satellite's.
//!
//! # Byte format (version 1, integers big-endian, [`EXPORT_LEN`] = 169 bytes)
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SNXP` |
//! | 4 | 1 | version `1` |
//! | 5 | 8 | node id (first 8 bytes of SHA3-256 of the identity public key) |
//! | 13 | 4 | server id (0 for an export by account, before the server is registered) |
//! | 17 | 1 | network: 0 mainnet, 1 testnet, 2 regtest |
//! | 18 | 1 | script type: 0 `wsh`, 1 `sh(wsh)` |
//! | 19 | 4 | BIP-48 account number |
//! | 23 | 4 | master key fingerprint |
//! | 27 | 78 | the account xpub, BIP-32 serialisation (its version bytes give xpub/tpub) |
//! | 105 | 64 | identity signature `r ‖ s`, P-256 ECDSA over SHA3-256 of bytes `0 .. 105` |

use crate::admin::node_id;
use crate::descriptor::ScriptType;
use crate::keys::NodeKeys;
use crate::wallet::{Network, WalletError};

/// Export length.
pub const EXPORT_LEN: usize = 169;
const SIGNED: usize = 105;

/// A signed account-xpub export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XpubExport([u8; EXPORT_LEN]);

impl XpubExport {
    /// Derives and signs the export for one account.
    pub fn make(
        keys: &NodeKeys,
        server_id: u32,
        network: Network,
        script_type: ScriptType,
        account: u32,
    ) -> Result<Self, WalletError> {
        let acct = keys.account(network, script_type, account)?;
        let mut b = [0u8; EXPORT_LEN];
        b[..4].copy_from_slice(b"SNXP");
        b[4] = 1;
        b[5..13].copy_from_slice(&node_id(&keys.identity().public_key()));
        b[13..17].copy_from_slice(&server_id.to_be_bytes());
        b[17] = match network {
            Network::Mainnet => 0,
            Network::Testnet => 1,
            Network::Regtest => 2,
        };
        b[18] = match script_type {
            ScriptType::Wsh => 0,
            ScriptType::ShWsh => 1,
        };
        b[19..23].copy_from_slice(&account.to_be_bytes());
        b[23..27].copy_from_slice(&acct.master_fingerprint());
        b[27..105].copy_from_slice(&acct.xpub().serialize());
        let sig = keys
            .identity()
            .sign(&b[..SIGNED])
            .map_err(|_| WalletError::Bip32(crate::bip32::Bip32Error::InvalidChild))?;
        b[SIGNED..].copy_from_slice(&sig);
        Ok(Self(b))
    }

    /// An export as received (from the node, over the link): check it with
    /// [`XpubExport::verify`] before trusting any field.
    pub fn from_bytes(bytes: [u8; EXPORT_LEN]) -> Self {
        Self(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; EXPORT_LEN] {
        &self.0
    }

    /// The 78-byte xpub serialisation.
    pub fn xpub_bytes(&self) -> &[u8] {
        &self.0[27..105]
    }

    /// Verifies the identity signature.
    pub fn verify(&self, identity_public: &[u8; 33]) -> bool {
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&self.0[SIGNED..]);
        crate::p256sig::verify(
            identity_public,
            &self.0[..SIGNED],
            &sig,
            crate::p256sig::Digest::Sha3_256,
        )
        .is_ok()
    }
}
