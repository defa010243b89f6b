//! The conformance suite on the flight board's drivers, each on the register model of its
//! peripheral, in virtual time.

mod common;

use board_conformance::on_model::{Clock, Flash, Wdt};
use board_conformance::{clock, flash, watchdog};
use board_flight::cadence_i2c::CadenceI2c;
use board_flight::cadence_spi::CadenceSpi;
use board_flight::cadence_uart::{CadenceUart, UartError};
use board_flight::cadence_wdt::{CadenceWdt, PRESCALE};
use board_flight::ttc::{self, TtcClock};
use board_i2c_fram::I2cFram;
use board_models::cadence_i2c::CadenceI2cModel;
use board_models::cadence_spi::CadenceSpiModel;
use board_models::cadence_uart::UartModel;
use board_models::cadence_wdt::WdtModel;
use board_models::i2c_fram::FramPart;
use board_models::ttc::TtcModel;
use board_models::{Line, VirtualTime};
use board_spi_nor::{MT25QU128, SpiNor};
use std::time::Duration;

/// The flight board's reference clocks as the drivers are told them (100 MHz).
const CLOCK_HZ: u32 = 100_000_000;

#[test]
fn the_cadence_uart_on_its_model_conforms() {
    let time = VirtualTime::new();
    let model = UartModel::new(time.clone(), CLOCK_HZ);
    let dut = CadenceUart::new(&model, CLOCK_HZ, 115_200).expect("uart");
    common::serial_conforms(time, &model, dut, Duration::from_millis(1));
}

#[test]
fn the_cadence_uart_reports_a_lost_byte_and_a_bad_frame() {
    use hal::serial::{Read, ReadReady};
    let time = VirtualTime::new();
    let model = UartModel::new(time.clone(), CLOCK_HZ);
    let mut dut = CadenceUart::new(&model, CLOCK_HZ, 115_200).expect("uart");
    model.peer_send(&[1; 80]);
    time.advance(Duration::from_millis(20));
    assert_eq!(dut.read_ready(), Err(UartError::Overrun));
    let mut buf = [0u8; 100];
    assert_eq!(dut.read(&mut buf).expect("the 64 bytes kept"), 64);
    model.inject_framing_error();
    assert_eq!(dut.read_ready(), Err(UartError::Framing));
    assert!(!dut.read_ready().expect("cleared"));
}

#[test]
fn the_cadence_uart_refuses_a_baud_rate_it_cannot_make() {
    let model = UartModel::new(VirtualTime::new(), 1_000);
    assert!(matches!(
        CadenceUart::new(&model, 1_000, 115_200),
        Err(UartError::BaudRate { .. })
    ));
}

#[test]
fn the_cadence_watchdog_on_its_model_conforms() {
    let time = VirtualTime::new();
    let model = WdtModel::new(time.clone(), CLOCK_HZ);
    let dut = CadenceWdt::new(&model, CLOCK_HZ);
    watchdog::run(&mut Wdt {
        time,
        model: &model,
        dut,
        // One counter-restart-value step: 4096 ticks of the /4096 prescaler.
        granularity: Duration::from_nanos(0x1000 * PRESCALE * 1_000_000_000 / u64::from(CLOCK_HZ)),
        timeout: Duration::from_secs(1),
    });
    assert_eq!(model.ignored_writes(), 0, "the driver wrote without a key");
}

#[test]
fn the_ttc_clock_on_its_model_conforms() {
    let time = VirtualTime::new();
    let model = TtcModel::new(time.clone(), CLOCK_HZ);
    let dut = TtcClock::start(&model, CLOCK_HZ);
    let tick = Duration::from_nanos(ttc::PRESCALE * 1_000_000_000 / u64::from(CLOCK_HZ) + 1);
    clock::run(&mut Clock {
        time,
        dut,
        resolution: tick.max(Duration::from_micros(1)),
        // 2^32 ticks of 160 ns wrap after 687 s: run 2000 s in 100 s steps.
        long_run: (Duration::from_secs(100), 20),
    });
}

#[test]
fn the_spi_nor_on_the_cadence_spi_on_their_models_conforms() {
    let time = VirtualTime::new();
    let model = CadenceSpiModel::new(time.clone(), common::mt25qu128(&time));
    let dut = SpiNor::new(CadenceSpi::new(&model, 3), MT25QU128).expect("the part answers");
    flash::run(&mut Flash { model: &model, dut });
}

#[test]
fn the_flight_slot_layout_is_the_flight_board_files_storage() {
    common::slot_layout_is_the_board_files("flight", &board_flight::slots::FLIGHT_SLOT_LAYOUT);
}

#[test]
fn the_i2c_fram_on_the_cadence_i2c_on_their_models_conforms() {
    // An MB85RC256V (32 KiB) at 0x50, delivered holding arbitrary bytes (FRAM has no erased state).
    let model = CadenceI2cModel::new(VirtualTime::new(), FramPart::new(0x50, 32 << 10, 0x5A));
    let dut = I2cFram::new(CadenceI2c::new(&model, 2, 16), 0x50, 32 << 10);
    flash::run(&mut Flash { model: &model, dut });
}
