//! The manifest: what the release keys sign about one image: target board and hardware id,
//! version, security counter, expiry (in node counter units), length, chunk size and the SHA-256
//! of every chunk. Parsed in place; the chunk hashes stay in the input bytes (no copy, no heap).

use crate::error::FormatError;
use crate::limits::{MAX_CHUNK_LOG2, MAX_CHUNKS, MAX_ID_LEN, MIN_CHUNK_LOG2};
use crate::wire::Reader;
use core::fmt;
use sha2::{Digest, Sha256};

/// The role tag that starts a manifest body.
pub const MANIFEST_TAG: u8 = 2;

/// A semver-like image version, ordered by (major, minor, patch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Version {
    /// Major number; its step above the node's is bounded by [`crate::MAX_MAJOR_STEP`].
    pub major: u16,
    /// Minor number.
    pub minor: u16,
    /// Patch number.
    pub patch: u16,
}

impl Version {
    /// `major.minor.patch`.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Parses `MAJOR.MINOR.PATCH` (each 0..=65535).
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.split('.');
        let v = Version {
            major: it.next()?.parse().ok()?,
            minor: it.next()?.parse().ok()?,
            patch: it.next()?.parse().ok()?,
        };
        if it.next().is_some() { None } else { Some(v) }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A parsed manifest. Only obtained verified through [`crate::verify`] (or, unverified, through
/// [`Manifest::parse`] for inspection tools).
#[derive(Debug, Clone, Copy)]
pub struct Manifest<'a> {
    /// Target board id (e.g. `sim`).
    pub board: &'a [u8],
    /// Target hardware id (e.g. a model or revision string).
    pub hardware: &'a [u8],
    /// Image version.
    pub version: Version,
    /// Security counter (monotonic, raised only for security fixes; MCUboot's SEC_CNT).
    pub security_counter: u32,
    /// The manifest is valid while the node's monotonic counter is below this value.
    pub expires: u64,
    /// Image length in bytes.
    pub image_len: u64,
    /// log2 of the chunk size.
    pub chunk_log2: u8,
    /// SHA-256 over the concatenated chunk hashes (covers the whole image in one pass).
    pub image_hash: [u8; 32],
    chunk_hashes: &'a [u8],
}

/// The number of chunks of an image of `image_len` bytes with chunks of `2^chunk_log2` bytes.
pub fn chunk_count_for(image_len: u64, chunk_log2: u8) -> u64 {
    image_len.div_ceil(1u64 << chunk_log2)
}

impl<'a> Manifest<'a> {
    /// Parses a manifest body and checks its internal consistency (chunk count, image hash).
    pub fn parse(body: &'a [u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(body);
        let tag = r.u8("manifest role tag")?;
        if tag != MANIFEST_TAG {
            return Err(FormatError::WrongRole {
                expected: "manifest",
                found: tag,
            });
        }
        let board = read_id(&mut r, "board id")?;
        let hardware = read_id(&mut r, "hardware id")?;
        let version = Version {
            major: r.u16("version")?,
            minor: r.u16("version")?,
            patch: r.u16("version")?,
        };
        let security_counter = r.u32("security counter")?;
        let expires = r.u64("expiry")?;
        let image_len = r.u64("image length")?;
        let chunk_log2 = r.u8("chunk size")?;
        if !(MIN_CHUNK_LOG2..=MAX_CHUNK_LOG2).contains(&chunk_log2) {
            return Err(FormatError::ChunkSize(chunk_log2));
        }
        let declared = r.u32("chunk count")?;
        let expected = chunk_count_for(image_len, chunk_log2);
        if declared as u64 != expected {
            return Err(FormatError::ChunkCount {
                declared,
                expected,
                image_len,
            });
        }
        if declared as usize > MAX_CHUNKS {
            return Err(FormatError::TooMany {
                what: "chunks",
                count: declared as usize,
                max: MAX_CHUNKS,
            });
        }
        let image_hash = r.array::<32>("image hash")?;
        let chunk_hashes = r.take(declared as usize * 32, "chunk hashes")?;
        r.finish("manifest")?;
        if Sha256::digest(chunk_hashes)[..] != image_hash {
            return Err(FormatError::ImageHashInconsistent);
        }
        Ok(Manifest {
            board,
            hardware,
            version,
            security_counter,
            expires,
            image_len,
            chunk_log2,
            image_hash,
            chunk_hashes,
        })
    }

    /// The chunk size in bytes (a power of two; chunk `i` starts at `i * chunk_size()`).
    pub fn chunk_size(&self) -> usize {
        1usize << self.chunk_log2
    }

    /// The number of chunks.
    pub fn chunk_count(&self) -> u32 {
        (self.chunk_hashes.len() / 32) as u32
    }

    /// The SHA-256 of chunk `index`, if it exists.
    pub fn chunk_hash(&self, index: u32) -> Option<&'a [u8; 32]> {
        let at = (index as usize).checked_mul(32)?;
        self.chunk_hashes.get(at..at + 32)?.try_into().ok()
    }

    /// The length of chunk `index` (the last one may be short), if it exists.
    pub fn chunk_len(&self, index: u32) -> Option<usize> {
        if index >= self.chunk_count() {
            return None;
        }
        let start = (index as u64) << self.chunk_log2;
        Some((self.image_len - start).min(self.chunk_size() as u64) as usize)
    }
}

fn read_id<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], FormatError> {
    let len = r.u8(what)? as usize;
    if len > MAX_ID_LEN {
        return Err(FormatError::IdTooLong(len));
    }
    r.take(len, what)
}
