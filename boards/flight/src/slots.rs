//! Where the A/B images live on the flight board's slot flash: the 48 MiB of the 64 MiB QSPI NOR
//! after the 16 MiB boot image, as `kernel-config/boards/flight.toml` `[storage]` says (its
//! `slot-size` and `bundle-capacity`; `board-conformance`'s tests pin the two together).

use hal::slots::SlotLayout;

/// Byte offset on the QSPI NOR where the slot store begins (after BOOT.BIN).
pub const SLOT_STORE_BASE: u32 = 16 << 20;

/// Two 16 MiB slots, each with a 64 KiB bundle header area, then 16 KiB of agent records.
pub const FLIGHT_SLOT_LAYOUT: SlotLayout = SlotLayout {
    slot_size: 16 << 20,
    header_area: 64 << 10,
    progress_len: 16 << 10,
};
