//! The conformance suite on the flight board's drivers, each on the register model of its
//! peripheral, in virtual time.

mod common;

use board_conformance::on_model::{Clock, Flash, Wdt};
use board_conformance::{clock, flash, rng, watchdog};
use board_flight::cadence_i2c::CadenceI2c;
use board_flight::cadence_spi::CadenceSpi;
use board_flight::cadence_uart::{CadenceUart, UartError};
use board_flight::cadence_wdt::{CadenceWdt, PRESCALE};
use board_flight::gqspi::{self, Gqspi, GqspiError};
use board_flight::regs::Regs;
use board_flight::slots::{FLIGHT_SLOT_LAYOUT, SLOT_STORE_BASE};
use board_flight::tpm_rng::{RC_FAILURE, TPM_I2C_ADDR, TpmError, TpmRng};
use board_flight::ttc::{self, TtcClock};
use board_i2c_fram::I2cFram;
use board_models::cadence_i2c::CadenceI2cModel;
use board_models::cadence_spi::CadenceSpiModel;
use board_models::cadence_uart::UartModel;
use board_models::cadence_wdt::WdtModel;
use board_models::gqspi::GqspiModel;
use board_models::i2c_fram::FramPart;
use board_models::spi_nor::SpiNorPart;
use board_models::tpm::TpmPart;
use board_models::ttc::TtcModel;
use board_models::{Line, VirtualTime};
use board_spi_nor::{MT25QU128, MT25QU512, SpiNor, SpiNorError};
use hal::flash::{NorFlash, ReadNorFlash};
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

/// The slot flash: an MT25QU512 (64 MiB) on the GQSPI's lower bus and chip select.
fn slot_flash(time: &VirtualTime) -> GqspiModel {
    let part = SpiNorPart::new(
        time.clone(),
        MT25QU512.jedec_id,
        MT25QU512.capacity as usize,
    );
    GqspiModel::new(time.clone(), QSPI_REF_HZ, part)
}

/// The QSPI reference clock: a test value (the board's PLL setup decides the real one; the driver
/// takes it as a parameter), and the SPI clock asked of the driver.
const QSPI_REF_HZ: u32 = 300_000_000;
const QSPI_HZ: u32 = 40_000_000;

#[test]
fn the_spi_nor_on_the_gqspi_on_their_models_conforms() {
    let time = VirtualTime::new();
    let model = slot_flash(&time);
    let dut = SpiNor::new(Gqspi::new(&model, QSPI_REF_HZ, QSPI_HZ), MT25QU512).expect("the part");
    flash::run(&mut Flash { model: &model, dut });
    assert_eq!(model.lost_writes(), 0, "the driver overfilled a FIFO");
    assert!(!model.selected(), "the chip select was left asserted");
}

#[test]
fn the_gqspi_flash_reaches_both_slots_past_16_mib() {
    let time = VirtualTime::new();
    let model = slot_flash(&time);
    let mut dut =
        SpiNor::new(Gqspi::new(&model, QSPI_REF_HZ, QSPI_HZ), MT25QU512).expect("the part");
    let slot_b = SLOT_STORE_BASE + FLIGHT_SLOT_LAYOUT.slot_size;
    let sector = 4096;
    // 300 bytes: several TX entries, a page boundary, and a receive longer than one RX entry.
    let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
    for base in [SLOT_STORE_BASE, slot_b] {
        dut.erase(base, base + sector).expect("erase");
        dut.write(base + 100, &data).expect("write");
        let mut back = vec![0u8; 300];
        dut.read(base + 100, &mut back).expect("read");
        assert_eq!(back, data, "at {base:#x}");
    }
    let mut low = vec![0u8; 400];
    dut.read(slot_b % (16 << 20), &mut low).expect("read");
    assert!(
        low.iter().all(|&b| b == 0xFF),
        "a write past 16 MiB wrapped into the boot image"
    );
}

#[test]
fn a_disabled_gqspi_is_reported_not_waited_on() {
    let time = VirtualTime::new();
    let model = slot_flash(&time);
    let mut dut =
        SpiNor::new(Gqspi::new(&model, QSPI_REF_HZ, QSPI_HZ), MT25QU512).expect("the part");
    model.write(gqspi::EN, 0);
    let mut buf = [0u8; 8];
    assert_eq!(
        dut.read(0, &mut buf),
        Err(SpiNorError::Spi(GqspiError::Stuck))
    );
    model.write(gqspi::EN, gqspi::EN_ENABLE);
    dut.read(0, &mut buf)
        .expect("enabled again: the controller recovers");
    assert_eq!(buf, [0xFF; 8]);
}

type TpmModel = CadenceI2cModel<TpmPart>;

/// The TPM on I2C0, on their models.
struct Tpm<'m> {
    dut: TpmRng<CadenceI2c<&'m TpmModel>>,
}

impl<'m> rng::RngRig for Tpm<'m> {
    type Dut = TpmRng<CadenceI2c<&'m TpmModel>>;
    fn dut(&mut self) -> &mut Self::Dut {
        &mut self.dut
    }
    /// A TPM whose self test failed stays in failure mode until it is reset, so the suite's
    /// "fails, then recovers" does not apply; `a_tpm_in_failure_mode_gives_errors_never_bytes`
    /// checks the failure.
    fn fail_health_test(&mut self) -> bool {
        false
    }
}

fn tpm_model() -> TpmModel {
    CadenceI2cModel::new(VirtualTime::new(), TpmPart::new(TPM_I2C_ADDR, 0x7e57))
}

#[test]
fn the_tpm_rng_on_the_cadence_i2c_on_their_models_conforms() {
    let model = tpm_model();
    let dut = TpmRng::new(CadenceI2c::new(&model, 2, 16), TPM_I2C_ADDR).expect("the TPM");
    rng::run(&mut Tpm { dut });
}

#[test]
fn a_tpm_in_failure_mode_gives_errors_never_bytes() {
    use hal::rng::TryRng;
    let model = tpm_model();
    let mut dut = TpmRng::new(CadenceI2c::new(&model, 2, 16), TPM_I2C_ADDR).expect("the TPM");
    model.part().enter_failure_mode();
    let mut buf = [0u8; 40];
    for _ in 0..2 {
        assert_eq!(dut.try_fill_bytes(&mut buf), Err(TpmError::Rc(RC_FAILURE)));
    }
    assert_eq!(buf, [0; 40], "no byte handed out");
}

#[test]
fn a_tpm_already_started_by_the_firmware_is_taken_and_an_absent_one_is_reported() {
    let model = tpm_model();
    TpmRng::new(CadenceI2c::new(&model, 2, 16), TPM_I2C_ADDR).expect("starts it");
    TpmRng::new(CadenceI2c::new(&model, 2, 16), TPM_I2C_ADDR).expect("already started");
    let absent = TpmRng::new(CadenceI2c::new(&model, 2, 16), TPM_I2C_ADDR + 1);
    assert!(matches!(absent, Err(TpmError::Bus(_))));
}
