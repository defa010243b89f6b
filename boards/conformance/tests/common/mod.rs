//! What the register-model suites of both boards (`flight.rs`, `devboard.rs`) set up alike: a
//! UART through the serial suite, the SPI NOR part both boards carry, and the check that a
//! board's slot layout is its board file's storage.
//! Avoids: anything one board alone needs.

use board_conformance::on_model::Uart;
use board_conformance::serial;
use board_models::spi_nor::SpiNorPart;
use board_models::{Line, VirtualTime};
use board_spi_nor::MT25QU128;
use hal::serial::Serial;
use hal::slots::SlotLayout;
use std::time::Duration;

/// Runs the serial suite on a UART driver on its model, polling the line every `poll`.
pub fn serial_conforms<M: Line, D: Serial>(time: VirtualTime, model: &M, dut: D, poll: Duration) {
    serial::run(&mut Uart {
        time,
        model,
        dut,
        poll,
    });
}

/// The MT25QU128 both boards carry, erased, on the model's time.
pub fn mt25qu128(time: &VirtualTime) -> SpiNorPart {
    SpiNorPart::new(
        time.clone(),
        MT25QU128.jedec_id,
        MT25QU128.capacity as usize,
    )
}

/// The driver's slot layout is what the shipped board file `board` says of its storage.
pub fn slot_layout_is_the_board_files(board: &str, layout: &SlotLayout) {
    use kernel_config::{load_board, shipped};
    let file = shipped::board(board).expect("a shipped board");
    let board = load_board(&file).expect("valid");
    assert_eq!(u64::from(layout.slot_size), board.storage.slot_size);
    assert!(layout.flash_len() <= board.storage.bundle_capacity);
    assert_eq!(board.storage.bundles, "slot-flash");
}
