//! The node's secrets: the BIP-32 seed (created once from the board RNG, sealed on the signer's
//! own flash), the BIP-48 account keys derived from it per ground server, and the P-256
//! satellite identity key that signs everything the node attests.
//!
//! # Sealed seed record (payload of the `SKEY` record, written once, mirrored)
//!
//! All integers big-endian. `K_enc = HMAC-SHA256(seal, "spacenode/seed/enc/v1")`,
//! `K_mac = HMAC-SHA256(seal, "spacenode/seed/mac/v1")`, where `seal` is the board's 32-byte
//! [`SealKey`].
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `SNSD` |
//! | 4 | 1 | version `1` |
//! | 5 | 16 | nonce (board RNG) |
//! | 21 | 32 | seed XOR `HMAC-SHA256(K_enc, nonce)` |
//! | 53 | 33 | identity public key (compressed SEC1 P-256) |
//! | 86 | 4 | BIP-32 master fingerprint |
//! | 90 | 32 | `HMAC-SHA256(K_mac, bytes 0..90)` |
//!
//! Loading checks the MAC (in constant time), then re-derives the identity key and fingerprint
//! from the decrypted seed and compares them with the stored ones.
//!
//! # What protects the seed, honestly
//!
//! - **Integrity** comes from the MAC under the board's seal key, which the seed cannot provide
//!   for itself (a MAC keyed by the seed proves nothing to someone who can rewrite both).
//!   On the **flight** board the seal key must come from storage only the signer partition can
//!   read (OTP/eFuse, a PUF, or a secure element): then a flash writer without it cannot forge a
//!   seed record, and corruption of any kind is detected. On the **sim** board the seal key is
//!   whatever the board hands over (a constant or a file beside the flash image): it then detects
//!   every corruption (power cut, bit flip, stray write) but not a deliberate forgery by someone
//!   who can read the host's files. The same holds for the encryption: real confidentiality on
//!   flight, obfuscation on the sim board.
//! - **Corruption is never papered over.** [`load_or_create`] creates a seed only when the
//!   record store is blank, or shows a cut *first* write (one copy blank, the other torn: the
//!   seed was never completely stored, so nothing derived from it ever left the node, since keys
//!   are created before the signer answers anything). A record that is lost, foreign, fails its
//!   MAC or its consistency check is [`KeyError::Corrupt`]: the signer refuses to run rather
//!   than silently making a new seed.
//!
//! # Derivations
//!
//! - Account keys: `m/48'/coin'/account'/script'` (BIP-48, see [`crate::wallet`]); coin type 0
//!   on mainnet, 1 on testnet and regtest.
//! - Identity key: the first `k` of `HMAC-SHA512(key = "spacenode/identity/p256/v1", seed ‖ ctr)`
//!   (first 32 bytes, `ctr` a byte from 0) that is a valid P-256 scalar. A separate domain from
//!   BIP-32 ("Bitcoin seed"), so no Bitcoin key equals or relates to the identity key.
//!
//! Every secret type here zeroizes on drop and has a `Debug` that prints no secret. No function
//! returns seed bytes or a private scalar to the caller.

use crate::bip32::{Fingerprint, KeyNetwork, Xpriv};
use crate::descriptor::ScriptType;
use crate::p256sig::{self, Digest};
use crate::persist::StorageError;
use crate::wallet::{AccountKey, Network, WalletError};
use hal::flash::NorFlash;
use hal::rng::TryCryptoRng;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use store::{RecordStatus, RecordStore};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Seed length in bytes (256 bits of board entropy).
pub const SEED_LEN: usize = 32;
/// Length of the sealed seed record.
pub const RECORD_LEN: usize = 122;
const MAGIC: [u8; 4] = *b"SNSD";
const VERSION: u8 = 1;

/// The board's sealing key: authenticates (and encrypts) the seed record. See the module docs
/// for where it must come from.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SealKey([u8; 32]);

impl SealKey {
    /// Wraps 32 key bytes (the caller should zeroize its copy).
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl core::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

/// Why the node's keys could not be loaded or created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Flash trouble.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The board RNG failed: no seed is made from weaker bytes.
    #[error("the board RNG failed")]
    Rng,
    /// A seed record exists (or existed) but is damaged, foreign, or fails its MAC or its
    /// consistency check. The signer refuses to run; it never replaces the seed by itself.
    #[error("the sealed seed is corrupt or was sealed with another key")]
    Corrupt,
    /// Key derivation failed (practically impossible: probability ~2^-127).
    #[error("key derivation failed")]
    Derivation,
}

fn hmac256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0u8; 32],
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The P-256 satellite identity key. Signs attestations (receipts, exported xpubs) with ECDSA
/// over SHA3-256; the scalar never leaves this type.
#[derive(Clone)]
pub struct IdentityKey(p256::SecretKey);

// p256::SecretKey zeroizes its scalar on drop.
impl ZeroizeOnDrop for IdentityKey {}

impl core::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "IdentityKey(")?;
        crate::hexfmt::write(f, &self.public_key())?;
        write!(f, ")")
    }
}

impl IdentityKey {
    fn derive(seed: &[u8; SEED_LEN]) -> Result<Self, KeyError> {
        for ctr in 0u8..=255 {
            let mut h = crate::hash::hmac_sha512(b"spacenode/identity/p256/v1", &[seed, &[ctr]]);
            let key = p256::SecretKey::from_slice(&h[..32]);
            h.zeroize();
            if let Ok(k) = key {
                return Ok(Self(k));
            }
        }
        Err(KeyError::Derivation)
    }

    /// Compressed SEC1 public key.
    pub fn public_key(&self) -> [u8; 33] {
        p256sig::compress(&self.0.public_key())
    }

    /// Signs `msg` (P-256 ECDSA over SHA3-256, RFC 6979), returning `r ‖ s`.
    pub fn sign(&self, msg: &[u8]) -> Result<[u8; 64], p256sig::P256Error> {
        p256sig::sign(&self.0, msg, Digest::Sha3_256)
    }
}

/// The node's key material, as loaded at boot. Holds the two BIP-32 masters (mainnet and test
/// version bytes) and the identity key; the seed itself is dropped (zeroized) after derivation.
pub struct NodeKeys {
    master_main: Xpriv,
    master_test: Xpriv,
    identity: IdentityKey,
}

// Every field zeroizes on drop.
impl ZeroizeOnDrop for NodeKeys {}

impl core::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NodeKeys")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl NodeKeys {
    /// Derives everything from a seed (also used by tests with fixed seeds).
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Result<Self, KeyError> {
        Ok(Self {
            master_main: Xpriv::new_master(seed, KeyNetwork::Main)
                .map_err(|_| KeyError::Derivation)?,
            master_test: Xpriv::new_master(seed, KeyNetwork::Test)
                .map_err(|_| KeyError::Derivation)?,
            identity: IdentityKey::derive(seed)?,
        })
    }

    /// The BIP-32 master key fingerprint.
    pub fn master_fingerprint(&self) -> Fingerprint {
        self.master_main.fingerprint()
    }

    /// The identity key.
    pub fn identity(&self) -> &IdentityKey {
        &self.identity
    }

    /// The account key on the BIP-48 path for `network` and `script_type`.
    pub fn account(
        &self,
        network: Network,
        script_type: ScriptType,
        account: u32,
    ) -> Result<AccountKey, WalletError> {
        let master = match network.key_network() {
            KeyNetwork::Main => &self.master_main,
            KeyNetwork::Test => &self.master_test,
        };
        AccountKey::derive(master, network, script_type, account)
    }
}

/// What [`load_or_create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// A new seed was made from the board RNG and sealed (first boot).
    Created,
    /// The sealed seed was loaded and verified.
    Loaded,
}

impl core::fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            KeyOrigin::Created => "created (new seed, sealed)",
            KeyOrigin::Loaded => "loaded",
        })
    }
}

fn seal_keys(seal: &SealKey) -> ([u8; 32], [u8; 32]) {
    (
        hmac256(&seal.0, &[b"spacenode/seed/enc/v1"]),
        hmac256(&seal.0, &[b"spacenode/seed/mac/v1"]),
    )
}

fn seal_record(
    seed: &[u8; SEED_LEN],
    nonce: &[u8; 16],
    keys: &NodeKeys,
    seal: &SealKey,
) -> [u8; RECORD_LEN] {
    let (mut k_enc, mut k_mac) = seal_keys(seal);
    let mut pad = hmac256(&k_enc, &[nonce]);
    let mut r = [0u8; RECORD_LEN];
    r[..4].copy_from_slice(&MAGIC);
    r[4] = VERSION;
    r[5..21].copy_from_slice(nonce);
    for (i, b) in r[21..53].iter_mut().enumerate() {
        *b = seed[i] ^ pad[i];
    }
    r[53..86].copy_from_slice(&keys.identity.public_key());
    r[86..90].copy_from_slice(&keys.master_fingerprint());
    let tag = hmac256(&k_mac, &[&r[..90]]);
    r[90..].copy_from_slice(&tag);
    pad.zeroize();
    k_enc.zeroize();
    k_mac.zeroize();
    r
}

fn unseal_record(r: &[u8], seal: &SealKey) -> Result<NodeKeys, KeyError> {
    if r.len() != RECORD_LEN || r[..4] != MAGIC || r[4] != VERSION {
        return Err(KeyError::Corrupt);
    }
    let (mut k_enc, mut k_mac) = seal_keys(seal);
    let tag = hmac256(&k_mac, &[&r[..90]]);
    k_mac.zeroize();
    if !ct_eq(&tag, &r[90..]) {
        k_enc.zeroize();
        return Err(KeyError::Corrupt);
    }
    let mut pad = hmac256(&k_enc, &[&r[5..21]]);
    k_enc.zeroize();
    let mut seed = [0u8; SEED_LEN];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = r[21 + i] ^ pad[i];
    }
    pad.zeroize();
    let keys = NodeKeys::from_seed(&seed);
    seed.zeroize();
    let keys = keys?;
    if keys.identity.public_key()[..] != r[53..86] || keys.master_fingerprint()[..] != r[86..90] {
        return Err(KeyError::Corrupt);
    }
    Ok(keys)
}

/// Loads the sealed seed, or on first boot creates one from `rng` and seals it (mirrored write)
/// before returning. See the module docs for when creation is allowed.
pub fn load_or_create<F: NorFlash, R: TryCryptoRng>(
    flash: &mut F,
    store: &mut RecordStore,
    seal: &SealKey,
    rng: &mut R,
) -> Result<(NodeKeys, KeyOrigin), KeyError> {
    match store.status() {
        RecordStatus::Present { .. } => {
            let mut buf = [0u8; RECORD_LEN];
            let n = store
                .read(flash, &mut buf)
                .map_err(|e| match StorageError::from(e) {
                    StorageError::TooLarge => KeyError::Corrupt,
                    other => KeyError::Storage(other),
                })?
                .ok_or(KeyError::Corrupt)?;
            let keys = unseal_record(buf.get(..n).ok_or(KeyError::Corrupt)?, seal);
            buf.zeroize();
            Ok((keys?, KeyOrigin::Loaded))
        }
        RecordStatus::Lost => Err(KeyError::Corrupt),
        RecordStatus::Blank | RecordStatus::Interrupted => {
            let mut seed = [0u8; SEED_LEN];
            let mut nonce = [0u8; 16];
            if rng.try_fill_bytes(&mut seed).is_err() || rng.try_fill_bytes(&mut nonce).is_err() {
                seed.zeroize();
                return Err(KeyError::Rng);
            }
            let keys = NodeKeys::from_seed(&seed);
            let keys = match keys {
                Ok(k) => k,
                Err(e) => {
                    seed.zeroize();
                    return Err(e);
                }
            };
            let mut record = seal_record(&seed, &nonce, &keys, seal);
            seed.zeroize();
            let written = store.write_mirrored(flash, &record);
            record.zeroize();
            written.map_err(StorageError::from)?;
            Ok((keys, KeyOrigin::Created))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_every_byte_flip_is_refused() {
        let seed = [9u8; SEED_LEN];
        let keys = NodeKeys::from_seed(&seed).expect("keys");
        let seal = SealKey::new([1; 32]);
        let r = seal_record(&seed, &[3; 16], &keys, &seal);
        let back = unseal_record(&r, &seal).expect("unseal");
        assert_eq!(back.identity().public_key(), keys.identity().public_key());
        assert_eq!(back.master_fingerprint(), keys.master_fingerprint());
        for i in 0..RECORD_LEN {
            let mut bad = r;
            bad[i] ^= 0x10;
            assert_eq!(
                unseal_record(&bad, &seal).err(),
                Some(KeyError::Corrupt),
                "byte {i}"
            );
        }
        assert_eq!(
            unseal_record(&r, &SealKey::new([2; 32])).err(),
            Some(KeyError::Corrupt)
        );
        // The seed is not stored in the clear.
        assert!(!r.windows(SEED_LEN).any(|w| w == seed));
    }

    #[test]
    fn identity_is_separate_from_bitcoin_keys() {
        let keys = NodeKeys::from_seed(&[5u8; SEED_LEN]).expect("keys");
        let other = NodeKeys::from_seed(&[6u8; SEED_LEN]).expect("keys");
        assert_ne!(keys.identity().public_key(), other.identity().public_key());
        let sig = keys.identity().sign(b"attest").expect("sign");
        p256sig::verify(
            &keys.identity().public_key(),
            b"attest",
            &sig,
            Digest::Sha3_256,
        )
        .expect("verifies");
        let acct = keys
            .account(Network::Mainnet, ScriptType::Wsh, 0)
            .expect("account");
        assert_ne!(
            acct.xpub().public_key_bytes()[1..],
            keys.identity().public_key()[1..]
        );
    }
}
