//! The store's error type: flash failures, layout mistakes and refused updates, each typed.
//!
//! Nothing here panics; every failure a caller can cause (oversized payload, short buffer,
//! misaligned layout) is an error value.

use crate::layout::LayoutError;

/// Why a store operation failed. `E` is the flash driver's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError<E: core::fmt::Debug> {
    /// The flash driver failed. For a write, the copy being written is now in an unknown state;
    /// the other copy (the newest valid record) was not touched.
    #[error("flash operation failed: {0:?}")]
    Flash(E),
    /// The layout does not fit this flash.
    #[error("store layout rejected: {0}")]
    Layout(#[from] LayoutError),
    /// The payload does not fit in one copy.
    #[error("record payload of {len} bytes exceeds the maximum of {max} bytes for this layout")]
    PayloadTooLarge {
        /// Offered payload length.
        len: usize,
        /// Largest payload this layout holds.
        max: usize,
    },
    /// The read buffer is shorter than the stored record; nothing usable was returned.
    #[error("read buffer of {len} bytes is shorter than the {needed}-byte record")]
    BufferTooSmall {
        /// Offered buffer length.
        len: usize,
        /// Length of the stored record.
        needed: usize,
    },
    /// The sequence number reached `u64::MAX`; no further update is possible.
    #[error("record sequence number exhausted")]
    SequenceExhausted,
    /// The copy just written did not read back as the record written (flash wear or fault).
    /// The previous record is still the newest valid one.
    #[error("record did not verify after writing; the previous record is kept")]
    VerifyFailed,
}
