//! Fault injection plans for the sim flash: where power is cut and how much of that operation lands.
//!
//! Mutating operations (writes and erases that pass their checks) are numbered from 0 in the
//! order they reach the device since it was opened or last power-cycled. A [`PowerCut`] names
//! one of them and how many of its bytes land:
//!
//! - a **write** of `len` bytes at `offset`, cut with `landed = k`: bytes
//!   `offset .. offset + min(k, len)` are programmed with the first `min(k, len)` bytes of the
//!   data; the rest of the range keeps its previous contents;
//! - an **erase** of `from .. to`, cut with `landed = k`: bytes `from .. from + min(k, to - from)`
//!   become the erased value; the rest of the range keeps its previous contents; every sector that got at
//!   least one byte erased counts one erase;
//! - `landed >= len` means the operation completed and power went right after it.
//!
//! The cut operation returns [`super::SimFlashError::PowerLost`], and so does every later
//! operation (reads included), until [`super::SimFlash::power_cycle`] or a fresh open of the same
//! file. Operations rejected by their checks (alignment, bounds, 0->1 writes) never reach the
//! medium, are not numbered and cannot be cut.
//!
//! Real flash is harsher (a torn program can leave words half-programmed, a torn erase can leave
//! weak bits); the prefix model is deterministic so tests can state the exact torn image, and
//! the store's CRC does not depend on it being a prefix.

/// Cut power during mutating operation number `at_op`, landing its first `landed` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerCut {
    /// Index of the mutating operation (0-based, counted since open or power cycle).
    pub at_op: u64,
    /// How many bytes of that operation land (clamped to its length).
    pub landed: usize,
}
