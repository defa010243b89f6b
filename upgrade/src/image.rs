//! Checking image bytes against a verified manifest: one chunk by index (before the agent writes
//! it to flash), or the whole image streamed in pieces of any size (the boot stage reading a
//! slot). Both hash each byte once; no allocation.

use crate::error::ImageError;
use crate::manifest::Manifest;
use sha2::{Digest, Sha256};

impl Manifest<'_> {
    /// Checks that `bytes` is chunk `index` of the image: its length and its SHA-256.
    pub fn verify_chunk(&self, index: u32, bytes: &[u8]) -> Result<(), ImageError> {
        let (Some(expected), Some(hash)) = (self.chunk_len(index), self.chunk_hash(index)) else {
            return Err(ImageError::ChunkIndex {
                index,
                count: self.chunk_count(),
            });
        };
        if bytes.len() != expected {
            return Err(ImageError::ChunkLength {
                index,
                expected,
                found: bytes.len(),
            });
        }
        if Sha256::digest(bytes)[..] != hash[..] {
            return Err(ImageError::ChunkHash { index });
        }
        Ok(())
    }

    /// A streaming verifier of the whole image against this manifest.
    pub fn image_verifier(&self) -> ImageVerifier<'_> {
        ImageVerifier {
            manifest: *self,
            chunk: Sha256::new(),
            list: Sha256::new(),
            pos: 0,
            failed: false,
        }
    }
}

/// Verifies an image fed in pieces of any size: each chunk is checked the moment its last byte
/// arrives, a byte past the image length is refused at once, and `finish` checks the length and
/// the image hash (the SHA-256 of the chunk hashes). After an error every call fails.
#[derive(Clone)]
pub struct ImageVerifier<'a> {
    manifest: Manifest<'a>,
    chunk: Sha256,
    list: Sha256,
    pos: u64,
    failed: bool,
}

impl ImageVerifier<'_> {
    /// Feeds the next bytes of the image.
    pub fn update(&mut self, mut bytes: &[u8]) -> Result<(), ImageError> {
        if self.failed {
            return Err(ImageError::Poisoned);
        }
        let len = self.manifest.image_len;
        if bytes.len() as u64 > len - self.pos {
            self.failed = true;
            return Err(ImageError::TooLong { len });
        }
        let size = self.manifest.chunk_size() as u64;
        while !bytes.is_empty() {
            let room = (size - self.pos % size) as usize;
            let n = room.min(bytes.len());
            self.chunk.update(&bytes[..n]);
            self.pos += n as u64;
            bytes = &bytes[n..];
            if n == room {
                self.end_chunk()?;
            }
        }
        Ok(())
    }

    /// Bytes accepted so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    fn end_chunk(&mut self) -> Result<(), ImageError> {
        let index = ((self.pos - 1) >> self.manifest.chunk_log2) as u32;
        let got = self.chunk.finalize_reset();
        if self.manifest.chunk_hash(index).map(|h| &h[..]) != Some(&got[..]) {
            self.failed = true;
            return Err(ImageError::ChunkHash { index });
        }
        self.list.update(got);
        Ok(())
    }

    /// Ends the image: all bytes arrived and the image hash matches.
    pub fn finish(mut self) -> Result<(), ImageError> {
        if self.failed {
            return Err(ImageError::Poisoned);
        }
        let len = self.manifest.image_len;
        if self.pos != len {
            return Err(ImageError::TooShort { got: self.pos, len });
        }
        if !len.is_multiple_of(self.manifest.chunk_size() as u64) {
            self.end_chunk()?;
        }
        if self.list.finalize()[..] != self.manifest.image_hash {
            return Err(ImageError::ImageHash);
        }
        Ok(())
    }
}
