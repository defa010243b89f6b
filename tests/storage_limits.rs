//! The storage requirements `config check` enforces per board (`kernel_config::board_limits`) are
//! the constants of the crates that use the storage, and the sim board's `[storage]` table is
//! the sim's real flash images: kernel-config depends on none of these crates, so this pins them.

use kernel_config::board_limits::{
    BATCH_STORE_MIN, MAX_BATCH_FILE, SLOT_HEADER_AREA, SLOT_PROGRESS_LEN,
};
use kernel_config::{load_board, shipped};

#[test]
fn the_batch_requirement_is_comms_own() {
    use comms_partition::flash_map;
    assert_eq!(MAX_BATCH_FILE, u64::from(flash_map::MAX_BATCH_FILE));
    assert_eq!(BATCH_STORE_MIN, u64::from(flash_map::COMMS_FLASH_MIN));
}

#[test]
fn the_slot_requirements_are_the_upgrade_layouts() {
    let sim = board_sim::boot::SIM_SLOT_LAYOUT;
    assert_eq!(SLOT_HEADER_AREA, upgrade::MAX_HEADER_LEN as u64);
    assert_eq!(SLOT_HEADER_AREA, u64::from(sim.header_area));
    assert_eq!(SLOT_PROGRESS_LEN, u64::from(sim.progress_len));
}

#[test]
fn the_sim_board_storage_is_the_sim_flash_images() {
    let board = load_board(&shipped::board("sim").expect("sim board")).expect("valid");
    let s = board.storage;
    let layout = board_sim::boot::SIM_SLOT_LAYOUT;
    assert_eq!(s.slot_size, u64::from(layout.slot_size));
    assert_eq!(s.bundle_capacity, layout.flash_len());
    assert_eq!(s.slot_store_len(), layout.flash_len());
    assert_eq!(
        s.batch_capacity,
        board_sim::monitor::devices::COMMS_FLASH_IMAGE_SIZE as u64
    );
    assert_eq!(
        (s.batches.as_str(), s.bundles.as_str()),
        ("comms-flash", "slot-flash")
    );
}
