//! The ground side (feature `std`): key generation and key files, root and manifest bodies,
//! signature collection one key holder at a time, and bundle assembly. Every output is parsed
//! back with the node-side parser before it is returned, so the builder never emits a bundle the
//! node would refuse as malformed. Secret keys are zeroized when dropped.

use crate::error::FormatError;
use crate::header::{FORMAT, MAGIC, PREFIX_LEN, Signed};
use crate::key::{Algorithm, KeyId, key_id, signed_message};
use crate::limits::{
    MAX_CHUNK_LOG2, MAX_COUNTER_STEP, MAX_HEADER_LEN, MAX_ID_LEN, MAX_MAJOR_STEP, MAX_ROOT_CHAIN,
    MIN_CHUNK_LOG2,
};
use crate::manifest::{MANIFEST_TAG, Manifest, Version, chunk_count_for};
use crate::root::{ROOT_TAG, Root};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The first 8 bytes of a secret key file.
pub const SECRET_MAGIC: &[u8; 8] = b"SNSECKEY";
/// The first 8 bytes of a public key file.
pub const PUBLIC_MAGIC: &[u8; 8] = b"SNPUBKEY";

/// Why the builder refused (each variant is documented by its message).
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error("not a {what} file: {why}")]
    KeyFile {
        what: &'static str,
        why: &'static str,
    },
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("the image is empty: give the image file to release")]
    EmptyImage,
    #[error(
        "the image is {len} bytes; with 2^{chunk_log2}-byte chunks the maximum is {max}: use larger chunks"
    )]
    ImageTooLarge { len: u64, max: u64, chunk_log2: u8 },
    #[error("chunk size 2^{0} is outside 2^{MIN_CHUNK_LOG2}..2^{MAX_CHUNK_LOG2} bytes")]
    ChunkSize(u8),
    #[error("a board or hardware id of {0} bytes: the maximum is {MAX_ID_LEN}")]
    IdTooLong(usize),
    #[error("{0} root versions: a bundle carries at most {MAX_ROOT_CHAIN} (from version 1)")]
    RootChain(usize),
    #[error(
        "the header would be {0} bytes, above the {MAX_HEADER_LEN}-byte maximum: use larger chunks or fewer signatures"
    )]
    HeaderTooLarge(usize),
    #[error("version {found} is not newer than the node's {current}: give a higher version")]
    NotNewer { found: Version, current: Version },
    #[error("security counter {found} is below the node's {current}: a release never lowers it")]
    CounterBelow { found: u32, current: u32 },
    #[error(
        "version {found} jumps more than {MAX_MAJOR_STEP} major versions above the node's {current}; nodes refuse it"
    )]
    VersionJump { found: Version, current: Version },
    #[error(
        "security counter {found} jumps more than {MAX_COUNTER_STEP} above the node's {current}; nodes refuse it"
    )]
    CounterJump { found: u32, current: u32 },
    #[error("the manifest does not describe this image ({0}): give the image it was made from")]
    ImageMismatch(crate::error::ImageError),
}

/// A public key owned by the ground tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedKey {
    /// Its algorithm.
    pub alg: Algorithm,
    /// Its bytes (Ed25519: 32; P-256: 33, compressed SEC1).
    pub bytes: Vec<u8>,
}

impl OwnedKey {
    /// The key record: `alg || len (u16 LE) || bytes`.
    pub fn record(&self) -> Vec<u8> {
        let mut out = vec![self.alg as u8];
        out.extend_from_slice(&(self.bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.bytes);
        out
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        key_id(self.alg, &self.bytes)
    }

    /// The public key file: [`PUBLIC_MAGIC`] then the key record.
    pub fn to_file(&self) -> Vec<u8> {
        let mut out = PUBLIC_MAGIC.to_vec();
        out.extend(self.record());
        out
    }

    /// Reads a public key file (the key must be a valid curve point).
    pub fn from_file(bytes: &[u8]) -> Result<Self, BuildError> {
        let rest = bytes
            .strip_prefix(PUBLIC_MAGIC)
            .ok_or(BuildError::KeyFile {
                what: "public key",
                why: "it does not start with SNPUBKEY",
            })?;
        let mut r = crate::wire::Reader::new(rest);
        let k = crate::key::PublicKey::read(&mut r)?;
        r.finish("public key file")?;
        Ok(OwnedKey {
            alg: k.alg,
            bytes: k.bytes.to_vec(),
        })
    }
}

/// A secret signing key; zeroized on drop (both dalek and p256 keys zeroize themselves).
pub enum SecretKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
    /// ECDSA P-256.
    P256(p256::ecdsa::SigningKey),
}

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate(alg: Algorithm) -> Result<Self, BuildError> {
        loop {
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(&mut seed[..]).map_err(|e| BuildError::Random(e.to_string()))?;
            if let Some(k) = Self::from_seed(alg, &seed) {
                return Ok(k);
            }
        }
    }

    /// The key of algorithm `alg` with secret bytes `seed` (P-256: `None` if not a valid scalar).
    pub fn from_seed(alg: Algorithm, seed: &[u8; 32]) -> Option<Self> {
        match alg {
            Algorithm::Ed25519 => Some(SecretKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(
                seed,
            ))),
            Algorithm::P256 => p256::ecdsa::SigningKey::from_bytes(seed.into())
                .ok()
                .map(SecretKey::P256),
        }
    }

    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        match self {
            SecretKey::Ed25519(_) => Algorithm::Ed25519,
            SecretKey::P256(_) => Algorithm::P256,
        }
    }

    /// The public key.
    pub fn public(&self) -> OwnedKey {
        let bytes = match self {
            SecretKey::Ed25519(k) => k.verifying_key().to_bytes().to_vec(),
            SecretKey::P256(k) => k.verifying_key().to_encoded_point(true).as_bytes().to_vec(),
        };
        OwnedKey {
            alg: self.alg(),
            bytes,
        }
    }

    /// The secret key file: [`SECRET_MAGIC`], the algorithm byte, the 32 secret bytes.
    pub fn to_file(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(SECRET_MAGIC.to_vec());
        out.push(self.alg() as u8);
        match self {
            SecretKey::Ed25519(k) => out.extend_from_slice(&k.to_bytes()),
            SecretKey::P256(k) => out.extend_from_slice(&k.to_bytes()),
        }
        out
    }

    /// Reads a secret key file.
    pub fn from_file(bytes: &[u8]) -> Result<Self, BuildError> {
        let bad = |why| BuildError::KeyFile {
            what: "secret key",
            why,
        };
        let rest = bytes
            .strip_prefix(SECRET_MAGIC)
            .ok_or(bad("it does not start with SNSECKEY"))?;
        let (alg, seed) = rest.split_first().ok_or(bad("it is truncated"))?;
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            seed.try_into()
                .map_err(|_| bad("the secret is not 32 bytes"))?,
        );
        Self::from_seed(Algorithm::from_wire(*alg)?, &seed)
            .ok_or(bad("the secret is not a valid P-256 scalar"))
    }

    /// Signs `body` as format 1 does: over `DOMAIN || alg || SHA-256(body)`.
    pub fn sign(&self, body: &[u8]) -> Vec<u8> {
        let msg = signed_message(self.alg(), body);
        match self {
            SecretKey::Ed25519(k) => {
                use ed25519_dalek::Signer;
                k.sign(&msg).to_bytes().to_vec()
            }
            SecretKey::P256(k) => {
                use p256::ecdsa::signature::Signer;
                let s: p256::ecdsa::Signature = k.sign(&msg);
                s.to_bytes().to_vec()
            }
        }
    }
}

/// One root version, to be encoded as a root body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootSpec {
    /// The version (1 for the first root; each rotation adds exactly 1).
    pub version: u32,
    /// Distinct root keys that must sign.
    pub root_threshold: u8,
    /// The root keys.
    pub root_keys: Vec<OwnedKey>,
    /// Distinct release keys that must sign a manifest.
    pub release_threshold: u8,
    /// The release keys.
    pub release_keys: Vec<OwnedKey>,
}

impl RootSpec {
    /// The root body, unchecked (tests use this to build roots the node must refuse); see
    /// [`RootSpec::body`] for the checked form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![ROOT_TAG];
        out.extend_from_slice(&self.version.to_le_bytes());
        for (threshold, keys) in [
            (self.root_threshold, &self.root_keys),
            (self.release_threshold, &self.release_keys),
        ] {
            out.push(threshold);
            out.push(keys.len() as u8);
            for k in keys {
                out.extend(k.record());
            }
        }
        out
    }

    /// The root body, checked by the node-side parser.
    pub fn body(&self) -> Result<Vec<u8>, BuildError> {
        let body = self.encode();
        Root::parse(&body)?;
        Ok(body)
    }

    /// The spec of a parsed root body.
    pub fn from_body(body: &[u8]) -> Result<Self, BuildError> {
        let r = Root::parse(body)?;
        let owned = |role: &crate::root::Role<'_>| {
            role.keys()
                .map(|k| OwnedKey {
                    alg: k.alg,
                    bytes: k.bytes.to_vec(),
                })
                .collect()
        };
        Ok(RootSpec {
            version: r.version,
            root_threshold: r.root.threshold,
            root_keys: owned(&r.root),
            release_threshold: r.release.threshold,
            release_keys: owned(&r.release),
        })
    }
}

/// A release, to be encoded as a manifest body for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestSpec {
    /// Target board id.
    pub board: Vec<u8>,
    /// Target hardware id.
    pub hardware: Vec<u8>,
    /// Image version.
    pub version: Version,
    /// Security counter.
    pub security_counter: u32,
    /// Node counter value at which the manifest expires (`u64::MAX`: never).
    pub expires: u64,
    /// log2 of the chunk size ([`crate::DEFAULT_CHUNK_LOG2`] for 64 KiB).
    pub chunk_log2: u8,
}

impl ManifestSpec {
    /// Refuses a release the nodes running `current` version and `counter` would refuse for its
    /// version or security counter (not newer, lower, or a step above the bounds).
    pub fn check_step(&self, current: Version, counter: u32) -> Result<(), BuildError> {
        let (found, c) = (self.version, self.security_counter);
        if found <= current {
            return Err(BuildError::NotNewer { found, current });
        }
        if found.major > current.major.saturating_add(MAX_MAJOR_STEP) {
            return Err(BuildError::VersionJump { found, current });
        }
        if c < counter {
            return Err(BuildError::CounterBelow {
                found: c,
                current: counter,
            });
        }
        if c > counter.saturating_add(MAX_COUNTER_STEP) {
            return Err(BuildError::CounterJump {
                found: c,
                current: counter,
            });
        }
        Ok(())
    }

    /// The manifest body for `image`, checked by the node-side parser.
    pub fn body(&self, image: &[u8]) -> Result<Vec<u8>, BuildError> {
        if !(MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2).contains(&self.chunk_log2) {
            return Err(BuildError::ChunkSize(self.chunk_log2));
        }
        if image.is_empty() {
            return Err(BuildError::EmptyImage);
        }
        let max = (crate::limits::MAX_CHUNKS as u64) << self.chunk_log2;
        if image.len() as u64 > max {
            return Err(BuildError::ImageTooLarge {
                len: image.len() as u64,
                max,
                chunk_log2: self.chunk_log2,
            });
        }
        for id in [&self.board, &self.hardware] {
            if id.len() > MAX_ID_LEN {
                return Err(BuildError::IdTooLong(id.len()));
            }
        }
        let chunks: Vec<u8> = image
            .chunks(1 << self.chunk_log2)
            .flat_map(Sha256::digest)
            .collect();
        let mut out = vec![MANIFEST_TAG];
        for id in [&self.board, &self.hardware] {
            out.push(id.len() as u8);
            out.extend_from_slice(id);
        }
        for n in [self.version.major, self.version.minor, self.version.patch] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&self.security_counter.to_le_bytes());
        out.extend_from_slice(&self.expires.to_le_bytes());
        out.extend_from_slice(&(image.len() as u64).to_le_bytes());
        out.push(self.chunk_log2);
        out.extend_from_slice(
            &(chunk_count_for(image.len() as u64, self.chunk_log2) as u32).to_le_bytes(),
        );
        out.extend_from_slice(&Sha256::digest(&chunks));
        out.extend_from_slice(&chunks);
        Manifest::parse(&out)?;
        Ok(out)
    }
}

/// A body with the signatures collected so far (a root or manifest file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDoc {
    /// The signed body.
    pub body: Vec<u8>,
    /// (key id, algorithm, signature), in the order they were added.
    pub signatures: Vec<(KeyId, Algorithm, Vec<u8>)>,
}

impl SignedDoc {
    /// An unsigned document.
    pub fn new(body: Vec<u8>) -> Self {
        SignedDoc {
            body,
            signatures: Vec::new(),
        }
    }

    /// Adds `key`'s signature, replacing an earlier one by the same key.
    pub fn sign(&mut self, key: &SecretKey) {
        let id = key.public().id();
        self.signatures.retain(|(k, _, _)| *k != id);
        self.signatures.push((id, key.alg(), key.sign(&self.body)));
    }

    /// The signed block: `body_len (u32 LE) || body || count (u8) || signatures`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = (self.body.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&self.body);
        out.push(self.signatures.len() as u8);
        for (id, alg, sig) in &self.signatures {
            out.extend_from_slice(&id.0);
            out.push(*alg as u8);
            out.extend_from_slice(&(sig.len() as u16).to_le_bytes());
            out.extend_from_slice(sig);
        }
        out
    }

    /// Reads a signed block (a root or manifest file).
    pub fn decode(bytes: &[u8]) -> Result<Self, BuildError> {
        let s = Signed::parse(bytes)?;
        Ok(Self::from_signed(&s))
    }

    pub(crate) fn from_signed(s: &Signed<'_>) -> Self {
        SignedDoc {
            body: s.body.to_vec(),
            signatures: s
                .signatures()
                .map(|g| (g.key, g.alg, g.bytes.to_vec()))
                .collect(),
        }
    }
}

/// Writes a bundle: the header (root chain from version 1, the signed manifest) and the image.
/// Checks that the manifest describes `image` and that the header parses within the bounds.
pub fn assemble(
    roots: &[SignedDoc],
    manifest: &SignedDoc,
    image: &[u8],
) -> Result<Vec<u8>, BuildError> {
    if roots.is_empty() || roots.len() > MAX_ROOT_CHAIN {
        return Err(BuildError::RootChain(roots.len()));
    }
    let m = Manifest::parse(&manifest.body)?;
    let mut v = m.image_verifier();
    v.update(image)
        .and_then(|()| v.finish())
        .map_err(BuildError::ImageMismatch)?;
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.push(roots.len() as u8);
    out.push(0);
    for r in roots {
        out.extend(r.encode());
    }
    out.extend(manifest.encode());
    let len = out.len();
    if len > MAX_HEADER_LEN {
        return Err(BuildError::HeaderTooLarge(len));
    }
    out[8..PREFIX_LEN].copy_from_slice(&(len as u32).to_le_bytes());
    crate::header::Header::parse(&out)?;
    out.extend_from_slice(image);
    Ok(out)
}
