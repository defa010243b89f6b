//! Where the A/B software images live on the slot flash: the contract between the boot stage
//! (which reads and verifies a slot before running it) and the upgrade agent (which writes the
//! inactive slot).
//!
//! The slot flash holds, in this order:
//!
//! | region | offset | length | what |
//! | --- | --- | --- | --- |
//! | slot A | `0` | `slot_size` | header area, then image |
//! | slot B | `slot_size` | `slot_size` | header area, then image |
//! | progress | `2 * slot_size` | `progress_len` | the upgrade agent's own crash-safe records |
//!
//! Each slot starts with a **header area** of `header_area` bytes holding the bundle header (the
//! signed root chain, release key set and manifest, exactly the bytes of the bundle before its
//! image; erased when the slot holds nothing). The **image** starts at `header_area` from the
//! slot's start and runs for the manifest's image length. A slot is bootable only if its header
//! verifies against the root of trust and the image's hash matches the manifest: a slot whose
//! header is erased, torn or unsigned is never run.
//!
//! Boot control itself (which slot is confirmed, trials, the security counter) is not here: it
//! is [`crate::boot::BootControl`], kept in a record of its own.
//!
//! Avoids: any format inside the header area (that is the `upgrade` crate's bundle format) and
//! any I/O (boards and components do it with their flash driver).

use crate::boot::Slot;

/// The slot flash's layout on one board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotLayout {
    /// Bytes per slot (header area plus image), a multiple of the erase size.
    pub slot_size: u32,
    /// Bytes at the start of each slot reserved for the bundle header, a multiple of the erase
    /// size.
    pub header_area: u32,
    /// Bytes after the two slots for the upgrade agent's records, a multiple of the erase size.
    pub progress_len: u32,
}

impl SlotLayout {
    /// Offset of `slot`'s first byte (its header area).
    pub const fn slot_offset(&self, slot: Slot) -> u32 {
        match slot {
            Slot::A => 0,
            Slot::B => self.slot_size,
        }
    }

    /// Offset of `slot`'s image (after its header area).
    pub const fn image_offset(&self, slot: Slot) -> u32 {
        self.slot_offset(slot) + self.header_area
    }

    /// The largest image a slot holds.
    pub const fn max_image_len(&self) -> u32 {
        self.slot_size - self.header_area
    }

    /// Offset of the upgrade agent's progress region.
    pub const fn progress_offset(&self) -> u32 {
        2 * self.slot_size
    }

    /// Total bytes the slot flash must have.
    pub const fn flash_len(&self) -> u64 {
        2 * self.slot_size as u64 + self.progress_len as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_follow_each_other() {
        let l = SlotLayout {
            slot_size: 1 << 20,
            header_area: 64 << 10,
            progress_len: 8 << 10,
        };
        assert_eq!(l.slot_offset(Slot::A), 0);
        assert_eq!(l.image_offset(Slot::A), 64 << 10);
        assert_eq!(l.slot_offset(Slot::B), 1 << 20);
        assert_eq!(l.image_offset(Slot::B), (1 << 20) + (64 << 10));
        assert_eq!(l.max_image_len(), (1 << 20) - (64 << 10));
        assert_eq!(l.progress_offset(), 2 << 20);
        assert_eq!(l.flash_len(), (2 << 20) + (8 << 10));
    }
}
