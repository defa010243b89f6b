//! The typed errors of parsing and verification. Each Display says what is wrong and what to do;
//! none carries heap data, so they work in a partition without an allocator.

// The variants and their fields are documented by their `#[error]` messages.
#![allow(missing_docs)]
use crate::key::{Algorithm, KeyId};
use crate::manifest::Version;
use core::fmt;

/// The bytes are not a well-formed bundle (or root, or manifest) of this format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error(
        "the input ends inside the {what} (at byte {at}): the file or transfer is truncated; send the whole bundle again"
    )]
    Truncated { what: &'static str, at: usize },
    #[error(
        "{count} unexpected byte(s) after the {what}: the bundle is damaged or not of this format"
    )]
    TrailingBytes { what: &'static str, count: usize },
    #[error(
        "not a spacenode bundle (bad magic): check the file is the output of `spacenode bundle create`"
    )]
    BadMagic,
    #[error(
        "bundle format {0} is not supported (this build reads format 1): use a matching `spacenode bundle`"
    )]
    UnsupportedFormat(u16),
    #[error("the header declares {len} bytes, more than the {max}-byte maximum: refuse the bundle")]
    HeaderTooLong { len: usize, max: usize },
    #[error(
        "the header declares {declared} bytes but its contents end at byte {actual}: the bundle is damaged"
    )]
    HeaderLength { declared: usize, actual: usize },
    #[error("{count} {what} exceed the maximum of {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error(
        "a {found} block stands where a {expected} block belongs: the bundle is assembled wrongly"
    )]
    WrongRole { expected: &'static str, found: u8 },
    #[error(
        "unknown key/signature algorithm {0}: this build knows 1 (Ed25519) and 2 (ECDSA P-256 SHA-256)"
    )]
    UnknownAlgorithm(u8),
    #[error("a {alg} key of {len} bytes: {alg} keys are {expected} bytes")]
    KeyLength {
        alg: Algorithm,
        len: usize,
        expected: usize,
    },
    #[error(
        "a {alg} public key is not a valid curve point: regenerate it with `spacenode bundle keygen`"
    )]
    BadKey { alg: Algorithm },
    #[error("a {alg} signature of {len} bytes: {alg} signatures are 64 bytes")]
    SignatureLength { alg: Algorithm, len: usize },
    #[error(
        "threshold {threshold} of the {role} role with {keys} distinct key(s): it must be between 1 and the number of distinct keys"
    )]
    Threshold {
        role: &'static str,
        threshold: u8,
        keys: usize,
    },
    #[error("chunk size 2^{0} is outside 2^10..2^20 bytes")]
    ChunkSize(u8),
    #[error(
        "the manifest lists {declared} chunks but an image of {image_len} bytes has {expected}"
    )]
    ChunkCount {
        declared: u32,
        expected: u64,
        image_len: u64,
    },
    #[error(
        "the manifest's image hash is not the SHA-256 of its chunk hashes: the manifest is inconsistent; rebuild it"
    )]
    ImageHashInconsistent,
    #[error("a board or hardware id of {0} bytes (the maximum is 32)")]
    IdTooLong(usize),
    #[error("the header's reserved byte is not 0: the bundle is damaged or of a newer format")]
    Reserved,
    #[error("the bundle carries no root metadata: it needs the root chain from version 1")]
    NoRoot,
}

/// Which signature threshold was not met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signers {
    /// Root version `version` by the root keys of the previous root version (rotation rule).
    PreviousRoot { version: u32 },
    /// Root version `version` by its own root keys.
    OwnRoot { version: u32 },
    /// The manifest by the release keys of root version `root_version`.
    Release { root_version: u32 },
}

impl fmt::Display for Signers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signers::PreviousRoot { version } => {
                write!(
                    f,
                    "root version {version} by the root keys of version {}",
                    version - 1
                )
            }
            Signers::OwnRoot { version } => {
                write!(f, "root version {version} by its own root keys")
            }
            Signers::Release { root_version } => {
                write!(
                    f,
                    "the manifest by the release keys of root version {root_version}"
                )
            }
        }
    }
}

/// The count of signatures behind a threshold failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Distinct listed keys whose signature verified.
    pub valid: usize,
    /// The threshold the role requires.
    pub threshold: u8,
    /// Signatures by a listed key that did not verify (over other bytes, or damaged).
    pub invalid: usize,
    /// Signatures by keys the role does not list.
    pub unknown: usize,
    /// A signing key that an earlier root in the chain listed for this role and a later one
    /// removed: (its id, the root version that dropped it).
    pub revoked: Option<(KeyId, u32)>,
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "signed by {} of the {} required keys",
            self.valid, self.threshold
        )?;
        if let Some((id, v)) = self.revoked {
            write!(f, " (key {id} is revoked by root version {v})")?;
        }
        if self.invalid > 0 {
            write!(
                f,
                "; {} signature(s) by listed keys do not verify (signed over other bytes?)",
                self.invalid
            )?;
        }
        if self.unknown > 0 {
            write!(
                f,
                "; {} signature(s) by keys this role does not list",
                self.unknown
            )?;
        }
        Ok(())
    }
}

/// Whether the node's floor is exclusive (the agent: only newer) or inclusive (the boot stage:
/// at least the confirmed value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The bundle's value must be strictly greater than the node's.
    Greater,
    /// The bundle's value must be greater than or equal to the node's.
    AtLeast,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Greater => "greater than",
            Rule::AtLeast => "at least",
        })
    }
}

/// The bundle is well formed but must not be installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(
        "root version 1 in the bundle does not hash to the node's trust anchor: the bundle is for another root of trust"
    )]
    AnchorMismatch,
    #[error("the root chain goes from version {previous} to {found}: root versions must follow one by one (expected {})", previous + 1)]
    RootVersion { previous: u32, found: u32 },
    #[error(
        "the bundle's root version {version} differs from the node's trusted root of the same version: refuse it"
    )]
    RootConflict { version: u32 },
    #[error("{signers} is not trusted: {tally}; collect the missing signatures and sign again")]
    Threshold { signers: Signers, tally: Tally },
    #[error(
        "signature by key {key} says {sig_alg} but the key is {key_alg}: a signature is never read under another algorithm"
    )]
    AlgorithmMismatch {
        key: KeyId,
        key_alg: Algorithm,
        sig_alg: Algorithm,
    },
    #[error(
        "the bundle is for board {found:?}, this node is {expected:?}: upload the bundle built for this board"
    )]
    Board { expected: IdText, found: IdText },
    #[error(
        "the bundle is for hardware {found:?}, this node is {expected:?}: upload the bundle built for this hardware"
    )]
    Hardware { expected: IdText, found: IdText },
    #[error(
        "image version {found} is not {rule} the node's {current} (rollback refused): upload a newer release"
    )]
    Version {
        found: Version,
        current: Version,
        rule: Rule,
    },
    #[error(
        "security counter {found} is not {rule} the node's {current} (rollback refused): upload a release with a current security counter"
    )]
    Counter {
        found: u32,
        current: u32,
        rule: Rule,
    },
    #[error(
        "image version {found} jumps more than {max} major versions above the node's {current}: the release is refused; re-sign it with a smaller step"
    )]
    VersionJump {
        found: Version,
        current: Version,
        max: u16,
    },
    #[error(
        "security counter {found} jumps more than {max} above the node's {current}: the release is refused; re-sign it with a smaller step"
    )]
    CounterJump { found: u32, current: u32, max: u32 },
    #[error("the image is {len} bytes but the slot holds {max}: build a smaller image")]
    ImageTooLarge { len: u64, max: u64 },
    #[error(
        "the manifest expired at node counter {expires} and the node is at {now}: sign a fresh manifest"
    )]
    Expired { expires: u64, now: u64 },
}

/// The image bytes do not match the verified manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("chunk {index} does not exist (the image has {count} chunks)")]
    ChunkIndex { index: u32, count: u32 },
    #[error("chunk {index} is {found} bytes, the manifest says {expected}: resend the chunk")]
    ChunkLength {
        index: u32,
        expected: usize,
        found: usize,
    },
    #[error(
        "chunk {index} does not match its hash in the manifest: the chunk is damaged or from another image; resend it"
    )]
    ChunkHash { index: u32 },
    #[error("the image runs past its {len} bytes: refused at the first extra byte")]
    TooLong { len: u64 },
    #[error("the image ended after {got} of its {len} bytes: send the rest")]
    TooShort { got: u64, len: u64 },
    #[error("the image's hash does not match the manifest")]
    ImageHash,
    #[error("the verifier already failed: start again with a fresh one")]
    Poisoned,
}

/// A board or hardware id printed as text (lossy) without allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdText {
    bytes: [u8; crate::limits::MAX_ID_LEN],
    len: u8,
}

impl IdText {
    pub(crate) fn new(id: &[u8]) -> Self {
        let len = id.len().min(crate::limits::MAX_ID_LEN);
        let mut bytes = [0u8; crate::limits::MAX_ID_LEN];
        bytes[..len].copy_from_slice(&id[..len]);
        IdText {
            bytes,
            len: len as u8,
        }
    }
}

impl fmt::Debug for IdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.bytes[..self.len as usize].escape_ascii() {
            write!(f, "{}", c as char)?;
        }
        f.write_str("\"")
    }
}
