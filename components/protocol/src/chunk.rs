//! Where a chunk sits in a larger transfer (a PSBT batch, an upgrade bundle).
//!
//! Batches and bundles are megabytes; a message carries one chunk of at most [`CHUNK_MAX`] bytes so
//! that every slot stays a fixed, small size. Receivers reassemble by `offset` and check
//! `offset + len <= total_len` themselves: a chunk position is just numbers the sender chose.
//!
//! Avoids: assumptions about ordering or delivery; resumption is the receiver's business.

use rkyv::{Archive, Deserialize, Serialize};

/// Most payload bytes in one chunk message: chosen so a whole chunk message fits 4096 bytes.
pub const CHUNK_MAX: usize = 4064;

/// Position of one chunk within a transfer.
///
/// Archived size: 16 bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[rkyv(derive(Debug))]
pub struct ChunkPosition {
    /// Index of this chunk, from 0.
    pub index: u32,
    /// Number of chunks in the transfer.
    pub count: u32,
    /// Byte offset of this chunk's payload in the transfer.
    pub offset: u32,
    /// Total bytes of the transfer.
    pub total_len: u32,
}
