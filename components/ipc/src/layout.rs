//! The region layout: header fields, offsets, and the geometry (slot count, slot size) of a
//! channel, with checked arithmetic for every size derived from it.
//!
//! The byte-by-byte layout is documented in the crate docs (`lib.rs`); the constants here are the
//! single source of truth for it.
//!
//! Avoids: trusting anything read back from shared memory; the geometry used at run time is always
//! the one the runtime passed in (from the system description), never the header's copy.

use crate::error::GeometryError;

/// `b"SNODEIPC"`: the first eight bytes of every channel region.
pub const MAGIC: [u8; 8] = *b"SNODEIPC";
/// Version of the layout described in the crate docs.
pub const LAYOUT_VERSION: u32 = 1;
/// Required alignment of a region's first byte.
pub const REGION_ALIGN: usize = 64;
/// Bytes reserved in the header for the message kind name (UTF-8, zero-padded).
pub const KIND_NAME_MAX: usize = 32;
/// Largest slot count a channel may have.
pub const MAX_SLOT_COUNT: u32 = 1 << 16;
/// Largest slot size (message capacity in bytes) a channel may have.
pub const MAX_SLOT_SIZE: u32 = 1 << 20;

pub(crate) const OFF_MAGIC: usize = 0;
pub(crate) const OFF_VERSION: usize = 8;
pub(crate) const OFF_SLOT_COUNT: usize = 12;
pub(crate) const OFF_SLOT_SIZE: usize = 16;
pub(crate) const OFF_SLOT_STRIDE: usize = 20;
pub(crate) const OFF_KIND: usize = 32;
/// Offset of the producer index (`u32`, written only by the sender).
pub const OFF_PRODUCER: usize = 128;
/// Offset of the consumer index (`u32`, written only by the receiver).
pub const OFF_CONSUMER: usize = 256;
/// Offset of slot 0.
pub const OFF_SLOTS: usize = 384;
/// Bytes before the message in each slot: `u32` length, `u32` reserved.
pub const SLOT_HEADER: usize = 8;
/// Slot starts are multiples of this (one cache line), so slots never share a line.
pub const SLOT_ALIGN: usize = 64;
/// Largest alignment an archived message may need: the slot payload is aligned to this.
pub const MESSAGE_ALIGN: usize = 8;

/// What a channel is: the message kind it carries and its ring geometry, as the system
/// description states it. Both endpoints and the region header must agree on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelSpec {
    kind: &'static str,
    slot_count: u32,
    slot_size: u32,
}

impl ChannelSpec {
    /// A channel of `slot_count` slots of `slot_size` message bytes each, carrying messages of
    /// the kind named `kind` (a `protocol::catalogue` name).
    pub const fn new(
        kind: &'static str,
        slot_count: u32,
        slot_size: u32,
    ) -> Result<Self, GeometryError> {
        if kind.is_empty() || kind.len() > KIND_NAME_MAX {
            return Err(GeometryError::KindName);
        }
        if slot_count == 0 || slot_count > MAX_SLOT_COUNT {
            return Err(GeometryError::SlotCount(slot_count));
        }
        if slot_size == 0 || slot_size > MAX_SLOT_SIZE {
            return Err(GeometryError::SlotSize(slot_size));
        }
        // Within these limits every derived size fits in u32/usize (<= 2^16 * (2^20 + 64) + 384).
        Ok(Self {
            kind,
            slot_count,
            slot_size,
        })
    }

    /// The message kind name.
    pub const fn kind(&self) -> &'static str {
        self.kind
    }

    /// Number of slots.
    pub const fn slot_count(&self) -> u32 {
        self.slot_count
    }

    /// Message capacity of each slot, in bytes.
    pub const fn slot_size(&self) -> u32 {
        self.slot_size
    }

    /// Distance between the starts of two consecutive slots: `8 + slot_size` rounded up to 64.
    pub const fn slot_stride(&self) -> usize {
        (SLOT_HEADER + self.slot_size as usize).next_multiple_of(SLOT_ALIGN)
    }

    /// Total bytes of the region: `384 + slot_count * slot_stride`.
    pub const fn region_size(&self) -> usize {
        OFF_SLOTS + self.slot_count as usize * self.slot_stride()
    }

    /// Offset of slot `index` (`index < slot_count`) from the region start.
    pub(crate) const fn slot_offset(&self, index: usize) -> usize {
        OFF_SLOTS + index * self.slot_stride()
    }

    /// The header's kind field: the name, zero-padded to 32 bytes.
    pub(crate) fn kind_field(&self) -> [u8; KIND_NAME_MAX] {
        let mut field = [0u8; KIND_NAME_MAX];
        for (dst, src) in field.iter_mut().zip(self.kind.as_bytes()) {
            *dst = *src;
        }
        field
    }
}
