//! Where the A/B images live on the dev board: a 256 MiB region of the boot SD card on EMMC2, as
//! `kernel-config/boards/devboard.toml` `[storage]` says (`board-conformance` pins the two).

use hal::slots::SlotLayout;

/// Two 64 MiB slots, each with a 64 KiB bundle header area, then 16 KiB of agent records.
pub const DEVBOARD_SLOT_LAYOUT: SlotLayout = SlotLayout {
    slot_size: 64 << 20,
    header_area: 64 << 10,
    progress_len: 16 << 10,
};
