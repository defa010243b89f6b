//! BIP-32 hierarchical deterministic keys over k256: master key from seed, private and public
//! child derivation, fingerprints, derivation paths, and the 78-byte `xpub`/`xprv`/`tpub`/`tprv`
//! serialisation with every validity check of BIP-32's test vector 5.
//!
//! [`Xpriv`] zeroizes its chain code on drop and holds its scalar in a `k256::SecretKey`, which
//! zeroizes itself. A derivation step whose result is invalid (probability below 2^-127) returns
//! [`Bip32Error::InvalidChild`] instead of silently skipping to the next index. Paths live in
//! fixed buffers of at most [`MAX_PATH`] steps. Nothing allocates.

use crate::base58::{self, Base58Error, Encoded};
use crate::ecdsa::{PrivateKey, compress};
use crate::hash::{hash160, hmac_sha512};
use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::group::Group;
use k256::{NonZeroScalar, ProjectivePoint, PublicKey, Scalar, SecretKey};
use zeroize::Zeroize;

/// The hardened-derivation flag of a child number.
pub const HARDENED: u32 = 0x8000_0000;
/// Longest derivation path handled.
pub const MAX_PATH: usize = 16;

/// A key fingerprint: the first four bytes of HASH160 of the compressed public key.
pub type Fingerprint = [u8; 4];

/// Why a BIP-32 operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Bip32Error {
    /// Seed length outside 16..=64 bytes.
    #[error("seed must be 16 to 64 bytes")]
    InvalidSeedLength,
    /// The derived key is invalid (IL >= n, zero key, or point at infinity).
    #[error("derived key is invalid")]
    InvalidChild,
    /// Hardened derivation was asked of a public key.
    #[error("cannot derive a hardened child from a public key")]
    HardenedFromPublic,
    /// The key is already at depth 255.
    #[error("maximum depth reached")]
    DepthOverflow,
    /// Base58Check decoding failed.
    #[error("base58: {0}")]
    Base58(#[from] Base58Error),
    /// The payload is not 78 bytes.
    #[error("extended key must be 78 bytes")]
    WrongLength,
    /// The version bytes are not a known xpub/xprv/tpub/tprv version.
    #[error("unknown extended key version")]
    UnknownVersion,
    /// The key data is not a valid public key for a public version.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// The key data is not `0x00 || scalar` with scalar in 1..n-1 for a private version.
    #[error("invalid private key")]
    InvalidPrivateKey,
    /// Depth 0 with a non-zero parent fingerprint.
    #[error("zero depth with non-zero parent fingerprint")]
    ZeroDepthWithParent,
    /// Depth 0 with a non-zero child number.
    #[error("zero depth with non-zero child number")]
    ZeroDepthWithIndex,
    /// A derivation path string was malformed or too long.
    #[error("invalid derivation path")]
    InvalidPath,
}

/// The network an extended key's version bytes say it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyNetwork {
    /// `xpub`/`xprv`.
    Main,
    /// `tpub`/`tprv` (testnet, signet and regtest).
    Test,
}

const XPUB: u32 = 0x0488_B21E;
const XPRV: u32 = 0x0488_ADE4;
const TPUB: u32 = 0x0435_87CF;
const TPRV: u32 = 0x0435_8394;

/// A derivation path: child numbers, hardened ones with [`HARDENED`] set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DerivationPath(heapless::Vec<u32, MAX_PATH>);

impl DerivationPath {
    /// The empty path (`m`).
    pub fn master() -> Self {
        Self(heapless::Vec::new())
    }

    /// A path from child numbers.
    pub fn from_slice(steps: &[u32]) -> Result<Self, Bip32Error> {
        let mut v = heapless::Vec::new();
        v.extend_from_slice(steps)
            .map_err(|_| Bip32Error::InvalidPath)?;
        Ok(Self(v))
    }

    /// Parses `m/48'/1'/0'/2'` (also `48h`, and without the leading `m/`).
    pub fn parse(text: &str) -> Result<Self, Bip32Error> {
        let mut path = Self::master();
        if text == "m" {
            return Ok(path);
        }
        let rest = text.strip_prefix("m/").unwrap_or(text);
        for part in rest.split('/') {
            path.push(parse_step(part)?)?;
        }
        Ok(path)
    }

    /// Appends one child number.
    pub fn push(&mut self, child: u32) -> Result<(), Bip32Error> {
        self.0.push(child).map_err(|_| Bip32Error::InvalidPath)
    }

    /// The child numbers.
    pub fn as_slice(&self) -> &[u32] {
        &self.0
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for `m`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Parses one path step: decimal index below 2^31, optionally followed by `'` or `h`.
pub fn parse_step(part: &str) -> Result<u32, Bip32Error> {
    let (num, hardened) = match part.strip_suffix('\'').or_else(|| part.strip_suffix('h')) {
        Some(n) => (n, true),
        None => (part, false),
    };
    if num.is_empty() || num.len() > 10 || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Bip32Error::InvalidPath);
    }
    let n: u32 = num.parse().map_err(|_| Bip32Error::InvalidPath)?;
    if n >= HARDENED {
        return Err(Bip32Error::InvalidPath);
    }
    Ok(if hardened { n | HARDENED } else { n })
}

/// An extended public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Xpub {
    /// Network from the version bytes.
    pub network: KeyNetwork,
    /// Depth in the tree (0 for master).
    pub depth: u8,
    /// Fingerprint of the parent key.
    pub parent_fingerprint: Fingerprint,
    /// This key's child number.
    pub child_number: u32,
    /// The chain code.
    pub chain_code: [u8; 32],
    /// The public key.
    pub public_key: PublicKey,
}

/// An extended private key; zeroized on drop.
#[derive(Clone)]
pub struct Xpriv {
    /// Network from the version bytes.
    pub network: KeyNetwork,
    /// Depth in the tree (0 for master).
    pub depth: u8,
    /// Fingerprint of the parent key.
    pub parent_fingerprint: Fingerprint,
    /// This key's child number.
    pub child_number: u32,
    chain_code: [u8; 32],
    secret: SecretKey,
}

impl Drop for Xpriv {
    fn drop(&mut self) {
        self.chain_code.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for Xpriv {}

impl core::fmt::Debug for Xpriv {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Xpriv")
            .field("depth", &self.depth)
            .field("child_number", &self.child_number)
            .finish()
    }
}

fn split(i: &mut [u8; 64]) -> ([u8; 32], [u8; 32]) {
    let mut il = [0u8; 32];
    let mut ir = [0u8; 32];
    il.copy_from_slice(&i[..32]);
    ir.copy_from_slice(&i[32..]);
    i.zeroize();
    (il, ir)
}

fn scalar_from(bytes: &[u8; 32]) -> Option<Scalar> {
    Option::from(Scalar::from_repr((*bytes).into()))
}

impl Xpriv {
    /// The master key of a seed (`HMAC-SHA512("Bitcoin seed", seed)`).
    pub fn new_master(seed: &[u8], network: KeyNetwork) -> Result<Self, Bip32Error> {
        if !(16..=64).contains(&seed.len()) {
            return Err(Bip32Error::InvalidSeedLength);
        }
        let mut i = hmac_sha512(b"Bitcoin seed", &[seed]);
        let (mut il, ir) = split(&mut i);
        let secret = SecretKey::from_slice(&il).map_err(|_| Bip32Error::InvalidChild);
        il.zeroize();
        Ok(Self {
            network,
            depth: 0,
            parent_fingerprint: [0; 4],
            child_number: 0,
            chain_code: ir,
            secret: secret?,
        })
    }

    /// The chain code.
    pub fn chain_code(&self) -> &[u8; 32] {
        &self.chain_code
    }

    /// The private key at this node.
    pub fn private_key(&self) -> PrivateKey {
        PrivateKey::from_secret(self.secret.clone())
    }

    /// The compressed public key at this node.
    pub fn public_key_bytes(&self) -> [u8; 33] {
        compress(&self.secret.public_key())
    }

    /// This key's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint_of(&self.public_key_bytes())
    }

    /// The matching extended public key.
    pub fn to_xpub(&self) -> Xpub {
        Xpub {
            network: self.network,
            depth: self.depth,
            parent_fingerprint: self.parent_fingerprint,
            child_number: self.child_number,
            chain_code: self.chain_code,
            public_key: self.secret.public_key(),
        }
    }

    /// Private child derivation (CKDpriv).
    pub fn derive_child(&self, child: u32) -> Result<Self, Bip32Error> {
        let depth = self.depth.checked_add(1).ok_or(Bip32Error::DepthOverflow)?;
        let mut i = if child & HARDENED != 0 {
            let mut data = [0u8; 37];
            data[1..33].copy_from_slice(&self.secret.to_bytes());
            data[33..].copy_from_slice(&child.to_be_bytes());
            let out = hmac_sha512(&self.chain_code, &[&data]);
            data.zeroize();
            out
        } else {
            hmac_sha512(
                &self.chain_code,
                &[&self.public_key_bytes(), &child.to_be_bytes()],
            )
        };
        let (mut il, ir) = split(&mut i);
        let tweak = scalar_from(&il);
        il.zeroize();
        let tweak = tweak.ok_or(Bip32Error::InvalidChild)?;
        let sum = tweak + self.secret.to_nonzero_scalar().as_ref();
        let nz = Option::<NonZeroScalar>::from(NonZeroScalar::new(sum))
            .ok_or(Bip32Error::InvalidChild)?;
        Ok(Self {
            network: self.network,
            depth,
            parent_fingerprint: self.fingerprint(),
            child_number: child,
            chain_code: ir,
            secret: SecretKey::from(nz),
        })
    }

    /// Derives along a path.
    pub fn derive_path(&self, path: &[u32]) -> Result<Self, Bip32Error> {
        let mut key = self.clone();
        for &c in path {
            key = key.derive_child(c)?;
        }
        Ok(key)
    }

    /// The 78-byte serialisation (zeroized when dropped).
    fn serialize(&self) -> Serialized {
        let mut out = Serialized([0u8; 78]);
        let version = match self.network {
            KeyNetwork::Main => XPRV,
            KeyNetwork::Test => TPRV,
        };
        write_header(
            &mut out.0,
            version,
            self.depth,
            self.parent_fingerprint,
            self.child_number,
            &self.chain_code,
        );
        out.0[46..].copy_from_slice(&self.secret.to_bytes());
        out
    }

    /// Base58Check text (`xprv...`/`tprv...`), zeroized on drop.
    pub fn encode(&self) -> Result<Encoded, Bip32Error> {
        Ok(base58::encode_check(&self.serialize().0)?)
    }

    /// Parses `xprv...`/`tprv...` text.
    pub fn decode(text: &str) -> Result<Self, Bip32Error> {
        let decoded = base58::decode_check(text)?;
        let raw = parse_raw(decoded.as_bytes())?;
        let network = match raw.version {
            XPRV => KeyNetwork::Main,
            TPRV => KeyNetwork::Test,
            XPUB | TPUB => return Err(Bip32Error::InvalidPrivateKey),
            _ => return Err(Bip32Error::UnknownVersion),
        };
        let key_data = raw.key_data;
        if key_data[0] != 0 {
            return Err(Bip32Error::InvalidPrivateKey);
        }
        let secret =
            SecretKey::from_slice(&key_data[1..]).map_err(|_| Bip32Error::InvalidPrivateKey)?;
        Ok(Self {
            network,
            depth: raw.depth,
            parent_fingerprint: raw.parent_fingerprint,
            child_number: raw.child_number,
            chain_code: raw.chain_code,
            secret,
        })
    }
}

struct Serialized([u8; 78]);
impl Drop for Serialized {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

fn write_header(
    out: &mut [u8; 78],
    version: u32,
    depth: u8,
    parent: Fingerprint,
    child: u32,
    chain: &[u8; 32],
) {
    out[..4].copy_from_slice(&version.to_be_bytes());
    out[4] = depth;
    out[5..9].copy_from_slice(&parent);
    out[9..13].copy_from_slice(&child.to_be_bytes());
    out[13..45].copy_from_slice(chain);
}

struct Raw {
    version: u32,
    depth: u8,
    parent_fingerprint: Fingerprint,
    child_number: u32,
    chain_code: [u8; 32],
    key_data: [u8; 33],
}

impl Drop for Raw {
    fn drop(&mut self) {
        self.key_data.zeroize();
        self.chain_code.zeroize();
    }
}

fn parse_raw(b: &[u8]) -> Result<Raw, Bip32Error> {
    if b.len() != 78 {
        return Err(Bip32Error::WrongLength);
    }
    let mut raw = Raw {
        version: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        depth: b[4],
        parent_fingerprint: [b[5], b[6], b[7], b[8]],
        child_number: u32::from_be_bytes([b[9], b[10], b[11], b[12]]),
        chain_code: [0; 32],
        key_data: [0; 33],
    };
    raw.chain_code.copy_from_slice(&b[13..45]);
    raw.key_data.copy_from_slice(&b[45..78]);
    if !matches!(raw.version, XPUB | XPRV | TPUB | TPRV) {
        return Err(Bip32Error::UnknownVersion);
    }
    if raw.depth == 0 && raw.parent_fingerprint != [0; 4] {
        return Err(Bip32Error::ZeroDepthWithParent);
    }
    if raw.depth == 0 && raw.child_number != 0 {
        return Err(Bip32Error::ZeroDepthWithIndex);
    }
    Ok(raw)
}

/// Fingerprint of a compressed public key.
pub fn fingerprint_of(pubkey: &[u8; 33]) -> Fingerprint {
    let h = hash160(pubkey);
    [h[0], h[1], h[2], h[3]]
}

impl Xpub {
    /// The compressed public key.
    pub fn public_key_bytes(&self) -> [u8; 33] {
        compress(&self.public_key)
    }

    /// This key's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint_of(&self.public_key_bytes())
    }

    /// Public child derivation (CKDpub); hardened children are refused.
    pub fn derive_child(&self, child: u32) -> Result<Self, Bip32Error> {
        if child & HARDENED != 0 {
            return Err(Bip32Error::HardenedFromPublic);
        }
        let depth = self.depth.checked_add(1).ok_or(Bip32Error::DepthOverflow)?;
        let parent = self.public_key_bytes();
        let mut i = hmac_sha512(&self.chain_code, &[&parent, &child.to_be_bytes()]);
        let (il, ir) = split(&mut i);
        let tweak = scalar_from(&il).ok_or(Bip32Error::InvalidChild)?;
        let point = ProjectivePoint::GENERATOR * tweak + self.public_key.to_projective();
        if bool::from(point.is_identity()) {
            return Err(Bip32Error::InvalidChild);
        }
        let public_key =
            PublicKey::from_affine(point.to_affine()).map_err(|_| Bip32Error::InvalidChild)?;
        Ok(Self {
            network: self.network,
            depth,
            parent_fingerprint: fingerprint_of(&parent),
            child_number: child,
            chain_code: ir,
            public_key,
        })
    }

    /// Derives along a path of non-hardened steps.
    pub fn derive_path(&self, path: &[u32]) -> Result<Self, Bip32Error> {
        let mut key = *self;
        for &c in path {
            key = key.derive_child(c)?;
        }
        Ok(key)
    }

    /// The 78-byte serialisation.
    pub fn serialize(&self) -> [u8; 78] {
        let mut out = [0u8; 78];
        let version = match self.network {
            KeyNetwork::Main => XPUB,
            KeyNetwork::Test => TPUB,
        };
        write_header(
            &mut out,
            version,
            self.depth,
            self.parent_fingerprint,
            self.child_number,
            &self.chain_code,
        );
        out[45..].copy_from_slice(&self.public_key_bytes());
        out
    }

    /// Base58Check text (`xpub...`/`tpub...`).
    pub fn encode(&self) -> Result<Encoded, Bip32Error> {
        Ok(base58::encode_check(&self.serialize())?)
    }

    /// Parses `xpub...`/`tpub...` text.
    pub fn decode(text: &str) -> Result<Self, Bip32Error> {
        let decoded = base58::decode_check(text)?;
        let raw = parse_raw(decoded.as_bytes())?;
        let network = match raw.version {
            XPUB => KeyNetwork::Main,
            TPUB => KeyNetwork::Test,
            XPRV | TPRV => return Err(Bip32Error::InvalidPublicKey),
            _ => return Err(Bip32Error::UnknownVersion),
        };
        if raw.key_data[0] != 2 && raw.key_data[0] != 3 {
            return Err(Bip32Error::InvalidPublicKey);
        }
        let public_key =
            PublicKey::from_sec1_bytes(&raw.key_data).map_err(|_| Bip32Error::InvalidPublicKey)?;
        Ok(Self {
            network,
            depth: raw.depth,
            parent_fingerprint: raw.parent_fingerprint,
            child_number: raw.child_number,
            chain_code: raw.chain_code,
            public_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = DerivationPath::parse("m/48'/1h/0'/2'").expect("path");
        assert_eq!(
            p.as_slice(),
            &[48 | HARDENED, 1 | HARDENED, HARDENED, 2 | HARDENED]
        );
        assert_eq!(DerivationPath::parse("m").expect("m").len(), 0);
        for bad in [
            "m/",
            "m/x",
            "m/2147483648",
            "m/1''",
            "m/-1",
            "m//1",
            "m/99999999999",
        ] {
            assert_eq!(
                DerivationPath::parse(bad),
                Err(Bip32Error::InvalidPath),
                "{bad}"
            );
        }
        let long = "m/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1";
        assert_eq!(DerivationPath::parse(long), Err(Bip32Error::InvalidPath));
    }

    #[test]
    fn public_derivation_matches_private() {
        let master = Xpriv::new_master(&[1u8; 32], KeyNetwork::Test).expect("master");
        let acct = master
            .derive_path(&[48 | HARDENED, 1 | HARDENED, HARDENED, 2 | HARDENED])
            .expect("acct");
        let a = acct.derive_path(&[1, 7]).expect("priv").public_key_bytes();
        let b = acct
            .to_xpub()
            .derive_path(&[1, 7])
            .expect("pub")
            .public_key_bytes();
        assert_eq!(a, b);
        assert_eq!(
            acct.to_xpub().derive_child(HARDENED),
            Err(Bip32Error::HardenedFromPublic)
        );
        assert_eq!(
            Xpriv::new_master(&[1u8; 15], KeyNetwork::Test).err(),
            Some(Bip32Error::InvalidSeedLength)
        );
    }
}
